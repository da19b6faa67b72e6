//! Attempts whose outcome is unknown: asked about at the processor and
//! settled (reconciliation), or confirmed after the customer's bank check.

use super::charge::lookup_of;
use super::reserve::replay;
use super::settle::{saved_method_of, settle_at, settle_unpaid};
use super::*;
use crate::app::App;
use crate::domain::ids::{AttemptId, CompanyId};
use crate::processor::ChargeOutcome;
use crate::store::payments::{self as store, Attempt};

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    pub applied: usize,
    pub declined: usize,
    pub abandoned: usize,
    pub still_pending: usize,
}

/// How long a customer has for their bank's check (3-D Secure) before
/// reconciliation cancels the charge and frees the invoices.
pub const AUTHENTICATION_WINDOW: time::Duration = time::Duration::minutes(15);

/// Settles attempts left pending for longer than `grace` by asking the
/// processor what became of them; one still waiting for the customer's
/// authentication is left for `AUTHENTICATION_WINDOW`, then cancelled.
pub async fn reconcile(
    app: &App,
    now: time::OffsetDateTime,
    grace: time::Duration,
) -> Result<ReconcileReport, PayError> {
    let before = now - grace;
    let mut report = ReconcileReport::default();
    for attempt in store::pending_attempts(&app.db, before).await? {
        // The account the attempt went to, whatever the company uses now.
        let processor = match attempt_processor(app, &attempt).await {
            Ok(Some(p)) => p,
            Ok(None) => {
                tracing::error!(attempt = %attempt.id, kind = ?attempt.processor_kind, "the processor account this attempt went to is no longer the company's; it stays pending for the office");
                report.still_pending += 1;
                continue;
            }
            Err(e) => {
                tracing::warn!(attempt = %attempt.id, error = %e, "reconciliation could not open the company's processor");
                report.still_pending += 1;
                continue;
            }
        };
        let lookup = lookup_of(&attempt);
        let found = match processor.find_charge(lookup.clone()).await {
            // The customer may still be at their bank's check.
            Ok(Some(ChargeOutcome::RequiresAction { .. }))
                if now - attempt.created_at < grace.max(AUTHENTICATION_WINDOW) =>
            {
                report.still_pending += 1;
                continue;
            }
            // Never authenticated in time: cancel it at the processor (it
            // may have been completed meanwhile) and settle.
            Ok(Some(ChargeOutcome::RequiresAction { .. })) => processor.cancel_charge(lookup).await,
            other => other,
        };
        match found {
            Ok(Some(ChargeOutcome::RequiresAction { .. })) => {
                tracing::warn!(attempt = %attempt.id, "an attempt waiting for authentication could not be cancelled");
                report.still_pending += 1;
            }
            Ok(Some(outcome)) => {
                let saved = saved_method_of(&attempt);
                let succeeded = matches!(outcome, ChargeOutcome::Succeeded(_));
                settle_at(app, &attempt, outcome, saved.as_ref(), "reconciler", now).await?;
                if succeeded {
                    report.applied += 1;
                } else {
                    report.declined += 1;
                }
            }
            // Not found, while a request for it might still be on its way:
            // no conclusion yet, the invoices stay held.
            Ok(None) if now - attempt.created_at < NOT_FOUND_AFTER => {
                report.still_pending += 1;
            }
            Ok(None) => {
                let decline = Decline {
                    code: "not_charged".into(),
                    message: "The payment did not go through and the card was not charged.".into(),
                };
                settle_unpaid(app, &attempt, decline, "failed", "reconciler", now).await?;
                report.abandoned += 1;
            }
            Err(e) => {
                tracing::warn!(attempt = %attempt.id, error = %e, "reconciliation could not reach the processor");
                report.still_pending += 1;
            }
        }
    }
    Ok(report)
}

/// After the customer's authentication: asks the processor what became of
/// the attempt and settles it, once (a webhook may have settled it first;
/// a second confirm answers as the first). `None` when the attempt is not
/// this customer's.
pub async fn confirm(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    attempt_id: &AttemptId,
    actor: &str,
) -> Result<Option<PayStep>, PayError> {
    let Some(attempt) = store::get_attempt(app.db.reader(), attempt_id)
        .await?
        .filter(|a| a.company_id == company_id && a.customer_id == customer_id)
    else {
        return Ok(None);
    };
    if attempt.status != "pending" {
        return replay(&attempt).map(|r| Some(PayStep::Done(r)));
    }
    let Some(processor) = attempt_processor(app, &attempt).await? else {
        return Err(PayError::ProcessorUnavailable);
    };
    let found = match processor.find_charge(lookup_of(&attempt)).await {
        // A failed check: make sure the intent can never be charged later.
        Ok(Some(ChargeOutcome::Declined(_))) => processor.cancel_charge(lookup_of(&attempt)).await,
        other => other,
    };
    let outcome = match found {
        Ok(Some(outcome)) => outcome,
        // Never reached the processor: reconciliation ends it.
        Ok(None) => return Err(PayError::InProgress),
        Err(e) => {
            tracing::warn!(attempt = %attempt.id, error = %e, "confirm could not reach the processor");
            return Err(PayError::ProcessorUnavailable);
        }
    };
    if let ChargeOutcome::RequiresAction { client_secret, .. } = outcome {
        return Ok(Some(PayStep::RequiresAction(ActionNeeded {
            attempt_id: attempt.id.to_string(),
            client_secret,
        })));
    }
    settle(
        app,
        &attempt,
        outcome,
        saved_method_of(&attempt).as_ref(),
        actor,
    )
    .await
    .map(|r| Some(PayStep::Done(r)))
}

/// The processor account an attempt went to (`None`: the company has moved
/// to another account since, and this one cannot be asked).
pub(super) async fn attempt_processor(
    app: &App,
    attempt: &Attempt,
) -> Result<Option<std::sync::Arc<dyn crate::processor::PaymentProcessor>>, StoreError> {
    crate::app::processors::processor_of(
        app,
        &attempt.company_id,
        attempt.processor_kind.as_deref(),
        attempt.processor_account.as_deref(),
    )
    .await
}
