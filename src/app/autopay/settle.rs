//! Settling an autopay attempt, in the transaction that ends it: each
//! invoice's retry state, the result, the receipt or the decline message.

use time::OffsetDateTime;

use super::{ACTOR, send};
use crate::app::webhooks::events::AutopayFailure;
use crate::domain::Allocation;
use crate::domain::autopay::{self as rules, AfterDecline, charge_date};
use crate::domain::ids::PaymentId;
use crate::processor::Decline;
use crate::store::autopay::{self as store, ItemUpdate, NewResult};
use crate::store::payments::Attempt;
use crate::store::{Conn, StoreResult, audit};

fn plan_ids(attempt: &Attempt) -> Vec<String> {
    attempt
        .plan
        .iter()
        .map(|p| p.invoice_id.to_string())
        .collect()
}

/// Settles a declined (or never charged) autopay attempt, inside the
/// transaction that ends it: each invoice's retry state, the result, the
/// decline message. Once per attempt.
pub async fn on_unpaid(
    conn: &mut Conn,
    attempt: &Attempt,
    decline: &Decline,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let company_id = &attempt.company_id;
    let settings = store::settings(&mut *conn, company_id).await?;
    let planned = store::planned_invoices(conn, company_id, &plan_ids(attempt)).await?;
    let mut steps = Vec::with_capacity(planned.len());
    for inv in &planned {
        let charge_on = inv
            .item
            .as_ref()
            .map(|i| i.charge_on)
            .unwrap_or_else(|| charge_date(settings.timing, inv.issue_date, inv.due_date));
        let failures = inv.item.as_ref().map(|i| i.failures).unwrap_or(0);
        let step = rules::after_decline(
            &decline.code,
            charge_on,
            &settings.retry_days,
            usize::try_from(failures).unwrap_or(0),
        );
        steps.push((inv, charge_on, failures, step));
    }
    let next = steps
        .iter()
        .filter_map(|(_, _, _, s)| match s {
            AfterDecline::Retry(d) => Some(*d),
            _ => None,
        })
        .min();
    let dropped = steps.iter().any(|(_, _, _, s)| *s == AfterDecline::Drop);
    let outcome = match (next, dropped) {
        (Some(_), _) => "retry",
        (None, true) => "dropped",
        (None, false) => "not_charged",
    };
    let numbers = planned
        .iter()
        .map(|p| p.number.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let recorded = store::insert_result(
        conn,
        &NewResult {
            attempt_id: &attempt.id,
            company_id,
            customer_id: &attempt.customer_id,
            outcome,
            amount: attempt.amount,
            currency: attempt.currency.code(),
            code: Some(&decline.code),
            payment_id: None,
            next_try_on: next,
            invoice_numbers: &numbers,
            settled_at: now,
        },
    )
    .await?;
    if !recorded {
        return Ok(());
    }
    crate::app::webhooks::events::autopay_payment_failed(
        conn,
        &AutopayFailure {
            attempt,
            decline_code: &decline.code,
            outcome,
            next_try_on: next,
            invoices: planned
                .iter()
                .map(|p| (p.invoice_id.clone(), p.number.clone()))
                .collect(),
        },
    )
    .await?;
    for (inv, charge_on, failures, step) in &steps {
        let (status, next_try_on) = match step {
            AfterDecline::Retry(d) => ("retrying", Some(*d)),
            AfterDecline::Drop => ("failed", None),
            AfterDecline::Unchanged => continue,
        };
        store::set_item(
            conn,
            &ItemUpdate {
                invoice_id: &inv.invoice_id,
                company_id,
                customer_id: &attempt.customer_id,
                charge_on: *charge_on,
                failures: failures + 1,
                status,
                next_try_on,
                last_code: Some(&decline.code),
                attempt_id: &attempt.id,
            },
        )
        .await?;
        if status == "failed" {
            audit::record(
                conn,
                company_id,
                ACTOR,
                "autopay.dropped",
                &inv.invoice_id,
                serde_json::json!({"attempt": attempt.id, "code": decline.code, "tries": failures + 1}),
            )
            .await?;
        }
    }
    if outcome == "not_charged" {
        return Ok(());
    }
    let t = &settings.templates;
    if let Some((email, phone)) = store::contacts(conn, company_id, &attempt.customer_id).await? {
        send(
            conn,
            company_id,
            &attempt.customer_id,
            planned.first().map(|p| p.invoice_id.as_str()),
            &t.decline_email,
            &t.decline_sms,
            (&email, &phone),
            &format!("autopay_declined:{}", attempt.id),
            now,
        )
        .await?;
    }
    Ok(())
}

/// Settles a paid autopay attempt, inside the transaction that records the
/// payment: the invoices are marked paid by autopay (a refund never makes
/// autopay charge them again), the result is recorded, and the receipt is
/// queued — with autopay's own receipt templates when the company chose
/// them, else through the company's receipt (`alerts::enqueue_receipt`).
/// Both use the cause `receipt:{payment_id}`.
pub async fn on_paid(
    conn: &mut Conn,
    attempt: &Attempt,
    payment_id: &PaymentId,
    allocations: &[Allocation],
    now: OffsetDateTime,
) -> StoreResult<()> {
    let company_id = &attempt.company_id;
    let settings = store::settings(&mut *conn, company_id).await?;
    let planned = store::planned_invoices(conn, company_id, &plan_ids(attempt)).await?;
    let numbers = planned
        .iter()
        .map(|p| p.number.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let amount: i64 = allocations.iter().map(|a| a.amount).sum();
    store::insert_result(
        conn,
        &NewResult {
            attempt_id: &attempt.id,
            company_id,
            customer_id: &attempt.customer_id,
            outcome: "paid",
            amount: if amount > 0 { amount } else { attempt.amount },
            currency: attempt.currency.code(),
            code: None,
            payment_id: Some(payment_id),
            next_try_on: None,
            invoice_numbers: &numbers,
            settled_at: now,
        },
    )
    .await?;
    for inv in &planned {
        let paid = allocations.iter().any(|a| a.invoice_id == inv.invoice_id);
        if !paid {
            continue;
        }
        store::set_item(
            conn,
            &ItemUpdate {
                invoice_id: &inv.invoice_id,
                company_id,
                customer_id: &attempt.customer_id,
                charge_on: inv
                    .item
                    .as_ref()
                    .map(|i| i.charge_on)
                    .unwrap_or_else(|| charge_date(settings.timing, inv.issue_date, inv.due_date)),
                failures: inv.item.as_ref().map(|i| i.failures).unwrap_or(0),
                status: "paid",
                next_try_on: None,
                last_code: None,
                attempt_id: &attempt.id,
            },
        )
        .await?;
    }
    let first_invoice = allocations.first().map(|a| a.invoice_id.as_str());
    let t = &settings.templates;
    if t.receipt_email.is_some() || t.receipt_sms.is_some() {
        if let Some((email, phone)) =
            store::contacts(conn, company_id, &attempt.customer_id).await?
        {
            send(
                conn,
                company_id,
                &attempt.customer_id,
                first_invoice,
                &t.receipt_email,
                &t.receipt_sms,
                (&email, &phone),
                &format!("receipt:{payment_id}"),
                now,
            )
            .await?;
        }
        Ok(())
    } else {
        crate::app::alerts::enqueue_receipt(
            conn,
            company_id,
            &attempt.customer_id,
            payment_id,
            first_invoice,
            now,
        )
        .await
    }
}
