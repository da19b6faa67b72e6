//! Every new company starts with templates, an alert schedule and receipts
//! on, so that sending works on day one; all of it editable and removable.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

/// A company made as `fieldpay company create` makes it; its API key.
async fn new_company(t: &TestApp, email: &str) -> String {
    fieldpay::app::setup::create_company(
        &t.app.db,
        &crate::common::test_company(),
        email,
        crate::support::OWNER_PASSWORD,
    )
    .await
    .unwrap()
    .api_key
}

async fn list(t: &TestApp, key: &str, path: &str) -> Vec<Value> {
    let r = t.api_with_key(key, Method::GET, path, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_new_company_has_templates_a_schedule_and_receipts() {
    let t = TestApp::new().await;
    let key = new_company(&t, "starter@example.com").await;

    let emails = list(&t, &key, "/api/v1/email-templates").await;
    let names: Vec<&str> = emails.iter().map(|e| e["name"].as_str().unwrap()).collect();
    for name in ["New invoice", "Payment reminder", "Payment receipt"] {
        assert!(names.contains(&name), "{names:?}");
    }
    let by_name = |n: &str| emails.iter().find(|e| e["name"] == n).unwrap().clone();
    for n in ["New invoice", "Payment reminder"] {
        let e = by_name(n);
        let html = e["html_body"].as_str().unwrap();
        assert!(html.contains("{{ email_payment_link }}"), "{n}");
        // The bulletproof button: VML for Outlook, a styled link elsewhere.
        assert!(html.contains("<v:roundrect") && html.contains("<!--[if mso]>"));
        assert!(html.contains("{{ company_accent_color }}") && html.contains("company_logo_url"));
        assert!(
            e["text_body"]
                .as_str()
                .unwrap()
                .contains("{{ sms_payment_link }}")
        );
    }
    assert_eq!(by_name("Payment reminder")["default"], true);

    let sms = list(&t, &key, "/api/v1/sms-templates").await;
    assert_eq!(sms.len(), 2, "{sms:?}");
    let reminder = sms
        .iter()
        .find(|s| {
            s["body"]
                .as_str()
                .unwrap()
                .contains("{{ sms_payment_link }}")
        })
        .expect("an SMS reminder with the link");
    assert_eq!(reminder["default"], true);
    assert_eq!(reminder["encoding"], "gsm7");

    let rules = list(&t, &key, "/api/v1/invoice-alerts").await;
    let schedule: Vec<(String, i64)> = rules
        .iter()
        .map(|r| {
            (
                r["timing"].as_str().unwrap().to_string(),
                r["days_after_due"].as_i64().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("at_creation", 0),
        ("before_due", 3),
        ("after_due", 3),
        ("after_due", 14),
        ("after_due", 30),
    ] {
        assert!(
            schedule.contains(&(expected.0.to_string(), expected.1)),
            "{expected:?} in {schedule:?}"
        );
    }
    assert!(rules.iter().all(|r| r["enabled"] == true));

    let receipts = t
        .api_with_key(&key, Method::GET, "/api/v1/settings/receipts", None)
        .await;
    assert_eq!(receipts.status, StatusCode::OK);
    assert_eq!(
        receipts.json()["email_template_id"],
        by_name("Payment receipt")["id"]
    );

    // Editable and removable like anything else (a template once no rule uses it).
    let id = by_name("New invoice")["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            &key,
            Method::PUT,
            &format!("/api/v1/email-templates/{id}"),
            Some(json!({"name": "New invoice", "subject": "Invoice {{ invoice_number }}", "html_body": "<p>{{ email_payment_link }}</p>"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for rule in &rules {
        let rule = rule["id"].as_str().unwrap();
        let r = t
            .api_with_key(
                &key,
                Method::DELETE,
                &format!("/api/v1/invoice-alerts/{rule}"),
                None,
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    let r = t
        .api_with_key(
            &key,
            Method::DELETE,
            &format!("/api/v1/email-templates/{id}"),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
}

#[tokio::test]
async fn setup_in_the_browser_starts_with_the_same_content() {
    let t = TestApp::empty().await;
    let r = crate::setup::sign_up(
        &t,
        "/setup",
        &crate::setup::company("Fresh Pest", "fresh@example.com"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 3);
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_templates").await, 2);
    assert_eq!(t.count("SELECT COUNT(*) FROM invoice_alerts").await, 5);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM receipt_settings WHERE email_template_id IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn a_payment_in_a_new_company_emails_a_branded_receipt() {
    let t = TestApp::new().await;
    let key = new_company(&t, "receipts@example.com").await;
    let api = |m: Method, p: String, b: Option<Value>| {
        let (t, key) = (&t, key.clone());
        async move { t.api_with_key(&key, m, &p, b).await }
    };
    let c = api(
        Method::POST,
        "/api/v1/customers".into(),
        Some(json!({"name": "Rita Receipt", "email": "rita@example.com"})),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let p = api(
        Method::POST,
        "/api/v1/properties".into(),
        Some(json!({"address": "9 Elm St", "resident_customer_id": c})),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let inv = api(
        Method::POST,
        "/api/v1/invoices".into(),
        Some(json!({"property_id": p, "due_date": t.day(20), "lines": [{"description": "Termite inspection", "quantity": 1, "unit_price": 9900}]})),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let link = api(
        Method::GET,
        format!("/api/v1/customers/{c}/payment-link"),
        None,
    )
    .await
    .json()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let token = link.rsplit('/').next().unwrap().to_string();
    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "k-receipt",
            json!({"invoice_ids": [inv], "payment_method": card}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    fieldpay::app::messages::deliver_due(
        &t.app,
        t.app.clock.now(),
        fieldpay::app::messages::render_stored,
    )
    .await
    .unwrap();
    let emails = t.spool(".eml");
    let receipt = emails
        .iter()
        .find(|e| e.contains("Receipt:"))
        .unwrap_or_else(|| panic!("no receipt in {emails:?}"));
    assert!(receipt.contains("rita@example.com"));
    assert!(receipt.contains("$99.00"), "{receipt}");
    assert!(receipt.contains("Test mode"), "{receipt}");
}

#[tokio::test]
async fn a_new_company_s_starter_templates_all_speak_spanish() {
    let t = TestApp::new().await;
    let key = new_company(&t, "espanol@example.com").await;
    let emails = list(&t, &key, "/api/v1/email-templates").await;
    assert_eq!(emails.len(), 3);
    for e in &emails {
        let es = &e["translations"]["es"];
        assert!(es["subject"].as_str().is_some_and(|s| !s.is_empty()), "{e}");
        assert!(
            es["html_body"]
                .as_str()
                .unwrap()
                .contains("<html lang=\"es\">"),
            "{e}"
        );
        assert!(
            es["text_body"].as_str().unwrap().starts_with("Hola "),
            "{e}"
        );
    }
    let sms = list(&t, &key, "/api/v1/sms-templates").await;
    assert_eq!(sms.len(), 2);
    for s in &sms {
        let body = s["translations"]["es"]["body"].as_str().unwrap_or("");
        assert!(body.contains("{{ company_name }}"), "{s}");
    }
}
