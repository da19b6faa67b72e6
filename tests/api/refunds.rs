//! Refunds as a state machine, against a processor that times out, loses
//! its replies, answers late, refuses, or fails a refund later
//! (`support::faulty`): a card refund is pending until the processor
//! settles it, the jobs send it again (once) or ask about it with backoff,
//! and a failed one gives back exactly the balances it took and tells the
//! office.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::office_payments::{hidden, office, payment_of, record, refund, refund_with};
use crate::support::faulty::{Call, Fault, Faulty};
use crate::support::{TestApp, customer_with_invoices};
use fieldpay::processor::RefundStatus;

/// Every invoice's balance, refunded total, status and hold, and every
/// payment's refunded total: what a refund changes.
pub(crate) async fn books(t: &TestApp) -> Vec<String> {
    let invoices: Vec<(String, i64, i64, String, Option<String>)> = fieldpay::store::sql::query_as(
        "SELECT id, balance, refunded, status, locked_by_attempt FROM invoices ORDER BY id",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    let payments: Vec<(String, i64)> =
        fieldpay::store::sql::query_as("SELECT id, refunded FROM payments ORDER BY id")
            .fetch_all(t.app.db.reader())
            .await
            .unwrap();
    invoices
        .iter()
        .map(|i| format!("{i:?}"))
        .chain(payments.iter().map(|p| format!("{p:?}")))
        .collect()
}

/// The one refund's status and last error.
pub(crate) async fn refund_state(t: &TestApp) -> (String, Option<String>) {
    fieldpay::store::sql::query_as("SELECT status, last_error FROM refunds")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

/// Refunds the sandbox made, per idempotency key.
async fn sandbox_refunds_per_key(t: &TestApp) -> Vec<(String, i64)> {
    fieldpay::store::sql::query_as(
        "SELECT idempotency_key, COUNT(*) FROM sandbox_refunds GROUP BY idempotency_key ORDER BY 1",
    )
    .fetch_all(t.app.sandbox.database())
    .await
    .unwrap()
}

/// A test app charging through a `Faulty` sandbox, the office signed in,
/// and a card payment of two invoices ($100 and $50): (office, payment,
/// invoices).
async fn paid_by_card(
    t: &mut TestApp,
    f: &std::sync::Arc<Faulty>,
    name: &str,
) -> (Office, String, Vec<String>) {
    f.install(t);
    let o = office(t).await;
    let (c, inv) = customer_with_invoices(t, name, &[10000, 5000]).await;
    let token = t.card("4242424242424242").await;
    let pay = payment_of(
        &record(
            t,
            &o,
            &c,
            &[&inv[0], &inv[1]],
            &[("method", "card"), ("card_token", &token)],
        )
        .await,
    );
    (o, pay, inv)
}

pub(crate) fn later(minutes: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes)
}

#[tokio::test]
async fn a_refund_the_processor_refuses_leaves_the_balances_as_they_were_and_the_office_sees_it() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, inv) = paid_by_card(&mut t, &f, "Rhea Fused").await;
    let before = books(&t).await;
    f.script(Call::Refund, [Fault::Refuse("charge_disputed".into())]);

    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    let nonce = hidden(&page.body, "nonce");
    let r = refund_with(&t, &o, &pay, "120.00", &nonce).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert!(
        r.body.contains("refused the refund (charge_disputed)"),
        "{}",
        r.body
    );
    // The same form again: told the same, nothing new.
    let again = refund_with(&t, &o, &pay, "120.00", &nonce).await;
    assert_eq!(again.status, StatusCode::BAD_GATEWAY, "{}", again.body);
    assert!(again.body.contains("refused the refund"), "{}", again.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);
    assert_eq!(
        books(&t).await,
        before,
        "the balances are exactly as they were"
    );
    assert_eq!(
        refund_state(&t).await,
        ("failed".to_string(), Some("charge_disputed".to_string()))
    );
    assert_eq!(f.reached(Call::Refund).len(), 0);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.refused'")
            .await,
        1
    );

    // The office sees it on the payment, in the list and on the dashboard.
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    assert!(
        page.body.contains("Refund failed: charge_disputed"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"refunded\">$0.00"),
        "nothing was refunded: {}",
        page.body
    );
    let list = o.get(&t, "/office/payments").await;
    assert!(
        list.body.contains("Refund failed: charge_disputed"),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("id=\"total-refunded\">$0.00"),
        "{}",
        list.body
    );
    let dash = o.get(&t, "/office/dashboard").await;
    assert!(dash.body.contains("Needs attention"), "{}", dash.body);
    assert!(dash.body.contains("Refund failed: charge_disputed"));
    // The invoice pages do not count it.
    let detail = t.invoice_json(&inv[1]).await;
    assert_eq!(detail["balance"], 0);

    // The room it took is back: the whole payment can still be refunded.
    let r = refund(&t, &o, &pay, "150.00").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.balance(&inv[0]).await, 10000);
    assert_eq!(t.balance(&inv[1]).await, 5000);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM refunds WHERE status = 'succeeded'")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT refunded FROM payments").await,
        15000,
        "the failed refund is not counted"
    );
}

