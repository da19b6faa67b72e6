//! Payment attempts: written (and their invoices held) before the processor
//! is called, settled by its answer.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Consent;
use crate::domain::ids::{AttemptId, CompanyId, CustomerId, InvoiceId};
use crate::domain::money::Currency;
use crate::store::{Conn, Db, StoreResult, dynamic_sql, placeholders};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlannedShare {
    pub invoice_id: InvoiceId,
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: AttemptId,
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
    pub fingerprint: String,
    pub channel: String,
    pub amount: i64,
    pub currency: Currency,
    pub plan: Vec<PlannedShare>,
    /// The payment method as the client named it (token or saved method id).
    pub payment_method: String,
    pub enroll: Option<Consent>,
    pub status: String,
    pub response_body: Option<String>,
    pub created_at: OffsetDateTime,
    /// The processor and account the attempt went to (`None`: recorded
    /// before processors were; the company's current one).
    pub processor_kind: Option<String>,
    pub processor_account: Option<String>,
    /// The processor's own id of the charge, once known.
    pub processor_ref: Option<String>,
}

const ATTEMPT_COLUMNS: &str =
    "id, company_id, customer_id, request_fingerprint, channel, amount, currency, plan,
    payment_method, enroll, status, response_body, created_at, processor_kind, processor_account,
    processor_ref";

fn attempt_from_row(row: &crate::store::sql::Row) -> StoreResult<Attempt> {
    let plan: String = row.try_get("plan")?;
    let enroll: Option<String> = row.try_get("enroll")?;
    let currency: String = row.try_get("currency")?;
    Ok(Attempt {
        id: row.try_get("id")?,
        company_id: row.try_get("company_id")?,
        customer_id: row.try_get("customer_id")?,
        fingerprint: row.try_get("request_fingerprint")?,
        channel: row.try_get("channel")?,
        amount: row.try_get("amount")?,
        currency: Currency::parse(&currency).unwrap_or(Currency::USD),
        plan: serde_json::from_str(&plan).unwrap_or_default(),
        payment_method: row.try_get("payment_method")?,
        enroll: enroll.and_then(|e| serde_json::from_str(&e).ok()),
        status: row.try_get("status")?,
        response_body: row.try_get("response_body")?,
        created_at: row.try_get("created_at")?,
        processor_kind: row.try_get("processor_kind")?,
        processor_account: row.try_get("processor_account")?,
        processor_ref: row.try_get("processor_ref")?,
    })
}

pub async fn find_attempt(
    tx: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    key: &str,
) -> StoreResult<Option<Attempt>> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts
         WHERE company_id = $1 AND customer_id = $2 AND idempotency_key = $3"
    );
    let row = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
    row.as_ref().map(attempt_from_row).transpose()
}

