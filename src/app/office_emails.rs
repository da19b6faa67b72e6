//! fieldpay's own notices to a company's owners (an endpoint turned off
//! after days of failures): queued in the transaction of their cause with
//! `queue_to_owners`, sent by the jobs with `deliver_due` through the email
//! transport the settings name (the spool folder, or SMTP), at least once,
//! with backoff on temporary failures.

use time::OffsetDateTime;

use crate::app::App;
use crate::domain::ids::CompanyId;
use crate::messaging::email::{Email, EmailError};
use crate::messaging::outbox::{CLAIM, Transports, retry_at};
use crate::store::office_emails::{self as store, ClaimedEmail, NewOfficeEmail};
use crate::store::{Conn, StoreResult};

/// Emails claimed and sent together in one run.
const BATCH: usize = 20;

/// Queues one email to each active owner of the company, once per `cause`;
/// answers how many were queued now.
pub async fn queue_to_owners(
    conn: &mut Conn,
    company_id: &CompanyId,
    subject: &str,
    body: &str,
    cause: &str,
    now: OffsetDateTime,
) -> StoreResult<usize> {
    let mut queued = 0;
    for recipient in store::owner_emails(conn, company_id).await? {
        let e = NewOfficeEmail {
            company_id,
            recipient: &recipient,
            subject,
            body,
            cause,
        };
        if store::enqueue(conn, &e, now).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What one `deliver_due` run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OfficeEmailReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

/// Sends the office emails due at `now`.
pub async fn deliver_due(app: &App, now: OffsetDateTime) -> anyhow::Result<OfficeEmailReport> {
    let mut report = OfficeEmailReport::default();
    let until = now.max(app.clock.now()) + CLAIM;
    let claimed = {
        let mut tx = app.db.begin_write().await?;
        let rows = store::claim_due(&mut tx, now, until, BATCH).await?;
        tx.commit().await?;
        rows
    };
    if claimed.is_empty() {
        return Ok(report);
    }
    let transports =
        Transports::from_config(&app.config, &app.clock).map_err(|e| anyhow::anyhow!(e))?;
    for e in &claimed {
        let result = send(app, &transports, e).await;
        let mut tx = app.db.begin_write().await?;
        match result {
            Ok(()) => {
                store::mark_sent(&mut tx, e, now).await?;
                report.sent += 1;
            }
            Err(EmailError::Temporary(why)) => {
                let jitter = rand::random::<f64>() * 2.0 - 1.0;
                let next = retry_at(now, e.attempts + 1, jitter);
                store::mark_unsent(&mut tx, e, next, &why).await?;
                if next.is_some() {
                    report.retried += 1;
                } else {
                    report.failed += 1;
                }
            }
            Err(EmailError::Permanent(why)) => {
                store::mark_unsent(&mut tx, e, None, &why).await?;
                report.failed += 1;
            }
        }
        tx.commit().await?;
    }
    Ok(report)
}

async fn send(app: &App, transports: &Transports, e: &ClaimedEmail) -> Result<(), EmailError> {
    let from = match crate::store::companies::get(&app.db, &e.company_id).await {
        Ok(Some(company)) => {
            let base = app.base_url(company.base_url.as_deref());
            let host = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
            let host = host.split([':', '/']).next().unwrap_or("localhost");
            let name: String = company
                .name
                .chars()
                .filter(|c| !"<>\"\r\n".contains(*c))
                .collect();
            format!("{name} <no-reply@{host}>")
        }
        Ok(None) => return Err(EmailError::Permanent("the company is gone".into())),
        Err(err) => return Err(EmailError::Temporary(err.to_string())),
    };
    let email = Email {
        from,
        to: e.recipient.clone(),
        subject: e.subject.clone(),
        text: e.body.clone(),
        attachments: Vec::new(),
    };
    transports.email.send(&email).await.map(|_| ())
}
