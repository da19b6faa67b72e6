//! The HTTP traffic of each phase: keep-alive GETs (`/healthz`, the pay
//! page), PDFs, the alerts job, and payments (token call and pay POST).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use fieldpay::app::App;
use fieldpay::crypto::Secret;
use fieldpay::store::alerts::Timing;

use crate::config::bench_config;
use crate::server::ServerUse;
use crate::{TIME_ZONE, alerts};

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build(connector)
}

pub(crate) fn get(uri: &Uri) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(Method::GET)
        .uri(uri.clone())
        .body(Full::new(Bytes::new()))?)
}

pub(crate) fn post_json(
    uri: &Uri,
    body: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(uri.clone())
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        b = b.header("idempotency-key", key);
    }
    Ok(b.body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?)
}

/// Sends a request and reads the whole body.
pub(crate) async fn send(
    client: &HttpClient,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let resp = client.request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

// ---------------------------------------------------------------- GET load

#[derive(Default)]
pub(crate) struct GetResult {
    pub(crate) elapsed: Duration,
    /// Latency of the 2xx answers.
    pub(crate) ok: Vec<Duration>,
    /// Latency of every answer, whatever its status.
    pub(crate) all: Vec<Duration>,
    pub(crate) statuses: BTreeMap<u16, u64>,
    pub(crate) transport_errors: u64,
}

/// `conns` workers, each on its own keep-alive connection, request after
/// request until `dur` has passed.
/// Connection `i` asks `urls[i % urls.len()]`: several servers share the load.
pub(crate) async fn get_load(
    urls: &[String],
    conns: usize,
    dur: Duration,
) -> anyhow::Result<GetResult> {
    let uris = urls
        .iter()
        .map(|u| u.parse::<Uri>())
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::with_capacity(conns);
    for i in 0..conns {
        let uri = uris[i % uris.len()].clone();
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut r = GetResult::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                match send(&client, get(&uri)?).await {
                    Ok((status, _)) => {
                        let lat = t.elapsed();
                        *r.statuses.entry(status.as_u16()).or_default() += 1;
                        if status.is_success() {
                            r.ok.push(lat);
                        }
                        r.all.push(lat);
                    }
                    Err(_) => r.transport_errors += 1,
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = GetResult::default();
    for task in tasks {
        let r = task.await??;
        total.ok.extend(r.ok);
        total.all.extend(r.all);
        for (s, n) in r.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        total.transport_errors += r.transport_errors;
    }
    total.elapsed = started.elapsed();
    total.ok.sort_unstable();
    total.all.sort_unstable();
    Ok(total)
}

// ---------------------------------------------------------------- PDFs

#[derive(Default)]
pub(crate) struct PdfResult {
    pub(crate) elapsed: Duration,
    /// Latency of the 200s that were PDFs.
    pub(crate) ok: Vec<Duration>,
    pub(crate) bytes: u64,
    pub(crate) statuses: BTreeMap<u16, u64>,
    pub(crate) transport_errors: u64,
    pub(crate) sample_error: Option<String>,
}

/// `conns` workers download invoice PDFs through the API, each a different
/// invoice (rendered on every request: there is no cache), until `dur`.
pub(crate) async fn pdf_load(
    base: &str,
    api_key: &str,
    invoices: &[String],
    conns: usize,
    dur: Duration,
) -> anyhow::Result<PdfResult> {
    if invoices.is_empty() {
        bail!("no invoices to download");
    }
    let uris: Arc<Vec<Uri>> = Arc::new(
        invoices
            .iter()
            .map(|id| format!("{base}/api/v1/invoices/{id}/pdf").parse())
            .collect::<Result<_, _>>()?,
    );
    let auth = format!("Bearer {api_key}");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (uris, next, auth) = (uris.clone(), next.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut r = PdfResult::default();
            while Instant::now() < deadline {
                let uri = &uris[next.fetch_add(1, Ordering::Relaxed) % uris.len()];
                let req = Request::builder()
                    .method(Method::GET)
                    .uri(uri.clone())
                    .header("authorization", &auth)
                    .body(Full::new(Bytes::new()))?;
                let t = Instant::now();
                match send(&client, req).await {
                    Ok((status, body)) => {
                        *r.statuses.entry(status.as_u16()).or_default() += 1;
                        if status == StatusCode::OK && body.starts_with(b"%PDF-") {
                            r.ok.push(t.elapsed());
                            r.bytes += body.len() as u64;
                        } else {
                            r.sample_error.get_or_insert_with(|| {
                                format!(
                                    "pdf {status}: {}",
                                    String::from_utf8_lossy(&body[..body.len().min(300)])
                                )
                            });
                        }
                    }
                    Err(_) => r.transport_errors += 1,
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = PdfResult::default();
    for task in tasks {
        let r = task.await??;
        total.ok.extend(r.ok);
        total.bytes += r.bytes;
        for (s, n) in r.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        total.transport_errors += r.transport_errors;
        if total.sample_error.is_none() {
            total.sample_error = r.sample_error;
        }
    }
    total.elapsed = started.elapsed();
    total.ok.sort_unstable();
    Ok(total)
}

// ---------------------------------------------------------------- alerts

pub(crate) struct Queued {
    pub(crate) report: fieldpay::app::alerts::AlertReport,
    pub(crate) took: Duration,
    pub(crate) rules: usize,
    pub(crate) now: time::OffsetDateTime,
}

/// Three alert rules a company would have (3 days after due by email and
/// SMS, 3 days before due and at issue by email), then one timed
/// `alerts::queue_due` over the seeded invoices, as the jobs loop runs it.
pub(crate) async fn queue_alerts(
    dir: &Path,
    db_url: &str,
    secret: &Secret,
    company_id: &fieldpay::domain::ids::CompanyId,
) -> anyhow::Result<Queued> {
    let app = App::open(bench_config(db_url.to_string(), dir, secret.clone())?).await?;
    let rules = [
        (Timing::AfterDue, 3, true),
        (Timing::BeforeDue, 3, false),
        (Timing::AtCreation, 0, false),
    ];
    for (timing, days, sms) in rules {
        alerts::add_rule(&app.db, company_id, timing, days, sms).await?;
    }
    let now = alerts::alert_instant(TIME_ZONE)?;
    let (report, took) = alerts::timed_queue_due(&app, now).await?;
    app.db.close().await;
    Ok(Queued {
        report,
        took,
        rules: rules.len(),
        now,
    })
}

// ---------------------------------------------------------------- payments

#[derive(Default)]
pub(crate) struct PayResult {
    pub(crate) elapsed: Duration,
    /// When the queue ran out, if it did.
    pub(crate) queue_empty_at: Option<Duration>,
    pub(crate) committed: u64,
    /// Latency of the token POST (200s).
    pub(crate) token_lat: Vec<Duration>,
    /// Latency of the pay POST (201s).
    pub(crate) pay_lat: Vec<Duration>,
    /// Token POST plus pay POST, for loops that committed.
    pub(crate) loop_lat: Vec<Duration>,
    /// Time spent in pay POSTs, whatever their answer.
    pub(crate) pay_busy: Duration,
    /// The (one) server's use at the start and end of the phase.
    pub(crate) server_use: Option<(ServerUse, ServerUse)>,
    pub(crate) token_statuses: BTreeMap<u16, u64>,
    pub(crate) pay_statuses: BTreeMap<u16, u64>,
    pub(crate) transport_errors: u64,
    pub(crate) sample_error: Option<String>,
}

/// Client `w` pays through `bases[w % bases.len()]`.
pub(crate) async fn pay_load(
    bases: &[String],
    queue: Vec<(String, String)>,
    clients: usize,
    dur: Duration,
) -> anyhow::Result<PayResult> {
    let queue = Arc::new(queue);
    let next = Arc::new(AtomicUsize::new(0));
    let card = serde_json::json!({
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"
    });
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let base = bases[worker % bases.len()].clone();
        let token_uri: Uri = format!("{base}/sandbox/v1/tokens").parse()?;
        let (queue, next, card) = (queue.clone(), next.clone(), card.clone());
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut r = PayResult::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let Some((link, invoice)) = queue.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    r.queue_empty_at = Some(started.elapsed());
                    break;
                };
                n += 1;
                let loop_start = Instant::now();
                let tok = match send(&client, post_json(&token_uri, &card, None)?).await {
                    Ok((status, body)) => {
                        *r.token_statuses.entry(status.as_u16()).or_default() += 1;
                        if status != StatusCode::OK {
                            r.sample_error.get_or_insert_with(|| {
                                format!("token {status}: {}", String::from_utf8_lossy(&body))
                            });
                            continue;
                        }
                        r.token_lat.push(loop_start.elapsed());
                        let v: serde_json::Value = serde_json::from_slice(&body)?;
                        v["id"].as_str().unwrap_or_default().to_string()
                    }
                    Err(_) => {
                        r.transport_errors += 1;
                        continue;
                    }
                };
                let uri: Uri = format!("{base}/api/v1/pay/{link}/payments").parse()?;
                let body = serde_json::json!({ "invoice_ids": [invoice], "payment_method": tok });
                let key = format!("bench-{worker}-{n}");
                let t = Instant::now();
                let answer = send(&client, post_json(&uri, &body, Some(&key))?).await;
                r.pay_busy += t.elapsed();
                match answer {
                    Ok((status, body)) => {
                        *r.pay_statuses.entry(status.as_u16()).or_default() += 1;
                        if status == StatusCode::CREATED {
                            r.pay_lat.push(t.elapsed());
                            r.loop_lat.push(loop_start.elapsed());
                            r.committed += 1;
                        } else {
                            r.sample_error.get_or_insert_with(|| {
                                format!("pay {status}: {}", String::from_utf8_lossy(&body))
                            });
                        }
                    }
                    Err(_) => r.transport_errors += 1,
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = PayResult::default();
    for task in tasks {
        let r = task.await??;
        total.committed += r.committed;
        total.token_lat.extend(r.token_lat);
        total.pay_lat.extend(r.pay_lat);
        total.loop_lat.extend(r.loop_lat);
        total.pay_busy += r.pay_busy;
        for (s, n) in r.token_statuses {
            *total.token_statuses.entry(s).or_default() += n;
        }
        for (s, n) in r.pay_statuses {
            *total.pay_statuses.entry(s).or_default() += n;
        }
        total.transport_errors += r.transport_errors;
        total.queue_empty_at = match (total.queue_empty_at, r.queue_empty_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if total.sample_error.is_none() {
            total.sample_error = r.sample_error;
        }
    }
    total.elapsed = started.elapsed();
    total.token_lat.sort_unstable();
    total.pay_lat.sort_unstable();
    total.loop_lat.sort_unstable();
    Ok(total)
}
