//! Settling autopay attempts: the invoices of an attempt's plan, each
//! invoice's retry state, the result of each attempt, and what its messages
//! show.

use std::collections::HashMap;

use time::{Date, OffsetDateTime};

use super::ItemState;
use crate::domain::ids::{AttemptId, CardId, CompanyId, InvoiceId};
use crate::store::{Conn, Db, StoreResult, dynamic_sql, placeholders};

/// An invoice of an attempt's plan: number and dates, and autopay's state.
#[derive(Debug, Clone)]
pub struct PlannedInvoice {
    pub invoice_id: String,
    pub number: String,
    pub issue_date: Date,
    pub due_date: Date,
    pub item: Option<ItemState>,
}

pub async fn planned_invoices(
    conn: &mut Conn,
    company_id: &CompanyId,
    ids: &[String],
) -> StoreResult<Vec<PlannedInvoice>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT i.id, i.number, i.issue_date, i.due_date, it.charge_on, it.failures,
                it.status AS item_status, it.next_try_on, it.last_code
         FROM invoices i LEFT JOIN autopay_items it ON it.invoice_id = i.id
         WHERE i.company_id = $1 AND i.id IN ({})",
        placeholders(2, ids.len())
    );
    let mut q = crate::store::sql::query(dynamic_sql(sql)).bind(company_id);
    for id in ids {
        q = q.bind(id);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    let mut by_id: HashMap<String, PlannedInvoice> = HashMap::new();
    for r in &rows {
        let status: Option<String> = r.try_get("item_status")?;
        let item = match status {
            Some(status) => Some(ItemState {
                charge_on: r.try_get("charge_on")?,
                failures: r.try_get("failures")?,
                status,
                next_try_on: r.try_get("next_try_on")?,
                last_code: r.try_get("last_code")?,
            }),
            None => None,
        };
        let id: String = r.try_get("id")?;
        by_id.insert(
            id.clone(),
            PlannedInvoice {
                invoice_id: id,
                number: r.try_get("number")?,
                issue_date: r.try_get("issue_date")?,
                due_date: r.try_get("due_date")?,
                item,
            },
        );
    }
    // In the plan's order.
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Writes an invoice's autopay state after a try.
pub struct ItemUpdate<'a> {
    pub invoice_id: &'a str,
    pub company_id: &'a CompanyId,
    pub customer_id: &'a str,
    pub charge_on: Date,
    pub failures: i64,
    pub status: &'a str,
    pub next_try_on: Option<Date>,
    pub last_code: Option<&'a str>,
    pub attempt_id: &'a str,
}

pub async fn set_item(conn: &mut Conn, u: &ItemUpdate<'_>) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO autopay_items (invoice_id, company_id, customer_id, charge_on, failures, status,
            next_try_on, last_code, last_attempt_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (invoice_id) DO UPDATE SET failures = excluded.failures, status = excluded.status,
            next_try_on = excluded.next_try_on, last_code = excluded.last_code,
            last_attempt_id = excluded.last_attempt_id, updated_at = excluded.updated_at",
    )
    .bind(u.invoice_id)
    .bind(u.company_id)
    .bind(u.customer_id)
    .bind(u.charge_on)
    .bind(u.failures)
    .bind(u.status)
    .bind(u.next_try_on)
    .bind(u.last_code)
    .bind(u.attempt_id)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a settled autopay attempt came to.
pub struct NewResult<'a> {
    pub attempt_id: &'a str,
    pub company_id: &'a CompanyId,
    pub customer_id: &'a str,
    /// `paid`, `retry`, `dropped` or `not_charged`.
    pub outcome: &'a str,
    pub amount: i64,
    pub currency: &'a str,
    pub code: Option<&'a str>,
    pub payment_id: Option<&'a str>,
    pub next_try_on: Option<Date>,
    pub invoice_numbers: &'a str,
    pub settled_at: OffsetDateTime,
}

/// Records a result once per attempt; `false` when it was recorded before
/// (the attempt was settled twice: the run and reconciliation raced).
pub async fn insert_result(conn: &mut Conn, r: &NewResult<'_>) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "INSERT INTO autopay_results (attempt_id, company_id, customer_id, outcome, amount, currency,
            code, payment_id, next_try_on, invoice_numbers, settled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (attempt_id) DO NOTHING",
    )
    .bind(r.attempt_id)
    .bind(r.company_id)
    .bind(r.customer_id)
    .bind(r.outcome)
    .bind(r.amount)
    .bind(r.currency)
    .bind(r.code)
    .bind(r.payment_id)
    .bind(r.next_try_on)
    .bind(r.invoice_numbers)
    .bind(r.settled_at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// What a declined autopay attempt's message shows.
#[derive(Debug, Clone)]
pub struct DeclineInfo {
    pub amount: i64,
    pub currency: String,
    pub decline_code: Option<String>,
    pub method_id: CardId,
    pub next_try_on: Option<Date>,
}

pub async fn decline_info(
    db: &Db,
    company_id: &CompanyId,
    attempt_id: &AttemptId,
) -> StoreResult<Option<DeclineInfo>> {
    let row = crate::store::sql::query(
        "SELECT a.amount, a.currency, a.decline_code, a.payment_method, r.next_try_on
         FROM payment_attempts a LEFT JOIN autopay_results r ON r.attempt_id = a.id
         WHERE a.company_id = $1 AND a.id = $2",
    )
    .bind(company_id)
    .bind(attempt_id)
    .fetch_optional(db.reader())
    .await?;
    row.map(|r| {
        Ok(DeclineInfo {
            amount: r.try_get("amount")?,
            currency: r.try_get("currency")?,
            decline_code: r.try_get("decline_code")?,
            method_id: r.try_get("payment_method")?,
            next_try_on: r.try_get("next_try_on")?,
        })
    })
    .transpose()
}

/// A card's brand, last 4 and expiry (even if removed since), scoped by company.
pub async fn card(
    db: &Db,
    company_id: &CompanyId,
    method_id: &CardId,
) -> StoreResult<Option<(String, String, i64, i64)>> {
    Ok(crate::store::sql::query_as(
        "SELECT brand, last4, exp_month, exp_year FROM payment_methods WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(method_id)
    .fetch_optional(db.reader())
    .await?)
}

/// The card autopay would use for an invoice now (the property's card, else
/// the enrollment's), if the bill-to customer is enrolled.
pub async fn card_for_invoice(
    db: &Db,
    company_id: &CompanyId,
    invoice_id: &InvoiceId,
) -> StoreResult<Option<(String, String, i64, i64)>> {
    Ok(crate::store::sql::query_as(
        "SELECT m.brand, m.last4, m.exp_month, m.exp_year
         FROM invoices i
         JOIN autopay_enrollments e ON e.customer_id = i.bill_to_customer_id AND e.company_id = i.company_id
              AND e.cancelled_at IS NULL
         LEFT JOIN autopay_property_methods pm ON pm.enrollment_id = e.id AND pm.property_id = i.property_id
         LEFT JOIN payment_methods om ON om.id = pm.payment_method_id AND om.removed_at IS NULL
         JOIN payment_methods m ON m.id = coalesce(om.id, e.payment_method_id)
         WHERE i.company_id = $1 AND i.id = $2",
    )
    .bind(company_id)
    .bind(invoice_id)
    .fetch_optional(db.reader())
    .await?)
}
