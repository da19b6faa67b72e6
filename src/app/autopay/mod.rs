//! Autopay: scheduled charges of saved cards, retries, notices and card
//! expiry reminders.
//!
//! `run_due(app, now)`, run by the jobs loop between reconciliation and
//! invoice alerts, does for every company with enrolled customers, in the
//! company's time zone:
//!
//! 1. From 9:00 local: queues the notice of each charge `notice_days` ahead
//!    (`autopay_notice:{invoice}:{date}`) and the reminder of each card whose
//!    expiry month ends within 30 days (`card_expiring:{method}:{yyyy-mm}`).
//! 2. From the company's charge hour on an invoice's charge day (its due
//!    date, or N days after issue) or retry day: charges the invoice's
//!    balance at that moment through `payments::pay_with` — the one path
//!    every payment takes (attempt row first, its id the idempotency key,
//!    invoices locked to it). One charge per invoice, or one per customer
//!    and card, per day: the idempotency key names the day, so restarts and
//!    concurrent runners replay the first attempt instead of charging again.
//!    An invoice paid (or being paid) meanwhile is left out; an expired card
//!    is declined as `expired_card` without reaching the processor.
//!
//! Settling an autopay attempt — here or in `payments::reconcile` — calls
//! `on_paid` or `on_unpaid` in the settling transaction: they move the
//! invoices' retry state (soft declines retried on the company's schedule,
//! hard ones never; after the last failure the invoice is back to manual
//! payment and in the office's "Autopay problems"), record the result, and
//! queue the receipt or the decline message (`autopay_declined:{attempt}`).
//!
//! Here: the run and its messages; `settle`: settling attempts; `vars`: what
//! autopay causes add to message variables; `enrollment`: turning autopay
//! on and off, cards per property, the company's settings.

mod enrollment;
mod settle;
mod state;
mod vars;

pub use enrollment::{
    EnrollRequest, Enrolled, NOTE_MAX, cancel, cancel_in, channel, enroll, enroll_in,
    save_settings, set_property_cards,
};
pub use settle::{on_paid, on_unpaid};
pub use state::{AutopayState, NextCharge, state};
pub use vars::{CauseVars, vars_for_cause};

use std::collections::BTreeMap;

use time::{Date, Duration, OffsetDateTime};

use crate::app::App;
use crate::app::payments::{self, ChargeOptions, PayError, PayInvoices, PayResult};
use crate::domain::autopay::{
    self as rules, Grouping, MESSAGE_FROM_HOUR, Timing, charge_date, charge_key,
};
use crate::domain::dates;
use crate::domain::ids::{CardId, CompanyId, CustomerId, InvoiceId};
use crate::messaging::Channel;
use crate::messaging::outbox::{self, Enqueued, NewMessage};
use crate::store::autopay::{self as store, OpenInvoice, Settings, Window};
use crate::store::{Conn, StoreError, StoreResult};

/// The payment channel of autopay charges.
pub const CHANNEL: &str = "autopay";
/// Who the audit log names for scheduled charges.
pub const ACTOR: &str = "autopay";
/// Notices and reminders queued per write transaction.
const BATCH: usize = 200;

/// What one `run_due` did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AutopayReport {
    /// Companies with enrolled customers looked at.
    pub companies: usize,
    /// Charges that succeeded, and their total in minor units (any currency).
    pub charged: usize,
    pub charged_amount: i64,
    /// Charges declined (an expired card included).
    pub declined: usize,
    /// Charges already made today, by this or another runner.
    pub already: usize,
    /// Invoices left out: paid, voided or being paid by someone else.
    pub skipped: usize,
    /// Charges whose outcome is unknown (processor unreachable): left for
    /// reconciliation.
    pub pending: usize,
    pub notices: usize,
    pub reminders: usize,
    /// Companies whose run failed (logged; the others went on).
    pub errors: usize,
}

impl AutopayReport {
    pub fn is_quiet(&self) -> bool {
        let quiet = AutopayReport {
            companies: self.companies,
            already: self.already,
            ..AutopayReport::default()
        };
        *self == quiet
    }
}