#[tokio::test]
async fn a_refund_whose_processor_call_fails_twice_is_made_once_by_the_jobs() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, inv) = paid_by_card(&mut t, &f, "Tim Eout").await;
    f.script(Call::Refund, [Fault::Timeout, Fault::Timeout]);

    let r = refund(&t, &o, &pay, "30.00").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.header("location").ends_with("?done=pending"));
    let page = o.get(&t, r.header("location")).await;
    assert!(
        page.body
            .contains("pending at the processor; it will be retried automatically"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Send again"), "the manual retry stays");
    assert_eq!(refund_state(&t).await.0, "pending");
    // Reopened and held for the refund: nobody can pay it meanwhile.
    assert_eq!(t.balance(&inv[1]).await, 3000);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM invoices WHERE locked_by_attempt LIKE 'ref_%'")
            .await,
        1
    );
    assert_eq!(f.calls(Call::Refund), 2);
    assert!(f.reached(Call::Refund).is_empty());

    // The jobs send it, once.
    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(report.refunds.succeeded, 1, "{report:?}");
    assert_eq!(refund_state(&t).await, ("succeeded".to_string(), None));
    let key: String = fieldpay::store::sql::query_scalar("SELECT id FROM refunds")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    assert_eq!(sandbox_refunds_per_key(&t).await, vec![(key.clone(), 1)]);
    assert_eq!(f.reached(Call::Refund), vec![key]);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM invoices WHERE locked_by_attempt IS NOT NULL")
            .await,
        0
    );
    assert_eq!(t.balance(&inv[1]).await, 3000);
    // Nothing more to do.
    let report = fieldpay::jobs::run_once(&t.app, later(60)).await.unwrap();
    assert!(report.refunds.is_quiet(), "{report:?}");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1
    );
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    assert!(
        !page.body.contains("retried automatically"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_refund_made_but_never_answered_is_found_by_the_jobs_and_not_made_again() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, inv) = paid_by_card(&mut t, &f, "Lou St").await;
    // The processor refunds, the reply is lost; asking about it fails too.
    f.script(Call::Refund, [Fault::LoseReply]);
    f.script(Call::FindRefund, [Fault::Timeout]);
    let r = refund(&t, &o, &pay, "150.00").await;
    assert!(
        r.header("location").ends_with("?done=pending"),
        "{}",
        r.body
    );
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1,
        "made at the processor"
    );
    assert_eq!(refund_state(&t).await.0, "pending");

    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(report.refunds.succeeded, 1, "{report:?}");
    assert_eq!(f.calls(Call::Refund), 1, "found, not sent again");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1
    );
    assert_eq!(refund_state(&t).await.0, "succeeded");
    assert_eq!(t.balance(&inv[0]).await, 10000);
    assert_eq!(t.balance(&inv[1]).await, 5000);
    let processor_id: Option<String> =
        fieldpay::store::sql::query_scalar("SELECT processor_refund_id FROM refunds")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let made: String = fieldpay::store::sql::query_scalar("SELECT id FROM sandbox_refunds")
        .fetch_one(t.app.sandbox.database())
        .await
        .unwrap();
    assert_eq!(processor_id, Some(made));
}

#[tokio::test]
async fn pending_refunds_are_tried_again_with_backoff() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, _) = paid_by_card(&mut t, &f, "Bea Koff").await;
    f.script(Call::Refund, [Fault::Timeout]);
    f.script(Call::FindRefund, vec![Fault::Timeout; 3]);
    let r = refund(&t, &o, &pay, "10.00").await;
    assert!(
        r.header("location").ends_with("?done=pending"),
        "{}",
        r.body
    );
    // Tried twice at once (a send, then a question): next in 2 minutes.
    assert_eq!((f.calls(Call::Refund), f.calls(Call::FindRefund)), (1, 1));
    let asks = |f: &Faulty| f.calls(Call::FindRefund);
    for (minutes, expected_asks) in [(1, 1), (3, 2), (5, 2), (8, 3), (15, 3), (17, 4)] {
        fieldpay::jobs::run_once(&t.app, later(minutes))
            .await
            .unwrap();
        assert_eq!(asks(&f), expected_asks, "after {minutes} minutes");
    }
    assert_eq!(f.queued(Call::FindRefund), 0);
    // The fourth question reached the sandbox: never made, so it was sent.
    assert_eq!(refund_state(&t).await.0, "succeeded");
    assert_eq!(f.reached(Call::Refund).len(), 1);
    let attempts = t.count("SELECT attempts FROM refunds").await;
    assert_eq!(attempts, 5);
}

