//! Refunds after they are recorded: sent to the processor that took the
//! payment, asked about when their outcome is unknown, and settled by what
//! the processor says — its answer, the jobs' questions, its webhooks —
//! through one set of transitions (docs/PAYMENT_STATES.md, "Refunds"):
//!
//! - `pending` → `succeeded`: the processor confirmed it; the invoices it
//!   reopened are no longer held.
//! - `pending` → `pending`: the processor could not be reached, or has not
//!   finished (Stripe's `pending`): tried again by the jobs with backoff.
//! - `pending` → `failed`: refused or failed at the processor; balances,
//!   the payment's refunded total and the invoices' refunded totals go back
//!   to what they were, the row stays as history and the office is told.
//! - `succeeded` → `failed`: the processor failed it later; undone the
//!   same way when its invoices were not paid again meanwhile, else kept and
//!   flagged to the office.
//!
//! Every call to the processor carries the refund's id as the idempotency
//! key, and a refund is asked about (`find_refund`) before it is sent
//! again, so it is made at most once whatever crashes or retries happen.

mod record;

pub use record::{
    RefundKey, RefundOutcome, RefundPlan, RefundRequest, Refundable, plan_refund, plan_refund_for,
    refund, retry_refund,
};

use time::{Duration, OffsetDateTime};

use crate::app::App;
use crate::domain::Allocation;
use crate::domain::ids::{CompanyId, RefundId};
use crate::domain::money::Money;
use crate::processor::{ProcessorError, Refund, RefundStatus};
use crate::store::refunds::{self as store, Pending, Undone};
use crate::store::{Conn, StoreError, audit};

/// How long a send in progress owns a pending refund before the jobs may
/// take it (a crash in between leaves it to them after this).
pub const SEND_LEASE: Duration = Duration::minutes(2);
/// The longest wait between two tries of a pending refund.
pub const MAX_BACKOFF: Duration = Duration::hours(1);
/// Pending refunds one jobs run tries at most.
pub const MAX_PER_RUN: i64 = 200;

/// The wait before the next try of a refund tried `attempts` times:
/// 1, 2, 4, … minutes, at most `MAX_BACKOFF`.
pub fn backoff(attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 8) - 1;
    (Duration::minutes(1) * (1i32 << doublings)).min(MAX_BACKOFF)
}

/// Where a refund stands after a try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Succeeded,
    /// Not settled: why (the processor could not be reached, or cannot be
    /// asked). The jobs try again.
    Pending(String),
    /// Accepted by the processor, not final there (Stripe's `pending`): the
    /// jobs ask again until it is.
    Processing,
    /// Refused or failed at the processor, with its reason; undone.
    Failed(String),
}

/// What one run of the jobs' refund step did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefundReport {
    pub succeeded: usize,
    pub failed: usize,
    pub still_pending: usize,
}

impl RefundReport {
    pub fn is_quiet(&self) -> bool {
        *self == RefundReport::default()
    }
}

/// How a try reaches the processor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// Just recorded: the processor cannot know it yet.
    Send,
    /// Its outcome is unknown: ask first, send only when it was never made.
    AskThenSend,
}

/// Sends a card refund just recorded, trying twice for a blip; a refund
/// still pending afterwards is left to the jobs.
pub async fn send_recorded(
    app: &App,
    company_id: &CompanyId,
    refund_id: &RefundId,
    actor: &str,
) -> Result<Settled, StoreError> {
    let mut settled = Settled::Pending("not sent".into());
    for (n, delay) in [0u64, 500].into_iter().enumerate() {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        // A second try may follow a request the processor did receive.
        let how = if n == 0 { How::Send } else { How::AskThenSend };
        match try_now(app, company_id, refund_id, actor, how).await? {
            Some(Settled::Pending(why)) => settled = Settled::Pending(why),
            Some(done) => return Ok(done),
            // Settled meanwhile (a webhook): say how.
            None => return current(app, company_id, refund_id).await,
        }
    }
    Ok(settled)
}

