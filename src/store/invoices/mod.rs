//! Invoices and their lines.

use serde::Serialize;
use time::Date;

use super::{Conn, Db, StoreError, StoreResult, dynamic_sql};
use crate::domain::LineInput;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, PropertyId};
use crate::domain::money::Currency;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = InvoiceLine)]
pub struct Line {
    pub description: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invoice {
    #[schema(value_type = String)]
    pub id: InvoiceId,
    pub number: String,
    #[schema(value_type = String)]
    pub property_id: PropertyId,
    #[schema(value_type = String)]
    pub bill_to_customer_id: CustomerId,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub issue_date: Date,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub due_date: Date,
    pub currency: Currency,
    pub total: i64,
    pub balance: i64,
    pub status: String,
    pub lines: Vec<Line>,
}

pub struct NewInvoice<'a> {
    pub company_id: &'a CompanyId,
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
            let n: i64 = crate::store::sql::query_scalar(
                "UPDATE companies SET next_invoice_number = next_invoice_number + 1
                 WHERE id = $1 RETURNING next_invoice_number - 1",
            )
            .bind(inv.company_id)
            .fetch_one(&mut *tx)
            .await?;
            n.to_string()
        }
    };
    let id = InvoiceId::new();
    let status = if inv.total == 0 { "paid" } else { "open" };
    crate::store::sql::query(
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
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    let mut lines = Vec::with_capacity(inv.lines.len());
    for (pos, (line, amount)) in inv.lines.iter().zip(inv.amounts).enumerate() {
        crate::store::sql::query(
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
        property_id: inv.property_id.into(),
        bill_to_customer_id: inv.bill_to_customer_id.into(),
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
fn fold_rows(rows: &[crate::store::sql::Row]) -> StoreResult<Vec<Invoice>> {
    let mut out: Vec<Invoice> = Vec::new();
    for row in rows {
        let id: InvoiceId = row.try_get("id")?;
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

pub async fn get(db: &Db, company_id: &CompanyId, id: &InvoiceId) -> StoreResult<Option<Invoice>> {
    let mut conn = db.reader().acquire().await?;
    get_on(&mut conn, company_id, id).await
}

/// `get` on a connection of the caller's (inside a write transaction).
pub async fn get_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &InvoiceId,
) -> StoreResult<Option<Invoice>> {
    let sql = format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices i
         LEFT JOIN invoice_lines l ON l.invoice_id = i.id
         WHERE i.company_id = $1 AND i.id = $2 ORDER BY l.position"
    );
    let rows = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(fold_rows(&rows)?.into_iter().next())
}

pub async fn list(
    db: &Db,
    company_id: &CompanyId,
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
    let rows = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id)
        .bind(status)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    fold_rows(&rows)
}

mod office;
pub use office::*;

/// What decides whether an invoice may still be changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeState {
    pub status: String,
    pub applied: i64,
    pub locked: bool,
}

/// Why an invoice cannot be edited or voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such invoice in this company.
    NotFound,
    /// A payment attempt holds it right now.
    Locked,
    /// A payment has been applied to it.
    PaymentApplied,
    /// It is void already.
    Void,
    /// Paid (a zero total): nothing to edit.
    Paid,
}

/// Lines and dates may be replaced only while the invoice is open, nothing
/// has been applied to it, and no payment is in progress.
pub fn edit_refusal(s: &ChangeState) -> Option<Refusal> {
    if s.status == "void" {
        Some(Refusal::Void)
    } else if s.applied > 0 {
        Some(Refusal::PaymentApplied)
    } else if s.locked {
        Some(Refusal::Locked)
    } else if s.status != "open" {
        Some(Refusal::Paid)
    } else {
        None
    }
}

/// An invoice may be voided only when nothing has been applied to it and no
/// payment is in progress.
pub fn void_refusal(s: &ChangeState) -> Option<Refusal> {
    if s.status == "void" {
        Some(Refusal::Void)
    } else if s.applied > 0 {
        Some(Refusal::PaymentApplied)
    } else if s.locked {
        Some(Refusal::Locked)
    } else {
        None
    }
}

/// The invoice's change state and its total.
pub async fn change_state(
    tx: &mut Conn,
    company_id: &CompanyId,
    id: &InvoiceId,
) -> StoreResult<Option<(ChangeState, i64)>> {
    let row: Option<(String, i64, bool, i64)> = crate::store::sql::query_as(
        "SELECT status, applied, locked_by_attempt IS NOT NULL, total FROM invoices
         WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(status, applied, locked, total)| {
        (
            ChangeState {
                status,
                applied,
                locked,
            },
            total,
        )
    }))
}

/// New dates and lines for an invoice.
pub struct Replacement<'a> {
    pub issue_date: Date,
    pub due_date: Date,
    pub lines: &'a [LineInput],
    pub amounts: &'a [i64],
    pub total: i64,
}

