//! The office API's money routes: `POST /api/v1/payments` (cash, check,
//! card), `GET /api/v1/payments/{id}`, `POST /api/v1/payments/{id}/refunds`.
//! Money moves only with an `Idempotency-Key`: a repeat answers as the
//! first, concurrent repeats make one payment or refund.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, customer_with_invoices};

/// A POST with the API key of `api_key` and, if given, an idempotency key.
pub(crate) async fn post_as(
    t: &TestApp,
    api_key: &str,
    path: &str,
    idempotency_key: Option<&str>,
    body: Option<Value>,
) -> Resp {
    let auth = format!("Bearer {api_key}");
    let mut headers = vec![
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    if let Some(k) = idempotency_key {
        headers.push(("idempotency-key", k));
    }
    t.request(Method::POST, path, &headers, body.map(|b| b.to_string()))
        .await
}

/// A payment through the API with the test company's key.
pub(crate) async fn pay(t: &TestApp, key: &str, body: Value) -> Resp {
    post_as(t, &t.api_key, "/api/v1/payments", Some(key), Some(body)).await
}

async fn refund(t: &TestApp, payment: &str, key: &str, body: Option<Value>) -> Resp {
    let path = format!("/api/v1/payments/{payment}/refunds");
    post_as(t, &t.api_key, &path, Some(key), body).await
}

fn cash(customer: &str, amount: i64, allocations: &[(&str, i64)]) -> Value {
    json!({
        "customer_id": customer,
        "method": "cash",
        "amount": amount,
        "allocations": allocations
            .iter()
            .map(|(id, a)| json!({"invoice_id": id, "amount": a}))
            .collect::<Vec<_>>(),
    })
}

/// Who the audit log names for `action` on `subject`.
pub(crate) async fn audit_actors(t: &TestApp, action: &str, subject: &str) -> Vec<String> {
    fieldpay::store::sql::query_scalar(
        "SELECT actor FROM audit_log WHERE action = $1 AND subject = $2 ORDER BY at",
    )
    .bind(action)
    .bind(subject)
    .fetch_all(t.app.db.reader())
    .await
    .unwrap()
}

fn error_of(r: &Resp) -> (String, String) {
    let e = &r.json()["error"];
    (
        e["code"].as_str().unwrap_or_default().to_string(),
        e["field"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn cash_across_two_invoices_is_recorded_and_read_back() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Cass Cash", &[10000, 5000]).await;
    let r = pay(
        &t,
        "cash-1",
        cash(&c, 12000, &[(&inv[0], 10000), (&inv[1], 2000)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let p = r.json();
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["method"], "cash");
    assert_eq!(p["channel"], "api");
    assert_eq!(p["amount"], 12000);
    assert_eq!(p["currency"], "usd");
    assert_eq!(p["status"], "succeeded");
    assert_eq!(p["customer_id"], c.as_str());
    assert_eq!(p["allocations"][0]["invoice_id"], inv[0].as_str());
    assert_eq!(p["allocations"][0]["amount"], 10000);
    assert_eq!(p["allocations"][1]["amount"], 2000);
    assert_eq!(p["refunds"], json!([]));
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.invoice_json(&inv[0]).await["status"], "paid");
    assert_eq!(t.balance(&inv[1]).await, 3000);
    assert_eq!(audit_actors(&t, "payment.recorded", &id).await, ["api"]);

    let got = t
        .api(Method::GET, &format!("/api/v1/payments/{id}"), None)
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.body);
    assert_eq!(got.json(), p, "nothing changed since: the same payment");
    // Listed with the others.
    let list = t
        .api(
            Method::GET,
            &format!("/api/v1/payments?customer_id={c}"),
            None,
        )
        .await
        .json();
    assert_eq!(list["data"][0]["id"], id.as_str());
}

#[tokio::test]
async fn a_check_needs_its_number() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Chet Check", &[4500]).await;
    let mut body = cash(&c, 4500, &[(&inv[0], 4500)]);
    body["method"] = json!("check");
    let r = pay(&t, "check-1", body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_of(&r).1, "check_number");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("check")
    );
    body["check_number"] = json!("  ");
    let r = pay(&t, "check-2", body.clone()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_of(&r).1, "check_number");
    body["check_number"] = json!("1042");
    let r = pay(&t, "check-3", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["check_number"], "1042");
    assert_eq!(r.json()["method"], "check");
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn a_card_is_charged_for_exactly_the_shares_given() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Carla Card", &[8000, 3000]).await;
    let card = t.card("4242424242424242").await;
    let body = json!({
        "customer_id": c, "method": "card", "amount": 9000, "payment_method": card,
        "allocations": [{"invoice_id": inv[0], "amount": 6000}, {"invoice_id": inv[1], "amount": 3000}],
    });
    let r = pay(&t, "card-1", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let p = r.json();
    assert_eq!(p["method"], "card");
    assert_eq!(p["channel"], "api");
    assert_eq!(p["amount"], 9000);
    assert_eq!(p["card_last4"], "4242");
    assert_eq!(t.balance(&inv[0]).await, 2000);
    assert_eq!(t.balance(&inv[1]).await, 0);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );
    // The same request again: the same answer, no second charge.
    let again = pay(&t, "card-1", body).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.body, r.body);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );

    // A declined card: 402 with the code, nothing recorded, the invoice free.
    let declined = t.card("4000000000000002").await;
    let body = json!({
        "customer_id": c, "method": "card", "amount": 2000, "payment_method": declined,
        "allocations": [{"invoice_id": inv[0], "amount": 2000}],
    });
    let r = pay(&t, "card-2", body.clone()).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(error_of(&r).0, "card_declined");
    let again = pay(&t, "card-2", body).await;
    assert_eq!((again.status, again.body), (r.status, r.body));
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 2000);
    // More than the invoice owes: refused before any charge.
    let body = json!({
        "customer_id": c, "method": "card", "amount": 2001, "payment_method": card,
        "allocations": [{"invoice_id": inv[0], "amount": 2001}],
    });
    let r = pay(&t, "card-3", body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_of(&r).1, "allocations");
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 2000);
}

