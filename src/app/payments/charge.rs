//! Making a charge: the request checked, the invoices reserved, the
//! processor called within a deadline, and its answer settled.

use super::reserve::{Reserved, reserve};
use super::settle::{settle_at, settle_unpaid};
use super::*;
use crate::app::App;
use crate::crypto::sha256_hex;
use crate::domain::Allocation;
use crate::domain::ids::{CardId, InvoiceId};
use crate::processor::{ChargeLookup, ChargeOutcome, ChargeRequest, ChargeSource, ProcessorError};
use crate::store::payments::{self as store, Attempt};

/// The selection, deduplicated in the order given, checked for size and form.
pub(super) fn check_request(req: &PayInvoices) -> Result<Vec<InvoiceId>, PayError> {
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
    let mut ids: Vec<InvoiceId> = Vec::with_capacity(req.invoice_ids.len());
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

pub(super) fn fingerprint(
    ids: &[InvoiceId],
    req: &PayInvoices,
    exact: Option<&[Allocation]>,
) -> String {
    let mut sorted = ids.to_vec();
    sorted.sort();
    let mut parts = serde_json::json!([sorted, req.payment_method, req.enroll.is_some()]);
    if let (Some(shares), Some(list)) = (exact, parts.as_array_mut()) {
        let mut shares: Vec<(&str, i64)> = shares
            .iter()
            .map(|s| (s.invoice_id.as_str(), s.amount))
            .collect();
        shares.sort();
        list.push(serde_json::json!(shares));
    }
    sha256_hex(parts.to_string().as_bytes())
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
    charge_steps(
        app,
        req,
        None,
        ChargeOptions::on_session(app.clock.now()),
        true,
    )
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
    match charge_steps(app, req, None, opts, false).await? {
        (PayStep::Done(result), replayed) => Ok(Charged { result, replayed }),
        // Not asked for: `charge_steps` cancels instead.
        (PayStep::RequiresAction(_), _) => Err(PayError::InProgress),
    }
}

/// `pay`, in a task of its own (see `pay_detached`), charging exactly these
/// shares of the selected invoices (`req.invoice_ids` lists the same
/// invoices): each at most what its invoice owes. The company's own
/// payments (`record_office_payment`) may pay part of an invoice.
pub(super) async fn pay_shares_detached(
    app: &App,
    req: PayInvoices,
    shares: Vec<Allocation>,
) -> Result<Charged, PayError> {
    let app = app.clone();
    tokio::spawn(async move {
        let opts = ChargeOptions::on_session(app.clock.now());
        match charge_steps(&app, req, Some(&shares), opts, false).await? {
            (PayStep::Done(result), replayed) => Ok(Charged { result, replayed }),
            (PayStep::RequiresAction(_), _) => Err(PayError::InProgress),
        }
    })
    .await
    .unwrap_or_else(|e| {
        Err(PayError::Store(StoreError::Unavailable(format!(
            "payment task failed: {e}"
        ))))
    })
}

pub(super) async fn charge_steps(
    app: &App,
    req: PayInvoices,
    exact: Option<&[Allocation]>,
    opts: ChargeOptions,
    can_act: bool,
) -> Result<(PayStep, bool), PayError> {
    let ids = check_request(&req)?;
    let print = fingerprint(&ids, &req, exact);
    let exact: Option<Vec<Allocation>> = exact.map(<[Allocation]>::to_vec);
    let (source, saved) = if req.payment_method.starts_with("pmt_") {
        let m = store::saved_method(
            &app.db,
            &req.company_id,
            &req.customer_id,
            &CardId::from(req.payment_method.as_str()),
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

    // 1. Reserve, in one write job: choose the company's processor (its
    // Stripe account, else the sandbox) and the customer it already knows
    // there, lock the invoices and write the attempt (which records the
    // account it goes to), or replay the key. The processor read in the job
    // cannot change before the job commits.
    let (attempt, processor, processor_customer) = {
        let (req, ids, print, app2) = (req.clone(), ids.clone(), print.clone(), app.clone());
        let reserved = app
            .db
            .write_for(req.company_id.clone(), move |conn| {
                Box::pin(async move {
                    let processor =
                        crate::app::processors::processor_on(&app2, conn, &req.company_id).await?;
                    let choice = ProcessorChoice {
                        kind: processor.name().to_string(),
                        account: processor.account(),
                    };
                    let processor_customer = if processor.name() == "sandbox" {
                        None // the sandbox keeps no customers: spare the read
                    } else {
                        crate::store::customers::processor_customer_on(
                            conn,
                            &req.company_id,
                            &req.customer_id,
                        )
                        .await?
                    };
                    let reserved =
                        reserve(conn, &req, &ids, exact.as_deref(), &print, &choice).await?;
                    Ok::<_, PayError>((reserved, processor, processor_customer))
                })
            })
            .await?;
        match reserved {
            (Reserved::New(attempt), processor, customer) => (*attempt, processor, customer),
            (Reserved::Replay(result), _, _) => return Ok((PayStep::Done(result), true)),
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
        idempotency_key: attempt_id.into(),
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
            .write_for(&req.company_id, move |conn| {
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
                    attempt_id: attempt.id.to_string(),
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
            saved_method_id.as_ref(),
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
                attempt_id: attempt.id.to_string(),
            })
        }
    }
}

/// How the processor is asked about an attempt.
pub(super) fn lookup_of(attempt: &Attempt) -> ChargeLookup {
    ChargeLookup {
        idempotency_key: attempt.id.to_string(),
        created_at: attempt.created_at,
        processor_ref: attempt.processor_ref.clone(),
    }
}

/// The processor a payment is about to go to, as it was chosen.
pub(super) struct ProcessorChoice {
    pub(super) kind: String,
    pub(super) account: String,
}
