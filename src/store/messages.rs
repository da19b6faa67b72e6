//! Outbox rows and SMS opt-outs (SECURITY.md 19, 20).

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::{Conn, Db, StoreResult};

/// A row of the outbox as the delivery worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub company_id: String,
    pub customer_id: String,
    pub invoice_id: Option<String>,
    /// `email` or `sms`.
    pub channel: String,
    pub recipient: String,
    pub template_id: String,
    pub cause: String,
    pub status: String,
    pub attempts: i64,
    /// The claim this worker holds; updates check it so a stale worker
    /// cannot overwrite a newer outcome.
    pub claimed_until: Option<OffsetDateTime>,
}

/// What `GET /api/v1/messages` shows.
#[derive(Debug, Clone, Serialize)]
pub struct MessageView {
    pub id: String,
    pub channel: String,
    pub to: String,
    pub subject: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub sent_at: Option<OffsetDateTime>,
}

/// A row to insert.
pub struct InsertRow<'a> {
    pub id: &'a str,
    pub company_id: &'a str,
    pub customer_id: &'a str,
    pub invoice_id: Option<&'a str>,
    pub channel: &'a str,
    pub recipient: &'a str,
    pub template_id: &'a str,
    pub cause: &'a str,
    pub dedupe_key: &'a str,
    pub status: &'a str,
    pub last_error: Option<&'a str>,
    pub now: OffsetDateTime,
}

