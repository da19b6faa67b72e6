//! A customer's saved cards: removing one (autopay on it turns off, through
//! autopay's own use case) and choosing the default. (Saving a card is part
//! of paying, or `payments::add_card`.)

use serde_json::json;

use crate::app::{Actor, App, Refusal};
use crate::domain::ids::{CardId, CustomerId};
use crate::store::{audit, portal};

/// What removing a card did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    /// Autopay charged this card and is now off.
    pub autopay_cancelled: bool,
}

/// Removes one of the customer's cards; `NotFound` when it is not theirs
/// (or already gone).
pub async fn remove(
    app: &App,
    actor: &Actor,
    customer_id: &CustomerId,
    method_id: &CardId,
) -> Result<Removed, Refusal> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    if !portal::remove_card(&mut tx, company_id, customer_id, method_id).await? {
        return Err(Refusal::NotFound);
    }
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "payment_method.removed",
        method_id,
        json!({ "customer": customer_id, "channel": crate::app::autopay::channel(actor) }),
    )
    .await?;
    let autopay_cancelled =
        crate::app::autopay::cancel_in(&mut tx, app, actor, customer_id, Some(method_id)).await?;
    tx.commit().await?;
    Ok(Removed { autopay_cancelled })
}

/// Makes one of the customer's cards their default.
pub async fn set_default(
    app: &App,
    actor: &Actor,
    customer_id: &CustomerId,
    method_id: &CardId,
) -> Result<(), Refusal> {
    actor.may_act_for(customer_id)?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    if !portal::set_default_card(&mut tx, company_id, customer_id, method_id).await? {
        return Err(Refusal::NotFound);
    }
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "payment_method.default_set",
        method_id,
        json!({ "customer": customer_id, "channel": crate::app::autopay::channel(actor) }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
