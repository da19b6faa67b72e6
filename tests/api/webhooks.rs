//! Outbound webhooks (CONTRACT.md "Outbound webhooks") against a real HTTP
//! receiver on a loopback port (so these tests allow private targets, as
//! `FIELDPAY_WEBHOOKS_ALLOW_PRIVATE` does, except where they prove the
//! refusal): every event type arrives signed and verifies with the
//! `standardwebhooks` library receivers use; failures are retried with
//! growing delays under one `webhook-id`; a receiver that never answers
//! holds up no other endpoint; private targets are refused when saved and
//! when sent; two job runners on PostgreSQL send each delivery once; an
//! endpoint failing for three days is turned off and its owner emailed.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::api_money::post_as;
use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp};

const ALL_EVENTS: [&str; 7] = [
    "customer.created",
    "invoice.created",
    "invoice.paid",
    "invoice.voided",
    "payment.succeeded",
    "payment.refunded",
    "autopay.payment_failed",
];

// ---------------------------------------------------------------- receiver

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Reply {
    Status(u16),
    /// Says nothing for a minute (longer than the sender waits).
    Silent,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    id: String,
    timestamp: String,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap().to_string()
    }
}

#[derive(Default)]
struct Inbox {
    got: Vec<Received>,
    /// Answers for the next requests, in order; then `otherwise`.
    script: VecDeque<Reply>,
    otherwise: Option<Reply>,
    /// Time taken before answering each request.
    delay: Duration,
}

/// An HTTP server on a loopback port that records what it is sent.
#[derive(Clone)]
struct Receiver {
    port: u16,
    inbox: Arc<Mutex<Inbox>>,
}

impl Receiver {
    /// Answers `script` in order, then 200.
    async fn start(script: &[Reply]) -> Receiver {
        Receiver::start_with(script, Reply::Status(200), Duration::ZERO).await
    }

    async fn start_with(script: &[Reply], otherwise: Reply, delay: Duration) -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox {
            script: script.iter().copied().collect(),
            otherwise: Some(otherwise),
            delay,
            ..Inbox::default()
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(inbox.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { port, inbox }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/fieldpay", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.inbox.lock().unwrap().got.clone()
    }
}

async fn receive(
    State(inbox): State<Arc<Mutex<Inbox>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (reply, delay) = {
        let mut inbox = inbox.lock().unwrap();
        inbox.got.push(Received {
            at: Instant::now(),
            id: header("webhook-id"),
            timestamp: header("webhook-timestamp"),
            signature: header("webhook-signature"),
            body,
        });
        let reply = inbox.script.pop_front().or(inbox.otherwise).unwrap();
        (reply, inbox.delay)
    };
    tokio::time::sleep(delay).await;
    match reply {
        Reply::Status(code) => (StatusCode::from_u16(code).unwrap(), "noted").into_response(),
        Reply::Silent => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::OK.into_response()
        }
    }
}

// ---------------------------------------------------------------- helpers

fn allow_private(t: &mut TestApp) {
    t.configure(|c| c.webhooks_allow_private = true);
}

