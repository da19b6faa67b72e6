//! Automatic invoice alerts and payment receipts (issue 4, points 4 and 5).
//!
//! An alert rule names an email and/or SMS template and when to send:
//! `days` after the due date (default), `days` before it, or on the issue
//! date. `queue_due`, run by the jobs loop before delivery, queues one
//! message per channel for every open invoice whose trigger date has come,
//! with cause `alert:{rule_id}:{invoice_id}`: the outbox's unique key
//! (customer, cause, channel, recipient; an invoice's customer never
//! changes) makes each alert go once per invoice and channel, however many
//! runners race or restart.
//!
//! Catch-up window: only trigger dates within the last `CATCH_UP_DAYS` days
//! (today included, in the company's time zone) fire. A new rule therefore
//! does not mail years of history, and a runner that was down less than a
//! week catches up; triggers older than that are skipped for good.
//! Alerts are queued only once the company's local time is `SEND_FROM_HOUR`
//! or later, so nobody gets a reminder at 3 a.m.
//!
//! Receipts: when the company chose receipt templates, every recorded
//! payment queues a receipt in the payment's own transaction, with cause
//! `receipt:{payment_id}` (see `enqueue_receipt`).
//!
//! Rules and receipt templates are saved by `save_rule`, `set_enabled`,
//! `delete_rule` and `save_receipts`, for the office and the JSON API alike.

use time::{Date, OffsetDateTime};

use serde_json::json;

use crate::app::{Actor, App, Refusal, Rejected};
use crate::domain::alerts::{Reach, reach};
use crate::domain::ids::{AlertRuleId, CompanyId, CustomerId, PaymentId};
use crate::messaging::Channel;
use crate::messaging::outbox::{self, Enqueued, NewMessage};
use crate::store::alert_preview::{self, ReachedInvoice, Side};
use crate::store::alerts::{
    self as store, AlertRule, DueInvoice, ReceiptSettings, RuleFields, Timing,
};
use crate::store::{Conn, StoreError, StoreResult, audit};

pub use crate::domain::alerts::{CATCH_UP_DAYS, column_window, trigger_date};
/// Local hour (company time zone) from which alerts are queued.
pub const SEND_FROM_HOUR: u8 = 9;
/// Largest number of days in a rule.
pub const MAX_DAYS: i64 = 365;
/// Invoices queued per write transaction. Large, because every batch rewrites
/// leaf pages all over the outbox's random-keyed indexes (1,000 per batch took
/// 6.9 s for 100,000 invoices, 5,000 took 4.4 s); small enough that a payment
/// waits at most a few hundred milliseconds for the writer.
pub const BATCH: usize = 5_000;

/// What one `queue_due` run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertReport {
    /// Enabled rules looked at.
    pub rules: usize,
    /// Rules skipped because it is before `SEND_FROM_HOUR` where the company is.
    pub too_early: usize,
    /// Messages newly queued.
    pub queued: usize,
    /// Messages an earlier run (or another runner) already queued.
    pub duplicates: usize,
    /// Messages kept as failed or suppressed (bad address, SMS opt-out).
    pub not_sendable: usize,
}

