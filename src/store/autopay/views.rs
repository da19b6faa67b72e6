//! What the office's autopay overview lists: the last run's results, the
//! invoices being retried or given up on, how many customers are enrolled.

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::domain::ids::CompanyId;
use crate::store::{Db, StoreResult};

/// A settled autopay attempt as the office sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub attempt_id: String,
    pub customer_id: String,
    pub customer_name: String,
    pub outcome: String,
    pub amount: i64,
    pub currency: String,
    pub code: Option<String>,
    pub payment_id: Option<String>,
    pub next_try_on: Option<Date>,
    pub invoice_numbers: String,
    pub settled_at: OffsetDateTime,
}

/// The results of the company's last run that settled autopay attempts.
pub async fn last_run_results(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<ResultRow>> {
    let rows = crate::store::sql::query(
        "SELECT r.attempt_id, r.customer_id, c.name, r.outcome, r.amount, r.currency, r.code,
                r.payment_id, r.next_try_on, r.invoice_numbers, r.settled_at
         FROM autopay_results r JOIN customers c ON c.id = r.customer_id
         WHERE r.company_id = $1
           AND r.settled_at = (SELECT max(settled_at) FROM autopay_results WHERE company_id = $1)
         ORDER BY c.name, r.attempt_id LIMIT 500",
    )
    .bind(company_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ResultRow {
                attempt_id: r.try_get("attempt_id")?,
                customer_id: r.try_get("customer_id")?,
                customer_name: r.try_get("name")?,
                outcome: r.try_get("outcome")?,
                amount: r.try_get("amount")?,
                currency: r.try_get("currency")?,
                code: r.try_get("code")?,
                payment_id: r.try_get("payment_id")?,
                next_try_on: r.try_get("next_try_on")?,
                invoice_numbers: r.try_get("invoice_numbers")?,
                settled_at: r.try_get("settled_at")?,
            })
        })
        .collect()
}

/// An invoice autopay is retrying or gave up on, still open.
#[derive(Debug, Clone, Serialize)]
pub struct ItemRow {
    pub invoice_id: String,
    pub number: String,
    pub customer_id: String,
    pub customer_name: String,
    pub balance: i64,
    pub currency: String,
    pub failures: i64,
    pub next_try_on: Option<Date>,
    pub last_code: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// Open invoices with autopay state `status` (`retrying` or `failed`).
pub async fn items(db: &Db, company_id: &CompanyId, status: &str) -> StoreResult<Vec<ItemRow>> {
    let rows = crate::store::sql::query(
        "SELECT it.invoice_id, i.number, it.customer_id, c.name, i.balance, i.currency, it.failures,
                it.next_try_on, it.last_code, it.updated_at
         FROM autopay_items it
         JOIN invoices i ON i.id = it.invoice_id
         JOIN customers c ON c.id = it.customer_id
         WHERE it.company_id = $1 AND it.status = $2 AND i.status = 'open' AND i.balance > 0
         ORDER BY it.next_try_on, it.updated_at DESC LIMIT 500",
    )
    .bind(company_id)
    .bind(status)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ItemRow {
                invoice_id: r.try_get("invoice_id")?,
                number: r.try_get("number")?,
                customer_id: r.try_get("customer_id")?,
                customer_name: r.try_get("name")?,
                balance: r.try_get("balance")?,
                currency: r.try_get("currency")?,
                failures: r.try_get("failures")?,
                next_try_on: r.try_get("next_try_on")?,
                last_code: r.try_get("last_code")?,
                updated_at: r.try_get("updated_at")?,
            })
        })
        .collect()
}

/// How many customers of the company have autopay on.
pub async fn enrolled_count(db: &Db, company_id: &CompanyId) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT COUNT(*) FROM autopay_enrollments WHERE company_id = $1 AND cancelled_at IS NULL",
    )
    .bind(company_id)
    .fetch_one(db.reader())
    .await?)
}
