//! Which processor a company uses, with its keys encrypted at rest.
//!
//! Secret keys are stored sealed (`crate::crypto::KeyBox`) with a masked
//! hint for display; this module never sees a plaintext secret. Also the
//! Stripe events received (each once) and disputes opened at Stripe.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Conn, Db, StoreResult};
use crate::crypto::new_id;
use crate::domain::ids::CompanyId;
use crate::domain::processor::ProcessorKind;

#[derive(Debug, Clone)]
pub struct ProcessorSettings {
    pub kind: ProcessorKind,
    pub secret_key_sealed: Option<String>,
    pub secret_key_hint: Option<String>,
    pub publishable_key: Option<String>,
    pub webhook_secret_sealed: Option<String>,
    pub webhook_secret_hint: Option<String>,
    pub updated_at: OffsetDateTime,
}

pub async fn get(db: &Db, company_id: &CompanyId) -> StoreResult<Option<ProcessorSettings>> {
    get_from(db.reader(), company_id).await
}

/// `get` on the caller's connection: inside a payment's write job, the
/// processor it is about to use cannot change before the job commits.
pub async fn get_on(
    conn: &mut Conn,
    company_id: &CompanyId,
) -> StoreResult<Option<ProcessorSettings>> {
    get_from(conn, company_id).await
}

async fn get_from(
    on: impl crate::store::sql::Executor<'_>,
    company_id: &CompanyId,
) -> StoreResult<Option<ProcessorSettings>> {
    let row = crate::store::sql::query(
        "SELECT kind, secret_key_sealed, secret_key_hint, publishable_key, webhook_secret_sealed,
                webhook_secret_hint, updated_at
         FROM processor_settings WHERE company_id = $1",
    )
    .bind(company_id)
    .fetch_optional(on)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let kind: String = r.try_get("kind")?;
    Ok(Some(ProcessorSettings {
        kind: ProcessorKind::parse(&kind).unwrap_or(ProcessorKind::Sandbox),
        secret_key_sealed: r.try_get("secret_key_sealed")?,
        secret_key_hint: r.try_get("secret_key_hint")?,
        publishable_key: r.try_get("publishable_key")?,
        webhook_secret_sealed: r.try_get("webhook_secret_sealed")?,
        webhook_secret_hint: r.try_get("webhook_secret_hint")?,
        updated_at: r.try_get("updated_at")?,
    }))
}

/// Whether the company's payments move money: test (the sandbox, the
/// default, or Stripe with test keys) or live.
pub async fn mode(db: &Db, company_id: &CompanyId) -> StoreResult<crate::domain::processor::Mode> {
    let row: Option<(String, Option<String>)> = crate::store::sql::query_as(
        "SELECT kind, publishable_key FROM processor_settings WHERE company_id = $1",
    )
    .bind(company_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(match row {
        Some((kind, pk)) => crate::domain::processor::Mode::of(
            ProcessorKind::parse(&kind).unwrap_or(ProcessorKind::Sandbox),
            pk.as_deref(),
        ),
        None => crate::domain::processor::Mode::Test,
    })
}

/// What is written: `None` keys keep what was stored.
pub struct SettingsUpdate<'a> {
    pub kind: ProcessorKind,
    /// `(sealed, hint)`.
    pub secret_key: Option<(String, String)>,
    pub publishable_key: Option<&'a str>,
    pub webhook_secret: Option<(String, String)>,
    pub updated_by: &'a str,
}

