//! The OpenAPI document at `/api/v1/openapi.json` is generated from the
//! router: no `/api` route is registered outside it, every annotated route
//! is in it, and every operation it lists answers on the real router.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, customer_with_invoices};

/// The sandbox card that asks for the bank's check (3-D Secure).
const AUTH_CARD: &str = "4000002760003184";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn web_sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
        &mut files,
    );
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            (f.display().to_string(), text)
        })
        .collect()
}

/// The string literal that opens `rest` (after whitespace), if any.
fn leading_literal(rest: &str) -> Option<&str> {
    let rest = rest.trim_start().strip_prefix('"')?;
    rest.split('"').next()
}

/// `(method, path)` of every `#[utoipa::path(...)]` in the source.
fn annotated_operations(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("#[utoipa::path(") {
        let body = &text[at + "#[utoipa::path(".len()..];
        let method = body
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap()
            .to_string();
        let path_at = body
            .find("path = ")
            .expect("every operation names its path");
        let path = leading_literal(&body[path_at + "path = ".len()..]).unwrap();
        out.push((method, path.to_string()));
    }
    out
}

/// `(method, path)` of every operation of the served document.
async fn documented_operations(t: &TestApp) -> (Value, BTreeSet<(String, String)>) {
    let r = t.get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "application/json");
    let doc = r.json();
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.insert((method.clone(), path.clone()));
            }
        }
    }
    (doc, ops)
}

#[tokio::test]
async fn every_api_route_is_in_the_document() {
    let t = TestApp::new().await;
    let (doc, documented) = documented_operations(&t).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc.get("servers").is_none(), "the document names no server");
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    let mut annotated = BTreeSet::new();
    for (file, text) in web_sources() {
        // A route registered with `.route("/api/…")` (or nested, or as a
        // service) would answer without being documented: API routes are
        // registered with `.routes(routes!(handler))` only.
        for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            for (at, _) in text.match_indices(call) {
                if let Some(path) = leading_literal(&text[at + call.len()..]) {
                    assert!(
                        !path.starts_with("/api"),
                        "{file}: {path} is registered with {call}…) and so is not in the \
                         OpenAPI document; annotate the handler with #[utoipa::path] and \
                         register it with .routes(routes!(handler))"
                    );
                }
            }
        }
        for op in annotated_operations(&text) {
            assert!(op.1.starts_with("/api/v1/"), "{file}: {op:?}");
            assert!(annotated.insert(op.clone()), "{file}: {op:?} twice");
        }
    }
    assert_eq!(
        annotated, documented,
        "the annotated handlers and the served document differ"
    );
    // The routes the contract names, as a floor the generated document
    // cannot fall under.
    for path in [
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/properties",
        "/api/v1/invoices",
        "/api/v1/invoices/{id}",
        "/api/v1/customers/{id}/payment-link",
        "/api/v1/customers/{id}/payment-link/rotate",
        "/api/v1/payments",
        "/api/v1/payments/{id}/refunds",
        "/api/v1/invoice-alerts",
        "/api/v1/settings/receipts",
        "/api/v1/settings/processor",
        "/api/v1/messages",
        "/api/v1/pay/{token}",
        "/api/v1/pay/{token}/payments",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    for (method, path) in &documented {
        let op = &doc["paths"][path][method];
        let keyed = !path.starts_with("/api/v1/pay/") && path != "/api/v1/openapi.json";
        assert_eq!(
            op["security"].is_array(),
            keyed,
            "{method} {path}: the key is required exactly where the route takes it"
        );
        if keyed {
            assert!(op["responses"].get("401").is_some(), "{method} {path}");
        }
        if op.get("requestBody").is_some() {
            for status in ["400", "413", "422"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "{method} {path} lacks {status}"
                );
            }
        }
    }
}

