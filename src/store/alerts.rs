//! Invoice alert rules, the open invoices an alert is due for, and the
//! company's receipt templates. Every query is scoped by company.

use std::collections::HashSet;

use serde::Serialize;
use time::{Date, OffsetDateTime};

use super::{Conn, Db, StoreResult};
use crate::domain::ids::{AlertRuleId, CompanyId, CustomerId, EmailTemplateId, SmsTemplateId};

pub use crate::domain::alerts::Timing;

#[derive(Debug, Clone, Serialize)]
pub struct AlertRule {
    pub id: AlertRuleId,
    #[serde(skip)]
    pub company_id: CompanyId,
    pub email_template_id: Option<EmailTemplateId>,
    pub sms_template_id: Option<SmsTemplateId>,
    pub timing: Timing,
    pub days_after_due: i64,
    pub enabled: bool,
    #[serde(skip)]
    pub created_at: OffsetDateTime,
}

/// The fields of a rule, checked by `crate::app::alerts::check_rule`.
#[derive(Debug, Clone)]
pub struct RuleFields<'a> {
    pub email_template_id: Option<&'a str>,
    pub sms_template_id: Option<&'a str>,
    pub timing: Timing,
    pub days: i64,
    pub enabled: bool,
}

impl AlertRule {
    /// The rule's settings as the use cases take them.
    pub fn fields(&self) -> RuleFields<'_> {
        RuleFields {
            email_template_id: self.email_template_id.as_deref(),
            sms_template_id: self.sms_template_id.as_deref(),
            timing: self.timing,
            days: self.days_after_due,
            enabled: self.enabled,
        }
    }
}

const RULE_COLUMNS: &str =
    "id, company_id, email_template_id, sms_template_id, timing, days, enabled, created_at";

