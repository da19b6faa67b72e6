//! Payment links: uniform 404s, rotation, revocation, base URL, rate limits.

use axum::http::{Method, StatusCode};
use fieldpay::config::RateLimits;

use crate::support::{BASE_URL, TestApp, customer_with_invoices};

#[tokio::test]
async fn unknown_rotated_and_revoked_tokens_get_the_same_404_as_any_missing_page() {
    let t = TestApp::new().await;
    let (c, _) = customer_with_invoices(&t, "Rotating Rosa", &[100]).await;
    let old = t.token(&c).await;
    assert_eq!(t.get(&format!("/pay/{old}")).await.status, StatusCode::OK);

    let missing_page = t.get("/no/such/page").await;
    let missing_api = t.get("/api/v1/no/such/thing").await;
    assert_eq!(missing_page.status, StatusCode::NOT_FOUND);
    assert_eq!(missing_api.status, StatusCode::NOT_FOUND);

    let rotated = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{c}/payment-link/rotate"),
            None,
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_url = rotated.json()["url"].as_str().unwrap().to_string();
    let new = new_url.rsplit('/').next().unwrap().to_string();
    assert_ne!(new, old);

    let unknown = "A".repeat(43);
    for token in [old.as_str(), unknown.as_str(), "short"] {
        let page = t.get(&format!("/pay/{token}")).await;
        assert_eq!(
            (page.status, &page.body),
            (missing_page.status, &missing_page.body),
            "{token}"
        );
        let api = t.get(&format!("/api/v1/pay/{token}")).await;
        assert_eq!(
            (api.status, &api.body),
            (missing_api.status, &missing_api.body),
            "{token}"
        );
    }
    assert_eq!(t.get(&format!("/pay/{new}")).await.status, StatusCode::OK);
    // The API shows the current link again, unchanged.
    assert_eq!(t.link_url(&c).await, new_url);

    let revoked = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{c}/payment-link/revoke"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let page = t.get(&format!("/pay/{new}")).await;
    assert_eq!(
        (page.status, &page.body),
        (missing_page.status, &missing_page.body)
    );
    let pay = t
        .request(
            Method::POST,
            &format!("/api/v1/pay/{new}/payments"),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", "k"),
            ],
            Some("{}".into()),
        )
        .await;
    assert_eq!(
        (pay.status, &pay.body),
        (missing_api.status, &missing_api.body)
    );
    // Rotation and revocation are audited by hash prefix, never the token.
    let actions: Vec<(String, String)> =
        fieldpay::store::sql::query_as("SELECT action, detail FROM audit_log ORDER BY at")
            .fetch_all(t.app.db.reader())
            .await
            .unwrap();
    assert!(actions.iter().any(|(a, _)| a == "payment_link.rotated"));
    assert!(actions.iter().any(|(a, _)| a == "payment_link.revoked"));
    assert!(
        actions
            .iter()
            .all(|(_, d)| !d.contains(&old) && !d.contains(&new))
    );
}

#[tokio::test]
async fn only_the_token_hash_is_stored() {
    let t = TestApp::new().await;
    let (c, _) = customer_with_invoices(&t, "Hash Only", &[100]).await;
    // The link is issued with the customer; showing it writes nothing.
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_links").await, 1);
    let token = t.token(&c).await;
    assert_eq!(t.token(&c).await, token, "the same URL is shown again");
    assert_eq!(token.len(), 43, "256 bits in base64url");
    let stored: String = fieldpay::store::sql::query_scalar("SELECT token_hash FROM payment_links")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, fieldpay::domain::paylink::token_hash(&token));
    let stored = crate::support::stored_bytes(&t).await;
    assert!(stored.iter().any(|(_, b)| !b.is_empty()));
    for (place, bytes) in stored {
        assert!(!String::from_utf8_lossy(&bytes).contains(&token), "{place}");
    }
}

#[tokio::test]
async fn links_use_the_configured_base_url_never_the_host_header() {
    let t = TestApp::new().await;
    let c = t.customer("Host Header").await;
    let r = t
        .request(
            Method::GET,
            &format!("/api/v1/customers/{c}/payment-link"),
            &[
                ("authorization", &format!("Bearer {}", t.api_key)),
                ("host", "evil.example"),
                ("x-forwarded-host", "evil.example"),
            ],
            None,
        )
        .await;
    let url = r.json()["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&format!("{BASE_URL}/pay/")), "{url}");
    assert!(!r.body.contains("evil.example"));
}

#[tokio::test]
async fn random_tokens_turn_into_429s_while_a_real_customer_gets_through() {
    let t = TestApp::with_limits(RateLimits {
        misses_per_client_per_minute: 20,
        misses_total_per_minute: 200,
        hits_per_token_per_minute: 60,
    })
    .await;
    let (c, _) = customer_with_invoices(&t, "Real Customer", &[100]).await;
    let token = t.token(&c).await;
    let attacker = [203, 0, 113, 9];
    let mut statuses = std::collections::HashMap::new();
    let started = std::time::Instant::now();
    for i in 0..1000 {
        let fake = format!("{:0>43}", i);
        let r = t.get_from(&format!("/pay/{fake}"), attacker).await;
        *statuses.entry(r.status.as_u16()).or_insert(0) += 1;
    }
    // A burst of 20, then one more guess every 3 s while the flood lasts.
    let regained = (started.elapsed().as_secs() / 3) as i32;
    let misses = *statuses.get(&404).unwrap_or(&0);
    assert!((20..=20 + regained).contains(&misses), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&(1000 - misses)), "{statuses:?}");
    // The real customer, from their own address, is not affected.
    let r = t
        .get_from(&format!("/pay/{token}"), [198, 51, 100, 7])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A flood on one valid link is limited per link.
    let mut limited = 0;
    for _ in 0..100 {
        if t.get_from(&format!("/api/v1/pay/{token}"), [198, 51, 100, 7])
            .await
            .status
            == StatusCode::TOO_MANY_REQUESTS
        {
            limited += 1;
        }
    }
    assert!(limited >= 39, "{limited}");
}

#[tokio::test]
async fn opening_a_link_changes_nothing_but_the_audit_log() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Scanner Victim", &[100]).await;
    let token = t.token(&c).await;
    for _ in 0..3 {
        assert_eq!(t.get(&format!("/pay/{token}")).await.status, StatusCode::OK);
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_attempts").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 100);
    // The opening is audited (once per hour per link), by hash prefix.
    for _ in 0..50 {
        if t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment_link.opened'")
            .await
            == 1
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("link opening was not audited");
}
