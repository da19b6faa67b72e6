//! Stripe webhooks: signed events applied once.
//!
//! `POST /webhooks/stripe/{company}`: the `Stripe-Signature` header is
//! checked on the raw body with the company's webhook secret (300 s
//! tolerance, any `v1` may match), the event id is recorded once (a replay
//! answers 200 and does nothing), and the answer goes out before the work:
//! processing runs in a task of its own. Processing trusts only the event's
//! id, type and the id of its object; the object is read again from Stripe
//! with the company's key.
//!
//! - `payment_intent.succeeded` / `payment_intent.payment_failed`: the
//!   attempt named by `metadata[attempt_id]` is settled through
//!   `payments::settle`, the same idempotent path as the page and the
//!   reconciler (a payment is recorded once, guarded by the attempt id and
//!   the processor charge id).
//! - `charge.refunded` (the charge's refunds) and `charge.refund.updated`,
//!   `refund.created`, `refund.updated`, `refund.failed` (one refund), read
//!   again from Stripe and handed to `crate::app::refunds::notice`: one of ours
//!   settles (`succeeded`, or `failed` and undone); one made in Stripe's
//!   dashboard is recorded once (unique processor refund id) and reopens the
//!   invoices, once it has succeeded.
//! - `charge.dispute.created`: recorded for the office and audited.
//!
//! An event that cannot be applied yet (a refund of a payment not recorded
//! yet: Stripe does not order its events; a pending refund that uses the
//! room; Stripe unreachable) stays unprocessed and the jobs try it again
//! with backoff (`process_unprocessed`); after `GIVE_UP_AFTER` it is
//! flagged to the office instead.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use super::AppState;
use crate::app::App;
use crate::app::refunds::Noticed;
use crate::domain::ids::{AttemptId, CompanyId};
use crate::domain::money::Currency;
use crate::processor::stripe::StripeProcessor;
use crate::processor::stripe::signature::{SignatureError, verify_signature};
use crate::processor::stripe::transformers::{self as wire, EventKind, IntentState, StripeEvent};
use crate::processor::{PaymentProcessor, ProcessorError, ProcessorKind};
use crate::store::processor_settings as settings;
use crate::store::{StoreError, audit};

/// Seconds a signature stays valid (Stripe's own default).
pub const TOLERANCE_SECONDS: i64 = 300;
/// Stripe's events are well under this; the default 64 KiB may not do.
const BODY_LIMIT: usize = 512 * 1024;
/// An event received but not processed this long ago is processed again
/// when Stripe redelivers it.
const STALE_UNPROCESSED: time::Duration = time::Duration::minutes(5);
/// An event still not applied this long after it arrived is flagged to the
/// office and no longer tried by the jobs.
pub const GIVE_UP_AFTER: time::Duration = time::Duration::days(3);

/// The wait before the jobs try an event again after `tries` failed tries:
/// 1, 2, 4, … minutes, at most an hour.
pub fn retry_after(tries: i64) -> time::Duration {
    crate::app::refunds::backoff(tries)
}

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/webhooks/stripe/{company}",
        post(receive).layer(DefaultBodyLimit::max(BODY_LIMIT)),
    )
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> Response {
    (
        status,
        Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// The company's webhook secret, when it takes cards through Stripe.
async fn webhook_secret(app: &App, company_id: &CompanyId) -> Result<Option<String>, StoreError> {
    if company_id.is_empty() || company_id.len() > 64 {
        return Ok(None);
    }
    let Some(s) = settings::get(&app.db, company_id).await? else {
        return Ok(None);
    };
    if s.kind != ProcessorKind::Stripe {
        return Ok(None);
    }
    let keys = app.config.processor_keys();
    Ok(s.webhook_secret_sealed
        .as_deref()
        .and_then(|sealed| keys.open(company_id, sealed)))
}

async fn receive(
    State(state): State<AppState>,
    Path(company): Path<CompanyId>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let app = &state.app;
    let secret = match webhook_secret(app, &company).await {
        Ok(Some(s)) => s,
        Ok(None) => return refuse(StatusCode::NOT_FOUND, "not_found", "Not found."),
        Err(e) => {
            tracing::error!(error = %e, "webhook settings unavailable");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Try again later.",
            );
        }
    };
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    let now = state.app.clock.now().unix_timestamp();
    if let Err(e) = verify_signature(signature, &body, &secret, now, TOLERANCE_SECONDS) {
        tracing::warn!(company = %company, reason = ?e, "stripe webhook refused");
        let message = match e {
            SignatureError::Missing => "The Stripe-Signature header is missing.",
            SignatureError::Malformed => "The Stripe-Signature header is malformed.",
            SignatureError::Stale => "The signature's timestamp is outside the tolerance.",
            SignatureError::Mismatch => "No signature matches this endpoint's secret.",
        };
        return refuse(StatusCode::BAD_REQUEST, "invalid_signature", message);
    }
    let event: StripeEvent = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(_) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "invalid_event",
                "The body is not a Stripe event.",
            );
        }
    };
    if event.id.is_empty() || event.id.len() > 255 {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_event",
            "The event has no id.",
        );
    }
    let object_id = event.object_id().map(str::to_string);
    let fresh = match record(app, &company, &event, object_id.as_deref()).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "could not record a stripe event");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Try again later.",
            );
        }
    };
    if fresh {
        let (app, company) = (app.clone(), company.clone());
        tokio::spawn(async move {
            let now = app.clock.now();
            process_event(
                &app,
                &company,
                &event.id,
                &event.kind,
                object_id.as_deref(),
                Some(&event),
                now,
            )
            .await;
        });
    }
    (StatusCode::OK, Json(serde_json::json!({"received": true}))).into_response()
}

