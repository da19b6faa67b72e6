//! SIGKILL between an event's commit and its delivery: the outbox keeps it.
//!
//! 1. `fieldpay serve` commits a customer (and its `customer.created` event)
//!    and is killed before its scheduler's next tick sends it;
//! 2. `fieldpay jobs run --once` claims the delivery, connects to the
//!    receiver, which holds the request without reading it, and is killed
//!    mid-send;
//! 3. once the claim has run out, `jobs run --once` sends it again and the
//!    receiver answers 200; later runs send nothing more.
//!
//! The receiver processes the event exactly once, and every request it saw
//! carries the same `webhook-id`.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::support::{self, Api, Server, TempDir};

#[derive(Default)]
struct Seen {
    /// The `webhook-id` of every request that arrived.
    ids: Vec<String>,
    /// The bodies read and answered with 200.
    processed: Vec<Value>,
}

type Shared = Arc<Mutex<Seen>>;

/// Holds the first request forever without reading its body; reads and
/// answers 200 to every later one.
async fn receive(State(seen): State<Shared>, req: Request) -> Response {
    let id = req
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let first = {
        let mut s = seen.lock().unwrap();
        s.ids.push(id);
        s.ids.len() == 1
    };
    if first {
        std::future::pending::<()>().await;
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    seen.lock()
        .unwrap()
        .processed
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::OK.into_response()
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_event_committed_before_a_sigkill_is_delivered_once() {
    let dir = TempDir::new("faults-webhooks");
    let db_path = dir.0.join("app.db");
    let db_url = format!("sqlite://{}", db_path.display());
    let key = support::create_company(&db_url);
    let allow = vec![(
        "FIELDPAY_WEBHOOKS_ALLOW_PRIVATE".to_string(),
        "true".to_string(),
    )];

    let seen: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://127.0.0.1:{}/hooks",
        listener.local_addr().unwrap().port()
    );
    let router = axum::Router::new()
        .fallback(receive)
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    // 1. Committed, then killed: the scheduler ran at start and its next
    //    tick is a minute away.
    let mut server = Server::new(&dir.0, &db_url);
    server.env = allow.clone();
    server.start().await;
    let api = Api::new(&server.base, &key);
    let r = api
        .api(
            reqwest::Method::POST,
            "/api/v1/webhook-endpoints",
            Some(&json!({"url": url, "events": ["customer.created"]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let customer = api.customer("Kim Killed").await;
    server.kill();
    assert!(seen.lock().unwrap().ids.is_empty(), "sent before the kill");

    // 2. Killed mid-send: the receiver holds the request.
    let started = time::OffsetDateTime::now_utc();
    let mut job = crate::common::fieldpay_cmd(&db_url)
        .envs(allow.iter().map(|(k, v)| (k, v)))
        .args(["jobs", "run", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        "the jobs reach the receiver",
        Duration::from_secs(30),
        || !seen.lock().unwrap().ids.is_empty(),
    )
    .await;
    job.kill().unwrap();
    job.wait().unwrap();
    assert!(seen.lock().unwrap().processed.is_empty());

    // Within its claim nobody sends it again; after it, a run does.
    support::jobs_run_once_with(&db_url, started + time::Duration::minutes(1), &allow);
    assert_eq!(seen.lock().unwrap().ids.len(), 1);
    support::jobs_run_once_with(&db_url, started + time::Duration::minutes(6), &allow);
    wait_for("the event is processed", Duration::from_secs(10), || {
        !seen.lock().unwrap().processed.is_empty()
    })
    .await;
    // Delivered: later runs send nothing more.
    support::jobs_run_once_with(&db_url, started + time::Duration::days(2), &allow);

    {
        let s = seen.lock().unwrap();
        assert_eq!(s.processed.len(), 1, "processed once");
        assert_eq!(s.ids.len(), 2, "the held request and the one answered");
        assert_eq!(s.ids[0], s.ids[1], "one webhook-id");
        let event = &s.processed[0];
        assert_eq!(event["id"], s.ids[0].as_str());
        assert_eq!(event["type"], "customer.created");
        assert_eq!(event["data"]["id"], customer.as_str());
    }

    let mut db = support::open_read(&db_path).await;
    let (status, attempts): (String, i64) =
        sqlx::query_as("SELECT status, attempts FROM webhook_deliveries")
            .fetch_one(&mut db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("succeeded", 1));
}
