//! Outbox rows and SMS opt-outs (SECURITY.md 19, 20).

use std::collections::{HashMap, HashSet};

use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, MessageId, PaymentId};
use crate::store::sql::Row;
use serde::Serialize;
use time::OffsetDateTime;

use super::{Conn, Db, StoreError, StoreResult};

/// A row of the outbox as the delivery worker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: MessageId,
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
    pub invoice_id: Option<InvoiceId>,
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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    #[schema(value_type = String)]
    pub id: MessageId,
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
    pub id: &'a MessageId,
    pub company_id: &'a CompanyId,
    pub customer_id: &'a str,
    pub invoice_id: Option<&'a str>,
    pub channel: &'a str,
    pub recipient: &'a str,
    pub template_id: &'a str,
    pub cause: &'a str,
    pub status: &'a str,
    pub last_error: Option<&'a str>,
}

/// Inserts the rows whose customer, cause, channel and recipient are not
/// queued yet (the `outbox_dedupe` unique index), all queued at `now`;
/// answers the ids inserted (a row already queued is left out). One
/// statement for any number of rows (and a second when some were already
/// queued), the rows bound as one JSON array:
/// queueing 100,000 alerts is bound by round trips and binding.
pub async fn insert_many(
    conn: &mut Conn,
    rows: &[InsertRow<'_>],
    now: OffsetDateTime,
) -> StoreResult<HashSet<MessageId>> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let done = if let [r] = rows {
        // One row (a receipt): bound as values, without building and
        // reading back its JSON, and with no statement journal (SQLite
        // keeps one for an `INSERT … SELECT`, not for one row of values).
        crate::store::sql::query(
            "INSERT INTO outbox (id, company_id, customer_id, invoice_id, channel, recipient,
                template_id, cause, status, attempts, next_attempt_at, last_error, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, $10, $11, $10)
             ON CONFLICT (customer_id, cause, channel, recipient) DO NOTHING",
        )
        .bind(r.id)
        .bind(r.company_id)
        .bind(r.customer_id)
        .bind(r.invoice_id)
        .bind(r.channel)
        .bind(r.recipient)
        .bind(r.template_id)
        .bind(r.cause)
        .bind(r.status)
        .bind(now)
        .bind(r.last_error)
        .execute(&mut *conn)
        .await?
    } else {
        // Serialised straight from the rows (tuples are JSON arrays), without
        // building a tree of JSON values first.
        let json = serde_json::to_string(
            &rows
                .iter()
                .map(|r| {
                    (
                        r.id.as_str(),
                        r.company_id,
                        r.customer_id,
                        r.invoice_id,
                        r.channel,
                        r.recipient,
                        r.template_id,
                        r.cause,
                        r.status,
                        r.last_error,
                    )
                })
                .collect::<Vec<_>>(),
        )
        .map_err(|e| StoreError::Other(sqlx::Error::Encode(Box::new(e))))?;
        // No `RETURNING id`: each returned row is one hand-over between the
        // database's thread and ours, 400,000 of them for a large alert run.
        // Usually every row goes in; only when some did not are the ids of this
        // call missing from the outbox looked up.
        // `jsonb_each`: each row's array reaches `->>` as JSONB, not rendered
        // as JSON text and parsed again for each of its ten fields.
        crate::store::sql::query(insert_many_sql!("jsonb_each($1)"))
            .pg(insert_many_sql!(
                "json_array_elements($1::json) AS rows(value)"
            ))
            .bind(json)
            .bind(now)
            .execute(&mut *conn)
            .await?
    };
    let mut inserted: HashSet<MessageId> = rows.iter().map(|r| r.id.clone()).collect();
    if (done.rows_affected() as usize) < rows.len() {
        let missing: Vec<MessageId> = crate::store::sql::query_scalar(
            "SELECT j.value FROM json_each($1) AS j
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = j.value)",
        )
        .pg(
            "SELECT j.value FROM json_array_elements_text($1::json) AS j(value)
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.id = j.value)",
        )
        .bind(super::json_list(rows.iter().map(|r| r.id.as_str())))
        .fetch_all(&mut *conn)
        .await?;
        for id in &missing {
            inserted.remove(id);
        }
    }
    Ok(inserted)
}

/// The rows of a JSON array of arrays, one outbox row each, from a dialect's
/// table function.
macro_rules! insert_many_sql {
    ($rows:literal) => {
        concat!(
            "INSERT INTO outbox (id, company_id, customer_id, invoice_id, channel, recipient,
             template_id, cause, status, attempts, next_attempt_at, last_error, created_at)
         SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5,
                value ->> 6, value ->> 7, value ->> 8, 0, $2, value ->> 9, $2
         FROM ",
            $rows,
            " WHERE true
         ON CONFLICT (customer_id, cause, channel, recipient) DO NOTHING"
        )
    };
}
use insert_many_sql;

