//! Spanish for customers: a customer's language (API, office form), which
//! language a page speaks (`?lang=`, the customer's, `Accept-Language`, the
//! company's), and the customer-facing pages, receipt, consent and PDFs in
//! Spanish. Also: every customer-facing template says its words through
//! `t()`, never as literal text.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::pay_form::{hidden, submit};
use crate::support::{OWNER_PASSWORD, TestApp};

async fn spanish_customer(t: &TestApp, name: &str, language: Option<&str>) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": name, "email": "cliente@example.com", "language": language})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["language"], json!(language));
    r.json()["id"].as_str().unwrap().to_string()
}

/// The `lang` of the page's `<html>`.
fn html_lang(body: &str) -> &str {
    let at = body
        .find("<html lang=\"")
        .expect("an html element with lang")
        + 12;
    &body[at..at + body[at..].find('"').unwrap()]
}

#[tokio::test]
async fn the_language_is_stored_read_changed_and_checked() {
    let t = TestApp::new().await;
    let c = spanish_customer(&t, "Rosa Ríos", Some("es")).await;
    let got = t
        .api(Method::GET, &format!("/api/v1/customers/{c}"), None)
        .await;
    assert_eq!(got.json()["language"], "es");
    let none = spanish_customer(&t, "Sin Idioma", None).await;
    let got = t
        .api(Method::GET, &format!("/api/v1/customers/{none}"), None)
        .await;
    assert_eq!(got.json()["language"], json!(null));

    // PATCH: a language, then none; anything else is a 422 naming the field.
    let r = t
        .api(
            Method::PATCH,
            &format!("/api/v1/customers/{none}"),
            Some(json!({"language": "en"})),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["language"].clone()),
        (StatusCode::OK, json!("en"))
    );
    let r = t
        .api(
            Method::PATCH,
            &format!("/api/v1/customers/{c}"),
            Some(json!({"name": "Rosa R."})),
        )
        .await;
    assert_eq!(r.json()["language"], "es", "a PATCH without it keeps it");
    let r = t
        .api(
            Method::PATCH,
            &format!("/api/v1/customers/{c}"),
            Some(json!({"language": null})),
        )
        .await;
    assert_eq!(r.json()["language"], json!(null));
    for bad in ["fr", "ES", "spanish"] {
        let r = t
            .api(
                Method::POST,
                "/api/v1/customers",
                Some(json!({"name": "X", "language": bad})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], "language");
        assert!(
            r.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("\"es\"")
        );
        let r = t
            .api(
                Method::PATCH,
                &format!("/api/v1/customers/{c}"),
                Some(json!({"language": bad})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.body
        );
    }
    let listed = t.api(Method::GET, "/api/v1/customers?q=Rosa", None).await;
    assert_eq!(listed.json()["data"][0]["language"], json!(null));
}

