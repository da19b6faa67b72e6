//! Operations: readiness, metrics, logs, shutdown, web-only processes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::json;

use fieldpay::app::App;
use fieldpay::config::RateLimits;
use fieldpay::crypto::new_id;
use fieldpay::domain::ids::MessageId;
use fieldpay::messaging::email::BoxFuture;
use fieldpay::messaging::outbox::{self, Enqueued, NewMessage};
use fieldpay::messaging::{Channel, Rendered};
use fieldpay::store::messages::OutboxRow;
use fieldpay::web::limits::{LoginLimits, PayLimits};

use crate::support::{TestApp, captured_logs, customer_with_invoices};

// ---------------------------------------------------------------- readiness

#[tokio::test]
async fn readyz_answers_200_when_migrated_and_503_when_a_migration_is_missing() {
    let t = TestApp::new().await;
    let r = t.get("/readyz").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "ready");

    // The database lost a migration this binary needs (an older schema).
    fieldpay::store::sql::query("DELETE FROM _sqlx_migrations WHERE version = 16")
        .execute(t.app.db.writer())
        .await
        .unwrap();
    let r = t.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    let body = r.json();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["reason"], "migrations_pending");
    assert_eq!(body["missing_migrations"], json!([16]));
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("fieldpay migrate")
    );
    // Headers as on every response (SECURITY.md 7).
    assert_eq!(r.header("cache-control"), "no-store");
    assert!(!r.header("content-security-policy").is_empty());
    // The process itself is still up.
    let r = t.get("/healthz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok"));

    // A database that no longer answers.
    t.app.db.close().await;
    let r = t.get("/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
    assert_eq!(r.json()["reason"], "database_unreachable");
    assert_eq!(t.get("/healthz").await.status, StatusCode::OK);
}

// ---------------------------------------------------------------- metrics