/// Runs every autopay job due at `now`.
pub async fn run_due(app: &App, now: OffsetDateTime) -> StoreResult<AutopayReport> {
    let mut report = AutopayReport::default();
    for (company_id, time_zone) in store::companies_with_autopay(&app.db).await? {
        report.companies += 1;
        if let Err(e) = run_company(app, &company_id, &time_zone, now, &mut report).await {
            tracing::warn!(company = %company_id, error = %e, "autopay run failed for a company");
            report.errors += 1;
        }
    }
    Ok(report)
}

async fn run_company(
    app: &App,
    company_id: &CompanyId,
    time_zone: &str,
    now: OffsetDateTime,
    report: &mut AutopayReport,
) -> StoreResult<()> {
    let settings = store::settings(app.db.reader(), company_id).await?;
    let (today, hour) = rules::local_date_hour(now, time_zone);
    if hour >= MESSAGE_FROM_HOUR {
        queue_notices(app, company_id, &settings, today, now, report).await?;
        queue_expiry_reminders(app, company_id, &settings, today, now, report).await?;
    }
    charge_due(app, company_id, time_zone, &settings, today, now, report).await
}

/// The day an open invoice is (next) charged.
pub fn scheduled_day(inv: &OpenInvoice, timing: Timing) -> Date {
    match &inv.item {
        Some(item) => item.next_try_on.unwrap_or(item.charge_on),
        None => charge_date(timing, inv.issue_date, inv.due_date),
    }
}

/// The window of invoices whose charge day is on or before `through`.
fn window(timing: Timing, through: Date, retries: bool, include_locked: bool) -> Window {
    let (due_through, issue_through) = match timing {
        Timing::DueDate => (Some(through), None),
        Timing::AfterIssue(days) => (None, Some(through - Duration::days(days))),
    };
    Window {
        due_through,
        issue_through,
        retry_through: retries.then_some(through),
        include_locked,
    }
}

async fn charge_due(
    app: &App,
    company_id: &CompanyId,
    time_zone: &str,
    settings: &Settings,
    today: Date,
    now: OffsetDateTime,
    report: &mut AutopayReport,
) -> StoreResult<()> {
    let open = store::open_enrolled(
        &app.db,
        company_id,
        window(settings.timing, today, true, false),
    )
    .await?;
    // Grouped by charge: one per invoice, or one per customer's card.
    let mut groups: BTreeMap<(CustomerId, CardId, String), Vec<&OpenInvoice>> = BTreeMap::new();
    for inv in &open {
        let day = scheduled_day(inv, settings.timing);
        if !rules::is_due(now, day, settings.charge_hour, time_zone) {
            continue;
        }
        let group = match settings.grouping {
            Grouping::PerInvoice => inv.invoice_id.clone(),
            Grouping::PerCustomer => inv.currency.clone(),
        };
        groups
            .entry((inv.customer_id.clone(), inv.method_id.clone(), group))
            .or_default()
            .push(inv);
    }
    for ((customer_id, method_id, _), invoices) in groups {
        let key = charge_key(
            settings.grouping,
            &invoices[0].invoice_id,
            &method_id,
            &invoices[0].currency,
            today,
        );
        if store::attempt_exists(&app.db, company_id, &customer_id, &key).await? {
            report.already += 1;
            continue;
        }
        let ids: Vec<String> = invoices.iter().map(|i| i.invoice_id.clone()).collect();
        charge_one(
            app,
            company_id,
            &customer_id,
            &method_id,
            ids,
            key,
            today,
            now,
            report,
        )
        .await?;
    }
    Ok(())
}

