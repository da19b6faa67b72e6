//! Payments the company records itself: cash and check written in one
//! transaction (guarded so that an invoice paid or held meanwhile is
//! refused), cards charged through the shared path (`charge`). The office
//! form and the JSON API both call `record_office_payment`.

use std::time::Duration;

use time::{Date, OffsetDateTime};

use super::charge::pay_shares_detached;
use super::{MAX_INVOICES_PER_PAYMENT, PayError, PayInvoices, PayResult, pay_detached};
use crate::app::{Actor, App, Refusal};
use crate::domain::money::{Currency, Money};
use crate::domain::{Allocation, allocate};
use crate::processor::Decline;
use crate::store::payments::{self as store, NewOfficePayment};
use crate::store::{Conn, StoreError, audit, customers};

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

/// Checks shares given one by one: at least one, each more than zero, one
/// per invoice, adding up to `amount`.
pub fn check_exact_shares(amount: i64, shares: &[Allocation]) -> Result<(), Refusal> {
    if shares.is_empty() {
        return Err(Refusal::invalid(
            "allocations",
            "Allocate the payment to at least one invoice.",
        ));
    }
    if shares.len() > MAX_INVOICES_PER_PAYMENT {
        return Err(Refusal::invalid(
            "allocations",
            "At most 100 invoices can be paid at once.",
        ));
    }
    for (i, s) in shares.iter().enumerate() {
        if s.invoice_id.is_empty() || s.invoice_id.len() > 64 {
            return Err(Refusal::invalid(
                "allocations",
                format!("allocations[{i}]: invoice_id must name one of the customer's invoices."),
            ));
        }
        if s.amount <= 0 {
            return Err(Refusal::invalid(
                "allocations",
                format!("allocations[{i}]: the amount must be more than zero."),
            ));
        }
        if shares[..i].iter().any(|t| t.invoice_id == s.invoice_id) {
            return Err(Refusal::invalid(
                "allocations",
                format!(
                    "allocations[{i}]: invoice {} is listed twice; give each invoice one allocation.",
                    s.invoice_id
                ),
            ));
        }
    }
    let sum = shares
        .iter()
        .try_fold(0i64, |sum, s| sum.checked_add(s.amount));
    if amount <= 0 {
        return Err(Refusal::invalid(
            "amount",
            "The amount must be more than zero.",
        ));
    }
    if sum != Some(amount) {
        return Err(Refusal::invalid(
            "amount",
            format!(
                "amount is {amount} but the allocations add up to {}: they must add up to the amount.",
                sum.map_or_else(
                    || "more than can be paid at once".to_string(),
                    |s| s.to_string()
                )
            ),
        ));
    }
    Ok(())
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

/// Why the company's payment or refund was not made.
#[derive(Debug)]
pub enum OfficePayError {
    /// What was typed or chosen is not acceptable; `field` names the input.
    Invalid {
        field: &'static str,
        message: String,
    },
    /// The payment, customer or an invoice is not this company's.
    NotFound,
    /// The actor may not do this.
    Forbidden(String),
    /// Something changed since the page was shown, or the invoice cannot be
    /// paid now: a stable code and words.
    Conflict {
        code: &'static str,
        message: String,
    },
    /// The processor refused or could not be reached.
    Processor(String),
    /// The idempotency key was used for a different request.
    KeyReused,
    /// A request with this idempotency key is still being worked on.
    InProgress,
    /// The card path refused (see `PayError`).
    Charge(PayError),
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

impl From<Refusal> for OfficePayError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NotFound => OfficePayError::NotFound,
            Refusal::Forbidden(m) => OfficePayError::Forbidden(m),
            Refusal::Invalid { field, message } => OfficePayError::Invalid { field, message },
            Refusal::Conflict { code, message } => OfficePayError::Conflict { code, message },
            Refusal::Store(e) => OfficePayError::Store(e),
        }
    }
}

pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> OfficePayError {
    OfficePayError::Invalid {
        field,
        message: message.into(),
    }
}

pub(crate) fn conflict(code: &'static str, message: impl Into<String>) -> OfficePayError {
    OfficePayError::Conflict {
        code,
        message: message.into(),
    }
}

pub(crate) fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).format()
}

// ---------------------------------------------------------------- the request

/// How the customer paid.
#[derive(Debug, Clone)]
pub enum OfficeMethod {
    Cash,
    Check {
        number: String,
    },
    /// A processor token (`tok_…`, `pm_…`) or a saved card's id (`pmt_…`).
    Card {
        payment_method: String,
    },
}

