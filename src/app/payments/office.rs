//! Payments the company records itself: cash and check written in one
//! transaction (guarded so that an invoice paid or held meanwhile is
//! refused), cards charged through the shared path (`charge`). The office
//! form and the JSON API both call `record_office_payment`.

use std::time::Duration;

use super::charge::pay_shares_detached;
use super::office_rules::{PlanError, check_exact_shares, plan_office_payment};
use super::{MAX_INVOICES_PER_PAYMENT, PayError, PayInvoices, PayResult, pay_detached};
use crate::app::{Actor, App, Refusal};
use crate::domain::Allocation;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, PaymentId};
use crate::domain::money::{Currency, Money};
use crate::processor::Decline;
use crate::store::payments::{self as store, NewOfficePayment};
use crate::store::{Conn, StoreError, audit, customers};

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
    pub customer_id: CustomerId,
    pub method: OfficeMethod,
    pub spread: Spread,
    pub key: PaymentKey,
}

/// What recording a payment came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OfficePaid {
    /// The payment (`replayed`: recorded by an earlier request with the
    /// same key; nothing was written now).
    Recorded {
        payment_id: PaymentId,
        replayed: bool,
    },
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
        Actor::Office { user_id, .. } => user_id.to_string(),
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
    let listed: Vec<&str> = match spread {
        Spread::InOrder { invoice_ids, .. } => invoice_ids.iter().map(String::as_str).collect(),
        Spread::Exact { allocations, .. } => {
            allocations.iter().map(|a| a.invoice_id.as_str()).collect()
        }
    };
    for id in listed {
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// Whether a payment recorded under an API key is the one this request
/// asks for (else the key is being reused for another payment).
async fn same_payment(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
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
    let mut tx = app.db.begin_write_for(c).await?;
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
    if !customers::all_belong(&mut tx, c, &[&req.customer_id]).await? {
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
    crate::app::webhooks::events::payment_recorded(&mut tx, c, &payment_id).await?;
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
        if !customers::all_belong(&mut conn, c, &[&req.customer_id]).await? {
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
        company_id: c.clone(),
        customer_id: req.customer_id.clone(),
        invoice_ids: invoice_ids.into_iter().map(InvoiceId::from).collect(),
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
                let mut tx = app.db.begin_write_for(c).await?;
                store::set_recorded_by(
                    &mut tx,
                    c,
                    &PaymentId::from(summary.id.as_str()),
                    &recorded_by(actor),
                )
                .await?;
                tx.commit().await?;
                Ok(())
            }
            .await;
            if let Err(e) = named {
                tracing::warn!(payment = %summary.id, error = %e, "could not name who took the payment");
            }
            Ok(OfficePaid::Recorded {
                payment_id: summary.id.into(),
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