pub async fn save(
    conn: &mut Conn,
    company_id: &CompanyId,
    u: &SettingsUpdate<'_>,
) -> StoreResult<()> {
    let (sk, sk_hint) = u.secret_key.clone().unzip();
    let (wh, wh_hint) = u.webhook_secret.clone().unzip();
    crate::store::sql::query(
        "INSERT INTO processor_settings (company_id, kind, secret_key_sealed, secret_key_hint,
            publishable_key, webhook_secret_sealed, webhook_secret_hint, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (company_id) DO UPDATE SET
            kind = excluded.kind,
            secret_key_sealed = coalesce(excluded.secret_key_sealed, processor_settings.secret_key_sealed),
            secret_key_hint = coalesce(excluded.secret_key_hint, processor_settings.secret_key_hint),
            publishable_key = coalesce(excluded.publishable_key, processor_settings.publishable_key),
            webhook_secret_sealed = coalesce(excluded.webhook_secret_sealed, processor_settings.webhook_secret_sealed),
            webhook_secret_hint = coalesce(excluded.webhook_secret_hint, processor_settings.webhook_secret_hint),
            updated_by = excluded.updated_by,
            updated_at = excluded.updated_at",
    )
    .bind(company_id)
    .bind(u.kind.as_str())
    .bind(sk)
    .bind(sk_hint)
    .bind(u.publishable_key)
    .bind(wh)
    .bind(wh_hint)
    .bind(u.updated_by)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records an event id once: `false` when it was received before.
pub async fn record_event(
    conn: &mut Conn,
    company_id: &CompanyId,
    event_id: &str,
    kind: &str,
    object_id: Option<&str>,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "INSERT INTO stripe_events (id, company_id, event_id, type, object_id, received_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (company_id, event_id) DO NOTHING",
    )
    .bind(new_id("sev"))
    .bind(company_id)
    .bind(event_id)
    .bind(kind)
    .bind(object_id)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn mark_event_processed(
    conn: &mut Conn,
    company_id: &CompanyId,
    event_id: &str,
    result: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE stripe_events SET processed_at = $1, result = $2
         WHERE company_id = $3 AND event_id = $4",
    )
    .bind(conn.now())
    .bind(result)
    .bind(company_id)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// `(event_id, type, object_id)` of events received but not processed
/// (the server stopped before processing them).
pub async fn unprocessed_events(
    db: &Db,
    company_id: &CompanyId,
    before: OffsetDateTime,
) -> StoreResult<Vec<(String, String, Option<String>)>> {
    Ok(crate::store::sql::query_as(
        "SELECT event_id, type, object_id FROM stripe_events
         WHERE company_id = $1 AND processed_at IS NULL AND received_at < $2
         ORDER BY received_at LIMIT 100",
    )
    .bind(company_id)
    .bind(before)
    .fetch_all(db.reader())
    .await?)
}

/// `(company_id, event_id, type, object_id)` of events of any company
/// received before `before`, never processed and due again at `now` (the
/// jobs' retry); flagged events are left to the office.
pub async fn all_unprocessed_events(
    db: &Db,
    before: OffsetDateTime,
    now: OffsetDateTime,
) -> StoreResult<Vec<(CompanyId, String, String, Option<String>)>> {
    Ok(crate::store::sql::query_as(
        "SELECT company_id, event_id, type, object_id FROM stripe_events
         WHERE processed_at IS NULL AND received_at < $1 AND flagged_at IS NULL
           AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
         ORDER BY received_at LIMIT 500",
    )
    .bind(before)
    .bind(now)
    .fetch_all(db.reader())
    .await?)
}

/// How often an event not processed yet was tried, and when it arrived.
pub async fn event_tries(
    conn: &mut Conn,
    company_id: &CompanyId,
    event_id: &str,
) -> StoreResult<Option<(i64, OffsetDateTime)>> {
    Ok(crate::store::sql::query_as(
        "SELECT attempts, received_at FROM stripe_events
         WHERE company_id = $1 AND event_id = $2 AND processed_at IS NULL",
    )
    .bind(company_id)
    .bind(event_id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// An event that could not be applied (yet): counts the try and says when
/// to try again and why.
pub async fn event_not_processed(
    conn: &mut Conn,
    company_id: &CompanyId,
    event_id: &str,
    why: &str,
    next_attempt_at: OffsetDateTime,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE stripe_events SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
         WHERE company_id = $3 AND event_id = $4 AND processed_at IS NULL",
    )
    .bind(next_attempt_at)
    .bind(why)
    .bind(company_id)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stops trying an event: the office is told instead. `false` when it was
/// processed or flagged before.
pub async fn flag_event(
    conn: &mut Conn,
    company_id: &CompanyId,
    event_id: &str,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE stripe_events SET flagged_at = $1
         WHERE company_id = $2 AND event_id = $3 AND processed_at IS NULL AND flagged_at IS NULL",
    )
    .bind(conn.now())
    .bind(company_id)
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A Stripe event fieldpay gave up applying, for the office.
#[derive(Debug, Clone, Serialize)]
pub struct FlaggedEvent {
    pub event_id: String,
    pub kind: String,
    pub object_id: Option<String>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
}

/// The company's flagged events received since `since`, newest first.
pub async fn flagged_events(
    db: &Db,
    company_id: &CompanyId,
    since: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<FlaggedEvent>> {
    let rows = crate::store::sql::query(
        "SELECT event_id, type, object_id, last_error, received_at FROM stripe_events
         WHERE company_id = $1 AND flagged_at IS NOT NULL AND processed_at IS NULL
           AND received_at >= $2
         ORDER BY received_at DESC LIMIT $3",
    )
    .bind(company_id)
    .bind(since)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(FlaggedEvent {
                event_id: r.try_get("event_id")?,
                kind: r.try_get("type")?,
                object_id: r.try_get("object_id")?,
                last_error: r.try_get("last_error")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect()
}

/// The payment a processor charge id names in this company:
/// `(payment_id, amount, refunded, currency)`.
pub async fn payment_by_charge(
    conn: &mut Conn,
    company_id: &CompanyId,
    processor_charge_id: &str,
) -> StoreResult<Option<(crate::domain::ids::PaymentId, i64, i64, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT id, amount, refunded, currency FROM payments
         WHERE company_id = $1 AND processor_charge_id = $2",
    )
    .bind(company_id)
    .bind(processor_charge_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub struct NewDispute<'a> {
    pub processor_dispute_id: &'a str,
    pub processor_charge_id: &'a str,
    pub payment_id: Option<&'a str>,
    pub amount: i64,
    pub currency: &'a str,
    pub reason: &'a str,
    pub status: &'a str,
}

/// Records a dispute once: `false` when it was known.
pub async fn insert_dispute(
    conn: &mut Conn,
    company_id: &CompanyId,
    d: &NewDispute<'_>,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "INSERT INTO processor_disputes (id, company_id, processor_dispute_id, processor_charge_id,
            payment_id, amount, currency, reason, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (company_id, processor_dispute_id) DO NOTHING",
    )
    .bind(new_id("dsp"))
    .bind(company_id)
    .bind(d.processor_dispute_id)
    .bind(d.processor_charge_id)
    .bind(d.payment_id)
    .bind(d.amount)
    .bind(d.currency)
    .bind(d.reason)
    .bind(d.status)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Serialize)]
pub struct DisputeRow {
    pub processor_dispute_id: String,
    pub payment_id: Option<String>,
    pub amount: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

pub async fn disputes(db: &Db, company_id: &CompanyId, limit: i64) -> StoreResult<Vec<DisputeRow>> {
    let rows = crate::store::sql::query(
        "SELECT processor_dispute_id, payment_id, amount, currency, reason, status, created_at
         FROM processor_disputes WHERE company_id = $1 ORDER BY created_at DESC LIMIT $2",
    )
    .bind(company_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DisputeRow {
                processor_dispute_id: r.try_get("processor_dispute_id")?,
                payment_id: r.try_get("payment_id")?,
                amount: r.try_get("amount")?,
                currency: r.try_get("currency")?,
                reason: r.try_get("reason")?,
                status: r.try_get("status")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Card payment attempts of the company still waiting for their outcome.
pub async fn pending_attempts(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT COUNT(*) FROM payment_attempts WHERE company_id = $1 AND status = 'pending'",
    )
    .bind(company_id)
    .fetch_one(&mut *conn)
    .await?)
}
