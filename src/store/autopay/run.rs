//! What an autopay run reads: companies with enrollments, the open invoices
//! it may charge (with the card for each), cards near expiry, and the marks
//! of messages already queued.

use std::collections::HashSet;

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::domain::ids::{CardId, CompanyId, CustomerId, InvoiceId};
use crate::store::{Conn, Db, StoreResult, dynamic_sql, placeholders};

/// Companies with at least one active enrollment, with their time zones.
pub async fn companies_with_autopay(db: &Db) -> StoreResult<Vec<(CompanyId, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT c.id, c.time_zone FROM companies c
         WHERE EXISTS (SELECT 1 FROM autopay_enrollments e
                       WHERE e.company_id = c.id AND e.cancelled_at IS NULL)
         ORDER BY c.id",
    )
    .fetch_all(db.reader())
    .await?)
}

/// Where an invoice stands after earlier autopay tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemState {
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub charge_on: Date,
    pub failures: i64,
    pub status: String,
    pub next_try_on: Option<Date>,
    pub last_code: Option<String>,
}

/// An open invoice of an enrolled customer, with the card autopay uses for
/// it (the property's own card, else the enrollment's).
#[derive(Debug, Clone)]
pub struct OpenInvoice {
    pub invoice_id: String,
    pub number: String,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub address: String,
    pub issue_date: Date,
    pub due_date: Date,
    pub balance: i64,
    pub currency: String,
    pub locked: bool,
    pub method_id: CardId,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// `None` until autopay has tried it.
    pub item: Option<ItemState>,
}

/// Whether autopay still covers charging `invoice_ids` of a customer to the
/// saved method `method_id`, read in the charge's own transaction: the
/// enrollment is active, each invoice's card is this one (the property's
/// own card, else the enrollment's), and each invoice was due on or after
/// the enrollment's first day (or is being retried).
pub async fn still_covers(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    method_id: &CardId,
    invoice_ids: &[InvoiceId],
) -> StoreResult<bool> {
    if invoice_ids.is_empty() {
        return Ok(false);
    }
    let sql = format!(
        "SELECT count(*) FROM autopay_enrollments e
         JOIN invoices i ON i.bill_to_customer_id = e.customer_id AND i.company_id = e.company_id
         LEFT JOIN autopay_property_methods pm ON pm.enrollment_id = e.id AND pm.property_id = i.property_id
         LEFT JOIN payment_methods om ON om.id = pm.payment_method_id AND om.removed_at IS NULL
         JOIN payment_methods m ON m.id = coalesce(om.id, e.payment_method_id) AND m.removed_at IS NULL
         LEFT JOIN autopay_items it ON it.invoice_id = i.id
         WHERE e.company_id = $1 AND e.customer_id = $2 AND e.cancelled_at IS NULL
           AND m.id = $3
           AND (i.due_date >= e.starts_on OR it.status = 'retrying')
           AND i.id IN ({})",
        crate::store::placeholders(4, invoice_ids.len())
    );
    let mut q = crate::store::sql::query_scalar(crate::store::dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id)
        .bind(method_id);
    for id in invoice_ids {
        q = q.bind(id);
    }
    let covered: i64 = q.fetch_one(&mut *conn).await?;
    Ok(covered == invoice_ids.len() as i64)
}

/// Which open invoices to read: those never tried whose due date (or issue
/// date) is on or before a day, and retries due on or before a day.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub due_through: Option<Date>,
    pub issue_through: Option<Date>,
    /// Retries due on or before this day (`None`: no retries).
    pub retry_through: Option<Date>,
    pub include_locked: bool,
}

/// Open invoices (never refunded) of the company's enrolled customers, due
/// on or after the enrollment's first day (or being retried), that autopay
/// has not given up on, within `w`.
pub async fn open_enrolled(
    db: &Db,
    company_id: &CompanyId,
    w: Window,
) -> StoreResult<Vec<OpenInvoice>> {
    open_enrolled_where(db, company_id, None, w).await
}