/// What makes a message the same as one already queued: its customer,
/// cause, channel and recipient (the `outbox_dedupe` unique index).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageKey<'a> {
    pub customer_id: &'a str,
    pub cause: &'a str,
    pub channel: &'a str,
    pub recipient: &'a str,
}

/// The ids of the messages already queued under these keys, in the keys'
/// order (`None` where none is).
pub async fn ids_for_keys(
    conn: &mut Conn,
    keys: &[MessageKey<'_>],
) -> StoreResult<Vec<Option<MessageId>>> {
    let json = serde_json::to_string(
        &keys
            .iter()
            .map(|k| (k.customer_id, k.cause, k.channel, k.recipient))
            .collect::<Vec<_>>(),
    )
    .map_err(|e| StoreError::Other(sqlx::Error::Encode(Box::new(e))))?;
    let found: HashMap<(String, String, String, String), MessageId> =
        crate::store::sql::query_as::<(String, String, String, String, MessageId)>(
            ids_for_keys_sql!("json_each($1) AS k"),
        )
        .pg(ids_for_keys_sql!(
            "json_array_elements($1::json) AS k(value)"
        ))
        .bind(json)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(customer, cause, channel, recipient, id)| {
            ((customer, cause, channel, recipient), id)
        })
        .collect();
    Ok(keys
        .iter()
        .map(|k| {
            found
                .get(&(
                    k.customer_id.to_string(),
                    k.cause.to_string(),
                    k.channel.to_string(),
                    k.recipient.to_string(),
                ))
                .cloned()
        })
        .collect())
}

/// The outbox rows of a JSON array of `[customer, cause, channel,
/// recipient]` keys, from a dialect's table function.
macro_rules! ids_for_keys_sql {
    ($keys:literal) => {
        concat!(
            "SELECT o.customer_id, o.cause, o.channel, o.recipient, o.id FROM ",
            $keys,
            " JOIN outbox o ON o.customer_id = k.value ->> 0 AND o.cause = k.value ->> 1
                           AND o.channel = k.value ->> 2 AND o.recipient = k.value ->> 3"
        )
    };
}
use ids_for_keys_sql;

fn outbox_row(r: &Row) -> StoreResult<OutboxRow> {
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

/// The claim statement, with each dialect's row lock on the candidates.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET status = 'sending', claimed_until = $2
         WHERE id IN (
                 -- Claims that expired first; these are few.
                 SELECT id FROM (SELECT id FROM outbox
                                 WHERE status = 'sending' AND claimed_until < $1 LIMIT $3",
            $lock,
            ") AS expired
                 UNION ALL
                 -- Then the oldest due messages: a walk down the (status,
                 -- next_attempt_at) index, however long the queue is.
                 SELECT id FROM (SELECT id FROM outbox
                                 WHERE status = 'queued' AND next_attempt_at <= $1
                                 ORDER BY next_attempt_at LIMIT $3",
            $lock,
            ") AS due)
           -- Checked again on the row itself: on PostgreSQL a worker that
           -- waited for another's claim sees the claim and takes nothing.
           -- A CASE, not an OR: SQLite would serve an OR of two index ranges
           -- by walking every due message instead of the few ids above.
           AND CASE status WHEN 'queued' THEN next_attempt_at <= $1
                           WHEN 'sending' THEN claimed_until < $1
                           ELSE false END
         RETURNING id, company_id, customer_id, invoice_id, channel, recipient, template_id,
                   cause, status, attempts, claimed_until"
        )
    };
}

/// Claims up to `$3` due messages until `$2` at `$1` (see `claim_batch`).
pub const CLAIM_SQL: &str = claim_sql!("");
/// `CLAIM_SQL` for PostgreSQL: rows another process is claiming are skipped,
/// not waited for.
pub const CLAIM_SQL_PG: &str = claim_sql!(" FOR UPDATE SKIP LOCKED");

/// Claims up to `limit` due messages (queued and due, or claims that
/// expired because their worker died) until `until`, then ends at once the
/// claimed ones that must not go: SMS to a number that opted out, and
/// reminders about an invoice that is no longer open (paid or void since it
/// was queued). One transaction: two workers never claim the same row, and
/// the checks see the invoice as it is at the moment of sending.
pub async fn claim_batch(
    conn: &mut Conn,
    now: OffsetDateTime,
    until: OffsetDateTime,
    limit: usize,
) -> StoreResult<Vec<OutboxRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = crate::store::sql::query(CLAIM_SQL)
        .pg(CLAIM_SQL_PG)
        .bind(now)
        .bind(until)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let claimed = rows
        .iter()
        .map(outbox_row)
        .collect::<StoreResult<Vec<_>>>()?;
    if claimed.is_empty() {
        return Ok(claimed);
    }
    let ids: Vec<&str> = claimed.iter().map(|r| r.id.as_str()).collect();
    let sql = format!(
        "UPDATE outbox SET status = 'suppressed', claimed_until = NULL,
             last_error = CASE WHEN channel = 'sms' AND EXISTS ({OPTED_OUT})
                               THEN 'the number opted out of SMS (STOP)'
                               ELSE 'the invoice is no longer open' END
         WHERE id IN ({}) AND status = 'sending'
           AND ((channel = 'sms' AND EXISTS ({OPTED_OUT}))
                OR ({WITHDRAWN_WHEN_CLOSED} AND invoice_id IS NOT NULL
                    AND EXISTS (SELECT 1 FROM invoices i WHERE i.id = outbox.invoice_id
                                AND (i.status <> 'open' OR i.balance = 0))))
         RETURNING id",
        super::json_values(conn.backend(), 1)
    );
    let ended: HashSet<String> = crate::store::sql::query_scalar::<String>(super::dynamic_sql(sql))
        .bind(super::json_list(ids.iter().copied()))
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    Ok(claimed
        .into_iter()
        .map(|mut r| {
            if ended.contains(r.id.as_str()) {
                r.status = "suppressed".to_string();
            }
            r
        })
        .collect())
}

