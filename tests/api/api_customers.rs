//! The office's customer actions over the JSON API: contact details and
//! properties, saved cards, autopay (read, on, off), sending an invoice or
//! the payment link, and the SMS preview — each answered 404 for another
//! company's ids and 4xx with the field for bad input. Cancelling autopay
//! from the pay page, the office and the portal is one use case.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::office_auth::{Office, csrf_of, urlencode};
use crate::support::{BASE_URL, OWNER_PASSWORD, Resp, TestApp};
use fieldpay::messaging::template::sms_segments;

/// A customer with an email address and a phone number.
async fn customer(t: &TestApp, name: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": name, "email": "lena@example.com", "phone": "(512) 555-0142"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Enrolls the customer through the API with the consent they gave.
async fn api_enroll(t: &TestApp, customer: &str, method: &str) -> Value {
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{customer}/autopay"),
            Some(json!({"method_id": method, "consent": true, "consent_note": "By phone, Dec 1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

fn error_field(r: &Resp) -> String {
    r.json()["error"]["field"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn error_code(r: &Resp) -> String {
    r.json()["error"]["code"].as_str().unwrap_or("").to_string()
}

async fn template(t: &TestApp, kind: &str, body: Value) -> String {
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

fn spool(t: &TestApp, ext: &str) -> Vec<String> {
    t.spool(ext)
}

// ---------------------------------------------------------------- contact details, properties

#[tokio::test]
async fn customers_and_properties_change_through_the_api() {
    let t = TestApp::new().await;
    let c = customer(&t, "Lena Ortiz").await;
    let landlord = customer(&t, "Larry Landlord").await;
    let p = t.property("1 Main St", &c, None).await;

    let path = format!("/api/v1/customers/{c}");
    let r = t
        .api(
            Method::PATCH,
            &path,
            Some(json!({"name": "Lena O. Ortiz", "email": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let got = t.api(Method::GET, &path, None).await.json();
    assert_eq!(got["name"], "Lena O. Ortiz");
    assert_eq!(got["email"], Value::Null);
    assert_eq!(got["phone"], "+15125550142", "what is not sent stays");
    // Bad input: the field and what to fix; nothing changes.
    let r = t
        .api(
            Method::PATCH,
            &path,
            Some(json!({"phone": "call me maybe"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_field(&r), "phone");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("phone number")
    );
    let r = t
        .api(Method::PATCH, &path, Some(json!({"name": " "})))
        .await;
    assert_eq!(
        (r.status, error_field(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "name".into())
    );
    let r = t
        .api(Method::PATCH, &path, Some(json!({"nickname": "L"})))
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    assert_eq!(
        t.api(Method::GET, &path, None).await.json()["name"],
        "Lena O. Ortiz"
    );

    // The landlord pays for the property from now on.
    let ppath = format!("/api/v1/properties/{p}");
    let r = t
        .api(
            Method::PATCH,
            &ppath,
            Some(json!({"bill_to_customer_id": landlord})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["bill_to_customer_id"], landlord.as_str());
    assert_eq!(r.json()["address"], "1 Main St");
    let r = t
        .api(Method::PATCH, &ppath, Some(json!({"address": "  "})))
        .await;
    assert_eq!(
        (r.status, error_field(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "address".into())
    );
    let r = t
        .api(
            Method::PATCH,
            &ppath,
            Some(json!({"bill_to_customer_id": "cus_nobody"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(error_field(&r), "bill_to_customer_id");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'property.bill_to_changed'")
            .await,
        1
    );

    // Another company sees none of it.
    let other = t.other_company().await;
    let theirs = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Theirs"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (key, path, body) in [
        // Its key on our customer and our property.
        (&other, &path, json!({"name": "Mine now"})),
        (&other, &ppath, json!({"address": "2 Elm St"})),
        // Our key naming its customer as the bill-to.
        (&t.api_key, &ppath, json!({"bill_to_customer_id": theirs})),
    ] {
        let r = t.api_with_key(key, Method::PATCH, path, Some(body)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "PATCH {path}: {}", r.body);
    }
    assert_eq!(
        t.api(Method::GET, &path, None).await.json()["name"],
        "Lena O. Ortiz"
    );
}

// ---------------------------------------------------------------- saved cards and autopay

#[tokio::test]
async fn saved_cards_and_autopay_are_read_turned_on_and_off() {
    let t = TestApp::new().await;
    let c = customer(&t, "Paula Payer").await;
    let other = t.other_company().await;
    let methods = format!("/api/v1/customers/{c}/payment-methods");
    let autopay = format!("/api/v1/customers/{c}/autopay");

    let r = t.api(Method::GET, &methods, None).await;
    assert_eq!((r.status, r.json()), (StatusCode::OK, json!({"data": []})));
    let r = t.api(Method::GET, &autopay, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["enrolled"], false);
    assert_eq!(r.json()["method_id"], Value::Null);
    assert_eq!(r.json()["consent"], Value::Null);

    let m = t.saved_card(&c, "4242424242424242").await;
    let list = t.api(Method::GET, &methods, None).await.json();
    let card = &list["data"][0];
    assert_eq!(card["id"], m.as_str());
    assert_eq!(card["brand"], "Visa");
    assert_eq!(card["last4"], "4242");
    assert_eq!(card["exp_month"], 12);
    assert_eq!(card["exp_year"], t.exp_year());
    assert!(card["default"].is_boolean());
    assert_eq!(
        card.as_object().unwrap().len(),
        6,
        "nothing more than this: {card}"
    );

    // On, with the consent the customer gave; each missing part is named.
    for (body, field) in [
        (
            json!({"method_id": m, "consent_note": "By phone"}),
            "consent",
        ),
        (json!({"method_id": m, "consent": true}), "consent_note"),
        (
            json!({"method_id": "pmt_nope", "consent": true, "consent_note": "x"}),
            "method_id",
        ),
    ] {
        let r = t.api(Method::POST, &autopay, Some(body)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(error_field(&r), field, "{}", r.body);
    }
    let on = api_enroll(&t, &c, &m).await;
    assert_eq!(on["enrolled"], true);
    assert_eq!(on["method_id"], m.as_str());
    assert_eq!(on["channel"], "api");
    let consent = fieldpay::domain::autopay_consent_text(
        fieldpay::domain::i18n::Lang::En,
        "Greenleaf Pest Control",
        "(512) 555-0142",
    );
    assert_eq!(on["consent"]["text"], consent.as_str());
    let at = on["enrolled_at"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).is_ok(),
        "{at}"
    );
    assert_eq!(on["consent"]["at"], at);
    assert_eq!(t.api(Method::GET, &autopay, None).await.json(), on);

    // Another company: 404 for each, and the enrollment stays.
    for (method, path) in [
        (Method::GET, &methods),
        (Method::GET, &autopay),
        (Method::DELETE, &autopay),
    ] {
        let r = t.api_with_key(&other, method.clone(), path, None).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
        assert_eq!(error_code(&r), "not_found");
    }
    let r = t
        .api_with_key(
            &other,
            Method::POST,
            &autopay,
            Some(json!({"method_id": m, "consent": true, "consent_note": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.api(Method::GET, &autopay, None).await.json()["enrolled"],
        true
    );
    let r = t
        .api(Method::GET, "/api/v1/customers/cus_nobody/autopay", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Off: 200 with the state after; again is still 200 and changes nothing.
    for _ in 0..2 {
        let r = t.api(Method::DELETE, &autopay, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.json()["enrolled"], false);
        assert_eq!(r.json()["method_id"], Value::Null);
    }
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'autopay.cancelled' AND actor = 'api'"
        )
        .await,
        1
    );
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// The face that turns autopay off, and how the audit log names who did.
#[derive(Clone, Copy, Debug)]
enum Face {
    PayPage,
    Office,
    Portal,
}

/// Turns autopay off as the face does. The pay page shows its button only
/// while autopay is on: `sent` keeps the form it posted, posted again to
/// repeat it (a double submit).
async fn turn_off(t: &TestApp, face: Face, customer: &str, sent: &mut Option<String>) -> Resp {
    let form = [("content-type", "application/x-www-form-urlencoded")];
    match face {
        Face::PayPage => {
            let path = format!("/pay/{}/autopay", t.token(customer).await);
            let body = match sent.take() {
                Some(body) => body,
                None => {
                    let page = t.get(&path).await;
                    format!(
                        "form_nonce={}&form_sig={}",
                        urlencode(&hidden(&page.body, "form_nonce")),
                        urlencode(&hidden(&page.body, "form_sig"))
                    )
                }
            };
            *sent = Some(body.clone());
            t.request(Method::POST, &path, &form, Some(body)).await
        }
        Face::Office => {
            let o = Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await;
            o.post(
                t,
                &format!("/office/customers/{customer}/autopay/cancel"),
                &[],
            )
            .await
        }
        Face::Portal => {
            let cookie = crate::security::portal_cookie(t, customer).await;
            let cards = t
                .request(Method::GET, "/portal/cards", &[("cookie", &cookie)], None)
                .await;
            let body = format!("csrf={}&action=off", urlencode(&csrf_of(&cards.body)));
            t.request(
                Method::POST,
                "/portal/autopay",
                &[("cookie", &cookie), form[0], ("origin", BASE_URL)],
                Some(body),
            )
            .await
        }
    }
}

#[tokio::test]
async fn autopay_off_from_the_pay_page_the_office_and_the_portal_is_one_use_case() {
    let t = TestApp::new().await;
    let mut seen = Vec::new();
    for face in [Face::PayPage, Face::Office, Face::Portal] {
        let c = customer(&t, &format!("{face:?} Customer")).await;
        let m = t.saved_card(&c, "4242424242424242").await;
        api_enroll(&t, &c, &m).await;
        let mut sent = None;
        let r = turn_off(&t, face, &c, &mut sent).await;
        assert!(
            r.status.is_success() || r.status.is_redirection(),
            "{face:?}: {} {}",
            r.status,
            r.body
        );
        let autopay = t
            .api(Method::GET, &format!("/api/v1/customers/{c}/autopay"), None)
            .await
            .json();
        assert_eq!(autopay["enrolled"], false, "{face:?}");
        let rows: Vec<(String, String, String)> = fieldpay::store::sql::query_as(
            "SELECT action, actor, detail FROM audit_log
             WHERE subject = $1 AND action LIKE 'autopay.%' ORDER BY at, id",
        )
        .bind(&c)
        .fetch_all(t.app.db.reader())
        .await
        .unwrap();
        let cancelled: Vec<_> = rows
            .iter()
            .filter(|(action, _, _)| action == "autopay.cancelled")
            .collect();
        assert_eq!(cancelled.len(), 1, "{face:?}: {rows:?}");
        let (_, actor, detail) = cancelled[0];
        let detail: Value = serde_json::from_str(detail).unwrap();
        seen.push((face, actor.clone(), detail));
        // Again: already off, nothing more is written.
        let r = turn_off(&t, face, &c, &mut sent).await;
        assert!(
            r.status.is_success() || r.status.is_redirection(),
            "{face:?}"
        );
        assert_eq!(
            fieldpay::store::sql::query_scalar::<i64>(
                "SELECT COUNT(*) FROM audit_log WHERE subject = $1 AND action = 'autopay.cancelled'"
            )
            .bind(&c)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap(),
            1,
            "{face:?}"
        );
    }
    // The same use case wrote each: its channel words, the actor's name,
    // and the link by its hash prefix only on the pay page.
    let (_, actor, detail) = &seen[0];
    assert_eq!(actor, "customer");
    assert_eq!(detail["channel"], "quick_pay");
    let link = detail["link"].as_str().unwrap();
    assert!(link.starts_with("link:") && link.len() == 17, "{detail}");
    let (_, actor, detail) = &seen[1];
    assert!(actor.starts_with("office:usr_"), "{actor}");
    assert_eq!(detail, &json!({"channel": "office"}));
    let (_, actor, detail) = &seen[2];
    assert!(actor.starts_with("portal:cus_"), "{actor}");
    assert_eq!(detail, &json!({"channel": "portal"}));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        0
    );
}

// ---------------------------------------------------------------- sending

#[tokio::test]
async fn invoices_and_payment_links_are_sent_with_a_template_or_the_default() {
    let t = TestApp::new().await;
    let c = customer(&t, "Lena Ortiz").await;
    let p = t.property("1 Main St", &c, None).await;
    let inv = t.invoice(&p, 12500, &t.day(10)).await;
    let send = format!("/api/v1/invoices/{inv}/send");
    let link = format!("/api/v1/customers/{c}/send-link");

    // No template chosen and no default: says to choose one.
    let r = t
        .api(Method::POST, &send, Some(json!({"channel": "email"})))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_field(&r), "template_id");
    assert_eq!(error_code(&r), "no_default_template");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("choose one")
    );

    let email = template(
        &t,
        "email",
        json!({"name": "Invoice", "subject": "Invoice {{ invoice_number }}",
               "html_body": "<p>{{ invoice_total }}: {{ email_payment_link }}</p>", "default": true}),
    )
    .await;
    let listed = t
        .api(
            Method::GET,
            &format!("/api/v1/email-templates/{email}"),
            None,
        )
        .await
        .json();
    assert_eq!(listed["default"], true);
    let r = t
        .api(Method::POST, &send, Some(json!({"channel": "email"})))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    let m = &r.json()["data"][0];
    assert_eq!(m["channel"], "email");
    assert_eq!(m["to"], "lena@example.com");
    assert_eq!(m["status"], "queued");

    // An SMS with a chosen template; the same Idempotency-Key sends once.
    let sms = template(
        &t,
        "sms",
        json!({"name": "Reminder", "body": "Invoice {{ invoice_number }}: {{ sms_payment_link }}"}),
    )
    .await;
    let body = json!({"channel": "sms", "template_id": sms});
    let headers_key = "send-once-0001";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = t
            .request(
                Method::POST,
                &send,
                &[
                    ("authorization", &format!("Bearer {}", t.api_key)),
                    ("content-type", "application/json"),
                    ("idempotency-key", headers_key),
                ],
                Some(body.to_string()),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        assert_eq!(r.json()["data"][0]["to"], "+15125550142");
        ids.push(r.json()["data"][0]["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 2);

    // The link: the template must carry it.
    let plain = template(
        &t,
        "sms",
        json!({"name": "Plain", "body": "Hello {{ customer_first_name }}"}),
    )
    .await;
    let r = t
        .api(
            Method::POST,
            &link,
            Some(json!({"channel": "sms", "template_id": plain})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(
        (error_field(&r), error_code(&r)),
        ("template_id".into(), "template_without_link".into())
    );
    let r = t
        .api(
            Method::POST,
            &link,
            Some(json!({"channel": "sms", "template_id": sms})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);

    // Bad input says what to fix.
    for (body, field, status) in [
        (
            json!({"channel": "fax"}),
            "channel",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({}), "channel", StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"channel": "sms", "template_id": email}),
            "template_id",
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = t.api(Method::POST, &send, Some(body.clone())).await;
        assert_eq!(
            (r.status, error_field(&r)),
            (status, field.to_string()),
            "{body}: {}",
            r.body
        );
    }
    let r = t
        .request(
            Method::POST,
            &send,
            &[
                ("authorization", &format!("Bearer {}", t.api_key)),
                ("content-type", "application/json"),
                ("idempotency-key", "bad key"),
            ],
            Some(json!({"channel": "email"}).to_string()),
        )
        .await;
    assert_eq!(
        (r.status, error_field(&r)),
        (StatusCode::BAD_REQUEST, "Idempotency-Key".into())
    );
    // A customer without a phone number: nothing to send to.
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "No Phone", "email": "np@example.com"})),
        )
        .await;
    let no_phone = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{no_phone}/send-link"),
            Some(json!({"channel": "sms", "template_id": sms})),
        )
        .await;
    assert_eq!(
        (r.status, error_field(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "channel".into())
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no phone number")
    );

    // Another company: its key sees none of these, and its template is not ours.
    let other = t.other_company().await;
    for path in [&send, &link] {
        let r = t
            .api_with_key(
                &other,
                Method::POST,
                path,
                Some(json!({"channel": "email"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let theirs = {
        let r = t
            .api_with_key(
                &other,
                Method::POST,
                "/api/v1/sms-templates",
                Some(json!({"name": "Theirs", "body": "Pay {{ sms_payment_link }}"})),
            )
            .await;
        r.json()["id"].as_str().unwrap().to_string()
    };
    let r = t
        .api(
            Method::POST,
            &send,
            Some(json!({"channel": "sms", "template_id": theirs})),
        )
        .await;
    assert_eq!(
        (r.status, error_field(&r)),
        (StatusCode::NOT_FOUND, "template_id".into())
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 3);
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'message.send_now' AND actor = 'api'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn the_sms_preview_is_the_message_delivered() {
    let t = TestApp::new().await;
    let c = customer(&t, "Lena Ortiz").await;
    let p = t.property("1 Main St", &c, None).await;
    let inv = t.invoice(&p, 12500, &t.day(10)).await;
    let token = t.token(&c).await;
    let number = t.invoice_json(&inv).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    for (name, body, encoding) in [
        (
            "Plain",
            "Hi {{ customer_first_name }}, invoice {{ invoice_number }} is {{ invoice_balance }}. Pay: {{ sms_payment_link }}",
            // (the balance, $125.00, is in the text as delivered too)
            "gsm7",
        ),
        (
            "Curly",
            "Hi {{ customer_first_name }} \u{2014} invoice {{ invoice_number }} is due \u{201c}{{ invoice_due_date }}\u{201d}. {{ company_name }} thanks you for your business! Pay here: {{ sms_payment_link }}",
            "ucs2",
        ),
    ] {
        let tpl = template(&t, "sms", json!({"name": name, "body": body})).await;
        let preview =
            format!("/api/v1/sms-templates/{tpl}/preview?customer_id={c}&invoice_id={inv}");
        let r = t.api(Method::GET, &preview, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let shown = r.json();
        let text = shown["body"].as_str().unwrap().to_string();
        assert!(text.contains(&token), "the real link: {text}");
        assert!(text.contains("Lena") && text.contains(&number), "{text}");
        assert_eq!(shown["encoding"], encoding);
        // The invoice alone names its customer: the same body.
        let r = t
            .api(
                Method::GET,
                &format!("/api/v1/sms-templates/{tpl}/preview?invoice_id={inv}"),
                None,
            )
            .await;
        assert_eq!(r.json()["body"], text.as_str());

        // Delivered through the outbox to the spool: exactly this.
        let before = spool(&t, ".txt").len();
        let r = t
            .api(
                Method::POST,
                &format!("/api/v1/invoices/{inv}/send"),
                Some(json!({"channel": "sms", "template_id": tpl})),
            )
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
        let report = fieldpay::jobs::run_once(&t.app, t.app.clock.now())
            .await
            .unwrap();
        assert_eq!(report.delivered.sent, 1, "{:?}", report.delivered);
        let files = spool(&t, ".txt");
        assert_eq!(files.len(), before + 1);
        let sent = files
            .iter()
            .find(|f| f.contains(&text))
            .unwrap_or_else(|| panic!("{text:?} not in {files:?}"));
        let delivered = sent
            .strip_prefix("To: +15125550142\n\n")
            .unwrap()
            .strip_suffix('\n')
            .unwrap();
        assert_eq!(delivered, text);
        let counted = sms_segments(delivered);
        assert_eq!(shown["segments"], counted.segments, "{name}");
        assert_eq!(shown["characters"], counted.units);
        assert!(counted.segments >= 1);
    }

    // What a preview needs, and another company's ids.
    let tpl = template(
        &t,
        "sms",
        json!({"name": "X", "body": "{{ sms_payment_link }}"}),
    )
    .await;
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/sms-templates/{tpl}/preview"),
            None,
        )
        .await;
    assert_eq!(
        (r.status, error_field(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, "customer_id".into())
    );
    let other = t.other_company().await;
    let theirs = t
        .api_with_key(
            &other,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Theirs"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        format!("/api/v1/sms-templates/{tpl}/preview?customer_id={theirs}"),
        format!("/api/v1/sms-templates/{tpl}/preview?customer_id=cus_nobody"),
        format!("/api/v1/sms-templates/stpl_nobody/preview?customer_id={c}"),
    ] {
        let r = t.api(Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}: {}", r.body);
    }
    let r = t
        .api_with_key(
            &other,
            Method::GET,
            &format!("/api/v1/sms-templates/{tpl}/preview?customer_id={c}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The POST preview (sample data) still answers on the same path.
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/sms-templates/{tpl}/preview"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn one_default_template_per_channel_set_from_the_api_or_the_office() {
    let t = TestApp::new().await;
    let email = |name: &str, default: bool| json!({"name": name, "subject": "Hi", "html_body": "<p>{{ email_payment_link }}</p>", "default": default});
    let a = template(&t, "email", email("A", true)).await;
    let b = template(&t, "email", email("B", false)).await;
    let sms = template(
        &t,
        "sms",
        json!({"name": "S", "body": "{{ sms_payment_link }}", "default": true}),
    )
    .await;
    let is_default = |kind: &'static str, id: String| {
        let t = &t;
        async move {
            t.api(Method::GET, &format!("/api/v1/{kind}-templates/{id}"), None)
                .await
                .json()["default"]
                .as_bool()
                .unwrap()
        }
    };
    assert!(is_default("email", a.clone()).await);
    assert!(!is_default("email", b.clone()).await);
    assert!(is_default("sms", sms.clone()).await, "one per channel");

    // B becomes the default: A stops being it.
    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/email-templates/{b}"),
            Some(email("B", true)),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!is_default("email", a.clone()).await);
    assert!(is_default("email", b.clone()).await);
    // A change that does not say leaves it as it is.
    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/email-templates/{b}"),
            Some(json!({"name": "B2", "subject": "Hi", "html_body": "<p>{{ email_payment_link }}</p>"})),
        )
        .await;
    assert_eq!(r.json()["default"], true, "{}", r.body);

    // The office editor's checkbox: A again.
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let r = o
        .post(
            &t,
            &format!("/office/settings/email-templates/{a}"),
            &[
                ("action", "save"),
                ("name", "A"),
                ("subject", "Hi"),
                ("html_body", "<p>{{ email_payment_link }}</p>"),
                ("is_default", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(is_default("email", a.clone()).await);
    assert!(!is_default("email", b.clone()).await);
    let list = o.get(&t, "/office/settings/email-templates").await;
    assert_eq!(
        list.body.matches(">Default</span>").count(),
        1,
        "{}",
        list.body
    );

    // Deleting the default leaves none: sending then asks to choose.
    let r = t
        .api(
            Method::DELETE,
            &format!("/api/v1/email-templates/{a}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let c = customer(&t, "Lena Ortiz").await;
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{c}/send-link"),
            Some(json!({"channel": "email"})),
        )
        .await;
    assert_eq!(
        (r.status, error_code(&r)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "no_default_template".into()
        )
    );
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{c}/send-link"),
            Some(json!({"channel": "sms"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}