/// The date and hour at `now` in `time_zone` (UTC when the zone is unknown).
pub fn local_date_hour(now: OffsetDateTime, time_zone: &str) -> (Date, u8) {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let ts =
        jiff::Timestamp::from_second(now.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned_datetime(tz);
    let civil = z.date();
    let date = Date::from_calendar_date(
        i32::from(civil.year()),
        time::Month::try_from(civil.month() as u8).unwrap_or(time::Month::January),
        civil.day() as u8,
    )
    .unwrap_or(Date::MIN);
    (date, z.hour() as u8)
}

/// Why a rule's fields are refused, with the field to blame.
pub fn check_rule(
    email_template_id: Option<&str>,
    sms_template_id: Option<&str>,
    days: i64,
) -> Result<(), (&'static str, String)> {
    if email_template_id.is_none() && sms_template_id.is_none() {
        return Err((
            "email_template_id",
            "Choose an email template, an SMS template, or both.".to_string(),
        ));
    }
    if !(0..=MAX_DAYS).contains(&days) {
        return Err((
            "days_after_due",
            format!("days_after_due must be between 0 and {MAX_DAYS}."),
        ));
    }
    Ok(())
}

/// A contact worth sending to: present and not blank.
fn contact(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn count(report: &mut AlertReport, e: &Enqueued) {
    match e {
        Enqueued::Queued { .. } => report.queued += 1,
        Enqueued::Duplicate { .. } => report.duplicates += 1,
        Enqueued::Suppressed { .. } | Enqueued::Rejected { .. } => report.not_sendable += 1,
    }
}

/// Queues every alert due at `now`. Alerts about invoices paid after they
/// were queued are withdrawn when the delivery worker claims them.
pub async fn queue_due(app: &App, now: OffsetDateTime) -> StoreResult<AlertReport> {
    let mut report = AlertReport::default();
    for (rule, time_zone) in store::enabled_rules(&app.db).await? {
        report.rules += 1;
        let (today, hour) = local_date_hour(now, &time_zone);
        if hour < SEND_FROM_HOUR {
            report.too_early += 1;
            continue;
        }
        let (after, through) = column_window(rule.timing, rule.days_after_due, today);
        let due = store::due_invoices(
            &app.db,
            &rule.company_id,
            rule.timing == Timing::AtCreation,
            after,
            through,
        )
        .await?;
        for batch in due.chunks(BATCH) {
            let mut tx = app.db.begin_write_for(&rule.company_id).await?;
            queue_batch(&mut tx, &rule, batch, now, &mut report).await?;
            tx.commit().await.map_err(StoreError::from)?;
        }
    }
    Ok(report)
}

/// Queues the rule's messages for a batch of invoices in a few statements.
async fn queue_batch(
    conn: &mut Conn,
    rule: &AlertRule,
    batch: &[DueInvoice],
    now: OffsetDateTime,
    report: &mut AlertReport,
) -> StoreResult<()> {
    // Paid between the read and this transaction: nothing to remind about.
    let ids: Vec<&str> = batch.iter().map(|i| i.invoice_id.as_str()).collect();
    let closed = store::not_open(conn, &rule.company_id, &ids).await?;
    let mut messages = Vec::with_capacity(batch.len() * 2);
    for inv in batch.iter().filter(|i| !closed.contains(&i.invoice_id)) {
        let cause = format!("alert:{}:{}", rule.id, inv.invoice_id);
        let sends = [
            (
                Channel::Email,
                rule.email_template_id.as_deref(),
                contact(&inv.email),
            ),
            (
                Channel::Sms,
                rule.sms_template_id.as_deref(),
                contact(&inv.phone),
            ),
        ];
        for (channel, template, to) in sends {
            let (Some(template), Some(to)) = (template, to) else {
                continue;
            };
            messages.push(NewMessage {
                company_id: rule.company_id.clone(),
                customer_id: inv.customer_id.clone(),
                invoice_id: Some(inv.invoice_id.clone()),
                channel,
                recipient: to.to_string(),
                template_id: template.to_string(),
                cause: cause.clone(),
            });
        }
    }
    for e in outbox::enqueue_many(conn, &messages, now).await? {
        count(report, &e);
    }
    Ok(())
}

/// Queues the payment's receipt (if the company chose receipt templates) to
/// the paying customer. Call it inside the transaction that records the
/// payment; `invoice_id` is the first invoice the payment went to.
pub async fn enqueue_receipt(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    payment_id: &PaymentId,
    invoice_id: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<()> {
    let settings = store::receipt_settings(conn, company_id).await?;
    if settings.email_template_id.is_none() && settings.sms_template_id.is_none() {
        return Ok(());
    }
    let Some((email, phone)) = store::customer_contacts(conn, company_id, customer_id).await?
    else {
        return Ok(());
    };
    let cause = format!("receipt:{payment_id}");
    let sends = [
        (
            Channel::Email,
            settings.email_template_id.as_deref(),
            contact(&email),
        ),
        (
            Channel::Sms,
            settings.sms_template_id.as_deref(),
            contact(&phone),
        ),
    ];
    for (channel, template, to) in sends {
        let (Some(template), Some(to)) = (template, to) else {
            continue;
        };
        outbox::enqueue(
            conn,
            &NewMessage {
                company_id: company_id.clone(),
                customer_id: customer_id.to_string(),
                invoice_id: invoice_id.map(str::to_string),
                channel,
                recipient: to.to_string(),
                template_id: template.to_string(),
                cause: cause.clone(),
            },
            now,
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- rules and receipts

/// The words for a template that is not the company's.
const FOREIGN_TEMPLATE: &str = "No such template in this company: create it first under /api/v1/email-templates or /api/v1/sms-templates.";

/// Creates (`id` None) or replaces an alert rule: at least one template,
/// both the company's, days from 0 to `MAX_DAYS`. Another company's rule is
/// `NotFound`.
///
/// With `catch_up`, the open invoices whose trigger date is already past
/// the catch-up window (which the jobs loop never reaches) are messaged now,
/// once, in the same transaction; without it the rule goes on from now on.
/// The choice and the number of invoices caught up are audited.
pub async fn save_rule(
    app: &App,
    actor: &Actor,
    id: Option<&AlertRuleId>,
    fields: &RuleFields<'_>,
    catch_up: bool,
) -> Result<SavedRule, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    check_rule(
        fields.email_template_id,
        fields.sms_template_id,
        fields.days,
    )
    .map_err(|(field, message)| Rejected::field(field, message))?;
    if catch_up && !fields.enabled {
        return Err(Rejected::coded("catch_up", "rule_disabled", RULE_OFF));
    }
    let today = company_today(app, company_id).await?;
    let mut tx = app.db.begin_write().await?;
    if !store::templates_belong(
        &mut tx,
        company_id,
        fields.email_template_id,
        fields.sms_template_id,
    )
    .await?
    {
        let field = match fields.email_template_id {
            Some(e) if !store::templates_belong(&mut tx, company_id, Some(e), None).await? => {
                "email_template_id"
            }
            _ => "sms_template_id",
        };
        return Err(Rejected::coded(field, "unknown_template", FOREIGN_TEMPLATE));
    }
    let now = app.clock.now();
    let (action, rule_id) = match id {
        None => (
            "invoice_alert.create",
            store::create(&mut tx, company_id, fields, now).await?.id,
        ),
        Some(id) => {
            if !store::update(&mut tx, company_id, id, fields, now).await? {
                return Err(Refusal::NotFound.into());
            }
            ("invoice_alert.update", id.clone())
        }
    };
    let caught_up = if catch_up {
        queue_catch_up(&mut tx, company_id, &rule_id, fields, today, now).await?
    } else {
        0
    };
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        action,
        &rule_id,
        json!({
            "email_template_id": fields.email_template_id,
            "sms_template_id": fields.sms_template_id,
            "timing": fields.timing.as_str(),
            "days": fields.days,
            "enabled": fields.enabled,
            "catch_up": catch_up,
            "caught_up": caught_up,
        }),
    )
    .await?;
    tx.commit().await?;
    let rule = store::get(&app.db, company_id, &rule_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    Ok(SavedRule { rule, caught_up })
}

/// A rule as saved, and how many invoices its catch-up messaged.
#[derive(Debug, Clone)]
pub struct SavedRule {
    pub rule: AlertRule,
    pub caught_up: usize,
}

/// The words for a catch-up asked of a rule that is off.
const RULE_OFF: &str =
    "A rule that is turned off sends nothing: turn it on to message the invoices past its trigger.";

/// Today in the company's time zone, by the app's clock.
async fn company_today(app: &App, company_id: &CompanyId) -> Result<Date, Refusal> {
    let company = crate::store::companies::get(&app.db, company_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    Ok(app.clock.today_in(&company.time_zone))
}

/// Queues the rule's message now for every invoice past its catch-up window
/// that it has not messaged, through the job's own `queue_batch` (same
/// cause, so never twice); returns how many invoices were messaged.
async fn queue_catch_up(
    conn: &mut Conn,
    company_id: &CompanyId,
    rule_id: &AlertRuleId,
    fields: &RuleFields<'_>,
    today: Date,
    now: OffsetDateTime,
) -> StoreResult<usize> {
    let (bound, _) = column_window(fields.timing, fields.days, today);
    let rows = alert_preview::open_invoices(
        conn,
        company_id,
        Some(rule_id),
        fields.timing.by_issue_date(),
        bound,
        Side::AtOrBefore,
    )
    .await?;
    let (_, missed) = plan(fields, today, &rows);
    let rule = AlertRule {
        id: rule_id.clone(),
        company_id: company_id.clone(),
        email_template_id: fields.email_template_id.map(Into::into),
        sms_template_id: fields.sms_template_id.map(Into::into),
        timing: fields.timing,
        days_after_due: fields.days,
        enabled: fields.enabled,
        created_at: now,
    };
    let due: Vec<DueInvoice> = missed
        .iter()
        .map(|m| DueInvoice {
            invoice_id: m.invoice_id.clone(),
            customer_id: m.customer_id.clone(),
            email: m.email.clone(),
            phone: m.sms.clone(),
        })
        .collect();
    let mut report = AlertReport::default();
    for batch in due.chunks(BATCH) {
        queue_batch(conn, &rule, batch, now, &mut report).await?;
    }
    Ok(missed.len())
}

// ---------------------------------------------------------------- preview

/// Invoices the rule page lists as messaged next.
pub const PREVIEW_LIMIT: usize = 10;

/// One invoice a rule will message: when, to which addresses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NextMessage {
    /// The company's date it goes out (from 9:00 local time).
    pub send_on: Date,
    pub invoice_id: String,
    pub number: String,
    pub customer_id: String,
    pub customer_name: String,
    pub balance: i64,
    pub due_date: Date,
    /// The address the email goes to, when the rule sends one.
    pub email: Option<String>,
    /// The phone the SMS goes to, when the rule sends one.
    pub sms: Option<String>,
}

/// What a rule (saved or as typed) will do, seen on `today`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RulePreview {
    pub today: Date,
    /// The next invoices the jobs loop messages, soonest first (at most
    /// `PREVIEW_LIMIT`).
    pub next: Vec<NextMessage>,
    /// Open invoices already past the trigger beyond the catch-up window:
    /// messaged only if the office catches them up.
    pub missed: Vec<NextMessage>,
}

/// Splits open invoices not yet messaged by a rule into the ones the jobs
/// loop will message (with the day, by `domain::alerts::reach`) and the
/// ones it has missed (to be sent today if caught up). Invoices whose
/// customer has no address for any of the rule's channels are left out, as
/// the job leaves them out. Both lists soonest (oldest) first.
pub fn plan(
    fields: &RuleFields<'_>,
    today: Date,
    rows: &[ReachedInvoice],
) -> (Vec<NextMessage>, Vec<NextMessage>) {
    let (mut next, mut missed) = (Vec::new(), Vec::new());
    for row in rows {
        let email = fields
            .email_template_id
            .and(contact(&row.email))
            .map(str::to_string);
        let sms = fields
            .sms_template_id
            .and(contact(&row.phone))
            .map(str::to_string);
        if email.is_none() && sms.is_none() {
            continue;
        }
        let reached = reach(
            fields.timing,
            fields.days,
            today,
            row.issue_date,
            row.due_date,
        );
        let message = |send_on| NextMessage {
            send_on,
            invoice_id: row.invoice_id.clone(),
            number: row.number.clone(),
            customer_id: row.customer_id.clone(),
            customer_name: row.customer_name.clone(),
            balance: row.balance,
            due_date: row.due_date,
            email: email.clone(),
            sms: sms.clone(),
        };
        match reached {
            Reach::On(day) => next.push(message(day)),
            Reach::Missed => missed.push(message(today)),
        }
    }
    next.sort_by(|a, b| (a.send_on, &a.number).cmp(&(b.send_on, &b.number)));
    (next, missed)
}

/// What the rule `rule_id` (None: a rule not saved yet) with these fields
/// will message next, and which open invoices it has missed.
pub async fn preview(
    app: &App,
    actor: &Actor,
    rule_id: Option<&AlertRuleId>,
    fields: &RuleFields<'_>,
) -> Result<RulePreview, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let today = company_today(app, company_id).await?;
    let (bound, _) = column_window(fields.timing, fields.days, today);
    let mut conn = app.db.reader().acquire().await.map_err(StoreError::from)?;
    let mut rows = Vec::new();
    for side in [
        Side::After {
            limit: (PREVIEW_LIMIT * 5) as i64,
        },
        Side::AtOrBefore,
    ] {
        rows.extend(
            alert_preview::open_invoices(
                &mut conn,
                company_id,
                rule_id,
                fields.timing.by_issue_date(),
                bound,
                side,
            )
            .await?,
        );
    }
    let (mut next, missed) = plan(fields, today, &rows);
    next.truncate(PREVIEW_LIMIT);
    Ok(RulePreview {
        today,
        next,
        missed,
    })
}

/// Turns a rule on or off, keeping the rest.
pub async fn set_enabled(
    app: &App,
    actor: &Actor,
    id: &AlertRuleId,
    enabled: bool,
) -> Result<AlertRule, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let rule = store::get(&app.db, company_id, id)
        .await?
        .ok_or(Refusal::NotFound)?;
    let fields = RuleFields {
        enabled,
        ..rule.fields()
    };
    let mut tx = app.db.begin_write().await?;
    if !store::update(&mut tx, company_id, id, &fields, app.clock.now()).await? {
        return Err(Refusal::NotFound);
    }
    let action = if enabled {
        "invoice_alert.enable"
    } else {
        "invoice_alert.disable"
    };
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        action,
        id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(AlertRule { enabled, ..rule })
}

/// Deletes a rule.
pub async fn delete_rule(app: &App, actor: &Actor, id: &AlertRuleId) -> Result<(), Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write().await?;
    if !store::delete(&mut tx, company_id, id).await? {
        return Err(Refusal::NotFound);
    }
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "invoice_alert.delete",
        id,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Chooses the templates of the receipt sent after each payment (none: no
/// receipt); both must be the company's.
pub async fn save_receipts(
    app: &App,
    actor: &Actor,
    settings: &ReceiptSettings,
) -> Result<ReceiptSettings, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let (email, sms) = (
        settings.email_template_id.as_deref(),
        settings.sms_template_id.as_deref(),
    );
    let mut tx = app.db.begin_write().await?;
    if !store::templates_belong(&mut tx, company_id, email, None).await? {
        return Err(Rejected::coded(
            "email_template_id",
            "unknown_template",
            FOREIGN_TEMPLATE,
        ));
    }
    if !store::templates_belong(&mut tx, company_id, None, sms).await? {
        return Err(Rejected::coded(
            "sms_template_id",
            "unknown_template",
            FOREIGN_TEMPLATE,
        ));
    }
    store::set_receipt_settings(&mut tx, company_id, settings, app.clock.now()).await?;
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        "receipt_settings.update",
        company_id,
        json!(settings),
    )
    .await?;
    tx.commit().await?;
    Ok(settings.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn local_time_follows_the_company_zone() {
        // 14:30 UTC in late November is 08:30 in Chicago (CST, UTC-6).
        let (d, h) = local_date_hour(datetime!(2026-11-28 14:30 UTC), "America/Chicago");
        assert_eq!((d, h), (date!(2026 - 11 - 28), 8));
        // 03:00 UTC is still the previous evening there.
        let (d, h) = local_date_hour(datetime!(2026-11-28 03:00 UTC), "America/Chicago");
        assert_eq!((d, h), (date!(2026 - 11 - 27), 21));
        let (d, h) = local_date_hour(datetime!(2026-11-28 03:00 UTC), "Nowhere/Nope");
        assert_eq!((d, h), (date!(2026 - 11 - 28), 3));
    }

    fn row(number: &str, due: Date, email: Option<&str>, phone: Option<&str>) -> ReachedInvoice {
        ReachedInvoice {
            invoice_id: format!("inv_{number}"),
            number: number.to_string(),
            customer_id: format!("cus_{number}"),
            customer_name: format!("Customer {number}"),
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            issue_date: due - time::Duration::days(30),
            due_date: due,
            balance: 45000,
        }
    }

    #[test]
    fn plan_dates_each_message_and_sets_missed_ones_apart() {
        let today = date!(2026 - 12 - 10);
        let days = |n: i64| today + time::Duration::days(n);
        let fields = RuleFields {
            email_template_id: Some("etpl"),
            sms_template_id: None,
            timing: Timing::AfterDue,
            days: 3,
            enabled: true,
        };
        let rows = [
            row("1001", days(-35), Some("a@example.com"), None),
            row("1002", days(4), Some("b@example.com"), None),
            row(
                "1003",
                days(-5),
                Some("c@example.com"),
                Some("+15125550100"),
            ),
            // No email and the rule sends no SMS: nothing goes, so not listed.
            row("1004", days(1), Some("  "), Some("+15125550101")),
            row("1005", days(-2), Some("e@example.com"), None),
        ];
        let (next, missed) = plan(&fields, today, &rows);
        let listed: Vec<(&str, Date)> = next
            .iter()
            .map(|m| (m.number.as_str(), m.send_on))
            .collect();
        assert_eq!(
            listed,
            [("1003", today), ("1005", days(1)), ("1002", days(7))]
        );
        assert_eq!(next[0].email.as_deref(), Some("c@example.com"));
        assert_eq!(next[0].sms, None);
        assert_eq!(missed.len(), 1);
        assert_eq!(
            (missed[0].number.as_str(), missed[0].send_on),
            ("1001", today)
        );

        // With an SMS template too, the invoice with a phone only is listed.
        let both = RuleFields {
            sms_template_id: Some("stpl"),
            ..fields
        };
        let (next, _) = plan(&both, today, &rows);
        let d = next.iter().find(|m| m.number == "1004").unwrap();
        assert_eq!(
            (d.send_on, d.email.as_deref(), d.sms.as_deref()),
            (days(4), None, Some("+15125550101"))
        );
    }

    #[test]
    fn rules_need_a_template_and_sane_days() {
        assert!(check_rule(Some("e"), None, 3).is_ok());
        assert!(check_rule(None, Some("s"), 0).is_ok());
        assert!(check_rule(Some("e"), Some("s"), 365).is_ok());
        assert_eq!(
            check_rule(None, None, 3).unwrap_err().0,
            "email_template_id"
        );
        assert_eq!(
            check_rule(Some("e"), None, 366).unwrap_err().0,
            "days_after_due"
        );
        assert_eq!(
            check_rule(Some("e"), None, -1).unwrap_err().0,
            "days_after_due"
        );
    }
}