#[tokio::test]
async fn payments_are_checked_field_by_field_and_nothing_is_written() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Val Idate", &[5000, 2500]).await;
    let good = cash(&c, 5000, &[(&inv[0], 5000)]);

    // No Idempotency-Key: 400.
    let r = post_as(&t, &t.api_key, "/api/v1/payments", None, Some(good.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(error_of(&r).0, "idempotency_key_required");

    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with(&|b| b["amount"] = json!(50.5)), "amount"),
        (with(&|b| b["amount"] = json!("5000")), "amount"),
        (with(&|b| b["amount"] = json!(-5000)), "amount"),
        (with(&|b| b["amount"] = json!(4000)), "amount"),
        (with(&|b| b["amount"] = json!(0)), "amount"),
        (
            with(&|b| b["allocations"][0]["amount"] = json!(12.5)),
            "allocations[0].amount",
        ),
        (with(&|b| b["allocations"] = json!([])), "allocations"),
        (
            cash(&c, 6000, &[(&inv[1], 3000), (&inv[1], 3000)]),
            "allocations",
        ),
        (cash(&c, 3000, &[(&inv[1], 3000)]), "allocations"),
        (with(&|b| b["method"] = json!("bitcoin")), "method"),
        (with(&|b| b["method"] = json!("card")), "payment_method"),
        (
            with(&|b| b["payment_method"] = json!("tok_visa")),
            "payment_method",
        ),
        (with(&|b| b["check_number"] = json!("1001")), "check_number"),
    ];
    for (i, (body, field)) in cases.into_iter().enumerate() {
        let r = pay(&t, &format!("bad-{i}"), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        let (_, got) = error_of(&r);
        assert_eq!(got, field, "{body}: {}", r.body);
        assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
    }
    // An unknown field, a missing one: 4xx, not 500.
    let r = pay(&t, "bad-x", with(&|b| b["tip"] = json!(100))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = pay(&t, "bad-y", json!({"customer_id": c, "method": "cash"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = post_as(
        &t,
        &t.api_key,
        "/api/v1/payments",
        Some("bad-z"),
        None::<Value>,
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.body);

    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_attempts").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 5000);

    // A paid invoice: 409.
    let r = pay(&t, "ok", good.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = pay(&t, "again-other-key", good).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(error_of(&r).0, "invoice_not_payable");
}

#[tokio::test]
async fn another_companys_ids_are_not_found() {
    let t = TestApp::new().await;
    let other = t.other_company().await;
    let (c, inv) = customer_with_invoices(&t, "Mine Mina", &[3000]).await;
    // The other company's customer, invoice and payment.
    let oc = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Theirs Theo"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/properties",
            Some(json!({"address": "9 Far Rd", "resident_customer_id": oc})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let oi = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": op, "due_date": t.day(30),
                "lines": [{"description": "Spray", "quantity": 1, "unit_price": 3000}]})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = post_as(
        &t,
        &other,
        "/api/v1/payments",
        Some("theirs"),
        Some(cash(&oc, 1000, &[(&oi, 1000)])),
    )
    .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    let opay = theirs.json()["id"].as_str().unwrap().to_string();

    // Their customer, their invoice for my customer: 404.
    let r = pay(&t, "x1", cash(&oc, 1000, &[(&oi, 1000)])).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = pay(&t, "x2", cash(&c, 1000, &[(&oi, 1000)])).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let mut card = cash(&c, 1000, &[(&oi, 1000)]);
    card["method"] = json!("card");
    card["payment_method"] = json!(t.card("4242424242424242").await);
    let r = pay(&t, "x3", card).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // Their payment: not readable, not refundable.
    let r = t
        .api(Method::GET, &format!("/api/v1/payments/{opay}"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = refund(&t, &opay, "x4", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // Their invoice: not voidable, not editable.
    let r = post_as(
        &t,
        &t.api_key,
        &format!("/api/v1/invoices/{oi}/void"),
        None,
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = t
        .api(
            Method::PATCH,
            &format!("/api/v1/invoices/{oi}"),
            Some(json!({"due_date": t.day(40)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // Nothing of theirs changed; mine untouched.
    assert_eq!(
        t.api_with_key(&other, Method::GET, &format!("/api/v1/invoices/{oi}"), None)
            .await
            .json()["balance"],
        2000
    );
    assert_eq!(t.balance(&inv[0]).await, 3000);
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 0);
}

#[tokio::test]
async fn a_key_answers_as_first_and_is_not_reused_for_another_payment() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Rita Replay", &[7000, 7000]).await;
    let body = cash(&c, 3000, &[(&inv[0], 3000)]);
    let first = pay(&t, "same-key", body.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = pay(&t, "same-key", body.clone()).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body, first.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 4000);

    // A refund later does not change what the key answers.
    let id = first.json()["id"].as_str().unwrap().to_string();
    let r = refund(&t, &id, "refund-a", Some(json!({"amount": 1000}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let again = pay(&t, "same-key", body).await;
    assert_eq!(again.body, first.body);

    // The key for another payment: refused, nothing written.
    for other in [
        cash(&c, 3000, &[(&inv[1], 3000)]),
        cash(&c, 2000, &[(&inv[0], 2000)]),
        json!({"customer_id": c, "method": "check", "check_number": "7", "amount": 3000,
               "allocations": [{"invoice_id": inv[0], "amount": 3000}]}),
        json!({"customer_id": c, "method": "card", "payment_method": t.card("4242424242424242").await,
               "amount": 3000, "allocations": [{"invoice_id": inv[0], "amount": 3000}]}),
    ] {
        let r = pay(&t, "same-key", other).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(error_of(&r).0, "idempotency_key_reused");
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[1]).await, 7000);
}

#[tokio::test]
async fn concurrent_identical_payments_make_one() {
    let t = Arc::new(TestApp::new().await);
    let (c, inv) = customer_with_invoices(&t, "Ivy Impatient", &[9000, 9000]).await;
    let card = t.card("4242424242424242").await;
    let bodies = [
        ("cash-race", cash(&c, 9000, &[(&inv[0], 9000)])),
        (
            "card-race",
            json!({"customer_id": c, "method": "card", "payment_method": card, "amount": 9000,
                   "allocations": [{"invoice_id": inv[1], "amount": 9000}]}),
        ),
    ];
    for (key, body) in bodies {
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (t, body) = (t.clone(), body.clone());
            tasks.push(tokio::spawn(async move { pay(&t, key, body).await }));
        }
        let mut bodies_seen = Vec::new();
        for task in tasks {
            let r = task.await.unwrap();
            match r.status {
                StatusCode::CREATED => bodies_seen.push(r.body),
                StatusCode::CONFLICT => assert_eq!(error_of(&r).0, "idempotency_in_progress"),
                other => panic!("{key}: unexpected {other}: {}", r.body),
            }
        }
        assert!(!bodies_seen.is_empty(), "{key}");
        assert!(bodies_seen.iter().all(|b| *b == bodies_seen[0]), "{key}");
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 2);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
}

#[tokio::test]
async fn refunds_reopen_balances_and_never_exceed_what_is_left() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Rex Refund", &[6000, 4000]).await;
    let r = pay(
        &t,
        "pay-r",
        cash(&c, 10000, &[(&inv[0], 6000), (&inv[1], 4000)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();

    // No key: 400; a float, more than was paid: 422 on amount.
    let path = format!("/api/v1/payments/{payment}/refunds");
    let r = post_as(&t, &t.api_key, &path, None, Some(json!({"amount": 100}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(error_of(&r).0, "idempotency_key_required");
    for (i, bad) in [
        json!({"amount": 10.5}),
        json!({"amount": 10001}),
        json!({"amount": 0}),
    ]
    .into_iter()
    .enumerate()
    {
        let r = refund(&t, &payment, &format!("bad-{i}"), Some(bad)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(error_of(&r).1, "amount");
    }
    let r = refund(&t, &payment, "bad-x", Some(json!({"amount": 1, "tip": 1}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 0);

    // Part of it: the last invoice paid reopens first.
    let first = refund(&t, &payment, "refund-1", Some(json!({"amount": 2500}))).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let f = first.json();
    assert_eq!(f["payment_id"], payment.as_str());
    assert_eq!(f["amount"], 2500);
    assert_eq!(f["status"], "succeeded");
    assert!(f["id"].as_str().unwrap().starts_with("ref_"));
    assert_eq!(t.balance(&inv[1]).await, 2500);
    assert_eq!(t.invoice_json(&inv[1]).await["status"], "open");
    assert_eq!(t.balance(&inv[0]).await, 0);
    // Replayed: the same answer, one refund.
    let again = refund(&t, &payment, "refund-1", Some(json!({"amount": 2500}))).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body));
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);
    // The key for another amount: refused.
    let reused = refund(&t, &payment, "refund-1", Some(json!({"amount": 100}))).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&reused).0, "idempotency_key_reused");
    // More than is left now.
    let r = refund(&t, &payment, "refund-2", Some(json!({"amount": 7501}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_of(&r).1, "amount");
    // No amount (and no body): what is left.
    let rest = refund(&t, &payment, "refund-3", None).await;
    assert_eq!(rest.status, StatusCode::CREATED, "{}", rest.body);
    assert_eq!(rest.json()["amount"], 7500);
    assert_eq!(t.balance(&inv[0]).await, 6000);
    assert_eq!(t.balance(&inv[1]).await, 4000);
    let r = refund(&t, &payment, "refund-4", Some(json!({}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    let got = t
        .api(Method::GET, &format!("/api/v1/payments/{payment}"), None)
        .await
        .json();
    assert_eq!(got["status"], "refunded");
    assert_eq!(got["refunded"], 10000);
    let refunds = got["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0]["amount"], 2500);
    assert_eq!(refunds[0]["status"], "succeeded");
    let refund_id = refunds[0]["id"].as_str().unwrap();
    assert_eq!(audit_actors(&t, "refund.created", refund_id).await, ["api"]);
}

#[tokio::test]
async fn a_card_payment_is_refunded_at_the_processor() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Cora Cardback", &[5000]).await;
    let card = t.card("4242424242424242").await;
    let r = pay(
        &t,
        "card-pay",
        json!({"customer_id": c, "method": "card", "payment_method": card, "amount": 5000,
               "allocations": [{"invoice_id": inv[0], "amount": 5000}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let r = refund(&t, &payment, "card-refund", Some(json!({"amount": 1500}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["status"], "succeeded");
    assert_eq!(t.balance(&inv[0]).await, 1500);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1
    );
}

#[tokio::test]
async fn concurrent_identical_refunds_make_one() {
    let t = Arc::new(TestApp::new().await);
    let (c, inv) = customer_with_invoices(&t, "Rae Race", &[8000]).await;
    let card = t.card("4242424242424242").await;
    let r = pay(
        &t,
        "card-for-refund",
        json!({"customer_id": c, "method": "card", "payment_method": card, "amount": 8000,
               "allocations": [{"invoice_id": inv[0], "amount": 8000}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (t, payment) = (t.clone(), payment.clone());
        tasks.push(tokio::spawn(async move {
            refund(&t, &payment, "one-refund", Some(json!({"amount": 3000}))).await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::CREATED => ids.push(r.json()["id"].as_str().unwrap().to_string()),
            StatusCode::CONFLICT => assert_eq!(error_of(&r).0, "idempotency_in_progress"),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert!(!ids.is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1
    );
    assert_eq!(t.balance(&inv[0]).await, 3000);
}