/// Inserts the row unless its de-duplication key is taken; `false` when it was.
pub async fn insert(conn: &mut Conn, r: &InsertRow<'_>) -> StoreResult<bool> {
    let done = sqlx::query(
        "INSERT INTO outbox (id, company_id, customer_id, invoice_id, channel, recipient,
             template_id, cause, dedupe_key, status, attempts, next_attempt_at, last_error, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $11)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(r.id)
    .bind(r.company_id)
    .bind(r.customer_id)
    .bind(r.invoice_id)
    .bind(r.channel)
    .bind(r.recipient)
    .bind(r.template_id)
    .bind(r.cause)
    .bind(r.dedupe_key)
    .bind(r.status)
    .bind(r.now)
    .bind(r.last_error)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The id of the row holding a de-duplication key.
pub async fn id_for_dedupe_key(conn: &mut Conn, dedupe_key: &str) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM outbox WHERE dedupe_key = $1")
            .bind(dedupe_key)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

fn outbox_row(r: &SqliteRow) -> StoreResult<OutboxRow> {
    Ok(OutboxRow {
        id: r.try_get("id")?,
        company_id: r.try_get("company_id")?,
        customer_id: r.try_get("customer_id")?,
        invoice_id: r.try_get("invoice_id")?,
        channel: r.try_get("channel")?,
        recipient: r.try_get("recipient")?,
        template_id: r.try_get("template_id")?,
        cause: r.try_get("cause")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        claimed_until: r.try_get("claimed_until")?,
    })
}

/// Claims one due message (queued and due, or a claim that expired) until
/// `until`. One statement: two workers never claim the same row at once.
pub async fn claim_one(
    conn: &mut Conn,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Option<OutboxRow>> {
    let row = sqlx::query(
        "UPDATE outbox SET status = 'sending', claimed_until = $2
         WHERE id = COALESCE(
                 -- A claim that expired (its worker died) first; these are few.
                 (SELECT id FROM outbox WHERE status = 'sending' AND claimed_until < $1 LIMIT 1),
                 -- Then the oldest due message: one step down the (status,
                 -- next_attempt_at) index, however long the queue is.
                 (SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1
                  ORDER BY next_attempt_at LIMIT 1))
           -- Checked again on the row itself: on PostgreSQL a worker that
           -- waited for another's claim sees the claim and takes nothing.
           AND ((status = 'queued' AND next_attempt_at <= $1)
                OR (status = 'sending' AND claimed_until < $1))
         RETURNING id, company_id, customer_id, invoice_id, channel, recipient, template_id,
                   cause, status, attempts, claimed_until",
    )
    .bind(now)
    .bind(until)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(outbox_row).transpose()
}

/// Records a delivery; `false` when the claim was lost meanwhile.
pub async fn mark_sent(
    conn: &mut Conn,
    row: &OutboxRow,
    subject: &str,
    body_redacted: &str,
    provider_id: &str,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, subject = $3,
             body_redacted = $4, provider_id = $5, sent_at = $6, claimed_until = NULL,
             last_error = NULL
         WHERE id = $1 AND status = 'sending' AND claimed_until = $2",
    )
    .bind(&row.id)
    .bind(row.claimed_until)
    .bind(subject)
    .bind(body_redacted)
    .bind(provider_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts the message back in the queue for `next_attempt_at`, or ends it with
/// `status` (`failed`, `suppressed`) when `next_attempt_at` is `None`.
pub async fn mark_unsent(
    conn: &mut Conn,
    row: &OutboxRow,
    attempted: bool,
    next_attempt_at: Option<OffsetDateTime>,
    final_status: &str,
    error: &str,
) -> StoreResult<bool> {
    let (status, next) = match next_attempt_at {
        Some(at) => ("queued", Some(at)),
        None => (final_status, None),
    };
    let done = sqlx::query(
        "UPDATE outbox SET status = $3, attempts = attempts + $4,
             next_attempt_at = COALESCE($5, next_attempt_at), claimed_until = NULL, last_error = $6
         WHERE id = $1 AND status = 'sending' AND claimed_until = $2",
    )
    .bind(&row.id)
    .bind(row.claimed_until)
    .bind(status)
    .bind(i64::from(attempted))
    .bind(next)
    .bind(error)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a number has opted out of this company's SMS.
pub async fn is_opted_out(conn: &mut Conn, company_id: &str, phone: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sms_opt_outs WHERE company_id = $1 AND phone = $2",
    )
    .bind(company_id)
    .bind(phone)
    .fetch_one(&mut *conn)
    .await?;
    Ok(n > 0)
}

/// Opts a number out (`true`) or back in (`false`).
pub async fn set_opt_out(
    conn: &mut Conn,
    company_id: &str,
    phone: &str,
    opted_out: bool,
    now: OffsetDateTime,
) -> StoreResult<()> {
    if opted_out {
        sqlx::query(
            "INSERT INTO sms_opt_outs (company_id, phone, opted_out_at) VALUES ($1, $2, $3)
             ON CONFLICT (company_id, phone) DO NOTHING",
        )
        .bind(company_id)
        .bind(phone)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    } else {
        sqlx::query("DELETE FROM sms_opt_outs WHERE company_id = $1 AND phone = $2")
            .bind(company_id)
            .bind(phone)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether a company exists (the SMS webhook names one in its path).
pub async fn company_exists(db: &Db, company_id: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM companies WHERE id = $1")
        .bind(company_id)
        .fetch_one(db.reader())
        .await?;
    Ok(n > 0)
}

/// The messages of one customer, newest first.
pub async fn list_for_customer(
    db: &Db,
    company_id: &str,
    customer_id: &str,
) -> StoreResult<Vec<MessageView>> {
    let rows = sqlx::query(
        "SELECT id, channel, recipient, subject, status, attempts, last_error, created_at, sent_at
         FROM outbox WHERE company_id = $1 AND customer_id = $2
         ORDER BY created_at DESC, id DESC LIMIT 500",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(MessageView {
                id: r.try_get("id")?,
                channel: r.try_get("channel")?,
                to: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
                sent_at: r.try_get("sent_at")?,
            })
        })
        .collect()
}

/// The kept copy of a message: subject, redacted body, status (for tests and
/// the office views).
pub async fn stored_copy(
    db: &Db,
    company_id: &str,
    id: &str,
) -> StoreResult<Option<(String, Option<String>, Option<String>, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT status, subject, body_redacted, provider_id FROM outbox
         WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?)
}
