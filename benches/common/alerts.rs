//! Invoice-alert set-up shared by the benchmarks: the templates and rules a
//! company would have, the instant at which they fire, and a timed
//! `alerts::queue_due`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use fieldpay::app::App;
use fieldpay::store::alerts::{self as alert_store, RuleFields, Timing};
use fieldpay::store::templates::{self, EmailFields};
use fieldpay::store::{Db, StoreError};
use time::OffsetDateTime;

pub const SUBJECT: &str = "Invoice {{ invoice_number }} is past due";
pub const HTML_BODY: &str = "<p>Hi {{ customer_first_name }},</p>\
<p>Invoice {{ invoice_number }} is now 3 days past due.</p>\
<p><a href=\"{{ email_payment_link }}\">Pay online</a></p>";
pub const TEXT_BODY: &str = "Hi {{ customer_first_name }},\n\n\
Invoice {{ invoice_number }} is now 3 days past due.\n\
Pay online: {{ email_payment_link }}\n";
pub const SMS_BODY: &str =
    "{{ company_name }}: invoice {{ invoice_number }} is past due. Pay: {{ sms_payment_link }}";

/// A UTC instant at which it is today, after `SEND_FROM_HOUR`, in the
/// company's zone: now if it is already past 9:00 there, else today's noon.
pub fn alert_instant(time_zone: &str) -> anyhow::Result<OffsetDateTime> {
    let real = OffsetDateTime::now_utc();
    let (_, hour) = fieldpay::app::alerts::local_date_hour(real, time_zone);
    if hour >= fieldpay::app::alerts::SEND_FROM_HOUR {
        return Ok(real);
    }
    let today = fieldpay::domain::Clock::system().today_in(time_zone);
    let noon = jiff::civil::date(
        today.year() as i16,
        u8::from(today.month()) as i8,
        today.day() as i8,
    )
    .at(12, 0, 0, 0)
    .in_tz(time_zone)?;
    Ok(OffsetDateTime::from_unix_timestamp(
        noon.timestamp().as_second(),
    )?)
}

/// One alert rule: `timing`/`days`, an email template, and an SMS template
/// when `with_sms`.
pub async fn add_rule(
    db: &Db,
    company_id: &fieldpay::domain::ids::CompanyId,
    timing: Timing,
    days: i64,
    with_sms: bool,
) -> anyhow::Result<()> {
    let mut tx = db.begin_write().await?;
    let email = templates::create_email(
        &mut tx,
        company_id,
        &EmailFields {
            name: &format!("Reminder {timing:?} {days}"),
            subject: SUBJECT,
            html_body: HTML_BODY,
            text_body: Some(TEXT_BODY),
            attach_invoice_pdf: false,
            translations: &Default::default(),
        },
    )
    .await?;
    let sms = if with_sms {
        Some(
            templates::create_sms(
                &mut tx,
                company_id,
                &format!("Reminder SMS {timing:?} {days}"),
                SMS_BODY,
                &Default::default(),
            )
            .await?
            .id,
        )
    } else {
        None
    };
    alert_store::create(
        &mut tx,
        company_id,
        &RuleFields {
            email_template_id: Some(&email.id),
            sms_template_id: sms.as_deref(),
            timing,
            days,
            enabled: true,
        },
        OffsetDateTime::now_utc(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// `alerts::queue_due` at `now`, timed.
pub async fn timed_queue_due(
    app: &App,
    now: OffsetDateTime,
) -> anyhow::Result<(fieldpay::app::alerts::AlertReport, Duration)> {
    let started = Instant::now();
    let report = fieldpay::app::alerts::queue_due(app, now)
        .await
        .map_err(|e| anyhow::anyhow!("queue_due failed: {e}"))?;
    Ok((report, started.elapsed()))
}
