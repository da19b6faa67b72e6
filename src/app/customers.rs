//! Customers: creating one — the customer, its payment link and the audit
//! entry, in one transaction — and changing its contact details. The office
//! form, the JSON API, CSV import and `demo` all come here.

use serde_json::json;

use crate::app::{Actor, App, Refusal, Rejected};
use crate::domain::customer::CustomerInput;
use crate::domain::ids::CustomerId;
use crate::store::customers::{self, Customer, NewCustomer};
use crate::store::{Conn, audit, companies};

/// The company's country: where a phone number typed without a country
/// code is from.
async fn region(app: &App, actor: &Actor) -> Result<String, Refusal> {
    Ok(companies::get(&app.db, actor.company_id())
        .await?
        .ok_or(Refusal::NotFound)?
        .country)
}

/// Checks the fields (every one in error is named) and creates the
/// customer with its payment link.
pub async fn create(
    app: &App,
    actor: &Actor,
    input: &CustomerInput<'_>,
) -> Result<Customer, Rejected> {
    actor.must_be_company()?;
    let new = input.check(&region(app, actor).await?)?;
    let mut tx = app.db.begin_write_for(actor.company_id()).await?;
    let customer = create_in(&mut tx, app, actor, &new).await?;
    tx.commit().await?;
    Ok(customer)
}

/// `create` inside the caller's transaction, for fields already checked
/// (CSV import checks a whole file first, `demo` writes its own): the
/// customer, its payment link from the first moment, the audit entry.
pub async fn create_in(
    conn: &mut Conn,
    app: &App,
    actor: &Actor,
    new: &NewCustomer,
) -> Result<Customer, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let customer = customers::create(conn, company_id, new).await?;
    crate::app::links::issue(conn, &app.config.secret, company_id, &customer.id).await?;
    crate::app::webhooks::events::customer_created(conn, company_id, &customer).await?;
    audit::record(
        conn,
        company_id,
        &actor.audit_name(),
        "customer.created",
        &customer.id,
        json!({}),
    )
    .await?;
    Ok(customer)
}

/// Checks the fields and replaces the customer's contact details.
pub async fn update(
    app: &App,
    actor: &Actor,
    customer_id: &CustomerId,
    input: &CustomerInput<'_>,
) -> Result<Customer, Rejected> {
    actor.must_be_company()?;
    if customers::get(&app.db, actor.company_id(), customer_id)
        .await?
        .is_none()
    {
        return Err(Refusal::NotFound.into());
    }
    let new = input.check(&region(app, actor).await?)?;
    let mut tx = app.db.begin_write_for(actor.company_id()).await?;
    let customer = update_in(&mut tx, actor, customer_id, &new).await?;
    tx.commit().await?;
    Ok(customer)
}

/// `update` inside the caller's transaction, for fields already checked.
pub async fn update_in(
    conn: &mut Conn,
    actor: &Actor,
    customer_id: &CustomerId,
    new: &NewCustomer,
) -> Result<Customer, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    if !customers::update(conn, company_id, customer_id, new).await? {
        return Err(Refusal::NotFound);
    }
    audit::record(
        conn,
        company_id,
        &actor.audit_name(),
        "customer.updated",
        customer_id,
        json!({}),
    )
    .await?;
    Ok(Customer {
        id: customer_id.into(),
        name: new.name.clone(),
        email: new.email.clone(),
        phone: new.phone.clone(),
        billing_address: new.billing_address.clone(),
        language: new.language,
    })
}
