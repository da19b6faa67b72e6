//! Sending webhooks, run by the jobs (`deliver_due`) and, for a test event
//! or a retry asked for by a person, at once (`deliver_one`).
//!
//! Due deliveries are claimed in one transaction (`store::webhooks::claim_due`:
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL; on both databases a claimed row
//! is due again only when its claim runs out), so several processes on one
//! database send each delivery once; a process killed mid-send leaves its
//! deliveries to another once the claim (5 minutes) has run out.
//!
//! Each claimed batch is grouped by endpoint: endpoints are sent to at the
//! same time, so a receiver that never answers (cut at 10 s) holds up only
//! its own deliveries, and within one endpoint they go in order, one at a
//! time. When an endpoint does not answer at all, the rest of its batch is
//! given back untried, due with the failed one's next try. Every try is
//! recorded in a transaction of its own as soon as it is known.
//!
//! Retries: after a failed try the delivery is due again after 1 min,
//! 5 min, 30 min, 2 h, 8 h and 24 h (`RETRY_DELAYS`): 7 tries over about
//! 34.6 hours, then it is abandoned. An endpoint whose tries have all failed
//! for 3 days (`DISABLE_AFTER`, no 2xx since the first failure) is turned
//! off, what it still had to receive is abandoned, and its company's owners
//! are emailed (`crate::app::office_emails`).

use std::collections::HashMap;
use std::time::Instant;

use time::{Duration, OffsetDateTime};

use crate::app::App;
use crate::app::office_emails::{self, OfficeEmailReport};
use crate::domain::ids::{CompanyId, WebhookDeliveryId, WebhookEndpointId};
use crate::domain::webhooks::{
    RETRY_DELAYS, delivered, retry_delay, secret_key, should_disable, signature,
};
use crate::messaging::webhook::{Answer, WebhookRequest};
use crate::store::webhooks::{self as store, Claimed, Try};
use crate::store::{Conn, StoreResult, audit};

/// How long a worker owns a claimed delivery before another may take it.
pub const CLAIM: Duration = Duration::minutes(5);
/// Deliveries claimed together.
pub const BATCH: usize = 50;
/// Deliveries one run handles at most.
pub const MAX_PER_RUN: usize = 1000;
/// Time one endpoint may take of a batch; the rest of its deliveries wait
/// for the next batch, well inside their claim.
const ENDPOINT_BUDGET: std::time::Duration = std::time::Duration::from_secs(120);
/// Characters of a receiver's answer kept in the log.
const EXCERPT_CHARS: usize = 200;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookReport {
    /// Tries answered with a 2xx.
    pub delivered: usize,
    /// Failed tries with another try scheduled.
    pub retrying: usize,
    /// Deliveries given up: out of tries, or their endpoint turned off.
    pub abandoned: usize,
    /// Endpoints turned off after days of failures.
    pub endpoints_disabled: usize,
    /// Emails to owners about them queued.
    pub owner_emails_queued: usize,
    /// Emails to owners sent (`crate::app::office_emails`).
    pub owner_emails: OfficeEmailReport,
}

impl WebhookReport {
    fn add(&mut self, o: WebhookReport) {
        self.delivered += o.delivered;
        self.retrying += o.retrying;
        self.abandoned += o.abandoned;
        self.endpoints_disabled += o.endpoints_disabled;
        self.owner_emails_queued += o.owner_emails_queued;
    }

    /// Nothing happened.
    pub fn is_quiet(&self) -> bool {
        *self == WebhookReport::default()
    }
}

/// Sends the deliveries due at `now`, then the owners' emails.
pub async fn run_due(app: &App, now: OffsetDateTime) -> anyhow::Result<WebhookReport> {
    let mut report = deliver_due(app, now).await?;
    report.owner_emails = office_emails::deliver_due(app, now).await?;
    Ok(report)
}