/// Adds an endpoint through the API: its id and its secret.
async fn endpoint(t: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let r = t
        .api(
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": url, "events": events})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    let secret = v["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (v["id"].as_str().unwrap().to_string(), secret)
}

async fn deliveries(t: &TestApp, endpoint: &str) -> Vec<Value> {
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["data"].as_array().unwrap().clone()
}

async fn run(t: &TestApp, now: OffsetDateTime) -> fieldpay::jobs::RunReport {
    fieldpay::jobs::run_once(&t.app, now).await.unwrap()
}

fn instant(v: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

/// A python with the `standardwebhooks` library: `FIELDPAY_TEST_PYTHON`,
/// else `python3` when it has it. Under `CI=true` a missing one fails.
fn webhooks_python() -> Option<String> {
    let candidates = std::env::var("FIELDPAY_TEST_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for py in candidates {
        let ok = std::process::Command::new(&py)
            .args(["-c", "import standardwebhooks"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(py);
        }
    }
    if crate::common::in_ci() {
        panic!(
            "standardwebhooks is missing: .ci/run installs it into target/ci-venv (FIELDPAY_TEST_PYTHON)"
        );
    }
    eprintln!(
        "SKIPPED the signature check: no python with standardwebhooks (set FIELDPAY_TEST_PYTHON or pip install standardwebhooks)"
    );
    None
}

/// Verifies each request as a receiver would, with the `standardwebhooks`
/// library and the secret; one line per request: `ok <type>` or `refused`.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
for item in json.load(open(sys.argv[1])):
    try:
        payload = Webhook(item["secret"]).verify(item["body"], item["headers"])
        print("ok", payload["type"])
    except WebhookVerificationError as e:
        print("refused", e)
"#;

fn verify_with_library(
    python: &str,
    dir: &std::path::Path,
    items: &[(String, &Received, String)],
) -> Vec<String> {
    let list: Vec<Value> = items
        .iter()
        .map(|(secret, r, body)| {
            json!({
                "secret": secret,
                "body": body,
                "headers": {
                    "webhook-id": r.id,
                    "webhook-timestamp": r.timestamp,
                    "webhook-signature": r.signature,
                },
            })
        })
        .collect();
    let input = dir.join("received.json");
    std::fs::write(&input, serde_json::to_string(&list).unwrap()).unwrap();
    let script = dir.join("verify.py");
    std::fs::write(&script, VERIFY).unwrap();
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn every_event_type_arrives_signed_and_verifies_with_the_standard_library() {
    let mut t = TestApp::new().await;
    allow_private(&mut t);
    let receiver = Receiver::start(&[]).await;
    let (_, secret) = endpoint(&t, &receiver.url(), &ALL_EVENTS).await;
    // Another endpoint that takes only invoice.paid gets only that.
    let narrow = Receiver::start(&[]).await;
    let (_, narrow_secret) = endpoint(&t, &narrow.url(), &["invoice.paid"]).await;

    let customer = t.customer("Wendy Webhook").await;
    let property = t.property("12 Hook Lane", &customer, None).await;
    let paid = t.invoice(&property, 12000, &t.day(20)).await;
    let voided = t.invoice(&property, 3000, &t.day(20)).await;
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/invoices/{voided}/void"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = crate::api_money::pay(
        &t,
        "hook-cash-1",
        json!({"customer_id": customer, "method": "cash", "amount": 12000,
               "allocations": [{"invoice_id": paid, "amount": 12000}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let r = post_as(
        &t,
        &t.api_key,
        &format!("/api/v1/payments/{payment}/refunds"),
        Some("hook-refund-1"),
        Some(json!({"amount": 2000})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Autopay on the card that saves but declines every charge, for an
    // invoice due yesterday: the jobs try it and it fails.
    let o = crate::autopay::office(&t).await;
    crate::autopay::settings(&t, &o, &[]).await;
    let (auto_customer, auto_property, _) =
        crate::autopay::enrolled(&t, &o, "Rita Retry", "4000000000000341").await;
    let auto_invoice =
        crate::autopay::invoice(&t, &auto_property, 7500, &t.day(-3), &t.day(-1)).await;

    // Written with their changes; nothing is sent before the jobs run.
    assert!(receiver.received().is_empty());
    let report = run(&t, t.app.clock.now()).await;
    assert_eq!(report.webhooks.delivered, 11, "{report:?}");

    let got = receiver.received();
    let types: BTreeSet<String> = got.iter().map(Received::event_type).collect();
    let expected: BTreeSet<String> = ALL_EVENTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(types, expected);
    let of_type = |ty: &str| -> Vec<Value> {
        got.iter()
            .filter(|r| r.event_type() == ty)
            .map(Received::json)
            .collect()
    };
    for r in &got {
        let body = r.json();
        // The id header is the event's id; the body is {id, type, created_at, data}.
        assert_eq!(body["id"], r.id.as_str());
        assert!(r.id.starts_with("evt_"), "{}", r.id);
        assert!(body["created_at"].is_string() && body["data"].is_object());
        assert!(r.signature.starts_with("v1,"), "{}", r.signature);
        assert!(r.timestamp.parse::<i64>().is_ok(), "{}", r.timestamp);
    }
    // Each the object as the API shows it.
    let customers: Vec<String> = of_type("customer.created")
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(customers, [customer.clone(), auto_customer.clone()]);
    let api_customer = t
        .api(Method::GET, &format!("/api/v1/customers/{customer}"), None)
        .await
        .json();
    assert_eq!(of_type("customer.created")[0]["data"], api_customer);
    let created: BTreeSet<String> = of_type("invoice.created")
        .iter()
        .map(|e| e["data"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        created,
        BTreeSet::from([paid.clone(), voided.clone(), auto_invoice.clone()])
    );
    let v = &of_type("invoice.voided")[0]["data"];
    assert_eq!(
        (v["id"].as_str(), v["status"].as_str()),
        (Some(voided.as_str()), Some("void"))
    );
    let p = &of_type("invoice.paid")[0]["data"];
    assert_eq!(
        (
            p["id"].as_str(),
            p["status"].as_str(),
            p["balance"].as_i64()
        ),
        (Some(paid.as_str()), Some("paid"), Some(0))
    );
    let s = &of_type("payment.succeeded")[0]["data"];
    assert_eq!(s["id"], payment.as_str());
    assert_eq!(
        (s["amount"].as_i64(), s["method"].as_str()),
        (Some(12000), Some("cash"))
    );
    assert_eq!(s["allocations"][0]["invoice_id"], paid.as_str());
    let refunded = &of_type("payment.refunded")[0]["data"];
    assert_eq!(refunded["id"], payment.as_str());
    assert_eq!(refunded["refunded"], 2000);
    assert_eq!(refunded["refunds"][0]["id"], refunded["refund_id"]);
    let failed = &of_type("autopay.payment_failed")[0]["data"];
    assert_eq!(failed["customer_id"], auto_customer.as_str());
    assert_eq!(failed["amount"], 7500);
    assert_eq!(failed["invoices"][0]["id"], auto_invoice.as_str());
    assert!(
        failed["decline_code"]
            .as_str()
            .is_some_and(|c| !c.is_empty())
    );

    let narrow_got = narrow.received();
    assert_eq!(narrow_got.len(), 1);
    assert_eq!(narrow_got[0].event_type(), "invoice.paid");

    let Some(python) = webhooks_python() else {
        return;
    };
    let mut items: Vec<(String, &Received, String)> = got
        .iter()
        .map(|r| (secret.clone(), r, r.body.clone()))
        .collect();
    items.push((
        narrow_secret.clone(),
        &narrow_got[0],
        narrow_got[0].body.clone(),
    ));
    // A body changed on the way, or another endpoint's secret: refused.
    items.push((
        secret.clone(),
        &got[0],
        got[0].body.replace("Wendy", "Wanda"),
    ));
    items.push((narrow_secret, &got[0], got[0].body.clone()));
    let lines = verify_with_library(&python, &t.dir, &items);
    assert_eq!(lines.len(), got.len() + 3, "{lines:?}");
    for (line, r) in lines.iter().zip(&got) {
        assert_eq!(*line, format!("ok {}", r.event_type()));
    }
    assert_eq!(lines[got.len()], "ok invoice.paid");
    assert!(lines[got.len() + 1].starts_with("refused"), "{lines:?}");
    assert!(lines[got.len() + 2].starts_with("refused"), "{lines:?}");
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_with_growing_delays_and_one_id() {
    let mut t = TestApp::new().await;
    allow_private(&mut t);
    let receiver =
        Receiver::start(&[Reply::Status(500), Reply::Status(500), Reply::Status(500)]).await;
    let (id, _) = endpoint(&t, &receiver.url(), &["customer.created"]).await;
    t.customer("Rhonda Retry").await;

    let t0 = t.app.clock.now();
    run(&t, t0).await;
    assert_eq!(receiver.received().len(), 1);
    for tries in 2..=4 {
        let d = deliveries(&t, &id).await;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["status"], "failed");
        assert_eq!(d[0]["response_status"], 500);
        assert_eq!(d[0]["attempt"], tries - 1);
        let next = instant(&d[0]["next_attempt_at"]);
        // Not before its time.
        run(&t, next - time::Duration::seconds(1)).await;
        assert_eq!(receiver.received().len(), tries - 1);
        run(&t, next).await;
        assert_eq!(receiver.received().len(), tries);
    }
    let d = deliveries(&t, &id).await;
    assert_eq!(
        (
            d[0]["status"].as_str(),
            d[0]["response_status"].as_i64(),
            d[0]["attempt"].as_i64()
        ),
        (Some("succeeded"), Some(200), Some(4))
    );
    assert!(d[0]["next_attempt_at"].is_null());
    // Delivered: never sent again.
    run(&t, t0 + time::Duration::days(3)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 4);
    assert!(
        got.iter()
            .all(|r| r.id == got[0].id && r.body == got[0].body)
    );
    let stamps: Vec<i64> = got.iter().map(|r| r.timestamp.parse().unwrap()).collect();
    let gaps: Vec<i64> = stamps.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [60, 300, 1800], "1 min, 5 min, 30 min");
    // The log has every try.
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/attempts"),
            None,
        )
        .await;
    let statuses: Vec<i64> = r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["response_status"].as_i64().unwrap())
        .collect();
    assert_eq!(statuses, [200, 500, 500, 500], "newest first");
}

#[tokio::test]
async fn a_receiver_that_never_answers_holds_up_no_other_endpoint() {
    let mut t = TestApp::new().await;
    allow_private(&mut t);
    let silent = Receiver::start_with(&[], Reply::Silent, Duration::ZERO).await;
    let fast = Receiver::start(&[]).await;
    // The silent endpoint is first in line.
    let (silent_id, _) = endpoint(&t, &silent.url(), &["customer.created"]).await;
    let (fast_id, _) = endpoint(&t, &fast.url(), &["customer.created"]).await;
    t.customer("Sam Slow").await;

    let started = Instant::now();
    let app = t.app.clone();
    let now = t.app.clock.now();
    let job = tokio::spawn(async move { fieldpay::jobs::run_once(&app, now).await.unwrap() });
    while fast.received().is_empty() && started.elapsed() < Duration::from_secs(9) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fast_at = fast.received()[0].at.duration_since(started);
    assert!(
        fast_at < Duration::from_secs(5),
        "the fast receiver waited {fast_at:?}"
    );
    assert!(
        !job.is_finished(),
        "the silent receiver is still being waited for"
    );
    assert_eq!(silent.received().len(), 1);
    let report = job.await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert_eq!(
        (report.webhooks.delivered, report.webhooks.retrying),
        (1, 1)
    );
    assert_eq!(deliveries(&t, &fast_id).await[0]["status"], "succeeded");
    let d = &deliveries(&t, &silent_id).await[0];
    assert_eq!(d["status"], "failed");
    assert!(d["response_status"].is_null());
    assert!(
        d["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 10 s"),
        "{d}"
    );
}

#[tokio::test]
async fn private_targets_are_refused_when_saved_and_when_sent() {
    let mut t = TestApp::new().await;
    let receiver = Receiver::start(&[]).await;
    for (url, words) in [
        (receiver.url(), "127.0.0.1 is a loopback address"),
        (
            "http://10.0.0.7/hooks".to_string(),
            "10.0.0.7 is a private address",
        ),
        (
            "http://169.254.169.254/latest/meta-data".to_string(),
            "link-local",
        ),
        ("http://[::1]:8080/hooks".to_string(), "loopback"),
        ("http://[::ffff:192.168.1.10]/hooks".to_string(), "private"),
    ] {
        let r = t
            .api(
                Method::POST,
                "/api/v1/webhook-endpoints",
                Some(json!({"url": url, "events": ["customer.created"]})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url}: {}",
            r.body
        );
        let e = &r.json()["error"];
        assert_eq!(e["field"], "url");
        let message = e["message"].as_str().unwrap();
        assert!(message.contains(words), "{url}: {message}");
        assert!(
            message.contains("FIELDPAY_WEBHOOKS_ALLOW_PRIVATE"),
            "{message}"
        );
    }
    let r = t
        .api(
            Method::POST,
            "/api/v1/webhook-endpoints",
            Some(json!({"url": "https://example.com/hook", "events": ["invoice.paied"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "events");
    assert_eq!(t.count("SELECT COUNT(*) FROM webhook_endpoints").await, 0);

    // Saved by name while private targets were allowed; the setting is
    // then turned off: the name is resolved at the send and refused.
    allow_private(&mut t);
    let by_name = format!("http://localhost:{}/hooks", receiver.port);
    let (id, _) = endpoint(&t, &by_name, &["customer.created"]).await;
    t.configure(|c| c.webhooks_allow_private = false);
    t.customer("Ivan Inside").await;
    run(&t, t.app.clock.now()).await;
    assert!(receiver.received().is_empty());
    let d = &deliveries(&t, &id).await[0];
    assert_eq!(d["status"], "failed");
    let why = d["last_error"].as_str().unwrap();
    assert!(why.contains("localhost resolves to"), "{why}");
    assert!(why.contains("public addresses"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_job_runners_on_postgresql_send_each_delivery_once() {
    let Some(mut t) = TestApp::on_postgres_server().await else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    allow_private(&mut t);
    // Slow enough that both runners are sending at once.
    let receiver = Receiver::start_with(&[], Reply::Status(200), Duration::from_millis(20)).await;
    let (id, _) = endpoint(&t, &receiver.url(), &["customer.created"]).await;
    const EVENTS: usize = 120;
    for n in 0..EVENTS {
        t.customer(&format!("Customer {n}")).await;
    }
    let other = fieldpay::app::App::open((*t.app.config).clone())
        .await
        .unwrap();
    let now = t.app.clock.now();
    let (a, b) = (t.app.clone(), other.clone());
    let one = tokio::spawn(async move { fieldpay::jobs::run_once(&a, now).await.unwrap() });
    let two = tokio::spawn(async move { fieldpay::jobs::run_once(&b, now).await.unwrap() });
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    assert_eq!(one.webhooks.delivered + two.webhooks.delivered, EVENTS);
    // Each took a share (the receiver is slow enough for both to be busy).
    assert!(
        one.webhooks.delivered > 0 && two.webhooks.delivered > 0,
        "{} and {}",
        one.webhooks.delivered,
        two.webhooks.delivered
    );
    let got = receiver.received();
    let ids: BTreeSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!((got.len(), ids.len()), (EVENTS, EVENTS));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM webhook_attempts").await,
        EVENTS as i64
    );
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}/deliveries?limit=200"),
            None,
        )
        .await;
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), EVENTS);
    assert!(
        data.iter()
            .all(|d| d["status"] == "succeeded" && d["attempt"] == 1)
    );
}

#[tokio::test]
async fn another_companys_endpoints_and_deliveries_are_not_found() {
    let mut t = TestApp::new().await;
    allow_private(&mut t);
    let receiver = Receiver::start(&[Reply::Status(503)]).await;
    let (id, _) = endpoint(&t, &receiver.url(), &["customer.created"]).await;
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/test"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let delivery = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["status"], "failed");
    let other = t.other_company().await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/webhook-endpoints/{id}")),
        (Method::DELETE, format!("/api/v1/webhook-endpoints/{id}")),
        (
            Method::GET,
            format!("/api/v1/webhook-endpoints/{id}/deliveries"),
        ),
        (
            Method::GET,
            format!("/api/v1/webhook-endpoints/{id}/attempts"),
        ),
        (Method::POST, format!("/api/v1/webhook-endpoints/{id}/test")),
        (
            Method::POST,
            format!("/api/v1/webhook-endpoints/{id}/enable"),
        ),
        (
            Method::POST,
            format!("/api/v1/webhook-deliveries/{delivery}/retry"),
        ),
    ] {
        let r = t.api_with_key(&other, method.clone(), &path, None).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.body
        );
    }
    let theirs = t
        .api_with_key(&other, Method::GET, "/api/v1/webhook-endpoints", None)
        .await;
    assert_eq!(theirs.json()["data"].as_array().unwrap().len(), 0);
    // Nothing of theirs was touched or sent.
    assert_eq!(receiver.received().len(), 1);
    let listed = t
        .api(Method::GET, "/api/v1/webhook-endpoints", None)
        .await
        .json();
    assert_eq!(listed["data"][0]["id"], id.as_str());
    assert!(listed["data"][0].get("secret").is_none(), "{listed}");
    // The owner's retry goes out (the receiver now answers 200); removing
    // the endpoint stops everything.
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/webhook-deliveries/{delivery}/retry"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "succeeded");
    assert_eq!(receiver.received().len(), 2);
    let r = t
        .api(
            Method::DELETE,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    t.customer("After Removal").await;
    run(&t, t.app.clock.now()).await;
    assert_eq!(receiver.received().len(), 2);
}

#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_turned_off_and_its_owner_emailed() {
    let mut t = TestApp::new().await;
    allow_private(&mut t);
    let receiver = Receiver::start_with(&[], Reply::Status(500), Duration::ZERO).await;
    let (id, _) = endpoint(&t, &receiver.url(), &["customer.created"]).await;
    t.customer("First Failure").await;
    let t0 = t.app.clock.now();
    run(&t, t0).await;
    // Two days of failures: still on.
    run(&t, t0 + time::Duration::days(2)).await;
    let e = t
        .api(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await
        .json();
    assert_eq!(e["enabled"], true);
    assert!(e["failing_since"].is_string(), "{e}");
    // An event on the third day fails too: the endpoint is turned off.
    t.customer("Third Day").await;
    let report = run(
        &t,
        t0 + time::Duration::days(3) + time::Duration::minutes(1),
    )
    .await;
    assert_eq!(report.webhooks.endpoints_disabled, 1, "{report:?}");
    assert_eq!(report.webhooks.owner_emails.sent, 1, "{report:?}");
    let e = t
        .api(
            Method::GET,
            &format!("/api/v1/webhook-endpoints/{id}"),
            None,
        )
        .await
        .json();
    assert_eq!(e["enabled"], false);
    assert!(
        e["disabled_reason"].as_str().unwrap().contains("HTTP 500"),
        "{e}"
    );
    let mails: Vec<String> = std::fs::read_dir(&t.app.config.spool_dir)
        .unwrap()
        .filter_map(|f| f.ok())
        .filter(|f| f.file_name().to_string_lossy().ends_with(".eml"))
        .map(|f| std::fs::read_to_string(f.path()).unwrap())
        .filter(|m| m.contains("webhook endpoint was turned off"))
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains(&t.owner_email), "{}", mails[0]);
    assert!(mails[0].contains(&receiver.url()), "{}", mails[0]);
    // Nothing more is sent to it, nor retried.
    let tried = receiver.received().len();
    t.customer("While Off").await;
    run(&t, t0 + time::Duration::days(5)).await;
    assert_eq!(receiver.received().len(), tried);
    assert!(
        deliveries(&t, &id)
            .await
            .iter()
            .all(|d| d["status"] == "abandoned"),
    );
    // Turned on again by the owner, it receives new events.
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/webhook-endpoints/{id}/enable"),
            None,
        )
        .await;
    assert_eq!(r.json()["enabled"], true, "{}", r.body);
    t.customer("Back On").await;
    run(&t, t0 + time::Duration::days(5)).await;
    assert_eq!(receiver.received().len(), tried + 1);
}

#[tokio::test]
async fn the_developers_page_shows_the_secret_once_sends_a_test_and_retries() {
    let mut t = TestApp::new().await;
    allow_private(&mut t);
    let receiver = Receiver::start(&[Reply::Status(502)]).await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let base = "/office/settings/developers";
    let url = receiver.url();
    let r = o
        .post(
            &t,
            base,
            &[
                ("url", url.as_str()),
                ("events", "invoice.paid"),
                ("events", "payment.succeeded"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let listed = t
        .api(Method::GET, "/api/v1/webhook-endpoints", None)
        .await
        .json();
    let id = listed["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        listed["data"][0]["events"],
        json!(["invoice.paid", "payment.succeeded"])
    );
    let start = r.body.find("whsec_").expect("the secret is shown");
    let secret: String = r.body[start..]
        .chars()
        .take_while(|c| !"<\"' \n".contains(*c))
        .collect();
    assert!(secret.len() > 40, "{secret}");
    // Shown once: neither the list nor the endpoint's page has it again.
    assert!(!o.get(&t, base).await.body.contains(&secret));
    let page = o.get(&t, &format!("{base}/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains(&secret));
    assert!(page.body.contains("Send test event"));

    // The test event is sent at once; the receiver answers 502 to it.
    let r = o.post(&t, &format!("{base}/{id}/test"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type(), "webhook.test");
    let page = o.get(&t, &format!("{base}/{id}")).await.body;
    assert!(
        page.contains("Failed") && page.contains("HTTP 502"),
        "{page}"
    );
    assert!(page.contains(" ms"), "the try's time is shown: {page}");
    // Retry from the log: delivered, the same event again.
    let delivery = deliveries(&t, &id).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = o
        .post(
            &t,
            &format!("{base}/deliveries/{delivery}/retry"),
            &[("endpoint_id", id.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].id, got[0].id);
    let page = o.get(&t, &format!("{base}/{id}")).await.body;
    assert!(page.contains("Delivered"), "{page}");
    // A private URL is refused on the form too, with the reason.
    t.configure(|c| c.webhooks_allow_private = false);
    let r = o
        .post(
            &t,
            base,
            &[("url", "http://10.1.2.3/hook"), ("events", "invoice.paid")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("10.1.2.3 is a private address"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn the_webhook_routes_are_in_the_openapi_document() {
    let t = TestApp::new().await;
    let spec = t.get("/api/v1/openapi.json").await.json();
    for (path, methods) in [
        ("/api/v1/webhook-endpoints", &["get", "post"][..]),
        ("/api/v1/webhook-endpoints/{id}", &["get", "delete"]),
        ("/api/v1/webhook-endpoints/{id}/deliveries", &["get"]),
        ("/api/v1/webhook-endpoints/{id}/attempts", &["get"]),
        ("/api/v1/webhook-endpoints/{id}/test", &["post"]),
        ("/api/v1/webhook-endpoints/{id}/enable", &["post"]),
        ("/api/v1/webhook-deliveries/{id}/retry", &["post"]),
    ] {
        for m in methods {
            assert!(spec["paths"][path][m].is_object(), "{m} {path}");
        }
    }
    let events = &spec["components"]["schemas"]["WebhookEndpointCreate"]["properties"]["events"]["items"]
        ["enum"];
    assert_eq!(*events, json!(ALL_EVENTS));
}
