//! Email and SMS templates: checked when saved, rendered with the customer's
//! current data (and current payment link), scoped to the company.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{BASE_URL, ISSUED_DAYS_AGO, TestApp};
use fieldpay::app::messages::render_for;
use fieldpay::domain::dates::display;
use fieldpay::domain::ids::{CustomerId, InvoiceId};
use fieldpay::messaging::Channel;

/// The first words of a message while the company is in test mode (as
/// every test company is): the email's line, the SMS's.
const EMAIL_TEST: &str = "Test mode — no money moves";
const SMS_TEST: &str = "Test mode - no money moves.";

const ALL_VARS: &str = "<p>{{ email_payment_link }}</p>
<p>sms={{ sms_payment_link }} portal={{ portal_link }}</p>
<p>name={{ customer_name }} first={{ customer_first_name }} owes={{ customer_balance }}</p>
<p>co={{ company_name }} phone={{ company_phone }}</p>
<p>no={{ invoice_number }} date={{ invoice_date }} due={{ invoice_due_date }}
total={{ invoice_total }} balance={{ invoice_balance }}</p>";

async fn email_template(t: &TestApp, subject: &str, html: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Reminder", "subject": subject, "html_body": html})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("etpl_"), "{id}");
    id
}

async fn sms_template(t: &TestApp, body: &str) -> Value {
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Text", "body": body})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    assert!(v["id"].as_str().unwrap().starts_with("stpl_"), "{v}");
    v
}

