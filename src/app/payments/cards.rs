//! Keeping a card for a customer without paying.

use super::*;
use crate::app::App;
use crate::domain::ids::{CardId, CompanyId, CustomerId};
use crate::processor::{ProcessorError, SaveOutcome};
use crate::store::payments as store;
use crate::store::{audit, customers};

/// The result of keeping a card without paying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddCard {
    /// The saved method's id (`pmt_…`).
    Added(CardId),
    Declined(Decline),
}

/// Keeps a card for a customer (the processor's "save a method"), making it
/// the default when the customer has no other.
pub async fn add_card(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    token: String,
    actor: &str,
) -> Result<AddCard, PayError> {
    let processor = crate::app::processors::processor_for(app, company_id).await?;
    let known =
        crate::store::customers::processor_customer(&app.db, company_id, customer_id).await?;
    let saved = match processor.save_method(token, known).await {
        Ok(SaveOutcome::Saved(saved)) => saved,
        Ok(SaveOutcome::Declined(decline)) => return Ok(AddCard::Declined(decline)),
        Err(ProcessorError::InvalidSource(_)) => {
            return Ok(AddCard::Declined(Decline {
                code: "invalid_payment_method".into(),
                message: "The card details could not be used. Enter the card again.".into(),
            }));
        }
        Err(ProcessorError::Unavailable(reason)) => {
            tracing::warn!(%reason, "processor unavailable while saving a card");
            return Err(PayError::ProcessorUnavailable);
        }
    };
    let mut tx = app.db.begin_write_for(company_id).await?;
    let id = store::insert_method(
        &mut tx,
        company_id,
        customer_id,
        &saved.method_id,
        &saved.card,
    )
    .await?;
    if !crate::store::portal::has_default_card(&mut tx, company_id, customer_id).await? {
        crate::store::portal::set_default_card(&mut tx, company_id, customer_id, &id).await?;
    }
    if let Some(processor_customer) = &saved.processor_customer {
        customers::set_processor_customer(&mut tx, customer_id, processor_customer).await?;
    }
    audit::record(
        &mut tx,
        company_id,
        actor,
        "payment_method.added",
        &id,
        serde_json::json!({"customer": customer_id, "brand": saved.card.brand, "last4": saved.card.last4}),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(AddCard::Added(id))
}
