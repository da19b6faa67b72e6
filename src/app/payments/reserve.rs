//! Reserving: the selected invoices held for a new attempt, written before
//! the processor is called; or a known key answered as before.

use super::charge::ProcessorChoice;
use super::*;
use crate::domain::Allocation;
use crate::domain::ids::{AttemptId, CardId, InvoiceId};
use crate::store::Conn;
use crate::store::payments::{self as store, Attempt, NewAttempt, PlannedShare};

pub(super) enum Reserved {
    New(Box<Attempt>),
    Replay(PayResult),
}

/// Locks the selected invoices to a new attempt and writes it, computing the
/// amount from their balances (or, with `exact` shares, from the shares,
/// each at most its invoice's balance); or answers a known key as before.
/// `choice` was read in the same write job (a switch of processor is a
/// write, and writes are applied one at a time, so it holds until commit).
pub(super) async fn reserve(
    conn: &mut Conn,
    req: &PayInvoices,
    ids: &[InvoiceId],
    exact: Option<&[Allocation]>,
    print: &str,
    choice: &ProcessorChoice,
) -> Result<Reserved, PayError> {
    // In creation order: a batch's attempts share the id index's last page.
    let attempt_id = AttemptId::new_in_order(conn.now());
    // Autopay charges only what the enrollment covers at this moment: a
    // cancel or a new card written before this transaction wins.
    if req.channel == crate::app::autopay::CHANNEL
        && !crate::store::autopay::still_covers(
            conn,
            &req.company_id,
            &req.customer_id,
            &CardId::from(req.payment_method.as_str()),
            ids,
        )
        .await?
    {
        return Err(PayError::AutopayEnded);
    }
    let locked =
        store::lock_invoices(conn, &req.company_id, &req.customer_id, &attempt_id, ids).await?;
    let too_much = exact.and_then(|shares| more_than_owed(shares, &locked));
    if locked.len() != ids.len() || too_much.is_some() {
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
        if let Some(refusal) = too_much.filter(|_| locked.len() == ids.len()) {
            return Err(refusal);
        }
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
                    invoice_id: id.into(),
                    amount: exact
                        .and_then(|shares| shares.iter().find(|s| s.invoice_id == *id))
                        .map_or(*bal, |s| s.amount),
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
        customer_id: req.customer_id.as_str().into(),
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

/// The refusal of exact shares when one is more than its invoice owes:
/// `locked` holds `(id, balance, currency)` of the invoices held.
fn more_than_owed(shares: &[Allocation], locked: &[(InvoiceId, i64, String)]) -> Option<PayError> {
    shares.iter().find_map(|s| {
        let (_, balance, currency) = locked.iter().find(|(id, _, _)| *id == s.invoice_id)?;
        (s.amount > *balance).then(|| {
            let c = Currency::parse(currency).unwrap_or(Currency::USD);
            let money = |minor| crate::domain::money::Money::new(minor, c).format();
            PayError::Invalid {
                field: "allocations",
                message: format!(
                    "The allocation of {} to invoice {} is more than its balance of {}: allocate at most what an invoice owes.",
                    money(s.amount),
                    s.invoice_id,
                    money(*balance)
                ),
            }
        })
    })
}

pub(super) fn why_not_lockable(
    ids: &[InvoiceId],
    states: &[(InvoiceId, String, i64, bool)],
) -> PayError {
    let state = |id: &InvoiceId| states.iter().find(|(s, _, _, _)| s == id);
    // Whatever the order of the list: an id that is not this customer's
    // (SECURITY 2) wins, then an invoice that cannot be paid, then one that
    // is being paid right now.
    if ids.iter().any(|id| state(id).is_none()) {
        return PayError::InvoiceNotFound;
    }
    if let Some(id) = ids.iter().find(|id| {
        state(id).is_some_and(|(_, status, balance, _)| status != "open" || *balance <= 0)
    }) {
        return PayError::InvoiceNotPayable(id.to_string());
    }
    if let Some(id) = ids
        .iter()
        .find(|id| state(id).is_some_and(|(_, _, _, locked)| *locked))
    {
        return PayError::InvoiceBusy(id.to_string());
    }
    PayError::InvoiceNotFound
}

/// A repeat of a key: the same request gets the stored answer, another is refused.
pub(super) fn replay_same(attempt: &Attempt, fingerprint: &str) -> Result<PayResult, PayError> {
    if attempt.fingerprint != fingerprint {
        return Err(PayError::KeyReused);
    }
    replay(attempt)
}

/// What a stored attempt answers to a repeat of its key.
pub(super) fn replay(attempt: &Attempt) -> Result<PayResult, PayError> {
    match attempt.response_body.as_deref() {
        Some(body) if attempt.status != "pending" => {
            serde_json::from_str(body).map_err(|_| PayError::InProgress)
        }
        _ => Err(PayError::InProgress),
    }
}
