//! Emails to a company's office (its owners): plain text queued in the
//! transaction of their cause, once per cause and recipient, and claimed by
//! the jobs for sending. The customer outbox (`store::messages`) holds
//! messages rendered from a company's templates for a customer; these are
//! fieldpay's own notices to the people who run the company.

use time::OffsetDateTime;

use super::{Conn, Db, StoreResult};
use crate::crypto::new_id;
use crate::domain::ids::CompanyId;

/// The email addresses of the company's active owners, oldest first.
pub async fn owner_emails(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<Vec<String>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT email FROM office_users
         WHERE company_id = $1 AND role = 'owner' AND disabled_at IS NULL
         ORDER BY created_at, id",
    )
    .bind(company_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub struct NewOfficeEmail<'a> {
    pub company_id: &'a CompanyId,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
    /// Why it is sent, e.g. `webhook_disabled:{endpoint_id}:{unix time}`.
    pub cause: &'a str,
}

/// Queues an email, due at `now`; `false` when the same cause already
/// queued one to this recipient.
pub async fn enqueue(
    conn: &mut Conn,
    e: &NewOfficeEmail<'_>,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "INSERT INTO office_emails (id, company_id, recipient, subject, body, dedupe_key, status,
            attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(new_id("oem"))
    .bind(e.company_id)
    .bind(e.recipient)
    .bind(e.subject)
    .bind(e.body)
    .bind(format!("{}|{}", e.cause, e.recipient))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A queued email a worker claimed.
#[derive(Debug, Clone)]
pub struct ClaimedEmail {
    pub id: String,
    pub company_id: CompanyId,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
    pub claimed_until: OffsetDateTime,
}

/// As the webhook deliveries' claim: a claimed email's `next_attempt_at`
/// moves to the claim's end, so a dead worker's email is due again then;
/// the candidates are picked once (a materialized CTE on PostgreSQL).
macro_rules! claim_sql {
    ($materialized:literal, $lock:literal) => {
        concat!(
            "WITH picked AS ",
            $materialized,
            " (SELECT id FROM office_emails
                WHERE status = 'queued' AND next_attempt_at <= $1
                ORDER BY next_attempt_at LIMIT $3",
            $lock,
            ")
             UPDATE office_emails SET next_attempt_at = $2, claimed_until = $2
             WHERE id IN (SELECT id FROM picked)
               AND status = 'queued' AND next_attempt_at <= $1
             RETURNING id, company_id, recipient, subject, body, attempts, claimed_until"
        )
    };
}

const CLAIM_SQL: &str = claim_sql!("", "");
const CLAIM_SQL_PG: &str = claim_sql!("MATERIALIZED", " FOR UPDATE SKIP LOCKED");

/// Claims up to `limit` emails due at `now`, until `until`.
pub async fn claim_due(
    conn: &mut Conn,
    now: OffsetDateTime,
    until: OffsetDateTime,
    limit: usize,
) -> StoreResult<Vec<ClaimedEmail>> {
    let rows = crate::store::sql::query(CLAIM_SQL)
        .pg(CLAIM_SQL_PG)
        .bind(now)
        .bind(until)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ClaimedEmail {
                id: r.try_get("id")?,
                company_id: r.try_get("company_id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                attempts: r.try_get("attempts")?,
                claimed_until: r.try_get("claimed_until")?,
            })
        })
        .collect()
}

/// Records a sent email; `false` when the claim was lost meanwhile.
pub async fn mark_sent(
    conn: &mut Conn,
    e: &ClaimedEmail,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE office_emails SET status = 'sent', attempts = attempts + 1, sent_at = $3,
             claimed_until = NULL, last_error = NULL
         WHERE id = $1 AND claimed_until = $2",
    )
    .bind(&e.id)
    .bind(e.claimed_until)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed try: due again at `next`, or failed for good without one.
pub async fn mark_unsent(
    conn: &mut Conn,
    e: &ClaimedEmail,
    next: Option<OffsetDateTime>,
    error: &str,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE office_emails SET status = $3, attempts = attempts + 1,
             next_attempt_at = COALESCE($4, next_attempt_at), claimed_until = NULL,
             last_error = $5
         WHERE id = $1 AND claimed_until = $2",
    )
    .bind(&e.id)
    .bind(e.claimed_until)
    .bind(if next.is_some() { "queued" } else { "failed" })
    .bind(next)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An office email as a page or a test sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OfficeEmailView {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The company's office emails, newest first.
pub async fn recent(
    db: &Db,
    company_id: &CompanyId,
    limit: i64,
) -> StoreResult<Vec<OfficeEmailView>> {
    let rows = crate::store::sql::query(
        "SELECT id, recipient, subject, body, status, attempts, created_at FROM office_emails
         WHERE company_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(company_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OfficeEmailView {
                id: r.try_get("id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
