//! Paying invoices: the one path the page, the API and reconciliation share.
//!
//! 1. Reserve: in one write transaction, replay a known idempotency key or
//!    lock the selected invoices to a new attempt, computing the amount from
//!    their balances. The attempt is written before the processor is called.
//! 2. Charge at the company's processor (`processor::processor_for`: its
//!    Stripe account, else the sandbox) with the attempt's id as idempotency key.
//! 3. Settle: `apply` records the payment, its allocations and the new
//!    balances, guarded by the unique processor charge id, or a decline frees
//!    the invoices. Reconciliation settles attempts left pending.
//!
//! 3-D Secure: when the bank asks the customer to authenticate, an on-session
//! payment (`pay_interactive`) answers `PayStep::RequiresAction` with the
//! processor's client secret and the attempt stays pending, its invoices
//! locked to it. The page completes the check and calls `confirm`, which asks
//! the processor and settles through `settle` (a webhook may have settled it
//! first: idempotent). One never completed is cancelled at the processor by
//! `reconcile` after its grace period, and its invoices freed. Where nobody
//! can authenticate (autopay, `pay`/`pay_with`) the charge is cancelled and
//! declined as `authentication_required`.
//!
//! A second payer racing for a locked invoice gets `InvoiceBusy` (409) and is
//! never charged.
//!
//! Autopay takes this same path (`pay_with`: channel `autopay`, off-session,
//! the saved card, an expired card refused before the processor); settling
//! an autopay attempt also writes the invoices' retry state, the result and
//! the receipt or decline message in the same transaction (`crate::app::autopay`).

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::crypto::{new_id, sha256_hex};
use crate::domain::money::Currency;
use crate::domain::{Allocation, allocate};
use crate::processor::{
    Charge, ChargeLookup, ChargeOutcome, ChargeRequest, ChargeSource, Decline, ProcessorError,
    SaveOutcome,
};
use crate::store::payments::{self as store, Attempt, Consent, NewAttempt, PlannedShare};
use crate::store::{Conn, StoreError, audit, customers};

pub const MAX_INVOICES_PER_PAYMENT: usize = 100;

