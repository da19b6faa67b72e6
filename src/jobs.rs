//! Scheduled work: today, reconciliation of payment attempts left pending.

use std::time::Duration;

use crate::app::App;
use crate::payments;

/// How long an attempt may stay pending before reconciliation asks the processor.
pub const RECONCILE_GRACE: time::Duration = time::Duration::minutes(2);

#[derive(Debug, Default)]
pub struct RunReport {
    pub reconciled: payments::ReconcileReport,
}

/// Runs every job that is due at `now`.
pub async fn run_once(app: &App, now: time::OffsetDateTime) -> anyhow::Result<RunReport> {
    let reconciled = payments::reconcile(app, now, RECONCILE_GRACE)
        .await
        .map_err(|e| anyhow::anyhow!("reconciliation failed: {e:?}"))?;
    Ok(RunReport { reconciled })
}

/// The scheduler loop `serve` runs beside the web server.
pub async fn run_forever(app: App) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        match run_once(&app, crate::store::now()).await {
            Ok(r) if r.reconciled != payments::ReconcileReport::default() => {
                tracing::info!(report = ?r.reconciled, "reconciliation settled attempts");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduled jobs failed"),
        }
    }
}
