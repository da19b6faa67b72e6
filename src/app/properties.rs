//! Properties (service locations): adding one with its resident and the
//! customer responsible for billing it, and changing its address or who
//! pays for it. Invoices already issued keep the bill-to they were issued
//! with.

use serde_json::json;

use crate::app::{Actor, App, Problem, Refusal, Rejected};
use crate::domain::customer::check_address;
use crate::domain::ids::{CompanyId, CustomerId, PropertyId};
use crate::store::customers::{self, Property};
use crate::store::{Conn, audit};

/// A property as typed: the bill-to defaults to the resident.
#[derive(Debug, Clone, Copy)]
pub struct PropertyInput<'a> {
    pub address: &'a str,
    pub resident_customer_id: &'a str,
    pub bill_to_customer_id: Option<&'a str>,
}

/// The problem of a field that names no customer of the company.
fn unknown_customer(field: &'static str) -> Problem {
    Problem {
        field,
        code: "customer_not_found",
        message: format!("{field} names no customer of this company."),
    }
}

/// Whether `id` is one of the company's customers.
async fn known(conn: &mut Conn, company_id: &CompanyId, id: &CustomerId) -> Result<bool, Refusal> {
    Ok(!id.is_empty() && customers::all_belong(conn, company_id, &[id]).await?)
}

/// Checks the address and both customers (every field in error is named)
/// and adds the property.
pub async fn create(
    app: &App,
    actor: &Actor,
    input: &PropertyInput<'_>,
) -> Result<Property, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let bill_to = input
        .bill_to_customer_id
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .unwrap_or(input.resident_customer_id);
    let mut problems = Vec::new();
    let address = check_address("address", input.address)
        .map_err(|e| problems.push(Problem::from(e)))
        .ok();
    let mut tx = app.db.begin_write_for(company_id).await?;
    if !known(
        &mut tx,
        company_id,
        &CustomerId::from(input.resident_customer_id),
    )
    .await?
    {
        problems.push(unknown_customer("resident_customer_id"));
    } else if !known(&mut tx, company_id, &CustomerId::from(bill_to)).await? {
        problems.push(unknown_customer("bill_to_customer_id"));
    }
    let Some(address) = address.filter(|_| problems.is_empty()) else {
        return Err(Rejected::Fields(problems));
    };
    let property = create_in(
        &mut tx,
        actor,
        &address,
        &CustomerId::from(input.resident_customer_id),
        &CustomerId::from(bill_to),
    )
    .await?;
    tx.commit().await?;
    Ok(property)
}

/// `create` inside the caller's transaction, for an address already checked
/// and customers known to be the company's.
pub async fn create_in(
    conn: &mut Conn,
    actor: &Actor,
    address: &str,
    resident_customer_id: &CustomerId,
    bill_to_customer_id: &CustomerId,
) -> Result<Property, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let property = customers::create_property(
        conn,
        company_id,
        address,
        resident_customer_id,
        bill_to_customer_id,
    )
    .await?;
    audit::record(
        conn,
        company_id,
        &actor.audit_name(),
        "property.created",
        &property.id,
        json!({ "resident": resident_customer_id, "bill_to": bill_to_customer_id }),
    )
    .await?;
    Ok(property)
}

/// A change to a property; what is `None` stays as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropertyChange<'a> {
    pub address: Option<&'a str>,
    pub bill_to_customer_id: Option<&'a str>,
}

/// Checks the change (every field in error is named) and makes it.
pub async fn update(
    app: &App,
    actor: &Actor,
    property_id: &PropertyId,
    change: &PropertyChange<'_>,
) -> Result<Property, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    let Some(current) = customers::get_property(&mut tx, company_id, property_id).await? else {
        return Err(Refusal::NotFound.into());
    };
    let mut problems = Vec::new();
    let address = match change.address {
        Some(a) => check_address("address", a)
            .map_err(|e| problems.push(Problem::from(e)))
            .ok(),
        None => Some(current.address.clone()),
    };
    let bill_to = change
        .bill_to_customer_id
        .map(str::trim)
        .unwrap_or(&current.bill_to_customer_id)
        .to_string();
    if !known(&mut tx, company_id, &CustomerId::from(bill_to.as_str())).await? {
        problems.push(unknown_customer("bill_to_customer_id"));
    }
    let Some(address) = address.filter(|_| problems.is_empty()) else {
        return Err(Rejected::Fields(problems));
    };
    let property = update_in(
        &mut tx,
        actor,
        property_id,
        &address,
        &CustomerId::from(bill_to),
    )
    .await?;
    tx.commit().await?;
    Ok(property)
}

/// `update` inside the caller's transaction, for an address already
/// checked: each change (the bill-to, the address) is audited.
pub async fn update_in(
    conn: &mut Conn,
    actor: &Actor,
    property_id: &PropertyId,
    address: &str,
    bill_to_customer_id: &CustomerId,
) -> Result<Property, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let Some(current) = customers::get_property(conn, company_id, property_id).await? else {
        return Err(Refusal::NotFound);
    };
    if !customers::update_property(conn, company_id, property_id, address, bill_to_customer_id)
        .await?
    {
        return Err(Refusal::invalid(
            "bill_to_customer_id",
            "bill_to_customer_id names no customer of this company.",
        ));
    }
    let actor_name = actor.audit_name();
    if *bill_to_customer_id != current.bill_to_customer_id {
        audit::record(
            conn,
            company_id,
            &actor_name,
            "property.bill_to_changed",
            property_id,
            json!({ "from": current.bill_to_customer_id, "to": bill_to_customer_id }),
        )
        .await?;
    }
    if address != current.address {
        audit::record(
            conn,
            company_id,
            &actor_name,
            "property.address_changed",
            property_id,
            json!({}),
        )
        .await?;
    }
    Ok(Property {
        address: address.to_string(),
        bill_to_customer_id: bill_to_customer_id.into(),
        ..current
    })
}