async fn preview(t: &TestApp, kind: &str, id: &str, body: Value) -> Value {
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/{kind}-templates/{id}/preview"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

/// A customer "Jane Doe" with one open invoice of $125.00 due in 17 days.
async fn jane(t: &TestApp) -> (String, String) {
    let customer = t.customer("Jane Doe").await;
    let property = t.property("12 Oak St", &customer, None).await;
    let invoice = t.invoice(&property, 12500, &t.day(17)).await;
    (customer, invoice)
}

#[tokio::test]
async fn every_variable_renders_with_the_customers_data() {
    let t = TestApp::new().await;
    let (customer, invoice) = jane(&t).await;
    let number = t.invoice_json(&invoice).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let link = t.link_url(&customer).await;
    let id = email_template(
        &t,
        "Invoice {{ invoice_number }} for {{ customer_name }}",
        ALL_VARS,
    )
    .await;

    let out = preview(
        &t,
        "email",
        &id,
        json!({"customer_id": customer, "invoice_id": invoice}),
    )
    .await;
    let html = out["html"].as_str().unwrap();
    assert!(
        html.contains(&fieldpay::messaging::template::payment_button_anchor(
            &link,
            "#1d5fbf",
            fieldpay::messaging::template::PAYMENT_LINK_TEXT,
        )),
        "{html}"
    );
    for expected in [
        format!("sms={link} "),
        format!("portal={BASE_URL}/portal"),
        "name=Jane Doe first=Jane owes=$125.00".to_string(),
        "co=Greenleaf Pest Control phone=(512) 555-0142".to_string(),
        format!(
            "no={number} date={} due={}",
            display(t.date(-ISSUED_DAYS_AGO)),
            display(t.date(17))
        ),
        "total=$125.00 balance=$125.00".to_string(),
    ] {
        assert!(html.contains(&expected), "missing {expected:?} in {html}");
    }
    assert_eq!(
        out["subject"].as_str().unwrap(),
        format!("Invoice {number} for Jane Doe")
    );
    // The text part is derived from the HTML: the link keeps its URL.
    let text = out["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("Click Here to Make Payment: {link}")),
        "{text}"
    );
    assert!(!text.contains('<'), "{text}");

    let sms = sms_template(&t, "{{ sms_payment_link }}").await;
    let out = preview(
        &t,
        "sms",
        sms["id"].as_str().unwrap(),
        json!({"customer_id": customer}),
    )
    .await;
    // As sent: the company is in test mode, and the message says so first.
    assert_eq!(out["text"].as_str().unwrap(), format!("{SMS_TEST} {link}"));

    // An invoice alone previews for its bill-to customer; nothing at all
    // previews with sample data.
    let out = preview(&t, "email", &id, json!({"invoice_id": invoice})).await;
    assert!(out["html"].as_str().unwrap().contains("name=Jane Doe"));
    let out = preview(&t, "email", &id, json!({})).await;
    assert!(
        out["html"]
            .as_str()
            .unwrap()
            .contains("co=Greenleaf Pest Control")
    );
    // Without an invoice, invoice variables are empty.
    let out = preview(&t, "email", &id, json!({"customer_id": customer})).await;
    assert!(out["html"].as_str().unwrap().contains("no= date= due="));
}

#[tokio::test]
async fn a_customer_name_is_escaped_in_html_and_raw_in_sms() {
    let t = TestApp::new().await;
    let customer = t.customer("<b>x</b>").await;
    let id = email_template(
        &t,
        "Hi {{ customer_name }}",
        "<p>Hi {{ customer_name }}</p>",
    )
    .await;
    let out = preview(&t, "email", &id, json!({"customer_id": customer})).await;
    let html = out["html"].as_str().unwrap();
    assert!(!html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;b&gt;x"), "{html}");
    assert_eq!(out["subject"], "Hi <b>x</b>");
    assert_eq!(out["text"], format!("{EMAIL_TEST}\n\nHi <b>x</b>"));

    let sms = sms_template(&t, "Hi {{ customer_name }}").await;
    let out = preview(
        &t,
        "sms",
        sms["id"].as_str().unwrap(),
        json!({"customer_id": customer}),
    )
    .await;
    assert_eq!(out["text"], format!("{SMS_TEST} Hi <b>x</b>"));
}

#[tokio::test]
async fn broken_templates_are_refused_and_nothing_is_saved() {
    let t = TestApp::new().await;
    let email = |html: &str| json!({"name": "Bad", "subject": "Hello", "html_body": html});

    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(email(
                "<p>Hello</p>\n<p>there</p>\n<p>{{ customer_name }</p>",
            )),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "template_syntax");
    assert_eq!(e["field"], "html_body");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("line 3, column "),
        "{e}"
    );

    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Bad", "body": "Pay {{ payment_linkk }}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "unknown_variable");
    assert_eq!(e["field"], "body");
    assert!(
        e["message"].as_str().unwrap().contains("'payment_linkk'"),
        "{e}"
    );

    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Bad", "subject": "Hi {{ nope }}", "html_body": "ok"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "subject");

    for src in [
        "{% include \"x\" %}",
        "{% extends \"office/layout.html\" %}",
        "{% import \"x\" as m %}",
    ] {
        let r = t
            .api(Method::POST, "/api/v1/email-templates", Some(email(src)))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{src}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["code"], "template_forbidden", "{src}");
    }

    // A huge loop is stopped (range refuses it; nested loops run out of fuel).
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(email("{% for i in range(100000000) %}x{% endfor %}")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "template_too_expensive");
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Loop", "body":
                "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let e = &r.json()["error"];
    assert_eq!(e["code"], "template_too_expensive");
    assert!(
        e["message"].as_str().unwrap().contains("too much work"),
        "{e}"
    );

    // Attribute access reaches nothing: refused, never rendered.
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(email("{{ customer_name.__class__ }}")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(!r.body.contains("class '"), "{}", r.body);

    // `safe` is not an allowed filter.
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(email("{{ customer_name|safe }}")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    assert_eq!(t.count("SELECT count(*) FROM email_templates").await, 0);
    assert_eq!(t.count("SELECT count(*) FROM sms_templates").await, 0);
}

#[tokio::test]
async fn sms_segments_are_counted() {
    let t = TestApp::new().await;
    let count = |v: Value| {
        (
            v["encoding"].as_str().unwrap().to_string(),
            v["characters"].as_i64().unwrap(),
            v["segments"].as_i64().unwrap(),
        )
    };
    let a = |n: usize| "a".repeat(n);
    assert_eq!(
        count(sms_template(&t, &a(160)).await),
        ("gsm7".into(), 160, 1)
    );
    assert_eq!(
        count(sms_template(&t, &a(161)).await),
        ("gsm7".into(), 161, 2)
    );
    assert_eq!(count(sms_template(&t, "€").await), ("gsm7".into(), 2, 1));
    assert_eq!(
        count(sms_template(&t, &format!("{}€", a(159))).await),
        ("gsm7".into(), 161, 2)
    );
    assert_eq!(
        count(sms_template(&t, &format!("{}😀", a(68))).await),
        ("ucs2".into(), 70, 1)
    );
    assert_eq!(
        count(sms_template(&t, &format!("{}😀", a(69))).await),
        ("ucs2".into(), 71, 2)
    );
}

#[tokio::test]
async fn templates_can_be_listed_read_changed_and_deleted() {
    let t = TestApp::new().await;
    let id = email_template(&t, "Hello", "<p>Hi</p>").await;
    let r = t.api(Method::GET, "/api/v1/email-templates", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["data"][0]["id"], id.as_str());

    let path = format!("/api/v1/email-templates/{id}");
    let r = t
        .api(
            Method::PUT,
            &path,
            Some(json!({"name": "Second", "subject": "S {{ company_name }}",
                        "html_body": "<p>B</p>", "text_body": "T {{ portal_link }}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // A broken update changes nothing.
    let r = t
        .api(
            Method::PUT,
            &path,
            Some(json!({"name": "Third", "subject": "S", "html_body": "{% if %}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let got = t.api(Method::GET, &path, None).await.json();
    assert_eq!(got["name"], "Second");
    assert_eq!(got["text_body"], "T {{ portal_link }}");
    let out = preview(&t, "email", &id, json!({})).await;
    assert_eq!(out["text"], format!("{EMAIL_TEST}\n\nT {BASE_URL}/portal"));
    assert_eq!(out["subject"], "S Greenleaf Pest Control");

    let r = t.api(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.api(Method::GET, &path, None).await.status,
        StatusCode::NOT_FOUND
    );

    let sms = sms_template(&t, "Hi").await;
    let path = format!("/api/v1/sms-templates/{}", sms["id"].as_str().unwrap());
    let r = t
        .api(
            Method::PUT,
            &path,
            Some(json!({"name": "N", "body": "Hi {{ customer_first_name }}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = t.api(Method::GET, "/api/v1/sms-templates", None).await;
    assert_eq!(r.json()["data"][0]["body"], "Hi {{ customer_first_name }}");
    assert_eq!(
        t.api(Method::DELETE, &path, None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        t.api(Method::DELETE, &path, None).await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn another_companys_ids_are_404() {
    let t = TestApp::new().await;
    let other = t.other_company().await;
    let (customer, invoice) = jane(&t).await;
    let email = email_template(&t, "Hello", "<p>{{ customer_name }}</p>").await;
    let sms = sms_template(&t, "Hi").await;
    let sms = sms["id"].as_str().unwrap();

    for (method, path, body) in [
        (
            Method::GET,
            format!("/api/v1/email-templates/{email}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/email-templates/{email}"),
            Some(json!({"name": "x", "subject": "x", "html_body": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/email-templates/{email}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/email-templates/{email}/preview"),
            Some(json!({})),
        ),
        (Method::GET, format!("/api/v1/sms-templates/{sms}"), None),
        (
            Method::PUT,
            format!("/api/v1/sms-templates/{sms}"),
            Some(json!({"name": "x", "body": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/sms-templates/{sms}"), None),
        (
            Method::POST,
            format!("/api/v1/sms-templates/{sms}/preview"),
            Some(json!({})),
        ),
    ] {
        let r = t.api_with_key(&other, method, &path, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let r = t
        .api_with_key(&other, Method::GET, "/api/v1/email-templates", None)
        .await;
    assert_eq!(r.json()["data"], json!([]));

    // The other company's own template cannot preview our customer or invoice.
    let r = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "x", "body": "{{ customer_name }}"})),
        )
        .await;
    let theirs = r.json()["id"].as_str().unwrap().to_string();
    for body in [
        json!({"customer_id": customer}),
        json!({"invoice_id": invoice}),
    ] {
        let r = t
            .api_with_key(
                &other,
                Method::POST,
                &format!("/api/v1/sms-templates/{theirs}/preview"),
                Some(body),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    // Still ours, unchanged.
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/email-templates/{email}"),
            None,
        )
        .await;
    assert_eq!(r.json()["name"], "Reminder");
}

#[tokio::test]
async fn delivery_renders_the_current_link() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let (customer, invoice) = jane(&t).await;
    let sms = sms_template(
        &t,
        "{{ customer_first_name }}, pay {{ customer_balance }}: {{ sms_payment_link }}",
    )
    .await;
    let sms = sms["id"].as_str().unwrap().to_string();
    let email = email_template(
        &t,
        "Invoice {{ invoice_number }}",
        "{{ email_payment_link }}",
    )
    .await;

    let before = t.link_url(&customer).await;
    let r = render_for(
        &t.app,
        &company,
        Channel::Sms,
        &sms,
        &CustomerId::from(&customer),
        None,
    )
    .await
    .unwrap();
    // The test company is in test mode (the sandbox): every message says so first.
    assert_eq!(
        r.text,
        format!("Test mode - no money moves. Jane, pay $125.00: {before}")
    );

    let rotated = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{customer}/payment-link/rotate"),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let after = t.link_url(&customer).await;
    assert_ne!(before, after);
    let r = render_for(
        &t.app,
        &company,
        Channel::Sms,
        &sms,
        &CustomerId::from(&customer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        r.text,
        format!("Test mode - no money moves. Jane, pay $125.00: {after}")
    );
    let r = render_for(
        &t.app,
        &company,
        Channel::Email,
        &email,
        &CustomerId::from(&customer),
        Some(&InvoiceId::from(&invoice)),
    )
    .await
    .unwrap();
    let html = r.html.as_deref().unwrap();
    assert!(html.starts_with("<div style="), "{html}");
    assert!(html.contains("Test mode — no money moves</div>"), "{html}");
    assert!(
        html.ends_with(&fieldpay::messaging::template::payment_button_anchor(
            &after,
            "#1d5fbf",
            fieldpay::messaging::template::PAYMENT_LINK_TEXT,
        ))
    );
    assert_eq!(
        r.text,
        format!("Test mode — no money moves\n\nClick Here to Make Payment: {after}")
    );

    // A revoked link is never sent: the portal link takes its place.
    let revoked = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{customer}/payment-link/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.body);
    let r = render_for(
        &t.app,
        &company,
        Channel::Sms,
        &sms,
        &CustomerId::from(&customer),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        r.text,
        format!("Test mode - no money moves. Jane, pay $125.00: {BASE_URL}/portal")
    );

    // Another company's template, customer or invoice is not found.
    let other = t.other_company().await;
    let other_company = fieldpay::store::companies::company_for_api_key(&t.app.db, &other)
        .await
        .unwrap()
        .unwrap();
    assert!(
        render_for(
            &t.app,
            &other_company,
            Channel::Sms,
            &sms,
            &CustomerId::from(&customer),
            None
        )
        .await
        .is_err()
    );
    assert!(
        render_for(
            &t.app,
            &company,
            Channel::Email,
            &sms,
            &CustomerId::from(&customer),
            None
        )
        .await
        .is_err()
    );
}