/// Which invoices the payment pays, and how much of each.
#[derive(Debug, Clone)]
pub enum Spread {
    /// The office form: the selected invoices in the order shown, paid in
    /// that order; `None` pays them in full.
    InOrder {
        invoice_ids: Vec<String>,
        amount: Option<i64>,
    },
    /// The API: exactly these shares, adding up to `amount`, each at most
    /// what its invoice owes.
    Exact {
        amount: i64,
        allocations: Vec<Allocation>,
    },
}

/// What makes a repeat of the same request pay once.
#[derive(Debug, Clone)]
pub enum PaymentKey {
    /// The office form's nonce: one payment per form shown.
    Form(String),
    /// An API client's `Idempotency-Key`: a repeat gets the first answer, a
    /// different request with it is refused.
    Api(String),
}

impl PaymentKey {
    /// The key as stored with a cash or check payment (`payments.office_key`).
    fn office_key(&self) -> String {
        match self {
            PaymentKey::Form(nonce) => nonce.clone(),
            PaymentKey::Api(key) => format!("office-api:{key}"),
        }
    }

    /// The key of a card payment's attempt. An API key is the same as its
    /// `office_key`, so one key cannot pay once in cash and once by card.
    fn attempt_key(&self) -> String {
        match self {
            PaymentKey::Form(nonce) => format!("office:{nonce}"),
            PaymentKey::Api(_) => self.office_key(),
        }
    }