/// Processes events received but never processed (the server stopped
/// between answering Stripe and finishing the work, or they could not be
/// applied yet) whose next try is due. For the jobs, next to
/// reconciliation; returns how many were tried.
pub async fn process_unprocessed(
    app: &App,
    now: time::OffsetDateTime,
) -> Result<usize, StoreError> {
    let events =
        settings::all_unprocessed_events(&app.db, now - time::Duration::minutes(1), now).await?;
    for (company, event_id, kind, object_id) in &events {
        process_event(
            app,
            company,
            event_id,
            kind,
            object_id.as_deref(),
            None,
            now,
        )
        .await;
    }
    Ok(events.len())
}

/// Records the event; `true` when it should be processed now (first time,
/// or received long ago and never processed).
async fn record(
    app: &App,
    company: &CompanyId,
    event: &StripeEvent,
    object_id: Option<&str>,
) -> Result<bool, StoreError> {
    let mut tx = app.db.begin_write().await?;
    let fresh = settings::record_event(&mut tx, company, &event.id, &event.kind, object_id).await?;
    tx.commit().await?;
    if fresh {
        return Ok(true);
    }
    let stale =
        settings::unprocessed_events(&app.db, company, app.clock.now() - STALE_UNPROCESSED).await?;
    Ok(stale.iter().any(|(id, _, _)| id == &event.id))
}

/// Processes one recorded event and marks it processed, or, when it cannot
/// be applied yet, schedules its next try (flagging it to the office once
/// it is `GIVE_UP_AFTER` old). `signed` is the verified event, used only
/// where Stripe cannot be asked again (disputes on a server without them).
pub async fn process_event(
    app: &App,
    company: &CompanyId,
    event_id: &str,
    kind: &str,
    object_id: Option<&str>,
    signed: Option<&StripeEvent>,
    now: time::OffsetDateTime,
) {
    let result = match crate::app::processors::stripe_for(app, company).await {
        Ok(Some(stripe)) => apply(app, &stripe, company, kind, object_id, signed).await,
        Ok(None) => Ok("ignored: company no longer uses stripe".to_string()),
        Err(e) => Err(format!("settings: {e}")),
    };
    match result {
        Ok(done) => {
            tracing::info!(company = %company, event = %event_id, kind, result = %done, "stripe event processed");
            let mark = async {
                let mut tx = app.db.begin_write().await?;
                settings::mark_event_processed(&mut tx, company, event_id, &done).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            };
            if let Err(e) = mark.await {
                tracing::error!(error = %e, "could not mark a stripe event processed");
            }
        }
        Err(why) => {
            // Left unprocessed: the jobs (or Stripe's redelivery) try again.
            tracing::warn!(company = %company, event = %event_id, kind, %why, "stripe event not processed yet");
            if let Err(e) = not_processed(app, company, event_id, kind, &why, now).await {
                tracing::error!(error = %e, "could not schedule a stripe event's next try");
            }
        }
    }
}

/// Schedules an event's next try, or flags it to the office when it has
/// been tried for `GIVE_UP_AFTER`.
async fn not_processed(
    app: &App,
    company: &CompanyId,
    event_id: &str,
    kind: &str,
    why: &str,
    now: time::OffsetDateTime,
) -> Result<(), StoreError> {
    let mut tx = app.db.begin_write().await?;
    let Some((tries, received_at)) = settings::event_tries(&mut tx, company, event_id).await?
    else {
        return Ok(());
    };
    let why: String = why.chars().take(500).collect();
    settings::event_not_processed(
        &mut tx,
        company,
        event_id,
        &why,
        now + retry_after(tries + 1),
    )
    .await?;
    if now - received_at >= GIVE_UP_AFTER
        && settings::flag_event(&mut tx, company, event_id).await?
    {
        audit::record(
            &mut tx,
            company,
            "stripe",
            "stripe_event.flagged",
            event_id,
            serde_json::json!({"type": kind, "tries": tries + 1, "last_error": why}),
        )
        .await?;
        tracing::warn!(company = %company, event = %event_id, kind, "stripe event flagged to the office after days of tries");
    }
    tx.commit().await?;
    Ok(())
}