/// One autopay charge through the payments path. Invoices paid or taken by
/// another payer since they were read are left out; the rest is charged.
#[allow(clippy::too_many_arguments)]
async fn charge_one(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    method_id: &CardId,
    mut ids: Vec<String>,
    key: String,
    today: Date,
    now: OffsetDateTime,
    report: &mut AutopayReport,
) -> StoreResult<()> {
    while !ids.is_empty() {
        let req = PayInvoices {
            company_id: company_id.clone(),
            customer_id: customer_id.into(),
            invoice_ids: ids.iter().map(InvoiceId::from).collect(),
            payment_method: method_id.to_string(),
            idempotency_key: key.clone(),
            channel: CHANNEL,
            enroll: None,
            actor: ACTOR.into(),
        };
        let opts = ChargeOptions {
            off_session: true,
            now,
            refuse_expired_on: Some(today),
        };
        match payments::pay_with(app, req, opts).await {
            Ok(c) if c.replayed => report.already += 1,
            Ok(c) => match c.result {
                PayResult::Succeeded(s) => {
                    report.charged += 1;
                    report.charged_amount += s.amount;
                }
                PayResult::Declined(_) => report.declined += 1,
            },
            Err(PayError::InvoiceNotPayable(id)) | Err(PayError::InvoiceBusy(id)) => {
                // Paid, voided or being paid meanwhile: only what is still due.
                report.skipped += 1;
                ids.retain(|i| *i != id);
                continue;
            }
            Err(PayError::InProgress) | Err(PayError::KeyReused) => report.already += 1,
            // The answer is awaited (or nothing was sent): reconciliation
            // settles it, or the next run charges what is still due.
            Err(PayError::Pending { .. }) | Err(PayError::ProcessorUnavailable) => {
                report.pending += 1
            }
            Err(PayError::AutopayEnded) => report.skipped += 1,
            Err(PayError::InvoiceNotFound) | Err(PayError::MethodNotFound) => report.skipped += 1,
            Err(PayError::Store(e)) => return Err(e),
            Err(e) => {
                tracing::warn!(company = %company_id, customer = %customer_id, error = ?e, "autopay charge refused");
                report.skipped += 1;
            }
        }
        break;
    }
    Ok(())
}

// ---------------------------------------------------------------- messages

