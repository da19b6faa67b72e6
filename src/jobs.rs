//! Scheduled work: reconciliation of payment attempts left pending, autopay
//! charges (with their notices and card reminders), queueing of invoice
//! alerts, and delivery of the outbox.

use std::time::Duration;

use crate::app::App;
use crate::messaging::outbox;
use crate::payments;

/// How long an attempt may stay pending before reconciliation asks the processor.
pub const RECONCILE_GRACE: time::Duration = time::Duration::minutes(2);

#[derive(Debug, Default)]
pub struct RunReport {
    pub reconciled: payments::ReconcileReport,
    /// Stripe webhook events recorded but never processed, processed now.
    pub webhook_events: usize,
    pub autopay: crate::autopay::AutopayReport,
    pub alerts: crate::alerts::AlertReport,
    pub delivered: outbox::DeliveryReport,
}

/// Runs every job that is due at `now`.
pub async fn run_once(app: &App, now: time::OffsetDateTime) -> anyhow::Result<RunReport> {
    let reconciled = payments::reconcile(app, now, RECONCILE_GRACE)
        .await
        .map_err(|e| anyhow::anyhow!("reconciliation failed: {e:?}"))?;
    // Webhook events whose processing was cut short (crash, restart) are
    // applied now, through the same idempotent paths.
    let webhook_events = crate::web::stripe_webhook::process_unprocessed(app, now)
        .await
        .map_err(|e| anyhow::anyhow!("processing stored Stripe events failed: {e}"))?;
    // After reconciliation (attempts left pending are settled first, so their
    // invoices are free or paid) and before alerts and delivery (its notices,
    // receipts and decline messages go out in this same run).
    let autopay = crate::autopay::run_due(app, now)
        .await
        .map_err(|e| anyhow::anyhow!("autopay failed: {e}"))?;
    // Before delivery, so an alert queued now goes out in this same run.
    let alerts = crate::alerts::queue_due(app, now)
        .await
        .map_err(|e| anyhow::anyhow!("queueing invoice alerts failed: {e}"))?;
    let delivered = outbox::deliver_due(app, now, outbox::render_stored)
        .await
        .map_err(|e| anyhow::anyhow!("message delivery failed: {e}"))?;
    Ok(RunReport {
        reconciled,
        webhook_events,
        autopay,
        alerts,
        delivered,
    })
}

/// The scheduler loop `serve` runs beside the web server.
pub async fn run_forever(app: App) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match run_once(&app, crate::store::now()).await {
            Ok(r) => {
                if r.reconciled != payments::ReconcileReport::default() {
                    tracing::info!(report = ?r.reconciled, "reconciliation settled attempts");
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
            }
            Err(e) => tracing::warn!(error = %e, "scheduled jobs failed"),
        }
    }
}
