//! Office payments (cash, check, card) and refunds.
//!
//! Card payments go through `crate::app::payments::pay` (idempotency, locking and
//! reconciliation shared with the pay page). Cash and check payments are
//! written in one transaction, guarded so that an invoice paid or held
//! meanwhile is refused. Refunds are written (and their invoices reopened and
//! held) before the processor is called, with the refund's id as the
//! processor's idempotency key; `crate::app::refunds` takes them from there.

use std::time::Duration;

use time::{Date, OffsetDateTime};

use crate::app::App;
use crate::app::payments::{self, PayError, PayInvoices, PayResult};
use crate::crypto::new_id;
use crate::domain::money::{Currency, Money};
use crate::domain::{Allocation, allocate};
use crate::store::payments::{self as store, NewOfficePayment};
use crate::store::refunds::{self, NewRefund};
use crate::store::{StoreError, audit};

// ---------------------------------------------------------------- pure rules

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    NothingSelected,
    ZeroAmount,
    /// The amount exceeds the selected balances (`total`).
    Overpayment {
        total: i64,
    },
}

/// Spreads a cash or check payment over the selected balances in the order
/// shown. `None` pays them in full; a smaller amount pays them in order; more
/// than their total is refused.
pub fn plan_office_payment(
    amount: Option<i64>,
    balances: &[(String, i64)],
) -> Result<Vec<Allocation>, PlanError> {
    if balances.is_empty() {
        return Err(PlanError::NothingSelected);
    }
    let total: i64 = balances.iter().map(|(_, b)| (*b).max(0)).sum();
    let amount = amount.unwrap_or(total);
    if amount <= 0 {
        return Err(PlanError::ZeroAmount);
    }
    if amount > total {
        return Err(PlanError::Overpayment { total });
    }
    let (shares, left) = allocate(amount, balances);
    debug_assert_eq!(left, 0);
    Ok(shares)
}

/// What one invoice can take back from a refund of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refundable {
    pub invoice_id: String,
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
        .map(|a| (a.invoice_id.clone(), (a.received - a.given_back).max(0)))
        .collect();
    allocate(amount, &room)
}

