//! Templates you can trust: the editor's preview draws the email as the
//! chosen customer sees it about the chosen invoice, and counts an SMS as it
//! is sent, with the real (or a real-length) payment link.

use axum::http::StatusCode;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp, customer_with_invoices};

const EMAIL: &str = "/office/settings/email-templates";
const SMS: &str = "/office/settings/sms-templates";

/// The page as the browser reads it (`/` is written `&#x2f;`).
fn read(html: &str) -> String {
    html.replace("&#x2f;", "/")
}

#[tokio::test]
async fn the_email_preview_is_the_real_message_in_a_sandboxed_frame() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let (lena, invoices) = customer_with_invoices(&t, "Lena Landlord", &[14900]).await;
    let number = t.invoice_json(&invoices[0]).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let token = t.token(&lena).await;
    let html = "<p>Invoice {{ invoice_number }} for {{ invoice_total }} is due {{ invoice_due_date }}.</p>{{ email_payment_link }}";
    let fields = |customer: &'static str, invoice: String| {
        vec![
            ("name", "Invoice".to_string()),
            ("subject", "Invoice {{ invoice_number }}".to_string()),
            ("html_body", html.to_string()),
            ("customer_id", customer.to_string()),
            ("invoice_id", invoice),
            ("action", "preview".to_string()),
        ]
    };
    // The invoice alone names its customer.
    let f = fields("", invoices[0].clone());
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = o.post(&t, &format!("{EMAIL}/new"), &pairs).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let csp = r.header("content-security-policy").to_string();
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"));
    let page = read(&r.body);
    let frame = &page[page
        .find("<iframe id=\"preview-frame\"")
        .expect("a preview frame")..];
    let frame = &frame[..frame.find("</iframe>").unwrap()];
    assert!(frame.contains("sandbox=\"\""), "{frame}");
    // Every invoice variable filled, the customer's live link, escaped into srcdoc.
    let due = fieldpay::domain::dates::display(t.date(30));
    for expected in [
        format!("Invoice {number} for $149.00 is due {due}."),
        format!("/pay/{token}"),
        "Click Here to Make Payment".to_string(),
        "Test mode — no money moves".to_string(),
    ] {
        assert!(frame.contains(&expected), "{expected} in {frame}");
    }
    assert!(
        frame.contains("srcdoc=\"&lt;div"),
        "the HTML is data, not markup: {frame}"
    );
    assert!(page.contains(&format!("id=\"preview-subject\">Invoice {number}<")));
    // Nothing saved by a preview.
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 0);

    // An invoice billed to someone else than the chosen customer: said, no preview.
    let (other, _) = customer_with_invoices(&t, "Otto Other", &[500]).await;
    let leaked = other.leak() as &'static str;
    let f = fields(leaked, invoices[0].clone());
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = o.post(&t, &format!("{EMAIL}/new"), &pairs).await;
    assert!(r.body.contains("id=\"preview-error\""), "{}", r.body);
    assert!(!r.body.contains("id=\"preview-frame\""));
}

#[tokio::test]
async fn the_sms_count_is_the_count_of_the_message_sent() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let (lena, invoices) = customer_with_invoices(&t, "Lena Landlord", &[6500]).await;
    let body = "Hi {{ customer_first_name }}, {{ invoice_balance }} is due {{ invoice_due_date }}. Pay: {{ sms_payment_link }}";
    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[
                ("name", "Reminder"),
                ("body", body),
                ("customer_id", &lena),
                ("invoice_id", &invoices[0]),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = read(&r.body);
    let token = t.token(&lena).await;
    let start = page.find("<pre class=\"preview\">").unwrap() + "<pre class=\"preview\">".len();
    let text = &page[start..start + page[start..].find("</pre>").unwrap()];
    assert!(text.contains(&format!("/pay/{token}")), "{text}");
    assert!(text.contains("$65.00 is due"));
    let counted = fieldpay::messaging::template::sms_segments(
        &fieldpay::messaging::template::decode_entities(text),
    );
    assert!(page.contains(&format!(
        "id=\"preview-count\">{} characters (GSM-7), {} segment",
        counted.units, counted.segments
    )));

    // With sample data the link is as long as a real one: the same count.
    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[("name", "Reminder"), ("body", body), ("action", "preview")],
        )
        .await;
    let sample = read(&r.body);
    let start = sample.find("<pre class=\"preview\">").unwrap() + "<pre class=\"preview\">".len();
    let text = &sample[start..start + sample[start..].find("</pre>").unwrap()];
    let link = &text[text.find("/pay/").unwrap() + "/pay/".len()..];
    assert_eq!(link.trim().len(), token.len(), "{text}");
    let counted = fieldpay::messaging::template::sms_segments(
        &fieldpay::messaging::template::decode_entities(text),
    );
    assert!(sample.contains(&format!(
        "id=\"preview-count\">{} characters (GSM-7), {} segment",
        counted.units, counted.segments
    )));
}