#[derive(Debug, Clone)]
pub struct PayInvoices {
    pub company_id: String,
    pub customer_id: String,
    pub invoice_ids: Vec<String>,
    /// A processor token (`tok_…`, `pm_…`) or a saved method id (`pmt_…`).
    pub payment_method: String,
    pub idempotency_key: String,
    pub channel: &'static str,
    /// Save the card and enroll in autopay with this consent.
    pub enroll: Option<Consent>,
    /// Who the audit log names.
    pub actor: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Share {
    pub invoice_id: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CardRef {
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AutopayState {
    pub enrolled: bool,
    pub method_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PaymentSummary {
    pub id: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: String,
    pub allocations: Vec<Share>,
    pub card: CardRef,
    pub autopay: Option<AutopayState>,
}

/// The result of an attempt that reached the processor; stored with the
/// attempt so a repeated idempotency key returns it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PayResult {
    Succeeded(PaymentSummary),
    Declined(Decline),
}

/// A charge waiting for the customer's authentication (3-D Secure): the
/// page completes it with the client secret, then confirms the attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionNeeded {
    pub attempt_id: String,
    pub client_secret: String,
}

/// Where an on-session payment stands: done, or waiting for the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayStep {
    Done(PayResult),
    RequiresAction(ActionNeeded),
}

#[derive(Debug)]
pub enum PayError {
    Invalid {
        field: &'static str,
        message: String,
    },
    InvoiceNotFound,
    InvoiceNotPayable(String),
    InvoiceBusy(String),
    MixedCurrency,
    MethodNotFound,
    InProgress,
    KeyReused,
    /// The processor could not be reached and nothing was charged (the
    /// charge was never sent, or a lookup could not be made).
    ProcessorUnavailable,
    /// The charge was sent and its answer did not come back: the outcome is
    /// unknown until the processor is asked again. The invoices stay held
    /// to this attempt meanwhile, so paying again cannot charge twice.
    Pending {
        attempt_id: String,
    },
    /// The company's processor settings changed while the payment started:
    /// nothing was charged; the payer may try again.
    ProcessorChanged,
    /// Autopay was turned off, or its card changed, after the run read the
    /// invoices: nothing was charged.
    AutopayEnded,
    Store(StoreError),
}

impl From<StoreError> for PayError {
    fn from(e: StoreError) -> Self {
        PayError::Store(e)
    }
}

fn invalid(field: &'static str, message: &str) -> PayError {
    PayError::Invalid {
        field,
        message: message.to_string(),
    }
}

/// The selection, deduplicated in the order given, checked for size and form.
fn check_request(req: &PayInvoices) -> Result<Vec<String>, PayError> {
    let key = &req.idempotency_key;
    if key.is_empty() || key.len() > 255 {
        return Err(invalid(
            "Idempotency-Key",
            "an idempotency key of 1 to 255 characters is required",
        ));
    }
    if req.invoice_ids.is_empty() {
        return Err(invalid("invoice_ids", "select at least one invoice to pay"));
    }
    let mut ids: Vec<String> = Vec::with_capacity(req.invoice_ids.len());
    for id in &req.invoice_ids {
        if id.is_empty() || id.len() > 64 {
            return Err(invalid("invoice_ids", "invoice ids are 1 to 64 characters"));
        }
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    if ids.len() > MAX_INVOICES_PER_PAYMENT {
        return Err(invalid(
            "invoice_ids",
            "at most 100 invoices can be paid at once",
        ));
    }
    let m = &req.payment_method;
    if m.is_empty()
        || m.len() > 255
        || !(m.starts_with("tok_") || m.starts_with("pm_") || m.starts_with("pmt_"))
    {
        return Err(invalid(
            "payment_method",
            "payment_method must be a card token (tok_…, pm_…) or a saved card's id (pmt_…)",
        ));
    }
    if let Some(c) = &req.enroll
        && c.text.trim().is_empty()
    {
        return Err(invalid(
            "autopay_consent",
            "autopay needs the customer's consent",
        ));
    }
    Ok(ids)
}

fn fingerprint(ids: &[String], req: &PayInvoices) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort();
    let text = serde_json::json!([sorted, req.payment_method, req.enroll.is_some()]).to_string();
    sha256_hex(text.as_bytes())
}

/// A repeat of a key: the same request gets the stored answer, another is refused.
fn replay_same(attempt: &Attempt, fingerprint: &str) -> Result<PayResult, PayError> {
    if attempt.fingerprint != fingerprint {
        return Err(PayError::KeyReused);
    }
    replay(attempt)
}

/// What a stored attempt answers to a repeat of its key.
fn replay(attempt: &Attempt) -> Result<PayResult, PayError> {
    match attempt.response_body.as_deref() {
        Some(body) if attempt.status != "pending" => {
            serde_json::from_str(body).map_err(|_| PayError::InProgress)
        }
        _ => Err(PayError::InProgress),
    }
}

/// `pay` in a task of its own: a client that hangs up mid-payment does not
/// cut the payment short between the processor's answer and our record.
pub async fn pay_detached(app: &App, req: PayInvoices) -> Result<PayResult, PayError> {
    let app = app.clone();
    tokio::spawn(async move { pay(&app, req).await })
        .await
        .unwrap_or_else(|e| {
            Err(PayError::Store(StoreError::Unavailable(format!(
                "payment task failed: {e}"
            ))))
        })
}

/// How a charge is made beyond what the payer chose.
#[derive(Debug, Clone, Copy)]
pub struct ChargeOptions {
    /// The customer is not present (autopay): the processor is told so.
    pub off_session: bool,
    /// The instant the work happens at (the jobs pass their `now`): messages
    /// queued with the settlement are queued at it.
    pub now: time::OffsetDateTime,
    /// Refuse a saved card whose expiry month ended before this day, as an
    /// `expired_card` decline, without calling the processor (autopay).
    pub refuse_expired_on: Option<time::Date>,
}

impl ChargeOptions {
    /// A payer at the page, the portal or the office, now.
    pub fn on_session(now: time::OffsetDateTime) -> ChargeOptions {
        ChargeOptions {
            off_session: false,
            now,
            refuse_expired_on: None,
        }
    }
}

/// What `pay_with` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    pub result: PayResult,
    /// The key was used before: this is that attempt's answer, and nothing
    /// was charged now.
    pub replayed: bool,
}

/// Pays the selected invoices of one customer in one charge. A charge the
/// bank wants authenticated is cancelled and declined (nobody is asked).
pub async fn pay(app: &App, req: PayInvoices) -> Result<PayResult, PayError> {
    pay_with(app, req, ChargeOptions::on_session(app.clock.now()))
        .await
        .map(|c| c.result)
}