    fn check(&self) -> Result<(), OfficePayError> {
        match self {
            PaymentKey::Form(n) if n.len() < 16 || n.len() > 128 => Err(invalid(
                "form",
                "This form is incomplete. Reload the page and try again.",
            )),
            PaymentKey::Api(k) if k.is_empty() || k.len() > 200 => Err(invalid(
                "Idempotency-Key",
                "Send an Idempotency-Key header of 1 to 200 characters.",
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RecordPayment {
    pub customer_id: String,
    pub method: OfficeMethod,
    pub spread: Spread,
    pub key: PaymentKey,
}

/// What recording a payment came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficePaid {
    /// The payment (`replayed`: recorded by an earlier request with the
    /// same key; nothing was written now).
    Recorded { payment_id: String, replayed: bool },
    /// The card was declined: nothing was recorded.
    Declined(Decline),
    /// The charge was sent and its answer is awaited; reconciliation
    /// settles it. The invoices stay held meanwhile.
    Pending { attempt_id: String },
}

/// Who the payment names as having taken it: the office user, else the
/// actor's audit name (`api`).
fn recorded_by(actor: &Actor) -> String {
    match actor {
        Actor::Office { user_id, .. } => user_id.clone(),
        other => other.audit_name(),
    }
}

/// The channel a payment the company records is listed under.
fn channel(actor: &Actor) -> &'static str {
    match actor {
        Actor::Api { .. } => "api",
        _ => "office",
    }
}

/// Records a payment the company took: cash or check written at once on the
/// invoices, a card charged through the shared payment path. Only the
/// company (office, API key) may; a repeat of the same key pays once.
pub async fn record_office_payment(
    app: &App,
    actor: &Actor,
    req: &RecordPayment,
) -> Result<OfficePaid, OfficePayError> {
    actor.must_be_company()?;
    req.key.check()?;
    if let Spread::Exact {
        amount,
        allocations,
    } = &req.spread
    {
        check_exact_shares(*amount, allocations)?;
    }
    match &req.method {
        OfficeMethod::Cash => record_cash_or_check(app, actor, req, "cash", None).await,
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
                .map_err(|e| invalid("check_number", e.message))?;
            record_cash_or_check(app, actor, req, "check", Some(n)).await
        }
        OfficeMethod::Card { payment_method } => {
            pay_by_card(app, actor, req, payment_method.trim()).await
        }
    }
}

/// The selected invoice ids, deduplicated in the order given.
fn selected_ids(spread: &Spread) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let listed: Vec<&String> = match spread {
        Spread::InOrder { invoice_ids, .. } => invoice_ids.iter().collect(),
        Spread::Exact { allocations, .. } => allocations.iter().map(|a| &a.invoice_id).collect(),
    };
    for id in listed {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

/// Whether a payment recorded under an API key is the one this request
/// asks for (else the key is being reused for another payment).
async fn same_payment(
    conn: &mut Conn,
    company_id: &str,
    payment_id: &str,
    req: &RecordPayment,
    method: &str,
    check_number: Option<&str>,
) -> Result<bool, OfficePayError> {
    let Spread::Exact {
        amount,
        allocations,
    } = &req.spread
    else {
        return Ok(true);
    };
    let Some(prior) = store::office_get(conn, company_id, payment_id).await? else {
        return Ok(false);
    };
    let mut recorded = store::allocations_of(conn, payment_id).await?;
    let mut asked = allocations.clone();
    recorded.sort_by(|a, b| a.invoice_id.cmp(&b.invoice_id));
    asked.sort_by(|a, b| a.invoice_id.cmp(&b.invoice_id));
    Ok(prior.customer_id == req.customer_id
        && prior.method == method
        && prior.amount == *amount
        && prior.check_number.as_deref() == check_number
        && recorded == asked)
}

/// Records a cash or check payment on the selected invoices, in one
/// transaction; nothing is written when any invoice cannot take its share.
async fn record_cash_or_check(
    app: &App,
    actor: &Actor,
    req: &RecordPayment,
    method: &'static str,
    check_number: Option<String>,
) -> Result<OfficePaid, OfficePayError> {
    let ids = selected_ids(&req.spread);
    if ids.is_empty() {
        return Err(invalid("invoice_ids", "Select at least one invoice."));
    }
    if ids.len() > MAX_INVOICES_PER_PAYMENT {
        return Err(invalid(
            "invoice_ids",
            "At most 100 invoices can be paid at once.",
        ));
    }
    let c = actor.company_id();
    let key = req.key.office_key();
    let mut tx = app.db.begin_write().await?;
    if let Some(prior) = store::find_by_office_key(&mut tx, c, &key).await? {
        if !same_payment(&mut tx, c, &prior, req, method, check_number.as_deref()).await? {
            return Err(OfficePayError::KeyReused);
        }
        return Ok(OfficePaid::Recorded {
            payment_id: prior,
            replayed: true,
        });
    }
    if matches!(req.key, PaymentKey::Api(_))
        && store::attempt_customer_by_key(&mut tx, c, &key)
            .await?
            .is_some()
    {
        // The key paid (or tried to pay) by card.
        return Err(OfficePayError::KeyReused);
    }
    if !customers::all_belong(&mut tx, c, &[req.customer_id.as_str()]).await? {
        return Err(OfficePayError::NotFound);
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
            return Err(conflict(
                "invoice_not_payable",
                format!(
                    "Invoice {} is already paid or void. Reload the page to see what is still owed.",
                    inv.number
                ),
            ));
        }
        if inv.locked {
            return Err(conflict(
                "invoice_being_paid",
                format!(
                    "Invoice {} is being paid by card right now. Wait a moment and reload the page.",
                    inv.number
                ),
            ));
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
    let number_of = |id: &str| {
        numbers
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let shares = match &req.spread {
        Spread::InOrder { amount, .. } => {
            plan_in_order(*amount, &balances, currency).map_err(|e| e.into_error())?
        }
        Spread::Exact { allocations, .. } => {
            for share in allocations {
                let balance = balances
                    .iter()
                    .find(|(id, _)| *id == share.invoice_id)
                    .map_or(0, |(_, b)| *b);
                if share.amount > balance {
                    return Err(invalid(
                        "allocations",
                        format!(
                            "The allocation of {} to invoice {} is more than its balance of {}: allocate at most what an invoice owes.",
                            money(share.amount, currency),
                            number_of(&share.invoice_id),
                            money(balance, currency)
                        ),
                    ));
                }
            }
            allocations.clone()
        }
    };
    for share in &shares {
        if !store::apply_office_share(&mut tx, c, &req.customer_id, share).await? {
            // Dropping the transaction rolls back the shares applied so far.
            return Err(conflict(
                "invoice_changed",
                format!(
                    "Invoice {} changed while the payment was being recorded. Nothing was recorded; reload the page and try again.",
                    number_of(&share.invoice_id)
                ),
            ));
        }
    }
    let amount: i64 = shares.iter().map(|s| s.amount).sum();
    let payment_id = store::insert_office_payment(
        &mut tx,
        &NewOfficePayment {
            company_id: c,
            customer_id: &req.customer_id,
            channel: channel(actor),
            method,
            amount,
            currency,
            check_number: check_number.as_deref(),
            recorded_by: &recorded_by(actor),
            office_key: &key,
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
        &actor.audit_name(),
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
    Ok(OfficePaid::Recorded {
        payment_id,
        replayed: false,
    })
}

/// Why a payment spread in order was refused, in the office's words.
struct InOrderRefusal(PlanError, Option<i64>, Currency);

impl InOrderRefusal {
    fn into_error(self) -> OfficePayError {
        let InOrderRefusal(e, amount, currency) = self;
        match e {
            PlanError::NothingSelected => invalid("invoice_ids", "Select at least one invoice."),
            PlanError::ZeroAmount => invalid("amount", "The amount must be more than zero."),
            PlanError::Overpayment { total } => invalid(
                "amount",
                format!(
                    "{} is more than the selected invoices' balance of {}. fieldpay does not record overpayments: enter at most {}.",
                    money(amount.unwrap_or(0), currency),
                    money(total, currency),
                    money(total, currency)
                ),
            ),
        }
    }
}

fn plan_in_order(
    amount: Option<i64>,
    balances: &[(String, i64)],
    currency: Currency,
) -> Result<Vec<Allocation>, InOrderRefusal> {
    plan_office_payment(amount, balances).map_err(|e| InOrderRefusal(e, amount, currency))
}

/// Charges a card for the selected invoices through the shared payment
/// path: in full (the form), or exactly the shares given (the API). A
/// double submit of one form waits for and returns the first one's result;
/// an API repeat while the first is in flight is told so.
async fn pay_by_card(
    app: &App,
    actor: &Actor,
    req: &RecordPayment,
    payment_method: &str,
) -> Result<OfficePaid, OfficePayError> {
    let c = actor.company_id();
    let key = req.key.attempt_key();
    let (invoice_ids, shares) = match &req.spread {
        Spread::InOrder {
            amount: Some(_), ..
        } => {
            return Err(invalid(
                "amount",
                "A card payment pays the selected invoices in full: leave the amount empty, or record part of it as cash or check.",
            ));
        }
        Spread::InOrder { .. } => (selected_ids(&req.spread), None),
        Spread::Exact { allocations, .. } => (selected_ids(&req.spread), Some(allocations.clone())),
    };
    {
        let mut conn = app.db.reader().acquire().await?;
        if !customers::all_belong(&mut conn, c, &[req.customer_id.as_str()]).await? {
            return Err(OfficePayError::NotFound);
        }
        if matches!(req.key, PaymentKey::Api(_)) {
            // One key, one payment: not one in cash, nor one for another customer.
            let cash = store::find_by_office_key(&mut conn, c, &key).await?;
            let other = store::attempt_customer_by_key(&mut conn, c, &key)
                .await?
                .filter(|customer| *customer != req.customer_id);
            if cash.is_some() || other.is_some() {
                return Err(OfficePayError::KeyReused);
            }
        }
    }
    let pay = PayInvoices {
        company_id: c.to_string(),
        customer_id: req.customer_id.clone(),
        invoice_ids,
        payment_method: payment_method.to_string(),
        idempotency_key: key,
        channel: channel(actor),
        enroll: None,
        actor: actor.audit_name(),
    };
    let wait = matches!(req.key, PaymentKey::Form(_));
    let mut result = Err(PayError::InProgress);
    for _ in 0..40 {
        result = match &shares {
            None => pay_detached(app, pay.clone()).await,
            Some(shares) => pay_shares_detached(app, pay.clone(), shares.clone())
                .await
                .map(|charged| charged.result),
        };
        if wait && matches!(result, Err(PayError::InProgress)) {
            tokio::time::sleep(Duration::from_millis(250)).await;
        } else {
            break;
        }
    }
    match result {
        Ok(PayResult::Succeeded(summary)) => {
            let named: Result<(), StoreError> = async {
                let mut tx = app.db.begin_write().await?;
                store::set_recorded_by(&mut tx, c, &summary.id, &recorded_by(actor)).await?;
                tx.commit().await?;
                Ok(())
            }
            .await;
            if let Err(e) = named {
                tracing::warn!(payment = %summary.id, error = %e, "could not name who took the payment");
            }
            Ok(OfficePaid::Recorded {
                payment_id: summary.id,
                replayed: false,
            })
        }
        Ok(PayResult::Declined(d)) => Ok(OfficePaid::Declined(d)),
        Err(PayError::Pending { attempt_id }) => Ok(OfficePaid::Pending { attempt_id }),
        Err(PayError::InProgress) => Err(OfficePayError::InProgress),
        Err(PayError::KeyReused) => Err(OfficePayError::KeyReused),
        Err(e) => Err(OfficePayError::Charge(e)),
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

    fn share(id: &str, amount: i64) -> Allocation {
        Allocation {
            invoice_id: id.into(),
            amount,
        }
    }

    #[test]
    fn exact_shares_add_up_and_name_each_invoice_once() {
        assert!(check_exact_shares(300, &[share("a", 100), share("b", 200)]).is_ok());
        let field = |r: Result<(), Refusal>| match r {
            Err(Refusal::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_exact_shares(300, &[])), "allocations");
        assert_eq!(
            field(check_exact_shares(300, &[share("a", 100), share("b", 100)])),
            "amount"
        );
        assert_eq!(
            field(check_exact_shares(200, &[share("a", 100), share("a", 100)])),
            "allocations"
        );
        assert_eq!(
            field(check_exact_shares(100, &[share("a", 0), share("b", 100)])),
            "allocations"
        );
        assert_eq!(
            field(check_exact_shares(
                1,
                &[share("a", i64::MAX), share("b", i64::MAX)]
            )),
            "amount"
        );
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