/// The customer of an attempt written under this key, if any (whichever
/// customer it was for).
pub async fn attempt_customer_by_key(
    conn: &mut Conn,
    company_id: &CompanyId,
    key: &str,
) -> StoreResult<Option<CustomerId>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT customer_id FROM payment_attempts
         WHERE company_id = $1 AND idempotency_key = $2 LIMIT 1",
    )
    .bind(company_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn get_attempt(
    executor: impl crate::store::sql::Executor<'_>,
    id: &AttemptId,
) -> StoreResult<Option<Attempt>> {
    let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1");
    let row = crate::store::sql::query(dynamic_sql(sql))
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(attempt_from_row).transpose()
}

/// An attempt's status (`pending`, `succeeded`, `declined`, `failed`).
pub async fn attempt_status(conn: &mut Conn, id: &AttemptId) -> StoreResult<Option<String>> {
    Ok(
        crate::store::sql::query_scalar("SELECT status FROM payment_attempts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Attempts still pending that started before `before`.
pub async fn pending_attempts(db: &Db, before: OffsetDateTime) -> StoreResult<Vec<Attempt>> {
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts
         WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT 500"
    );
    let rows = crate::store::sql::query(dynamic_sql(sql))
        .bind(before)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(attempt_from_row).collect()
}

/// Locks the customer's open, unlocked invoices among `ids` for an attempt and
/// returns `(id, balance, currency)` of those it locked.
pub async fn lock_invoices(
    tx: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    attempt_id: &AttemptId,
    ids: &[InvoiceId],
) -> StoreResult<Vec<(InvoiceId, i64, String)>> {
    let sql = format!(
        "UPDATE invoices SET locked_by_attempt = $1
         WHERE company_id = $2 AND bill_to_customer_id = $3 AND status = 'open' AND balance > 0
           AND locked_by_attempt IS NULL AND id IN ({})
         RETURNING id, balance, currency",
        placeholders(4, ids.len())
    );
    let mut q = crate::store::sql::query_as(dynamic_sql(sql))
        .bind(attempt_id)
        .bind(company_id)
        .bind(customer_id);
    for id in ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(&mut *tx).await?)
}

/// Why invoices could not be locked: `(id, status, balance, locked)` of those
/// that belong to the customer.
pub async fn invoice_states(
    tx: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    ids: &[InvoiceId],
) -> StoreResult<Vec<(InvoiceId, String, i64, bool)>> {
    let sql = format!(
        "SELECT id, status, balance, locked_by_attempt IS NOT NULL FROM invoices
         WHERE company_id = $1 AND bill_to_customer_id = $2 AND id IN ({})",
        placeholders(3, ids.len())
    );
    let mut q = crate::store::sql::query_as(dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id);
    for id in ids {
        q = q.bind(id);
    }
    Ok(q.fetch_all(&mut *tx).await?)
}

pub struct NewAttempt<'a> {
    pub id: &'a AttemptId,
    pub company_id: &'a CompanyId,
    pub customer_id: &'a CustomerId,
    pub idempotency_key: &'a str,
    pub fingerprint: &'a str,
    pub channel: &'a str,
    pub amount: i64,
    pub currency: Currency,
    pub plan: &'a [PlannedShare],
    pub payment_method: &'a str,
    pub enroll: Option<&'a Consent>,
    pub processor_kind: &'a str,
    pub processor_account: &'a str,
}

/// Writes a pending attempt; `false` when its idempotency key was used before.
pub async fn insert_attempt(tx: &mut Conn, a: &NewAttempt<'_>) -> StoreResult<bool> {
    let t = tx.now();
    let done = crate::store::sql::query(
        "INSERT INTO payment_attempts (id, company_id, customer_id, idempotency_key, request_fingerprint,
            channel, amount, currency, plan, payment_method, enroll, status, created_at, updated_at,
            processor_kind, processor_account)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, $12, $13, $14)
         ON CONFLICT (company_id, customer_id, idempotency_key) DO NOTHING",
    )
    .bind(a.id)
    .bind(a.company_id)
    .bind(a.customer_id)
    .bind(a.idempotency_key)
    .bind(a.fingerprint)
    .bind(a.channel)
    .bind(a.amount)
    .bind(a.currency.code())
    .bind(serde_json::to_string(a.plan).unwrap_or_default())
    .bind(a.payment_method)
    .bind(a.enroll.map(|c| serde_json::to_string(c).unwrap_or_default()))
    .bind(t)
    .bind(a.processor_kind)
    .bind(a.processor_account)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends a pending attempt without a payment (declined or failed) and frees
/// its invoices. `false` (nothing changed) when it was no longer pending.
pub async fn settle_unpaid(
    tx: &mut Conn,
    attempt_id: &AttemptId,
    status: &str,
    decline_code: &str,
    response_body: &str,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE payment_attempts SET status = $1, decline_code = $2, response_body = $3, updated_at = $4
         WHERE id = $5 AND status = 'pending'",
    )
    .bind(status)
    .bind(decline_code)
    .bind(response_body)
    .bind(tx.now())
    .bind(attempt_id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    release_locks(tx, attempt_id).await?;
    Ok(true)
}

/// The processor's id of a pending attempt's charge, once it is known.
pub async fn set_processor_ref(
    tx: &mut Conn,
    attempt_id: &AttemptId,
    reference: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE payment_attempts SET processor_ref = $1
         WHERE id = $2 AND status = 'pending' AND processor_ref IS NULL",
    )
    .bind(reference)
    .bind(attempt_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn release_locks(tx: &mut Conn, attempt_id: &AttemptId) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE invoices SET locked_by_attempt = NULL WHERE locked_by_attempt = $1",
    )
    .bind(attempt_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks an attempt succeeded: a pending one, or (`late`) one settled as
/// unpaid before its charge was found. `false` when its state was neither.
pub async fn mark_succeeded(
    tx: &mut Conn,
    attempt_id: &AttemptId,
    charge_id: &str,
    response_body: &str,
    late: bool,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE payment_attempts SET status = 'succeeded', processor_charge_id = $1, response_body = $2,
            updated_at = $3
         WHERE id = $4 AND (status = 'pending' OR ($5 AND status IN ('declined', 'failed')))",
    )
    .bind(charge_id)
    .bind(response_body)
    .bind(tx.now())
    .bind(attempt_id)
    .bind(late)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}
