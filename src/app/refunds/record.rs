//! Asking for a refund: checked, planned over the invoices the payment paid,
//! recorded (its invoices reopened, and held while a card refund is sent)
//! before the processor is called, with the refund's id as the processor's
//! idempotency key. The office form and the JSON API both call `refund`.

use super::{SEND_LEASE, Settled, retry_now, send_recorded};
use crate::app::payments::office::{OfficePayError, conflict, invalid, money};
use crate::app::{Actor, App};
use crate::domain::ids::{CompanyId, InvoiceId, PaymentId, RefundId};
use crate::domain::money::Currency;
use crate::domain::{Allocation, allocate};
use crate::store::payments as payments_store;
use crate::store::refunds::{self as store, NewRefund};
use crate::store::{Conn, audit};

// ---------------------------------------------------------------- pure rules

/// What one invoice can take back from a refund of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refundable {
    pub invoice_id: InvoiceId,
    /// What the payment gave the invoice.
    pub received: i64,
    /// What earlier refunds of the payment gave back to it.
    pub given_back: i64,
}

/// Gives a refund back to the payment's invoices in reverse allocation order,
/// each at most what it received minus what earlier refunds gave back.
/// Returns the shares and what no invoice takes (a part of the charge that
/// was never applied to an invoice).
pub fn plan_refund(amount: i64, allocations: &[Refundable]) -> (Vec<Allocation>, i64) {
    let room: Vec<(String, i64)> = allocations
        .iter()
        .rev()
        .map(|a| (a.invoice_id.to_string(), (a.received - a.given_back).max(0)))
        .collect();
    allocate(amount, &room)
}

// ---------------------------------------------------------------- the request

/// What makes a repeat of the same refund request refund once.
#[derive(Debug, Clone)]
pub enum RefundKey {
    /// The office form's nonce.
    Form(String),
    /// An API client's `Idempotency-Key`.
    Api(String),
}

impl RefundKey {
    fn stored(&self) -> String {
        match self {
            RefundKey::Form(nonce) => nonce.clone(),
            RefundKey::Api(key) => format!("api:{key}"),
        }
    }