/// `pay` for a customer at the page or the portal, who can complete their
/// bank's check: the attempt then waits (`PayStep::RequiresAction`).
pub async fn pay_interactive(app: &App, req: PayInvoices) -> Result<PayStep, PayError> {
    charge_steps(app, req, ChargeOptions::on_session(app.clock.now()), true)
        .await
        .map(|(step, _)| step)
}

/// `pay_interactive` in a task of its own (see `pay_detached`).
pub async fn pay_interactive_detached(app: &App, req: PayInvoices) -> Result<PayStep, PayError> {
    let app = app.clone();
    tokio::spawn(async move { pay_interactive(&app, req).await })
        .await
        .unwrap_or_else(|e| {
            Err(PayError::Store(StoreError::Unavailable(format!(
                "payment task failed: {e}"
            ))))
        })
}

/// `pay` with options: the one path every charge takes (the page, the
/// portal, the office and autopay).
pub async fn pay_with(
    app: &App,
    req: PayInvoices,
    opts: ChargeOptions,
) -> Result<Charged, PayError> {
    match charge_steps(app, req, opts, false).await? {
        (PayStep::Done(result), replayed) => Ok(Charged { result, replayed }),
        // Not asked for: `charge_steps` cancels instead.
        (PayStep::RequiresAction(_), _) => Err(PayError::InProgress),
    }
}

