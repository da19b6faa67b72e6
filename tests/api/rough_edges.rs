//! Small things a new office trips over: a new invoice for a customer with
//! one property, reading a message's body, and a receipt page that says
//! whether the receipt was emailed.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp, customer_with_invoices};

#[tokio::test]
async fn a_new_invoice_for_a_customer_with_one_property_preselects_it_and_saves_first_time() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let c = t.customer("Una Onehouse").await;
    let p = t.property("7 Single St", &c, None).await;
    let page = o
        .get(&t, &format!("/office/invoices/new?customer_id={c}"))
        .await
        .body;
    assert!(
        page.contains(&format!("<option value=\"{p}\" selected>")),
        "{page}"
    );
    // Submitting the form as it opened, with one line typed, creates the invoice.
    let issue = t.day(0);
    let due = t.day(30);
    let r = o
        .post(
            &t,
            "/office/invoices",
            &[
                ("customer_id", c.as_str()),
                ("property_id", p.as_str()),
                ("issue_date", issue.as_str()),
                ("due_date", due.as_str()),
                ("description", "Ant treatment"),
                ("quantity", "1"),
                ("unit_price", "89.00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn messages_open_to_their_body_sms_included() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Tex Texter", "phone": "+15125550142"})),
        )
        .await;
    let customer = r.json()["id"].as_str().unwrap().to_string();
    let tpl = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Hello", "body": "Hello {{ customer_first_name }}, pay at {{ sms_payment_link }}"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{customer}/send-link"),
            Some(json!({"channel": "sms", "template_id": tpl})),
        )
        .await;
    let id = r.json()["data"][0]["id"].as_str().unwrap().to_string();
    let page = o.get(&t, &format!("/office/messages/{id}")).await.body;
    assert!(page.contains("Not sent yet"), "{page}");
    let list = o.get(&t, "/office/messages").await.body;
    assert!(list.contains("Read the text message"), "{list}");
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let page = o.get(&t, &format!("/office/messages/{id}")).await.body;
    assert!(page.contains("id=\"message-body\""));
    assert!(page.contains("Hello Tex, pay at"), "{page}");
    // An id that is not one of the company's messages is a 404.
    assert_eq!(
        o.get(&t, "/office/messages/msg_not_ours").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn the_receipt_page_says_whether_a_receipt_was_emailed() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Rae Receipt", &[3000, 4000]).await;
    let token = t.token(&c).await;
    let pay = |key: &'static str, invoice: String| {
        let (t, token) = (&t, token.clone());
        async move {
            let card = t.card("4242424242424242").await;
            let r = t
                .pay(
                    &token,
                    key,
                    json!({"invoice_ids": [invoice], "payment_method": card}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            r.json()["id"].as_str().unwrap().to_string()
        }
    };
    // No receipt template chosen: none is emailed, and the page says so.
    let first = pay("k-receipt-1", inv[0].clone()).await;
    let page = t.get(&format!("/pay/{token}/receipts/{first}")).await.body;
    assert!(page.contains("No receipt was emailed"), "{page}");

    // Receipts on: queued, then sent.
    let tpl = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Receipt", "subject": "Receipt", "html_body": "<p>Thanks for {{ payment_amount }}</p>"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/receipts",
            Some(json!({"email_template_id": tpl})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let second = pay("k-receipt-2", inv[1].clone()).await;
    let page = t.get(&format!("/pay/{token}/receipts/{second}")).await.body;
    assert!(
        page.contains("A receipt is on its way to your email."),
        "{page}"
    );
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let page = t.get(&format!("/pay/{token}/receipts/{second}")).await.body;
    assert!(page.contains("A receipt was emailed to you."), "{page}");
}
