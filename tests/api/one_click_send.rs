//! One-click send: "Email invoice" and "Text payment link" on the invoice
//! and customer pages open the send page with the default template chosen,
//! a preview and an optional message of the office's own.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp};

fn read(html: &str) -> String {
    html.replace("&#x2f;", "/").replace("&amp;", "&")
}

async fn default_template(t: &TestApp, kind: &str, body: serde_json::Value) -> String {
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/{kind}-templates"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn email_invoice_and_text_link_in_one_click_with_a_preview_and_a_message() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
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
    let property = t.property("4 Oak St", &customer, None).await;
    let invoice = t.invoice(&property, 12500, &t.day(10)).await;
    let number = t.invoice_json(&invoice).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let email = default_template(
        &t,
        "email",
        json!({"name": "Invoice", "subject": "Invoice {{ invoice_number }}", "html_body": "<p>Invoice {{ invoice_number }}: {{ invoice_balance }}</p>{{ email_payment_link }}", "default": true}),
    )
    .await;
    let sms = default_template(
        &t,
        "sms",
        json!({"name": "Link", "body": "Pay {{ customer_balance }}: {{ sms_payment_link }}", "default": true}),
    )
    .await;

    // The buttons, on the invoice page and on the customer page.
    let send = format!("/office/customers/{customer}/send");
    let page = read(&o.get(&t, &format!("/office/invoices/{invoice}")).await.body);
    assert!(
        page.contains(&format!(
            "href=\"{send}?channel=email&invoice_id={invoice}\">Email invoice"
        )),
        "{page}"
    );
    assert!(page.contains(&format!(
        "href=\"{send}?channel=sms&invoice_id={invoice}\">Text payment link"
    )));
    let page = read(
        &o.get(&t, &format!("/office/customers/{customer}"))
            .await
            .body,
    );
    assert!(
        page.contains(&format!(
            "href=\"{send}?channel=email&invoice_id={invoice}\">Email invoice"
        )),
        "{page}"
    );
    assert!(page.contains(&format!("href=\"{send}?channel=sms\">Text payment link")));

    // The send page opens with the default template and the invoice chosen.
    let page = read(
        &o.get(&t, &format!("{send}?channel=email&invoice_id={invoice}"))
            .await
            .body,
    );
    assert!(
        page.contains(&format!("<option value=\"email:{email}\" selected>")),
        "{page}"
    );
    assert!(page.contains(&format!("<option value=\"{invoice}\" selected>")));
    let nonce = {
        let at = page.find("name=\"nonce\" value=\"").unwrap() + "name=\"nonce\" value=\"".len();
        page[at..at + page[at..].find('"').unwrap()].to_string()
    };
    let template = format!("email:{email}");
    let fields = |action: &'static str| {
        vec![
            ("nonce", nonce.clone()),
            ("template", template.clone()),
            ("invoice_id", invoice.clone()),
            ("message", "We come Tuesday <b>morning</b>.".to_string()),
            ("action", action.to_string()),
        ]
    };
    // Preview: the real message with the note, nothing queued.
    let f = fields("preview");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = o.post(&t, &send, &pairs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = read(&r.body);
    assert!(page.contains("id=\"preview-text\""), "{page}");
    assert!(page.contains(&format!("Invoice {number}: $125.00")));
    // The note is text: shown as typed, never as markup.
    assert!(page.contains("We come Tuesday &lt;b&gt;morning"), "{page}");
    // The email itself, as drawn for the customer.
    let f = fields("document");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = o.post(&t, &send, &pairs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header("content-security-policy"),
        fieldpay::web::EMAIL_DOCUMENT_CSP
    );
    assert!(
        read(&r.body).contains("We come Tuesday &lt;b&gt;morning&lt;/b&gt;.</p>"),
        "{}",
        r.body
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 0);

    // Send: queued once, delivered with the note.
    let f = fields("send");
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = o.post(&t, &send, &pairs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"outcome\""));
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let eml = t.spool(".eml").join("\n");
    assert!(eml.contains("We come Tuesday"), "{eml}");

    // Text payment link: the default SMS template, the note first, counted.
    let page = read(&o.get(&t, &format!("{send}?channel=sms")).await.body);
    assert!(page.contains(&format!("<option value=\"sms:{sms}\" selected>")));
    let sms_choice = format!("sms:{sms}");
    let r = o
        .post(
            &t,
            &send,
            &[
                ("nonce", "nonce-for-the-sms-1234"),
                ("template", &sms_choice),
                ("message", "Hi Sam!"),
                ("action", "preview"),
            ],
        )
        .await;
    let page = read(&r.body);
    assert!(
        page.contains("Test mode - no money moves. Hi Sam!\nPay $125.00: "),
        "{page}"
    );
    assert!(page.contains("id=\"preview-count\""));

    // A message too long is said, nothing sent.
    let long = "x".repeat(501);
    let r = o
        .post(
            &t,
            &send,
            &[
                ("nonce", "nonce-for-the-sms-5678"),
                ("template", &sms_choice),
                ("message", &long),
                ("action", "send"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("at most 500 characters"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox WHERE channel = 'sms'")
            .await,
        0
    );
}

#[tokio::test]
async fn the_api_sends_a_message_with_the_link() {
    let t = TestApp::new().await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Api Al", "phone": "+15125550142"})),
        )
        .await;
    let customer = r.json()["id"].as_str().unwrap().to_string();
    let tpl = default_template(
        &t,
        "sms",
        json!({"name": "Link", "body": "Pay: {{ sms_payment_link }}"}),
    )
    .await;
    let r = t
        .request(
            Method::POST,
            &format!("/api/v1/customers/{customer}/send-link"),
            &[
                ("authorization", &format!("Bearer {}", t.api_key)),
                ("content-type", "application/json"),
                ("idempotency-key", "send-with-a-note-1"),
            ],
            Some(
                json!({"channel": "sms", "template_id": tpl, "message": "From the office:"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let sms = t.spool(".txt");
    assert!(
        sms[0].contains("Test mode - no money moves. From the office:\nPay: "),
        "{sms:?}"
    );
}

#[tokio::test]
async fn remind_all_overdue_shows_the_count_and_the_first_then_sends_once() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    default_template(
        &t,
        "email",
        json!({"name": "Reminder", "subject": "Overdue: {{ invoice_number }}", "html_body": "<p>{{ invoice_balance }} was due {{ invoice_due_date }}.</p>{{ email_payment_link }}", "default": true}),
    )
    .await;
    // Two overdue invoices of one customer, one of another; one not yet due.
    let (a, _) = crate::support::customer_with_invoices(&t, "Amy Arrears", &[]).await;
    let pa = t.property("1 Late Ln", &a, None).await;
    let first = t.invoice(&pa, 4500, &t.day(-35)).await;
    t.invoice(&pa, 5500, &t.day(-3)).await;
    t.invoice(&pa, 9900, &t.day(20)).await;
    let (b, _) = crate::support::customer_with_invoices(&t, "Bob Behind", &[]).await;
    let pb = t.property("2 Late Ln", &b, None).await;
    t.invoice(&pb, 7000, &t.day(-14)).await;

    let list = o.get(&t, "/office/invoices").await.body;
    assert!(list.contains("id=\"remind-overdue\""));
    let page = read(&o.get(&t, "/office/invoices/remind-overdue").await.body);
    assert!(
        page.contains("<strong>3</strong> overdue invoices to <strong>2</strong> customers"),
        "{page}"
    );
    // The first (oldest due) as it will be sent: $45.00, 35 days overdue.
    let number = t.invoice_json(&first).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(page.contains(&format!("Overdue: {number}")), "{page}");
    assert!(page.contains("$45.00 was due"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox").await,
        0,
        "a preview sends nothing"
    );

    let nonce = {
        let at = page.find("name=\"nonce\" value=\"").unwrap() + "name=\"nonce\" value=\"".len();
        page[at..at + page[at..].find('"').unwrap()].to_string()
    };
    let fields = [("nonce", nonce.as_str()), ("channel", "email")];
    let r = o.post(&t, "/office/invoices/remind-overdue", &fields).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Queued 3 reminders."), "{}", r.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 3);
    // The same form again: nothing twice.
    let r = o.post(&t, "/office/invoices/remind-overdue", &fields).await;
    assert!(
        r.body.contains("Queued 0 reminders. 3 were already sent"),
        "{}",
        r.body
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 3);
}