async fn charge_steps(
    app: &App,
    req: PayInvoices,
    opts: ChargeOptions,
    can_act: bool,
) -> Result<(PayStep, bool), PayError> {
    let ids = check_request(&req)?;
    let print = fingerprint(&ids, &req);
    let (source, saved) = if req.payment_method.starts_with("pmt_") {
        let m = store::saved_method(
            &app.db,
            &req.company_id,
            &req.customer_id,
            &req.payment_method,
        )
        .await?
        .ok_or(PayError::MethodNotFound)?;
        (
            ChargeSource::SavedMethod(m.processor_method_id.clone()),
            Some(m),
        )
    } else {
        (ChargeSource::Token(req.payment_method.clone()), None)
    };
    let saved_method_id = saved.as_ref().map(|m| m.id.clone());
    // The company's processor (its Stripe account, else the sandbox) and the
    // customer it already knows there, if any. The attempt records which
    // account it went to; `reserve` checks the settings did not change
    // since they were read here.
    let (processor, settings_version) =
        crate::app::processors::processor_now(app, &req.company_id).await?;
    let choice = ProcessorChoice {
        kind: processor.name().to_string(),
        account: processor.account(),
        settings_version,
    };
    let processor_customer = if processor.name() == "sandbox" {
        None // the sandbox keeps no customers: spare the read
    } else {
        crate::store::customers::processor_customer(&app.db, &req.company_id, &req.customer_id)
            .await?
    };

    // 1. Reserve: lock the invoices and write the attempt, or replay the key.
    let attempt = {
        let (req, ids, print) = (req.clone(), ids.clone(), print.clone());
        let reserved = app
            .db
            .write(move |conn| {
                Box::pin(async move { reserve(conn, &req, &ids, &print, &choice).await })
            })
            .await?;
        match reserved {
            Reserved::New(attempt) => *attempt,
            Reserved::Replay(result) => return Ok((PayStep::Done(result), true)),
        }
    };
    let (amount, currency, attempt_id) = (attempt.amount, attempt.currency, attempt.id.clone());
    let fresh = |result: PayResult| (PayStep::Done(result), false);

    // An expired saved card is not sent to the processor.
    if let (Some(today), Some(m)) = (opts.refuse_expired_on, &saved)
        && crate::domain::autopay::is_expired(m.exp_month, m.exp_year, today)
    {
        tracing::info!(attempt = %attempt.id, "saved card expired; not charged");
        let decline = Decline::new("expired_card");
        return settle_unpaid(app, &attempt, decline, "declined", &req.actor, opts.now)
            .await
            .map(fresh);
    }

    // 2. Charge, within a deadline: every request the processor may still
    // be working on is over long before reconciliation concludes anything
    // from a charge not being found (`NOT_FOUND_AFTER`).
    let charge = processor.charge(ChargeRequest {
        idempotency_key: attempt_id,
        amount: crate::domain::money::Money::new(amount, currency),
        source,
        save_method: req.enroll.is_some() && saved_method_id.is_none(),
        off_session: opts.off_session,
        processor_customer,
        description: format!("Invoices {}", ids.join(", ")),
    });
    let outcome = tokio::time::timeout(CHARGE_DEADLINE, charge)
        .await
        .unwrap_or_else(|_| {
            Err(ProcessorError::Unavailable(
                "the processor did not answer in time".into(),
            ))
        });
    if let Ok(ChargeOutcome::RequiresAction { charge_id, .. }) = &outcome {
        // The processor's id of the charge: later lookups ask for it by id.
        let (id, reference) = (attempt.id.clone(), charge_id.clone());
        app.db
            .write(move |conn| {
                Box::pin(async move { store::set_processor_ref(conn, &id, &reference).await })
            })
            .await?;
    }
    let outcome = match outcome {
        Ok(ChargeOutcome::RequiresAction { client_secret, .. }) if can_act && !opts.off_session => {
            // The attempt stays pending, its invoices locked, until the
            // customer completes the check (`confirm`) or reconciliation
            // cancels it.
            tracing::info!(attempt = %attempt.id, "the bank asks the customer to authenticate");
            return Ok((
                PayStep::RequiresAction(ActionNeeded {
                    attempt_id: attempt.id.clone(),
                    client_secret,
                }),
                false,
            ));
        }
        Ok(ChargeOutcome::RequiresAction { charge_id, .. }) => {
            // Nobody here to authenticate: cancel it so it is never charged.
            let lookup = ChargeLookup {
                processor_ref: Some(charge_id),
                ..lookup_of(&attempt)
            };
            match processor.cancel_charge(lookup).await {
                Ok(Some(ChargeOutcome::RequiresAction { .. }) | None) => Ok(
                    ChargeOutcome::Declined(Decline::new("authentication_required")),
                ),
                Ok(Some(done)) => Ok(done),
                Err(e) => Err(e),
            }
        }
        other => other,
    };
    crate::metrics::payment(processor.name(), &outcome);

    // 3. Settle.
    match outcome {
        Ok(outcome) => settle_at(
            app,
            &attempt,
            outcome,
            saved_method_id.as_deref(),
            &req.actor,
            opts.now,
        )
        .await
        .map(fresh),
        Err(ProcessorError::InvalidSource(reason)) => {
            tracing::info!(attempt = %attempt.id, %reason, "payment method refused by processor");
            let decline = Decline {
                code: "invalid_payment_method".into(),
                message: "The card details could not be used. Enter the card again.".into(),
            };
            settle_unpaid(app, &attempt, decline, "failed", &req.actor, opts.now)
                .await
                .map(fresh)
        }
        Err(ProcessorError::Unavailable(reason)) => {
            // Unknown outcome: the attempt stays pending, its invoices held,
            // until a webhook or reconciliation learns what happened.
            tracing::warn!(attempt = %attempt.id, %reason, "processor did not answer; the payment is being confirmed");
            Err(PayError::Pending {
                attempt_id: attempt.id.clone(),
            })
        }
    }
}

/// The longest a charge may take, all its requests together; what has not
/// answered by then is reconciled.
pub const CHARGE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(150);

/// How old an attempt must be before "the processor has no such charge"
/// means it was never charged: well past `CHARGE_DEADLINE`, so no request
/// for it can still be on its way or being worked on.
pub const NOT_FOUND_AFTER: time::Duration = time::Duration::minutes(10);

/// How the processor is asked about an attempt.
fn lookup_of(attempt: &Attempt) -> ChargeLookup {
    ChargeLookup {
        idempotency_key: attempt.id.clone(),
        created_at: attempt.created_at,
        processor_ref: attempt.processor_ref.clone(),
    }
}

/// The processor a payment is about to go to, as it was chosen.
struct ProcessorChoice {
    kind: String,
    account: String,
    settings_version: Option<time::OffsetDateTime>,
}

enum Reserved {
    New(Box<Attempt>),
    Replay(PayResult),
}

