//! Money records that match the processor when it is slow or lags: a reply
//! lost, lookups that find nothing for a while, a charge that turns up after
//! its attempt was given up, autopay turned off mid-run. One pay action, one
//! charge, one recorded payment, through the pay page, the office and
//! autopay.

use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::json;
use time::Duration;

use fieldpay::processor::{ChargeLookup, PaymentProcessor};

use crate::autopay::{enrolled, invoice, office, settings, succeeded_charges};
use crate::office_payments::record;
use crate::pay_form::{hidden, submit};
use crate::support::faulty::{Call, Fault, Faulty};
use crate::support::{TestApp, customer_with_invoices};

/// `t` charging through a `Faulty` around its sandbox (router included).
fn faulty(t: &mut TestApp) -> Arc<Faulty> {
    let f = Faulty::around_sandbox(t);
    f.install(t);
    f
}

/// Charges that reached the processor.
fn charges(f: &Faulty) -> usize {
    f.reached(Call::Charge).len()
}

async fn attempt_status(t: &TestApp, id: &str) -> String {
    fieldpay::store::sql::query_scalar("SELECT status FROM payment_attempts WHERE id = $1")
        .bind(id)
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

async fn sandbox_charges(t: &TestApp) -> i64 {
    t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'")
        .await
}

#[tokio::test]
async fn a_lost_reply_and_lookups_that_lag_charge_once_on_the_pay_page() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let (c, inv) = customer_with_invoices(&t, "Lou Lag", &[6400]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    f.script(Call::Charge, [Fault::LoseReply]);
    f.script(Call::FindCharge, vec![Fault::Hide; 3]);
    let r = t
        .pay(
            &token,
            "k-lost",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.json()["status"], "pending");
    let attempt = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(sandbox_charges(&t).await, 1, "the card was charged");
    assert_eq!(t.balance(&inv[0]).await, 6400, "not recorded yet");

    // Paying again meanwhile cannot charge twice: the invoice is held.
    let card2 = t.card("4242424242424242").await;
    let again = t
        .pay(
            &token,
            "k-again",
            json!({"invoice_ids": [inv[0]], "payment_method": card2}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert_eq!(again.json()["error"]["code"], "invoice_being_paid");
    // The page shows the payment being confirmed, not "not charged".
    let same = t
        .pay(
            &token,
            "k-lost",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(same.status, StatusCode::CONFLICT, "{}", same.body);

    // Lookups find nothing at first: while a request could still be on its
    // way, that means nothing; the invoice stays held.
    let now = t.app.clock.now();
    for minutes in [3, 5, 8] {
        let r = fieldpay::app::payments::reconcile(
            &t.app,
            now + Duration::minutes(minutes),
            Duration::minutes(2),
        )
        .await
        .unwrap();
        assert_eq!(
            (r.applied, r.abandoned, r.still_pending),
            (0, 0, 1),
            "{r:?}"
        );
        assert_eq!(attempt_status(&t, &attempt).await, "pending");
    }
    // Then the charge is found and recorded once.
    let r = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(9),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(r.applied, 1, "{r:?}");
    let r = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(10),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(r, Default::default());
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(attempt_status(&t, &attempt).await, "succeeded");
    assert_eq!(sandbox_charges(&t).await, 1);
    assert_eq!(charges(&f), 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    // A repeat of the first request now answers with the payment.
    let replay = t
        .pay(
            &token,
            "k-lost",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(replay.status, StatusCode::CREATED, "{}", replay.body);
    assert_eq!(replay.json()["amount"], 6400);
}

#[tokio::test]
async fn the_pay_page_says_the_payment_is_being_confirmed_not_that_it_failed() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let (c, inv) = customer_with_invoices(&t, "Pia Page", &[2200]).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    let (nonce, sig) = (
        hidden(&page.body, "form_nonce"),
        hidden(&page.body, "form_sig"),
    );
    let card = t.card("4242424242424242").await;
    f.script(Call::Charge, [Fault::LoseReply]);
    let r = submit(
        &t,
        &token,
        &[
            ("form_nonce", &nonce),
            ("form_sig", &sig),
            ("invoice_ids", &inv[0]),
            ("payment_method", "new_card"),
            ("card_token", &card),
            ("plan", "once"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert!(r.body.contains("being confirmed"), "{}", r.body);
    assert!(r.body.contains("Do not pay again"));
    assert!(!r.body.contains("not charged"));
    let now = t.app.clock.now();
    fieldpay::app::payments::reconcile(&t.app, now + Duration::minutes(3), Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(sandbox_charges(&t).await, 1);
}

#[tokio::test]
async fn nothing_sent_means_nothing_charged_and_the_payer_may_try_again() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let (c, inv) = customer_with_invoices(&t, "Ned Nothing", &[3000]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    f.script(Call::Charge, [Fault::Timeout]);
    let r = t
        .pay(
            &token,
            "k-refused",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    // Refused before it reached the processor: the attempt waits for the
    // reconciler, which finds no charge once no request can be in flight.
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let attempt = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(sandbox_charges(&t).await, 0);
    let now = t.app.clock.now();
    let r = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(11),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(r.abandoned, 1, "{r:?}");
    assert_eq!(attempt_status(&t, &attempt).await, "failed");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.declined'")
            .await,
        1
    );
    // Settling twice writes nothing twice.
    let r = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(12),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(r, Default::default());
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.declined'")
            .await,
        1
    );
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "k-retry",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(sandbox_charges(&t).await, 1);
    assert_eq!(t.balance(&inv[0]).await, 0);
}

/// What the processor says of an attempt now (its webhook, say).
async fn found(t: &TestApp, attempt: &str) -> fieldpay::processor::ChargeOutcome {
    let created =
        fieldpay::store::sql::query_scalar("SELECT created_at FROM payment_attempts WHERE id = $1")
            .bind(attempt)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    t.app
        .sandbox
        .find_charge(ChargeLookup::by_key(attempt, created))
        .await
        .unwrap()
        .expect("the sandbox made the charge")
}

async fn attempt_record(t: &TestApp, attempt: &str) -> fieldpay::store::payments::Attempt {
    fieldpay::store::payments::get_attempt(
        t.app.db.reader(),
        &fieldpay::domain::ids::AttemptId::from(attempt),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn a_charge_that_turns_up_after_it_was_given_up_is_applied_or_shown_to_the_office() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let (c, inv) = customer_with_invoices(&t, "Lena Late", &[4000, 2500]).await;
    let token = t.token(&c).await;
    // Both charges' replies are lost, and the lookups lag past the window.
    f.script(Call::Charge, [Fault::LoseReply, Fault::LoseReply]);
    f.script(Call::FindCharge, [Fault::Hide, Fault::Hide]);
    let mut attempts = Vec::new();
    for (i, id) in inv.iter().enumerate() {
        let card = t.card("4242424242424242").await;
        let r = t
            .pay(
                &token,
                &format!("k-late-{i}"),
                json!({"invoice_ids": [id], "payment_method": card}),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        attempts.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let now = t.app.clock.now();
    let r = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(11),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(r.abandoned, 2, "{r:?}");
    assert_eq!(t.balance(&inv[0]).await, 4000, "freed, unpaid");

    // The second invoice is paid in cash meanwhile.
    let o = office(&t).await;
    let r = record(
        &t,
        &o,
        &c,
        &[&inv[1]],
        &[("method", "cash"), ("amount", "25.00")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.balance(&inv[1]).await, 0);

    // Then both charges turn up (a late webhook, a lookup that caught up).
    for attempt in &attempts {
        let outcome = found(&t, attempt).await;
        let a = attempt_record(&t, attempt).await;
        fieldpay::app::payments::settle(&t.app, &a, outcome.clone(), None, "test")
            .await
            .unwrap();
        // Twice: recorded once.
        fieldpay::app::payments::settle(&t.app, &a, outcome, None, "test")
            .await
            .unwrap();
    }
    // The first is applied to its invoice, which still owed it.
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(attempt_status(&t, &attempts[0]).await, "succeeded");
    // The second found its invoice paid: recorded, and shown to the office
    // as money to refund or apply, never silently left.
    assert_eq!(attempt_status(&t, &attempts[1]).await, "succeeded");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payments WHERE method = 'card'")
            .await,
        2
    );
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT id FROM companies LIMIT 1")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let unapplied = fieldpay::store::payments::unapplied_payments(&t.app.db, &company)
        .await
        .unwrap();
    assert_eq!(unapplied.len(), 1, "{unapplied:?}");
    assert_eq!(unapplied[0].unapplied, 2500);
    let dash = o.get(&t, "/office/dashboard").await;
    assert!(
        dash.body.contains("not applied to any invoice"),
        "{}",
        dash.body
    );
    assert!(dash.body.contains("$25.00"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.found_late'")
            .await,
        2
    );
}

#[tokio::test]
async fn autopay_with_a_lost_reply_charges_once_across_runs_and_lagging_lookups() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let o = office(&t).await;
    let (_, p, _) = enrolled(&t, &o, "Ava Auto", "4242424242424242").await;
    let due = t.today() + Duration::days(30);
    let inv = invoice(&t, &p, 7100, &t.day(0), &fieldpay::domain::dates::iso(due)).await;
    let at = due.with_hms(18, 0, 0).unwrap().assume_utc();
    f.script(Call::Charge, [Fault::LoseReply]);
    f.script(Call::FindCharge, [Fault::Hide, Fault::Hide]);
    t.app.clock.set(at);
    let r = fieldpay::jobs::run_once(&t.app, at).await.unwrap();
    assert_eq!(r.autopay.pending, 1, "{:?}", r.autopay);
    // Runs later that day and the next find the invoice held: no new charge;
    // the lookups lag, then find the charge.
    for minutes in [3, 6, 12, 24 * 60] {
        let when = at + Duration::minutes(minutes);
        t.app.clock.set(when);
        fieldpay::jobs::run_once(&t.app, when).await.unwrap();
    }
    assert_eq!(succeeded_charges(&t).await, 1);
    assert_eq!(charges(&f), 1);
    assert_eq!(t.balance(&inv).await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn turning_autopay_off_during_a_run_stops_the_charges_not_yet_reserved() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let o = office(&t).await;
    settings(&t, &o, &[("grouping", "per_invoice")]).await;
    let (c, p, _) = enrolled(&t, &o, "Carl Cancel", "4242424242424242").await;
    let due = t.today() + Duration::days(30);
    let (issue, due_text) = (t.day(0), fieldpay::domain::dates::iso(due));
    let first = invoice(&t, &p, 1000, &issue, &due_text).await;
    let second = invoice(&t, &p, 2000, &issue, &due_text).await;
    let at = due.with_hms(18, 0, 0).unwrap().assume_utc();
    t.app.clock.set(at);
    // After the first charge reaches the processor, the customer turns
    // autopay off (the office, on their call, signed in that day).
    let o = office(&t).await;
    let (router, cookie, csrf) = (t.router.clone(), o.cookie.clone(), o.csrf.clone());
    let path = format!("/office/customers/{c}/autopay/cancel");
    f.after_reaching(
        Call::Charge,
        Some(Arc::new(move || {
            let (router, cookie, csrf, path) =
                (router.clone(), cookie.clone(), csrf.clone(), path.clone());
            Box::pin(async move {
                use tower::ServiceExt;
                let req = axum::http::Request::builder()
                    .method("POST")
                    .uri(&path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("cookie", &cookie)
                    .body(axum::body::Body::from(format!("csrf={csrf}")))
                    .unwrap();
                let resp = router.oneshot(req).await.unwrap();
                assert!(resp.status().is_redirection(), "{}", resp.status());
            })
        })),
    );
    let r = fieldpay::jobs::run_once(&t.app, at).await.unwrap();
    assert_eq!(
        (r.autopay.charged, r.autopay.skipped),
        (1, 1),
        "{:?}",
        r.autopay
    );
    assert_eq!(charges(&f), 1);
    let paid = [t.balance(&first).await, t.balance(&second).await];
    assert!(paid == [0, 2000] || paid == [1000, 0], "{paid:?}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        0
    );
    // Later runs charge nothing.
    f.after_reaching(Call::Charge, None);
    let next = at + Duration::days(1);
    t.app.clock.set(next);
    fieldpay::jobs::run_once(&t.app, next).await.unwrap();
    assert_eq!(charges(&f), 1);
}

#[tokio::test]
async fn the_office_card_form_tells_a_lost_reply_as_being_confirmed_and_charges_once() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Olga Office", &[5500]).await;
    let card = t.card("4242424242424242").await;
    f.script(Call::Charge, [Fault::LoseReply]);
    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0]],
        &[("method", "card"), ("card_token", &card)],
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert!(r.body.contains("being confirmed"), "{}", r.body);
    let now = t.app.clock.now();
    let rec = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(3),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(rec.applied, 1, "{rec:?}");
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(sandbox_charges(&t).await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn attempts_and_payments_name_their_processor_and_are_reconciled_with_it() {
    let mut t = TestApp::new().await;
    let f = faulty(&mut t);
    let (c, inv) = customer_with_invoices(&t, "Sid Switch", &[1200]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    f.script(Call::Charge, [Fault::LoseReply]);
    let r = t
        .pay(
            &token,
            "k-switch",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let attempt = r.json()["id"].as_str().unwrap().to_string();
    let a = attempt_record(&t, &attempt).await;
    assert_eq!(a.processor_kind.as_deref(), Some("sandbox"));
    assert_eq!(a.processor_account.as_deref(), Some("sandbox"));
    // The company is moved to Stripe behind the settings' back: the attempt
    // is still asked of the sandbox that made it.
    fieldpay::store::sql::query(
        "INSERT INTO processor_settings (company_id, kind, updated_by, updated_at)
         SELECT id, 'stripe', 'test', created_at FROM companies",
    )
    .execute(t.app.db.writer())
    .await
    .unwrap();
    let now = t.app.clock.now();
    let rec = fieldpay::app::payments::reconcile(
        &t.app,
        now + Duration::minutes(3),
        Duration::minutes(2),
    )
    .await
    .unwrap();
    assert_eq!(rec.applied, 1, "{rec:?}");
    let kind: (Option<String>, Option<String>) =
        fieldpay::store::sql::query_as("SELECT processor_kind, processor_account FROM payments")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(kind, (Some("sandbox".into()), Some("sandbox".into())));
}