/// A refund's state as stored now.
async fn current(
    app: &App,
    company_id: &CompanyId,
    refund_id: &RefundId,
) -> Result<Settled, StoreError> {
    let mut conn = app.db.reader().acquire().await?;
    let Some(state) = store::state(&mut conn, company_id, refund_id).await? else {
        return Ok(Settled::Pending("unknown refund".into()));
    };
    Ok(match state.status.as_str() {
        store::SUCCEEDED => Settled::Succeeded,
        store::FAILED => Settled::Failed(state.last_error.unwrap_or_default()),
        _ if state.processor_refund_id.is_some() => Settled::Processing,
        _ => Settled::Pending(
            state
                .last_error
                .unwrap_or_else(|| "waiting for its next try".into()),
        ),
    })
}

/// Tries a pending refund now, whatever its schedule (the office's button);
/// `None` when it is not pending.
pub async fn retry_now(
    app: &App,
    company_id: &CompanyId,
    refund_id: &RefundId,
    actor: &str,
) -> Result<Option<Settled>, StoreError> {
    try_now(app, company_id, refund_id, actor, How::AskThenSend).await
}

async fn try_now(
    app: &App,
    company_id: &CompanyId,
    refund_id: &RefundId,
    actor: &str,
    how: How,
) -> Result<Option<Settled>, StoreError> {
    let now = app.clock.now();
    let mut tx = app.db.begin_write_for(company_id).await?;
    let Some(pending) = store::pending(&mut tx, company_id, refund_id).await? else {
        return Ok(None);
    };
    if !store::claim(&mut tx, company_id, refund_id, now, now + SEND_LEASE, true).await? {
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(advance(app, &pending, how, actor, now).await?))
}

/// The jobs' step: every pending refund that is due is asked about and, if
/// the processor never received it, sent; the rest wait for their time.
pub async fn reconcile(app: &App, now: OffsetDateTime) -> Result<RefundReport, StoreError> {
    let mut report = RefundReport::default();
    for pending in store::due(&app.db, now, MAX_PER_RUN).await? {
        let mut tx = app.db.begin_write_for(&pending.company_id).await?;
        let claimed = store::claim(
            &mut tx,
            &pending.company_id,
            &pending.id,
            now,
            now + SEND_LEASE,
            false,
        )
        .await?;
        tx.commit().await?;
        if !claimed {
            // Another worker took it, or it was settled meanwhile.
            continue;
        }
        match advance(app, &pending, How::AskThenSend, "reconciler", now).await? {
            Settled::Succeeded => report.succeeded += 1,
            Settled::Failed(_) => report.failed += 1,
            Settled::Processing => report.still_pending += 1,
            Settled::Pending(why) => {
                tracing::info!(refund = %pending.id, %why, "refund still pending");
                report.still_pending += 1;
            }
        }
    }
    Ok(report)
}