/// The number of an outbox row has opted out of its company's SMS.
const OPTED_OUT: &str = "SELECT 1 FROM sms_opt_outs o
     WHERE o.company_id = outbox.company_id AND o.phone = outbox.recipient";

/// Messages about an open invoice that are pointless once it is paid or
/// void: invoice alerts and autopay notices.
const WITHDRAWN_WHEN_CLOSED: &str = "(cause LIKE 'alert:%' OR cause LIKE 'autopay_notice:%')";

/// Records a delivery; `false` when the claim was lost meanwhile.
pub async fn mark_sent(
    conn: &mut Conn,
    row: &OutboxRow,
    subject: &str,
    body_redacted: &str,
    provider_id: &str,
    carries_link: bool,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE outbox SET status = 'sent', attempts = attempts + 1, subject = $3,
             body_redacted = $4, provider_id = $5, sent_at = $6, claimed_until = NULL,
             last_error = NULL, carries_link = $7
         WHERE id = $1 AND status = 'sending' AND claimed_until = $2",
    )
    .bind(&row.id)
    .bind(row.claimed_until)
    .bind(subject)
    .bind(body_redacted)
    .bind(provider_id)
    .bind(now)
    .bind(i64::from(carries_link))
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
    let done = crate::store::sql::query(
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

/// Which of these numbers have opted out of this company's SMS.
pub async fn opted_out_among(
    conn: &mut Conn,
    company_id: &CompanyId,
    phones: &[&str],
) -> StoreResult<HashSet<String>> {
    let sql = format!(
        "SELECT phone FROM sms_opt_outs WHERE company_id = $1 AND phone IN ({})",
        super::json_values(conn.backend(), 2)
    );
    Ok(
        crate::store::sql::query_scalar::<String>(super::dynamic_sql(sql))
            .bind(company_id)
            .bind(super::json_list(phones.iter().copied()))
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect(),
    )
}

/// Whether a number has opted out of this company's SMS.
pub async fn is_opted_out(
    conn: &mut Conn,
    company_id: &CompanyId,
    phone: &str,
) -> StoreResult<bool> {
    Ok(!opted_out_among(conn, company_id, &[phone])
        .await?
        .is_empty())
}

/// Since when a number has opted out of this company's SMS, if it has.
pub async fn opted_out_since(
    db: &Db,
    company_id: &CompanyId,
    phone: &str,
) -> StoreResult<Option<OffsetDateTime>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT opted_out_at FROM sms_opt_outs WHERE company_id = $1 AND phone = $2",
    )
    .bind(company_id)
    .bind(phone)
    .fetch_optional(db.reader())
    .await?)
}

