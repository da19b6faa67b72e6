//! Autopay: company settings, office enrollments and cards per property,
//! the invoices a run may charge, the retry state of each invoice, settled
//! results, and markers of messages already queued. Every query is scoped
//! by company.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use time::{Date, OffsetDateTime};

use super::{Conn, Db, StoreResult, dynamic_sql, placeholders};
use crate::crypto::new_id;
use crate::domain::autopay::{Grouping, Timing, format_retry_days, parse_retry_days};
use crate::store::payments::Consent;

// ---------------------------------------------------------------- settings

/// The company's chosen email and SMS templates for each autopay message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Templates {
    pub notice_email: Option<String>,
    pub notice_sms: Option<String>,
    pub receipt_email: Option<String>,
    pub receipt_sms: Option<String>,
    pub decline_email: Option<String>,
    pub decline_sms: Option<String>,
    pub expiring_email: Option<String>,
    pub expiring_sms: Option<String>,
}

impl Templates {
    /// `(email ids, sms ids)` chosen.
    fn ids(&self) -> (Vec<&str>, Vec<&str>) {
        let email = [
            &self.notice_email,
            &self.receipt_email,
            &self.decline_email,
            &self.expiring_email,
        ];
        let sms = [
            &self.notice_sms,
            &self.receipt_sms,
            &self.decline_sms,
            &self.expiring_sms,
        ];
        (
            email.into_iter().filter_map(|t| t.as_deref()).collect(),
            sms.into_iter().filter_map(|t| t.as_deref()).collect(),
        )
    }
}

/// A company's autopay settings (the defaults when it never saved any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub timing: Timing,
    /// Local hour (company time zone) from which the day's charges run.
    pub charge_hour: u8,
    pub grouping: Grouping,
    /// Days after the first charge day when a soft decline is retried.
    pub retry_days: Vec<i64>,
    /// Days before a charge its notice goes out (0: none).
    pub notice_days: i64,
    pub templates: Templates,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timing: Timing::DueDate,
            charge_hour: 9,
            grouping: Grouping::PerInvoice,
            retry_days: vec![3, 5, 7],
            notice_days: 0,
            templates: Templates::default(),
        }
    }
}

const SETTINGS_COLUMNS: &str = "timing, days_after_issue, charge_hour, charge_grouping, retry_days,
    notice_days, notice_email_template_id, notice_sms_template_id, receipt_email_template_id,
    receipt_sms_template_id, decline_email_template_id, decline_sms_template_id,
    expiring_email_template_id, expiring_sms_template_id";

fn settings_from_row(r: &crate::store::sql::Row) -> StoreResult<Settings> {
    let timing: String = r.try_get("timing")?;
    let days: i64 = r.try_get("days_after_issue")?;
    let hour: i64 = r.try_get("charge_hour")?;
    let grouping: String = r.try_get("charge_grouping")?;
    let retry: String = r.try_get("retry_days")?;
    Ok(Settings {
        timing: if timing == "after_issue" {
            Timing::AfterIssue(days)
        } else {
            Timing::DueDate
        },
        charge_hour: u8::try_from(hour.clamp(0, 23)).unwrap_or(9),
        grouping: Grouping::parse(&grouping).unwrap_or(Grouping::PerInvoice),
        retry_days: parse_retry_days(&retry).unwrap_or_default(),
        notice_days: r.try_get("notice_days")?,
        templates: Templates {
            notice_email: r.try_get("notice_email_template_id")?,
            notice_sms: r.try_get("notice_sms_template_id")?,
            receipt_email: r.try_get("receipt_email_template_id")?,
            receipt_sms: r.try_get("receipt_sms_template_id")?,
            decline_email: r.try_get("decline_email_template_id")?,
            decline_sms: r.try_get("decline_sms_template_id")?,
            expiring_email: r.try_get("expiring_email_template_id")?,
            expiring_sms: r.try_get("expiring_sms_template_id")?,
        },
    })
}

pub async fn settings(
    executor: impl crate::store::sql::Executor<'_>,
    company_id: &str,
) -> StoreResult<Settings> {
    let sql = format!("SELECT {SETTINGS_COLUMNS} FROM autopay_settings WHERE company_id = $1");
    let row = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .fetch_optional(executor)
        .await?;
    match row {
        Some(r) => settings_from_row(&r),
        None => Ok(Settings::default()),
    }
}

