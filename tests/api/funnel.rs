//! The collections funnel: `GET /api/v1/reports/collections` and the
//! dashboard's section. A message with a link sent, the link opened, the
//! invoice paid: counted once in each column; late payments and opens
//! without a message are not.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp, customer_with_invoices};

async fn email_template(t: &TestApp) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(
                json!({"name": "Friendly reminder", "subject": "Invoice {{ invoice_number }}",
                        "html_body": "<p>{{ invoice_total }} {{ email_payment_link }}</p>"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Sends the invoice by email with the template and delivers it now.
async fn send_and_deliver(t: &TestApp, invoice: &str, template: &str) {
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/invoices/{invoice}/send"),
            Some(json!({"channel": "email", "template_id": template})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let report = fieldpay::app::messages::deliver_due(
        &t.app,
        t.app.clock.now(),
        fieldpay::app::messages::render_stored,
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
}

/// Opens the customer's pay page and waits for the open to be noted (it
/// is written off the request path).
async fn open_link(t: &TestApp, token: &str) {
    let before = t.count("SELECT COUNT(*) FROM link_opens").await;
    let r = t.get(&format!("/pay/{token}")).await;
    assert_eq!(r.status, StatusCode::OK);
    for _ in 0..200 {
        if t.count("SELECT COUNT(*) FROM link_opens").await > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the open was never noted");
}

async fn pay(t: &TestApp, token: &str, invoice: &str, key: &str) {
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            token,
            key,
            json!({"invoice_ids": [invoice], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn report(t: &TestApp, from: i64, to: i64) -> Value {
    let r = t
        .api(
            Method::GET,
            &format!(
                "/api/v1/reports/collections?from={}&to={}",
                t.day(from),
                t.day(to)
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn counts(line: &Value) -> (i64, i64, i64, i64) {
    (
        line["sent"].as_i64().unwrap(),
        line["opened"].as_i64().unwrap(),
        line["paid"].as_i64().unwrap(),
        line["paid_amount"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_message_opened_and_paid_counts_once_in_each_column() {
    let t = TestApp::new().await;
    let template = email_template(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Lena Funnel", &[4500]).await;
    let token = t.token(&c).await;
    send_and_deliver(&t, &inv[0], &template).await;
    open_link(&t, &token).await;
    // Opened again within the hour: still one open.
    assert_eq!(t.get(&format!("/pay/{token}")).await.status, StatusCode::OK);
    pay(&t, &token, &inv[0], "funnel-pay-1").await;

    let r = report(&t, -1, 0).await;
    assert_eq!(r["from"], t.day(-1));
    assert_eq!(r["to"], t.day(0));
    let data = r["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{r}");
    assert_eq!(data[0]["channel"], "email");
    assert_eq!(data[0]["template_id"], template);
    assert_eq!(counts(&data[0]), (1, 1, 1, 4500));

    // A range before the message holds nothing.
    let r = report(&t, -10, -2).await;
    assert_eq!(r["data"], json!([]));

    // The link's token is never stored with the open.
    let stored = crate::support::stored_bytes(&t).await;
    for (table, bytes) in stored {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&token),
            "{table} holds the token"
        );
    }
}

#[tokio::test]
async fn a_payment_twenty_days_later_is_not_attributed() {
    let t = TestApp::starting_at(OffsetDateTime::now_utc()).await;
    let template = email_template(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Late Payer", &[9900]).await;
    let token = t.token(&c).await;
    send_and_deliver(&t, &inv[0], &template).await;
    t.app.clock.advance(time::Duration::days(20));
    open_link(&t, &token).await;
    pay(&t, &token, &inv[0], "funnel-late-1").await;

    let data = report(&t, -25, 0).await["data"].clone();
    assert_eq!(data.as_array().unwrap().len(), 1, "{data}");
    // Opened before any next message: counted; paid after 14 days: not.
    assert_eq!(counts(&data[0]), (1, 1, 0, 0));
}

#[tokio::test]
async fn opens_without_a_message_are_not_counted() {
    let t = TestApp::starting_at(OffsetDateTime::now_utc()).await;
    let template = email_template(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Early Opener", &[1200, 3400]).await;
    let token = t.token(&c).await;
    open_link(&t, &token).await;
    pay(&t, &token, &inv[0], "funnel-early-1").await;
    assert_eq!(report(&t, -1, 0).await["data"], json!([]));

    // A message after the open and the payment: sent, neither opened nor paid.
    t.app.clock.advance(time::Duration::minutes(5));
    send_and_deliver(&t, &inv[1], &template).await;
    let data = report(&t, -1, 0).await["data"].clone();
    assert_eq!(counts(&data[0]), (1, 0, 0, 0));

    // Another company's report sees none of it.
    let other = t.other_company().await;
    let r = t
        .api_with_key(&other, Method::GET, "/api/v1/reports/collections", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["data"], json!([]));
}

#[tokio::test]
async fn bad_ranges_say_what_to_fix() {
    let t = TestApp::new().await;
    for (query, field) in [
        (&format!("from={}", t.no_such_month()) as &str, "from"),
        ("to=yesterday", "to"),
        (&format!("from={}&to={}", t.day(0), t.day(-1)) as &str, "to"),
        (&format!("from={}&to={}", t.day(-400), t.day(0)), "to"),
    ] {
        let r = t
            .api(
                Method::GET,
                &format!("/api/v1/reports/collections?{query}"),
                None,
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], field, "{query}");
    }
    let r = t
        .request(Method::GET, "/api/v1/reports/collections", &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Without a range: the last 30 days.
    let r = t
        .api(Method::GET, "/api/v1/reports/collections", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        (r.json()["from"].clone(), r.json()["to"].clone()),
        (json!(t.day(-29)), json!(t.day(0)))
    );
}

#[tokio::test]
async fn the_dashboard_shows_the_funnel_with_its_chart() {
    let t = TestApp::new().await;
    let template = email_template(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Chart <Customer>", &[2500]).await;
    let token = t.token(&c).await;
    send_and_deliver(&t, &inv[0], &template).await;
    open_link(&t, &token).await;
    pay(&t, &token, &inv[0], "funnel-chart-1").await;

    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let r = o.get(&t, "/office/dashboard").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Collections funnel"), "{}", r.body);
    let title = r.body.split("</title>").next().unwrap();
    assert!(!title.contains("funnel"), "the page title: {title}");
    assert!(r.body.contains("Friendly reminder"));
    assert!(r.body.contains("1 sent, 1 opened, 1 paid"), "{}", r.body);
    assert!(r.body.contains("$25.00"));
    // A range with nothing, and a bad range shown beside the form.
    let r = o
        .get(
            &t,
            &format!("/office/dashboard?from={}&to={}", t.day(-9), t.day(-2)),
        )
        .await;
    assert!(
        r.body
            .contains("No messages with a payment link were sent in this range.")
    );
    let r = o
        .get(
            &t,
            &format!("/office/dashboard?from={}&to={}", t.day(0), t.day(-3)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("to is before from"), "{}", r.body);
}
