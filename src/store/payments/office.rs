//! Cash and check payments the office records: the invoices it can pay,
//! the form's key, and the writes.

use serde::Serialize;
use time::Date;

use crate::domain::Allocation;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, PaymentId};
use crate::domain::money::Currency;
use crate::store::{Conn, Db, StoreResult, dynamic_sql, placeholders};

/// An invoice an office payment can pay.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PayableInvoice {
    pub id: InvoiceId,
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
    company_id: &CompanyId,
    customer_id: &CustomerId,
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
    company_id: &CompanyId,
    customer_id: &CustomerId,
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

/// `find_by_office_key`'s statement.
pub const FIND_BY_OFFICE_KEY_SQL: &str =
    "SELECT id FROM payments WHERE company_id = $1 AND office_key = $2";

/// The office payment recorded under a form's key, if any.
pub async fn find_by_office_key(
    conn: &mut Conn,
    company_id: &CompanyId,
    key: &str,
) -> StoreResult<Option<PaymentId>> {
    Ok(crate::store::sql::query_scalar(FIND_BY_OFFICE_KEY_SQL)
        .bind(company_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?)
}

/// Applies a cash or check share to an open invoice nobody is paying right
/// now; `false` (nothing changed) when the invoice is no longer like that.
pub async fn apply_office_share(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
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
    pub company_id: &'a CompanyId,
    pub customer_id: &'a str,
    /// `office`, or `api` for one recorded through the API.
    pub channel: &'a str,
    /// `cash` or `check`.
    pub method: &'a str,
    pub amount: i64,
    pub currency: Currency,
    pub check_number: Option<&'a str>,
    pub recorded_by: &'a str,
    pub office_key: &'a str,
}

/// Records a cash or check payment; returns its id.
pub async fn insert_office_payment(
    conn: &mut Conn,
    p: &NewOfficePayment<'_>,
) -> StoreResult<PaymentId> {
    let id = PaymentId::new_in_order(conn.now());
    crate::store::sql::query(
        "INSERT INTO payments (id, company_id, customer_id, attempt_id, channel, method, amount, currency,
            processor_charge_id, check_number, recorded_by, office_key, created_at)
         VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, NULL, $8, $9, $10, $11)",
    )
    .bind(&id)
    .bind(p.company_id)
    .bind(p.customer_id)
    .bind(p.channel)
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

/// Names who took a card payment: the office user, else the actor's audit
/// name.
pub async fn set_recorded_by(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
    recorded_by: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE payments SET recorded_by = $1 WHERE id = $2 AND company_id = $3 AND recorded_by IS NULL",
    )
    .bind(recorded_by)
    .bind(payment_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
