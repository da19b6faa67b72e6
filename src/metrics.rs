//! Prometheus metrics of this process, rendered as text at `GET /metrics`
//! (see `crate::web`): requests by route template and status with latency
//! histograms, payments by processor and outcome, messages by channel and
//! outcome, and job runs with their durations.
//!
//! One registry per process: the counters are process-wide like the process
//! they describe. Labels hold only route templates (`/pay/{token}`, never a
//! path with a token in it), processor names, channels and fixed words, so
//! their number stays small and no secret reaches the scrape.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::processor::{ChargeOutcome, ProcessorError};

type Labels2 = [(&'static str, String); 2];
type Labels3 = [(&'static str, String); 3];
type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

struct Metrics {
    registry: Registry,
    requests: Family<Labels3, Counter>,
    request_seconds: Histograms<Labels2>,
    payments: Family<Labels2, Counter>,
    messages: Family<Labels2, Counter>,
    job_runs: Family<Labels2, Counter>,
    job_seconds: Histograms<[(&'static str, String); 1]>,
}

/// Seconds, from 1 ms to 10 s: a page answers in milliseconds, a job run
/// that sends hundreds of messages takes seconds.
const SECONDS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn seconds_histogram() -> Histogram {
    Histogram::new(SECONDS)
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let mut registry = Registry::with_prefix("fieldpay");
        let requests = Family::<Labels3, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        let request_seconds: Histograms<Labels2> = Family::new_with_constructor(seconds_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            request_seconds.clone(),
        );
        let payments = Family::<Labels2, Counter>::default();
        registry.register(
            "payments",
            "Charges sent to a processor, by processor and outcome (succeeded, declined, failed)",
            payments.clone(),
        );
        let messages = Family::<Labels2, Counter>::default();
        registry.register(
            "messages",
            "Outbox deliveries by channel and outcome (sent, failed, withdrawn)",
            messages.clone(),
        );
        let job_runs = Family::<Labels2, Counter>::default();
        registry.register(
            "job_runs",
            "Scheduled job runs by job and result (ok, error, cancelled)",
            job_runs.clone(),
        );
        let job_seconds: Histograms<[(&'static str, String); 1]> =
            Family::new_with_constructor(seconds_histogram);
        registry.register(
            "job_duration_seconds",
            "Time one scheduled job took, by job",
            job_seconds.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            payments,
            messages,
            job_runs,
            job_seconds,
        }
    })
}

/// The route label of a request: the matched template, or `unmatched` for
/// paths no route serves (a guessed link, a scanner's probe), so neither a
/// token nor an attacker's choice of paths becomes a label.
pub fn route_label(matched: Option<&str>) -> &str {
    matched.unwrap_or("unmatched")
}

/// Counts an answered request.
pub fn request(method: &str, route: &str, status: u16, took: Duration) {
    let m = metrics();
    m.requests
        .get_or_create(&[
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ])
        .inc();
    m.request_seconds
        .get_or_create(&[("method", method.to_string()), ("route", route.to_string())])
        .observe(took.as_secs_f64());
}

/// The outcome word of a charge: `succeeded`, `declined` (the bank or the
/// processor refused the card), `failed` (the processor could not be
/// reached: the outcome is unknown until reconciliation), or `None` while
/// the bank still asks the customer to authenticate.
pub fn payment_outcome(outcome: &Result<ChargeOutcome, ProcessorError>) -> Option<&'static str> {
    match outcome {
        Ok(ChargeOutcome::Succeeded(_)) => Some("succeeded"),
        Ok(ChargeOutcome::Declined(_)) | Err(ProcessorError::InvalidSource(_)) => Some("declined"),
        Err(ProcessorError::Unavailable(_)) => Some("failed"),
        Ok(ChargeOutcome::RequiresAction { .. }) => None,
    }
}

/// Counts a charge's answer from the processor named `processor`.
pub fn payment(processor: &str, outcome: &Result<ChargeOutcome, ProcessorError>) {
    if let Some(word) = payment_outcome(outcome) {
        metrics()
            .payments
            .get_or_create(&[
                ("processor", processor.to_string()),
                ("outcome", word.to_string()),
            ])
            .inc();
    }
}

/// Counts outbox delivery attempts by channel: `sent`, or `failed` (an
/// attempt that did not deliver; it may be retried), `sent[i]` telling
/// which for `rows[i]`.
pub fn deliveries(
    rows: &[crate::store::messages::OutboxRow],
    sent: impl IntoIterator<Item = bool>,
) {
    for (row, sent) in rows.iter().zip(sent) {
        message(&row.channel, if sent { "sent" } else { "failed" });
    }
}

/// Counts messages ended unsent when claimed (opted out, invoice closed).
pub fn withdrawn<'a>(channels: impl IntoIterator<Item = &'a str>) {
    for channel in channels {
        message(channel, "withdrawn");
    }
}

fn message(channel: &str, outcome: &'static str) {
    metrics()
        .messages
        .get_or_create(&[
            ("channel", channel.to_string()),
            ("outcome", outcome.to_string()),
        ])
        .inc();
}

/// Counts one run of a scheduled job and how long it took; `result` is
/// `ok`, `error` or `cancelled` (cut short by shutdown).
pub fn job(job: &'static str, result: &'static str, took: Duration) {
    let m = metrics();
    m.job_runs
        .get_or_create(&[("job", job.to_string()), ("result", result.to_string())])
        .inc();
    m.job_seconds
        .get_or_create(&[("job", job.to_string())])
        .observe(took.as_secs_f64());
}

/// The exposition in the OpenMetrics text format (which Prometheus reads).
pub fn render() -> String {
    let mut out = String::new();
    if encode(&mut out, &metrics().registry).is_err() {
        out.clear();
    }
    out
}

/// The content type of `render()`'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Who may read `/metrics`: with a token configured, a request that carries
/// it as `Authorization: Bearer <token>` (from anywhere); without one, only
/// a client on loopback that did not come through a proxy (a proxy on the
/// same box connects from loopback too, but adds forwarding headers).
pub fn may_read(
    token: Option<&str>,
    authorization: Option<&str>,
    client_is_loopback: bool,
    forwarded: bool,
) -> bool {
    match token {
        Some(expected) => authorization
            .and_then(crate::auth::bearer_token)
            .is_some_and(|given| crate::crypto::same_secret(given.trim(), expected)),
        None => client_is_loopback && !forwarded,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_render_under_their_route_template() {
        request("GET", "/pay/{token}", 200, Duration::from_millis(3));
        let text = render();
        assert!(
            text.contains(
                r#"fieldpay_http_requests_total{method="GET",route="/pay/{token}",status="200"}"#
            ),
            "{text}"
        );
        assert!(text.contains("fieldpay_http_request_duration_seconds_bucket"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn payment_outcomes() {
        use crate::processor::Decline;
        assert_eq!(
            payment_outcome(&Ok(ChargeOutcome::Declined(Decline::new("card_declined")))),
            Some("declined")
        );
        assert_eq!(
            payment_outcome(&Err(ProcessorError::Unavailable("timeout".into()))),
            Some("failed")
        );
        assert_eq!(
            payment_outcome(&Err(ProcessorError::InvalidSource("used".into()))),
            Some("declined")
        );
        assert_eq!(
            payment_outcome(&Ok(ChargeOutcome::RequiresAction {
                charge_id: "ch".into(),
                client_secret: "s".into()
            })),
            None
        );
    }

    #[test]
    fn who_may_read_the_metrics() {
        // No token: loopback only, and not through a proxy.
        assert!(may_read(None, None, true, false));
        assert!(!may_read(None, None, false, false));
        assert!(!may_read(None, None, true, true));
        assert!(!may_read(None, Some("Bearer x"), false, false));
        // A token: whoever carries it, from anywhere; loopback alone is not enough.
        assert!(may_read(Some("s3cret"), Some("Bearer s3cret"), false, true));
        assert!(!may_read(Some("s3cret"), Some("Bearer wrong"), true, false));
        assert!(!may_read(Some("s3cret"), None, true, false));
        assert!(!may_read(Some("s3cret"), Some("s3cret"), true, false));
    }
}