/// The value of one sample line of the exposition (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_never_show_a_token() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Metric Mia", &[2500, 3000]).await;
    let token = t.token(&c).await;
    let page = r#"fieldpay_http_requests_total{method="GET",route="/pay/{token}",status="200"}"#;
    let miss = r#"fieldpay_http_requests_total{method="GET",route="unmatched",status="404"}"#;

    let before = t.get("/metrics").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert!(
        before.header("content-type").contains("openmetrics-text"),
        "{}",
        before.header("content-type")
    );
    assert_eq!(t.get(&format!("/pay/{token}")).await.status, StatusCode::OK);
    assert_eq!(t.get("/no-such-page/x").await.status, StatusCode::NOT_FOUND);
    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "metrics-1",
            json!({"invoice_ids": [inv[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
    let declined_card = t.card("4000000000000002").await;
    let declined = t
        .pay(
            &token,
            "metrics-2",
            json!({"invoice_ids": [inv[1]], "payment_method": declined_card}),
        )
        .await;
    assert_eq!(declined.status, StatusCode::PAYMENT_REQUIRED);
    // Valid-token requests are limited in memory only: nothing was written.
    assert_eq!(t.count("SELECT COUNT(*) FROM rate_limits").await, 0);

    let after = t.get("/metrics").await;
    let text = &after.body;
    // Other tests in this binary count too: at least ours.
    assert!(
        sample(text, page) >= sample(&before.body, page) + 1.0,
        "{text}"
    );
    assert!(sample(text, miss) >= sample(&before.body, miss) + 1.0);
    assert!(
        text.contains(
            r#"fieldpay_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/pay/{token}"}"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/pay/{token}/payments",status="201"}"#),
        "{text}"
    );
    assert!(
        sample(
            text,
            r#"fieldpay_payments_total{processor="sandbox",outcome="succeeded"}"#
        ) >= 1.0
    );
    assert!(
        sample(
            text,
            r#"fieldpay_payments_total{processor="sandbox",outcome="declined"}"#
        ) >= 1.0
    );
    assert!(!text.contains(&token), "a token reached the metrics");
    assert!(!text.contains("/pay/ey") && !text.contains("no-such-page"));

    // Not for the internet: another address, or loopback through a proxy,
    // gets the same 404 as any unknown path.
    let r = t.get_from("/metrics", [203, 0, 113, 9]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("fieldpay_"));
    let r = t
        .request(
            Method::GET,
            "/metrics",
            &[("x-forwarded-for", "203.0.113.9")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn message_deliveries_are_counted_by_channel() {
    let t = TestApp::new().await;
    let (company, customer) = company_and_customer(&t).await;
    let series = r#"fieldpay_messages_total{channel="email",outcome="sent"}"#;
    let before = sample(&fieldpay::metrics::render(), series);
    queue(&t, &company, &customer, "metrics:1").await;
    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    assert!(sample(&fieldpay::metrics::render(), series) >= before + 1.0);
    // Jobs: one run counts each job.
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let text = fieldpay::metrics::render();
    for job in [
        "reconcile",
        "refunds",
        "stripe_events",
        "autopay",
        "alerts",
        "outbox",
    ] {
        assert!(
            sample(
                &text,
                &format!(r#"fieldpay_job_runs_total{{job="{job}",result="ok"}}"#)
            ) >= 1.0,
            "{job}: {text}"
        );
        assert!(text.contains(&format!(
            r#"fieldpay_job_duration_seconds_count{{job="{job}"}}"#
        )));
    }
}

// ---------------------------------------------------------------- request ids and logs

#[tokio::test]
async fn request_ids_are_echoed_and_carried_by_every_log_line_of_the_request() {
    let t = TestApp::new().await;
    let (c, _) = customer_with_invoices(&t, "Logged Lou", &[1200]).await;
    let token = t.token(&c).await;
    let id = new_id("req");
    let r = t
        .request(
            Method::GET,
            &format!("/pay/{token}"),
            &[("x-request-id", &id)],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-request-id"), id);

    // Without one, or with one not fit for a log line, the server makes one.
    let r = t.get("/healthz").await;
    assert_eq!(r.header("x-request-id").len(), 22, "128 bits in base64url");
    let r = t
        .request(
            Method::GET,
            "/healthz",
            &[("x-request-id", "two words\" injected=1")],
            None,
        )
        .await;
    assert_eq!(r.header("x-request-id").len(), 22);

    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned();
    let ours: Vec<&str> = logs.lines().filter(|l| l.contains(&id)).collect();
    assert!(
        ours.iter()
            .any(|l| l.contains("path=/pay/{token}") && l.contains("status=200")),
        "no access line for {id} in the logs: {ours:?}"
    );
    assert!(!logs.contains(&token), "a payment-link token was logged");
    assert!(!logs.contains("two words"));
}

// ---------------------------------------------------------------- shared rate limits

#[tokio::test]
async fn miss_and_sign_in_limits_are_counted_in_the_database_across_apps() {
    let t = TestApp::new().await;
    // A second server process on the same database file: its own pools,
    // its own in-memory limiters.
    let other = App::open((*t.app.config).clone()).await.unwrap();
    let limits = RateLimits {
        misses_per_client_per_minute: 6,
        misses_total_per_minute: 10_000,
        hits_per_token_per_minute: 10_000,
    };
    let (one, two) = (PayLimits::new(limits), PayLimits::new(limits));
    let ip: IpAddr = [192, 0, 2, 77].into();
    let mut allowed = 0;
    for i in 0..10 {
        let ok = if i % 2 == 0 {
            one.check_miss(&t.app.db, ip).await
        } else {
            two.check_miss(&other.db, ip).await
        };
        allowed += usize::from(ok);
    }
    assert_eq!(
        allowed, 6,
        "six a minute per address, whichever process asks"
    );
    let counted: i64 = fieldpay::store::sql::query_scalar(
        "SELECT hits FROM rate_limits WHERE scope = 'pay_miss_client' AND key = $1",
    )
    .bind(ip.to_string())
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(counted, 10);

    let (a, b) = (LoginLimits::office(), LoginLimits::office());
    let mut allowed = 0;
    for i in 0..8u8 {
        let from: IpAddr = [198, 51, 100, i].into();
        let ok = if i % 2 == 0 {
            a.check(&t.app.db, &t.owner_email, from).await
        } else {
            b.check(&other.db, &t.owner_email.to_uppercase(), from)
                .await
        };
        allowed += usize::from(ok);
    }
    assert_eq!(allowed, 5, "five sign-in attempts a minute per account");
    // The table holds no email address.
    let keys: Vec<String> = fieldpay::store::sql::query_scalar("SELECT key FROM rate_limits")
        .fetch_all(t.app.db.reader())
        .await
        .unwrap();
    assert!(keys.iter().all(|k| !k.contains('@')), "{keys:?}");
    other.db.close().await;
}

/// The same through HTTP: two servers (routers) on one database file share
/// the per-address limit on unknown payment links. Needs the call sites in
/// src/web/pay.rs to await `check_miss` (see the ops report).
#[tokio::test]
async fn two_servers_on_one_database_share_the_miss_limit() {
    let t = TestApp::with_limits(RateLimits {
        misses_per_client_per_minute: 4,
        misses_total_per_minute: 10_000,
        hits_per_token_per_minute: 10_000,
    })
    .await;
    let second = fieldpay::web::router(App::open((*t.app.config).clone()).await.unwrap());
    let ip = [192, 0, 2, 78];
    let mut statuses = Vec::new();
    for i in 0..6 {
        let path = format!("/pay/{}", fieldpay::crypto::random_token(32));
        let status = if i % 2 == 0 {
            t.get_from(&path, ip).await.status
        } else {
            use tower::ServiceExt;
            let mut req = axum::http::Request::builder()
                .uri(&path)
                .body(axum::body::Body::empty())
                .unwrap();
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                    ip, 40000,
                ))));
            second.clone().oneshot(req).await.unwrap().status()
        };
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [404, 404, 404, 404, 429, 429]);
}

// ---------------------------------------------------------------- shutdown

fn fixed_render<'a>(_: &'a App, _: &'a OutboxRow) -> BoxFuture<'a, Result<Rendered, String>> {
    Box::pin(async move {
        Ok(Rendered {
            attachments: Vec::new(),
            subject: "Invoice ready".into(),
            html: None,
            text: "Your invoice is ready.".into(),
        })
    })
}

/// A render that never finishes: the process is stopped mid-send.
fn stuck_render<'a>(_: &'a App, _: &'a OutboxRow) -> BoxFuture<'a, Result<Rendered, String>> {
    Box::pin(std::future::pending())
}

async fn company_and_customer(t: &TestApp) -> (fieldpay::domain::ids::CompanyId, String) {
    let company = t.company_id().await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Sam Shutdown", "email": "sam@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    (company, r.json()["id"].as_str().unwrap().to_string())
}

async fn queue(
    t: &TestApp,
    company: &fieldpay::domain::ids::CompanyId,
    customer: &str,
    cause: &str,
) -> MessageId {
    let m = NewMessage {
        company_id: company.clone(),
        customer_id: customer.into(),
        invoice_id: None,
        channel: Channel::Email,
        recipient: "sam@example.com".into(),
        template_id: "tpl_test".into(),
        cause: cause.into(),
    };
    let mut tx = t.app.db.begin_write().await.unwrap();
    let e = outbox::enqueue(&mut tx, &m, t.app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let Enqueued::Queued { id } = e else {
        panic!("{e:?}")
    };
    id
}

async fn status_of(t: &TestApp, id: &str) -> (String, bool) {
    let (status, claimed): (String, Option<time::OffsetDateTime>) =
        fieldpay::store::sql::query_as("SELECT status, claimed_until FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    (status, claimed.is_some())
}

/// Delivery cut short mid-send, as a shutdown past its grace period does:
/// the claims stay (status `sending`) until released.
async fn cut_short_mid_send(t: &TestApp) {
    let cut = tokio::time::timeout(
        Duration::from_millis(300),
        fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), stuck_render),
    )
    .await;
    assert!(cut.is_err(), "delivery should still be stuck");
}

#[tokio::test]
async fn shutdown_gives_unsent_outbox_claims_back_to_the_queue() {
    let t = TestApp::new().await;
    let (company, customer) = company_and_customer(&t).await;
    let id = queue(&t, &company, &customer, "shutdown:1").await;
    cut_short_mid_send(&t).await;
    assert_eq!(status_of(&t, &id).await, ("sending".into(), true));
    // Another process could not take it for five minutes…
    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.sent, 0);

    // …but this one gives it back when it stops.
    assert_eq!(
        fieldpay::app::messages::release_claims(&t.app)
            .await
            .unwrap(),
        1
    );
    assert_eq!(status_of(&t, &id).await, ("queued".into(), false));
    // Once only: the claims are forgotten.
    assert_eq!(
        fieldpay::app::messages::release_claims(&t.app)
            .await
            .unwrap(),
        0
    );
    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.sent, 1);
    let (status, _) = status_of(&t, &id).await;
    assert_eq!(status, "sent");
}

#[tokio::test]
async fn releasing_leaves_sent_and_reclaimed_messages_alone() {
    let t = TestApp::new().await;
    let (company, customer) = company_and_customer(&t).await;
    let id = queue(&t, &company, &customer, "shutdown:2").await;
    let now = t.app.clock.now();
    let mut tx = t.app.db.begin_write().await.unwrap();
    let rows =
        fieldpay::store::messages::claim_batch(&mut tx, now, now + time::Duration::minutes(5), 10)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows.len(), 1);
    let stale = (id.clone(), now + time::Duration::minutes(1));
    let held = (id.clone(), rows[0].claimed_until.unwrap());
    let mut tx = t.app.db.begin_write().await.unwrap();
    // A claim that is not the row's current one (another worker's) stays.
    assert_eq!(
        fieldpay::store::health::release_outbox_claims(&mut tx, &[stale])
            .await
            .unwrap(),
        0
    );
    fieldpay::store::messages::mark_sent(&mut tx, &rows[0], "s", "b", "p", false, now)
        .await
        .unwrap();
    // A message sent meanwhile stays sent.
    assert_eq!(
        fieldpay::store::health::release_outbox_claims(&mut tx, &[held])
            .await
            .unwrap(),
        0
    );
    tx.commit().await.unwrap();
    assert_eq!(status_of(&t, &id).await, ("sent".into(), false));
}

#[tokio::test]
async fn the_jobs_loop_stops_when_asked_and_releases_its_claims() {
    let t = TestApp::new().await;
    let (company, customer) = company_and_customer(&t).await;
    let id = queue(&t, &company, &customer, "shutdown:3").await;
    cut_short_mid_send(&t).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    stop_tx.send(true).unwrap();
    let started = Instant::now();
    tokio::time::timeout(
        Duration::from_secs(10),
        fieldpay::jobs::run_until(t.app.clone(), stop_rx),
    )
    .await
    .expect("the loop stops at once when no job is running");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(status_of(&t, &id).await, ("queued".into(), false));

    // A run asked to stop before it starts does no work and says so.
    let (_keep, stopped) = tokio::sync::watch::channel(true);
    let report = fieldpay::jobs::run_once_until(&t.app, t.app.clock.now(), Some(&stopped))
        .await
        .unwrap();
    assert!(report.stopped_early);
    assert_eq!(status_of(&t, &id).await.0, "queued");
}

// ---------------------------------------------------------------- the process

/// Runs `fieldpay serve` as a real process with JSON logs; answers the
/// child and a channel of its log lines.
fn spawn_server(
    dir: &std::path::Path,
    extra: &[&str],
) -> (
    std::process::Child,
    std::sync::mpsc::Receiver<serde_json::Value>,
) {
    let mut child = crate::common::fieldpay_cmd(&format!("sqlite://{}/ops.db", dir.display()))
        .arg("serve")
        .args(extra)
        .env("FIELDPAY_BIND", "127.0.0.1:0")
        .env("FIELDPAY_SPOOL_DIR", dir.join("spool"))
        .env("FIELDPAY_LOG", "info")
        .env("FIELDPAY_LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let value = serde_json::from_str(&line).unwrap_or_else(|_| json!({"not_json": line}));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

/// The next log line that `want` accepts, within 30 seconds.
fn wait_for_line(
    rx: &std::sync::mpsc::Receiver<serde_json::Value>,
    seen: &mut Vec<serde_json::Value>,
    want: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if want(&line) {
                    return line;
                }
            }
            Err(_) => panic!("no such log line; saw {seen:#?}"),
        }
    }
}

/// A plain HTTP/1.1 GET; answers the whole response as text.
fn http_get(addr: &str, path: &str, request_id: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nx-request-id: {request_id}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A plain HTTP/1.1 GET with extra header lines; answers the status code.
fn http_status(addr: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {out}"))
}

fn sigterm_and_wait(child: &mut std::process::Child) -> std::process::ExitStatus {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the server did not stop within 30 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_no_jobs_runs_a_web_only_process_that_logs_json_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("fieldpay-ops-{}", new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();

    for (extra, jobs) in [(&["--no-jobs"][..], false), (&[][..], true)] {
        let (mut child, rx) = spawn_server(&dir, extra);
        let mut seen = Vec::new();
        let listening = wait_for_line(&rx, &mut seen, |l| l["message"] == "listening");
        let addr = listening["addr"].as_str().unwrap().to_string();

        let id = new_id("proc");
        let resp = http_get(&addr, "/readyz", &id);
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        assert!(
            resp.to_ascii_lowercase()
                .contains(&format!("x-request-id: {id}")),
            "{resp}"
        );
        let access = wait_for_line(&rx, &mut seen, |l| l["span"]["request_id"] == id.as_str());
        assert_eq!(access["span"]["path"], "/readyz");
        assert_eq!(access["status"], 200);
        assert_eq!(access["level"], "INFO");

        let status = sigterm_and_wait(&mut child);
        assert!(status.success(), "exit status {status:?}; logs {seen:#?}");
        seen.extend(rx.try_iter());
        let said = |m: &str| seen.iter().any(|l| l["message"] == m);
        assert!(said("stopped"), "{seen:#?}");
        assert_eq!(said("jobs stopped"), jobs, "{extra:?}: {seen:#?}");
        assert!(
            seen.iter().all(|l| l.get("not_json").is_none()),
            "every log line is JSON: {seen:#?}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `FIELDPAY_TRUSTED_PROXIES` through the real server: behind the listed
/// proxy (the test connects from 127.0.0.1, as a proxy on the same box
/// does), the client is the address the proxy appended to `X-Forwarded-For`,
/// and the per-address limit on unknown payment links counts each client
/// apart; without the setting the header is the client's own word and is
/// ignored, so all those "clients" share one budget. `/metrics` (loopback
/// clients that did not come through a proxy) tells the two apart as well.
#[test]
fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let miss = || format!("/pay/{}", fieldpay::crypto::random_token(32));
    let xff = |v: &'static str| [("X-Forwarded-For", v)];
    for trusted in [true, false] {
        let dir = std::env::temp_dir().join(format!("fieldpay-proxy-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let mut extra = vec!["--pay-rate-limit-misses", "3"];
        if trusted {
            extra.extend(["--trusted-proxies", "127.0.0.1"]);
        }
        let (mut child, rx) = spawn_server(&dir, &extra);
        let mut seen = Vec::new();
        let listening = wait_for_line(&rx, &mut seen, |l| l["message"] == "listening");
        let addr = listening["addr"].as_str().unwrap().to_string();
        let get = |path: &str, headers: &[(&str, &str)]| http_status(&addr, path, headers);

        // One client's budget: three misses, then 429.
        let first: Vec<u16> = (0..4).map(|_| get(&miss(), &xff("198.51.100.7"))).collect();
        assert_eq!(first, [404, 404, 404, 429], "trusted proxy: {trusted}");
        // Another address in the header.
        let other = get(&miss(), &xff("198.51.100.8"));
        // What a client wrote itself sits left of what the proxy appended.
        let spoofed = get(&miss(), &xff("203.0.113.9, 198.51.100.7"));
        // The proxy's own requests (no header).
        let direct = get(&miss(), &[]);
        let metrics = get("/metrics", &[]);
        if trusted {
            assert_eq!(other, 404, "another client has its own budget");
            assert_eq!(
                spoofed, 429,
                "the proxy-appended address counts, not the one the client wrote"
            );
            assert_eq!(direct, 404, "the proxy itself is one more client");
            assert_eq!(
                metrics, 404,
                "a request from the listed proxy came through it: no metrics"
            );
        } else {
            assert_eq!(other, 429, "the header is ignored: one client, one budget");
            assert_eq!(spoofed, 429);
            assert_eq!(direct, 429);
            assert_eq!(
                metrics, 200,
                "loopback, no proxy listed, no forwarding header"
            );
        }
        let status = sigterm_and_wait(&mut child);
        assert!(status.success(), "exit status {status:?}; logs {seen:#?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