/// Every documented operation, called on the real router with real ids and
/// the company's key, is routed: it answers, and not with the 404 of an
/// unknown path or a 405 of an unknown method.
#[tokio::test]
async fn every_documented_operation_answers() {
    let mut t = TestApp::new().await;
    // The webhook endpoint points at a closed loopback port: its test
    // delivery fails at once, and so exists to be retried.
    t.configure(|c| c.webhooks_allow_private = true);
    let (_, documented) = documented_operations(&t).await;
    let (customer, invoices) = customer_with_invoices(&t, "Docu Mented", &[5000, 7000]).await;
    let property = t.invoice_json(&invoices[0]).await["property_id"]
        .as_str()
        .unwrap()
        .to_string();
    let paid = t
        .request(
            Method::POST,
            "/api/v1/payments",
            &[
                ("authorization", &format!("Bearer {}", t.api_key)),
                ("content-type", "application/json"),
                ("idempotency-key", "openapi-cash-1"),
            ],
            Some(
                json!({"customer_id": customer, "method": "cash", "amount": 5000,
                       "allocations": [{"invoice_id": invoices[0], "amount": 5000}]})
                .to_string(),
            ),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    let payment = paid.json()["id"].as_str().unwrap().to_string();
    let created = |r: crate::support::Resp| {
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    };
    let email = created(
        t.api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Doc", "subject": "Hello", "html_body": "<p>Hi</p>"})),
        )
        .await,
    );
    let sms = created(
        t.api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Doc", "body": "Hi {{ customer_name }}"})),
        )
        .await,
    );
    let rule = created(
        t.api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": email, "days_after_due": 3})),
        )
        .await,
    );
    let endpoint = created(
        t.api(
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "http://127.0.0.1:1/hook", "events": ["invoice.paid"]})),
        )
        .await,
    );
    let delivery = created(
        t.api(
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{endpoint}/test"),
            None,
        )
        .await,
    );
    let token = t.token(&customer).await;
    let card = t.card(AUTH_CARD).await;
    let needs_check = t
        .pay(
            &token,
            "openapi-3ds-1",
            json!({"invoice_ids": [invoices[1]], "payment_method": card}),
        )
        .await;
    assert_eq!(
        needs_check.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        needs_check.body
    );
    let attempt = needs_check.json()["attempt_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut order: Vec<_> = documented.iter().collect();
    // Deletions and the link's rotation and revocation last, so every other
    // operation finds its record and the link still opens.
    order.sort_by_key(|(method, path)| method == "delete" || path.contains("/payment-link/"));
    for (method, path) in order {
        let mut uri = path.clone();
        for (segment, id) in [
            ("customers/{id}", customer.as_str()),
            ("properties/{id}", &property),
            ("invoices/{id}", &invoices[1]),
            ("payments/{id}", &payment),
            ("email-templates/{id}", &email),
            ("sms-templates/{id}", &sms),
            ("invoice-alerts/{id}", &rule),
            ("webhook-endpoints/{id}", &endpoint),
            ("webhook-deliveries/{id}", &delivery),
            ("{token}", &token),
            ("{attempt_id}", &attempt),
        ] {
            let (name, _) = segment.split_once('{').unwrap_or((segment, ""));
            uri = uri.replace(segment, &format!("{name}{id}"));
        }
        assert!(!uri.contains('{'), "{path}: no id to fill in");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let auth = format!("Bearer {}", t.api_key);
        let body_less = method == Method::GET || method == Method::DELETE;
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("idempotency-key", "openapi-probe-1"),
        ];
        if !body_less {
            headers.push(("content-type", "application/json"));
        }
        let body = (!body_less).then(|| "{}".to_string());
        let r = t.request(method.clone(), &uri, &headers, body).await;
        assert!(
            r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {uri} (documented as {path}) answered {}: {}",
            r.status,
            r.body
        );
        assert!(
            !r.status.is_server_error(),
            "{method} {uri}: {} {}",
            r.status,
            r.body
        );
    }
}

/// A JSON request with the company's key and an `Idempotency-Key`.
async fn send(
    t: &TestApp,
    method: Method,
    path: String,
    key: &str,
    body: &str,
) -> crate::support::Resp {
    let auth = format!("Bearer {}", t.api_key);
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
        ("idempotency-key", key),
    ];
    t.request(method, &path, &headers, Some(body.to_string()))
        .await
}

/// What the document states is what the API does: a body is a JSON object,
/// `null` is the empty body where the body is optional, enumerated values
/// are taken exactly as spelled.
#[tokio::test]
async fn requests_are_taken_and_refused_as_the_document_says() {
    let t = TestApp::new().await;
    let (customer, invoices) = customer_with_invoices(&t, "Exact Ellen", &[4000]).await;
    // A JSON array is not an object, even with the right number of fields.
    let r = send(
        &t,
        Method::PUT,
        "/api/v1/settings/receipts".into(),
        "k-array-1",
        "[null, null]",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "invalid_field");

    // `null` refunds what is left, as an empty body does.
    let paid = send(
        &t,
        Method::POST,
        "/api/v1/payments".into(),
        "k-cash-1",
        &json!({"customer_id": customer, "method": "cash", "amount": 4000,
                "allocations": [{"invoice_id": invoices[0], "amount": 4000}]})
        .to_string(),
    )
    .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    let payment = paid.json()["id"].as_str().unwrap().to_string();
    let refund = send(
        &t,
        Method::POST,
        format!("/api/v1/payments/{payment}/refunds"),
        "k-refund-1",
        "null",
    )
    .await;
    assert_eq!(refund.status, StatusCode::CREATED, "{}", refund.body);
    assert_eq!(refund.json()["amount"], 4000);

    // Enumerated values exactly as spelled.
    for (method, path, body, field) in [
        (
            Method::POST,
            format!("/api/v1/customers/{customer}/send-link"),
            json!({"channel": " email"}),
            "channel",
        ),
        (
            Method::PUT,
            "/api/v1/settings/processor".to_string(),
            json!({"kind": "sandbox "}),
            "kind",
        ),
        (
            Method::PUT,
            "/api/v1/settings/invoice".to_string(),
            json!({"payment_link_enabled": true, "payment_link_target": "Public"}),
            "payment_link_target",
        ),
        (
            Method::PUT,
            "/api/v1/settings/invoice".to_string(),
            json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "A4"}),
            "paper_size",
        ),
    ] {
        let r = send(&t, method, path.clone(), "k-enum-12345", &body.to_string()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], field, "{path}");
    }
    let ok = send(
        &t,
        Method::PUT,
        "/api/v1/settings/invoice".into(),
        "k-settings-1",
        &json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "a4"})
            .to_string(),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.json()["paper_size"], "a4");

    // `download` takes its listed values; anything else is a 400.
    for (q, status, disposition) in [
        ("maybe", StatusCode::BAD_REQUEST, None),
        ("1", StatusCode::OK, Some("attachment")),
        ("no", StatusCode::OK, Some("inline")),
    ] {
        let path = format!("/api/v1/invoices/{}/pdf?download={q}", invoices[0]);
        let r = t.api(Method::GET, &path, None).await;
        assert_eq!(r.status, status, "{q}");
        match disposition {
            Some(d) => assert!(r.header("content-disposition").starts_with(d), "{q}"),
            None => assert_eq!(r.json()["error"]["field"], "download"),
        }
    }

    // `customer_id` of the messages is required, and not empty.
    for q in ["", "?customer_id="] {
        let r = t
            .api(Method::GET, &format!("/api/v1/messages{q}"), None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{q}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], "customer_id");
    }
}
