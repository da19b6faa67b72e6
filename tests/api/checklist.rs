//! The setup checklist on the dashboard: each item ticked from the
//! company's own data, each linking to its page, gone once all are done.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::office_settings::{company_fields, upload};
use crate::support::{OWNER_PASSWORD, TestApp};

/// A page as a browser reads it (the templates write `/` as `&#x2f;`).
fn read(html: String) -> String {
    html.replace("&#x2f;", "/")
}

/// Whether the dashboard shows the item as done.
fn done(dashboard: &str, key: &str) -> bool {
    let at = dashboard
        .find(&format!("id=\"setup-{key}\""))
        .unwrap_or_else(|| panic!("no {key} item in {dashboard}"));
    dashboard[at..at + 60].contains("class=\"done\"")
}

#[tokio::test]
async fn the_checklist_ticks_items_from_real_data_until_all_are_done() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let dash = read(o.get(&t, "/office/dashboard").await.body);
    assert!(dash.contains("Set up your office: 5 of 5 left"), "{dash}");
    for (key, href) in [
        ("company", "/office/settings/company"),
        ("payments", "/office/settings/processor"),
        ("messages", "/office/settings/invoice-alerts"),
        ("customers", "/office/import"),
        ("first_link", "/office/customers"),
    ] {
        assert!(!done(&dash, key), "{key}");
        let at = dash.find(&format!("id=\"setup-{key}\"")).unwrap();
        assert!(
            dash[at..].contains(&format!("<a href=\"{href}\">")),
            "{key}"
        );
    }
    assert!(dash.contains("Add the mailing address customers send checks to, your logo"));

    // Company details: address, phone and a logo.
    let r = o
        .post(&t, "/office/settings/company", &company_fields(&[]))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let dash = read(o.get(&t, "/office/dashboard").await.body);
    assert!(!done(&dash, "company"), "no logo yet");
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(64, 0);
    let r = upload(&t, &o, &png).await;
    assert!(r.status.is_redirection(), "{}", r.body);
    assert!(done(
        &read(o.get(&t, "/office/dashboard").await.body),
        "company"
    ));

    // Payments: Stripe keys (test keys are enough to tick it).
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
    assert!(done(
        &read(o.get(&t, "/office/dashboard").await.body),
        "payments"
    ));

    // Templates reviewed: the button writes an audit entry.
    let r = o.post(&t, "/office/setup/reviewed", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'setup.reviewed'")
            .await,
        1
    );
    let dash = read(o.get(&t, "/office/dashboard").await.body);
    assert!(done(&dash, "messages"));
    assert!(dash.contains("Set up your office: 2 of 5 left"), "{dash}");

    // Customers, then the first payment link sent.
    let customer = t.customer("Carl Customer").await;
    assert!(done(
        &read(o.get(&t, "/office/dashboard").await.body),
        "customers"
    ));
    let tpl = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(
                json!({"name": "Link", "subject": "Pay", "html_body": "{{ email_payment_link }}"}),
            ),
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
            Some(json!({"channel": "email", "template_id": tpl})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let dash = read(o.get(&t, "/office/dashboard").await.body);
    assert!(
        !dash.contains("Set up your office"),
        "all done: the checklist goes"
    );

    // A forged post is refused.
    let r = o
        .post(&t, "/office/setup/reviewed", &[("csrf", "forged")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_time_zone_is_chosen_from_a_list() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let page = read(o.get(&t, "/office/settings/company").await.body);
    assert!(
        page.contains("<select id=\"time_zone\" name=\"time_zone\""),
        "{page}"
    );
    assert!(
        page.contains("<option value=\"America/Chicago\" selected>Central time (Chicago)</option>")
    );
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &company_fields(&[("time_zone", "America/Denver")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = read(o.get(&t, "/office/settings/company").await.body);
    assert!(page.contains("<option value=\"America/Denver\" selected>"));
}
