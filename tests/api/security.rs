//! Headers on every response, and no card number anywhere after payments.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, captured_logs, customer_with_invoices};

fn assert_security_headers(r: &crate::support::Resp, what: &str, private: bool) {
    assert_eq!(r.header("referrer-policy"), "no-referrer", "{what}");
    assert_eq!(r.header("x-content-type-options"), "nosniff", "{what}");
    let csp = r.header("content-security-policy");
    for part in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{what}: CSP lacks {part}: {csp}");
    }
    if private {
        assert_eq!(r.header("cache-control"), "no-store", "{what}");
        assert!(r.header("x-robots-tag").contains("noindex"), "{what}");
    }
    // Served over https (the configured base URL): HSTS.
    assert!(
        r.header("strict-transport-security").contains("max-age="),
        "{what}"
    );
}

#[tokio::test]
async fn page_receipt_404_and_api_carry_the_security_headers() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Header Hank", &[100]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "h",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    let payment = paid.json()["id"].as_str().unwrap().to_string();
    let receipt = t.get(&format!("/pay/{token}/receipts/{payment}")).await;
    assert_eq!(receipt.status, StatusCode::OK);
    let checks = [
        ("page", t.get(&format!("/pay/{token}")).await),
        ("receipt", receipt),
        ("page data", t.get(&format!("/api/v1/pay/{token}")).await),
        ("404", t.get("/nothing-here").await),
        (
            "bad token",
            t.get(&format!("/pay/{}", "x".repeat(43))).await,
        ),
        ("payment", paid),
        ("healthz", t.get("/healthz").await),
    ];
    for (what, r) in &checks {
        assert_security_headers(r, what, true);
    }
    assert_security_headers(&t.get("/static/pay.css").await, "static", false);
    let robots = t.get("/robots.txt").await;
    assert!(robots.body.contains("Disallow: /pay"));
}

/// Digit runs of 13-19 (optionally grouped by spaces or dashes) that pass Luhn.
fn luhn_numbers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let mut digits = String::new();
            let mut j = i;
            while j < chars.len()
                && (chars[j].is_ascii_digit()
                    || ((chars[j] == ' ' || chars[j] == '-')
                        && j + 1 < chars.len()
                        && chars[j + 1].is_ascii_digit()
                        && digits.len().is_multiple_of(4)
                        && !digits.is_empty()))
            {
                if chars[j].is_ascii_digit() {
                    digits.push(chars[j]);
                }
                j += 1;
            }
            // Digits inside a hex hash (32+ hex characters) are not a card
            // number: 64 hex characters hold 13 digits in a row now and then.
            let hex = |k: &usize| chars[*k].is_ascii_hexdigit();
            let start = (0..i).rev().take_while(hex).count();
            let end = (j..chars.len()).take_while(hex).count();
            let in_hash = start + (j - i) + end >= 32;
            if !in_hash && (13..=19).contains(&digits.len()) && luhn(&digits) {
                found.push(digits);
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    found
}

fn luhn(d: &str) -> bool {
    let sum: u32 = d
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let mut v = c.to_digit(10).unwrap();
            if i % 2 == 1 {
                v *= 2;
                if v > 9 {
                    v -= 9;
                }
            }
            v
        })
        .sum();
    sum.is_multiple_of(10)
}

#[test]
fn the_scanner_finds_card_numbers() {
    assert_eq!(
        luhn_numbers("card 4242 4242 4242 4242 ok"),
        vec!["4242424242424242"]
    );
    assert_eq!(luhn_numbers("x4000000000000002y"), vec!["4000000000000002"]);
    // A token hash whose digits happen to run long is not a card.
    let hash = format!("{}4000000000000002{}", "ab".repeat(12), "cd".repeat(12));
    assert!(luhn_numbers(&hash).is_empty(), "{hash}");
    // Nor is a log line's timestamp (today's, by the clock).
    let stamp = format!(
        "{} 04:33:29.888435",
        fieldpay::domain::clock::Clock::system().today_in("UTC")
    );
    assert!(luhn_numbers(&stamp).is_empty(), "{stamp}");
}

