//! Scheduled work: reconciliation of payment attempts and refunds left
//! pending, Stripe events not applied yet, autopay
//! charges (with their notices and card reminders), queueing of invoice
//! alerts, delivery of the outbox, and of outbound webhooks.
//!
//! `serve` runs `run_until` beside the web server. On shutdown the loop
//! stops between units of work: a job already running may finish within
//! `SHUTDOWN_GRACE`, else it is cut short like a crash would (its payment
//! attempts are settled by reconciliation later) and the outbox messages
//! this process claimed but did not send go back to the queue at once
//! (`release_claims`) instead of waiting for their claims to expire.

use std::future::Future;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::app::App;
use crate::app::payments;
use crate::messaging::outbox;

/// How long an attempt may stay pending before reconciliation asks the processor.
pub const RECONCILE_GRACE: time::Duration = time::Duration::minutes(2);

/// How long a job already running may go on once shutdown began.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// How often the loop runs the jobs.
pub const EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, Default, serde::Serialize)]
pub struct RunReport {
    pub reconciled: payments::ReconcileReport,
    /// Pending refunds sent again or asked about.
    pub refunds: crate::app::refunds::RefundReport,
    /// Stripe webhook events recorded but never processed, processed now.
    pub webhook_events: usize,
    pub autopay: crate::app::autopay::AutopayReport,
    pub alerts: crate::app::alerts::AlertReport,
    pub delivered: outbox::DeliveryReport,
    /// Outbound webhooks sent, retried, given up; endpoints turned off.
    pub webhooks: crate::app::webhook_delivery::WebhookReport,
    /// Shutdown stopped the run before every job ran.
    pub stopped_early: bool,
}

impl RunReport {
    /// What the run did, a line per job, in words an operator reads.
    pub fn lines(&self) -> Vec<String> {
        let r = &self.reconciled;
        let f = &self.refunds;
        let a = &self.autopay;
        let m = &self.delivered;
        let mut out = vec![
            format!(
                "Payments waiting for the processor: {} recorded, {} declined, {} found never charged, {} still waiting",
                r.applied, r.declined, r.abandoned, r.still_pending
            ),
            format!(
                "Refunds at the processor: {} made, {} failed, {} still pending",
                f.succeeded, f.failed, f.still_pending
            ),
            format!("Stripe events processed late: {}", self.webhook_events),
            format!(
                "Autopay: {} charged, {} declined, {} already charged, {} left out, {} awaiting the processor; {} notices and {} card reminders queued",
                a.charged, a.declined, a.already, a.skipped, a.pending, a.notices, a.reminders
            ),
            format!(
                "Invoice alerts: {} queued ({} already queued before, {} not sendable)",
                self.alerts.queued, self.alerts.duplicates, self.alerts.not_sendable
            ),
            format!(
                "Messages: {} sent, {} to retry, {} failed, {} withdrawn",
                m.sent, m.retried, m.failed, m.withdrawn
            ),
            format!(
                "Webhooks: {} delivered, {} to retry, {} given up; {} endpoints turned off, {} owner emails sent",
                self.webhooks.delivered,
                self.webhooks.retrying,
                self.webhooks.abandoned,
                self.webhooks.endpoints_disabled,
                self.webhooks.owner_emails.sent
            ),
        ];
        if self.stopped_early {
            out.push("Stopped early for shutdown: the rest is left for the next run".into());
        }
        out
    }
}

/// Runs every job that is due at `now`.
pub async fn run_once(app: &App, now: OffsetDateTime) -> anyhow::Result<RunReport> {
    run_once_until(app, now, None).await
}

/// Whether shutdown has begun.
fn stopping(stop: Option<&watch::Receiver<bool>>) -> bool {
    stop.is_some_and(|s| *s.borrow())
}