#[tokio::test]
async fn the_pay_page_speaks_the_customers_language_unless_asked_otherwise() {
    let t = TestApp::new().await;
    let c = spanish_customer(&t, "Rosa Ríos", Some("es")).await;
    let p = t.property("14 Calle Olmo", &c, None).await;
    t.invoice(&p, 123456, &t.day(-3)).await;
    t.invoice(&p, 6500, &t.day(20)).await;
    let token = t.token(&c).await;

    let page = t.get(&format!("/pay/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(html_lang(&page.body), "es");
    for words in [
        "Facturas de Rosa Ríos",
        "Por pagar ahora",
        "Próximas",
        "Vencida hace 3 días",
        "Pagar $1,234.56",
        "Guardar esta tarjeta y pagar automáticamente",
        "Autorizo a",
        "Modo de prueba",
        "Número de tarjeta",
    ] {
        assert!(page.body.contains(words), "{words} in {}", page.body);
    }
    assert!(!page.body.contains("Invoices for"), "{}", page.body);
    // The switch offers both, and keeps the choice in a cookie.
    assert!(
        page.body
            .contains(&format!("href=\"/pay/{token}?lang=en\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains(">Español</a>") && page.body.contains(">English</a>"));

    let en = t.get(&format!("/pay/{token}?lang=en")).await;
    assert_eq!(html_lang(&en.body), "en");
    assert!(en.body.contains("Invoices for Rosa Ríos"));
    assert!(
        en.header("set-cookie").starts_with("fp_lang=en;"),
        "{:?}",
        en.headers
    );
    let kept = t
        .request(
            Method::GET,
            &format!("/pay/{token}"),
            &[("cookie", "fp_lang=en")],
            None,
        )
        .await;
    assert_eq!(html_lang(&kept.body), "en", "the switch's choice holds");
}

#[tokio::test]
async fn without_a_customer_language_the_browser_then_the_company_decide() {
    let t = TestApp::new().await;
    let c = spanish_customer(&t, "Pat Nadie", None).await;
    let p = t.property("1 Main St", &c, None).await;
    t.invoice(&p, 5000, &t.day(5)).await;
    let token = t.token(&c).await;
    let path = format!("/pay/{token}");

    let plain = t.get(&path).await;
    assert_eq!(html_lang(&plain.body), "en");
    let es = t
        .request(
            Method::GET,
            &path,
            &[("accept-language", "es-US,es;q=0.9,en;q=0.5")],
            None,
        )
        .await;
    assert_eq!(html_lang(&es.body), "es");
    assert!(es.body.contains("Vence el"), "{}", es.body);
    let en_first = t
        .request(
            Method::GET,
            &path,
            &[("accept-language", "en-US,es;q=0.5")],
            None,
        )
        .await;
    assert_eq!(html_lang(&en_first.body), "en");

    // The company's default: Spanish, from the office's settings page.
    let office = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let fields = |language| {
        [
            ("name", "Greenleaf Pest Control"),
            ("currency", "usd"),
            ("time_zone", "America/Chicago"),
            ("accent_color", "#1d5fbf"),
            ("country", "US"),
            ("language", language),
        ]
    };
    let r = office
        .post(&t, "/office/settings/company", &fields("fr"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("Choose English or Spanish."), "{}", r.body);
    let r = office
        .post(&t, "/office/settings/company", &fields("es"))
        .await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    let form = office.get(&t, "/office/settings/company").await;
    assert!(
        form.body.contains("<option value=\"es\" selected>"),
        "{}",
        form.body
    );
    let plain = t.get(&path).await;
    assert_eq!(html_lang(&plain.body), "es");
    let fr = t
        .request(Method::GET, &path, &[("accept-language", "fr")], None)
        .await;
    assert_eq!(
        html_lang(&fr.body),
        "es",
        "a language fieldpay does not speak is passed over"
    );

    // An unknown link's 404 follows the browser.
    let missing = t
        .request(
            Method::GET,
            "/pay/not-a-real-token-at-all",
            &[("accept-language", "es")],
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(html_lang(&missing.body), "es");
    assert!(missing.body.contains("Página no encontrada"));
}

#[tokio::test]
async fn a_spanish_customer_pays_two_invoices_and_enrolls_with_the_consent_in_spanish() {
    let t = TestApp::new().await;
    let c = spanish_customer(&t, "Rosa Ríos", Some("es")).await;
    let p = t.property("14 Calle Olmo", &c, None).await;
    let a = t.invoice(&p, 8900, &t.day(-1)).await;
    let b = t.invoice(&p, 21500, &t.day(-1)).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    let card = t.card("4242424242424242").await;
    let (nonce, sig) = (
        hidden(&page.body, "form_nonce"),
        hidden(&page.body, "form_sig"),
    );

    // First the box left unticked: the refusal is in Spanish.
    let base = [
        ("form_nonce", nonce.as_str()),
        ("form_sig", sig.as_str()),
        ("invoice_ids", a.as_str()),
        ("invoice_ids", b.as_str()),
        ("payment_method", "new_card"),
        ("card_token", card.as_str()),
        ("plan", "autopay"),
    ];
    let r = submit(&t, &token, &base).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("Para usar el pago automático, marque la casilla"),
        "{}",
        r.body
    );

    let page = t.get(&format!("/pay/{token}")).await;
    let (nonce, sig) = (
        hidden(&page.body, "form_nonce"),
        hidden(&page.body, "form_sig"),
    );
    let mut fields = base.to_vec();
    fields[0] = ("form_nonce", nonce.as_str());
    fields[1] = ("form_sig", sig.as_str());
    fields.push(("autopay_consent", "yes"));
    let r = submit(&t, &token, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt = t.get(r.header("location")).await;
    assert_eq!(html_lang(&receipt.body), "es");
    for words in [
        "Pagó $304.00. ¡Gracias!",
        "Visa terminada en 4242",
        "Referencia del pago",
        "Saldo pendiente",
    ] {
        assert!(receipt.body.contains(words), "{words} in {}", receipt.body);
    }

    let autopay = t
        .api(Method::GET, &format!("/api/v1/customers/{c}/autopay"), None)
        .await;
    let text = autopay.json()["consent"]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.starts_with("Autorizo a Greenleaf Pest Control a cobrar en esta tarjeta"),
        "{text}"
    );

    // The page now says autopay is on, in Spanish; turning it off from the link too.
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(
        page.body.contains("El pago automático está activado"),
        "{}",
        page.body
    );
    let off = t.get(&format!("/pay/{token}/autopay")).await;
    assert_eq!(html_lang(&off.body), "es");
    assert!(
        off.body.contains("¿Desactivar el pago automático?"),
        "{}",
        off.body
    );
}

#[tokio::test]
async fn a_decline_is_told_in_spanish() {
    let t = TestApp::new().await;
    let c = spanish_customer(&t, "Rosa Ríos", Some("es")).await;
    let p = t.property("14 Calle Olmo", &c, None).await;
    let a = t.invoice(&p, 8900, &t.day(-1)).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    let card = t.card("4000000000009995").await;
    let r = submit(
        &t,
        &token,
        &[
            ("form_nonce", hidden(&page.body, "form_nonce").as_str()),
            ("form_sig", hidden(&page.body, "form_sig").as_str()),
            ("invoice_ids", a.as_str()),
            ("payment_method", "new_card"),
            ("card_token", card.as_str()),
            ("plan", "once"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        r.body.contains("La tarjeta no tiene fondos suficientes"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_office_form_sets_the_language() {
    let t = TestApp::new().await;
    let c = spanish_customer(&t, "Rosa Ríos", None).await;
    let office = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let r = office
        .post(
            &t,
            &format!("/office/customers/{c}/edit"),
            &[("name", "Rosa Ríos"), ("language", "es")],
        )
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.body);
    let got = t
        .api(Method::GET, &format!("/api/v1/customers/{c}"), None)
        .await;
    assert_eq!(got.json()["language"], "es");
    let form = office.get(&t, &format!("/office/customers/{c}/edit")).await;
    assert!(
        form.body.contains("<option value=\"es\" selected>"),
        "{}",
        form.body
    );
}

// ------------------------------------------------------------ templates

/// Words outside `{{ }}`/`{% %}` in a template: text between tags, and the
/// attributes people read (`alt`, `title`, `placeholder`, `aria-label`,
/// `data-label`). Punctuation, numbers and symbols are not words.
fn untranslated(template: &str) -> Vec<String> {
    // Template code first: what it prints comes from t() or from data.
    let mut text = String::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{']) {
        text.push_str(&rest[..at]);
        let tail = &rest[at..];
        let close = match &tail[..2.min(tail.len())] {
            "{{" => "}}",
            "{%" => "%}",
            "{#" => "#}",
            _ => {
                text.push('{');
                rest = &tail[1..];
                continue;
            }
        };
        let end = tail.find(close).map(|e| e + 2).unwrap_or(tail.len());
        text.push_str(" \u{1} ");
        rest = &tail[end..];
    }
    text.push_str(rest);

    let mut found = Vec::new();
    let mut words = |s: &str| {
        let s = s.replace('\u{1}', "{…}");
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.replace("{…}", "").chars().any(|c| c.is_alphabetic()) {
            found.push(s);
        }
    };
    let mut rest = text.as_str();
    while let Some(open) = rest.find('<') {
        words(&rest[..open]);
        let close = rest[open..]
            .find('>')
            .map(|c| open + c)
            .unwrap_or(rest.len() - 1);
        let tag = &rest[open..=close];
        for attr in ["alt", "title", "placeholder", "aria-label", "data-label"] {
            let marker = format!(" {attr}=\"");
            if let Some(a) = tag.find(&marker) {
                let v = &tag[a + marker.len()..];
                words(&v[..v.find('"').unwrap_or(v.len())]);
            }
        }
        rest = &rest[close + 1..];
    }
    words(rest);
    found
}

#[test]
fn the_scanner_finds_literal_words_and_passes_translated_ones() {
    assert_eq!(
        untranslated("<p>Hello {{ name }}</p><p>{{ t(\"pay-title\") }} · 42</p>"),
        vec!["Hello {…}".to_string()]
    );
    assert_eq!(
        untranslated("<input placeholder=\"Name on card\" value=\"{{ v }}\">"),
        vec!["Name on card".to_string()]
    );
    assert!(
        untranslated("{% if x %}<h1 class=\"big\">{{ t(\"a\") }}</h1>{% endif %} (PDF)").len() == 1
    );
    assert!(
        untranslated("<a href=\"/pay/{{ token }}\">{{ t(\"b\") }}</a> — <span>$</span>").is_empty()
    );
}

#[test]
fn customer_facing_templates_have_no_untranslated_words() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    // The office's own pages (and the first-run setup) stay English.
    let office = ["setup.html", "office_invite.html"];
    let mut checked = 0;
    let mut problems = Vec::new();
    for dir in [root.clone(), root.join("portal")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".html") || office.contains(&name.as_str()) {
                continue;
            }
            checked += 1;
            for w in untranslated(&std::fs::read_to_string(&path).unwrap()) {
                problems.push(format!("{}: {w}", path.display()));
            }
        }
    }
    assert!(checked >= 15, "the customer pages were read ({checked})");
    assert!(
        problems.is_empty(),
        "words outside t():\n{}",
        problems.join("\n")
    );
}

/// The words `<body data-words>` gives the page's scripts.
fn script_words(body: &str) -> serde_json::Value {
    let at = body.find("data-words=\"").expect("data-words") + 12;
    let raw = &body[at..at + body[at..].find('"').unwrap()];
    let raw = raw
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    serde_json::from_str(&raw).unwrap_or_else(|e| panic!("{e}: {raw}"))
}

#[tokio::test]
async fn the_card_processors_refusals_read_in_the_pages_language() {
    let t = TestApp::new().await;
    let rosa = spanish_customer(&t, "Rosa Ríos", Some("es")).await;
    let p = t.property("14 Calle Olmo", &rosa, None).await;
    t.invoice(&p, 6500, &t.day(5)).await;
    let token = t.token(&rosa).await;
    let es = script_words(&t.get(&format!("/pay/{token}")).await.body);
    let en = script_words(&t.get(&format!("/pay/{token}?lang=en")).await.body);

    // Each refusal of the card fields, as the sandbox answers it: the page
    // has its own words for the code, Spanish on the Spanish page and the
    // processor's own English on the English one.
    let exp_year = t.today().year() + 3;
    let past_year = t.today().year() - 1;
    for (card, spanish) in [
        (
            json!({"number": "4242424242424241", "exp_month": 12, "exp_year": exp_year, "cvc": "123"}),
            "El número de la tarjeta es incorrecto",
        ),
        (
            json!({"number": "4242424242424242", "exp_month": 13, "exp_year": exp_year, "cvc": "123"}),
            "El mes de vencimiento",
        ),
        (
            json!({"number": "4242424242424242", "exp_month": 12, "exp_year": past_year, "cvc": "123"}),
            "ya pasó",
        ),
        (
            json!({"number": "4242424242424242", "exp_month": 12, "exp_year": exp_year, "cvc": "1"}),
            "código de seguridad",
        ),
        (
            json!({"number": "4111111111111111", "exp_month": 12, "exp_year": exp_year, "cvc": "123"}),
            "página de prueba",
        ),
    ] {
        let r = t
            .request(
                Method::POST,
                "/sandbox/v1/tokens",
                &[("content-type", "application/json")],
                Some(card.to_string()),
            )
            .await;
        assert!(r.status.is_client_error(), "{card}: {}", r.body);
        let error = &r.json()["error"];
        let code = error["code"].as_str().unwrap();
        assert_eq!(en[code], error["message"], "{code}");
        let words = es[code].as_str().unwrap_or_else(|| panic!("{code}: {es}"));
        assert!(words.contains(spanish), "{code}: {words}");
    }
}
