//! A customer's payment link: issued with the customer, shown, rotated and
//! revoked (the token itself is `domain::paylink`).

use crate::app::{Actor, App, Refusal};
use crate::crypto::Secret;
use crate::domain::ids::{CompanyId, CustomerId, LinkId};
use crate::domain::paylink::{audit_ref, token, token_hash};
use crate::store::{Conn, Db, StoreResult, audit, companies, customers, links};

/// Gives a new customer its link, in the transaction that creates the customer.
pub async fn issue(
    tx: &mut Conn,
    secret: &Secret,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<CurrentLink> {
    if let Some(existing) = shown(&mut *tx, secret, company_id, customer_id).await? {
        return Ok(existing);
    }
    let id = LinkId::new();
    let t = token(secret, &id, 1);
    links::insert(tx, &id, company_id, customer_id, &token_hash(&t)).await?;
    Ok(CurrentLink {
        token: t,
        revoked: false,
        link_id: id,
        generation: 1,
    })
}

/// The customer's link and current token, read without changing anything.
pub async fn shown(
    executor: impl crate::store::sql::Executor<'_>,
    secret: &Secret,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<CurrentLink>> {
    Ok(links::for_customer(executor, company_id, customer_id)
        .await?
        .map(|row| CurrentLink {
            token: token(secret, &row.id, row.generation),
            revoked: row.revoked,
            link_id: row.id,
            generation: row.generation,
        }))
}

#[derive(Debug, Clone)]
pub struct CurrentLink {
    pub link_id: LinkId,
    pub token: String,
    pub revoked: bool,
    pub generation: i64,
}

/// The customer's payment link URL, from the company's base URL (or the
/// server's), never from a request.
pub async fn url(app: &App, company_id: &CompanyId, token: &str) -> Result<String, Refusal> {
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    Ok(crate::domain::paylink::url(
        app.base_url(company.base_url.as_deref()),
        token,
    ))
}

/// The company's customer, or `NotFound` (another company's included).
async fn own_customer(
    tx: &mut Conn,
    actor: &Actor,
    customer_id: &CustomerId,
) -> Result<(), Refusal> {
    actor.must_be_company()?;
    if customers::all_belong(tx, actor.company_id(), &[customer_id]).await? {
        Ok(())
    } else {
        Err(Refusal::NotFound)
    }
}

/// Issues a new token for the customer; the old one stops working at once.
/// Answers the new URL.
pub async fn rotate(app: &App, actor: &Actor, customer_id: &CustomerId) -> Result<String, Refusal> {
    let company_id = actor.company_id();
    let secret = &app.config.secret;
    let mut tx = app.db.begin_write_for(company_id).await?;
    own_customer(&mut tx, actor, customer_id).await?;
    let existing = issue(&mut tx, secret, company_id, customer_id).await?;
    let generation = existing.generation + 1;
    let t = token(secret, &existing.link_id, generation);
    let hash = token_hash(&t);
    links::rotate(&mut tx, &existing.link_id, generation, &hash).await?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "payment_link.rotated",
        customer_id,
        serde_json::json!({
            "old": audit_ref(&token_hash(&existing.token)),
            "new": audit_ref(&hash),
        }),
    )
    .await?;
    tx.commit().await?;
    url(app, company_id, &t).await
}

/// Revokes the customer's link: its URL becomes a 404 until rotated.
pub async fn revoke(app: &App, actor: &Actor, customer_id: &CustomerId) -> Result<(), Refusal> {
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    own_customer(&mut tx, actor, customer_id).await?;
    let existing = issue(&mut tx, &app.config.secret, company_id, customer_id).await?;
    links::revoke(&mut tx, &existing.link_id).await?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "payment_link.revoked",
        customer_id,
        serde_json::json!({ "link": audit_ref(&token_hash(&existing.token)) }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The token hash of the customer's live payment link, which opens the pay
/// page's data; `None` when the customer has no link or it is revoked.
pub async fn pay_page_hash(
    db: &Db,
    secret: &Secret,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<String>> {
    Ok(shown(db.reader(), secret, company_id, customer_id)
        .await?
        .filter(|l| !l.revoked)
        .map(|l| token_hash(&l.token)))
}

/// Notes that a customer opened their payment link: the audit entry (which
/// names the link by a prefix of its token's hash) and the open the
/// collections funnel counts (which names the customer).
pub async fn note_opened(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    token: &str,
) -> StoreResult<()> {
    let mut tx = app.db.begin_write_for(company_id).await?;
    audit::record(
        &mut tx,
        company_id,
        "customer",
        "payment_link.opened",
        &audit_ref(&token_hash(token)),
        serde_json::json!({}),
    )
    .await?;
    crate::store::funnel::record_open(&mut tx, company_id, customer_id, app.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}