fn rule_from_row(row: &crate::store::sql::Row) -> StoreResult<AlertRule> {
    let timing: String = row.try_get("timing")?;
    Ok(AlertRule {
        id: row.try_get("id")?,
        company_id: row.try_get("company_id")?,
        email_template_id: row.try_get("email_template_id")?,
        sms_template_id: row.try_get("sms_template_id")?,
        timing: Timing::parse(&timing).unwrap_or(Timing::AfterDue),
        days_after_due: row.try_get("days")?,
        enabled: row.try_get::<i64, _>("enabled")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// Whether the email and SMS templates named (if any) belong to the company.
pub async fn templates_belong(
    conn: &mut Conn,
    company_id: &CompanyId,
    email_template_id: Option<&str>,
    sms_template_id: Option<&str>,
) -> StoreResult<bool> {
    if let Some(id) = email_template_id {
        let found = crate::store::sql::query(
            "SELECT CAST(1 AS BIGINT) FROM email_templates WHERE company_id = $1 AND id = $2",
        )
        .bind(company_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_none() {
            return Ok(false);
        }
    }
    if let Some(id) = sms_template_id {
        let found = crate::store::sql::query(
            "SELECT CAST(1 AS BIGINT) FROM sms_templates WHERE company_id = $1 AND id = $2",
        )
        .bind(company_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        if found.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn create(
    conn: &mut Conn,
    company_id: &CompanyId,
    f: &RuleFields<'_>,
    now: OffsetDateTime,
) -> StoreResult<AlertRule> {
    let id = AlertRuleId::new();
    crate::store::sql::query(
        "INSERT INTO invoice_alerts (id, company_id, email_template_id, sms_template_id, timing,
            days, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(f.email_template_id)
    .bind(f.sms_template_id)
    .bind(f.timing.as_str())
    .bind(f.days)
    .bind(i64::from(f.enabled))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(AlertRule {
        id,
        company_id: company_id.clone(),
        email_template_id: f.email_template_id.map(EmailTemplateId::from),
        sms_template_id: f.sms_template_id.map(SmsTemplateId::from),
        timing: f.timing,
        days_after_due: f.days,
        enabled: f.enabled,
        created_at: now,
    })
}

pub async fn get(
    db: &Db,
    company_id: &CompanyId,
    id: &AlertRuleId,
) -> StoreResult<Option<AlertRule>> {
    let sql =
        format!("SELECT {RULE_COLUMNS} FROM invoice_alerts WHERE company_id = $1 AND id = $2");
    let row = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(rule_from_row).transpose()
}

pub async fn list(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<AlertRule>> {
    let sql = format!(
        "SELECT {RULE_COLUMNS} FROM invoice_alerts WHERE company_id = $1 ORDER BY created_at, id"
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(rule_from_row).collect()
}

/// Every enabled rule of every company, with the company's time zone.
pub async fn enabled_rules(db: &Db) -> StoreResult<Vec<(AlertRule, String)>> {
    let sql = format!(
        "SELECT {}, c.time_zone FROM invoice_alerts a JOIN companies c ON c.id = a.company_id
         WHERE a.enabled = 1 ORDER BY a.company_id, a.id",
        RULE_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| Ok((rule_from_row(r)?, r.try_get("time_zone")?)))
        .collect()
}

pub async fn update(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &AlertRuleId,
    f: &RuleFields<'_>,
    now: OffsetDateTime,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE invoice_alerts SET email_template_id = $3, sms_template_id = $4, timing = $5,
            days = $6, enabled = $7, updated_at = $8
         WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .bind(f.email_template_id)
    .bind(f.sms_template_id)
    .bind(f.timing.as_str())
    .bind(f.days)
    .bind(i64::from(f.enabled))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &AlertRuleId,
) -> StoreResult<bool> {
    let done =
        crate::store::sql::query("DELETE FROM invoice_alerts WHERE company_id = $1 AND id = $2")
            .bind(company_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// An open invoice an alert is due for, with its bill-to customer's contacts.
#[derive(Debug, Clone)]
pub struct DueInvoice {
    pub invoice_id: String,
    pub customer_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// `due_invoices` of a rule on the issue date.
pub const DUE_BY_ISSUE_DATE_SQL: &str = "SELECT i.id, i.bill_to_customer_id, c.email, c.phone
     FROM invoices i JOIN customers c ON c.id = i.bill_to_customer_id AND c.company_id = i.company_id
     WHERE i.company_id = $1 AND i.status = 'open' AND i.balance > 0
       AND i.issue_date > $2 AND i.issue_date <= $3
     ORDER BY i.bill_to_customer_id, i.id";

/// `due_invoices` of a rule on the due date.
pub const DUE_BY_DUE_DATE_SQL: &str = "SELECT i.id, i.bill_to_customer_id, c.email, c.phone
     FROM invoices i JOIN customers c ON c.id = i.bill_to_customer_id AND c.company_id = i.company_id
     WHERE i.company_id = $1 AND i.status = 'open' AND i.balance > 0
       AND i.due_date > $2 AND i.due_date <= $3
     ORDER BY i.bill_to_customer_id, i.id";

/// The company's open invoices (status open, balance > 0) whose date column
/// (`due_date` or `issue_date`) lies in `(after, through]`, joined with the
/// bill-to customer: one set-based query per rule, served by the open
/// invoices' `invoices_open_due` or `invoices_open_issue` index. By
/// customer: their messages, queued batch after batch in this order, go
/// into the outbox's (customer, cause, …) index in order.
pub async fn due_invoices(
    db: &Db,
    company_id: &CompanyId,
    by_issue_date: bool,
    after: Date,
    through: Date,
) -> StoreResult<Vec<DueInvoice>> {
    let sql = if by_issue_date {
        DUE_BY_ISSUE_DATE_SQL
    } else {
        DUE_BY_DUE_DATE_SQL
    };
    let rows = crate::store::sql::query(sql)
        .bind(company_id)
        .bind(after)
        .bind(through)
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(DueInvoice {
                invoice_id: r.try_get("id")?,
                customer_id: r.try_get("bill_to_customer_id")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
            })
        })
        .collect()
}

/// Which of these invoices are no longer open with a balance, or not the
/// company's (checked again inside the write transaction that queues their
/// alerts). Only those come back: usually none, where answering the open
/// ones handed every id back from the database's thread.
pub async fn not_open(
    conn: &mut Conn,
    company_id: &CompanyId,
    invoice_ids: &[&str],
) -> StoreResult<HashSet<String>> {
    // Driven by the id list (a LEFT JOIN keeps it the outer loop): with the
    // company and status as the lookup, SQLite's planner (no statistics)
    // walks the company's whole (company_id, status) index instead.
    let rows = crate::store::sql::query_scalar::<String>(
        "SELECT j.value FROM json_each($1) AS j LEFT JOIN invoices i ON i.id = j.value
         WHERE i.id IS NULL OR i.company_id <> $2 OR i.status <> 'open' OR i.balance <= 0",
    )
    .pg(
        "SELECT j.value FROM json_array_elements_text($1::json) AS j(value)
         LEFT JOIN invoices i ON i.id = j.value
         WHERE i.id IS NULL OR i.company_id <> $2 OR i.status <> 'open' OR i.balance <= 0",
    )
    .bind(super::json_list(invoice_ids.iter().copied()))
    .bind(company_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReceiptSettings {
    #[schema(value_type = Option<String>)]
    pub email_template_id: Option<EmailTemplateId>,
    #[schema(value_type = Option<String>)]
    pub sms_template_id: Option<SmsTemplateId>,
}

pub async fn receipt_settings(
    conn: &mut Conn,
    company_id: &CompanyId,
) -> StoreResult<ReceiptSettings> {
    let row = crate::store::sql::query(
        "SELECT email_template_id, sms_template_id FROM receipt_settings WHERE company_id = $1",
    )
    .bind(company_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => ReceiptSettings {
            email_template_id: r.try_get("email_template_id")?,
            sms_template_id: r.try_get("sms_template_id")?,
        },
        None => ReceiptSettings::default(),
    })
}

pub async fn set_receipt_settings(
    conn: &mut Conn,
    company_id: &CompanyId,
    s: &ReceiptSettings,
    now: OffsetDateTime,
) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO receipt_settings (company_id, email_template_id, sms_template_id, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (company_id) DO UPDATE SET email_template_id = excluded.email_template_id,
            sms_template_id = excluded.sms_template_id, updated_at = excluded.updated_at",
    )
    .bind(company_id)
    .bind(s.email_template_id.as_deref())
    .bind(s.sms_template_id.as_deref())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The customer's email and phone, scoped by company.
pub async fn customer_contacts(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<(Option<String>, Option<String>)>> {
    let row = crate::store::sql::query(
        "SELECT email, phone FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| Ok((r.try_get("email")?, r.try_get("phone")?)))
        .transpose()
}
