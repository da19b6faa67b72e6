//! Settling an attempt with the processor's answer: the payment, its
//! allocations and the new balances recorded once (guarded by the unique
//! charge id), or the invoices freed after a decline.

use super::reserve::replay;
use super::*;
use crate::app::App;
use crate::domain::ids::{CardId, InvoiceId};
use crate::domain::{Allocation, allocate};
use crate::processor::{Charge, ChargeOutcome};
use crate::store::payments::{self as store, Attempt};
use crate::store::{Conn, audit, customers};

/// Settles an attempt with the processor's outcome. Idempotent: a charge
/// already recorded is not recorded again.
pub async fn settle(
    app: &App,
    attempt: &Attempt,
    outcome: ChargeOutcome,
    saved_method_id: Option<&CardId>,
    actor: &str,
) -> Result<PayResult, PayError> {
    settle_at(
        app,
        attempt,
        outcome,
        saved_method_id,
        actor,
        app.clock.now(),
    )
    .await
}

/// `settle`, queueing its messages at `now`.
pub(super) async fn settle_at(
    app: &App,
    attempt: &Attempt,
    outcome: ChargeOutcome,
    saved_method_id: Option<&CardId>,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<PayResult, PayError> {
    match outcome {
        ChargeOutcome::Declined(decline) => {
            settle_unpaid(app, attempt, decline, "declined", actor, now).await
        }
        ChargeOutcome::Succeeded(charge) => {
            apply(app, attempt, &charge, saved_method_id, actor, now).await
        }
        // Not settled yet: the customer has still to authenticate.
        ChargeOutcome::RequiresAction { .. } => Err(PayError::InProgress),
    }
}

/// The saved method (`pmt_…`) an attempt charged, if it charged one.
pub(super) fn saved_method_of(attempt: &Attempt) -> Option<CardId> {
    attempt
        .payment_method
        .starts_with("pmt_")
        .then(|| CardId::from(attempt.payment_method.as_str()))
}

/// Ends an attempt without a payment. For autopay, the invoices' retry
/// state and the decline message are written in the same transaction.
/// Only a pending attempt changes: one settled meanwhile (by a webhook, the
/// reconciler or another process) answers as it was settled.
pub(super) async fn settle_unpaid(
    app: &App,
    attempt: &Attempt,
    decline: Decline,
    status: &'static str,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<PayResult, PayError> {
    let (attempt, actor) = (attempt.clone(), actor.to_string());
    app.db
        .write_for(attempt.company_id.clone(), move |conn| {
            Box::pin(async move {
                let result = PayResult::Declined(decline.clone());
                let body = serde_json::to_string(&result).unwrap_or_default();
                if !store::settle_unpaid(conn, &attempt.id, status, &decline.code, &body).await? {
                    return match store::get_attempt(&mut *conn, &attempt.id).await? {
                        Some(a) => replay(&a),
                        None => Err(PayError::InProgress),
                    };
                }
                audit::record(
                    conn,
                    &attempt.company_id,
                    &actor,
                    "payment.declined",
                    &attempt.customer_id,
                    serde_json::json!({"attempt": attempt.id, "code": decline.code, "amount": attempt.amount}),
                )
                .await?;
                if attempt.channel == crate::app::autopay::CHANNEL {
                    crate::app::autopay::on_unpaid(conn, &attempt, &decline, now).await?;
                }
                Ok(result)
            })
        })
        .await
}

/// Records a successful charge: payment, allocations, balances, and the
/// autopay enrollment the customer consented to.
pub(super) async fn apply(
    app: &App,
    attempt: &Attempt,
    charge: &Charge,
    saved_method_id: Option<&CardId>,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<PayResult, PayError> {
    let (attempt, charge) = (attempt.clone(), charge.clone());
    let (saved_method_id, actor) = (saved_method_id.cloned(), actor.to_string());
    app.db
        .write_for(attempt.company_id.clone(), move |conn| {
            Box::pin(async move {
                apply_on(
                    conn,
                    &attempt,
                    &charge,
                    saved_method_id.as_ref(),
                    &actor,
                    now,
                )
                .await
            })
        })
        .await
}

pub(super) async fn apply_on(
    conn: &mut Conn,
    attempt: &Attempt,
    charge: &Charge,
    saved_method_id: Option<&CardId>,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<PayResult, PayError> {
    let Some(payment_id) = store::insert_card_payment(conn, attempt, charge).await? else {
        // Recorded before (webhook, reconciler or a retry): answer as then.
        return match store::get_attempt(&mut *conn, &attempt.id).await? {
            Some(a) => replay(&a),
            None => Err(PayError::InProgress),
        };
    };
    // A charge found after its attempt was settled unpaid (the processor's
    // answer came late, after reconciliation found nothing): its invoices
    // were freed meanwhile and may have been paid another way.
    let late = store::get_attempt(&mut *conn, &attempt.id)
        .await?
        .is_some_and(|a| a.status != "pending");
    let planned: Vec<(String, i64)> = if late {
        let ids: Vec<InvoiceId> = attempt.plan.iter().map(|p| p.invoice_id.clone()).collect();
        let open = store::open_unheld_balances(conn, &attempt.company_id, &ids).await?;
        attempt
            .plan
            .iter()
            .filter_map(|p| {
                open.iter()
                    .find(|(id, _)| *id == p.invoice_id)
                    .map(|(id, balance)| (id.to_string(), p.amount.min(*balance)))
            })
            .collect()
    } else {
        // The attempt holds its invoices, so their balances are as planned.
        attempt
            .plan
            .iter()
            .map(|p| (p.invoice_id.to_string(), p.amount))
            .collect()
    };
    let (shares, mut unapplied) = allocate(charge.amount.minor, &planned);
    let applied_ids = if late {
        store::apply_to_open_invoices(conn, &attempt.company_id, &shares).await?
    } else {
        store::apply_to_held_invoices(conn, &attempt.id, &shares).await?
    };
    let (allocations, lost): (Vec<Allocation>, Vec<Allocation>) = shares
        .into_iter()
        .partition(|a| applied_ids.contains(&a.invoice_id));
    unapplied += lost.iter().map(|a| a.amount).sum::<i64>();
    store::insert_allocations(conn, &payment_id, &allocations).await?;
    if late {
        tracing::warn!(attempt = %attempt.id, payment = %payment_id, "a charge was found after its attempt was settled unpaid; recorded now");
        audit::record(
            conn,
            &attempt.company_id,
            actor,
            "payment.found_late",
            &payment_id,
            serde_json::json!({"attempt": attempt.id, "amount": charge.amount.minor, "applied": charge.amount.minor - unapplied}),
        )
        .await?;
    }
    if attempt.channel == crate::app::autopay::CHANNEL {
        // Autopay's receipt (its own templates, else the company's) and the
        // invoices' autopay state.
        crate::app::autopay::on_paid(conn, attempt, &payment_id, &allocations, now).await?;
    } else {
        crate::app::alerts::enqueue_receipt(
            conn,
            &attempt.company_id,
            &attempt.customer_id,
            &payment_id,
            allocations.first().map(|a| a.invoice_id.as_str()),
            now,
        )
        .await?;
    }
    if allocations.len() < attempt.plan.len() {
        store::release_locks(conn, &attempt.id).await?;
    }
    if unapplied > 0 {
        // The charge exceeded what its invoices still owed (they were paid
        // another way before it was found): the office sees it among the
        // payments to refund or apply (`store::unapplied_payments`).
        tracing::error!(payment = %payment_id, unapplied, "charge exceeded the remaining balances");
        audit::record(
            conn,
            &attempt.company_id,
            actor,
            "payment.unapplied",
            &payment_id,
            serde_json::json!({"amount": unapplied}),
        )
        .await?;
    }
    let mut autopay = None;
    if let Some(consent) = &attempt.enroll {
        let method_id = match (saved_method_id, &charge.saved_method) {
            (Some(id), _) => Some(id.clone()),
            (None, Some(processor_method)) => Some(
                store::insert_method(
                    conn,
                    &attempt.company_id,
                    &attempt.customer_id,
                    processor_method,
                    &charge.card,
                )
                .await?,
            ),
            (None, None) => None,
        };
        if let Some(processor_customer) = &charge.processor_customer {
            customers::set_processor_customer(conn, &attempt.customer_id, processor_customer)
                .await?;
        }
        if let Some(method_id) = &method_id {
            let enrollment = store::enroll_autopay(
                conn,
                &attempt.company_id,
                &attempt.customer_id,
                method_id,
                consent,
            )
            .await?;
            audit::record(
                conn,
                &attempt.company_id,
                actor,
                "autopay.enrolled",
                &attempt.customer_id,
                serde_json::json!({"enrollment": enrollment, "method": method_id, "channel": consent.channel}),
            )
            .await?;
        }
        autopay = Some(AutopayState {
            enrolled: method_id.is_some(),
            method_id: method_id.map(CardId::into_string),
        });
    }
    let summary = PaymentSummary {
        id: payment_id.to_string(),
        amount: charge.amount.minor,
        currency: charge.amount.currency,
        status: "succeeded".into(),
        allocations: allocations
            .iter()
            .map(|a| Share {
                invoice_id: a.invoice_id.to_string(),
                amount: a.amount,
            })
            .collect(),
        card: CardRef {
            brand: charge.card.brand.clone(),
            last4: charge.card.last4.clone(),
        },
        autopay,
    };
    let result = PayResult::Succeeded(summary);
    let body = serde_json::to_string(&result).unwrap_or_default();
    store::mark_succeeded(conn, &attempt.id, &charge.id, &body, late).await?;
    audit::record(
        conn,
        &attempt.company_id,
        actor,
        "payment.created",
        &payment_id,
        serde_json::json!({"amount": charge.amount.minor, "channel": attempt.channel, "attempt": attempt.id}),
    )
    .await?;
    crate::app::webhooks::events::payment_recorded(conn, &attempt.company_id, &payment_id).await?;
    Ok(result)
}