async fn apply(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    kind: &str,
    object_id: Option<&str>,
    signed: Option<&StripeEvent>,
) -> Result<String, String> {
    let Some(object_id) = object_id else {
        return Ok("ignored: no object".into());
    };
    match wire::event_kind(kind) {
        EventKind::PaymentSucceeded | EventKind::PaymentFailed => {
            payment_intent(app, stripe, company, object_id).await
        }
        EventKind::ChargeRefunded => charge_refunded(app, stripe, company, object_id).await,
        EventKind::RefundUpdated => refund_updated(app, stripe, company, object_id).await,
        EventKind::DisputeCreated => dispute(app, stripe, company, object_id, signed).await,
        EventKind::Other => Ok("ignored".into()),
    }
}

fn unavailable(e: ProcessorError) -> String {
    e.to_string()
}

/// Settles the attempt a PaymentIntent carries, from the intent as Stripe
/// reports it now.
async fn payment_intent(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    pi_id: &str,
) -> Result<String, String> {
    let pi = stripe.payment_intent(pi_id).await.map_err(unavailable)?;
    let Some(attempt_id) = pi.attempt_id() else {
        return Ok("ignored: not made by fieldpay".into());
    };
    let attempt =
        crate::store::payments::get_attempt(app.db.reader(), &AttemptId::from(attempt_id))
            .await
            .map_err(|e| e.to_string())?;
    let Some(attempt) = attempt.filter(|a| a.company_id == company) else {
        return Ok("ignored: unknown attempt".into());
    };
    let outcome = match wire::intent_state(&pi, None) {
        IntentState::Final(outcome) => outcome,
        _ => return Ok(format!("ignored: intent is {}", pi.status)),
    };
    let succeeded = matches!(outcome, crate::processor::ChargeOutcome::Succeeded(_));
    if !succeeded && attempt.status != "pending" {
        return Ok("ignored: attempt already settled".into());
    }
    let saved = attempt
        .payment_method
        .starts_with("pmt_")
        .then(|| crate::domain::ids::CardId::from(attempt.payment_method.as_str()));
    crate::app::payments::settle(app, &attempt, outcome, saved.as_ref(), "stripe_webhook")
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(if succeeded {
        "settled: paid"
    } else {
        "settled: declined"
    }
    .into())
}

/// The refunds of a charge, each applied (`crate::app::refunds::notice`).
async fn charge_refunded(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    charge_id: &str,
) -> Result<String, String> {
    let charge = stripe.charge_object(charge_id).await.map_err(unavailable)?;
    let Some(pi) = charge.payment_intent.clone() else {
        return Ok("ignored: charge without payment intent".into());
    };
    if let Some(ignored) = not_ours(app, stripe, company, &pi).await? {
        return Ok(ignored);
    }
    let currency = Currency::parse(&charge.currency).unwrap_or(Currency::USD);
    let refunds = match &charge.refunds {
        Some(list) if !list.has_more => list.data.clone(),
        _ => stripe.refunds_of(&pi).await.map_err(unavailable)?,
    };
    let (mut recorded, mut settled) = (0, 0);
    let mut not_yet = Vec::new();
    for r in &refunds {
        match notice(app, stripe, company, &pi, r, currency).await? {
            Noticed::Recorded => recorded += 1,
            Noticed::Settled(_) => settled += 1,
            Noticed::Known => {}
            Noticed::NotYet(why) => not_yet.push(why),
        }
    }
    if !not_yet.is_empty() {
        // What was applied stays applied; the rest is tried again.
        return Err(format!("not yet: {}", not_yet.join("; ")));
    }
    Ok(if settled > 0 {
        format!("refunds recorded: {recorded}; ours settled: {settled}")
    } else {
        format!("refunds recorded: {recorded}")
    })
}

