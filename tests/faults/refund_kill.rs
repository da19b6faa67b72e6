//! SIGKILL while a card refund is at the processor (SECURITY.md 18): the
//! refund is recorded (its invoices reopened and held) before the
//! processor is called, and the process dies
//!
//! 1. before the processor made it: the request hangs at the processor,
//!    which never acts on it, and the process is killed while it waits;
//! 2. after the processor made it, before fieldpay heard: the processor
//!    makes the refund and then hangs instead of answering.
//!
//! After a restart, `fieldpay jobs run --once` asks the processor about
//! each and sends the one it never made: each refund is made exactly once
//! at the processor and shows as succeeded, its invoice free.
//!
//! The processor is Stripe's refund API as a small fake in this test, which
//! the company is pointed at (`FIELDPAY_STRIPE_API_BASE`): it keeps its
//! refunds, answers the same refund for the same idempotency key (or our
//! refund id in its metadata) as Stripe does, and can hang a
//! `POST /v1/refunds`. The payments are taken through the sandbox and
//! marked as made at that Stripe account, so nothing here depends on how
//! charges are made. No test device in the product.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection};

use crate::support::{self, Api, OWNER_PASSWORD, Server, TempDir};

const SECRET_KEY: &str = "sk_test_faultsrefundkill0001";

/// What the fake does with the next `POST /v1/refunds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Answer,
    /// Hangs without making the refund.
    HangBefore,
    /// Makes the refund, then hangs instead of answering.
    HangAfter,
}

#[derive(Default)]
struct Fake {
    mode: Option<Mode>,
    refunds: Vec<Value>,
    /// The idempotency key of every `POST /v1/refunds` received.
    posts: Vec<String>,
}

type Shared = Arc<Mutex<Fake>>;

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"type": "invalid_request_error", "message": "No such object"}})),
    )
        .into_response()
}

async fn create_refund(
    State(fake): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let ours = form
        .get("metadata[fieldpay_refund_id]")
        .cloned()
        .unwrap_or_default();
    let (mode, refund) = {
        let mut f = fake.lock().unwrap();
        f.posts.push(key.clone());
        let mode = f.mode.unwrap_or(Mode::Answer);
        if mode == Mode::HangBefore {
            (mode, None)
        } else {
            // The same key (or our refund id) again: the same refund.
            let known = f
                .refunds
                .iter()
                .find(|r| r["metadata"]["fieldpay_refund_id"] == json!(ours))
                .cloned();
            let refund = known.unwrap_or_else(|| {
                let r = json!({
                    "id": format!("re_fake{}", f.refunds.len() + 1),
                    "object": "refund",
                    "amount": form.get("amount").and_then(|a| a.parse::<i64>().ok()).unwrap_or(0),
                    "currency": "usd",
                    "status": "succeeded",
                    "payment_intent": form.get("payment_intent").cloned().unwrap_or_default(),
                    "metadata": {"fieldpay_refund_id": ours},
                });
                f.refunds.push(r.clone());
                r
            });
            (mode, Some(refund))
        }
    };
    match (mode, refund) {
        (Mode::Answer, Some(r)) => Json(r).into_response(),
        _ => std::future::pending().await,
    }
}

async fn list_refunds(
    State(fake): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let pi = q.get("payment_intent").cloned().unwrap_or_default();
    let data: Vec<Value> = fake
        .lock()
        .unwrap()
        .refunds
        .iter()
        .filter(|r| r["payment_intent"] == json!(pi))
        .cloned()
        .collect();
    Json(json!({"object": "list", "data": data, "has_more": false})).into_response()
}

async fn get_refund(State(fake): State<Shared>, UrlPath(id): UrlPath<String>) -> Response {
    let found = fake
        .lock()
        .unwrap()
        .refunds
        .iter()
        .find(|r| r["id"] == json!(id))
        .cloned();
    match found {
        Some(r) => Json(r).into_response(),
        None => not_found(),
    }
}

/// The fake on a loopback port: its base URL and its state.
async fn start_fake() -> (String, Shared) {
    let fake: Shared = Arc::new(Mutex::new(Fake::default()));
    let app = Router::new()
        .route("/v1/refunds", post(create_refund).get(list_refunds))
        .route("/v1/refunds/{id}", get(get_refund))
        .fallback(|| async { not_found() })
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, fake)
}

/// An office user's browser: its session cookie, without following redirects.
struct OfficeBrowser {
    base: String,
    http: reqwest::Client,
    cookie: String,
}

fn first_cookie(r: &reqwest::Response) -> String {
    r.headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .to_string()
}

/// The value of a named field on a page.
fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

