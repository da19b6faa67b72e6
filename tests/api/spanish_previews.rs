//! Previews show what the customer will read: a stored template's preview
//! (API and office) is written in the language the message to that customer
//! would be (their Spanish where the template has it, else the main text),
//! with the dates, the payment button and the test-mode line in that
//! language; `?lang=` asks for one language instead.

use axum::http::{Method, StatusCode};
use fieldpay::domain::i18n::{self, Lang};
use fieldpay::domain::ids::{CustomerId, InvoiceId};
use fieldpay::messaging::template::MessageVars;
use serde_json::{Value, json};

use crate::alerts::customer;
use crate::spanish_messages::set_language;
use crate::support::{BASE_URL, TestApp};

/// An email template whose Spanish names the invoice's due date and
/// carries the payment button.
async fn bilingual_email(t: &TestApp) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Aviso", "subject": "Invoice {{ invoice_number }} is due",
                "html_body": "<p>Hi {{ customer_first_name }}, due {{ invoice_due_date }}. {{ email_payment_link }}</p>",
                "translations": {"es": {"subject": "Factura {{ invoice_number }} pendiente",
                    "html_body": "<p>Hola {{ customer_first_name }}, vence el {{ invoice_due_date }}. {{ email_payment_link }}</p>"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn bilingual_sms(t: &TestApp) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Corto", "body": "Pay by {{ invoice_due_date }}: {{ sms_payment_link }}",
                "translations": {"es": {"body": "Pague antes del {{ invoice_due_date }}: {{ sms_payment_link }}"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// A customer in `lang` with one open invoice due in 17 days: (customer, invoice).
async fn customer_in(t: &TestApp, name: &str, lang: &str) -> (String, String) {
    let email = format!(
        "{}@example.com",
        name.split(' ').next().unwrap().to_lowercase()
    );
    let c = customer(t, name, &email, Some("+15125550199")).await;
    set_language(t, &c, lang).await;
    let p = t.property("8 Oak Ave", &c, None).await;
    let inv = t.invoice(&p, 45000, &t.day(17)).await;
    (c, inv)
}

async fn preview(t: &TestApp, kind: &str, id: &str, query: &str, body: Value) -> Value {
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/{kind}-templates/{id}/preview{query}"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn a_spanish_customers_preview_is_the_spanish_message_they_get() {
    let t = TestApp::new().await;
    let tpl = bilingual_email(&t).await;
    let (rosa, invoice) = customer_in(&t, "Rosa Rios", "es").await;
    let due_es = i18n::date(Lang::Es, t.date(17));
    let due_en = i18n::date(Lang::En, t.date(17));

    // Her invoice: the Spanish subject and body, her Spanish due date, the
    // button and the test-mode line in Spanish.
    let out = preview(&t, "email", &tpl, "", json!({"invoice_id": invoice})).await;
    let subject = out["subject"].as_str().unwrap();
    assert!(subject.starts_with("Factura "), "{subject}");
    assert!(subject.ends_with(" pendiente"), "{subject}");
    let html = out["html"].as_str().unwrap();
    assert!(
        html.contains(&format!("Hola Rosa, vence el {due_es}.")),
        "{html}"
    );
    assert!(
        html.contains(&i18n::t(Lang::Es, "message-pay-link")),
        "{html}"
    );
    assert!(
        html.contains(&i18n::t(Lang::Es, "message-test-mode")),
        "{html}"
    );
    assert!(!html.contains("Click Here"), "{html}");
    let text = out["text"].as_str().unwrap();
    assert!(
        text.starts_with(&i18n::t(Lang::Es, "message-test-mode")),
        "{text}"
    );
    // Exactly what delivery renders for her.
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT id FROM companies LIMIT 1")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let sent = fieldpay::app::messages::render_for(
        &t.app,
        &company,
        fieldpay::messaging::Channel::Email,
        &tpl,
        &CustomerId::from(&rosa),
        Some(&InvoiceId::from(&invoice)),
    )
    .await
    .unwrap();
    assert_eq!(out["subject"], sent.subject.as_str());
    assert_eq!(out["text"], sent.text.as_str());

    // `?lang=en` shows her the main text instead, all in English.
    let out = preview(
        &t,
        "email",
        &tpl,
        "?lang=en",
        json!({"customer_id": rosa, "invoice_id": invoice}),
    )
    .await;
    assert!(out["subject"].as_str().unwrap().ends_with(" is due"));
    let html = out["html"].as_str().unwrap();
    assert!(html.contains(&format!("Hi Rosa, due {due_en}.")), "{html}");

    // An English customer reads English; `?lang=es` shows him the Spanish.
    let (_, ed_invoice) = customer_in(&t, "Ed English", "en").await;
    let out = preview(&t, "email", &tpl, "", json!({"invoice_id": ed_invoice})).await;
    assert!(out["subject"].as_str().unwrap().ends_with(" is due"));
    let out = preview(
        &t,
        "email",
        &tpl,
        "?lang=es",
        json!({"invoice_id": ed_invoice}),
    )
    .await;
    assert!(out["html"].as_str().unwrap().contains("Hola Ed, vence el "));

    // SMS, both preview routes: her Spanish body with her Spanish date.
    let sms = bilingual_sms(&t).await;
    let out = preview(&t, "sms", &sms, "", json!({"customer_id": rosa})).await;
    assert!(
        out["text"]
            .as_str()
            .unwrap()
            .starts_with(&i18n::t(Lang::Es, "message-test-mode-sms")),
        "{out}"
    );
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/sms-templates/{sms}/preview?invoice_id={invoice}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = r.json()["body"].as_str().unwrap().to_string();
    assert!(
        body.contains(&format!("Pague antes del {due_es}: {BASE_URL}/pay/")),
        "{body}"
    );
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/sms-templates/{sms}/preview?invoice_id={invoice}&lang=en"),
            None,
        )
        .await;
    let body = r.json()["body"].as_str().unwrap().to_string();
    assert!(body.contains(&format!("Pay by {due_en}: ")), "{body}");
    // An API preview's `lang` sets no page-language cookie.
    assert!(r.headers.get("set-cookie").is_none(), "{:?}", r.headers);
}

#[tokio::test]
async fn a_template_without_spanish_previews_its_main_text_in_english() {
    let t = TestApp::new().await;
    let (rosa, invoice) = customer_in(&t, "Rosa Rios", "es").await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(
                json!({"name": "Plain", "subject": "Invoice {{ invoice_number }}",
                "html_body": "<p>Due {{ invoice_due_date }}. {{ email_payment_link }}</p>"}),
            ),
        )
        .await;
    let tpl = r.json()["id"].as_str().unwrap().to_string();
    for query in ["", "?lang=es"] {
        let out = preview(
            &t,
            "email",
            &tpl,
            query,
            json!({"customer_id": rosa, "invoice_id": invoice}),
        )
        .await;
        assert!(out["subject"].as_str().unwrap().starts_with("Invoice "));
        // English all through, never a mix.
        let html = out["html"].as_str().unwrap();
        let due = i18n::date(Lang::En, t.date(17));
        assert!(html.contains(&format!("Due {due}.")), "{html}");
        assert!(html.contains("Click Here to Make Payment"), "{html}");
        assert!(html.contains(&i18n::t(Lang::En, "message-test-mode")));
        assert!(!html.contains(&i18n::t(Lang::Es, "message-pay-link")));
    }
}

#[tokio::test]
async fn sample_previews_follow_lang_and_a_wrong_lang_is_refused() {
    let t = TestApp::new().await;
    let tpl = bilingual_email(&t).await;
    let sample_es = MessageVars::sample_in(BASE_URL, Lang::Es);
    let sample_en = MessageVars::sample_in(BASE_URL, Lang::En);
    assert_ne!(sample_es.invoice_due_date, sample_en.invoice_due_date);

    // No customer: as a customer of the company's default (English) gets it.
    let out = preview(&t, "email", &tpl, "", json!({})).await;
    let html = out["html"].as_str().unwrap();
    assert!(
        html.contains(&format!("Hi Jane, due {}.", sample_en.invoice_due_date)),
        "{html}"
    );
    // `?lang=es`: the Spanish, with the sample dates the Spanish way.
    let out = preview(&t, "email", &tpl, "?lang=es", json!({})).await;
    let html = out["html"].as_str().unwrap();
    assert!(
        html.contains(&format!(
            "Hola Jane, vence el {}.",
            sample_es.invoice_due_date
        )),
        "{html}"
    );
    assert!(
        html.contains(&i18n::t(Lang::Es, "message-pay-link")),
        "{html}"
    );
    let sms = bilingual_sms(&t).await;
    let out = preview(&t, "sms", &sms, "?lang=es", json!(null)).await;
    assert!(
        out["text"]
            .as_str()
            .unwrap()
            .contains(&format!("Pague antes del {}", sample_es.invoice_due_date)),
        "{out}"
    );

    // Anything but en or es is a 422 that names the parameter.
    for (method, path, body) in [
        (
            Method::POST,
            format!("/api/v1/email-templates/{tpl}/preview?lang=xx"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/sms-templates/{sms}/preview?lang=fr"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/email-templates/{tpl}/preview?lang="),
            Some(json!({})),
        ),
    ] {
        let r = t.api(method, &path, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], "lang", "{}", r.body);
        assert!(
            r.body.contains("lang must be \\\"en\\\" or \\\"es\\\""),
            "{}",
            r.body
        );
    }
    let (rosa, _) = customer_in(&t, "Rosa Rios", "es").await;
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/sms-templates/{sms}/preview?customer_id={rosa}&lang=xx"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn the_offices_email_as_the_customer_sees_it_is_in_their_language() {
    use crate::office_auth::Office;
    use crate::support::OWNER_PASSWORD;
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let tpl = bilingual_email(&t).await;
    let (rosa, invoice) = customer_in(&t, "Rosa Rios", "es").await;
    let (ed, _) = customer_in(&t, "Ed English", "en").await;
    let due_es = i18n::date(Lang::Es, t.date(17));
    let spanish_words = [
        i18n::t(Lang::Es, "message-pay-link"),
        i18n::t(Lang::Es, "message-test-mode"),
    ];

    // "Send now": the stored template's Spanish, as she will get it.
    let send = format!("/office/customers/{rosa}/send");
    let page = o
        .get(&t, &format!("{send}?channel=email&invoice_id={invoice}"))
        .await
        .body;
    let marker = "name=\"nonce\" value=\"";
    let at = page.find(marker).unwrap() + marker.len();
    let nonce = page[at..at + page[at..].find('"').unwrap()].to_string();
    let template = format!("email:{tpl}");
    let r = o
        .post(
            &t,
            &send,
            &[
                ("nonce", &nonce),
                ("template", &template),
                ("invoice_id", &invoice),
                ("action", "document"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains(&format!("Hola Rosa, vence el {due_es}.")),
        "{}",
        r.body
    );
    for words in &spanish_words {
        assert!(r.body.contains(words.as_str()), "{words}: {}", r.body);
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 0);

    // The editor: the typed text in the chosen customer's language.
    let document = |customer: &str| {
        let customer = customer.to_string();
        let o = &o;
        let t = &t;
        async move {
            let r = o
                .post(
                    t,
                    "/office/settings/email-templates/preview-email",
                    &[
                        ("name", "Aviso"),
                        ("subject", "Due {{ invoice_number }}"),
                        (
                            "html_body",
                            "<p>Hi {{ customer_first_name }}, due {{ invoice_due_date }}. {{ email_payment_link }}</p>",
                        ),
                        ("es_subject", "Vence {{ invoice_number }}"),
                        (
                            "es_html_body",
                            "<p>Hola {{ customer_first_name }}, vence el {{ invoice_due_date }}. {{ email_payment_link }}</p>",
                        ),
                        ("customer_id", &customer),
                        ("action", "preview"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.body
        }
    };
    let to_rosa = document(&rosa).await;
    assert!(to_rosa.contains("Hola Rosa, vence el ."), "{to_rosa}");
    for words in &spanish_words {
        assert!(to_rosa.contains(words.as_str()), "{words}: {to_rosa}");
    }
    let to_ed = document(&ed).await;
    assert!(to_ed.contains("Hi Ed, due ."), "{to_ed}");
    assert!(to_ed.contains("Click Here to Make Payment"), "{to_ed}");
    // No customer: sample data, as a customer of the company's default
    // language (English) gets it.
    let sample = document("").await;
    let due = MessageVars::sample_in(BASE_URL, Lang::En).invoice_due_date;
    assert!(sample.contains(&format!("Hi Jane, due {due}.")), "{sample}");
}

#[tokio::test]
async fn the_editors_spanish_sample_preview_has_spanish_dates() {
    use crate::office_auth::Office;
    use crate::support::OWNER_PASSWORD;
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let r = o
        .post(
            &t,
            "/office/settings/sms-templates/new",
            &[
                ("name", "Corto"),
                ("body", "Due {{ invoice_due_date }}, {{ autopay_date }}"),
                (
                    "es_body",
                    "Vence el {{ invoice_due_date }}, {{ autopay_date }}",
                ),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let at = r.body.find("id=\"preview-es\"").expect("a Spanish preview");
    let (english, spanish) = r.body.split_at(at);
    let es = MessageVars::sample_in(BASE_URL, Lang::Es);
    let en = MessageVars::sample_in(BASE_URL, Lang::En);
    assert!(
        spanish.contains(&format!(
            "Vence el {}, {}",
            es.invoice_due_date, es.autopay_date
        )),
        "{spanish}"
    );
    assert!(!spanish.contains(&en.invoice_due_date), "{spanish}");
    assert!(
        english.contains(&format!("Due {}, {}", en.invoice_due_date, en.autopay_date)),
        "{english}"
    );
}

/// `t(lang, key)` as a customer reads it.
fn words(lang: Lang, key: &str) -> String {
    i18n::t(lang, key)
}

#[tokio::test]
async fn too_many_requests_is_told_in_the_customers_language() {
    let t = TestApp::with_limits(fieldpay::config::RateLimits {
        misses_per_client_per_minute: 1,
        misses_total_per_minute: 1000,
        hits_per_token_per_minute: 2,
    })
    .await;
    let (rosa, invoice) = customer_in(&t, "Rosa Rios", "es").await;
    let token = t.token(&rosa).await;
    let spanish = words(Lang::Es, "too-many-requests");
    assert_ne!(spanish, words(Lang::En, "too-many-requests"));

    // Her link, opened too often: the page's 429 in Spanish.
    let mut r = t.get(&format!("/pay/{token}")).await;
    for _ in 0..3 {
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        r = t.get(&format!("/pay/{token}")).await;
    }
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body, spanish);
    assert_eq!(r.header("content-language"), "es");
    assert_eq!(r.header("retry-after"), "60");
    // The same from the routes that act on the link (its PDF) and the
    // page's JSON twin (code unchanged, words in Spanish).
    let r = t.get(&format!("/pay/{token}/invoices/{invoice}/pdf")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body, spanish);
    let r = t.get(&format!("/api/v1/pay/{token}")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    assert_eq!(r.json()["error"]["message"], spanish.as_str());
    // `?lang=en` (the switch) is heard before her language.
    let r = t.get(&format!("/pay/{token}?lang=en")).await;
    assert_eq!(r.body, words(Lang::En, "too-many-requests"));

    // Guessed links, no customer known: the browser's language.
    let guess = || format!("/pay/{}", "x".repeat(43));
    let mut r = t
        .request(Method::GET, &guess(), &[("accept-language", "es-MX")], None)
        .await;
    for _ in 0..3 {
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        r = t
            .request(Method::GET, &guess(), &[("accept-language", "es-MX")], None)
            .await;
    }
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body, spanish);
    let r = t.get(&guess()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body, words(Lang::En, "too-many-requests"));
}

#[tokio::test]
async fn an_expired_form_is_told_in_the_customers_language() {
    let t = TestApp::new().await;
    let (rosa, _) = customer_in(&t, "Rosa Rios", "es").await;
    let cookie = crate::security::portal_cookie(&t, &rosa).await;
    let form = [("content-type", "application/x-www-form-urlencoded")];

    // Signed in: a portal form whose token is not the session's.
    let r = t
        .request(
            Method::POST,
            "/portal/logout",
            &[form[0], ("cookie", &cookie)],
            Some("csrf=forged".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body, words(Lang::Es, "form-expired"));
    assert_eq!(r.header("content-language"), "es");
    assert_ne!(r.body, words(Lang::En, "form-expired"));

    // The sign-in form, before anyone is known: the browser's language.
    for (accept, lang) in [("es", Lang::Es), ("en-US", Lang::En)] {
        let r = t
            .request(
                Method::POST,
                "/portal/login",
                &[form[0], ("accept-language", accept)],
                Some("email=rosa%40example.com&password=x&csrf=forged".into()),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(
            r.body.contains(&words(lang, "signin-form-expired")),
            "{accept}: {}",
            r.body
        );
    }

    // The office stays English.
    use crate::office_auth::Office;
    let o = Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD).await;
    let r = o
        .post(
            &t,
            "/office/settings/email-templates/new",
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.body, words(Lang::En, "form-expired"));
}

#[tokio::test]
async fn the_document_describes_the_previews_lang() {
    let t = TestApp::new().await;
    let doc = t.get("/api/v1/openapi.json").await.json();
    for (path, method) in [
        ("/api/v1/email-templates/{id}/preview", "post"),
        ("/api/v1/sms-templates/{id}/preview", "post"),
        ("/api/v1/sms-templates/{id}/preview", "get"),
    ] {
        let params = doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path}"));
        let lang = params
            .iter()
            .find(|p| p["name"] == "lang")
            .unwrap_or_else(|| panic!("{method} {path}: {params:?}"));
        assert_eq!(lang["in"], "query");
        assert_eq!(lang["required"], false);
        // The codes, through the schema it names.
        let name = lang["schema"]["$ref"].as_str().unwrap().rsplit('/').next();
        let codes = doc["components"]["schemas"][name.unwrap()]["enum"].clone();
        assert_eq!(codes, json!(["en", "es"]), "{method} {path}: {lang}");
        assert!(doc["paths"][path][method]["responses"]["422"].is_object());
    }
}
