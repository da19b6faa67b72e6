//! The office Invoice Alerts page: alert rules (add, refuse, edit, toggle,
//! delete with confirmation) and the receipt templates.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp};

const BASE: &str = "/office/settings/invoice-alerts";

async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

async fn template(t: &TestApp, key: &str, kind: &str, name: &str) -> String {
    let body = if kind == "email" {
        json!({"name": name, "subject": "Balance", "html_body": "<p>{{ customer_name }}</p>"})
    } else {
        json!({"name": name, "body": "Pay {{ sms_payment_link }}"})
    };
    let path = format!("/api/v1/{kind}-templates");
    let r = t.api_with_key(key, Method::POST, &path, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn alerts_json(t: &TestApp) -> serde_json::Value {
    let r = t.api(Method::GET, "/api/v1/invoice-alerts", None).await;
    assert_eq!(r.status, StatusCode::OK);
    r.json()["data"].clone()
}

#[tokio::test]
async fn add_edit_toggle_and_delete_an_alert() {
    let t = TestApp::new().await;
    let key = t.api_key.clone();
    let o = office(&t).await;
    let email = template(&t, &key, "email", "Friendly reminder").await;
    let sms = template(&t, &key, "sms", "Text nudge").await;

    let page = o.get(&t, BASE).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Add Invoice Alert"));
    assert!(page.body.contains("after 9:00"));
    assert!(page.body.contains("aria-current=\"page\">Invoice Alerts"));

    // No template: refused next to the field, typed values kept, nothing written.
    let r = o
        .post(
            &t,
            &format!("{BASE}/new"),
            &[("timing", "before_due"), ("days", "17"), ("enabled", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("Choose an email template, an SMS template, or both.")
    );
    assert!(r.body.contains("value=\"17\""));
    assert!(r.body.contains("value=\"before_due\" checked"));
    assert_eq!(alerts_json(&t).await, json!([]));

    // Days out of range.
    let r = o
        .post(
            &t,
            &format!("{BASE}/new"),
            &[
                ("email_template_id", &email),
                ("timing", "after_due"),
                ("days", "400"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("from 0 to 365"));
    assert_eq!(alerts_json(&t).await, json!([]));

    // Added through the form.
    let r = o
        .post(
            &t,
            &format!("{BASE}/new"),
            &[
                ("email_template_id", &email),
                ("sms_template_id", ""),
                ("timing", "after_due"),
                ("days", "3"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let data = alerts_json(&t).await;
    assert_eq!(data.as_array().unwrap().len(), 1);
    let id = data[0]["id"].as_str().unwrap().to_string();
    assert_eq!(data[0]["email_template_id"], json!(email));
    assert_eq!(data[0]["sms_template_id"], json!(null));
    assert_eq!(data[0]["days_after_due"], json!(3));
    assert_eq!(data[0]["enabled"], json!(true));
    let page = o.get(&t, BASE).await;
    assert!(page.body.contains("Friendly reminder"));
    assert!(page.body.contains("3 days after the due date"));
    assert!(page.body.contains("Enabled"));

    // Edit: SMS too, 2 days before.
    let edit = o.get(&t, &format!("{BASE}/{id}/edit")).await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains(&format!("value=\"{email}\" selected")));
    let r = o
        .post(
            &t,
            &format!("{BASE}/{id}/edit"),
            &[
                ("email_template_id", &email),
                ("sms_template_id", &sms),
                ("timing", "before_due"),
                ("days", "2"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let data = alerts_json(&t).await;
    assert_eq!(data[0]["sms_template_id"], json!(sms));
    assert_eq!(data[0]["timing"], json!("before_due"));
    let page = o.get(&t, BASE).await;
    assert!(page.body.contains("2 days before the due date"));
    assert!(page.body.contains("Text nudge"));

    // Toggle off, then on.
    let r = o.post(&t, &format!("{BASE}/{id}/toggle"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(alerts_json(&t).await[0]["enabled"], json!(false));
    assert!(o.get(&t, BASE).await.body.contains("Disabled"));
    let r = o.post(&t, &format!("{BASE}/{id}/toggle"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(alerts_json(&t).await[0]["enabled"], json!(true));

    // A POST without the CSRF token changes nothing.
    let r = o
        .post(&t, &format!("{BASE}/{id}/toggle"), &[("csrf", "wrong")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(alerts_json(&t).await[0]["enabled"], json!(true));

    // Delete asks first, then deletes.
    let confirm = o.get(&t, &format!("{BASE}/{id}/delete")).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Delete this invoice alert?"));
    assert!(confirm.body.contains("2 days before the due date"));
    assert_eq!(alerts_json(&t).await.as_array().unwrap().len(), 1);
    let r = o.post(&t, &format!("{BASE}/{id}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(alerts_json(&t).await, json!([]));
    let audited = t
        .count("SELECT count(*) FROM audit_log WHERE action LIKE 'invoice_alert.%'")
        .await;
    assert_eq!(audited, 5);
}

#[tokio::test]
async fn receipt_templates_are_saved() {
    let t = TestApp::new().await;
    let key = t.api_key.clone();
    let o = office(&t).await;
    let email = template(&t, &key, "email", "Thanks for paying").await;
    let sms = template(&t, &key, "sms", "Paid text").await;
    let page = o.get(&t, BASE).await;
    assert!(page.body.contains("Send a receipt after each payment"));
    let r = o
        .post(
            &t,
            &format!("{BASE}/receipts"),
            &[("email_template_id", &email), ("sms_template_id", &sms)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = t.api(Method::GET, "/api/v1/settings/receipts", None).await;
    assert_eq!(
        r.json(),
        json!({"email_template_id": email, "sms_template_id": sms})
    );
    let page = o.get(&t, BASE).await;
    assert!(page.body.contains(&format!("value=\"{sms}\" selected")));

    // Clearing the SMS receipt.
    let r = o
        .post(
            &t,
            &format!("{BASE}/receipts"),
            &[("email_template_id", &email), ("sms_template_id", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = t.api(Method::GET, "/api/v1/settings/receipts", None).await;
    assert_eq!(r.json()["sms_template_id"], json!(null));
}

#[tokio::test]
async fn another_company_is_not_found_and_names_are_escaped() {
    let t = TestApp::new().await;
    let key = t.api_key.clone();
    let o = office(&t).await;
    let other = t.other_company().await;
    let theirs = template(&t, &other, "email", "Theirs").await;
    let r = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": theirs, "days_after_due": 5})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let their_alert = r.json()["id"].as_str().unwrap().to_string();

    for path in [
        format!("{BASE}/{their_alert}/edit"),
        format!("{BASE}/{their_alert}/delete"),
    ] {
        assert_eq!(
            o.get(&t, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for path in [
        format!("{BASE}/{their_alert}/toggle"),
        format!("{BASE}/{their_alert}/delete"),
    ] {
        assert_eq!(o.post(&t, &path, &[]).await.status, StatusCode::NOT_FOUND);
    }
    let r = t
        .api_with_key(&other, Method::GET, "/api/v1/invoice-alerts", None)
        .await;
    assert_eq!(r.json()["data"][0]["enabled"], json!(true));

    // Their template cannot be used here, for an alert or a receipt.
    let r = o
        .post(
            &t,
            &format!("{BASE}/new"),
            &[
                ("email_template_id", &theirs),
                ("timing", "after_due"),
                ("days", "1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("is not one of this company"));
    assert_eq!(alerts_json(&t).await, json!([]));
    let r = o
        .post(
            &t,
            &format!("{BASE}/receipts"),
            &[("email_template_id", &theirs)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t.api(Method::GET, "/api/v1/settings/receipts", None).await;
    assert_eq!(r.json()["email_template_id"], json!(null));

    // A template named like a script is shown as text.
    let evil = template(&t, &key, "email", "<script>alert(1)</script>").await;
    let form = o.get(&t, &format!("{BASE}/new")).await;
    assert!(!form.body.contains("<script>alert(1)</script>"));
    assert!(form.body.contains("&lt;script&gt;alert(1)&lt;"));
    let r = o
        .post(
            &t,
            &format!("{BASE}/new"),
            &[
                ("email_template_id", &evil),
                ("timing", "at_creation"),
                ("enabled", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, BASE).await;
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(page.body.contains("&lt;script&gt;alert(1)&lt;"));
    assert!(page.body.contains("when the invoice is created"));
}
