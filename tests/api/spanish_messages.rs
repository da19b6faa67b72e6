//! Spanish messages: email and SMS templates carry `translations`
//! (`{"es": {...}}`), checked like the main text; a message goes out in the
//! customer's language (else the company's) where the template has it, else
//! in the main text.

use axum::http::{Method, StatusCode};
use fieldpay::app::messages::render_for;
use fieldpay::domain::ids::{CustomerId, InvoiceId};
use fieldpay::messaging::Channel;
use serde_json::json;

use crate::alerts::customer;
use crate::support::TestApp;

/// Sets a customer's language through the API.
pub(crate) async fn set_language(t: &TestApp, customer: &str, lang: &str) {
    let r = t
        .api(
            Method::PATCH,
            &format!("/api/v1/customers/{customer}"),
            Some(json!({"language": lang})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

const ES_EMAIL: &str = r#"{"subject": "Factura {{ invoice_number }} pendiente", "html_body": "<p>Hola {{ customer_first_name }}, pague aqui: {{ sms_payment_link }}</p>"}"#;

#[tokio::test]
async fn translations_are_saved_read_and_checked() {
    let t = TestApp::new().await;
    let es: serde_json::Value = serde_json::from_str(ES_EMAIL).unwrap();
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(
                json!({"name": "Aviso", "subject": "Invoice {{ invoice_number }}",
                "html_body": "<p>Pay: {{ sms_payment_link }}</p>", "translations": {"es": es}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let got = t
        .api(Method::GET, &format!("/api/v1/email-templates/{id}"), None)
        .await;
    assert_eq!(
        got.json()["translations"]["es"]["subject"],
        "Factura {{ invoice_number }} pendiente"
    );
    assert_eq!(got.json()["translations"]["es"]["text_body"], json!(null));

    // Without translations: an empty object, and a PUT without them removes them.
    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/email-templates/{id}"),
            Some(json!({"name": "Aviso", "subject": "Invoice", "html_body": "<p>Pay</p>"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["translations"], json!({}));

    // The Spanish fields are checked like the main ones, named by language.
    for (es, field) in [
        (
            json!({"subject": " ", "html_body": "<p>Hola</p>"}),
            "translations.es.subject",
        ),
        (
            json!({"subject": "Hola", "html_body": "{{ nope }}"}),
            "translations.es.html_body",
        ),
        (
            json!({"subject": "Hola", "html_body": "<p>Hola</p>", "text_body": "{% include 'x' %}"}),
            "translations.es.text_body",
        ),
    ] {
        let r = t
            .api(
                Method::PUT,
                &format!("/api/v1/email-templates/{id}"),
                Some(
                    json!({"name": "Aviso", "subject": "Invoice", "html_body": "<p>Pay</p>",
                    "translations": {"es": es}}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains(field), "{field}: {}", r.body);
    }
    // Only languages customers read other than the main text's.
    for lang in ["fr", "en"] {
        let r = t
            .api(
                Method::PUT,
                &format!("/api/v1/email-templates/{id}"),
                Some(
                    json!({"name": "Aviso", "subject": "Invoice", "html_body": "<p>Pay</p>",
                    "translations": {lang: {"subject": "x", "html_body": "y"}}}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert!(r.body.contains(lang), "{}", r.body);
    }

    // SMS: `{"es": {"body": …}}`, with the Spanish body checked too.
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(
                json!({"name": "Corto", "body": "Pay: {{ sms_payment_link }}",
                "translations": {"es": {"body": "Pague: {{ sms_payment_link }}"}}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.json()["translations"]["es"]["body"],
        "Pague: {{ sms_payment_link }}"
    );
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Corto", "body": "Pay",
                "translations": {"es": {"body": "{{ unknown_thing }}"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("translations.es.body"), "{}", r.body);
}

#[tokio::test]
async fn a_spanish_customer_gets_the_spanish_alert_others_the_main_text() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let es: serde_json::Value = serde_json::from_str(ES_EMAIL).unwrap();
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Aviso", "subject": "Invoice {{ invoice_number }} is due",
                "html_body": "<p>Hi {{ customer_first_name }}, pay here: {{ sms_payment_link }}</p>",
                "translations": {"es": es}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let tpl = r.json()["id"].as_str().unwrap().to_string();
    let rosa = customer(&t, "Rosa Rios", "rosa@example.com", None).await;
    set_language(&t, &rosa, "es").await;
    let ed = customer(&t, "Ed English", "ed@example.com", None).await;
    set_language(&t, &ed, "en").await;
    for c in [&rosa, &ed] {
        let p = t.property("8 Oak Ave", c, None).await;
        t.invoice(&p, 45000, &t.day(-10)).await;
    }

    // An alert for both, delivered the way the daily job delivers it.
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": tpl, "days_after_due": 3, "catch_up": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["caught_up"], 2, "{}", r.body);
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let emails = t.spool(".eml");
    assert_eq!(emails.len(), 2, "{emails:?}");
    let to_rosa = emails
        .iter()
        .find(|e| e.contains("rosa@example.com"))
        .unwrap();
    let to_ed = emails
        .iter()
        .find(|e| e.contains("ed@example.com"))
        .unwrap();
    assert!(to_rosa.contains("pendiente"), "{to_rosa}");
    assert!(to_rosa.contains("Hola Rosa"), "{to_rosa}");
    assert!(!to_rosa.contains("is due"), "{to_rosa}");
    assert!(to_ed.contains("is due"), "{to_ed}");
    assert!(to_ed.contains("Hi Ed"), "{to_ed}");
    assert!(!to_ed.contains("pendiente"), "{to_ed}");

    // The Spanish text carries her pay link, as the English one does.
    let link = t.link_url(&rosa).await;
    let r = render_for(
        &t.app,
        &company,
        Channel::Email,
        &tpl,
        &CustomerId::from(&rosa),
        None,
    )
    .await
    .unwrap();
    assert!(r.subject.starts_with("Factura"), "{}", r.subject);
    assert!(
        r.text.contains(&format!("Hola Rosa, pague aqui: {link}")),
        "{}",
        r.text
    );

    // A customer without a language reads the company's default.
    let nadia = customer(&t, "Nadia None", "nadia@example.com", None).await;
    let r = render_for(
        &t.app,
        &company,
        Channel::Email,
        &tpl,
        &CustomerId::from(&nadia),
        None,
    )
    .await
    .unwrap();
    assert!(r.subject.starts_with("Invoice"), "{}", r.subject);

    // A template without Spanish: the main text, for her too.
    let plain = crate::alerts::email_template(&t, "Plain {{ company_name }}", "<p>Pay</p>").await;
    let r = render_for(
        &t.app,
        &company,
        Channel::Email,
        &plain,
        &CustomerId::from(&rosa),
        None,
    )
    .await
    .unwrap();
    assert!(r.subject.starts_with("Plain"), "{}", r.subject);

    // SMS: the Spanish body where the template has it.
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(
                json!({"name": "Corto", "body": "Pay: {{ sms_payment_link }}",
                "translations": {"es": {"body": "Pague: {{ sms_payment_link }}"}}}),
            ),
        )
        .await;
    let sms = r.json()["id"].as_str().unwrap().to_string();
    let r = render_for(
        &t.app,
        &company,
        Channel::Sms,
        &sms,
        &CustomerId::from(&rosa),
        None,
    )
    .await
    .unwrap();
    assert!(r.text.contains("Pague: "), "{}", r.text);
    let r = render_for(
        &t.app,
        &company,
        Channel::Sms,
        &sms,
        &CustomerId::from(&ed),
        None,
    )
    .await
    .unwrap();
    assert!(r.text.contains("Pay: "), "{}", r.text);
}

#[tokio::test]
async fn the_office_editor_edits_and_previews_the_spanish_beside_the_english() {
    use crate::office_communications::{EMAIL, SMS, office, saved_id};
    let t = TestApp::new().await;
    let o = office(&t).await;

    // SMS: the Spanish body saved, counted as sent (its own encoding) and kept.
    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[
                ("name", "Corto"),
                ("body", "Pay: {{ sms_payment_link }}"),
                ("es_body", "Pagá aquí: {{ sms_payment_link }}"),
            ],
        )
        .await;
    let id = saved_id(&r, SMS);
    let got = t
        .api(Method::GET, &format!("/api/v1/sms-templates/{id}"), None)
        .await;
    assert_eq!(
        got.json()["translations"]["es"]["body"],
        "Pagá aquí: {{ sms_payment_link }}"
    );
    let page = o.get(&t, &format!("{SMS}/{id}")).await;
    assert!(
        page.body
            .contains("Pagá aquí: {{ sms_payment_link }}</textarea>")
    );
    assert!(page.body.contains("id=\"sms-count\""), "{}", page.body);
    let es_count = &page.body[page.body.find("id=\"sms-count-es\"").unwrap()..];
    // The accents make it Unicode: with the test-mode line and a real link
    // it takes two segments, and the editor says so.
    assert!(
        es_count.contains("(Unicode (UCS-2)), 2 segments."),
        "{es_count}"
    );
    assert!(page.body.contains("id=\"sms-warning-es\""));
    assert!(page.body.contains("data-sms-count=\"sms-live-es\""));

    // Previewed side by side: each text rendered with its own count.
    let r = o
        .post(
            &t,
            &format!("{SMS}/{id}"),
            &[
                ("name", "Corto"),
                ("body", "Pay: {{ sms_payment_link }}"),
                ("es_body", "Pague: {{ sms_payment_link }}"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("id=\"preview-count\""));
    let es = &r.body[r.body.find("id=\"preview-es\"").unwrap()..];
    assert!(es.contains("Pague: http"), "{es}");
    assert!(es.contains("id=\"preview-count-es\""), "{es}");
    assert!(es.contains("(GSM-7), 1 segment"), "{es}");

    // Email: a broken Spanish field is refused, named, and nothing is saved.
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Aviso"),
                ("subject", "Invoice"),
                ("html_body", "<p>Pay</p>"),
                ("es_subject", ""),
                ("es_html_body", "<p>Pague</p>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("id=\"translations.es.subject-error\""),
        "{}",
        r.body
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 0);
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Aviso"),
                ("subject", "Invoice"),
                ("html_body", "<p>Pay</p>"),
                ("es_subject", "Factura"),
                ("es_html_body", "<p>Pague {{ customer_first_name }}</p>"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("id=\"preview-subject-es\">Factura<"),
        "{}",
        r.body
    );
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Aviso"),
                ("subject", "Invoice"),
                ("html_body", "<p>Pay</p>"),
                ("es_subject", "Factura"),
                ("es_html_body", "<p>Pague</p>"),
            ],
        )
        .await;
    let id = saved_id(&r, EMAIL);
    let got = t
        .api(Method::GET, &format!("/api/v1/email-templates/{id}"), None)
        .await;
    assert_eq!(got.json()["translations"]["es"]["subject"], "Factura");
    // The editor shows the saved Spanish (so saving the form again keeps it).
    let page = o.get(&t, &format!("{EMAIL}/{id}")).await;
    assert!(page.body.contains("value=\"Factura\""), "{}", page.body);
}

#[tokio::test]
async fn dates_the_payment_button_and_the_test_mode_line_follow_the_customers_language() {
    use fieldpay::domain::i18n::{Lang, date};
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let body = "<p>{{ invoice_due_date }} {{ email_payment_link }}</p>";
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Due", "subject": "Due {{ invoice_due_date }}",
                "html_body": body, "text_body": "{{ invoice_due_date }} {{ email_payment_link }}",
                "translations": {"es": {"subject": "Vence {{ invoice_due_date }}",
                    "html_body": body, "text_body": "{{ invoice_due_date }} {{ email_payment_link }}"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let tpl = r.json()["id"].as_str().unwrap().to_string();
    let due = t.date(30);
    let mut invoices = Vec::new();
    for (name, email, lang) in [
        ("Rosa Rios", "rosa@example.com", "es"),
        ("Ed English", "ed@example.com", "en"),
    ] {
        let c = customer(&t, name, email, None).await;
        set_language(&t, &c, lang).await;
        let p = t.property("8 Oak Ave", &c, None).await;
        invoices.push((c, t.invoice(&p, 45000, &t.day(30)).await));
    }
    let (rosa, rosa_invoice) = &invoices[0];
    let es = render_for(
        &t.app,
        &company,
        Channel::Email,
        &tpl,
        &CustomerId::from(rosa),
        Some(&InvoiceId::from(rosa_invoice)),
    )
    .await
    .unwrap();
    assert_eq!(es.subject, format!("Vence {}", date(Lang::Es, due)));
    let html = es.html.unwrap();
    assert!(html.contains(">Haga clic aquí para pagar</a>"), "{html}");
    assert!(
        html.contains("Modo de prueba — no se mueve dinero"),
        "{html}"
    );
    assert!(es.text.starts_with("Modo de prueba"), "{}", es.text);
    assert!(
        es.text.contains("Haga clic aquí para pagar: http"),
        "{}",
        es.text
    );

    let (ed, ed_invoice) = &invoices[1];
    let en = render_for(
        &t.app,
        &company,
        Channel::Email,
        &tpl,
        &CustomerId::from(ed),
        Some(&InvoiceId::from(ed_invoice)),
    )
    .await
    .unwrap();
    assert_eq!(en.subject, format!("Due {}", date(Lang::En, due)));
    let html = en.html.unwrap();
    assert!(html.contains(">Click Here to Make Payment</a>"), "{html}");
    assert!(
        en.text.starts_with("Test mode — no money moves"),
        "{}",
        en.text
    );

    // A template without Spanish goes out in its main text, and the words
    // around it stay English with it, for her too.
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(
                json!({"name": "Only English", "subject": "Due {{ invoice_due_date }}",
                "html_body": body}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let plain = r.json()["id"].as_str().unwrap().to_string();
    let r = render_for(
        &t.app,
        &company,
        Channel::Email,
        &plain,
        &CustomerId::from(rosa),
        Some(&InvoiceId::from(rosa_invoice)),
    )
    .await
    .unwrap();
    assert_eq!(r.subject, format!("Due {}", date(Lang::En, due)));
    assert!(r.html.unwrap().contains(">Click Here to Make Payment</a>"));
    assert!(
        r.text.starts_with("Test mode — no money moves"),
        "{}",
        r.text
    );
}