pub async fn save_settings(
    conn: &mut Conn,
    company_id: &str,
    s: &Settings,
    at: OffsetDateTime,
) -> StoreResult<()> {
    let days = match s.timing {
        Timing::AfterIssue(d) => d,
        Timing::DueDate => 0,
    };
    let t = &s.templates;
    crate::store::sql::query(
        "INSERT INTO autopay_settings (company_id, timing, days_after_issue, charge_hour, charge_grouping,
            retry_days, notice_days, notice_email_template_id, notice_sms_template_id,
            receipt_email_template_id, receipt_sms_template_id, decline_email_template_id,
            decline_sms_template_id, expiring_email_template_id, expiring_sms_template_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (company_id) DO UPDATE SET timing = excluded.timing,
            days_after_issue = excluded.days_after_issue, charge_hour = excluded.charge_hour,
            charge_grouping = excluded.charge_grouping, retry_days = excluded.retry_days,
            notice_days = excluded.notice_days,
            notice_email_template_id = excluded.notice_email_template_id,
            notice_sms_template_id = excluded.notice_sms_template_id,
            receipt_email_template_id = excluded.receipt_email_template_id,
            receipt_sms_template_id = excluded.receipt_sms_template_id,
            decline_email_template_id = excluded.decline_email_template_id,
            decline_sms_template_id = excluded.decline_sms_template_id,
            expiring_email_template_id = excluded.expiring_email_template_id,
            expiring_sms_template_id = excluded.expiring_sms_template_id,
            updated_at = excluded.updated_at",
    )
    .bind(company_id)
    .bind(s.timing.key())
    .bind(days)
    .bind(i64::from(s.charge_hour))
    .bind(s.grouping.key())
    .bind(format_retry_days(&s.retry_days))
    .bind(s.notice_days)
    .bind(&t.notice_email)
    .bind(&t.notice_sms)
    .bind(&t.receipt_email)
    .bind(&t.receipt_sms)
    .bind(&t.decline_email)
    .bind(&t.decline_sms)
    .bind(&t.expiring_email)
    .bind(&t.expiring_sms)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether every chosen template is one of the company's.
pub async fn templates_belong(
    conn: &mut Conn,
    company_id: &str,
    t: &Templates,
) -> StoreResult<bool> {
    let (email, sms) = t.ids();
    for (table, ids) in [("email_templates", email), ("sms_templates", sms)] {
        let unique: HashSet<&str> = ids.into_iter().collect();
        if unique.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE company_id = $1 AND id IN ({})",
            placeholders(2, unique.len())
        );
        let mut q = crate::store::sql::query_scalar::<i64>(dynamic_sql(sql)).bind(company_id);
        for id in &unique {
            q = q.bind(*id);
        }
        if q.fetch_one(&mut *conn).await? != unique.len() as i64 {
            return Ok(false);
        }
    }
    Ok(true)
}

// ---------------------------------------------------------------- the run

