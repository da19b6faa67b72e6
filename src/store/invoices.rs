//! Invoices and their lines.

use serde::Serialize;
use sqlx::Row;
use time::Date;

use super::{Conn, Db, StoreError, StoreResult, dynamic_sql, now};
use crate::crypto::new_id;
use crate::domain::LineInput;
use crate::money::Currency;

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub description: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invoice {
    pub id: String,
    pub number: String,
    pub property_id: String,
    pub bill_to_customer_id: String,
    #[serde(with = "crate::dates::serde_iso")]
    pub issue_date: Date,
    #[serde(with = "crate::dates::serde_iso")]
    pub due_date: Date,
    pub currency: Currency,
    pub total: i64,
    pub balance: i64,
    pub status: String,
    pub lines: Vec<Line>,
}

pub struct NewInvoice<'a> {
    pub company_id: &'a str,
    pub number: Option<&'a str>,
    pub property_id: &'a str,
    pub bill_to_customer_id: &'a str,
    pub issue_date: Date,
    pub due_date: Date,
    pub currency: Currency,
    pub lines: &'a [LineInput],
    pub amounts: &'a [i64],
    pub total: i64,
}

/// Inserts an invoice with its lines. A number is taken from the company's
/// counter when none is given; a taken number is a `Conflict`.
pub async fn create(tx: &mut Conn, inv: &NewInvoice<'_>) -> StoreResult<Invoice> {
    let number = match inv.number {
        Some(n) => n.to_string(),
        None => {
            let n: i64 = sqlx::query_scalar(
                "UPDATE companies SET next_invoice_number = next_invoice_number + 1
                 WHERE id = $1 RETURNING next_invoice_number - 1",
            )
            .bind(inv.company_id)
            .fetch_one(&mut *tx)
            .await?;
            n.to_string()
        }
    };
    let id = new_id("inv");
    let status = if inv.total == 0 { "paid" } else { "open" };
    sqlx::query(
        "INSERT INTO invoices (id, company_id, number, property_id, bill_to_customer_id, issue_date,
            due_date, currency, total, balance, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)",
    )
    .bind(&id)
    .bind(inv.company_id)
    .bind(&number)
    .bind(inv.property_id)
    .bind(inv.bill_to_customer_id)
    .bind(inv.issue_date)
    .bind(inv.due_date)
    .bind(inv.currency.code())
    .bind(inv.total)
    .bind(status)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    let mut lines = Vec::with_capacity(inv.lines.len());
    for (pos, (line, amount)) in inv.lines.iter().zip(inv.amounts).enumerate() {
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, amount)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(pos as i64)
        .bind(&line.description)
        .bind(line.quantity)
        .bind(line.unit_price)
        .bind(*amount)
        .execute(&mut *tx)
        .await?;
        lines.push(Line {
            description: line.description.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            amount: *amount,
        });
    }
    Ok(Invoice {
        id,
        number,
        property_id: inv.property_id.to_string(),
        bill_to_customer_id: inv.bill_to_customer_id.to_string(),
        issue_date: inv.issue_date,
        due_date: inv.due_date,
        currency: inv.currency,
        total: inv.total,
        balance: inv.total,
        status: status.to_string(),
        lines,
    })
}

const INVOICE_COLUMNS: &str =
    "i.id, i.number, i.property_id, i.bill_to_customer_id, i.issue_date, i.due_date,
    i.currency, i.total, i.balance, i.status, l.description, l.quantity, l.unit_price, l.amount";

/// Folds invoice rows joined with their lines (ordered by invoice) into invoices.
fn fold_rows(rows: &[sqlx::sqlite::SqliteRow]) -> StoreResult<Vec<Invoice>> {
    let mut out: Vec<Invoice> = Vec::new();
    for row in rows {
        let id: String = row.try_get("id")?;
        if out.last().map(|i| i.id != id).unwrap_or(true) {
            let currency: String = row.try_get("currency")?;
            out.push(Invoice {
                id,
                number: row.try_get("number")?,
                property_id: row.try_get("property_id")?,
                bill_to_customer_id: row.try_get("bill_to_customer_id")?,
                issue_date: row.try_get("issue_date")?,
                due_date: row.try_get("due_date")?,
                currency: Currency::parse(&currency).ok_or(StoreError::Invalid)?,
                total: row.try_get("total")?,
                balance: row.try_get("balance")?,
                status: row.try_get("status")?,
                lines: Vec::new(),
            });
        }
        if let Some(description) = row.try_get::<Option<String>, _>("description")?
            && let Some(inv) = out.last_mut()
        {
            inv.lines.push(Line {
                description,
                quantity: row.try_get("quantity")?,
                unit_price: row.try_get("unit_price")?,
                amount: row.try_get("amount")?,
            });
        }
    }
    Ok(out)
}

pub async fn get(db: &Db, company_id: &str, id: &str) -> StoreResult<Option<Invoice>> {
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices i
         LEFT JOIN invoice_lines l ON l.invoice_id = i.id
         WHERE i.company_id = $1 AND i.id = $2 ORDER BY l.position"
    );
    let rows = sqlx::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(id)
        .fetch_all(db.reader())
        .await?;
    Ok(fold_rows(&rows)?.into_iter().next())
}

pub async fn list(
    db: &Db,
    company_id: &str,
    customer_id: Option<&str>,
    status: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<Invoice>> {
    // Page over invoices first, then join their lines.
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM (
            SELECT * FROM invoices WHERE company_id = $1
              AND ($2 IS NULL OR bill_to_customer_id = $2)
              AND ($3 IS NULL OR status = $3)
            ORDER BY due_date DESC, id LIMIT $4) i
         LEFT JOIN invoice_lines l ON l.invoice_id = i.id
         ORDER BY i.due_date DESC, i.id, l.position"
    );
    let rows = sqlx::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id)
        .bind(status)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    fold_rows(&rows)
}