/// Sends the deliveries due at `now`, any company's.
pub async fn deliver_due(app: &App, now: OffsetDateTime) -> StoreResult<WebhookReport> {
    let mut report = WebhookReport::default();
    let mut handled = 0;
    while handled < MAX_PER_RUN {
        // From the clock when it is later than the run's `now`: what this
        // run's other jobs wrote meanwhile (an autopay failure) is due, and
        // a run that spent minutes on them must not claim what is expired
        // already.
        let due = now.max(app.clock.now());
        let until = due + CLAIM;
        let claimed = {
            let mut tx = app.db.begin_write().await?;
            let rows =
                store::claim_due(&mut tx, due, until, BATCH.min(MAX_PER_RUN - handled)).await?;
            tx.commit().await?;
            rows
        };
        if claimed.is_empty() {
            break;
        }
        handled += claimed.len();
        let mut groups: Vec<Vec<Claimed>> = Vec::new();
        let mut index: HashMap<WebhookEndpointId, usize> = HashMap::new();
        for d in claimed {
            let i = *index.entry(d.endpoint_id.clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[i].push(d);
        }
        let done =
            futures_util::future::join_all(groups.into_iter().map(|g| deliver_group(app, g, now)))
                .await;
        for r in done {
            report.add(r?);
        }
    }
    Ok(report)
}

/// Claims one delivery of the company and sends it now, unless another
/// worker holds it or it is not due for sending (delivered, abandoned).
pub async fn deliver_one(
    app: &App,
    company_id: &CompanyId,
    delivery_id: &WebhookDeliveryId,
    now: OffsetDateTime,
) -> StoreResult<WebhookReport> {
    let claimed = {
        let mut tx = app.db.begin_write().await?;
        let d = store::claim_one(&mut tx, company_id, delivery_id, now, now + CLAIM).await?;
        tx.commit().await?;
        d
    };
    match claimed {
        Some(d) => deliver_group(app, vec![d], now).await,
        None => Ok(WebhookReport::default()),
    }
}

/// Sends one endpoint's claimed deliveries in order.
async fn deliver_group(
    app: &App,
    group: Vec<Claimed>,
    now: OffsetDateTime,
) -> StoreResult<WebhookReport> {
    let mut report = WebhookReport::default();
    let started = Instant::now();
    // Set once the endpoint gave no answer: when the rest is due again.
    let mut silent_until: Option<OffsetDateTime> = None;
    for d in group {
        if d.endpoint_disabled {
            let mut tx = app.db.begin_write().await?;
            store::abandon(&mut tx, &d, "the endpoint is turned off").await?;
            tx.commit().await?;
            report.abandoned += 1;
            continue;
        }
        if let Some(at) = silent_until {
            let mut tx = app.db.begin_write().await?;
            store::release(&mut tx, &d, at).await?;
            tx.commit().await?;
            continue;
        }
        if started.elapsed() > ENDPOINT_BUDGET {
            let mut tx = app.db.begin_write().await?;
            store::release(&mut tx, &d, now).await?;
            tx.commit().await?;
            continue;
        }
        let tried = attempt(app, &d, now).await;
        let next = record(app, &d, &tried, &mut report).await?;
        if matches!(tried.answer, Answer::NoAnswer(_)) {
            silent_until = Some(next.unwrap_or(tried.at + RETRY_DELAYS[0]));
        }
    }
    Ok(report)
}

/// One try: what came back, when, and how long it took.
struct Tried {
    at: OffsetDateTime,
    answer: Answer,
    duration_ms: i64,
}

async fn attempt(app: &App, d: &Claimed, now: OffsetDateTime) -> Tried {
    let at = now.max(app.clock.now());
    let key = app
        .config
        .processor_keys()
        .open(&d.company_id, &d.secret_sealed)
        .and_then(|s| secret_key(&s));
    let Some(key) = key else {
        return Tried {
            at,
            answer: Answer::NoAnswer(
                "not sent: the endpoint's signing secret cannot be opened (was FIELDPAY_SECRET_KEY changed?)"
                    .into(),
            ),
            duration_ms: 0,
        };
    };
    let timestamp = at.unix_timestamp();
    let req = WebhookRequest {
        url: d.url.clone(),
        id: d.event_id.to_string(),
        timestamp,
        signature: signature(&key, &d.event_id, timestamp, &d.payload),
        body: d.payload.clone(),
        allow_private: app.config.webhooks_allow_private,
    };
    let started = Instant::now();
    let answer = app.webhooks.send(&req).await;
    Tried {
        at,
        answer,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    }
}

/// A receiver's answer that is not a 2xx, in words.
fn describe_status(status: u16, excerpt: &str) -> String {
    let mut words = format!("HTTP {status}");
    if (300..400).contains(&status) {
        words.push_str(" (redirects are not followed)");
    }
    let text: String = excerpt
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    let text = text.trim();
    if !text.is_empty() {
        words.push_str(": ");
        words.push_str(text);
    }
    words
}

/// Records a try and what follows from it; answers when the delivery is
/// due again, if it is.
async fn record(
    app: &App,
    d: &Claimed,
    tried: &Tried,
    report: &mut WebhookReport,
) -> StoreResult<Option<OffsetDateTime>> {
    let (ok, status, error) = match &tried.answer {
        Answer::Status { status, .. } if delivered(*status) => (true, Some(*status), None),
        Answer::Status { status, excerpt } => (
            false,
            Some(*status),
            Some(describe_status(*status, excerpt)),
        ),
        Answer::NoAnswer(why) => (false, None, Some(why.clone())),
    };
    let (state, next) = if ok {
        ("succeeded", None)
    } else {
        match retry_delay(d.attempts + 1) {
            Some(delay) => ("failed", Some(tried.at + delay)),
            None => ("abandoned", None),
        }
    };
    let mut tx = app.db.begin_write().await?;
    store::record_try(
        &mut tx,
        d,
        &Try {
            at: tried.at,
            response_status: status.map(i64::from),
            duration_ms: tried.duration_ms,
            error: error.as_deref(),
            status: state,
            next_attempt_at: next,
        },
    )
    .await?;
    match state {
        "succeeded" => report.delivered += 1,
        "failed" => report.retrying += 1,
        _ => report.abandoned += 1,
    }
    if ok {
        store::endpoint_works(&mut tx, &d.endpoint_id).await?;
    } else if let Some(since) = store::endpoint_fails(&mut tx, &d.endpoint_id, tried.at).await?
        && should_disable(since, tried.at)
    {
        let last = error.as_deref().unwrap_or("no answer");
        turn_off(app, &mut tx, d, since, tried.at, last, report).await?;
    }
    tx.commit().await?;
    Ok(next)
}

/// Turns off an endpoint that has failed since `since`, in the transaction
/// of the try that found it, and queues the email to the company's owners.
async fn turn_off(
    app: &App,
    tx: &mut Conn,
    d: &Claimed,
    since: OffsetDateTime,
    at: OffsetDateTime,
    last_error: &str,
    report: &mut WebhookReport,
) -> StoreResult<()> {
    let days = (at - since).whole_days();
    let reason = format!(
        "Turned off after {days} days in which every delivery failed (last: {last_error})."
    );
    if !store::disable_endpoint(tx, &d.company_id, &d.endpoint_id, at, &reason).await? {
        return Ok(());
    }
    report.endpoints_disabled += 1;
    audit::record(
        tx,
        &d.company_id,
        "webhooks",
        "webhook_endpoint.disabled",
        &d.endpoint_id,
        serde_json::json!({"url": d.url, "failing_since": since.unix_timestamp(), "last_error": last_error}),
    )
    .await?;
    let company = crate::store::companies::get(&app.db, &d.company_id).await?;
    let base = app.base_url(company.as_ref().and_then(|c| c.base_url.as_deref()));
    let name = company.as_ref().map(|c| c.name.as_str()).unwrap_or("");
    let subject = "A webhook endpoint was turned off".to_string();
    let body = format!(
        "Hello,\n\n\
         fieldpay stopped sending events to the webhook endpoint\n\n    {url}\n\n\
         of {name}: every delivery to it has failed for {days} days.\n\
         The last try got: {last_error}\n\n\
         Events that happen while it is off are not sent to it. Once the receiver works \
         again, turn the endpoint on under Settings › Developers and retry the deliveries \
         it missed:\n\n    {base}/office/settings/developers\n\n\
         fieldpay\n",
        url = d.url,
    );
    let cause = format!("webhook_disabled:{}:{}", d.endpoint_id, at.unix_timestamp());
    report.owner_emails_queued +=
        office_emails::queue_to_owners(tx, &d.company_id, &subject, &body, &cause, at).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_described_in_one_line() {
        assert_eq!(describe_status(500, ""), "HTTP 500");
        assert_eq!(
            describe_status(302, ""),
            "HTTP 302 (redirects are not followed)"
        );
        assert_eq!(
            describe_status(400, "bad\nsignature\r\n"),
            "HTTP 400: bad signature"
        );
        assert_eq!(
            describe_status(503, &"x".repeat(1000)).len(),
            "HTTP 503: ".len() + EXCERPT_CHARS
        );
    }
}
