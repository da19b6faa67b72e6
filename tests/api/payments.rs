//! Paying invoices through the quick-pay JSON API.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, customer_with_invoices};

#[tokio::test]
async fn pays_one_invoice() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Maria Homeowner", &[8900, 4500]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "k-one",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let p = r.json();
    assert_eq!(p["amount"], 8900);
    assert_eq!(p["currency"], "usd");
    assert_eq!(p["status"], "succeeded");
    assert_eq!(
        p["allocations"],
        json!([{"invoice_id": inv[0], "amount": 8900}])
    );
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.invoice_json(&inv[0]).await["status"], "paid");
    assert_eq!(t.balance(&inv[1]).await, 4500);
    let list = t
        .api(
            Method::GET,
            &format!("/api/v1/payments?customer_id={c}"),
            None,
        )
        .await
        .json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["allocations"][0]["amount"], 8900);
    assert_eq!(list["data"][0]["channel"], "quick_pay");
}

#[tokio::test]
async fn pays_several_invoices_across_properties_in_one_charge() {
    let t = TestApp::new().await;
    let landlord = t.customer("Lena Landlord").await;
    let tenant = t.customer("Tom Tenant").await;
    let own = t.property("418 Oak Hollow Dr", &landlord, None).await;
    let rental = t
        .property("22 Riverside Ct", &tenant, Some(&landlord))
        .await;
    let a = t.invoice(&own, 8900, &t.day(-21)).await;
    let b = t.invoice(&rental, 21500, &t.day(17)).await;
    let c = t.invoice(&rental, 7500, &t.day(22)).await;
    let token = t.token(&landlord).await;
    let card = t.card("4242 4242 4242 4242").await;
    let r = t
        .pay(
            &token,
            "k-several",
            json!({"invoice_ids": [a, b], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["amount"], 30400);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );
    assert_eq!(t.balance(&a).await, 0);
    assert_eq!(t.balance(&b).await, 0);
    assert_eq!(t.balance(&c).await, 7500);
    let page = t.get(&format!("/api/v1/pay/{token}")).await.json();
    let open: Vec<&str> = page["properties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["invoices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(open, vec![c.as_str()]);
}

#[tokio::test]
async fn declines_change_nothing_and_are_not_payments() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Dee Clined", &[8900]).await;
    let token = t.token(&c).await;
    for (number, code) in [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000069", "expired_card"),
        ("4000000000000127", "incorrect_cvc"),
    ] {
        let card = t.card(number).await;
        let r = t
            .pay(
                &token,
                &format!("k-{number}"),
                json!({"invoice_ids": [inv[0]], "payment_method": card}),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
        assert_eq!(r.json()["error"]["code"], code);
        assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(t.balance(&inv[0]).await, 8900);
    }
    let list = t.api(Method::GET, "/api/v1/payments", None).await.json();
    assert_eq!(list["data"], json!([]));
    // The invoice is free again: a good card pays it.
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "k-good",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn repeated_idempotency_key_returns_first_result_and_charges_once() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Rita Repeat", &[8900]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let body = json!({"invoice_ids": [inv[0]], "payment_method": card});
    let first = t.pay(&token, "same-key", body.clone()).await;
    let second = t.pay(&token, "same-key", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(second.status, first.status);
    assert_eq!(second.body, first.body);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    // The same key for a different request is refused.
    let other = t
        .pay(
            &token,
            "same-key",
            json!({"invoice_ids": [inv[0]], "payment_method": "tok_other"}),
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other.json()["error"]["code"], "idempotency_key_reused");
    // A decline replays as a decline.
    let (c2, inv2) = customer_with_invoices(&t, "Dan Declined", &[100]).await;
    let token2 = t.token(&c2).await;
    let bad = t.card("4000000000000002").await;
    let body2 = json!({"invoice_ids": [inv2[0]], "payment_method": bad});
    let d1 = t.pay(&token2, "decline-key", body2.clone()).await;
    let d2 = t.pay(&token2, "decline-key", body2).await;
    assert_eq!(d1.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!((d2.status, d2.body), (d1.status, d1.body));
}

#[tokio::test]
async fn missing_idempotency_key_is_a_400() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "No Key", &[100]).await;
    let token = t.token(&c).await;
    let r = t
        .request(
            Method::POST,
            &format!("/api/v1/pay/{token}/payments"),
            &[("content-type", "application/json")],
            Some(json!({"invoice_ids": [inv[0]], "payment_method": "tok_x"}).to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "idempotency_key_required");
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_attempts").await, 0);
}

#[tokio::test]
async fn twenty_concurrent_identical_submits_make_one_charge() {
    let t = Arc::new(TestApp::new().await);
    let (c, inv) = customer_with_invoices(&t, "Double Clicker", &[12500]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let body = json!({"invoice_ids": [inv[0]], "payment_method": card});
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (t, token, body) = (t.clone(), token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            t.pay(&token, "one-click", body).await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_eq!(r.json()["error"]["code"], "idempotency_in_progress")
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(created >= 1);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 0);
}

#[tokio::test]
async fn fifty_racing_payers_collect_at_most_the_balance() {
    let t = Arc::new(TestApp::new().await);
    let (c, inv) = customer_with_invoices(&t, "Popular Invoice", &[9900]).await;
    let token = t.token(&c).await;
    let mut cards = Vec::new();
    for _ in 0..50 {
        cards.push(t.card("4242424242424242").await);
    }
    let mut tasks = Vec::new();
    for (i, card) in cards.into_iter().enumerate() {
        let (t, token, invoice) = (t.clone(), token.clone(), inv[0].clone());
        tasks.push(tokio::spawn(async move {
            t.pay(
                &token,
                &format!("payer-{i}"),
                json!({"invoice_ids": [invoice], "payment_method": card}),
            )
            .await
        }));
    }
    let mut created = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                let code = r.json()["error"]["code"].as_str().unwrap().to_string();
                assert!(
                    code == "invoice_being_paid" || code == "invoice_not_payable",
                    "{code}"
                );
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!(created, 1);
    let collected: i64 = t
        .sandbox_count(
            "SELECT COALESCE(SUM(amount), 0) FROM sandbox_charges WHERE status = 'succeeded'",
        )
        .await;
    assert_eq!(collected, 9900);
    assert_eq!(t.balance(&inv[0]).await, 0);
}

#[tokio::test]
async fn other_customers_and_companies_invoices_are_refused() {
    let t = TestApp::new().await;
    let (c, _) = customer_with_invoices(&t, "Me Myself", &[100]).await;
    let (_, theirs) = customer_with_invoices(&t, "Someone Else", &[5000]).await;
    let other_key = t.other_company().await;
    let oc = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Far Away"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/properties",
            Some(json!({"address": "1 Far Rd", "resident_customer_id": oc})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let foreign = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": op, "due_date": t.day(33), "lines": [{"description": "x", "quantity": 1, "unit_price": 700}]})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = t.token(&c).await;
    for (i, invoice) in [
        theirs[0].clone(),
        foreign.clone(),
        "inv_doesnotexist".to_string(),
    ]
    .iter()
    .enumerate()
    {
        let card = t.card("4242424242424242").await;
        let r = t
            .pay(
                &token,
                &format!("steal-{i}"),
                json!({"invoice_ids": [invoice], "payment_method": card}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );
    assert_eq!(t.balance(&theirs[0]).await, 5000);
    // The office API hides another company's records too.
    let r = t
        .api(Method::GET, &format!("/api/v1/invoices/{foreign}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/customers/{oc}/payment-link"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn autopay_needs_consent_and_stores_it() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Auto Annie", &[8900, 4000]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(&token, "no-consent", json!({"invoice_ids": [inv[0]], "payment_method": card, "save_card_and_enroll_autopay": true}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["code"], "autopay_consent_required");
    assert_eq!(t.count("SELECT COUNT(*) FROM autopay_enrollments").await, 0);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );

    let r = t
        .pay(
            &token,
            "with-consent",
            json!({"invoice_ids": [inv[0]], "payment_method": card, "save_card_and_enroll_autopay": true, "autopay_consent": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let method_id = r.json()["autopay"]["method_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(r.json()["autopay"]["enrolled"], true);
    let (text, ip, ua): (String, String, String) =
        fieldpay::store::sql::query_as("SELECT consent_text, consent_ip, consent_user_agent FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(
        text,
        "I authorize Greenleaf Pest Control to charge this card for invoices on my account when they are due, until I cancel. I can cancel at any time from this page or by calling (512) 555-0142."
    );
    assert_eq!(ip, "127.0.0.1");
    assert_eq!(ua, "TestPhone/1.0");
    // The page offers the saved card and shows autopay on.
    let page = t.get(&format!("/api/v1/pay/{token}")).await.json();
    assert_eq!(
        page["autopay"],
        json!({"enrolled": true, "method_id": method_id})
    );
    assert_eq!(page["saved_methods"][0]["last4"], "4242");
    let html = t.get(&format!("/pay/{token}")).await;
    assert!(
        html.body
            .replace("&#x2f;", "/")
            .contains(&format!("Visa ending 4242, expires {}", t.exp_shown()))
    );
    // And the saved card pays the next invoice.
    let r = t
        .pay(
            &token,
            "saved",
            json!({"invoice_ids": [inv[1]], "payment_method": method_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(t.balance(&inv[1]).await, 0);
}

#[tokio::test]
async fn reconciliation_applies_a_charge_left_unrecorded_once() {
    use fieldpay::processor::ChargeRequest;
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Crash Victim", &[6400]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    // A payment whose processor call dies before we hear back: the attempt is
    // recorded, the processor charged, our side never settled.
    let r = t
        .pay(
            &token,
            "will-crash",
            json!({"invoice_ids": [inv[0]], "payment_method": "tok_unknown"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    let attempt_id: String = fieldpay::store::sql::query_scalar("SELECT id FROM payment_attempts")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    // Re-open that attempt as if the process had crashed mid-way and charge it.
    fieldpay::store::sql::query(
        "UPDATE payment_attempts SET status = 'pending', response_body = NULL, created_at = $1",
    )
    .bind(t.app.clock.now() - time::Duration::days(1))
    .execute(t.app.db.writer())
    .await
    .unwrap();
    fieldpay::store::sql::query("UPDATE invoices SET locked_by_attempt = $1")
        .bind(&attempt_id)
        .execute(t.app.db.writer())
        .await
        .unwrap();
    let outcome = t
        .app
        .processor
        .charge(ChargeRequest {
            idempotency_key: attempt_id.clone(),
            amount: fieldpay::domain::money::Money::new(
                6400,
                fieldpay::domain::money::Currency::USD,
            ),
            source: fieldpay::processor::ChargeSource::Token(card),
            save_method: false,
            off_session: false,
            processor_customer: None,
            description: "test".into(),
        })
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        fieldpay::processor::ChargeOutcome::Succeeded(_)
    ));
    assert_eq!(t.balance(&inv[0]).await, 6400);
    let now = t.app.clock.now();
    let report = fieldpay::app::payments::reconcile(&t.app, now, time::Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(report.applied, 1);
    assert_eq!(t.balance(&inv[0]).await, 0);
    let again = fieldpay::app::payments::reconcile(&t.app, now, time::Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(again, Default::default());
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    // The customer's retry with the same key now returns the recorded payment.
    let r = t
        .pay(
            &token,
            "will-crash",
            json!({"invoice_ids": [inv[0]], "payment_method": "tok_unknown"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn reconciliation_frees_invoices_of_an_attempt_never_charged() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Never Charged", &[500]).await;
    let token = t.token(&c).await;
    let r = t
        .pay(
            &token,
            "lost",
            json!({"invoice_ids": [inv[0]], "payment_method": "tok_unknown"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    let attempt_id: String = fieldpay::store::sql::query_scalar("SELECT id FROM payment_attempts")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    fieldpay::store::sql::query(
        "UPDATE payment_attempts SET status = 'pending', response_body = NULL, created_at = $1",
    )
    .bind(t.app.clock.now() - time::Duration::days(1))
    .execute(t.app.db.writer())
    .await
    .unwrap();
    fieldpay::store::sql::query("UPDATE invoices SET locked_by_attempt = $1")
        .bind(&attempt_id)
        .execute(t.app.db.writer())
        .await
        .unwrap();
    // While pending, the invoice cannot be paid by anyone else.
    let card = t.card("4242424242424242").await;
    let busy = t
        .pay(
            &token,
            "other",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert_eq!(busy.json()["error"]["code"], "invoice_being_paid");
    let report =
        fieldpay::app::payments::reconcile(&t.app, t.app.clock.now(), time::Duration::minutes(2))
            .await
            .unwrap();
    assert_eq!(report.abandoned, 1);
    let card = t.card("4242424242424242").await;
    let ok = t
        .pay(
            &token,
            "after",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
}

// ------------------------------------------------------------ 3-D Secure

const AUTH_CARD: &str = "4000002760003184";

async fn confirm(t: &TestApp, token: &str, attempt: &str) -> crate::support::Resp {
    t.request(
        Method::POST,
        &format!("/api/v1/pay/{token}/payments/{attempt}/confirm"),
        &[],
        None,
    )
    .await
}

/// The sandbox's stand-in for the customer completing their bank's check.
async fn authenticate(t: &TestApp, client_secret: &str) -> crate::support::Resp {
    let charge = client_secret.split("_secret_").next().unwrap();
    t.request(
        Method::POST,
        &format!("/sandbox/v1/authenticate/{charge}"),
        &[],
        None,
    )
    .await
}

/// Pays with the card that asks for authentication: (attempt id, client secret).
async fn pay_needing_authentication(
    t: &TestApp,
    token: &str,
    key: &str,
    invoices: &[&str],
) -> (String, String) {
    let card = t.card(AUTH_CARD).await;
    let r = t
        .pay(
            token,
            key,
            json!({"invoice_ids": invoices, "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    let body = r.json();
    assert_eq!(body["error"]["code"], "authentication_required", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Your bank asks you to confirm this payment"),
        "{body}"
    );
    (
        body["attempt_id"].as_str().unwrap().to_string(),
        body["client_secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn three_d_secure_waits_for_the_customer_then_confirms_once() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Secure Sam", &[8900, 4500]).await;
    let token = t.token(&c).await;
    let (attempt, secret) =
        pay_needing_authentication(&t, &token, "k-3ds", &[&inv[0], &inv[1]]).await;
    assert!(attempt.starts_with("att_"), "{attempt}");
    assert!(!secret.is_empty());
    // Nothing charged yet; the invoices are held for this attempt.
    assert_eq!(t.balance(&inv[0]).await, 8900);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'")
            .await,
        0
    );
    let card = t.card("4242424242424242").await;
    let busy = t
        .pay(
            &token,
            "k-other",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.body);

    // Confirming before the check is done asks again.
    let early = confirm(&t, &token, &attempt).await;
    assert_eq!(early.status, StatusCode::PAYMENT_REQUIRED, "{}", early.body);
    assert_eq!(early.json()["error"]["code"], "authentication_required");
    assert_eq!(early.json()["client_secret"], secret.as_str());
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);

    let done = authenticate(&t, &secret).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let r = confirm(&t, &token, &attempt).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let paid = r.json();
    assert_eq!(paid["amount"], 13400, "{paid}");
    assert_eq!(paid["card"]["last4"], "3184");
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    // Twice: the same answer, one payment.
    let again = confirm(&t, &token, &attempt).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.json()["id"], paid["id"]);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    // A settled charge cannot be authenticated again.
    assert_eq!(
        authenticate(&t, &secret).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn confirming_another_customers_attempt_is_not_found() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Owner Olga", &[5000]).await;
    let token = t.token(&c).await;
    let (attempt, secret) = pay_needing_authentication(&t, &token, "k-olga", &[&inv[0]]).await;
    authenticate(&t, &secret).await;
    let (other, _) = customer_with_invoices(&t, "Nosy Ned", &[100]).await;
    let other_token = t.token(&other).await;
    let r = confirm(&t, &other_token, &attempt).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        confirm(&t, &token, "att_unknown").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        confirm(&t, "not-a-token", &attempt).await.status,
        StatusCode::NOT_FOUND
    );
    // Nothing was settled by the foreign confirm.
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 5000);
    // The customer's own confirm still works.
    let r = confirm(&t, &token, &attempt).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn a_check_never_completed_is_cancelled_by_reconciliation() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Walked Away", &[7000]).await;
    let token = t.token(&c).await;
    let (attempt, secret) = pay_needing_authentication(&t, &token, "k-away", &[&inv[0]]).await;
    // Within the grace period it is left alone.
    let now = t.app.clock.now();
    let early = fieldpay::app::payments::reconcile(&t.app, now, time::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(early, Default::default());
    // Past the jobs' short grace, the customer still has time for the check.
    let soon = now + time::Duration::minutes(5);
    let waiting = fieldpay::app::payments::reconcile(&t.app, soon, time::Duration::minutes(2))
        .await
        .unwrap();
    assert_eq!(waiting.still_pending, 1, "{waiting:?}");
    assert_eq!(t.balance(&inv[0]).await, 7000);
    // After it: cancelled at the processor, the invoice freed, nothing charged.
    let later = now + time::Duration::minutes(31);
    let report = fieldpay::app::payments::reconcile(&t.app, later, time::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(report.declined, 1, "{report:?}");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'canceled'")
            .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 7000);
    // The cancelled charge cannot be completed any more; confirming says so.
    assert_eq!(
        authenticate(&t, &secret).await.status,
        StatusCode::NOT_FOUND
    );
    let r = confirm(&t, &token, &attempt).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "authentication_required");
    // The invoice can be paid again.
    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "k-again",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    assert_eq!(t.balance(&inv[0]).await, 0);
}

#[tokio::test]
async fn a_check_completed_but_settled_elsewhere_first_is_confirmed_once() {
    // Reconciliation (like Stripe's webhook) may settle the attempt before
    // the page confirms it: the confirm answers the same payment.
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Slow Page", &[3000]).await;
    let token = t.token(&c).await;
    let (attempt, secret) = pay_needing_authentication(&t, &token, "k-slow", &[&inv[0]]).await;
    authenticate(&t, &secret).await;
    let later = t.app.clock.now() + time::Duration::hours(1);
    let report = fieldpay::app::payments::reconcile(&t.app, later, time::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    let r = confirm(&t, &token, &attempt).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["amount"], 3000);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 0);
}

#[tokio::test]
async fn nobody_to_authenticate_declines_and_cancels() {
    // The office and autopay pay without the customer: a charge that asks
    // for authentication is cancelled and declined, the invoice freed.
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Not Present", &[2500]).await;
    let card = t.card(AUTH_CARD).await;
    let company = fieldpay::store::sql::query_scalar::<fieldpay::domain::ids::CompanyId>(
        "SELECT company_id FROM customers WHERE id = $1",
    )
    .bind(&c)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    let result = fieldpay::app::payments::pay(
        &t.app,
        fieldpay::app::payments::PayInvoices {
            company_id: company,
            customer_id: c.as_str().into(),
            invoice_ids: vec![inv[0].as_str().into()],
            payment_method: card,
            idempotency_key: "office-1".into(),
            channel: "office",
            enroll: None,
            actor: "test".into(),
        },
    )
    .await
    .unwrap();
    let fieldpay::app::payments::PayResult::Declined(d) = result else {
        panic!("not declined: {result:?}");
    };
    assert_eq!(d.code, "authentication_required");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'canceled'")
            .await,
        1
    );
    assert_eq!(t.balance(&inv[0]).await, 2500);
    let token = t.token(&c).await;
    let again = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "k-after",
            json!({"invoice_ids": [inv[0]], "payment_method": again}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
}

#[tokio::test]
async fn the_sandbox_refuses_card_numbers_outside_its_test_table() {
    let t = TestApp::new().await;
    let exp_year = t.today().year() + 3;
    for real in ["4111111111111111", "5105105105105100", "4012888888881881"] {
        let r = t
            .request(
                Method::POST,
                "/sandbox/v1/tokens",
                &[("content-type", "application/json")],
                Some(
                    json!({"number": real, "exp_month": 12, "exp_year": exp_year, "cvc": "123"})
                        .to_string(),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{real}: {}", r.body);
        let e = r.json();
        assert_eq!(e["error"]["code"], "test_mode_live_card");
        assert_eq!(e["error"]["field"], "number");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap()
                .contains("no real card is charged")
        );
    }
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_tokens").await,
        0
    );
    // The table's cards of every brand still work.
    for test_card in ["4242424242424242", "5555555555554444", "378282246310005"] {
        t.card(test_card).await;
    }
}