#[tokio::test]
async fn no_card_number_in_the_database_or_the_logs_after_payments() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Card Scan", &[100, 200, 300]).await;
    let token = t.token(&c).await;
    let numbers = [
        "4242424242424242",
        "4000000000000002",
        "4000000000000341",
        "5555555555554444",
    ];
    for (i, number) in numbers.iter().enumerate() {
        let card = t.card(number).await;
        let body = json!({"invoice_ids": [inv[i.min(2)]], "payment_method": card,
            "save_card_and_enroll_autopay": true, "autopay_consent": true});
        t.pay(&token, &format!("scan-{i}"), body).await;
    }
    // Also a card the sandbox refuses at tokenization.
    t.request(
        axum::http::Method::POST,
        "/sandbox/v1/tokens",
        &[("content-type", "application/json")],
        Some(
            json!({"number": "4242424242424241", "exp_month": 1, "exp_year": t.today().year() - 1, "cvc": "1"})
                .to_string(),
        ),
    )
    .await;
    assert!(t.count("SELECT COUNT(*) FROM payments").await >= 2);
    // Everything into the main file first: an automatic checkpoint between
    // reading the file and reading its WAL would hide rows from the scan.
    let mut text = String::new();
    for (_, bytes) in crate::support::stored_bytes(&t).await {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    text.push_str(&String::from_utf8_lossy(&captured_logs().lock().unwrap()));
    let found = luhn_numbers(&text);
    assert!(found.is_empty(), "card numbers found: {found:?}");
    // The scan did see the data it was looking through.
    assert!(text.contains("4242"));
}

/// The policy of every response but the card pages of a Stripe company.
const DEFAULT_CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:";
/// The card pages of a Stripe company: Stripe.js and nothing else added.
const STRIPE_CSP: &str = "default-src 'self'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:";

/// Every `src`/`href` of a page that is not local (or a tel: link).
fn external_resources(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let value = &rest[..rest.find('"').unwrap_or(rest.len())];
            if !(value.starts_with('/') || value.starts_with("tel:")) {
                out.push(value.to_string());
            }
        }
    }
    out
}