#[tokio::test]
async fn a_refund_pending_at_the_processor_then_failed_is_undone_and_the_office_told() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, inv) = paid_by_card(&mut t, &f, "Penny Ding").await;
    let before = books(&t).await;
    f.report_refunds_as(Some(RefundStatus::Pending));
    let r = refund(&t, &o, &pay, "60.00").await;
    assert!(
        r.header("location").ends_with("?done=pending"),
        "{}",
        r.body
    );
    // Accepted by the processor, not final: held, its id kept.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM refunds WHERE status = 'pending' AND processor_refund_id IS NOT NULL")
            .await,
        1
    );
    assert_eq!(t.balance(&inv[1]).await, 5000);
    assert_eq!(t.balance(&inv[0]).await, 1000);
    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(report.refunds.still_pending, 1, "{report:?}");
    assert_eq!(f.calls(Call::Refund), 1, "asked about, not sent again");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM invoices WHERE locked_by_attempt LIKE 'ref_%'")
            .await,
        2
    );

    f.report_refunds_as(Some(RefundStatus::Failed(
        "expired_or_canceled_card".into(),
    )));
    let report = fieldpay::jobs::run_once(&t.app, later(120)).await.unwrap();
    assert_eq!(report.refunds.failed, 1, "{report:?}");
    assert_eq!(books(&t).await, before, "undone exactly");
    assert_eq!(
        refund_state(&t).await,
        (
            "failed".to_string(),
            Some("expired_or_canceled_card".to_string())
        )
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.failed'")
            .await,
        1
    );
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    assert!(
        page.body
            .contains("Refund failed: expired_or_canceled_card"),
        "{}",
        page.body
    );
    let dash = o.get(&t, "/office/dashboard").await;
    assert!(
        dash.body
            .contains("Refund failed: expired_or_canceled_card")
    );
    // Settled: the jobs leave it alone.
    let report = fieldpay::jobs::run_once(&t.app, later(300)).await.unwrap();
    assert!(report.refunds.is_quiet(), "{report:?}");
}

#[tokio::test]
async fn the_office_retry_racing_the_jobs_makes_one_refund() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, _) = paid_by_card(&mut t, &f, "Rae Ce").await;
    f.script(Call::Refund, [Fault::Timeout, Fault::Timeout]);
    let r = refund(&t, &o, &pay, "25.00").await;
    assert!(
        r.header("location").ends_with("?done=pending"),
        "{}",
        r.body
    );
    let refund_id: String = fieldpay::store::sql::query_scalar("SELECT id FROM refunds")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    // Both ask and send while the other's answer is slow.
    f.script(
        Call::FindRefund,
        [
            Fault::Late(std::time::Duration::from_millis(300)),
            Fault::Late(std::time::Duration::from_millis(300)),
        ],
    );
    let app = t.app.clone();
    let jobs = tokio::spawn(async move { fieldpay::jobs::run_once(&app, later(10)).await });
    let retry = o
        .post(
            &t,
            &format!("/office/payments/{pay}/refunds/{refund_id}/retry"),
            &[],
        )
        .await;
    assert_eq!(retry.status, StatusCode::SEE_OTHER, "{}", retry.body);
    jobs.await.unwrap().unwrap();
    assert_eq!(sandbox_refunds_per_key(&t).await, vec![(refund_id, 1)]);
    assert_eq!(refund_state(&t).await.0, "succeeded");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.sent'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_processor_cannot_be_switched_while_a_refund_is_pending() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, _) = paid_by_card(&mut t, &f, "Swi Tch").await;
    f.script(Call::Refund, [Fault::Timeout, Fault::Timeout]);
    let r = refund(&t, &o, &pay, "25.00").await;
    drop(o);
    assert!(
        r.header("location").ends_with("?done=pending"),
        "{}",
        r.body
    );
    let switch = json!({
        "kind": "stripe",
        "secret_key": "sk_test_abcdefghijklmnop1234",
        "publishable_key": "pk_test_51abcdefghij",
        "webhook_secret": "whsec_abcdefghijklmnop",
    });
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(switch.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "refunds_in_flight");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 card refund is still pending"),
        "{}",
        r.body
    );
    fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert_eq!(refund_state(&t).await.0, "succeeded");
    let r = t
        .api(Method::PUT, "/api/v1/settings/processor", Some(switch))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn refunds_record_the_processor_that_made_them_and_cash_refunds_are_done_at_once() {
    let mut t = TestApp::new().await;
    let f = Faulty::around_sandbox(&t);
    let (o, pay, inv) = paid_by_card(&mut t, &f, "Kay Nd").await;
    let r = refund(&t, &o, &pay, "10.00").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (kind, account, status): (Option<String>, Option<String>, String) =
        fieldpay::store::sql::query_as(
            "SELECT processor_kind, processor_account, status FROM refunds",
        )
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    assert_eq!(kind.as_deref(), Some("sandbox"));
    assert_eq!(account.as_deref(), Some("sandbox"));
    assert_eq!(status, "succeeded");
    assert_eq!(t.balance(&inv[1]).await, 1000);

    let (c, cash_inv) = customer_with_invoices(&t, "Cash Cal", &[4000]).await;
    let cash = payment_of(&record(&t, &o, &c, &[&cash_inv[0]], &[("method", "cash")]).await);
    let r = refund(&t, &o, &cash, "15.00").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (kind, status): (Option<String>, String) = fieldpay::store::sql::query_as(
        "SELECT r.processor_kind, r.status FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.method = 'cash'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!((kind, status.as_str()), (None, "succeeded"));
    let report = fieldpay::jobs::run_once(&t.app, later(10)).await.unwrap();
    assert!(report.refunds.is_quiet(), "{report:?}");
}