impl OfficeBrowser {
    async fn sign_in(base: &str) -> OfficeBrowser {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        let page = http
            .get(format!("{base}/office/login"))
            .send()
            .await
            .unwrap();
        let signin_cookie = first_cookie(&page);
        let csrf = field(&page.text().await.unwrap(), "csrf");
        let r = http
            .post(format!("{base}/office/login"))
            .header("cookie", signin_cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("email", "owner@faults.example"),
                ("password", OWNER_PASSWORD),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
        OfficeBrowser {
            base: base.to_string(),
            cookie: first_cookie(&r),
            http,
        }
    }

    /// Asks for a refund from the payment's page, confirmed: the request,
    /// to await (its status, or a transport error if the server dies).
    async fn start_refund(
        &self,
        payment: &str,
        amount: &str,
    ) -> tokio::task::JoinHandle<Result<u16, reqwest::Error>> {
        let page = self
            .http
            .get(format!("{}/office/payments/{payment}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        let form = vec![
            ("csrf".to_string(), field(&html, "csrf")),
            ("nonce".to_string(), field(&html, "nonce")),
            ("amount".to_string(), amount.to_string()),
            ("reason".to_string(), "Service not done".to_string()),
            ("confirm".to_string(), "yes".to_string()),
        ];
        let request = self
            .http
            .post(format!("{}/office/payments/{payment}/refund", self.base))
            .header("cookie", &self.cookie)
            .form(&form);
        tokio::spawn(async move { request.send().await.map(|r| r.status().as_u16()) })
    }
}

/// Waits until the fake has received `n` refund requests.
async fn wait_for_posts(fake: &Shared, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.lock().unwrap().posts.len() < n {
        assert!(
            Instant::now() < deadline,
            "the processor did not receive refund request {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Pays one invoice of a new customer through the sandbox: (payment,
/// invoice).
async fn pay(api: &Api, n: usize, amount: i64) -> (String, String) {
    let (_, link, invoices) = support::seed_customer(api, n, &[amount]).await;
    let card = api.card().await;
    let r = api
        .try_pay(&link, &format!("refund-kill-{n}"), &invoices, &card)
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.json()["id"].as_str().unwrap().to_string(),
        invoices[0].clone(),
    )
}

/// Records a payment as a charge of the company's Stripe account (the fake).
async fn made_at_stripe(db: &Path, payment: &str, payment_intent: &str) {
    let mut c = SqliteConnectOptions::from_str(&format!("sqlite://{}", db.display()))
        .unwrap()
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let account = fieldpay::processor::PaymentProcessor::account(
        &fieldpay::processor::stripe::StripeProcessor::new("http://unused", SECRET_KEY),
    );
    let done = sqlx::query(
        "UPDATE payments SET processor_kind = 'stripe', processor_account = $1,
            processor_charge_id = $2 WHERE id = $3",
    )
    .bind(account)
    .bind(payment_intent)
    .bind(payment)
    .execute(&mut c)
    .await
    .unwrap();
    assert_eq!(done.rows_affected(), 1);
    c.close().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_between_a_refunds_record_and_its_processor_call_refunds_once() {
    let dir = TempDir::new("faults-refund-kill");
    let db_path = dir.0.join("app.db");
    let db_url = format!("sqlite://{}", db_path.display());
    let (stripe_base, fake) = start_fake().await;
    let env = vec![("FIELDPAY_STRIPE_API_BASE".to_string(), stripe_base)];
    let key = support::create_company(&db_url);
    let mut server = Server::new(&dir.0, &db_url);
    server.env = env.clone();
    server.start().await;
    let api = Api::new(&server.base, &key);
    let (pay_a, inv_a) = pay(&api, 1, 8_000).await;
    let (pay_b, inv_b) = pay(&api, 2, 6_000).await;
    // The company takes cards through Stripe (the fake) from now on, and
    // these were charges of that account.
    let r = api
        .api(
            reqwest::Method::PUT,
            "/api/v1/settings/processor",
            Some(&json!({
                "kind": "stripe",
                "secret_key": SECRET_KEY,
                "publishable_key": "pk_test_faultsrefundkill0001",
                "webhook_secret": "whsec_faultsrefundkill0001",
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    made_at_stripe(&db_path, &pay_a, "pi_fakeA").await;
    made_at_stripe(&db_path, &pay_b, "pi_fakeB").await;
    let office = OfficeBrowser::sign_in(&server.base).await;

    // 1. Killed while the processor has the request but has not acted.
    fake.lock().unwrap().mode = Some(Mode::HangBefore);
    let asked = office.start_refund(&pay_a, "30.00").await;
    wait_for_posts(&fake, 1).await;
    server.kill();
    assert!(
        asked.await.unwrap().is_err(),
        "the office saw the server die"
    );
    assert!(fake.lock().unwrap().refunds.is_empty());

    // 2. Killed after the processor made it, before fieldpay heard.
    server.start().await;
    fake.lock().unwrap().mode = Some(Mode::HangAfter);
    let asked = office.start_refund(&pay_b, "60.00").await;
    wait_for_posts(&fake, 2).await;
    server.kill();
    assert!(
        asked.await.unwrap().is_err(),
        "the office saw the server die"
    );
    assert_eq!(fake.lock().unwrap().refunds.len(), 1);

    // Both recorded and pending, their invoices reopened and held.
    let mut app = support::open_read(&db_path).await;
    let pending: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT r.id, r.status,
                (SELECT i.locked_by_attempt FROM invoices i WHERE i.locked_by_attempt = r.id)
         FROM refunds r ORDER BY r.created_at",
    )
    .fetch_all(&mut app)
    .await
    .unwrap();
    app.close().await.ok();
    assert_eq!(pending.len(), 2, "{pending:?}");
    for (id, status, held_by) in &pending {
        assert_eq!(status, "pending", "{id}");
        assert_eq!(
            held_by.as_deref(),
            Some(id.as_str()),
            "{id} holds its invoice"
        );
    }

    // 3. Restart; the jobs settle both.
    fake.lock().unwrap().mode = Some(Mode::Answer);
    server.start().await;
    let later = time::OffsetDateTime::now_utc() + time::Duration::minutes(10);
    let report = support::jobs_run_once_with(&db_url, later, &env);
    eprintln!("faults::refund_kill jobs: {}", report.trim());

    let (made, posts) = {
        let f = fake.lock().unwrap();
        (f.refunds.clone(), f.posts.clone())
    };
    let mut app = support::open_read(&db_path).await;
    let refunds: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, status, processor_refund_id, amount FROM refunds ORDER BY created_at",
    )
    .fetch_all(&mut app)
    .await
    .unwrap();
    let invoices: Vec<(String, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, balance, refunded, locked_by_attempt FROM invoices WHERE id IN ($1, $2) ORDER BY balance",
    )
    .bind(&inv_a)
    .bind(&inv_b)
    .fetch_all(&mut app)
    .await
    .unwrap();
    let refunded: Vec<(String, i64)> =
        sqlx::query_as("SELECT id, refunded FROM payments ORDER BY refunded")
            .fetch_all(&mut app)
            .await
            .unwrap();
    app.close().await.ok();

    // One refund per refund id at the processor, for the amounts asked.
    let (a, b) = (&refunds[0], &refunds[1]);
    let made_for = |id: &str| -> Vec<&Value> {
        made.iter()
            .filter(|r| r["metadata"]["fieldpay_refund_id"] == json!(id))
            .collect()
    };
    assert_eq!(made.len(), 2, "{made:?}");
    assert_eq!(made_for(&a.0).len(), 1, "{made:?}");
    assert_eq!(made_for(&b.0).len(), 1, "{made:?}");
    assert_eq!(made_for(&a.0)[0]["amount"], 3_000);
    assert_eq!(made_for(&b.0)[0]["amount"], 6_000);
    // A was sent again (its first request never acted on), B only asked about.
    assert!(
        posts.iter().filter(|k| **k == a.0).count() >= 2,
        "{posts:?}"
    );
    assert_eq!(posts.iter().filter(|k| **k == b.0).count(), 1, "{posts:?}");
    // fieldpay shows both succeeded, each with the processor's refund.
    for (id, status, theirs, _) in [a, b] {
        assert_eq!(status, "succeeded", "{id}");
        assert_eq!(
            theirs.as_ref().map(|t| json!(t)),
            Some(made_for(id)[0]["id"].clone())
        );
    }
    // The invoices are reopened by what was refunded, and free.
    assert_eq!(invoices[0], (inv_a.clone(), 3_000, 3_000, None));
    assert_eq!(invoices[1], (inv_b.clone(), 6_000, 6_000, None));
    assert_eq!(refunded, vec![(pay_a, 3_000), (pay_b, 6_000)]);

    // Nothing more to do, whoever runs the jobs again.
    let report = support::jobs_run_once_with(
        &db_url,
        time::OffsetDateTime::now_utc() + time::Duration::hours(3),
        &env,
    );
    assert!(
        report.contains("Refunds at the processor: 0 made, 0 failed, 0 still pending"),
        "{report}"
    );
    assert_eq!(fake.lock().unwrap().refunds.len(), 2);
    assert!(server.alive(), "the server is still running");
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "the server panicked:\n{logs}");
}