/// The instant a calendar day starts in a time zone (UTC for an unknown zone).
pub fn day_start(date: Date, time_zone: &str) -> OffsetDateTime {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let civil = jiff::civil::Date::new(
        date.year() as i16,
        u8::from(date.month()) as i8,
        date.day() as i8,
    );
    civil
        .ok()
        .and_then(|d| d.to_zoned_datetime(tz).ok())
        .and_then(|z| OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or_else(|| date.midnight().assume_utc())
}

// ---------------------------------------------------------------- errors

#[derive(Debug)]
pub enum OfficePayError {
    /// What the office typed or chose is not acceptable; `field` names the input.
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The payment, customer or an invoice is not this company's.
    NotFound,
    /// Something changed since the page was shown.
    Conflict(String),
    /// The processor refused or could not be reached.
    Processor(String),
    Store(StoreError),
}

impl From<StoreError> for OfficePayError {
    fn from(e: StoreError) -> Self {
        OfficePayError::Store(e)
    }
}

impl From<sqlx::Error> for OfficePayError {
    fn from(e: sqlx::Error) -> Self {
        OfficePayError::Store(e.into())
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> OfficePayError {
    OfficePayError::Invalid {
        field,
        message: message.into(),
    }
}

fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).format()
}

// ---------------------------------------------------------------- cash and check

#[derive(Debug, Clone)]
pub enum OfficeMethod {
    Cash,
    Check { number: String },
}

#[derive(Debug, Clone)]
pub struct RecordPayment {
    pub company_id: String,
    pub customer_id: String,
    /// In the order shown on the form.
    pub invoice_ids: Vec<String>,
    pub method: OfficeMethod,
    /// `None`: the selected invoices' whole balance.
    pub amount: Option<i64>,
    /// The form's nonce: one payment per form.
    pub office_key: String,
    pub user_id: String,
    pub actor: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    New(String),
    /// The same form was submitted before: its payment.
    Replay(String),
}

impl Recorded {
    pub fn payment_id(&self) -> &str {
        match self {
            Recorded::New(id) | Recorded::Replay(id) => id,
        }
    }
}

/// Records a cash or check payment on the selected invoices, in one
/// transaction; nothing is written when any invoice cannot take its share.
pub async fn record_payment(app: &App, req: &RecordPayment) -> Result<Recorded, OfficePayError> {
    if req.office_key.len() < 16 || req.office_key.len() > 128 {
        return Err(invalid(
            "form",
            "This form is incomplete. Reload the page and try again.",
        ));
    }
    if req.invoice_ids.is_empty() {
        return Err(invalid("invoice_ids", "Select at least one invoice."));
    }
    if req.invoice_ids.len() > payments::MAX_INVOICES_PER_PAYMENT {
        return Err(invalid(
            "invoice_ids",
            "At most 100 invoices can be paid at once.",
        ));
    }
    let (method, check_number) = match &req.method {
        OfficeMethod::Cash => ("cash", None),
        OfficeMethod::Check { number } => {
            let n = number.trim();
            if n.is_empty() {
                return Err(invalid("check_number", "Enter the check number."));
            }
            if n.chars().count() > 40 {
                return Err(invalid(
                    "check_number",
                    "A check number has at most 40 characters.",
                ));
            }
            let n = crate::domain::text::single_line("check_number", n, 40)
                .map_err(|e| invalid("check_number", &e.message))?;
            ("check", Some(n))
        }
    };
    let mut ids: Vec<String> = Vec::with_capacity(req.invoice_ids.len());
    for id in &req.invoice_ids {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }

    let mut tx = app.db.begin_write().await?;
    let c = &req.company_id;
    if let Some(prior) = store::find_by_office_key(&mut tx, c, &req.office_key).await? {
        return Ok(Recorded::Replay(prior));
    }
    let states = store::office_invoice_states(&mut tx, c, &req.customer_id, &ids).await?;
    let mut balances = Vec::with_capacity(ids.len());
    let mut numbers = Vec::with_capacity(ids.len());
    let mut currency: Option<String> = None;
    for id in &ids {
        let Some((inv, status)) = states.iter().find(|(i, _)| &i.id == id) else {
            return Err(OfficePayError::NotFound);
        };
        if status != "open" || inv.balance <= 0 {
            return Err(OfficePayError::Conflict(format!(
                "Invoice {} is already paid or void. Reload the page to see what is still owed.",
                inv.number
            )));
        }
        if inv.locked {
            return Err(OfficePayError::Conflict(format!(
                "Invoice {} is being paid by card right now. Wait a moment and reload the page.",
                inv.number
            )));
        }
        match &currency {
            Some(cur) if *cur != inv.currency => {
                return Err(invalid(
                    "invoice_ids",
                    "Invoices in different currencies must be paid separately.",
                ));
            }
            _ => currency = Some(inv.currency.clone()),
        }
        balances.push((id.clone(), inv.balance));
        numbers.push((id.clone(), inv.number.clone()));
    }
    let currency = currency
        .as_deref()
        .and_then(Currency::parse)
        .unwrap_or(Currency::USD);
    let shares = match plan_office_payment(req.amount, &balances) {
        Ok(s) => s,
        Err(PlanError::NothingSelected) => {
            return Err(invalid("invoice_ids", "Select at least one invoice."));
        }
        Err(PlanError::ZeroAmount) => {
            return Err(invalid("amount", "The amount must be more than zero."));
        }
        Err(PlanError::Overpayment { total }) => {
            return Err(invalid(
                "amount",
                format!(
                    "{} is more than the selected invoices' balance of {}. fieldpay does not record overpayments: enter at most {}.",
                    money(req.amount.unwrap_or(0), currency),
                    money(total, currency),
                    money(total, currency)
                ),
            ));
        }
    };
    for share in &shares {
        if !store::apply_office_share(&mut tx, c, &req.customer_id, share).await? {
            let number = numbers
                .iter()
                .find(|(id, _)| *id == share.invoice_id)
                .map(|(_, n)| n.as_str())
                .unwrap_or("?");
            // Dropping the transaction rolls back the shares applied so far.
            return Err(OfficePayError::Conflict(format!(
                "Invoice {number} changed while the payment was being recorded. Nothing was recorded; reload the page and try again."
            )));
        }
    }
    let amount: i64 = shares.iter().map(|s| s.amount).sum();
    let payment_id = store::insert_office_payment(
        &mut tx,
        &NewOfficePayment {
            company_id: c,
            customer_id: &req.customer_id,
            method,
            amount,
            currency,
            check_number: check_number.as_deref(),
            recorded_by: &req.user_id,
            office_key: &req.office_key,
        },
    )
    .await?;
    store::insert_allocations(&mut tx, &payment_id, &shares).await?;
    crate::app::alerts::enqueue_receipt(
        &mut tx,
        c,
        &req.customer_id,
        &payment_id,
        shares.first().map(|s| s.invoice_id.as_str()),
        app.clock.now(),
    )
    .await?;
    audit::record(
        &mut tx,
        c,
        &req.actor,
        "payment.recorded",
        &payment_id,
        serde_json::json!({
            "method": method,
            "amount": amount,
            "check_number": check_number,
            "customer": req.customer_id,
            "allocations": shares.iter().map(|s| serde_json::json!({"invoice_id": s.invoice_id, "amount": s.amount})).collect::<Vec<_>>(),
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Recorded::New(payment_id))
}

// ---------------------------------------------------------------- card

/// Charges a card (a processor token or a saved card) for the selected
/// invoices in full, through the shared payment path. A double submit of one
/// form waits for and returns the first one's result.
pub async fn pay_by_card(
    app: &App,
    req: PayInvoices,
    user_id: &str,
) -> Result<PayResult, PayError> {
    let mut result = Err(PayError::InProgress);
    for _ in 0..40 {
        result = payments::pay_detached(app, req.clone()).await;
        if matches!(result, Err(PayError::InProgress)) {
            tokio::time::sleep(Duration::from_millis(250)).await;
        } else {
            break;
        }
    }
    if let Ok(PayResult::Succeeded(summary)) = &result {
        let named: Result<(), StoreError> = async {
            let mut tx = app.db.begin_write().await?;
            store::set_recorded_by(&mut tx, &req.company_id, &summary.id, user_id).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = named {
            tracing::warn!(payment = %summary.id, error = %e, "could not name who took the payment");
        }
    }
    result
}

// ---------------------------------------------------------------- refunds

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub company_id: String,
    pub payment_id: String,
    /// `None`: all that is left.
    pub amount: Option<i64>,
    pub reason: String,
    /// The form's nonce.
    pub idempotency_key: String,
    pub user_id: String,
    pub actor: String,
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
    Done(String),
    /// The same form was submitted before.
    Replay(String),
    /// Recorded and pending at the processor (not reached, or not finished
    /// there): the jobs send it again or ask about it until it settles.
    Pending(String),
}

/// Checks a refund and works out which invoices it reopens, without writing.
pub async fn plan_refund_for(
    app: &App,
    company_id: &str,
    payment_id: &str,
    amount: Option<i64>,
) -> Result<RefundPlan, OfficePayError> {
    let mut conn = app.db.reader().acquire().await?;
    plan_on(&mut conn, company_id, payment_id, amount).await
}

async fn plan_on(
    conn: &mut crate::store::Conn,
    company_id: &str,
    payment_id: &str,
    amount: Option<i64>,
) -> Result<RefundPlan, OfficePayError> {
    let payment = store::office_get(conn, company_id, payment_id)
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
    let received = refunds::received_by_invoice(conn, company_id, payment_id).await?;
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
                s.invoice_id.clone(),
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

/// Refunds (part of) a payment: recorded and its invoices reopened first,
/// then, for a card payment, sent to the processor that took it
/// (`crate::app::refunds`): confirmed, left pending for the jobs, or failed and
/// undone.
pub async fn refund(app: &App, req: &RefundRequest) -> Result<RefundOutcome, OfficePayError> {
    let key = req.idempotency_key.as_str();
    if key.len() < 16 || key.len() > 128 {
        return Err(invalid(
            "form",
            "This form is incomplete. Reload the page and try again.",
        ));
    }
    let reason = req.reason.trim();
    if reason.chars().count() > 500 {
        return Err(invalid("reason", "Keep the reason under 500 characters."));
    }
    let c = req.company_id.as_str();
    let refund_id = new_id("ref");

    // The processor that took the payment makes the refund: recorded with it.
    let processor = {
        let mut conn = app.db.reader().acquire().await?;
        let payment = store::office_get(&mut conn, c, &req.payment_id)
            .await?
            .ok_or(OfficePayError::NotFound)?;
        if payment.method == "card" {
            let (kind, account) = refunds::payment_processor(&mut conn, c, &req.payment_id).await?;
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
    let mut tx = app.db.begin_write().await?;
    if let Some(prior) = refunds::find_by_key(&mut tx, c, key).await? {
        if prior.payment_id != req.payment_id {
            return Err(invalid(
                "form",
                "This form was already used. Reload the page.",
            ));
        }
        return match prior.status.as_str() {
            refunds::PENDING => Ok(RefundOutcome::Pending(prior.id)),
            refunds::FAILED => Err(failed(&prior.last_error.unwrap_or_default())),
            _ => Ok(RefundOutcome::Replay(prior.id)),
        };
    }
    let payment = store::office_get(&mut tx, c, &req.payment_id)
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
    if !refunds::add_to_payment(&mut tx, c, &req.payment_id, plan.amount).await? {
        return Err(invalid(
            "amount",
            "The payment changed meanwhile. Reload the page.",
        ));
    }
    let now = app.clock.now();
    refunds::insert(
        &mut tx,
        &NewRefund {
            id: &refund_id,
            company_id: c,
            payment_id: &req.payment_id,
            amount: plan.amount,
            idempotency_key: key,
            reason,
            created_by: &req.user_id,
            status: if by_card {
                refunds::PENDING
            } else {
                refunds::SUCCEEDED
            },
            processor_refund_id: None,
            processor_kind: processor.as_ref().map(|(k, _)| k.as_str()),
            processor_account: processor.as_ref().map(|(_, a)| a.as_str()),
            // The send below has this long; after a crash the jobs send it.
            next_attempt_at: by_card.then_some(now + crate::app::refunds::SEND_LEASE),
        },
    )
    .await?;
    for (invoice_id, number, amount, _) in &plan.reopens {
        let share = Allocation {
            invoice_id: invoice_id.clone(),
            amount: *amount,
        };
        if !refunds::reopen_invoice(&mut tx, c, &refund_id, &share, by_card).await? {
            return Err(OfficePayError::Conflict(format!(
                "Invoice {number} is being paid right now. Nothing was refunded; try again in a moment."
            )));
        }
    }
    audit::record(
        &mut tx,
        c,
        &req.actor,
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
    tx.commit().await?;

    if charge_id.is_none() {
        // Cash or check: the money went back outside fieldpay.
        return Ok(RefundOutcome::Done(refund_id));
    }
    // 2. Send; 3. confirm, leave pending for the jobs, or undo.
    let settled = crate::app::refunds::send_recorded(app, c, &refund_id, &req.actor).await?;
    outcome(refund_id, settled)
}

fn outcome(
    refund_id: String,
    settled: crate::app::refunds::Settled,
) -> Result<RefundOutcome, OfficePayError> {
    match settled {
        crate::app::refunds::Settled::Succeeded => Ok(RefundOutcome::Done(refund_id)),
        crate::app::refunds::Settled::Pending(_) | crate::app::refunds::Settled::Processing => {
            Ok(RefundOutcome::Pending(refund_id))
        }
        crate::app::refunds::Settled::Failed(reason) => Err(failed(&reason)),
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
    company_id: &str,
    payment_id: &str,
    refund_id: &str,
    actor: &str,
) -> Result<RefundOutcome, OfficePayError> {
    let state = {
        let mut conn = app.db.reader().acquire().await?;
        refunds::state(&mut conn, company_id, refund_id).await?
    };
    let Some(state) = state.filter(|s| s.payment_id == payment_id) else {
        return Err(OfficePayError::NotFound);
    };
    match state.status.as_str() {
        refunds::PENDING => {}
        refunds::FAILED => return Err(failed(&state.last_error.unwrap_or_default())),
        _ => return Ok(RefundOutcome::Replay(refund_id.to_string())),
    }
    match crate::app::refunds::retry_now(app, company_id, refund_id, actor).await? {
        Some(settled) => outcome(refund_id.to_string(), settled),
        None => Ok(RefundOutcome::Replay(refund_id.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    #[test]
    fn office_payment_plans() {
        let b = vec![("a".to_string(), 10000), ("b".to_string(), 5000)];
        let full = plan_office_payment(None, &b).unwrap();
        assert_eq!(
            full.iter().map(|s| s.amount).collect::<Vec<_>>(),
            [10000, 5000]
        );
        let part = plan_office_payment(Some(12000), &b).unwrap();
        assert_eq!(
            part,
            vec![
                Allocation {
                    invoice_id: "a".into(),
                    amount: 10000
                },
                Allocation {
                    invoice_id: "b".into(),
                    amount: 2000
                }
            ]
        );
        assert_eq!(
            plan_office_payment(Some(15001), &b),
            Err(PlanError::Overpayment { total: 15000 })
        );
        assert_eq!(plan_office_payment(Some(0), &b), Err(PlanError::ZeroAmount));
        assert_eq!(
            plan_office_payment(None, &[]),
            Err(PlanError::NothingSelected)
        );
    }

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

    #[test]
    fn days_start_in_the_company_zone() {
        assert_eq!(
            day_start(date!(2026 - 11 - 28), "America/Chicago"),
            datetime!(2026-11-28 06:00 UTC)
        );
        assert_eq!(
            day_start(date!(2026 - 07 - 01), "America/Chicago"),
            datetime!(2026-07-01 05:00 UTC)
        );
        assert_eq!(
            day_start(date!(2026 - 11 - 28), "Mars/Olympus"),
            datetime!(2026-11-28 00:00 UTC)
        );
    }

    proptest! {
        #[test]
        fn refund_shares_never_exceed_what_each_invoice_received(
            amount in 0i64..2_000_000,
            allocs in proptest::collection::vec((1i64..500_000, 0i64..500_000), 0..8),
        ) {
            let allocs: Vec<Refundable> = allocs.iter().enumerate().map(|(i, (received, back))| Refundable {
                invoice_id: format!("inv{i}"),
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

        #[test]
        fn office_plans_pay_in_order_and_never_overpay(
            amount in proptest::option::of(0i64..2_000_000),
            balances in proptest::collection::vec(1i64..500_000, 1..8),
        ) {
            let b: Vec<(String, i64)> = balances.iter().enumerate().map(|(i, v)| (format!("inv{i}"), *v)).collect();
            let total: i64 = balances.iter().sum();
            match plan_office_payment(amount, &b) {
                Ok(shares) => {
                    let sum: i64 = shares.iter().map(|s| s.amount).sum();
                    prop_assert_eq!(sum, amount.unwrap_or(total));
                    prop_assert!(sum <= total);
                }
                Err(PlanError::Overpayment { total: t }) => {
                    prop_assert_eq!(t, total);
                    prop_assert!(amount.unwrap_or(0) > total);
                }
                Err(PlanError::ZeroAmount) => prop_assert_eq!(amount, Some(0)),
                Err(PlanError::NothingSelected) => prop_assert!(false),
            }
        }
    }
}
