//! Autopay: company settings (here), the invoices a run may charge and the
//! markers of messages already queued (`run`), the retry state of each
//! invoice and settled results (`settle`), enrollments and cards per
//! property (`enrollment`), and what the office pages list (`views`).
//! Every query is scoped by company.

mod enrollment;
mod run;
mod settle;
mod views;

pub use enrollment::*;
pub use run::*;
pub use settle::*;
pub use views::*;

use std::collections::HashSet;

use serde::Serialize;
use time::OffsetDateTime;

use super::{Conn, StoreResult, dynamic_sql, placeholders};
use crate::domain::autopay::{Grouping, Timing, format_retry_days, parse_retry_days};
use crate::domain::ids::CompanyId;

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
    company_id: &CompanyId,
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
    company_id: &CompanyId,
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
    company_id: &CompanyId,
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