/// `open_enrolled` for one customer: every invoice autopay will charge
/// (never tried, or being retried), whatever its day.
pub async fn customer_open_enrolled(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<OpenInvoice>> {
    let w = Window {
        due_through: None,
        issue_through: None,
        retry_through: Some(Date::MAX),
        include_locked: true,
    };
    open_enrolled_where(db, company_id, Some(customer_id), w).await
}

async fn open_enrolled_where(
    db: &Db,
    company_id: &CompanyId,
    customer_id: Option<&str>,
    w: Window,
) -> StoreResult<Vec<OpenInvoice>> {
    let rows = crate::store::sql::query(
        "SELECT i.id, i.number, i.bill_to_customer_id, c.name AS customer_name, p.address,
                i.issue_date, i.due_date, i.balance, i.currency,
                i.locked_by_attempt IS NOT NULL AS locked,
                m.id AS method_id, m.brand, m.last4, m.exp_month, m.exp_year, c.email, c.phone,
                it.charge_on, it.failures, it.status AS item_status, it.next_try_on, it.last_code
         FROM autopay_enrollments e
         JOIN invoices i ON i.bill_to_customer_id = e.customer_id AND i.company_id = e.company_id
              AND i.status = 'open' AND i.balance > 0 AND i.refunded = 0
         JOIN customers c ON c.id = e.customer_id
         JOIN properties p ON p.id = i.property_id
         LEFT JOIN autopay_property_methods pm ON pm.enrollment_id = e.id AND pm.property_id = i.property_id
         LEFT JOIN payment_methods om ON om.id = pm.payment_method_id AND om.removed_at IS NULL
         JOIN payment_methods m ON m.id = coalesce(om.id, e.payment_method_id) AND m.removed_at IS NULL
         LEFT JOIN autopay_items it ON it.invoice_id = i.id
         WHERE e.company_id = $1 AND e.cancelled_at IS NULL
           AND ($6 IS NULL OR e.customer_id = $6)
           -- Invoices due before enrolling stay manual, but a retry keeps
           -- going when the customer re-enrolls (a new card) meanwhile.
           AND (i.due_date >= e.starts_on OR it.status = 'retrying')
           AND ($5 = 1 OR i.locked_by_attempt IS NULL)
           AND ((it.status IS NULL AND ($2 IS NULL OR i.due_date <= $2)
                 AND ($3 IS NULL OR i.issue_date <= $3))
                OR ($4 IS NOT NULL AND it.status = 'retrying' AND it.next_try_on <= $4))
         ORDER BY i.due_date, i.number",
    )
    .bind(company_id)
    .bind(w.due_through)
    .bind(w.issue_through)
    .bind(w.retry_through)
    .bind(i64::from(w.include_locked))
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
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
            Ok(OpenInvoice {
                invoice_id: r.try_get("id")?,
                number: r.try_get("number")?,
                customer_id: r.try_get("bill_to_customer_id")?,
                customer_name: r.try_get("customer_name")?,
                address: r.try_get("address")?,
                issue_date: r.try_get("issue_date")?,
                due_date: r.try_get("due_date")?,
                balance: r.try_get("balance")?,
                currency: r.try_get("currency")?,
                locked: r.try_get("locked")?,
                method_id: r.try_get("method_id")?,
                brand: r.try_get("brand")?,
                last4: r.try_get("last4")?,
                exp_month: r.try_get("exp_month")?,
                exp_year: r.try_get("exp_year")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                item,
            })
        })
        .collect()
}

/// Whether an attempt with this idempotency key exists (tried before today).
pub async fn attempt_exists(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    key: &str,
) -> StoreResult<bool> {
    let found: Option<i64> = crate::store::sql::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM payment_attempts WHERE company_id = $1 AND customer_id = $2 AND idempotency_key = $3",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(key)
    .fetch_optional(db.reader())
    .await?;
    Ok(found.is_some())
}

/// A card autopay uses, with its customer's contacts.
#[derive(Debug, Clone)]
pub struct EnrolledCard {
    pub method_id: CardId,
    pub customer_id: CustomerId,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Every live card that active enrollments of the company use (the
/// enrollment's card and cards chosen for properties).
pub async fn enrolled_cards(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<EnrolledCard>> {
    let rows = crate::store::sql::query(
        "SELECT DISTINCT m.id, m.customer_id, m.brand, m.last4, m.exp_month, m.exp_year, c.email, c.phone
         FROM autopay_enrollments e
         JOIN payment_methods m ON m.customer_id = e.customer_id AND m.removed_at IS NULL
              AND (m.id = e.payment_method_id OR m.id IN
                   (SELECT pm.payment_method_id FROM autopay_property_methods pm WHERE pm.enrollment_id = e.id))
         JOIN customers c ON c.id = e.customer_id
         WHERE e.company_id = $1 AND e.cancelled_at IS NULL
         ORDER BY m.id",
    )
    .bind(company_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EnrolledCard {
                method_id: r.try_get("id")?,
                customer_id: r.try_get("customer_id")?,
                brand: r.try_get("brand")?,
                last4: r.try_get("last4")?,
                exp_month: r.try_get("exp_month")?,
                exp_year: r.try_get("exp_year")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
            })
        })
        .collect()
}

/// Which of these marks (message causes) were queued before.
pub async fn existing_marks(
    db: &Db,
    company_id: &CompanyId,
    marks: &[String],
) -> StoreResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in marks.chunks(500) {
        let sql = format!(
            "SELECT mark FROM autopay_marks WHERE company_id = $1 AND mark IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = crate::store::sql::query_scalar::<String>(dynamic_sql(sql)).bind(company_id);
        for m in chunk {
            q = q.bind(m);
        }
        found.extend(q.fetch_all(db.reader()).await?);
    }
    Ok(found)
}

/// Records a mark; `false` when another run recorded it first.
pub async fn insert_mark(
    conn: &mut Conn,
    company_id: &CompanyId,
    mark: &str,
    at: OffsetDateTime,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "INSERT INTO autopay_marks (mark, company_id, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (mark) DO NOTHING",
    )
    .bind(mark)
    .bind(company_id)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// The customer's email and phone.
pub async fn contacts(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<(Option<String>, Option<String>)>> {
    Ok(crate::store::sql::query_as(
        "SELECT email, phone FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await?)
}
