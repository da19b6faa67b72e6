//! The office journey: sign in, write an email template with the payment
//! link, preview it, set up an invoice alert, send invoice links to the public
//! page, and follow the link printed on the invoice PDF.

use std::process::Command;

use serde_json::Value;

use crate::pay::lena;
use crate::support::{Env, missing};

/// Downloads `path` with the browser's own session (its cookie) and answers
/// the bytes.
pub async fn fetch_bytes(env: &Env, path: &str) -> Vec<u8> {
    use base64::Engine;
    let r = env
        .browser
        .execute_async(
            "var done = arguments[arguments.length - 1];\
             fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) {\
               if (!r.ok) { done('HTTP ' + r.status); return; }\
               return r.blob().then(function (b) {\
                 var fr = new FileReader();\
                 fr.onload = function () { done({type: r.headers.get('content-type'), data: fr.result.split(',')[1]}); };\
                 fr.readAsDataURL(b);\
               });\
             }, function (e) { done('failed: ' + e); });",
            vec![Value::String(path.to_string())],
        )
        .await
        .unwrap();
    let data = r["data"]
        .as_str()
        .unwrap_or_else(|| panic!("download {path}: {r}"));
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap()
}

/// The text of a PDF as `pdftotext` reads it, or `None` without the tool.
fn pdf_text(pdf: &[u8]) -> Option<String> {
    if Command::new("pdftotext").arg("-v").output().is_err() {
        missing("pdftotext (poppler-utils)")?;
    }
    let dir = std::env::temp_dir().join(format!(
        "fieldpay-browser-pdf-{}",
        fieldpay::crypto::new_id("f")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("invoice.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "pdftotext failed");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_sets_up_messages_and_public_links_and_the_pdf_link_opens_the_pay_page() {
    let Some(env) = Env::start(1280, 800).await else {
        return;
    };
    let l = lena(&env.server).await;
    env.office_sign_in().await;
    let dash = env.text().await;
    assert!(dash.contains("Greenleaf Pest Control"), "{dash}");

    // A new email template with the payment link, previewed for Lena.
    env.goto(&env.url("/office/settings/email-templates")).await;
    env.wait_for_text("Email Templates").await;
    env.goto(&env.url("/office/settings/email-templates/new"))
        .await;
    env.type_into("#name", "Friendly reminder").await;
    env.type_into(
        "#subject",
        "Invoice {{ invoice_number }} from {{ company_name }}",
    )
    .await;
    env.type_into(
        "#html_body",
        "<p>Hi {{ customer_first_name }},</p><p>Pay here: {{ email_payment_link }}</p>",
    )
    .await;
    env.click("button[value=save]").await;
    env.wait_for_text("Saved.").await;
    let edit_path = env.path().await;

    // Edit it, then preview with a real customer before saving.
    env.type_into(
        "#html_body",
        "<p>Hi {{ customer_first_name }},</p><p>Your balance is {{ customer_balance }}.</p><p>Pay here: {{ email_payment_link }}</p>",
    )
    .await;
    env.css("#customer_id")
        .await
        .select_by_label("Lena Landlord")
        .await
        .unwrap();
    env.click("button[value=preview]").await;
    let preview = env.css("#preview").await.text().await.unwrap();
    assert!(preview.contains("Hi Lena,"), "{preview}");
    assert!(preview.contains("$290.00"), "{preview}");
    let pay_prefix = format!("{}/pay/", env.server.base);
    assert!(preview.contains(&pay_prefix), "{preview}");
    env.browser
        .execute(
            "document.getElementById('preview').scrollIntoView({block: 'start'})",
            vec![],
        )
        .await
        .unwrap();
    env.screenshot("office-template-preview").await;
    env.click("button[value=save]").await;
    env.wait_for_text("Saved.").await;
    assert!(
        env.path()
            .await
            .starts_with(edit_path.split('?').next().unwrap())
    );
    assert_eq!(
        env.server
            .count("SELECT COUNT(*) FROM email_templates WHERE name = 'Friendly reminder' AND html_body LIKE '%customer_balance%'")
            .await,
        1
    );

    // An invoice alert: the template, three days after the due date.
    env.goto(&env.url("/office/settings/invoice-alerts/new"))
        .await;
    env.css("#email_template_id")
        .await
        .select_by_label("Friendly reminder")
        .await
        .unwrap();
    env.click("input[name=timing][value=after_due]").await;
    env.type_into("#days", "3").await;
    env.set_checked("#enabled", true).await;
    env.click("form.form button[type=submit]").await;
    let alerts = env.wait_for_text("Friendly reminder").await;
    assert!(
        env.path()
            .await
            .starts_with("/office/settings/invoice-alerts"),
        "{alerts}"
    );
    env.screenshot("office-invoice-alerts").await;
    assert_eq!(
        env.server
            .count("SELECT COUNT(*) FROM invoice_alerts WHERE days = 3 AND enabled = 1")
            .await,
        1
    );

    // Invoice Settings: payment links on, to the public page.
    env.goto(&env.url("/office/settings/invoice")).await;
    env.set_checked("#payment_link_enabled", true).await;
    env.css("#payment_link_target")
        .await
        .select_by_label("Public Link")
        .await
        .unwrap();
    env.click("form.form button[type=submit]").await;
    env.wait_for_text("The invoice settings were saved.").await;
    env.screenshot("office-invoice-settings").await;

    // The invoice page, then its PDF downloaded with the office session: the
    // link printed on it opens Lena's quick payment page.
    env.goto(&env.url(&format!("/office/invoices/{}", l.own[0])))
        .await;
    env.wait_for_text(&l.numbers[0]).await;
    let pdf = fetch_bytes(&env, &format!("/office/invoices/{}/pdf", l.own[0])).await;
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let Some(text) = pdf_text(&pdf) else {
        return;
    };
    // The URL may wrap across lines: read the prefix and the 43 characters
    // of the token after it, wherever the line breaks fall.
    let joined: String = text.split_whitespace().collect();
    let at = joined
        .find(&pay_prefix)
        .unwrap_or_else(|| panic!("no link in {text}"));
    let token: String = joined[at + pay_prefix.len()..].chars().take(43).collect();
    let link = format!("{pay_prefix}{token}");
    assert_eq!(link, env.server.link_url(&l.id).await);
    env.goto(&link).await;
    let page = env.wait_for_text("Invoices for Lena Landlord").await;
    assert!(page.contains("Total selected: $290.00"), "{page}");
    env.screenshot("office-pdf-link-pay-page").await;
    env.finish().await;
}
