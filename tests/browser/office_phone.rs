//! The office pages a technician uses on site, on a 360 px phone: the
//! customer page, sending the payment link, the invoice page and recording a
//! payment fit the screen's width (no sideways scrolling) with buttons and
//! fields at least 44 px tall, and so do the alert rule page with its next
//! messages and the catch-up question.

use serde_json::Value;

use crate::a11y::Audit;
use crate::pay::lena;
use crate::support::Env;

/// The page's width against the viewport's, and the elements that reach
/// past the right edge (outside a scrolling table box).
async fn overflow(env: &Env) -> Value {
    env.browser
        .execute(
            "var wide = [];\
             document.querySelectorAll('body *').forEach(function (e) {\
               var r = e.getBoundingClientRect();\
               if (r.right > window.innerWidth + 0.5 && !(e.parentElement && e.parentElement.closest('.table-scroll, table.list'))) wide.push(e.tagName + (e.id ? '#' + e.id : '') + '.' + e.className + ' ' + Math.round(r.right));\
             });\
             var small = [];\
             document.querySelectorAll('main button:not(.link), main .button, main select, main input:not([type=hidden]):not([type=checkbox]):not([type=radio])').forEach(function (e) {\
               var r = e.getBoundingClientRect(); if (r.height > 0 && r.height < 44) small.push(e.tagName + (e.id ? '#' + e.id : '') + ' ' + Math.round(r.height));\
             });\
             return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, wide: wide.slice(0, 8), small: small};",
            vec![],
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_a_technician_uses_fit_a_phone() {
    let Some(env) = Env::start(360, 740).await else {
        return;
    };
    let mut audit = Audit::new();
    let s = &env.server;
    let l = lena(s).await;
    let (status, tpl) = s
        .api(
            "POST",
            "/api/v1/email-templates",
            Some(
                serde_json::json!({"name": "Reminder", "subject": "Invoice {{ invoice_number }}",
                                    "html_body": "<p>{{ email_payment_link }}</p>"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{tpl}");
    let (status, rule) = s
        .api(
            "POST",
            "/api/v1/invoice-alerts",
            Some(serde_json::json!({"email_template_id": tpl["id"], "days_after_due": 3})),
        )
        .await;
    assert_eq!(status, 201, "{rule}");
    env.office_sign_in().await;
    let pages = [
        (
            "customer",
            format!("/office/customers/{}", l.id),
            "Lena Landlord",
        ),
        (
            "send link",
            format!("/office/customers/{}/send?channel=sms", l.id),
            "Send to Lena Landlord",
        ),
        (
            "invoice",
            format!("/office/invoices/{}", l.own[0]),
            "Invoice",
        ),
        (
            "record payment",
            format!("/office/payments/new?customer_id={}", l.id),
            "Record a payment",
        ),
        (
            "alert rule",
            format!(
                "/office/settings/invoice-alerts/{}/edit",
                rule["id"].as_str().unwrap()
            ),
            "Next messages of this alert",
        ),
    ];
    for (name, path, shows) in pages {
        env.goto(&env.url(&path)).await;
        env.wait_for_text(shows).await;
        let m = overflow(&env).await;
        assert_eq!(m["inner"], 360, "{name}: viewport {m}");
        assert!(
            m["scroll"].as_u64() <= m["inner"].as_u64(),
            "{name} ({path}) scrolls sideways at 360 px: {m}"
        );
        assert_eq!(
            m["small"],
            serde_json::json!([]),
            "{name}: controls under 44 px: {m}"
        );
        env.screenshot(&format!("office-phone-{}", name.replace(' ', "-")))
            .await;
        audit
            .check(&env, &format!("office {name} on a phone"))
            .await;
    }

    // A new alert that would miss a customer 35 days overdue asks first, on
    // a page that fits the phone too; "Only from now on" saves it.
    let home = s.property("9 Far Lane, Austin TX", &l.id, None).await;
    s.invoice(&home, 45000, &s.day(-35)).await;
    env.goto(&env.url("/office/settings/invoice-alerts/new"))
        .await;
    env.wait_for_text("Add Invoice Alert").await;
    env.css(&format!(
        "#email_template_id option[value='{}']",
        tpl["id"].as_str().unwrap()
    ))
    .await
    .click()
    .await
    .unwrap();
    env.type_into("#days", "14").await;
    env.click("form.form button.primary[type=submit]").await;
    let ask = env.wait_for_text("already past this alert").await;
    assert!(ask.contains("$450.00"), "{ask}");
    let m = overflow(&env).await;
    assert!(
        m["scroll"].as_u64() <= m["inner"].as_u64(),
        "the catch-up question scrolls sideways: {m}"
    );
    audit
        .check(&env, "office alert catch-up question on a phone")
        .await;
    env.screenshot("office-phone-alert-catch-up").await;
    env.click("button[name=catch_up][value=no]").await;
    env.wait_for_text("Invoice alert saved.").await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM outbox WHERE cause LIKE 'alert:%'")
            .await,
        0
    );
    audit.assert_clean();
    env.finish().await;
}
