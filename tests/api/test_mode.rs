//! Test mode cannot be mistaken for live: while a company takes payments
//! through the sandbox (or Stripe test keys), its pages, receipts, emails,
//! SMS and the office header say so; going live takes live keys and a
//! confirmation.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp, customer_with_invoices};

const BANNER: &str = "Test mode — no money moves";

/// Stripe with live keys, confirmed: the company is live.
async fn go_live(t: &TestApp) {
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({
                "kind": "stripe",
                "secret_key": "sk_live_abcdefghijklmnop1234",
                "publishable_key": "pk_live_abcdefghijklmnop1234",
                "webhook_secret": "whsec_abcdefghijklmnop1234",
                "confirm_live": true
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn a_sandbox_company_says_test_mode_on_every_page_it_shows() {
    let t = TestApp::new().await;
    let (customer, invoices) = customer_with_invoices(&t, "Lena Landlord", &[14900]).await;
    let token = t.token(&customer).await;

    let data = t.get(&format!("/api/v1/pay/{token}")).await;
    assert_eq!(data.status, StatusCode::OK);
    assert_eq!(data.json()["mode"], "test");
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(page.body.contains(BANNER), "{}", page.body);

    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "k-test-mode",
            json!({"invoice_ids": invoices, "payment_method": card}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    let id = paid.json()["id"].as_str().unwrap().to_string();
    let receipt = t.get(&format!("/pay/{token}/receipts/{id}")).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert!(receipt.body.contains(BANNER), "{}", receipt.body);
    let autopay = t.get(&format!("/pay/{token}/autopay")).await;
    assert!(autopay.body.contains(BANNER), "{}", autopay.body);

    let office = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let dash = office.get(&t, "/office/dashboard").await;
    assert!(dash.body.contains(BANNER), "{}", dash.body);
    assert!(
        dash.body
            .contains("href=\"/office/settings/processor\">Go live")
    );
    let settings = office.get(&t, "/office/settings/processor").await;
    assert!(
        settings
            .body
            .contains("no card is charged and no money moves")
    );
    assert!(settings.body.contains("real cards are charged"));

    // Live: no banner anywhere, and the page data says so.
    go_live(&t).await;
    let data = t.get(&format!("/api/v1/pay/{token}")).await;
    assert_eq!(data.json()["mode"], "live");
    let receipt = t.get(&format!("/pay/{token}/receipts/{id}")).await;
    assert!(!receipt.body.contains(BANNER));
    let dash = office.get(&t, "/office/dashboard").await;
    assert!(!dash.body.contains(BANNER));
}

#[tokio::test]
async fn stripe_test_keys_are_test_mode_too() {
    let t = TestApp::new().await;
    let (customer, _) = customer_with_invoices(&t, "Tess Tester", &[5000]).await;
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({
                "kind": "stripe",
                "secret_key": "sk_test_abcdefghijklmnop1234",
                "publishable_key": "pk_test_abcdefghijklmnop1234",
                "webhook_secret": "whsec_abcdefghijklmnop1234"
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = t.token(&customer).await;
    assert_eq!(
        t.get(&format!("/api/v1/pay/{token}")).await.json()["mode"],
        "test"
    );
    assert!(t.get(&format!("/pay/{token}")).await.body.contains(BANNER));
}

#[tokio::test]
async fn going_live_takes_live_keys_and_a_confirmation() {
    let t = TestApp::new().await;
    let live = json!({
        "kind": "stripe",
        "secret_key": "sk_live_abcdefghijklmnop1234",
        "publishable_key": "pk_live_abcdefghijklmnop1234",
        "webhook_secret": "whsec_abcdefghijklmnop1234"
    });
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(live.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "confirm_live_required");
    assert_eq!(r.json()["error"]["field"], "confirm_live");
    // A live publishable key with a test secret key is not live.
    let mut mixed = live.clone();
    mixed["secret_key"] = json!("sk_test_abcdefghijklmnop1234");
    mixed["confirm_live"] = json!(true);
    let r = t
        .api(Method::PUT, "/api/v1/settings/processor", Some(mixed))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "publishable_key");
    // Nothing was stored: still the sandbox.
    let (customer, _) = customer_with_invoices(&t, "Still Testing", &[5000]).await;
    let token = t.token(&customer).await;
    assert_eq!(
        t.get(&format!("/api/v1/pay/{token}")).await.json()["mode"],
        "test"
    );

    // The office form: without the box ticked it asks, with it the company is live.
    let office = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let fields = [
        ("kind", "stripe"),
        ("secret_key", "sk_live_abcdefghijklmnop1234"),
        ("publishable_key", "pk_live_abcdefghijklmnop1234"),
        ("webhook_secret", "whsec_abcdefghijklmnop1234"),
    ];
    let r = office.post(&t, "/office/settings/processor", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("Confirm that you want to go live"),
        "{}",
        r.body
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("confirm_live", "1"));
    let r = office
        .post(&t, "/office/settings/processor", &confirmed)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        t.get(&format!("/api/v1/pay/{token}")).await.json()["mode"],
        "live"
    );
    // Once live, saving again does not ask again.
    let r = t
        .api(Method::PUT, "/api/v1/settings/processor", Some(live))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn messages_sent_in_test_mode_say_so_and_live_ones_do_not() {
    let t = TestApp::new().await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(
                json!({"name": "Sam Sender", "email": "sam@example.com", "phone": "+15125550142"}),
            ),
        )
        .await;
    let customer = r.json()["id"].as_str().unwrap().to_string();
    let email = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Link", "subject": "Your link", "html_body": "<html><body><p>Hi {{ customer_first_name }}</p>{{ email_payment_link }}</body></html>"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sms = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Link", "body": "Pay here: {{ sms_payment_link }}"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let send = |channel: &'static str, tpl: String| {
        let t = &t;
        let customer = customer.clone();
        async move {
            let r = t
                .api(
                    Method::POST,
                    &format!("/api/v1/customers/{customer}/send-link"),
                    Some(json!({"channel": channel, "template_id": tpl})),
                )
                .await;
            assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        }
    };
    send("email", email.clone()).await;
    send("sms", sms.clone()).await;
    let report = fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    assert_eq!(report.delivered.sent, 2, "{:?}", report.delivered);
    let eml = t.spool(".eml").join("\n");
    assert!(eml.contains("Test mode"), "{eml}");
    let texts = t.spool(".txt");
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].contains("\n\nTest mode - no money moves. Pay here: "),
        "{}",
        texts[0]
    );
    // The preview shows what is sent, banner included.
    let preview = t
        .api(
            Method::GET,
            &format!("/api/v1/sms-templates/{sms}/preview?customer_id={customer}"),
            None,
        )
        .await;
    assert!(
        preview.json()["body"]
            .as_str()
            .unwrap()
            .starts_with("Test mode - no money moves.")
    );

    go_live(&t).await;
    send("sms", sms).await;
    // A second send of the same link is a new message (new cause).
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let texts = t.spool(".txt");
    assert!(
        texts
            .iter()
            .any(|s| s.contains("\n\nPay here: ") && !s.contains("Test mode")),
        "{texts:?}"
    );
}