/// Companies with at least one active enrollment, with their time zones.
pub async fn companies_with_autopay(db: &Db) -> StoreResult<Vec<(String, String)>> {
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
    pub customer_id: String,
    pub customer_name: String,
    pub address: String,
    pub issue_date: Date,
    pub due_date: Date,
    pub balance: i64,
    pub currency: String,
    pub locked: bool,
    pub method_id: String,
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
    company_id: &str,
    customer_id: &str,
    method_id: &str,
    invoice_ids: &[String],
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
pub async fn open_enrolled(db: &Db, company_id: &str, w: Window) -> StoreResult<Vec<OpenInvoice>> {
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
    company_id: &str,
    customer_id: &str,
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
    pub method_id: String,
    pub customer_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// Every live card that active enrollments of the company use (the
/// enrollment's card and cards chosen for properties).
pub async fn enrolled_cards(db: &Db, company_id: &str) -> StoreResult<Vec<EnrolledCard>> {
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
    company_id: &str,
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
    company_id: &str,
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
    company_id: &str,
    customer_id: &str,
) -> StoreResult<Option<(Option<String>, Option<String>)>> {
    Ok(crate::store::sql::query_as(
        "SELECT email, phone FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await?)
}

// ---------------------------------------------------------------- settling

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
    company_id: &str,
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
    pub company_id: &'a str,
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
    pub company_id: &'a str,
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
    pub method_id: String,
    pub next_try_on: Option<Date>,
}

pub async fn decline_info(
    db: &Db,
    company_id: &str,
    attempt_id: &str,
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
    company_id: &str,
    method_id: &str,
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
    company_id: &str,
    invoice_id: &str,
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

// ---------------------------------------------------------------- enrollment

/// A customer's active enrollment as the office sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    pub id: String,
    pub method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub channel: String,
    pub consent_text: String,
    pub consent_at: OffsetDateTime,
    pub consent_note: Option<String>,
    /// The office user's email, for office enrollments.
    pub enrolled_by: Option<String>,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub starts_on: Date,
}

pub async fn enrollment(
    executor: impl crate::store::sql::Executor<'_>,
    company_id: &str,
    customer_id: &str,
) -> StoreResult<Option<Enrollment>> {
    let row = crate::store::sql::query(
        "SELECT e.id, e.payment_method_id, m.brand, m.last4, m.exp_month, m.exp_year, e.channel,
                e.consent_text, e.consent_at, e.consent_note,
                coalesce(u.email, e.enrolled_by) AS enrolled_by, e.starts_on
         FROM autopay_enrollments e
         JOIN payment_methods m ON m.id = e.payment_method_id
         LEFT JOIN office_users u ON u.id = e.enrolled_by
         WHERE e.company_id = $1 AND e.customer_id = $2 AND e.cancelled_at IS NULL
         ORDER BY e.consent_at DESC LIMIT 1",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(executor)
    .await?;
    row.map(|r| {
        Ok(Enrollment {
            id: r.try_get("id")?,
            method_id: r.try_get("payment_method_id")?,
            brand: r.try_get("brand")?,
            last4: r.try_get("last4")?,
            exp_month: r.try_get("exp_month")?,
            exp_year: r.try_get("exp_year")?,
            channel: r.try_get("channel")?,
            consent_text: r.try_get("consent_text")?,
            consent_at: r.try_get("consent_at")?,
            consent_note: r.try_get("consent_note")?,
            enrolled_by: r.try_get("enrolled_by")?,
            starts_on: r.try_get("starts_on")?,
        })
    })
    .transpose()
}

/// Enrolls a customer from the office, replacing any enrollment: the
/// consent the customer stated, who recorded it, and how it was given.
pub async fn enroll_by_office(
    conn: &mut Conn,
    company_id: &str,
    customer_id: &str,
    method_id: &str,
    consent: &Consent,
    enrolled_by: &str,
    note: &str,
) -> StoreResult<String> {
    let t = conn.now();
    crate::store::sql::query(
        "UPDATE autopay_enrollments SET cancelled_at = $1
         WHERE company_id = $2 AND customer_id = $3 AND cancelled_at IS NULL",
    )
    .bind(t)
    .bind(company_id)
    .bind(customer_id)
    .execute(&mut *conn)
    .await?;
    let id = new_id("ape");
    crate::store::sql::query(
        "INSERT INTO autopay_enrollments (id, company_id, customer_id, payment_method_id, consent_text,
            consent_at, consent_ip, consent_user_agent, channel, starts_on, enrolled_by, consent_note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .bind(enrolled_by)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Turns the customer's autopay off; `true` when it was on.
pub async fn cancel(conn: &mut Conn, company_id: &str, customer_id: &str) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE autopay_enrollments SET cancelled_at = $1
         WHERE company_id = $2 AND customer_id = $3 AND cancelled_at IS NULL",
    )
    .bind(conn.now())
    .bind(company_id)
    .bind(customer_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A property billed to the customer, with the card chosen for it (if any).
#[derive(Debug, Clone, Serialize)]
pub struct PropertyCard {
    pub property_id: String,
    pub address: String,
    pub method_id: Option<String>,
}

pub async fn property_cards(
    db: &Db,
    company_id: &str,
    customer_id: &str,
    enrollment_id: Option<&str>,
) -> StoreResult<Vec<PropertyCard>> {
    let rows = crate::store::sql::query(
        "SELECT p.id, p.address, pm.payment_method_id
         FROM properties p
         LEFT JOIN autopay_property_methods pm ON pm.property_id = p.id AND pm.enrollment_id = $3
         WHERE p.company_id = $1 AND p.bill_to_customer_id = $2
         ORDER BY p.address, p.id",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(enrollment_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PropertyCard {
                property_id: r.try_get("id")?,
                address: r.try_get("address")?,
                method_id: r.try_get("payment_method_id")?,
            })
        })
        .collect()
}

/// Chooses the card for one property of an enrollment (`None`: the
/// enrollment's own card). The property must be billed to the customer.
pub async fn set_property_card(
    conn: &mut Conn,
    company_id: &str,
    enrollment_id: &str,
    property_id: &str,
    method_id: Option<&str>,
    set_by: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "DELETE FROM autopay_property_methods
         WHERE company_id = $1 AND enrollment_id = $2 AND property_id = $3",
    )
    .bind(company_id)
    .bind(enrollment_id)
    .bind(property_id)
    .execute(&mut *conn)
    .await?;
    if let Some(method_id) = method_id {
        crate::store::sql::query(
            "INSERT INTO autopay_property_methods (enrollment_id, property_id, company_id,
                payment_method_id, set_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(enrollment_id)
        .bind(property_id)
        .bind(company_id)
        .bind(method_id)
        .bind(set_by)
        .bind(conn.now())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- office views

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
pub async fn last_run_results(db: &Db, company_id: &str) -> StoreResult<Vec<ResultRow>> {
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
pub async fn items(db: &Db, company_id: &str, status: &str) -> StoreResult<Vec<ItemRow>> {
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
pub async fn enrolled_count(db: &Db, company_id: &str) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT COUNT(*) FROM autopay_enrollments WHERE company_id = $1 AND cancelled_at IS NULL",
    )
    .bind(company_id)
    .fetch_one(db.reader())
    .await?)
}