    fn check(&self) -> Result<(), OfficePayError> {
        match self {
            RefundKey::Form(n) if n.len() < 16 || n.len() > 128 => Err(invalid(
                "form",
                "This form is incomplete. Reload the page and try again.",
            )),
            RefundKey::Api(k) if k.is_empty() || k.len() > 200 => Err(invalid(
                "Idempotency-Key",
                "Send an Idempotency-Key header of 1 to 200 characters.",
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub payment_id: PaymentId,
    /// `None`: all that is left.
    pub amount: Option<i64>,
    pub reason: String,
    pub key: RefundKey,
}

/// What a refund will do, for the confirmation step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundPlan {
    pub amount: i64,
    pub currency: Currency,
    pub left: i64,
    pub method: String,
    /// `(invoice_id, invoice_number, amount given back, balance after)`.
    pub reopens: Vec<(String, String, i64, i64)>,
    /// What no invoice takes back.
    pub unapplied: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Done(RefundId),
    /// The same request was made before: its refund.
    Replay(RefundId),
    /// Recorded and pending at the processor (not reached, or not finished
    /// there): the jobs send it again or ask about it until it settles.
    Pending(RefundId),
}

impl RefundOutcome {
    pub fn refund_id(&self) -> &RefundId {
        match self {
            RefundOutcome::Done(id) | RefundOutcome::Replay(id) | RefundOutcome::Pending(id) => id,
        }
    }
}

/// Who a refund names as having made it: the office user, else the
/// actor's audit name.
fn created_by(actor: &Actor) -> String {
    match actor {
        Actor::Office { user_id, .. } => user_id.to_string(),
        other => other.audit_name(),
    }
}

/// Checks a refund and works out which invoices it reopens, without writing.
pub async fn plan_refund_for(
    app: &App,
    actor: &Actor,
    payment_id: &PaymentId,
    amount: Option<i64>,
) -> Result<RefundPlan, OfficePayError> {
    actor.must_be_company()?;
    let mut conn = app.db.reader().acquire().await?;
    plan_on(&mut conn, actor.company_id(), payment_id, amount).await
}

async fn plan_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
    amount: Option<i64>,
) -> Result<RefundPlan, OfficePayError> {
    let payment = payments_store::office_get(conn, company_id, payment_id)
        .await?
        .ok_or(OfficePayError::NotFound)?;
    let left = payment.amount - payment.refunded;
    if left <= 0 {
        return Err(invalid("amount", "This payment has been refunded in full."));
    }
    let amount = amount.unwrap_or(left);
    if amount <= 0 {
        return Err(invalid("amount", "The refund must be more than zero."));
    }
    if amount > left {
        return Err(invalid(
            "amount",
            format!(
                "At most {} can be refunded: {} of {} has been refunded already.",
                money(left, payment.currency),
                money(payment.refunded, payment.currency),
                money(payment.amount, payment.currency)
            ),
        ));
    }
    let received = store::received_by_invoice(conn, company_id, payment_id).await?;
    let refundable: Vec<Refundable> = received
        .iter()
        .map(|r| Refundable {
            invoice_id: r.invoice_id.clone(),
            received: r.received,
            given_back: r.given_back,
        })
        .collect();
    let (shares, unapplied) = plan_refund(amount, &refundable);
    let reopens = shares
        .iter()
        .map(|s| {
            let r = received.iter().find(|r| r.invoice_id == s.invoice_id);
            (
                s.invoice_id.to_string(),
                r.map(|r| r.invoice_number.clone()).unwrap_or_default(),
                s.amount,
                r.map(|r| r.invoice_balance).unwrap_or(0) + s.amount,
            )
        })
        .collect();
    Ok(RefundPlan {
        amount,
        currency: payment.currency,
        left,
        method: payment.method,
        reopens,
        unapplied,
    })
}

/// What a refund already written under the request's key answers.
fn replay(
    prior: store::Keyed,
    req: &RefundRequest,
    now: time::OffsetDateTime,
) -> Result<RefundOutcome, OfficePayError> {
    // A form's nonce names its payment; an API key names the whole request.
    let same = prior.payment_id == req.payment_id
        && (matches!(req.key, RefundKey::Form(_))
            || req.amount.is_none_or(|amount| amount == prior.amount));
    match (&req.key, same) {
        (RefundKey::Form(_), false) => {
            return Err(invalid(
                "form",
                "This form was already used. Reload the page.",
            ));
        }
        (RefundKey::Api(_), false) => return Err(OfficePayError::KeyReused),
        _ => {}
    }
    match prior.status.as_str() {
        // Still being sent by the request that wrote it (its lease not
        // over, nothing heard from the processor yet).
        store::PENDING
            if matches!(req.key, RefundKey::Api(_))
                && prior.last_error.is_none()
                && prior.processor_refund_id.is_none()
                && prior.next_attempt_at.is_some_and(|at| at > now) =>
        {
            Err(OfficePayError::InProgress)
        }
        store::PENDING => Ok(RefundOutcome::Pending(prior.id)),
        store::FAILED => Err(failed(&prior.last_error.unwrap_or_default())),
        _ => Ok(RefundOutcome::Replay(prior.id)),
    }
}

/// Refunds (part of) a payment: recorded and its invoices reopened first,
/// then, for a card payment, sent to the processor that took it
/// (`crate::app::refunds`): confirmed, left pending for the jobs, or failed
/// and undone. Only the company may; a repeat of the same key refunds once.
pub async fn refund(
    app: &App,
    actor: &Actor,
    req: &RefundRequest,
) -> Result<RefundOutcome, OfficePayError> {
    actor.must_be_company()?;
    req.key.check()?;
    let key = req.key.stored();
    let reason = req.reason.trim();
    if reason.chars().count() > 500 {
        return Err(invalid("reason", "Keep the reason under 500 characters."));
    }
    let c = actor.company_id();
    let refund_id = RefundId::new();

    // The processor that took the payment makes the refund: recorded with it.
    let processor = {
        let mut conn = app.db.reader().acquire().await?;
        let payment = payments_store::office_get(&mut conn, c, &req.payment_id)
            .await?
            .ok_or(OfficePayError::NotFound)?;
        if payment.method == "card" {
            let (kind, account) = store::payment_processor(&mut conn, c, &req.payment_id).await?;
            drop(conn);
            let processor =
                crate::app::processors::processor_of(app, c, kind.as_deref(), account.as_deref())
                    .await?
                    .ok_or_else(|| {
                        invalid(
                            "amount",
                            "This card payment was taken through a processor account the company no longer uses: refund it in that account.",
                        )
                    })?;
            Some((processor.name().to_string(), processor.account()))
        } else {
            None
        }
    };

    // 1. Record: the refund, the payment's refunded total, the reopened invoices.
    let mut tx = app.db.begin_write_for(c).await?;
    if let Some(prior) = store::find_by_key(&mut tx, c, &key).await? {
        return replay(prior, req, app.clock.now());
    }
    let payment = payments_store::office_get(&mut tx, c, &req.payment_id)
        .await?
        .ok_or(OfficePayError::NotFound)?;
    let plan = plan_on(&mut tx, c, &req.payment_id, req.amount).await?;
    let by_card = payment.method == "card";
    let charge_id = match (&payment.processor_charge_id, by_card) {
        (Some(id), true) => Some(id.clone()),
        (None, true) => {
            return Err(invalid(
                "amount",
                "This card payment has no processor charge to refund.",
            ));
        }
        _ => None,
    };
    if !store::add_to_payment(&mut tx, c, &req.payment_id, plan.amount).await? {
        return Err(invalid(
            "amount",
            "The payment changed meanwhile. Reload the page.",
        ));
    }
    let now = app.clock.now();
    let actor_name = actor.audit_name();
    store::insert(
        &mut tx,
        &NewRefund {
            id: &refund_id,
            company_id: c,
            payment_id: &req.payment_id,
            amount: plan.amount,
            idempotency_key: &key,
            reason,
            created_by: &created_by(actor),
            status: if by_card {
                store::PENDING
            } else {
                store::SUCCEEDED
            },
            processor_refund_id: None,
            processor_kind: processor.as_ref().map(|(k, _)| k.as_str()),
            processor_account: processor.as_ref().map(|(_, a)| a.as_str()),
            // The send below has this long; after a crash the jobs send it.
            next_attempt_at: by_card.then_some(now + SEND_LEASE),
        },
    )
    .await?;
    for (invoice_id, number, amount, _) in &plan.reopens {
        let share = Allocation {
            invoice_id: invoice_id.into(),
            amount: *amount,
        };
        if !store::reopen_invoice(&mut tx, c, &refund_id, &share, by_card).await? {
            return Err(conflict(
                "invoice_being_paid",
                format!(
                    "Invoice {number} is being paid right now. Nothing was refunded; try again in a moment."
                ),
            ));
        }
    }
    audit::record(
        &mut tx,
        c,
        &actor_name,
        "refund.created",
        &refund_id,
        serde_json::json!({
            "payment": req.payment_id,
            "amount": plan.amount,
            "method": payment.method,
            "reason": reason,
            "processor": processor.as_ref().map(|(k, _)| k),
            "reopened": plan.reopens.iter().map(|(id, _, a, _)| serde_json::json!({"invoice_id": id, "amount": a})).collect::<Vec<_>>(),
        }),
    )
    .await?;
    if !by_card {
        // Cash or check: given back now, so refunded now.
        crate::app::webhooks::events::payment_refunded(&mut tx, c, &req.payment_id, &refund_id)
            .await?;
    }
    tx.commit().await?;

    if charge_id.is_none() {
        // Cash or check: the money went back outside fieldpay.
        return Ok(RefundOutcome::Done(refund_id));
    }
    // 2. Send; 3. confirm, leave pending for the jobs, or undo.
    let settled = send_recorded(app, c, &refund_id, &actor_name).await?;
    outcome(refund_id, settled)
}

fn outcome(refund_id: RefundId, settled: Settled) -> Result<RefundOutcome, OfficePayError> {
    match settled {
        Settled::Succeeded => Ok(RefundOutcome::Done(refund_id)),
        Settled::Pending(_) | Settled::Processing => Ok(RefundOutcome::Pending(refund_id)),
        Settled::Failed(reason) => Err(failed(&reason)),
    }
}

fn failed(reason: &str) -> OfficePayError {
    let reason = reason.trim().trim_end_matches('.');
    OfficePayError::Processor(if reason.is_empty() {
        "The card processor refused the refund, so nothing was refunded and the balances are as before."
            .into()
    } else {
        format!(
            "The card processor refused the refund ({reason}), so nothing was refunded and the balances are as before."
        )
    })
}

/// Sends a pending card refund again now (the office's button; the jobs
/// would otherwise at its next time). It is asked about first, so it is
/// never paid out twice.
pub async fn retry_refund(
    app: &App,
    actor: &Actor,
    payment_id: &PaymentId,
    refund_id: &RefundId,
) -> Result<RefundOutcome, OfficePayError> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let state = {
        let mut conn = app.db.reader().acquire().await?;
        store::state(&mut conn, company_id, refund_id).await?
    };
    let Some(state) = state.filter(|s| *payment_id == s.payment_id) else {
        return Err(OfficePayError::NotFound);
    };
    match state.status.as_str() {
        store::PENDING => {}
        store::FAILED => return Err(failed(&state.last_error.unwrap_or_default())),
        _ => return Ok(RefundOutcome::Replay(refund_id.clone())),
    }
    match retry_now(app, company_id, refund_id, &actor.audit_name()).await? {
        Some(settled) => outcome(refund_id.clone(), settled),
        None => Ok(RefundOutcome::Replay(refund_id.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refunds_go_back_in_reverse_order() {
        let allocs = vec![
            Refundable {
                invoice_id: "a".into(),
                received: 10000,
                given_back: 0,
            },
            Refundable {
                invoice_id: "b".into(),
                received: 5000,
                given_back: 1000,
            },
        ];
        let (shares, left) = plan_refund(6000, &allocs);
        assert_eq!(left, 0);
        assert_eq!(
            shares,
            vec![
                Allocation {
                    invoice_id: "b".into(),
                    amount: 4000
                },
                Allocation {
                    invoice_id: "a".into(),
                    amount: 2000
                }
            ]
        );
        // More than the invoices took: the rest reopens nothing.
        let (shares, left) = plan_refund(20000, &allocs);
        assert_eq!(shares.iter().map(|s| s.amount).sum::<i64>(), 14000);
        assert_eq!(left, 6000);
    }

    proptest! {
        #[test]
        fn refund_shares_never_exceed_what_each_invoice_received(
            amount in 0i64..2_000_000,
            allocs in proptest::collection::vec((1i64..500_000, 0i64..500_000), 0..8),
        ) {
            let allocs: Vec<Refundable> = allocs.iter().enumerate().map(|(i, (received, back))| Refundable {
                invoice_id: format!("inv{i}").into(),
                received: *received,
                given_back: (*back).min(*received),
            }).collect();
            let (shares, left) = plan_refund(amount, &allocs);
            let sum: i64 = shares.iter().map(|s| s.amount).sum();
            // The shares and what no invoice takes add up to the refund.
            prop_assert_eq!(sum + left, amount);
            prop_assert!(left >= 0);
            for s in &shares {
                let a = allocs.iter().find(|a| a.invoice_id == s.invoice_id).unwrap();
                prop_assert!(s.amount > 0);
                prop_assert!(s.amount <= a.received - a.given_back);
            }
            let room: i64 = allocs.iter().map(|a| a.received - a.given_back).sum();
            prop_assert_eq!(sum, amount.min(room));
            // Reverse order: an invoice gets something only when every later one is used up.
            for (i, s) in shares.iter().enumerate() {
                if i + 1 < shares.len() {
                    let a = allocs.iter().find(|a| a.invoice_id == s.invoice_id).unwrap();
                    prop_assert_eq!(s.amount, a.received - a.given_back);
                }
            }
        }
    }
}