/// A contact worth sending to: present and not blank.
fn contact(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Queues a message per chosen template and contact, in the caller's
/// transaction; returns how many were newly queued.
#[allow(clippy::too_many_arguments)]
pub(super) async fn send(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    invoice_id: Option<&str>,
    email_template: &Option<String>,
    sms_template: &Option<String>,
    (email, phone): (&Option<String>, &Option<String>),
    cause: &str,
    now: OffsetDateTime,
) -> StoreResult<usize> {
    let mut queued = 0;
    let sends = [
        (Channel::Email, email_template, contact(email)),
        (Channel::Sms, sms_template, contact(phone)),
    ];
    for (channel, template, to) in sends {
        let (Some(template), Some(to)) = (template, to) else {
            continue;
        };
        let e = outbox::enqueue(
            conn,
            &NewMessage {
                company_id: company_id.clone(),
                customer_id: customer_id.to_string(),
                invoice_id: invoice_id.map(str::to_string),
                channel,
                recipient: to.to_string(),
                template_id: template.clone(),
                cause: cause.to_string(),
            },
            now,
        )
        .await?;
        if matches!(e, Enqueued::Queued { .. }) {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Queues the notice of every first charge within `notice_days`.
async fn queue_notices(
    app: &App,
    company_id: &CompanyId,
    settings: &Settings,
    today: Date,
    now: OffsetDateTime,
    report: &mut AutopayReport,
) -> StoreResult<()> {
    let t = &settings.templates;
    if settings.notice_days <= 0 || (t.notice_email.is_none() && t.notice_sms.is_none()) {
        return Ok(());
    }
    let through = today + Duration::days(settings.notice_days);
    let open = store::open_enrolled(
        &app.db,
        company_id,
        window(settings.timing, through, false, true),
    )
    .await?;
    let due: Vec<(String, &OpenInvoice)> = open
        .iter()
        .filter(|inv| inv.item.is_none())
        .filter_map(|inv| {
            let day = scheduled_day(inv, settings.timing);
            // A card that will have expired gets the decline message instead.
            let ok = rules::notice_due(day, settings.notice_days, today)
                && !rules::is_expired(inv.exp_month, inv.exp_year, day);
            ok.then(|| {
                (
                    format!("autopay_notice:{}:{}", inv.invoice_id, dates::iso(day)),
                    inv,
                )
            })
        })
        .collect();
    let causes: Vec<String> = due.iter().map(|(c, _)| c.clone()).collect();
    let done = store::existing_marks(&app.db, company_id, &causes).await?;
    let todo: Vec<&(String, &OpenInvoice)> =
        due.iter().filter(|(c, _)| !done.contains(c)).collect();
    for batch in todo.chunks(BATCH) {
        let mut tx = app.db.begin_write_for(company_id).await?;
        for (cause, inv) in batch {
            if !store::insert_mark(&mut tx, company_id, cause, now).await? {
                continue;
            }
            report.notices += send(
                &mut tx,
                company_id,
                &inv.customer_id,
                Some(&inv.invoice_id),
                &t.notice_email,
                &t.notice_sms,
                (&inv.email, &inv.phone),
                cause,
                now,
            )
            .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(())
}

/// Queues the reminder of every autopay card whose expiry month ends within
/// 30 days.
async fn queue_expiry_reminders(
    app: &App,
    company_id: &CompanyId,
    settings: &Settings,
    today: Date,
    now: OffsetDateTime,
    report: &mut AutopayReport,
) -> StoreResult<()> {
    let t = &settings.templates;
    if t.expiring_email.is_none() && t.expiring_sms.is_none() {
        return Ok(());
    }
    let cards = store::enrolled_cards(&app.db, company_id).await?;
    let due: Vec<(String, &store::EnrolledCard)> = cards
        .iter()
        .filter(|c| rules::expiry_reminder_due(c.exp_month, c.exp_year, today))
        .map(|c| {
            (
                format!(
                    "card_expiring:{}:{:04}-{:02}",
                    c.method_id, c.exp_year, c.exp_month
                ),
                c,
            )
        })
        .collect();
    let causes: Vec<String> = due.iter().map(|(c, _)| c.clone()).collect();
    let done = store::existing_marks(&app.db, company_id, &causes).await?;
    let todo: Vec<&(String, &store::EnrolledCard)> =
        due.iter().filter(|(c, _)| !done.contains(c)).collect();
    for batch in todo.chunks(BATCH) {
        let mut tx = app.db.begin_write_for(company_id).await?;
        for (cause, card) in batch {
            if !store::insert_mark(&mut tx, company_id, cause, now).await? {
                continue;
            }
            report.reminders += send(
                &mut tx,
                company_id,
                &card.customer_id,
                None,
                &t.expiring_email,
                &t.expiring_sms,
                (&card.email, &card.phone),
                cause,
                now,
            )
            .await?;
        }
        tx.commit().await.map_err(StoreError::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn open(issue: Date, due: Date, item: Option<store::ItemState>) -> OpenInvoice {
        OpenInvoice {
            invoice_id: "inv_1".into(),
            number: "1001".into(),
            customer_id: "cus_1".into(),
            customer_name: "Ana".into(),
            address: "1 Main St".into(),
            issue_date: issue,
            due_date: due,
            balance: 100,
            currency: "usd".into(),
            locked: false,
            method_id: "pmt_1".into(),
            brand: "Visa".into(),
            last4: "4242".into(),
            exp_month: 12,
            exp_year: 2030,
            email: None,
            phone: None,
            item,
        }
    }

    #[test]
    fn the_scheduled_day_is_the_charge_day_then_the_retry_day() {
        let (issue, due) = (date!(2026 - 12 - 01), date!(2026 - 12 - 15));
        assert_eq!(scheduled_day(&open(issue, due, None), Timing::DueDate), due);
        assert_eq!(
            scheduled_day(&open(issue, due, None), Timing::AfterIssue(3)),
            date!(2026 - 12 - 04)
        );
        let retrying = store::ItemState {
            charge_on: due,
            failures: 1,
            status: "retrying".into(),
            next_try_on: Some(date!(2026 - 12 - 18)),
            last_code: Some("insufficient_funds".into()),
        };
        assert_eq!(
            scheduled_day(&open(issue, due, Some(retrying)), Timing::DueDate),
            date!(2026 - 12 - 18)
        );
    }

    #[test]
    fn windows_cover_the_charge_days() {
        let today = date!(2026 - 12 - 15);
        let w = window(Timing::DueDate, today, true, false);
        assert_eq!(
            (w.due_through, w.issue_through, w.retry_through),
            (Some(today), None, Some(today))
        );
        let w = window(Timing::AfterIssue(10), today, false, true);
        assert_eq!(
            (w.due_through, w.issue_through, w.retry_through),
            (None, Some(date!(2026 - 12 - 05)), None)
        );
    }
}