/// Runs one job as a unit of work, counted in the metrics: not started when
/// shutdown has begun (`None`), and cut short (`None`) when it is still
/// running `SHUTDOWN_GRACE` after shutdown began.
async fn unit<T, E>(
    job: &'static str,
    stop: Option<&watch::Receiver<bool>>,
    work: impl Future<Output = Result<T, E>>,
) -> Option<Result<T, E>> {
    if stopping(stop) {
        return None;
    }
    let started = Instant::now();
    let overdue = async {
        match stop {
            Some(s) => {
                let mut s = s.clone();
                let _ = s.wait_for(|stopping| *stopping).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    let result = tokio::select! {
        done = work => Some(done),
        _ = overdue => None,
    };
    let word = match &result {
        Some(Ok(_)) => "ok",
        Some(Err(_)) => "error",
        None => "cancelled",
    };
    crate::metrics::job(job, word, started.elapsed());
    if result.is_none() {
        tracing::warn!(job, "job cut short by shutdown");
    }
    result
}

/// `run_once`, stopping between jobs once `stop` turns true.
pub async fn run_once_until(
    app: &App,
    now: OffsetDateTime,
    stop: Option<&watch::Receiver<bool>>,
) -> anyhow::Result<RunReport> {
    let mut report = RunReport::default();
    macro_rules! step {
        ($job:literal, $work:expr, $what:literal) => {
            match unit($job, stop, $work).await {
                Some(result) => result.map_err(|e| anyhow::anyhow!(concat!($what, ": {}"), e))?,
                None => {
                    report.stopped_early = true;
                    return Ok(report);
                }
            }
        };
    }
    report.reconciled = step!(
        "reconcile",
        async {
            payments::reconcile(app, now, RECONCILE_GRACE)
                .await
                .map_err(|e| format!("{e:?}"))
        },
        "reconciliation failed"
    );
    // Refunds recorded but not confirmed (a crash before the processor
    // was called, a processor that could not be reached, a refund the
    // processor has not finished): asked about, sent once if never made,
    // settled; the invoices they hold are freed or stay held.
    report.refunds = step!(
        "refunds",
        crate::app::refunds::reconcile(app, now),
        "refund reconciliation failed"
    );
    // Webhook events whose processing was cut short (crash, restart) or
    // that could not be applied yet (a refund of a payment recorded only
    // now) are applied now, through the same idempotent paths.
    report.webhook_events = step!(
        "stripe_events",
        crate::web::stripe_webhook::process_unprocessed(app, now),
        "processing stored Stripe events failed"
    );
    // After reconciliation (attempts left pending are settled first, so their
    // invoices are free or paid) and before alerts and delivery (its notices,
    // receipts and decline messages go out in this same run).
    report.autopay = step!(
        "autopay",
        crate::app::autopay::run_due(app, now),
        "autopay failed"
    );
    // Before delivery, so an alert queued now goes out in this same run.
    report.alerts = step!(
        "alerts",
        crate::app::alerts::queue_due(app, now),
        "queueing invoice alerts failed"
    );
    report.delivered = step!(
        "outbox",
        crate::app::messages::deliver_due(app, now, crate::app::messages::render_stored),
        "message delivery failed"
    );
    // Events written by this run's jobs (autopay failures) go out in it too.
    report.webhooks = step!(
        "webhooks",
        crate::app::webhook_delivery::run_due(app, now),
        "webhook delivery failed"
    );
    Ok(report)
}

/// The scheduler loop `serve` runs beside the web server, until `stop`
/// turns true; then it gives back the outbox claims it still holds. Boxed,
/// so the jobs' futures are compiled once, in this crate, rather than again
/// in each crate that polls them.
pub fn run_until(
    app: App,
    stop: watch::Receiver<bool>,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(run_until_stopped(app, stop))
}

async fn run_until_stopped(app: App, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // A stop asked for wins over a tick that is due as well.
            biased;
            _ = stop.wait_for(|stopping| *stopping) => break,
            _ = tick.tick() => {}
        }
        match run_once_until(&app, app.clock.now(), Some(&stop)).await {
            Ok(r) => log_report(&r),
            Err(e) => tracing::warn!(error = %e, "scheduled jobs failed"),
        }
        if stopping(Some(&stop)) {
            break;
        }
    }
    match crate::app::messages::release_claims(&app).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(messages = n, "outbox claims given back to the queue"),
        Err(e) => tracing::warn!(error = %e, "outbox claims not given back; they expire instead"),
    }
    tracing::info!("jobs stopped");
}

fn log_report(r: &RunReport) {
    if r.reconciled != payments::ReconcileReport::default() {
        tracing::info!(report = ?r.reconciled, "reconciliation settled attempts");
    }
    if !r.refunds.is_quiet() {
        tracing::info!(report = ?r.refunds, "refunds reconciled");
    }
    if r.webhook_events > 0 {
        tracing::info!(events = r.webhook_events, "stored Stripe events processed");
    }
    if !r.autopay.is_quiet() {
        tracing::info!(report = ?r.autopay, "autopay charged, declined or queued messages");
    }
    if r.alerts.queued > 0 {
        tracing::info!(report = ?r.alerts, "invoice alerts queued");
    }
    if r.delivered != outbox::DeliveryReport::default() {
        tracing::info!(report = ?r.delivered, "outbox delivered messages");
    }
    if !r.webhooks.is_quiet() {
        tracing::info!(report = ?r.webhooks, "webhooks delivered, retried or given up");
    }
    if r.stopped_early {
        tracing::info!("shutdown: the remaining jobs were left for the next process");
    }
}
