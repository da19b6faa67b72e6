//! Payments and their allocations: recording a charge, applying it to its
//! invoices, and the lists the API and the office read.

use serde::Serialize;
use time::OffsetDateTime;

use super::Attempt;
use crate::domain::Allocation;
use crate::domain::ids::{AttemptId, CompanyId, CustomerId, InvoiceId, PaymentId};
use crate::domain::money::Currency;
use crate::domain::processor::Charge;
use crate::store::{Conn, Db, StoreResult, dynamic_sql, placeholders};

/// Records a charge as a payment. `None` when this charge or attempt was
/// recorded before (unique processor charge id and attempt id guard it).
pub async fn insert_card_payment(
    tx: &mut Conn,
    attempt: &Attempt,
    charge: &Charge,
) -> StoreResult<Option<PaymentId>> {
    let id = PaymentId::new_in_order(tx.now());
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
    attempt_id: &AttemptId,
    shares: &[Allocation],
) -> StoreResult<Vec<InvoiceId>> {
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

/// A payment's allocations, in the order they were written.
pub async fn allocations_of(
    conn: &mut Conn,
    payment_id: &PaymentId,
) -> StoreResult<Vec<Allocation>> {
    let rows: Vec<(InvoiceId, i64)> = crate::store::sql::query_as(
        "SELECT invoice_id, amount FROM payment_allocations WHERE payment_id = $1 ORDER BY position",
    )
    .bind(payment_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(invoice_id, amount)| Allocation { invoice_id, amount })
        .collect())
}

pub async fn insert_allocations(
    tx: &mut Conn,
    payment_id: &PaymentId,
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

/// What the planned invoices of a late charge can still take: `(id,
/// balance)` of those open and held by no one, in the order given.
pub async fn open_unheld_balances(
    tx: &mut Conn,
    company_id: &CompanyId,
    ids: &[InvoiceId],
) -> StoreResult<Vec<(InvoiceId, i64)>> {
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
    let rows: Vec<(InvoiceId, i64)> = q.fetch_all(&mut *tx).await?;
    Ok(ids
        .iter()
        .filter_map(|id| rows.iter().find(|(r, _)| r == id).cloned())
        .collect())
}

/// Applies shares to invoices held by no one (a late charge's): each only
/// while open, unheld and owing at least its share. Returns the ids applied.
pub async fn apply_to_open_invoices(
    tx: &mut Conn,
    company_id: &CompanyId,
    shares: &[Allocation],
) -> StoreResult<Vec<InvoiceId>> {
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
    pub payment_id: PaymentId,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub unapplied: i64,
    pub currency: Currency,
    pub created_at: OffsetDateTime,
}

pub async fn unapplied_payments(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<Unapplied>> {
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
                payment_id: payment_id.into(),
                customer_id: customer_id.into(),
                customer_name,
                unapplied,
                currency: Currency::parse(&currency).unwrap_or(Currency::USD),
                created_at,
            },
        )
        .collect())
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentAllocation {
    #[schema(value_type = String)]
    pub invoice_id: InvoiceId,
    pub invoice_number: String,
    pub amount: i64,
    pub invoice_balance: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PaymentRecord {
    #[schema(value_type = String)]
    pub id: PaymentId,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    pub channel: String,
    pub method: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: &'static str,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub check_number: Option<String>,
    pub refunded: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub allocations: Vec<PaymentAllocation>,
}

/// Payments of a company (optionally one customer, or one payment), newest first.
pub async fn list(
    db: &Db,
    company_id: &CompanyId,
    customer_id: Option<&CustomerId>,
    payment_id: Option<&PaymentId>,
    limit: i64,
) -> StoreResult<Vec<PaymentRecord>> {
    let mut conn = db.reader().acquire().await?;
    list_on(&mut conn, company_id, customer_id, payment_id, limit).await
}

/// One payment of the company on a connection of the caller's (inside the
/// transaction that recorded or refunded it).
pub async fn get_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<Option<PaymentRecord>> {
    Ok(list_on(conn, company_id, None, Some(payment_id), 1)
        .await?
        .pop())
}

/// `list` on a connection of the caller's.
pub async fn list_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: Option<&CustomerId>,
    payment_id: Option<&PaymentId>,
    limit: i64,
) -> StoreResult<Vec<PaymentRecord>> {
    let rows = crate::store::sql::query(
        "SELECT p.id, p.customer_id, p.channel, p.method, p.amount, p.currency, p.card_brand, p.card_last4,
                p.check_number, p.refunded, p.created_at, a.invoice_id, a.amount AS alloc_amount,
                i.number, i.balance
         FROM (SELECT * FROM payments WHERE company_id = $1
                 AND ($2 IS NULL OR customer_id = $2) AND ($3 IS NULL OR id = $3)
               ORDER BY created_at DESC, id LIMIT $4) p
         LEFT JOIN payment_allocations a ON a.payment_id = p.id
         LEFT JOIN invoices i ON i.id = a.invoice_id
         ORDER BY p.created_at DESC, p.id, a.position, i.number",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(payment_id)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<PaymentRecord> = Vec::new();
    for row in &rows {
        let id: PaymentId = row.try_get("id")?;
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
                check_number: row.try_get("check_number")?,
                refunded,
                created_at: row.try_get("created_at")?,
                allocations: Vec::new(),
            });
        }
        if let Some(invoice_id) = row.try_get::<Option<String>, _>("invoice_id")?
            && let Some(p) = out.last_mut()
        {
            p.allocations.push(PaymentAllocation {
                invoice_id: invoice_id.into(),
                invoice_number: row.try_get("number")?,
                amount: row.try_get("alloc_amount")?,
                invoice_balance: row.try_get("balance")?,
            });
        }
    }
    Ok(out)
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
    pub customer_id: Option<CustomerId>,
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
    pub id: PaymentId,
    pub customer_id: CustomerId,
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
    company_id: &CompanyId,
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
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<Option<OfficePayment>> {
    let sql = format!("{OFFICE_PAYMENT_SELECT} WHERE p.company_id = $1 AND p.id = $2");
    let row = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(payment_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(office_payment_from_row).transpose()
}