/// Locks the selected invoices to a new attempt and writes it, computing the
/// amount from their balances; or answers a known key as before.
async fn reserve(
    conn: &mut Conn,
    req: &PayInvoices,
    ids: &[String],
    print: &str,
    choice: &ProcessorChoice,
) -> Result<Reserved, PayError> {
    let attempt_id = new_id("att");
    // The processor chosen is still the company's (a switch is a write, and
    // writes are applied one at a time, so this cannot change until commit).
    if crate::store::processor_settings::version(conn, &req.company_id).await?
        != choice.settings_version
    {
        return Err(PayError::ProcessorChanged);
    }
    // Autopay charges only what the enrollment covers at this moment: a
    // cancel or a new card written before this transaction wins.
    if req.channel == crate::app::autopay::CHANNEL
        && !crate::store::autopay::still_covers(
            conn,
            &req.company_id,
            &req.customer_id,
            &req.payment_method,
            ids,
        )
        .await?
    {
        return Err(PayError::AutopayEnded);
    }
    let locked =
        store::lock_invoices(conn, &req.company_id, &req.customer_id, &attempt_id, ids).await?;
    if locked.len() != ids.len() {
        if let Some(prior) = store::find_attempt(
            conn,
            &req.company_id,
            &req.customer_id,
            &req.idempotency_key,
        )
        .await?
        {
            store::release_locks(conn, &attempt_id).await?;
            return replay_same(&prior, print).map(Reserved::Replay);
        }
        // Our own partial locks first: otherwise the invoices this attempt
        // just locked would read as being paid by someone else.
        store::release_locks(conn, &attempt_id).await?;
        let states = store::invoice_states(conn, &req.company_id, &req.customer_id, ids).await?;
        return Err(why_not_lockable(ids, &states));
    }
    let currency = &locked[0].2;
    if locked.iter().any(|(_, _, c)| c != currency) {
        return Err(PayError::MixedCurrency);
    }
    let currency = Currency::parse(currency).unwrap_or(Currency::USD);
    // Plan in the order the customer listed the invoices.
    let plan: Vec<PlannedShare> = ids
        .iter()
        .filter_map(|id| {
            locked
                .iter()
                .find(|(l, _, _)| l == id)
                .map(|(_, bal, _)| PlannedShare {
                    invoice_id: id.clone(),
                    amount: *bal,
                })
        })
        .collect();
    let amount = plan
        .iter()
        .try_fold(0i64, |sum, p| sum.checked_add(p.amount))
        .ok_or_else(|| invalid("invoice_ids", "the total is too large for one payment"))?;
    let new_attempt = NewAttempt {
        id: &attempt_id,
        company_id: &req.company_id,
        customer_id: &req.customer_id,
        idempotency_key: &req.idempotency_key,
        fingerprint: print,
        channel: req.channel,
        amount,
        currency,
        plan: &plan,
        payment_method: &req.payment_method,
        enroll: req.enroll.as_ref(),
        processor_kind: &choice.kind,
        processor_account: &choice.account,
    };
    if !store::insert_attempt(conn, &new_attempt).await? {
        // The key was used before: undo the locks and answer as then.
        store::release_locks(conn, &attempt_id).await?;
        return match store::find_attempt(
            conn,
            &req.company_id,
            &req.customer_id,
            &req.idempotency_key,
        )
        .await?
        {
            Some(prior) => replay_same(&prior, print).map(Reserved::Replay),
            None => Err(PayError::InProgress),
        };
    }
    Ok(Reserved::New(Box::new(Attempt {
        id: attempt_id,
        company_id: req.company_id.clone(),
        customer_id: req.customer_id.clone(),
        fingerprint: print.to_string(),
        channel: req.channel.to_string(),
        amount,
        currency,
        plan,
        payment_method: req.payment_method.clone(),
        enroll: req.enroll.clone(),
        status: "pending".into(),
        response_body: None,
        created_at: conn.now(),
        processor_kind: Some(choice.kind.clone()),
        processor_account: Some(choice.account.clone()),
        processor_ref: None,
    })))
}

fn why_not_lockable(ids: &[String], states: &[(String, String, i64, bool)]) -> PayError {
    let state = |id: &String| states.iter().find(|(s, _, _, _)| s == id);
    // Whatever the order of the list: an id that is not this customer's
    // (SECURITY 2) wins, then an invoice that cannot be paid, then one that
    // is being paid right now.
    if ids.iter().any(|id| state(id).is_none()) {
        return PayError::InvoiceNotFound;
    }
    if let Some(id) = ids.iter().find(|id| {
        state(id).is_some_and(|(_, status, balance, _)| status != "open" || *balance <= 0)
    }) {
        return PayError::InvoiceNotPayable(id.clone());
    }
    if let Some(id) = ids
        .iter()
        .find(|id| state(id).is_some_and(|(_, _, _, locked)| *locked))
    {
        return PayError::InvoiceBusy(id.clone());
    }
    PayError::InvoiceNotFound
}