/// One refund made or changed at Stripe, read again from Stripe.
async fn refund_updated(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    refund_id: &str,
) -> Result<String, String> {
    let r = stripe.refund_object(refund_id).await.map_err(unavailable)?;
    let pi = match (&r.payment_intent, &r.charge) {
        (Some(pi), _) => pi.clone(),
        (None, Some(charge)) => match stripe
            .charge_object(charge)
            .await
            .map_err(unavailable)?
            .payment_intent
        {
            Some(pi) => pi,
            None => return Ok("ignored: charge without payment intent".into()),
        },
        (None, None) => return Ok("ignored: refund of nothing".into()),
    };
    if r.ours().is_none()
        && let Some(ignored) = not_ours(app, stripe, company, &pi).await?
    {
        return Ok(ignored);
    }
    match notice(app, stripe, company, &pi, &r, Currency::USD).await? {
        Noticed::Recorded => Ok("refunds recorded: 1".into()),
        Noticed::Settled(how) => Ok(format!("refund {how}")),
        Noticed::Known => Ok("refund known".into()),
        Noticed::NotYet(why) => Err(format!("not yet: {why}")),
    }
}

async fn notice(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    pi: &str,
    r: &wire::StripeRefund,
    currency: Currency,
) -> Result<Noticed, String> {
    crate::app::refunds::notice(
        app,
        company,
        pi,
        r.ours(),
        &r.to_refund(currency),
        (stripe.name(), &stripe.account()),
        "stripe",
    )
    .await
    .map_err(|e| e.to_string())
}

/// `Some(why)` when the PaymentIntent's payment can never be recorded in
/// this company (not made by fieldpay, another company's, or declined), so
/// its refunds are nothing of ours; `None` when the payment is recorded or
/// may still be (a lost reply reconciliation will settle).
async fn not_ours(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    pi_id: &str,
) -> Result<Option<String>, String> {
    let recorded = {
        let mut conn = app.db.reader().acquire().await.map_err(|e| e.to_string())?;
        settings::payment_by_charge(&mut conn, company, pi_id)
            .await
            .map_err(|e| e.to_string())?
    };
    if recorded.is_some() {
        return Ok(None);
    }
    let pi = stripe.payment_intent(pi_id).await.map_err(unavailable)?;
    let Some(attempt_id) = pi.attempt_id() else {
        return Ok(Some("ignored: not made by fieldpay".into()));
    };
    let attempt =
        crate::store::payments::get_attempt(app.db.reader(), &AttemptId::from(attempt_id))
            .await
            .map_err(|e| e.to_string())?;
    match attempt.filter(|a| a.company_id == company) {
        None => Ok(Some("ignored: unknown attempt".into())),
        Some(a) if a.status != "pending" && a.status != "succeeded" => {
            Ok(Some(format!("ignored: attempt {}", a.status)))
        }
        Some(_) => Ok(None),
    }
}

/// Records a dispute for the office: read from Stripe, or from the signed
/// event when the server has no disputes to read (it moves no money).
async fn dispute(
    app: &App,
    stripe: &StripeProcessor,
    company: &CompanyId,
    dispute_id: &str,
    signed: Option<&StripeEvent>,
) -> Result<String, String> {
    let d = match stripe.dispute(dispute_id).await {
        Ok(d) => d,
        Err(e) => match signed.and_then(|ev| {
            serde_json::from_value::<wire::StripeDispute>(ev.data.object.clone()).ok()
        }) {
            Some(d) => {
                tracing::info!(error = %e, "dispute not readable from stripe; using the signed event");
                d
            }
            None => return Err(unavailable(e)),
        },
    };
    let pi = match &d.payment_intent {
        Some(pi) => Some(pi.clone()),
        None => stripe
            .charge_object(&d.charge)
            .await
            .ok()
            .and_then(|c| c.payment_intent),
    };
    let mut tx = app.db.begin_write().await.map_err(|e| e.to_string())?;
    let payment = match &pi {
        Some(pi) => settings::payment_by_charge(&mut tx, company, pi)
            .await
            .map_err(|e| e.to_string())?,
        None => None,
    };
    let payment_id = payment.as_ref().map(|p| p.0.clone());
    let fresh = settings::insert_dispute(
        &mut tx,
        company,
        &settings::NewDispute {
            processor_dispute_id: &d.id,
            processor_charge_id: pi.as_deref().unwrap_or(&d.charge),
            payment_id: payment_id.as_deref(),
            amount: d.amount,
            currency: &d.currency,
            reason: d.reason.as_deref().unwrap_or(""),
            status: d.status.as_deref().unwrap_or(""),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    if fresh {
        audit::record(
            &mut tx,
            company,
            "stripe",
            "payment.disputed",
            payment_id.as_deref().unwrap_or(&d.id),
            serde_json::json!({
                "dispute": d.id,
                "amount": d.amount,
                "reason": d.reason,
            }),
        )
        .await
        .map_err(|e| e.to_string())?;
    }
    tx.commit().await.map_err(|e| e.to_string())?;
    Ok(if fresh {
        "dispute recorded"
    } else {
        "dispute known"
    }
    .into())
}