/// Opts a number out (`true`) or back in (`false`).
pub async fn set_opt_out(
    conn: &mut Conn,
    company_id: &CompanyId,
    phone: &str,
    opted_out: bool,
    now: OffsetDateTime,
) -> StoreResult<()> {
    if opted_out {
        crate::store::sql::query(
            "INSERT INTO sms_opt_outs (company_id, phone, opted_out_at) VALUES ($1, $2, $3)
             ON CONFLICT (company_id, phone) DO NOTHING",
        )
        .bind(company_id)
        .bind(phone)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    } else {
        crate::store::sql::query("DELETE FROM sms_opt_outs WHERE company_id = $1 AND phone = $2")
            .bind(company_id)
            .bind(phone)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Whether a company exists (the SMS webhook names one in its path).
pub async fn company_exists(db: &Db, company_id: &CompanyId) -> StoreResult<bool> {
    let n: i64 = crate::store::sql::query_scalar("SELECT COUNT(*) FROM companies WHERE id = $1")
        .bind(company_id)
        .fetch_one(db.reader())
        .await?;
    Ok(n > 0)
}

/// One message of the company, as `GET /api/v1/messages` shows it.
pub async fn view(
    db: &Db,
    company_id: &CompanyId,
    id: &MessageId,
) -> StoreResult<Option<MessageView>> {
    let row = crate::store::sql::query(
        "SELECT id, channel, recipient, subject, status, attempts, last_error, created_at, sent_at
         FROM outbox WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(message_view).transpose()
}

fn message_view(r: &crate::store::sql::Row) -> StoreResult<MessageView> {
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
}

/// The messages of one customer, newest first.
pub async fn list_for_customer(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<MessageView>> {
    let rows = crate::store::sql::query(
        "SELECT id, channel, recipient, subject, status, attempts, last_error, created_at, sent_at
         FROM outbox WHERE company_id = $1 AND customer_id = $2
         ORDER BY created_at DESC, id DESC LIMIT 500",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(message_view).collect()
}

/// The kept copy of a message: subject, redacted body, status (for tests and
/// the office views).
pub async fn stored_copy(
    db: &Db,
    company_id: &CompanyId,
    id: &MessageId,
) -> StoreResult<Option<(String, Option<String>, Option<String>, Option<String>)>> {
    Ok(crate::store::sql::query_as(
        "SELECT status, subject, body_redacted, provider_id FROM outbox
         WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?)
}

/// A message in the office's list.
#[derive(Debug, Clone)]
pub struct OfficeMessage {
    pub id: MessageId,
    pub channel: String,
    pub recipient: String,
    pub subject: Option<String>,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub customer_id: CustomerId,
    pub customer_name: String,
}

/// The company's messages, newest first, optionally of one status, channel
/// or customer.
pub async fn office_list(
    db: &Db,
    company_id: &CompanyId,
    status: Option<&str>,
    channel: Option<&str>,
    customer_id: Option<&CustomerId>,
    limit: i64,
) -> StoreResult<Vec<OfficeMessage>> {
    let rows = crate::store::sql::query(
        "SELECT o.id, o.channel, o.recipient, o.subject, o.status, o.attempts, o.last_error,
                o.created_at, o.sent_at, o.customer_id, coalesce(c.name, '') AS customer_name
         FROM outbox o LEFT JOIN customers c ON c.company_id = o.company_id AND c.id = o.customer_id
         WHERE o.company_id = $1 AND ($2 IS NULL OR o.status = $2)
           AND ($3 IS NULL OR o.channel = $3) AND ($4 IS NULL OR o.customer_id = $4)
         ORDER BY o.created_at DESC, o.id DESC LIMIT $5",
    )
    .bind(company_id)
    .bind(status)
    .bind(channel)
    .bind(customer_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OfficeMessage {
                id: r.try_get("id")?,
                channel: r.try_get("channel")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                created_at: r.try_get("created_at")?,
                sent_at: r.try_get("sent_at")?,
                customer_id: r.try_get("customer_id")?,
                customer_name: r.try_get("customer_name")?,
            })
        })
        .collect()
}

/// Keeps the office's note for one message (in the transaction that queued it).
pub async fn set_note(
    conn: &mut Conn,
    company_id: &CompanyId,
    message_id: &MessageId,
    note: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO message_notes (message_id, company_id, note) VALUES ($1, $2, $3)
         ON CONFLICT (message_id) DO NOTHING",
    )
    .bind(message_id)
    .bind(company_id)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The office's note for a message, if it has one.
pub async fn note(db: &Db, message_id: &MessageId) -> StoreResult<Option<String>> {
    Ok(
        crate::store::sql::query_scalar("SELECT note FROM message_notes WHERE message_id = $1")
            .bind(message_id)
            .fetch_optional(db.reader())
            .await?,
    )
}

/// The status of the email receipt of a customer's payment (`None`: none
/// was queued).
pub async fn receipt_email_status(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    payment_id: &PaymentId,
) -> StoreResult<Option<String>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT status FROM outbox
         WHERE company_id = $1 AND customer_id = $2 AND cause = $3 AND channel = 'email'
         ORDER BY created_at LIMIT 1",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(format!("receipt:{payment_id}"))
    .fetch_optional(db.reader())
    .await?)
}