/// One try at the processor that made the payment, then its answer applied.
/// The refund was claimed (its try counted) by the caller.
async fn advance(
    app: &App,
    p: &Pending,
    how: How,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Settled, StoreError> {
    let attempts = p.attempts + 1;
    let Some(charge_id) = p.charge_id.clone() else {
        // Not a card payment: nothing to send. Cannot happen (cash and
        // check refunds are done when recorded); say so rather than retry.
        let why = "the payment has no card charge to refund".to_string();
        return apply(app, p, Err(ProcessorError::InvalidSource(why)), actor, now).await;
    };
    let processor = match crate::app::processors::processor_of(
        app,
        &p.company_id,
        p.processor_kind.as_deref(),
        p.processor_account.as_deref(),
    )
    .await
    {
        Ok(Some(processor)) => processor,
        Ok(None) => {
            let why = "the processor account that took this payment is no longer the company's: refund it in that account";
            return still_pending(app, p, None, why, now + MAX_BACKOFF).await;
        }
        Err(e) => {
            return still_pending(app, p, None, &e.to_string(), now + backoff(attempts)).await;
        }
    };
    let amount = Money::new(p.amount, p.currency);
    let answer = match how {
        How::Send => {
            processor
                .refund(charge_id.clone(), amount, p.id.to_string())
                .await
        }
        How::AskThenSend => match processor
            .find_refund(charge_id.clone(), p.id.to_string())
            .await
        {
            Ok(Some(found)) => Ok(found),
            Ok(None) | Err(ProcessorError::InvalidSource(_)) => {
                if p.processor_refund_id.is_some() {
                    // It reported this refund before and no longer does:
                    // sending again could make a second one.
                    let why = "the processor no longer reports this refund; check it there";
                    return still_pending(app, p, None, why, now + MAX_BACKOFF).await;
                }
                processor
                    .refund(charge_id.clone(), amount, p.id.to_string())
                    .await
            }
            Err(e) => Err(e),
        },
    };
    apply(app, p, answer, actor, now).await
}

async fn still_pending(
    app: &App,
    p: &Pending,
    processor_refund_id: Option<&str>,
    why: &str,
    next: OffsetDateTime,
) -> Result<Settled, StoreError> {
    let mut tx = app.db.begin_write_for(&p.company_id).await?;
    store::still_pending(
        &mut tx,
        &p.company_id,
        &p.id,
        processor_refund_id,
        Some(why),
        Some(next),
    )
    .await?;
    tx.commit().await?;
    Ok(Settled::Pending(why.to_string()))
}

/// Applies the processor's answer to a pending refund.
async fn apply(
    app: &App,
    p: &Pending,
    answer: Result<Refund, ProcessorError>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Settled, StoreError> {
    let c = &p.company_id;
    let attempts = p.attempts + 1;
    match answer {
        Ok(r) => match r.status {
            RefundStatus::Succeeded => {
                let mut tx = app.db.begin_write_for(c).await?;
                let changed = succeed(&mut tx, c, &p.id, &r, actor, None).await?;
                tx.commit().await?;
                if changed {
                    Ok(Settled::Succeeded)
                } else {
                    current(app, c, &p.id).await
                }
            }
            RefundStatus::Pending => {
                let mut tx = app.db.begin_write_for(c).await?;
                let why = "pending at the processor";
                store::still_pending(
                    &mut tx,
                    c,
                    &p.id,
                    Some(&r.id),
                    Some(why),
                    Some(now + backoff(attempts)),
                )
                .await?;
                if p.processor_refund_id.is_none() {
                    audit::record(
                        &mut tx,
                        c,
                        actor,
                        "refund.pending_at_processor",
                        &p.id,
                        serde_json::json!({"processor_refund_id": r.id, "amount": p.amount}),
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(Settled::Processing)
            }
            RefundStatus::Failed(reason) => {
                let mut tx = app.db.begin_write_for(c).await?;
                let undone = fail(&mut tx, c, &p.id, &reason, actor, "refund.failed").await?;
                tx.commit().await?;
                if undone != Undone::Failed {
                    return current(app, c, &p.id).await;
                }
                tracing::warn!(refund = %p.id, %reason, "the processor failed the refund; undone");
                Ok(Settled::Failed(reason))
            }
        },
        Err(ProcessorError::InvalidSource(why)) => {
            let mut tx = app.db.begin_write_for(c).await?;
            let undone = fail(&mut tx, c, &p.id, &why, actor, "refund.refused").await?;
            tx.commit().await?;
            if undone != Undone::Failed {
                return current(app, c, &p.id).await;
            }
            tracing::info!(refund = %p.id, %why, "processor refused the refund; undone");
            Ok(Settled::Failed(why))
        }
        Err(ProcessorError::Unavailable(why)) => {
            tracing::warn!(refund = %p.id, %why, "processor unavailable; refund left pending");
            still_pending(app, p, None, &why, now + backoff(attempts)).await
        }
    }
}

/// A pending refund confirmed: `true` when it changed.
async fn succeed(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    r: &Refund,
    actor: &str,
    via: Option<&str>,
) -> Result<bool, StoreError> {
    if !store::mark_succeeded(conn, company_id, refund_id, &r.id).await? {
        return Ok(false);
    }
    audit::record(
        conn,
        company_id,
        actor,
        "refund.sent",
        refund_id,
        serde_json::json!({"processor_refund_id": r.id, "amount": r.amount.minor, "via": via}),
    )
    .await?;
    if let Some(state) = store::state(conn, company_id, refund_id).await? {
        crate::app::webhooks::events::payment_refunded(
            conn,
            company_id,
            &state.payment_id,
            refund_id,
        )
        .await?;
    }
    Ok(true)
}

/// Fails a refund (refused, or failed at the processor) and tells the
/// office: the audit entry here, and the refund shown as failed on the
/// payment, the payments list and the dashboard.
async fn fail(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    reason: &str,
    actor: &str,
    action: &str,
) -> Result<Undone, StoreError> {
    let undone = store::fail(conn, company_id, refund_id, reason).await?;
    match &undone {
        Undone::Failed => {
            audit::record(
                conn,
                company_id,
                actor,
                action,
                refund_id,
                serde_json::json!({"reason": reason, "undone": true}),
            )
            .await?;
        }
        Undone::InvoicesMovedOn(numbers) => {
            let problem = format!(
                "The processor reports this refund failed ({reason}), but invoice{} {} {} been paid again since: nothing was undone. Check with the customer whether the money reached them.",
                if numbers.len() == 1 { "" } else { "s" },
                numbers.join(", "),
                if numbers.len() == 1 { "has" } else { "have" },
            );
            store::note_problem(conn, company_id, refund_id, &problem).await?;
            audit::record(
                conn,
                company_id,
                actor,
                "refund.failed_not_undone",
                refund_id,
                serde_json::json!({"reason": reason, "invoices": numbers}),
            )
            .await?;
            tracing::warn!(refund = %refund_id, %reason, "a refund failed after it succeeded and its invoices moved on");
        }
        Undone::Nothing => {}
    }
    Ok(undone)
}

// ---------------------------------------------------------------- processor notices

/// What applying a refund the processor told us about did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Noticed {
    /// A refund made outside fieldpay, recorded now.
    Recorded,
    /// One of ours (or one recorded before) moved to a new state.
    Settled(&'static str),
    /// Nothing to do: known in this state already, or nothing to record.
    Known,
    /// Cannot be applied yet (its payment is not recorded, a pending refund
    /// uses up the room, an invoice is held, the refund is not final): try
    /// again later.
    NotYet(String),
}

/// A refund the processor reported (a webhook): one of ours by our id in
/// its metadata, one recorded before by its id, or one made at the
/// processor (its dashboard) recorded now like an office refund the
/// processor confirmed. `charge_id` is the payment's charge at the
/// processor; `kind` and `account` name the processor that reported it.
pub async fn notice(
    app: &App,
    company_id: &CompanyId,
    charge_id: &str,
    ours: Option<&str>,
    r: &Refund,
    processor: (&str, &str),
    actor: &str,
) -> Result<Noticed, StoreError> {
    let mut tx = app.db.begin_write_for(company_id).await?;
    let known = match ours {
        Some(id) => store::state(&mut tx, company_id, &RefundId::from(id)).await?,
        None => store::state_by_processor_id(&mut tx, company_id, &r.id).await?,
    };
    if let Some(state) = known {
        let noticed = settle_known(&mut tx, company_id, &state, r, actor).await?;
        tx.commit().await?;
        return Ok(noticed);
    }
    if ours.is_some() {
        // Carries a refund id this company does not have.
        return Ok(Noticed::Known);
    }
    match &r.status {
        RefundStatus::Failed(_) => return Ok(Noticed::Known),
        RefundStatus::Pending => {
            return Ok(Noticed::NotYet(format!(
                "refund {} is pending at the processor",
                r.id
            )));
        }
        RefundStatus::Succeeded => {}
    }
    let noticed = record_outside(&mut tx, company_id, charge_id, r, processor, actor).await?;
    if noticed == Noticed::Recorded {
        tx.commit().await?;
    }
    Ok(noticed)
}

/// A refund we have, in the state the processor reports now.
async fn settle_known(
    conn: &mut Conn,
    company_id: &CompanyId,
    state: &store::State,
    r: &Refund,
    actor: &str,
) -> Result<Noticed, StoreError> {
    match (state.status.as_str(), &r.status) {
        (store::PENDING, RefundStatus::Succeeded) => {
            if succeed(conn, company_id, &state.id, r, actor, Some("webhook")).await? {
                return Ok(Noticed::Settled("succeeded"));
            }
            Ok(Noticed::Known)
        }
        (store::PENDING, RefundStatus::Pending) => {
            if state.processor_refund_id.is_none() {
                store::still_pending(conn, company_id, &state.id, Some(&r.id), None, None).await?;
            }
            Ok(Noticed::Known)
        }
        (store::PENDING | store::SUCCEEDED, RefundStatus::Failed(reason)) => {
            match fail(conn, company_id, &state.id, reason, actor, "refund.failed").await? {
                Undone::Failed => Ok(Noticed::Settled("failed")),
                Undone::InvoicesMovedOn(_) => Ok(Noticed::Settled("failed, not undone")),
                Undone::Nothing => Ok(Noticed::Known),
            }
        }
        _ => Ok(Noticed::Known),
    }
}

/// Records a refund made at the processor (its dashboard): the payment's
/// refunded total, the refund row (keyed by the processor's refund id) and
/// the reopened invoices, in reverse allocation order.
async fn record_outside(
    conn: &mut Conn,
    company_id: &CompanyId,
    charge_id: &str,
    r: &Refund,
    processor: (&str, &str),
    actor: &str,
) -> Result<Noticed, StoreError> {
    let Some((payment_id, amount, refunded, _currency)) =
        crate::store::processor_settings::payment_by_charge(conn, company_id, charge_id).await?
    else {
        return Ok(Noticed::NotYet(format!(
            "the payment of {charge_id} is not recorded yet"
        )));
    };
    let room = amount - refunded;
    if room < r.amount.minor && store::pending_of_payment(conn, company_id, &payment_id).await? > 0
    {
        // A pending refund of ours holds the room: it may fail and free it.
        return Ok(Noticed::NotYet(format!(
            "a pending refund of payment {payment_id} holds what is left to refund"
        )));
    }
    let take = r.amount.minor.min(room);
    if take <= 0 {
        tracing::warn!(company = %company_id, refund = %r.id, payment = %payment_id, "a refund at the processor exceeds what fieldpay recorded as left; nothing recorded");
        return Ok(Noticed::Known);
    }
    let received = store::received_by_invoice(conn, company_id, &payment_id).await?;
    let refundable: Vec<Refundable> = received
        .iter()
        .map(|x| Refundable {
            invoice_id: x.invoice_id.clone(),
            received: x.received,
            given_back: x.given_back,
        })
        .collect();
    let (shares, unapplied) = plan_refund(take, &refundable);
    if !store::add_to_payment(conn, company_id, &payment_id, take).await? {
        return Ok(Noticed::NotYet(format!(
            "payment {payment_id} changed while the refund was recorded"
        )));
    }
    let refund_id = RefundId::new();
    store::insert(
        conn,
        &store::NewRefund {
            id: &refund_id,
            company_id,
            payment_id: &payment_id,
            amount: take,
            idempotency_key: &format!("{}:{}", processor.0, r.id),
            reason: "Refunded in Stripe",
            created_by: actor,
            status: store::SUCCEEDED,
            processor_refund_id: Some(&r.id),
            processor_kind: Some(processor.0),
            processor_account: Some(processor.1),
            next_attempt_at: None,
        },
    )
    .await?;
    for share in &shares {
        let a = Allocation {
            invoice_id: share.invoice_id.clone(),
            amount: share.amount,
        };
        if !store::reopen_invoice(conn, company_id, &refund_id, &a, false).await? {
            // Dropping the transaction undoes what was written.
            return Ok(Noticed::NotYet(
                "an invoice of the refunded payment is held by a payment or refund in progress"
                    .into(),
            ));
        }
    }
    audit::record(
        conn,
        company_id,
        actor,
        "refund.recorded_from_processor",
        &refund_id,
        serde_json::json!({
            "payment": payment_id,
            "amount": take,
            "processor_refund_id": r.id,
            "unapplied": unapplied,
        }),
    )
    .await?;
    crate::app::webhooks::events::payment_refunded(conn, company_id, &payment_id, &refund_id)
        .await?;
    Ok(Noticed::Recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let minutes: Vec<i64> = (0..12).map(|n| backoff(n).whole_minutes()).collect();
        assert_eq!(minutes, [1, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
        assert_eq!(backoff(i64::MAX), MAX_BACKOFF);
    }
}