/// A portal session for a customer, through a sign-in link made in the store.
pub(crate) async fn portal_cookie(t: &TestApp, customer: &str) -> String {
    let token = t
        .portal_link(customer, fieldpay::store::portal::Purpose::SignIn)
        .await;
    let r = t
        .request(
            Method::POST,
            &format!("/portal/link/{token}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(String::new()),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn only_a_stripe_companys_card_pages_allow_stripe_js() {
    let t = TestApp::new().await;
    let (c, _) = customer_with_invoices(&t, "Csp Carla", &[2500]).await;
    let token = t.token(&c).await;

    // The sandbox (the default): the exact policy, our own card fields.
    let page = t.get(&format!("/pay/{token}")).await;
    assert_eq!(page.header("content-security-policy"), DEFAULT_CSP);
    assert!(page.body.contains("id=\"cc-number\""));
    assert!(external_resources(&page.body).is_empty());
    let data = t.get(&format!("/api/v1/pay/{token}")).await.json();
    assert_eq!(
        data["processor"],
        json!({"kind": "sandbox", "publishable_key": null})
    );
    let cookie = portal_cookie(&t, &c).await;
    for path in ["/portal", "/portal/cards/new"] {
        let r = t
            .request(Method::GET, path, &[("cookie", &cookie)], None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("content-security-policy"), DEFAULT_CSP, "{path}");
        assert!(r.body.contains("id=\"cc-number\""), "{path}");
        assert!(external_resources(&r.body).is_empty(), "{path}");
    }

    // The company chooses Stripe.
    let sk = "sk_test_cspcheck0123456789";
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({"kind": "stripe", "secret_key": sk,
                "publishable_key": "pk_test_51cspcheck", "webhook_secret": "whsec_cspcheck"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = t.get(&format!("/pay/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-security-policy"), STRIPE_CSP);
    assert_security_headers(&page, "stripe page", true);
    assert_eq!(
        external_resources(&page.body),
        vec!["https://js.stripe.com/v3/".to_string()]
    );
    assert!(
        page.body
            .contains("data-publishable-key=\"pk_test_51cspcheck\"")
    );
    assert!(page.body.contains("/static/stripe_card.js"));
    assert!(
        !page.body.contains("id=\"cc-number\""),
        "no card inputs of ours"
    );
    assert!(!page.body.contains("/static/card.js"));
    assert!(!page.body.contains(sk), "the secret key is never shown");
    let data = t.get(&format!("/api/v1/pay/{token}")).await;
    assert_eq!(
        data.json()["processor"],
        json!({"kind": "stripe", "publishable_key": "pk_test_51cspcheck"})
    );
    assert!(!data.body.contains(sk));
    // JSON, errors and assets of the same server keep the default policy.
    assert_eq!(data.header("content-security-policy"), DEFAULT_CSP);
    for path in [
        "/nothing-here".to_string(),
        format!("/pay/{}", "x".repeat(43)),
        "/static/stripe_card.js".to_string(),
        "/healthz".to_string(),
    ] {
        let r = t.get(&path).await;
        assert_eq!(r.header("content-security-policy"), DEFAULT_CSP, "{path}");
    }
    // The portal's pay form and add-a-card form take Stripe's fields too;
    // its other pages keep the default.
    for path in ["/portal", "/portal/cards/new"] {
        let r = t
            .request(Method::GET, path, &[("cookie", &cookie)], None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header("content-security-policy"), STRIPE_CSP, "{path}");
        assert!(r.body.contains("id=\"stripe-card\""), "{path}");
        assert!(!r.body.contains("id=\"cc-number\""), "{path}");
        assert_eq!(
            external_resources(&r.body),
            vec!["https://js.stripe.com/v3/".to_string()],
            "{path}"
        );
    }
    let r = t
        .request(Method::GET, "/portal/history", &[("cookie", &cookie)], None)
        .await;
    assert_eq!(r.header("content-security-policy"), DEFAULT_CSP);

    // Another company on the same server keeps the sandbox and its policy.
    let other = t.other_company().await;
    let (_, _, other_token) =
        crate::stripe::other_company_customer(&t, &other, "Otto Other", 700).await;
    let page = t.get(&format!("/pay/{other_token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-security-policy"), DEFAULT_CSP);
    assert!(page.body.contains("id=\"cc-number\""));

    // Back to the sandbox: the page is as before.
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({"kind": "sandbox"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = t.get(&format!("/pay/{token}")).await;
    assert_eq!(page.header("content-security-policy"), DEFAULT_CSP);
    assert!(page.body.contains("id=\"cc-number\""));
}

#[tokio::test]
async fn the_processor_is_not_switched_while_a_payment_is_pending() {
    let t = TestApp::new().await;
    let (customer, invoices) = customer_with_invoices(&t, "Pia Pending", &[5000]).await;
    let token = t.token(&customer).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "pending-1",
            json!({"invoice_ids": [invoices[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // As if the processor's reply had been lost: reconciliation still owes
    // this attempt an answer from the sandbox.
    fieldpay::store::sql::query("UPDATE payment_attempts SET status = 'pending'")
        .execute(t.app.db.writer())
        .await
        .unwrap();
    let stripe = json!({"kind": "stripe", "secret_key": "sk_test_pending0123456789",
        "publishable_key": "pk_test_51pending", "webhook_secret": "whsec_pending"});
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(stripe.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "payments_in_flight");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 card payment is still being settled"),
        "{}",
        r.body
    );
    let r = t.api(Method::GET, "/api/v1/settings/processor", None).await;
    assert_eq!(r.json()["kind"], "sandbox", "{}", r.body);
    // Settled: the switch goes through.
    fieldpay::store::sql::query("UPDATE payment_attempts SET status = 'succeeded'")
        .execute(t.app.db.writer())
        .await
        .unwrap();
    let r = t
        .api(Method::PUT, "/api/v1/settings/processor", Some(stripe))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["kind"], "stripe");
}