/// Settles an attempt with the processor's outcome. Idempotent: a charge
/// already recorded is not recorded again.
pub async fn settle(
    app: &App,
    attempt: &Attempt,
    outcome: ChargeOutcome,
    saved_method_id: Option<&str>,
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
async fn settle_at(
    app: &App,
    attempt: &Attempt,
    outcome: ChargeOutcome,
    saved_method_id: Option<&str>,
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
fn saved_method_of(attempt: &Attempt) -> Option<&str> {
    attempt
        .payment_method
        .starts_with("pmt_")
        .then_some(attempt.payment_method.as_str())
}

/// After the customer's authentication: asks the processor what became of
/// the attempt and settles it, once (a webhook may have settled it first;
/// a second confirm answers as the first). `None` when the attempt is not
/// this customer's.
pub async fn confirm(
    app: &App,
    company_id: &str,
    customer_id: &str,
    attempt_id: &str,
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
            attempt_id: attempt.id.clone(),
            client_secret,
        })));
    }
    settle(app, &attempt, outcome, saved_method_of(&attempt), actor)
        .await
        .map(|r| Some(PayStep::Done(r)))
}

/// The processor account an attempt went to (`None`: the company has moved
/// to another account since, and this one cannot be asked).
async fn attempt_processor(
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

/// Ends an attempt without a payment. For autopay, the invoices' retry
/// state and the decline message are written in the same transaction.
/// Only a pending attempt changes: one settled meanwhile (by a webhook, the
/// reconciler or another process) answers as it was settled.
async fn settle_unpaid(
    app: &App,
    attempt: &Attempt,
    decline: Decline,
    status: &'static str,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<PayResult, PayError> {
    let (attempt, actor) = (attempt.clone(), actor.to_string());
    app.db
        .write(move |conn| {
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
async fn apply(
    app: &App,
    attempt: &Attempt,
    charge: &Charge,
    saved_method_id: Option<&str>,
    actor: &str,
    now: time::OffsetDateTime,
) -> Result<PayResult, PayError> {
    let (attempt, charge) = (attempt.clone(), charge.clone());
    let (saved_method_id, actor) = (saved_method_id.map(str::to_string), actor.to_string());
    app.db
        .write(move |conn| {
            Box::pin(async move {
                apply_on(
                    conn,
                    &attempt,
                    &charge,
                    saved_method_id.as_deref(),
                    &actor,
                    now,
                )
                .await
            })
        })
        .await
}

async fn apply_on(
    conn: &mut Conn,
    attempt: &Attempt,
    charge: &Charge,
    saved_method_id: Option<&str>,
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
        let ids: Vec<String> = attempt.plan.iter().map(|p| p.invoice_id.clone()).collect();
        let open = store::open_unheld_balances(conn, &attempt.company_id, &ids).await?;
        attempt
            .plan
            .iter()
            .filter_map(|p| {
                open.iter()
                    .find(|(id, _)| *id == p.invoice_id)
                    .map(|(id, balance)| (id.clone(), p.amount.min(*balance)))
            })
            .collect()
    } else {
        // The attempt holds its invoices, so their balances are as planned.
        attempt
            .plan
            .iter()
            .map(|p| (p.invoice_id.clone(), p.amount))
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
            (Some(id), _) => Some(id.to_string()),
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
            method_id,
        });
    }
    let summary = PaymentSummary {
        id: payment_id.clone(),
        amount: charge.amount.minor,
        currency: charge.amount.currency,
        status: "succeeded".into(),
        allocations: allocations
            .iter()
            .map(|a| Share {
                invoice_id: a.invoice_id.clone(),
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
    Ok(result)
}

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
                settle_at(app, &attempt, outcome, saved, "reconciler", now).await?;
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

/// The result of keeping a card without paying.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddCard {
    /// The saved method's id (`pmt_…`).
    Added(String),
    Declined(Decline),
}

/// Keeps a card for a customer (the processor's "save a method"), making it
/// the default when the customer has no other.
pub async fn add_card(
    app: &App,
    company_id: &str,
    customer_id: &str,
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
    let mut tx = app.db.begin_write().await?;
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
