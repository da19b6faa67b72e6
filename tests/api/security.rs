//! Headers on every response, and no card number anywhere after payments.

use axum::http::StatusCode;
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
            if (13..=19).contains(&digits.len()) && luhn(&digits) {
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
    assert!(luhn_numbers("2026-11-28 04:33:29.888435").is_empty());
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
            json!({"number": "4242424242424241", "exp_month": 1, "exp_year": 2020, "cvc": "1"})
                .to_string(),
        ),
    )
    .await;
    assert!(t.count("SELECT COUNT(*) FROM payments").await >= 2);
    let mut text = String::new();
    for f in [
        "test.db",
        "test.db-wal",
        "test.sandbox.db",
        "test.sandbox.db-wal",
    ] {
        text.push_str(&String::from_utf8_lossy(
            &std::fs::read(t.dir.join(f)).unwrap_or_default(),
        ));
    }
    text.push_str(&String::from_utf8_lossy(&captured_logs().lock().unwrap()));
    let found = luhn_numbers(&text);
    assert!(found.is_empty(), "card numbers found: {found:?}");
    // The scan did see the data it was looking through.
    assert!(text.contains("4242"));
}