/// Replaces an unpaid invoice's dates and lines and sets its total and
/// balance (`balance = total - applied + refunded`, with nothing applied).
/// Returns the old total, or why it was refused. Run it in a transaction.
pub async fn replace(
    tx: &mut Conn,
    company_id: &CompanyId,
    id: &InvoiceId,
    r: &Replacement<'_>,
) -> StoreResult<Result<i64, Refusal>> {
    let Some((state, old_total)) = change_state(tx, company_id, id).await? else {
        return Ok(Err(Refusal::NotFound));
    };
    if let Some(why) = edit_refusal(&state) {
        return Ok(Err(why));
    }
    // The same conditions again in the statement: nothing can slip between.
    let done = crate::store::sql::query(
        "UPDATE invoices SET issue_date = $3, due_date = $4, total = $5,
            balance = $5 - applied + refunded,
            status = CASE WHEN $5 - applied + refunded = 0 THEN 'paid' ELSE 'open' END
         WHERE company_id = $1 AND id = $2 AND status = 'open' AND applied = 0
           AND locked_by_attempt IS NULL",
    )
    .bind(company_id)
    .bind(id)
    .bind(r.issue_date)
    .bind(r.due_date)
    .bind(r.total)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(Err(Refusal::Locked));
    }
    crate::store::sql::query("DELETE FROM invoice_lines WHERE invoice_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for (pos, (line, amount)) in r.lines.iter().zip(r.amounts).enumerate() {
        crate::store::sql::query(
            "INSERT INTO invoice_lines (invoice_id, position, description, quantity, unit_price, amount)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(pos as i64)
        .bind(&line.description)
        .bind(line.quantity)
        .bind(line.unit_price)
        .bind(*amount)
        .execute(&mut *tx)
        .await?;
    }
    Ok(Ok(old_total))
}

/// Voids an invoice nothing has been applied to. Its total and balance stay
/// as they were (the balance CHECK holds); status 'void' takes it off every
/// payable and owed list. Run it in a transaction.
pub async fn void(
    tx: &mut Conn,
    company_id: &CompanyId,
    id: &InvoiceId,
) -> StoreResult<Result<(), Refusal>> {
    let Some((state, _)) = change_state(tx, company_id, id).await? else {
        return Ok(Err(Refusal::NotFound));
    };
    if let Some(why) = void_refusal(&state) {
        return Ok(Err(why));
    }
    let done = crate::store::sql::query(
        "UPDATE invoices SET status = 'void', voided_at = $3
         WHERE company_id = $1 AND id = $2 AND status <> 'void' AND applied = 0
           AND locked_by_attempt IS NULL",
    )
    .bind(company_id)
    .bind(id)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(Err(Refusal::Locked));
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: &str, applied: i64, locked: bool) -> ChangeState {
        ChangeState {
            status: status.into(),
            applied,
            locked,
        }
    }

    #[test]
    fn only_untouched_open_invoices_can_be_edited() {
        assert_eq!(edit_refusal(&state("open", 0, false)), None);
        assert_eq!(edit_refusal(&state("open", 0, true)), Some(Refusal::Locked));
        assert_eq!(
            edit_refusal(&state("open", 1, false)),
            Some(Refusal::PaymentApplied)
        );
        assert_eq!(
            edit_refusal(&state("paid", 500, false)),
            Some(Refusal::PaymentApplied)
        );
        assert_eq!(edit_refusal(&state("paid", 0, false)), Some(Refusal::Paid));
        assert_eq!(edit_refusal(&state("void", 0, false)), Some(Refusal::Void));
    }

    #[test]
    fn void_needs_nothing_applied_and_no_payment_in_progress() {
        assert_eq!(void_refusal(&state("open", 0, false)), None);
        assert_eq!(void_refusal(&state("paid", 0, false)), None);
        assert_eq!(void_refusal(&state("open", 0, true)), Some(Refusal::Locked));
        assert_eq!(
            void_refusal(&state("open", 100, false)),
            Some(Refusal::PaymentApplied)
        );
        assert_eq!(void_refusal(&state("void", 0, false)), Some(Refusal::Void));
    }

    #[test]
    fn status_filters_round_trip() {
        for f in [
            StatusFilter::All,
            StatusFilter::Open,
            StatusFilter::Overdue,
            StatusFilter::Paid,
            StatusFilter::Void,
        ] {
            assert_eq!(StatusFilter::parse(f.key()), Some(f));
        }
        assert_eq!(StatusFilter::parse(""), Some(StatusFilter::All));
        assert_eq!(StatusFilter::parse("owed"), None);
    }
}

/// An open invoice of a customer's statement, with its service address.
#[derive(Debug, Clone)]
pub struct StatementRow {
    pub number: String,
    pub issue_date: time::Date,
    pub due_date: time::Date,
    pub total: i64,
    pub balance: i64,
    pub currency: String,
    pub property_id: PropertyId,
    pub address: String,
    pub resident_customer_id: CustomerId,
    pub resident_name: String,
}

/// The open invoices billed to a customer, by service address and due date.
pub async fn open_for_statement(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<StatementRow>> {
    let rows = crate::store::sql::query(
        "SELECT i.number, i.issue_date, i.due_date, i.total, i.balance, i.currency,
                p.id AS property_id, p.address, p.resident_customer_id, r.name AS resident_name
         FROM invoices i
         JOIN properties p ON p.id = i.property_id
         JOIN customers r ON r.id = p.resident_customer_id
         WHERE i.company_id = $1 AND i.bill_to_customer_id = $2 AND i.status = 'open'
         ORDER BY p.address, p.id, i.due_date, i.number",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StatementRow {
                number: r.try_get("number")?,
                issue_date: r.try_get("issue_date")?,
                due_date: r.try_get("due_date")?,
                total: r.try_get("total")?,
                balance: r.try_get("balance")?,
                currency: r.try_get("currency")?,
                property_id: r.try_get("property_id")?,
                address: r.try_get("address")?,
                resident_customer_id: r.try_get("resident_customer_id")?,
                resident_name: r.try_get("resident_name")?,
            })
        })
        .collect()
}
