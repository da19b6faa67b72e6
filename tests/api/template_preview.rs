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
    let page = read(&r.body);
    let due = fieldpay::domain::dates::display(t.date(30));
    assert!(page.contains(&format!("id=\"preview-subject\">Invoice {number}<")));
    assert!(
        page.contains(&format!("Invoice {number} for $149.00 is due {due}.")),
        "{page}"
    );
    assert!(page.contains("formaction=\"/office/settings/email-templates/preview-email\""));

    // The email drawn as the customer sees it: a document of its own where
    // nothing runs, every invoice variable filled, the customer's live link.
    let r = o
        .post(&t, "/office/settings/email-templates/preview-email", &pairs)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.header("content-security-policy"),
        fieldpay::web::EMAIL_DOCUMENT_CSP
    );
    for part in [
        "sandbox",
        "default-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'none'",
    ] {
        assert!(fieldpay::web::EMAIL_DOCUMENT_CSP.contains(part), "{part}");
    }
    assert!(!fieldpay::web::EMAIL_DOCUMENT_CSP.contains("script"));
    let email = read(&r.body);
    for expected in [
        format!("Invoice {number} for $149.00 is due {due}."),
        format!("href=\"{}/pay/{token}\"", crate::support::BASE_URL),
        ">Click Here to Make Payment</a>".to_string(),
        "Test mode — no money moves".to_string(),
    ] {
        assert!(email.contains(&expected), "{expected} in {email}");
    }
    // Without a session's CSRF token: refused.
    let forged: Vec<(&str, &str)> = pairs.iter().copied().chain([("csrf", "forged")]).collect();
    let r = o
        .post(
            &t,
            "/office/settings/email-templates/preview-email",
            &forged,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nothing saved by a preview.
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 0);

    // An invoice billed to someone else than the chosen customer: said, no preview.
    let (other, _) = customer_with_invoices(&t, "Otto Other", &[500]).await;
    let leaked = other.leak() as &'static str;
    let f = fields(leaked, invoices[0].clone());
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = o.post(&t, &format!("{EMAIL}/new"), &pairs).await;
    assert!(r.body.contains("id=\"preview-error\""), "{}", r.body);
    assert!(!r.body.contains("id=\"preview-subject\""));
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
