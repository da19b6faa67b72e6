//! Stripe refunds against localstripe: a refund Stripe reports `pending`
//! stays pending (its invoices held) until Stripe settles it, by webhook or
//! by the jobs' question; a `failed` one is undone; refund events that
//! cannot be applied yet are tried again, and flagged after days.
//!
//! localstripe makes every refund `succeeded` at once; its update endpoint
//! (`POST /v1/refunds/{id}`) sets the status a real Stripe would report
//! later (`pending`, `failed`). The events are sent as Stripe would send
//! them (localstripe sends none for refunds).

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;

use fieldpay::app::Actor;
use fieldpay::app::refunds::{RefundKey, RefundOutcome, RefundRequest};
use fieldpay::processor::RefundStatus;
use fieldpay::processor::stripe::StripeProcessor;
use fieldpay::processor::stripe::transformers::sign;

use crate::refunds::{books, later, refund_state};
use crate::stripe::{
    Ctx, attempt_of_payment, body, event, http, intents_for, ls_get, now_unix, pay_and_lose_reply,
    pm, post_event, set_kind, stripe_app, use_processor, wait_processed,
};
use crate::support::faulty::Faulty;
use crate::support::{TestApp, customer_with_invoices};

/// Sets a refund's status at localstripe, as Stripe changes it later.
async fn set_refund_status(c: &Ctx, refund_id: &str, status: &str) {
    let r = http()
        .post(format!("{}/v1/refunds/{refund_id}", c.ls.base))
        .bearer_auth(&c.sk)
        .form(&[("status", status)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

/// A Stripe payment of one invoice and an office refund of `amount` that
/// Stripe reports `pending`: (invoice, payment, our refund id, Stripe's).
async fn pending_refund(
    t: &mut TestApp,
    c: &Ctx,
    name: &str,
    total: i64,
    amount: i64,
) -> (String, String, String, String) {
    let (cust, inv) = customer_with_invoices(t, name, &[total]).await;
    let token = t.token(&cust).await;
    let card = pm(c, "4242424242424242").await;
    let r = t
        .pay(&token, &format!("key-{name}"), body(&inv, &card))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    // For this one refund the company's Stripe account answers `pending`.
    let sandbox = t.app.processor.clone();
    let stripe = Faulty::new(Arc::new(StripeProcessor::new(&c.ls.base, &c.sk)));
    stripe.report_refunds_as(Some(RefundStatus::Pending));
    use_processor(t, stripe);
    set_kind(t, "sandbox").await;
    let req = RefundRequest {
        payment_id: payment.as_str().into(),
        amount: Some(amount),
        reason: "Missed a visit".into(),
        key: RefundKey::Form(format!("refund-form-nonce-{name}")),
    };
    let actor = Actor::system(&c.company, "test");
    let done = fieldpay::app::refunds::refund(&t.app, &actor, &req)
        .await
        .unwrap();
    use_processor(t, sandbox);
    set_kind(t, "stripe").await;
    let RefundOutcome::Pending(ours) = done else {
        panic!("{done:?}");
    };
    let (status, theirs): (String, Option<String>) = fieldpay::store::sql::query_as(
        "SELECT status, processor_refund_id FROM refunds WHERE id = $1",
    )
    .bind(&ours)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(status, "pending");
    let theirs = theirs.expect("Stripe's refund id is kept while pending");
    assert!(theirs.starts_with("re_"), "{theirs}");
    // What Stripe says from now on when asked.
    set_refund_status(c, &theirs, "pending").await;
    // Reopened, and held until Stripe settles it.
    assert_eq!(t.balance(&inv[0]).await, amount);
    let held: Option<String> =
        fieldpay::store::sql::query_scalar("SELECT locked_by_attempt FROM invoices WHERE id = $1")
            .bind(&inv[0])
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(held.as_deref(), Some(ours.as_str()));
    (inv[0].clone(), payment, ours.into_string(), theirs)
}

async fn send_event(t: &TestApp, c: &Ctx, id: &str, kind: &str, object: serde_json::Value) {
    let payload = event(id, kind, object);
    let r = post_event(
        t,
        &c.company,
        &payload,
        Some(&sign(payload.as_bytes(), &c.whsec, now_unix(t))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn stripe_refund_reported_pending_then_failed_by_webhook_is_undone() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    let (inv, payment, _, theirs) = pending_refund(&mut t, &c, "PenFail", 8000, 3000).await;
    assert_eq!(t.balance(&inv).await, 3000);

    // The jobs ask Stripe: still pending, still held.
    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(report.refunds.still_pending, 1, "{report:?}");
    assert_eq!(refund_state(&t).await.0, "pending");

    // Stripe fails it and says so; the event's body is not trusted.
    set_refund_status(&c, &theirs, "failed").await;
    send_event(
        &t,
        &c,
        "evt_refund_failed",
        "charge.refund.updated",
        json!({"id": theirs, "object": "refund", "status": "succeeded"}),
    )
    .await;
    assert_eq!(
        wait_processed(&t, "evt_refund_failed").await,
        "refund failed"
    );
    assert_eq!(refund_state(&t).await.0, "failed");
    assert_eq!(
        t.balance(&inv).await,
        0,
        "the payment covers the invoice again"
    );
    assert_eq!(crate::office_payments::status_of(&t, &inv).await, "paid");
    let (refunded, held): (i64, i64) = fieldpay::store::sql::query_as(
        "SELECT (SELECT refunded FROM payments WHERE id = $1),
                (SELECT COUNT(*) FROM invoices WHERE locked_by_attempt IS NOT NULL)",
    )
    .bind(&payment)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!((refunded, held), (0, 0));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.failed'")
            .await,
        1
    );
    // The same event again, and the jobs: nothing more happens.
    send_event(
        &t,
        &c,
        "evt_refund_failed_2",
        "refund.updated",
        json!({"id": theirs}),
    )
    .await;
    assert_eq!(
        wait_processed(&t, "evt_refund_failed_2").await,
        "refund known"
    );
    let report = fieldpay::jobs::run_once(&t.app, later(120)).await.unwrap();
    assert!(report.refunds.is_quiet(), "{report:?}");
    assert_eq!(t.balance(&inv).await, 0);
    let o = crate::office_payments::office(&t).await;
    let page = o.get(&t, &format!("/office/payments/{payment}")).await;
    assert!(page.body.contains("Refund failed: failed"), "{}", page.body);
}

#[tokio::test]
async fn stripe_pending_refund_is_confirmed_by_the_jobs() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    let (inv, _, _, theirs) = pending_refund(&mut t, &c, "PenOk", 5000, 5000).await;
    set_refund_status(&c, &theirs, "succeeded").await;
    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(report.refunds.succeeded, 1, "{report:?}");
    assert_eq!(refund_state(&t).await, ("succeeded".to_string(), None));
    assert_eq!(t.balance(&inv).await, 5000);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM invoices WHERE locked_by_attempt IS NOT NULL")
            .await,
        0
    );
    // Asked, never sent again: one refund at Stripe.
    let pi: String = fieldpay::store::sql::query_scalar(
        "SELECT processor_charge_id FROM payments WHERE method = 'card'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    let at_stripe = ls_get(&c, &format!("/v1/refunds?payment_intent={pi}")).await;
    assert_eq!(at_stripe["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn stripe_refund_that_failed_after_it_succeeded_is_undone() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Late Fail", &[7000]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-late-fail", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let before = books(&t).await;
    let (_, pi) = attempt_of_payment(&t, &payment).await;
    let req = RefundRequest {
        payment_id: payment.as_str().into(),
        amount: Some(2000),
        reason: "Duplicate".into(),
        key: RefundKey::Form("refund-form-nonce-late-fail".into()),
    };
    let actor = Actor::system(&c.company, "test");
    let done = fieldpay::app::refunds::refund(&t.app, &actor, &req)
        .await
        .unwrap();
    assert!(matches!(done, RefundOutcome::Done(_)), "{done:?}");
    assert_eq!(t.balance(&inv[0]).await, 2000);
    let theirs: String =
        fieldpay::store::sql::query_scalar("SELECT processor_refund_id FROM refunds")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let at_stripe = ls_get(&c, &format!("/v1/refunds?payment_intent={pi}")).await;
    assert_eq!(at_stripe["data"][0]["id"], json!(theirs));

    // Days later the card's bank sends it back: Stripe fails the refund.
    set_refund_status(&c, &theirs, "failed").await;
    send_event(
        &t,
        &c,
        "evt_late_fail",
        "refund.failed",
        json!({"id": theirs}),
    )
    .await;
    assert_eq!(wait_processed(&t, "evt_late_fail").await, "refund failed");
    assert_eq!(books(&t).await, before);
    assert_eq!(refund_state(&t).await.0, "failed");
}

#[tokio::test]
async fn stripe_refund_webhook_before_its_payment_is_applied_later() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    // Stripe charged, our reply was lost: the payment is not recorded yet.
    let (inv, attempt) = pay_and_lose_reply(&mut t, &c, "Early Bird", 6000).await;
    let pi = intents_for(&c, &attempt).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Refunded in Stripe's dashboard, and its event comes first.
    let r = http()
        .post(format!("{}/v1/refunds", c.ls.base))
        .bearer_auth(&c.sk)
        .form(&[("payment_intent", pi.as_str()), ("amount", "2500")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let intent = ls_get(&c, &format!("/v1/payment_intents/{pi}")).await;
    let charge = intent["latest_charge"]["id"]
        .as_str()
        .or(intent["latest_charge"].as_str())
        .unwrap()
        .to_string();
    send_event(
        &t,
        &c,
        "evt_refund_early",
        "charge.refunded",
        json!({"id": charge}),
    )
    .await;
    // Tried, not applicable yet: left unprocessed with the reason, not dropped.
    let mut tried = None;
    for _ in 0..200 {
        let row: Option<(i64, Option<String>)> = fieldpay::store::sql::query_as(
            "SELECT attempts, last_error FROM stripe_events WHERE event_id = 'evt_refund_early' AND attempts > 0",
        )
        .fetch_optional(t.app.db.reader())
        .await
        .unwrap();
        tried = row;
        if tried.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, why) = tried.expect("the event was tried");
    assert!(
        why.as_deref().unwrap_or("").contains("not recorded yet"),
        "{why:?}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM stripe_events WHERE processed_at IS NOT NULL")
            .await,
        0
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 0);

    // The jobs: reconciliation records the payment, then the event applies.
    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(report.reconciled.applied, 1, "{report:?}");
    assert_eq!(report.webhook_events, 1, "{report:?}");
    assert_eq!(
        wait_processed(&t, "evt_refund_early").await,
        "refunds recorded: 1"
    );
    assert_eq!(t.balance(&inv).await, 2500);
    assert_eq!(t.count("SELECT refunded FROM payments").await, 2500);
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM refunds WHERE status = 'succeeded' AND created_by = 'stripe'"
        )
        .await,
        1
    );
    // Applied once.
    let report = fieldpay::jobs::run_once(&t.app, later(120)).await.unwrap();
    assert_eq!(report.webhook_events, 0, "{report:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);
}

#[tokio::test]
async fn stripe_event_that_never_applies_is_flagged_to_the_office_after_three_days() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    // A refund Stripe cannot show us (read back as 404): never applicable.
    let mut tx = t.app.db.begin_write().await.unwrap();
    fieldpay::store::processor_settings::record_event(
        &mut tx,
        &c.company,
        "evt_never",
        "charge.refund.updated",
        Some("re_doesnotexist"),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let process = |minutes: i64| {
        let app = t.app.clone();
        async move {
            fieldpay::web::stripe_webhook::process_unprocessed(&app, later(minutes))
                .await
                .unwrap()
        }
    };
    assert_eq!(process(2).await, 1);
    assert_eq!(process(2).await, 0, "not due again yet");
    assert_eq!(process(4).await, 1);
    let day = 24 * 60;
    assert_eq!(process(3 * day + 60).await, 1);
    let (processed, flagged, tries): (
        Option<time::OffsetDateTime>,
        Option<time::OffsetDateTime>,
        i64,
    ) = fieldpay::store::sql::query_as(
        "SELECT processed_at, flagged_at, attempts FROM stripe_events WHERE event_id = 'evt_never'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(processed, None);
    assert!(flagged.is_some());
    assert_eq!(tries, 3);
    assert_eq!(process(4 * day).await, 0, "no longer tried");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'stripe_event.flagged'")
            .await,
        1
    );
    let o = crate::office_payments::office(&t).await;
    let dash = o.get(&t, "/office/dashboard").await;
    assert!(
        dash.body.contains("could not be applied for days"),
        "{}",
        dash.body
    );
    assert!(dash.body.contains("re_doesnotexist"));
}
