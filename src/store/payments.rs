//! Payment attempts, payments, allocations, saved methods and autopay enrollments.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::{Conn, Db, StoreResult, dynamic_sql, placeholders};
use crate::crypto::new_id;
use crate::domain::Allocation;
use crate::domain::money::Currency;
use crate::domain::processor::Charge;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PlannedShare {
    pub invoice_id: String,
    pub amount: i64,
}

/// The consent a customer gave to autopay, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Consent {
    pub text: String,
    pub ip: String,
    pub user_agent: String,
    pub channel: String,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub starts_on: Date,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub id: String,
    pub company_id: String,
    pub customer_id: String,
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
    company_id: &str,
    customer_id: &str,
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

pub async fn get_attempt(
    executor: impl crate::store::sql::Executor<'_>,
    id: &str,
) -> StoreResult<Option<Attempt>> {
    let sql = format!("SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1");
    let row = crate::store::sql::query(dynamic_sql(sql))
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.as_ref().map(attempt_from_row).transpose()
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
    company_id: &str,
    customer_id: &str,
    attempt_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(String, i64, String)>> {
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
    company_id: &str,
    customer_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(String, String, i64, bool)>> {
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
    pub id: &'a str,
    pub company_id: &'a str,
    pub customer_id: &'a str,
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
    attempt_id: &str,
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
    attempt_id: &str,
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

pub async fn release_locks(tx: &mut Conn, attempt_id: &str) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE invoices SET locked_by_attempt = NULL WHERE locked_by_attempt = $1",
    )
    .bind(attempt_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Records a charge as a payment. `None` when this charge or attempt was
/// recorded before (unique processor charge id and attempt id guard it).
pub async fn insert_card_payment(
    tx: &mut Conn,
    attempt: &Attempt,
    charge: &Charge,
) -> StoreResult<Option<String>> {
    let id = new_id("pay");
    let inserted = crate::store::sql::query(
        "INSERT INTO payments (id, company_id, customer_id, attempt_id, channel, method, amount, currency,
            processor_charge_id, card_brand, card_last4, created_at, processor_kind, processor_account)
         VALUES ($1, $2, $3, $4, $5, 'card', $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
    )
    .bind(&id)
    .bind(&attempt.company_id)
    .bind(&attempt.customer_id)
    .bind(&attempt.id)
    .bind(&attempt.channel)
    .bind(charge.amount.minor)
    .bind(charge.amount.currency.code())
    .bind(&charge.id)
    .bind(&charge.card.brand)
    .bind(&charge.card.last4)
    .bind(tx.now())
    .bind(&attempt.processor_kind)
    .bind(&attempt.processor_account)
    .execute(&mut *tx)
    .await?;
    Ok((inserted.rows_affected() > 0).then_some(id))
}

/// Lowers the balances of the invoices an attempt still holds by their
/// shares (paid at zero) and releases them, in one statement. Returns the ids
/// it applied to: an invoice no longer held by the attempt is left alone.
pub async fn apply_to_held_invoices(
    tx: &mut Conn,
    attempt_id: &str,
    shares: &[Allocation],
) -> StoreResult<Vec<String>> {
    if shares.is_empty() {
        return Ok(Vec::new());
    }
    // $1 attempt; then (id, amount) pairs from $2.
    let case: String = (0..shares.len())
        .map(|i| format!(" WHEN ${} THEN ${}", 2 + 2 * i, 3 + 2 * i))
        .collect();
    let share = format!("(CASE id{case} ELSE 0 END)");
    let ids = (0..shares.len())
        .map(|i| format!("${}", 2 + 2 * i))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE invoices SET applied = applied + {share}, balance = balance - {share},
            status = CASE WHEN balance - {share} = 0 THEN 'paid' ELSE status END,
            locked_by_attempt = NULL
         WHERE locked_by_attempt = $1 AND id IN ({ids})
         RETURNING id"
    );
    let mut q = crate::store::sql::query_scalar(dynamic_sql(sql)).bind(attempt_id);
    for a in shares {
        q = q.bind(&a.invoice_id).bind(a.amount);
    }
    Ok(q.fetch_all(&mut *tx).await?)
}

pub async fn insert_allocations(
    tx: &mut Conn,
    payment_id: &str,
    allocations: &[Allocation],
) -> StoreResult<()> {
    if allocations.is_empty() {
        return Ok(());
    }
    let values: Vec<String> = (0..allocations.len())
        .map(|i| format!("($1, ${}, ${}, {i})", 2 + 2 * i, 3 + 2 * i))
        .collect();
    let sql = format!(
        "INSERT INTO payment_allocations (payment_id, invoice_id, amount, position) VALUES {}",
        values.join(", ")
    );
    let mut q = crate::store::sql::query(dynamic_sql(sql)).bind(payment_id);
    for a in allocations {
        q = q.bind(&a.invoice_id).bind(a.amount);
    }
    q.execute(&mut *tx).await?;
    Ok(())
}

/// Marks an attempt succeeded: a pending one, or (`late`) one settled as
/// unpaid before its charge was found. `false` when its state was neither.
pub async fn mark_succeeded(
    tx: &mut Conn,
    attempt_id: &str,
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

/// What the planned invoices of a late charge can still take: `(id,
/// balance)` of those open and held by no one, in the order given.
pub async fn open_unheld_balances(
    tx: &mut Conn,
    company_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(String, i64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, balance FROM invoices
         WHERE company_id = $1 AND status = 'open' AND balance > 0 AND locked_by_attempt IS NULL
           AND id IN ({})",
        placeholders(2, ids.len())
    );
    let mut q = crate::store::sql::query_as(dynamic_sql(sql)).bind(company_id);
    for id in ids {
        q = q.bind(id);
    }
    let rows: Vec<(String, i64)> = q.fetch_all(&mut *tx).await?;
    Ok(ids
        .iter()
        .filter_map(|id| rows.iter().find(|(r, _)| r == id).cloned())
        .collect())
}

/// Applies shares to invoices held by no one (a late charge's): each only
/// while open, unheld and owing at least its share. Returns the ids applied.
pub async fn apply_to_open_invoices(
    tx: &mut Conn,
    company_id: &str,
    shares: &[Allocation],
) -> StoreResult<Vec<String>> {
    let mut applied = Vec::new();
    for a in shares {
        let done = crate::store::sql::query(
            "UPDATE invoices SET applied = applied + $1, balance = balance - $1,
                status = CASE WHEN balance - $1 = 0 THEN 'paid' ELSE status END
             WHERE id = $2 AND company_id = $3 AND status = 'open' AND locked_by_attempt IS NULL
               AND balance >= $1",
        )
        .bind(a.amount)
        .bind(&a.invoice_id)
        .bind(company_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            applied.push(a.invoice_id.clone());
        }
    }
    Ok(applied)
}

/// Card payments with money no invoice took and no refund gave back: a
/// charge that came in after its invoices were paid another way. The
/// office decides (refund it, or apply it) and sees them until it has.
#[derive(Debug, Clone, Serialize)]
pub struct Unapplied {
    pub payment_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub unapplied: i64,
    pub currency: Currency,
    pub created_at: OffsetDateTime,
}

pub async fn unapplied_payments(db: &Db, company_id: &str) -> StoreResult<Vec<Unapplied>> {
    let rows: Vec<(String, String, String, i64, String, OffsetDateTime)> =
        crate::store::sql::query_as(
            "SELECT p.id, p.customer_id, c.name,
                    p.amount - p.refunded - coalesce((SELECT CAST(sum(a.amount) AS BIGINT)
                        FROM payment_allocations a WHERE a.payment_id = p.id), 0) AS unapplied,
                    p.currency, p.created_at
             FROM payments p JOIN customers c ON c.id = p.customer_id
             WHERE p.company_id = $1 AND p.method = 'card'
               AND p.amount - p.refunded > coalesce((SELECT CAST(sum(a.amount) AS BIGINT)
                        FROM payment_allocations a WHERE a.payment_id = p.id), 0)
             ORDER BY p.created_at DESC LIMIT 100",
        )
        .bind(company_id)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(payment_id, customer_id, customer_name, unapplied, currency, created_at)| Unapplied {
                payment_id,
                customer_id,
                customer_name,
                unapplied,
                currency: Currency::parse(&currency).unwrap_or(Currency::USD),
                created_at,
            },
        )
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct SavedMethod {
    pub id: String,
    #[serde(skip)]
    pub processor_method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

pub async fn saved_method(
    db: &Db,
    company_id: &str,
    customer_id: &str,
    id: &str,
) -> StoreResult<Option<SavedMethod>> {
    let row: Option<(String, String, String, String, i64, i64)> = crate::store::sql::query_as(
        "SELECT id, processor_method_id, brand, last4, exp_month, exp_year FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND id = $3 AND removed_at IS NULL",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(
        |(id, processor_method_id, brand, last4, exp_month, exp_year)| SavedMethod {
            id,
            processor_method_id,
            brand,
            last4,
            exp_month,
            exp_year,
        },
    ))
}

pub async fn insert_method(
    tx: &mut Conn,
    company_id: &str,
    customer_id: &str,
    processor_method_id: &str,
    card: &crate::domain::processor::CardSummary,
) -> StoreResult<String> {
    let id = new_id("pmt");
    crate::store::sql::query(
        "INSERT INTO payment_methods (id, company_id, customer_id, processor_method_id, brand, last4,
            exp_month, exp_year, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(customer_id)
    .bind(processor_method_id)
    .bind(&card.brand)
    .bind(&card.last4)
    .bind(card.exp_month)
    .bind(card.exp_year)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Replaces the customer's autopay enrollment with one for `method_id`.
pub async fn enroll_autopay(
    tx: &mut Conn,
    company_id: &str,
    customer_id: &str,
    method_id: &str,
    consent: &Consent,
) -> StoreResult<String> {
    let t = tx.now();
    crate::store::sql::query(
        "UPDATE autopay_enrollments SET cancelled_at = $1 WHERE customer_id = $2 AND cancelled_at IS NULL",
    )
    .bind(t)
    .bind(customer_id)
    .execute(&mut *tx)
    .await?;
    let id = new_id("ape");
    crate::store::sql::query(
        "INSERT INTO autopay_enrollments (id, company_id, customer_id, payment_method_id, consent_text,
            consent_at, consent_ip, consent_user_agent, channel, starts_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(customer_id)
    .bind(method_id)
    .bind(&consent.text)
    .bind(t)
    .bind(&consent.ip)
    .bind(&consent.user_agent)
    .bind(&consent.channel)
    .bind(consent.starts_on)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentAllocation {
    pub invoice_id: String,
    pub invoice_number: String,
    pub amount: i64,
    pub invoice_balance: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentRecord {
    pub id: String,
    pub customer_id: String,
    pub channel: String,
    pub method: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: &'static str,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub refunded: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub allocations: Vec<PaymentAllocation>,
}

/// Payments of a company (optionally one customer, or one payment), newest first.
pub async fn list(
    db: &Db,
    company_id: &str,
    customer_id: Option<&str>,
    payment_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<PaymentRecord>> {
    let rows = crate::store::sql::query(
        "SELECT p.id, p.customer_id, p.channel, p.method, p.amount, p.currency, p.card_brand, p.card_last4,
                p.refunded, p.created_at, a.invoice_id, a.amount AS alloc_amount, i.number, i.balance
         FROM (SELECT * FROM payments WHERE company_id = $1
                 AND ($2 IS NULL OR customer_id = $2) AND ($3 IS NULL OR id = $3)
               ORDER BY created_at DESC, id LIMIT $4) p
         LEFT JOIN payment_allocations a ON a.payment_id = p.id
         LEFT JOIN invoices i ON i.id = a.invoice_id
         ORDER BY p.created_at DESC, p.id, i.number",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(payment_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    let mut out: Vec<PaymentRecord> = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        if out.last().map(|p| p.id != id).unwrap_or(true) {
            let currency: String = row.try_get("currency")?;
            let amount: i64 = row.try_get("amount")?;
            let refunded: i64 = row.try_get("refunded")?;
            out.push(PaymentRecord {
                id,
                customer_id: row.try_get("customer_id")?,
                channel: row.try_get("channel")?,
                method: row.try_get("method")?,
                amount,
                currency: Currency::parse(&currency).unwrap_or(Currency::USD),
                status: if refunded == 0 {
                    "succeeded"
                } else if refunded < amount {
                    "partially_refunded"
                } else {
                    "refunded"
                },
                card_brand: row.try_get("card_brand")?,
                card_last4: row.try_get("card_last4")?,
                refunded,
                created_at: row.try_get("created_at")?,
                allocations: Vec::new(),
            });
        }
        if let Some(invoice_id) = row.try_get::<Option<String>, _>("invoice_id")?
            && let Some(p) = out.last_mut()
        {
            p.allocations.push(PaymentAllocation {
                invoice_id,
                invoice_number: row.try_get("number")?,
                amount: row.try_get("alloc_amount")?,
                invoice_balance: row.try_get("balance")?,
            });
        }
    }
    Ok(out)
}

/// The card autopay charges for a customer, if enrolled.
pub async fn active_autopay(db: &Db, customer_id: &str) -> StoreResult<Option<SavedMethod>> {
    let row: Option<(String, String, String, String, i64, i64)> = crate::store::sql::query_as(
        "SELECT m.id, m.processor_method_id, m.brand, m.last4, m.exp_month, m.exp_year
         FROM autopay_enrollments e JOIN payment_methods m ON m.id = e.payment_method_id
         WHERE e.customer_id = $1 AND e.cancelled_at IS NULL",
    )
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(
        |(id, processor_method_id, brand, last4, exp_month, exp_year)| SavedMethod {
            id,
            processor_method_id,
            brand,
            last4,
            exp_month,
            exp_year,
        },
    ))
}

// ------------------------------------------------------------ office payments

/// The customer's saved cards, newest first.
pub async fn saved_methods(
    db: &Db,
    company_id: &str,
    customer_id: &str,
) -> StoreResult<Vec<SavedMethod>> {
    let rows: Vec<(String, String, String, String, i64, i64)> = crate::store::sql::query_as(
        "SELECT id, processor_method_id, brand, last4, exp_month, exp_year FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND removed_at IS NULL
         ORDER BY created_at DESC, id",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, processor_method_id, brand, last4, exp_month, exp_year)| SavedMethod {
                id,
                processor_method_id,
                brand,
                last4,
                exp_month,
                exp_year,
            },
        )
        .collect())
}

/// An invoice an office payment can pay.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PayableInvoice {
    pub id: String,
    pub number: String,
    pub address: String,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub due_date: Date,
    pub currency: String,
    pub total: i64,
    pub balance: i64,
    /// Held by a payment in progress.
    pub locked: bool,
}

/// The customer's open invoices with a balance, oldest due first.
pub async fn office_open_invoices(
    db: &Db,
    company_id: &str,
    customer_id: &str,
) -> StoreResult<Vec<PayableInvoice>> {
    let rows = crate::store::sql::query(
        "SELECT i.id, i.number, p.address, i.due_date, i.currency, i.total, i.balance,
                i.locked_by_attempt IS NOT NULL AS locked
         FROM invoices i JOIN properties p ON p.id = i.property_id
         WHERE i.bill_to_customer_id = $2 AND i.company_id = $1 AND i.status = 'open' AND i.balance > 0
         ORDER BY i.due_date, i.number",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(payable_from_row).collect()
}

fn payable_from_row(r: &crate::store::sql::Row) -> StoreResult<PayableInvoice> {
    Ok(PayableInvoice {
        id: r.try_get("id")?,
        number: r.try_get("number")?,
        address: r.try_get("address")?,
        due_date: r.try_get("due_date")?,
        currency: r.try_get("currency")?,
        total: r.try_get("total")?,
        balance: r.try_get("balance")?,
        locked: r.try_get("locked")?,
    })
}

/// The given invoices of a customer as they stand now, with their status:
/// `(invoice, status)`; ids that are not the customer's are left out.
pub async fn office_invoice_states(
    conn: &mut Conn,
    company_id: &str,
    customer_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(PayableInvoice, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT i.id, i.number, p.address, i.due_date, i.currency, i.total, i.balance,
                i.locked_by_attempt IS NOT NULL AS locked, i.status
         FROM invoices i JOIN properties p ON p.id = i.property_id
         WHERE i.company_id = $1 AND i.bill_to_customer_id = $2 AND i.id IN ({})",
        placeholders(3, ids.len())
    );
    let mut q = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id);
    for id in ids {
        q = q.bind(id);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    rows.iter()
        .map(|r| Ok((payable_from_row(r)?, r.try_get("status")?)))
        .collect()
}

/// The office payment recorded under a form's key, if any.
pub async fn find_by_office_key(
    conn: &mut Conn,
    company_id: &str,
    key: &str,
) -> StoreResult<Option<String>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT id FROM payments WHERE company_id = $1 AND office_key = $2",
    )
    .bind(company_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Applies a cash or check share to an open invoice nobody is paying right
/// now; `false` (nothing changed) when the invoice is no longer like that.
pub async fn apply_office_share(
    conn: &mut Conn,
    company_id: &str,
    customer_id: &str,
    share: &Allocation,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE invoices SET applied = applied + $1, balance = balance - $1,
            status = CASE WHEN balance - $1 = 0 THEN 'paid' ELSE status END
         WHERE id = $2 AND company_id = $3 AND bill_to_customer_id = $4 AND status = 'open'
           AND $1 > 0 AND balance >= $1 AND locked_by_attempt IS NULL",
    )
    .bind(share.amount)
    .bind(&share.invoice_id)
    .bind(company_id)
    .bind(customer_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub struct NewOfficePayment<'a> {
    pub company_id: &'a str,
    pub customer_id: &'a str,
    /// `cash` or `check`.
    pub method: &'a str,
    pub amount: i64,
    pub currency: Currency,
    pub check_number: Option<&'a str>,
    pub recorded_by: &'a str,
    pub office_key: &'a str,
}

/// Records a cash or check payment (channel `office`); returns its id.
pub async fn insert_office_payment(
    conn: &mut Conn,
    p: &NewOfficePayment<'_>,
) -> StoreResult<String> {
    let id = new_id("pay");
    crate::store::sql::query(
        "INSERT INTO payments (id, company_id, customer_id, attempt_id, channel, method, amount, currency,
            processor_charge_id, check_number, recorded_by, office_key, created_at)
         VALUES ($1, $2, $3, NULL, 'office', $4, $5, $6, NULL, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(p.company_id)
    .bind(p.customer_id)
    .bind(p.method)
    .bind(p.amount)
    .bind(p.currency.code())
    .bind(p.check_number)
    .bind(p.recorded_by)
    .bind(p.office_key)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Names the office user who took a card payment.
pub async fn set_recorded_by(
    conn: &mut Conn,
    company_id: &str,
    payment_id: &str,
    user_id: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE payments SET recorded_by = $1 WHERE id = $2 AND company_id = $3 AND recorded_by IS NULL",
    )
    .bind(user_id)
    .bind(payment_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Filters of the office payments list.
#[derive(Debug, Clone, Default)]
pub struct OfficeFilter {
    pub channel: Option<String>,
    pub method: Option<String>,
    /// Created at or after this instant.
    pub from: Option<OffsetDateTime>,
    /// Created before this instant.
    pub until: Option<OffsetDateTime>,
    pub customer_id: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct OfficeTotals {
    pub count: i64,
    pub amount: i64,
    pub refunded: i64,
}

/// A payment as the office sees it.
#[derive(Debug, Clone, Serialize)]
pub struct OfficePayment {
    pub id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub channel: String,
    pub method: String,
    pub amount: i64,
    pub currency: Currency,
    pub refunded: i64,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub check_number: Option<String>,
    pub processor_charge_id: Option<String>,
    pub recorded_by: Option<String>,
    pub created_at: OffsetDateTime,
    /// Invoice numbers paid, comma-separated.
    pub invoices: String,
}

const OFFICE_PAYMENT_SELECT: &str =
    "SELECT p.id, p.customer_id, c.name AS customer_name, p.channel, p.method,
        p.amount, p.currency, p.refunded, p.card_brand, p.card_last4, p.check_number,
        p.processor_charge_id, coalesce(u.email, p.recorded_by) AS recorded_by, p.created_at,
        coalesce((SELECT group_concat(i.number, ', ') FROM payment_allocations a
                  JOIN invoices i ON i.id = a.invoice_id WHERE a.payment_id = p.id), '') AS invoices
     FROM payments p
     JOIN customers c ON c.id = p.customer_id
     LEFT JOIN office_users u ON u.id = p.recorded_by";

fn office_payment_from_row(r: &crate::store::sql::Row) -> StoreResult<OfficePayment> {
    let currency: String = r.try_get("currency")?;
    Ok(OfficePayment {
        id: r.try_get("id")?,
        customer_id: r.try_get("customer_id")?,
        customer_name: r.try_get("customer_name")?,
        channel: r.try_get("channel")?,
        method: r.try_get("method")?,
        amount: r.try_get("amount")?,
        currency: Currency::parse(&currency).unwrap_or(Currency::USD),
        refunded: r.try_get("refunded")?,
        card_brand: r.try_get("card_brand")?,
        card_last4: r.try_get("card_last4")?,
        check_number: r.try_get("check_number")?,
        processor_charge_id: r.try_get("processor_charge_id")?,
        recorded_by: r.try_get("recorded_by")?,
        created_at: r.try_get("created_at")?,
        invoices: r.try_get("invoices")?,
    })
}

const OFFICE_FILTER: &str =
    "p.company_id = $1 AND ($2 IS NULL OR p.channel = $2) AND ($3 IS NULL OR p.method = $3)
     AND ($4 IS NULL OR p.created_at >= $4) AND ($5 IS NULL OR p.created_at < $5)
     AND ($6 IS NULL OR p.customer_id = $6)";

/// The company's payments matching `f`, newest first (at most `limit`), and
/// the totals of all that match.
pub async fn office_list(
    db: &Db,
    company_id: &str,
    f: &OfficeFilter,
    limit: i64,
) -> StoreResult<(OfficeTotals, Vec<OfficePayment>)> {
    let totals_sql = format!(
        "SELECT count(*), CAST(coalesce(sum(p.amount), 0) AS BIGINT), CAST(coalesce(sum(p.refunded), 0) AS BIGINT)
         FROM payments p WHERE {OFFICE_FILTER}"
    );
    let (count, amount, refunded): (i64, i64, i64) =
        crate::store::sql::query_as(dynamic_sql(totals_sql))
            .bind(company_id)
            .bind(&f.channel)
            .bind(&f.method)
            .bind(f.from)
            .bind(f.until)
            .bind(&f.customer_id)
            .fetch_one(db.reader())
            .await?;
    let sql = format!(
        "{OFFICE_PAYMENT_SELECT} WHERE {OFFICE_FILTER} ORDER BY p.created_at DESC, p.id LIMIT $7"
    );
    let rows = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(&f.channel)
        .bind(&f.method)
        .bind(f.from)
        .bind(f.until)
        .bind(&f.customer_id)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    let list = rows
        .iter()
        .map(office_payment_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((
        OfficeTotals {
            count,
            amount,
            refunded,
        },
        list,
    ))
}

/// One payment of the company, or `None` (another company's id too).
pub async fn office_get(
    conn: &mut Conn,
    company_id: &str,
    payment_id: &str,
) -> StoreResult<Option<OfficePayment>> {
    let sql = format!("{OFFICE_PAYMENT_SELECT} WHERE p.company_id = $1 AND p.id = $2");
    let row = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(office_payment_from_row).transpose()
}
