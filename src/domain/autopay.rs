//! Pure autopay rules: when an invoice is charged (a local hour of the
//! company's time zone, daylight saving time included), how declines are
//! classed and retried, and when a saved card's expiry is near.
//!
//! Nothing here reads a clock or a database: every function takes the
//! instant or day it reasons about.

use time::{Date, Duration, Month, OffsetDateTime};

/// Retries after the first failed charge, at most.
pub const MAX_RETRIES: usize = 8;
/// Every retry falls within this many days of the first charge day.
pub const MAX_RETRY_DAY: i64 = 21;
/// Days before the end of a card's expiry month that the reminder goes out.
pub const EXPIRY_REMINDER_DAYS: i64 = 30;
/// Messages that are not charges (notices, card reminders) go out from this
/// local hour, so nobody is texted at night.
pub const MESSAGE_FROM_HOUR: u8 = 9;
/// Largest "N days after issue" and notice lead time.
pub const MAX_DAYS_AFTER_ISSUE: i64 = 90;
pub const MAX_NOTICE_DAYS: i64 = 14;

/// Which day an invoice is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// On its due date.
    DueDate,
    /// This many days after its issue date.
    AfterIssue(i64),
}

impl Timing {
    pub fn key(self) -> &'static str {
        match self {
            Timing::DueDate => "due_date",
            Timing::AfterIssue(_) => "after_issue",
        }
    }
}

/// One charge per invoice, or one per customer (and card) per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    PerInvoice,
    PerCustomer,
}

impl Grouping {
    pub fn key(self) -> &'static str {
        match self {
            Grouping::PerInvoice => "per_invoice",
            Grouping::PerCustomer => "per_customer",
        }
    }

    pub fn parse(s: &str) -> Option<Grouping> {
        match s {
            "per_invoice" => Some(Grouping::PerInvoice),
            "per_customer" => Some(Grouping::PerCustomer),
            _ => None,
        }
    }
}

/// The first day autopay charges an invoice.
pub fn charge_date(timing: Timing, issue: Date, due: Date) -> Date {
    match timing {
        Timing::DueDate => due,
        Timing::AfterIssue(days) => issue.saturating_add(Duration::days(days)),
    }
}

fn zone(time_zone: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// The date and hour at `now` in `time_zone` (UTC when the zone is unknown).
pub fn local_date_hour(now: OffsetDateTime, time_zone: &str) -> (Date, u8) {
    let ts =
        jiff::Timestamp::from_second(now.unix_timestamp()).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let z = ts.to_zoned_datetime(zone(time_zone));
    let civil = z.date();
    let date = Date::from_calendar_date(
        i32::from(civil.year()),
        Month::try_from(civil.month() as u8).unwrap_or(Month::January),
        civil.day() as u8,
    )
    .unwrap_or(Date::MIN);
    (date, z.hour() as u8)
}

/// The instant `date` at `hour`:00 in `time_zone`. On the spring-forward
/// day an hour that does not exist is the first instant after the gap (2:00
/// becomes 3:00); on the fall-back day a repeated hour is its first time.
pub fn local_instant(date: Date, hour: u8, time_zone: &str) -> OffsetDateTime {
    let fallback = date
        .with_hms(hour.min(23), 0, 0)
        .map(|d| d.assume_utc())
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let Ok(civil) = jiff::civil::Date::new(
        date.year() as i16,
        u8::from(date.month()) as i8,
        date.day() as i8,
    ) else {
        return fallback;
    };
    let dt = civil.at(hour.min(23) as i8, 0, 0, 0);
    match dt.to_zoned_datetime(zone(time_zone)) {
        Ok(z) => OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).unwrap_or(fallback),
        Err(_) => fallback,
    }
}

/// The day a charge scheduled for `scheduled` is made, seen on `today`: a
/// day already past (a run still to come, a charge hour not yet reached) is
/// charged at the next run, today.
pub fn charged_on(scheduled: Date, today: Date) -> Date {
    scheduled.max(today)
}

/// Whether a charge scheduled for `date` at the local `hour` is due at `now`.
pub fn is_due(now: OffsetDateTime, date: Date, hour: u8, time_zone: &str) -> bool {
    now >= local_instant(date, hour, time_zone)
}

/// What a decline means for autopay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineKind {
    /// Retrying cannot help (stolen, lost, expired, do not honor, …): the
    /// invoice drops back to manual payment at once.
    Hard,
    /// May pass later (insufficient funds, a generic decline, a processing
    /// error): retried on the schedule.
    Soft,
    /// The processor never charged the card (the attempt was lost before it
    /// got there): not a decline; the next day's run tries again.
    NotCharged,
}

/// Decline codes that are never retried (Stripe's names).
pub const HARD_DECLINES: &[&str] = &[
    "stolen_card",
    "lost_card",
    "expired_card",
    "do_not_honor",
    "do_not_try_again",
    "pickup_card",
    "fraudulent",
    "merchant_blacklist",
    "restricted_card",
    "security_violation",
    "revocation_of_authorization",
    "revocation_of_all_authorizations",
    "stop_payment_order",
    "invalid_account",
    "new_account_information_available",
    "card_not_supported",
    "currency_not_supported",
    "transaction_not_allowed",
    "incorrect_number",
    "invalid_number",
    "incorrect_cvc",
    "invalid_cvc",
    "invalid_expiry_month",
    "invalid_expiry_year",
    "invalid_payment_method",
    "authentication_required",
];

pub fn decline_kind(code: &str) -> DeclineKind {
    if code == "not_charged" {
        DeclineKind::NotCharged
    } else if HARD_DECLINES.contains(&code) {
        DeclineKind::Hard
    } else {
        DeclineKind::Soft
    }
}

/// Parses retry days as typed ("3, 5, 7"): whole days after the first
/// charge day, increasing, each from 1 to 21, at most 8. Blank means no retries.
pub fn parse_retry_days(text: &str) -> Result<Vec<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut days: Vec<i64> = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        let d: i64 = part.parse().map_err(|_| {
            format!("\u{201c}{part}\u{201d} is not a whole number of days. Write days like 3,5,7.")
        })?;
        if !(1..=MAX_RETRY_DAY).contains(&d) {
            return Err(format!(
                "Each retry day must be from 1 to {MAX_RETRY_DAY} (retries end within 3 weeks)."
            ));
        }
        if days.last().is_some_and(|&last| d <= last) {
            return Err("Write the retry days in increasing order, each once, like 3,5,7.".into());
        }
        days.push(d);
    }
    if days.len() > MAX_RETRIES {
        return Err(format!("At most {MAX_RETRIES} retries."));
    }
    Ok(days)
}

/// The retry days as stored and shown: "3,5,7".
pub fn format_retry_days(days: &[i64]) -> String {
    days.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// After `failures` failed soft tries of an invoice first charged on
/// `charge_on`, the day of the next try, or `None` when the tries are used
/// up and the invoice drops back to manual payment.
pub fn next_try(charge_on: Date, retry_days: &[i64], failures: usize) -> Option<Date> {
    if failures == 0 {
        return Some(charge_on);
    }
    retry_days
        .get(failures - 1)
        .map(|d| charge_on.saturating_add(Duration::days(*d)))
}

/// What follows a decline of an invoice that had failed `failures_before`
/// times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterDecline {
    /// Tried again on this day.
    Retry(Date),
    /// Back to manual payment (hard decline, or tries used up).
    Drop,
    /// Nothing changes (the card was never charged).
    Unchanged,
}

pub fn after_decline(
    code: &str,
    charge_on: Date,
    retry_days: &[i64],
    failures_before: usize,
) -> AfterDecline {
    match decline_kind(code) {
        DeclineKind::NotCharged => AfterDecline::Unchanged,
        DeclineKind::Hard => AfterDecline::Drop,
        DeclineKind::Soft => match next_try(charge_on, retry_days, failures_before + 1) {
            Some(d) => AfterDecline::Retry(d),
            None => AfterDecline::Drop,
        },
    }
}

/// The last day of a card's expiry month, or `None` for a nonsense expiry.
pub fn expiry_end(exp_month: i64, exp_year: i64) -> Option<Date> {
    let month = Month::try_from(u8::try_from(exp_month).ok()?).ok()?;
    let year = i32::try_from(exp_year).ok()?;
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    Some(first.saturating_add(Duration::days(i64::from(month.length(year)) - 1)))
}

/// A card is expired once its expiry month has ended (an unreadable expiry
/// counts as expired: it cannot be charged safely).
pub fn is_expired(exp_month: i64, exp_year: i64, today: Date) -> bool {
    expiry_end(exp_month, exp_year).is_none_or(|end| today > end)
}

/// The day the "card expiring" reminder goes out: 30 days before the end of
/// the expiry month.
pub fn expiry_reminder_day(exp_month: i64, exp_year: i64) -> Option<Date> {
    expiry_end(exp_month, exp_year).map(|end| end - Duration::days(EXPIRY_REMINDER_DAYS))
}

/// Whether the reminder for a card is due on `today`: from the reminder day
/// until the card expires.
pub fn expiry_reminder_due(exp_month: i64, exp_year: i64, today: Date) -> bool {
    match (
        expiry_reminder_day(exp_month, exp_year),
        expiry_end(exp_month, exp_year),
    ) {
        (Some(from), Some(end)) => today >= from && today <= end,
        _ => false,
    }
}

/// Whether the notice of a charge on `charge_on` is due on `today`: from
/// `notice_days` before it until the day before (0 means no notices).
pub fn notice_due(charge_on: Date, notice_days: i64, today: Date) -> bool {
    notice_days > 0 && today < charge_on && charge_on - Duration::days(notice_days) <= today
}

/// The idempotency key of an autopay charge: one per invoice per day, or
/// one per customer's card and currency per day (a charge has one currency).
pub fn charge_key(
    grouping: Grouping,
    invoice_id: &str,
    method_id: &str,
    currency: &str,
    day: Date,
) -> String {
    match grouping {
        Grouping::PerInvoice => format!("autopay:{invoice_id}:{}", crate::domain::dates::iso(day)),
        Grouping::PerCustomer => {
            format!(
                "autopay:{method_id}:{currency}:{}",
                crate::domain::dates::iso(day)
            )
        }
    }
}

/// What a decline code means, in words for the office.
pub fn decline_words(code: &str) -> &'static str {
    match code {
        "expired_card" => "The card has expired",
        "insufficient_funds" => "Insufficient funds",
        "stolen_card" | "lost_card" | "pickup_card" => "The card was reported lost or stolen",
        "fraudulent" => "Declined as suspected fraud",
        "do_not_honor" | "do_not_try_again" => "The bank refused the card (do not honor)",
        "not_charged" => "The charge did not reach the processor",
        "invalid_payment_method" => "The saved card can no longer be used",
        "processing_error" => "A processing error",
        _ => "The bank declined the card",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    #[test]
    fn charge_dates() {
        let (issue, due) = (date!(2026 - 12 - 01), date!(2026 - 12 - 15));
        assert_eq!(charge_date(Timing::DueDate, issue, due), due);
        assert_eq!(
            charge_date(Timing::AfterIssue(10), issue, due),
            date!(2026 - 12 - 11)
        );
        assert_eq!(charge_date(Timing::AfterIssue(0), issue, due), issue);
    }

    #[test]
    fn a_day_already_past_is_charged_today() {
        let today = date!(2026 - 12 - 15);
        assert_eq!(
            charged_on(date!(2026 - 12 - 31), today),
            date!(2026 - 12 - 31)
        );
        assert_eq!(charged_on(today, today), today);
        assert_eq!(charged_on(date!(2026 - 12 - 01), today), today);
    }

    #[test]
    fn local_hours_across_daylight_saving_time() {
        let ny = "America/New_York";
        // Before the change (EST, UTC-5) and after (EDT, UTC-4).
        assert_eq!(
            local_instant(date!(2026 - 03 - 07), 9, ny),
            datetime!(2026-03-07 14:00 UTC)
        );
        assert_eq!(
            local_instant(date!(2026 - 03 - 08), 9, ny),
            datetime!(2026-03-08 13:00 UTC)
        );
        // 2:00 does not exist on Mar 8: the first instant after the gap.
        assert_eq!(
            local_instant(date!(2026 - 03 - 08), 2, ny),
            datetime!(2026-03-08 07:00 UTC)
        );
        // Fall back on Nov 1: 1:00 happens twice; the first one counts.
        assert_eq!(
            local_instant(date!(2026 - 11 - 01), 1, ny),
            datetime!(2026-11-01 05:00 UTC)
        );
        assert_eq!(
            local_instant(date!(2026 - 11 - 01), 9, ny),
            datetime!(2026-11-01 14:00 UTC)
        );
        assert!(!is_due(
            datetime!(2026-03-08 12:59 UTC),
            date!(2026 - 03 - 08),
            9,
            ny
        ));
        assert!(is_due(
            datetime!(2026-03-08 13:00 UTC),
            date!(2026 - 03 - 08),
            9,
            ny
        ));
        // An unknown zone is UTC.
        assert_eq!(
            local_instant(date!(2026 - 03 - 08), 9, "Mars/Base"),
            datetime!(2026-03-08 09:00 UTC)
        );
        assert_eq!(
            local_date_hour(datetime!(2026-11-01 03:30 UTC), "America/Chicago"),
            (date!(2026 - 10 - 31), 22)
        );
    }

    #[test]
    fn declines_are_hard_soft_or_not_charges() {
        for code in [
            "stolen_card",
            "lost_card",
            "expired_card",
            "do_not_honor",
            "pickup_card",
            "fraudulent",
        ] {
            assert_eq!(decline_kind(code), DeclineKind::Hard, "{code}");
        }
        for code in [
            "insufficient_funds",
            "card_declined",
            "processing_error",
            "x",
        ] {
            assert_eq!(decline_kind(code), DeclineKind::Soft, "{code}");
        }
        assert_eq!(decline_kind("not_charged"), DeclineKind::NotCharged);
    }

    #[test]
    fn retry_days_parse_with_limits() {
        assert_eq!(parse_retry_days(" 3, 5,7 "), Ok(vec![3, 5, 7]));
        assert_eq!(parse_retry_days(""), Ok(vec![]));
        assert_eq!(
            parse_retry_days("1,2,3,4,5,6,7,21"),
            Ok(vec![1, 2, 3, 4, 5, 6, 7, 21])
        );
        assert!(parse_retry_days("1,2,3,4,5,6,7,8,9").is_err());
        assert!(parse_retry_days("3,22").is_err());
        assert!(parse_retry_days("0").is_err());
        assert!(parse_retry_days("5,3").is_err());
        assert!(parse_retry_days("3,3").is_err());
        assert!(parse_retry_days("3;5").is_err());
        assert!(parse_retry_days("3.5").is_err());
        assert_eq!(format_retry_days(&[3, 5, 7]), "3,5,7");
    }

    #[test]
    fn retries_follow_the_schedule_then_drop() {
        let d = date!(2026 - 12 - 15);
        let days = [3, 5, 7];
        assert_eq!(
            after_decline("insufficient_funds", d, &days, 0),
            AfterDecline::Retry(date!(2026 - 12 - 18))
        );
        assert_eq!(
            after_decline("card_declined", d, &days, 1),
            AfterDecline::Retry(date!(2026 - 12 - 20))
        );
        assert_eq!(
            after_decline("card_declined", d, &days, 2),
            AfterDecline::Retry(date!(2026 - 12 - 22))
        );
        assert_eq!(
            after_decline("card_declined", d, &days, 3),
            AfterDecline::Drop
        );
        assert_eq!(
            after_decline("stolen_card", d, &days, 0),
            AfterDecline::Drop
        );
        assert_eq!(
            after_decline("card_declined", d, &[], 0),
            AfterDecline::Drop
        );
        assert_eq!(
            after_decline("not_charged", d, &days, 2),
            AfterDecline::Unchanged
        );
    }

    #[test]
    fn expiry() {
        assert_eq!(expiry_end(2, 2028), Some(date!(2028 - 02 - 29)));
        assert_eq!(expiry_end(12, 2026), Some(date!(2026 - 12 - 31)));
        assert_eq!(expiry_end(13, 2026), None);
        assert!(!is_expired(12, 2026, date!(2026 - 12 - 31)));
        assert!(is_expired(12, 2026, date!(2027 - 01 - 01)));
        assert!(is_expired(0, 2026, date!(2020 - 01 - 01)));
        assert_eq!(expiry_reminder_day(12, 2026), Some(date!(2026 - 12 - 01)));
        assert_eq!(expiry_reminder_day(3, 2027), Some(date!(2027 - 03 - 01)));
        assert!(!expiry_reminder_due(12, 2026, date!(2026 - 11 - 30)));
        assert!(expiry_reminder_due(12, 2026, date!(2026 - 12 - 01)));
        assert!(expiry_reminder_due(12, 2026, date!(2026 - 12 - 31)));
        assert!(!expiry_reminder_due(12, 2026, date!(2027 - 01 - 01)));
    }

    #[test]
    fn notices() {
        let charge = date!(2026 - 12 - 15);
        assert!(!notice_due(charge, 3, date!(2026 - 12 - 11)));
        assert!(notice_due(charge, 3, date!(2026 - 12 - 12)));
        assert!(notice_due(charge, 3, date!(2026 - 12 - 14)));
        assert!(!notice_due(charge, 3, charge));
        assert!(!notice_due(charge, 0, date!(2026 - 12 - 14)));
    }

    #[test]
    fn keys() {
        let d = date!(2026 - 12 - 15);
        assert_eq!(
            charge_key(Grouping::PerInvoice, "inv_1", "pmt_1", "usd", d),
            "autopay:inv_1:2026-12-15"
        );
        assert_eq!(
            charge_key(Grouping::PerCustomer, "inv_1", "pmt_1", "usd", d),
            "autopay:pmt_1:usd:2026-12-15"
        );
        assert_ne!(
            charge_key(Grouping::PerCustomer, "inv_1", "pmt_1", "cad", d),
            charge_key(Grouping::PerCustomer, "inv_1", "pmt_1", "usd", d)
        );
    }

    proptest! {
        /// The charge instant falls on the charge day where the company is,
        /// at the chosen hour (or the hour after a spring-forward gap).
        #[test]
        fn charge_instant_is_the_local_day_and_hour(
            day in 0i64..3650,
            hour in 0u8..24,
            zone in prop::sample::select(vec![
                "America/New_York", "America/Chicago", "America/Los_Angeles",
                "Europe/London", "Australia/Sydney", "UTC", "Asia/Kolkata",
            ]),
        ) {
            let date = date!(2024 - 01 - 01) + Duration::days(day);
            let at = local_instant(date, hour, zone);
            let (d, h) = local_date_hour(at, zone);
            prop_assert_eq!(d, date);
            prop_assert!(h == hour || h == hour + 1, "{} {} -> {}", date, hour, h);
            // Not due a second before, due from then on.
            prop_assert!(!is_due(at - Duration::seconds(1), date, hour, zone));
            prop_assert!(is_due(at, date, hour, zone));
        }

        /// Retries: increasing, within three weeks, at most 8, then a drop.
        #[test]
        fn schedules_end_within_three_weeks(
            days in prop::collection::btree_set(1i64..=21, 0..=8),
            start in 0i64..3650,
            code in prop::sample::select(vec!["insufficient_funds", "card_declined", "processing_error"]),
        ) {
            let days: Vec<i64> = days.into_iter().collect();
            let typed = format_retry_days(&days);
            prop_assert_eq!(parse_retry_days(&typed), Ok(days.clone()));
            let charge_on = date!(2024 - 01 - 01) + Duration::days(start);
            let mut last = charge_on;
            let mut tries = 1;
            let mut failures = 0;
            loop {
                match after_decline(code, charge_on, &days, failures) {
                    AfterDecline::Retry(d) => {
                        prop_assert!(d > last);
                        prop_assert!(d - charge_on <= Duration::days(MAX_RETRY_DAY));
                        last = d;
                        tries += 1;
                        failures += 1;
                    }
                    AfterDecline::Drop => break,
                    AfterDecline::Unchanged => prop_assert!(false),
                }
            }
            prop_assert_eq!(tries, days.len() + 1);
            prop_assert!(tries <= MAX_RETRIES + 1);
        }

        #[test]
        fn reminders_come_before_expiry(month in 1i64..=12, year in 2024i64..2040) {
            let from = expiry_reminder_day(month, year).unwrap();
            let end = expiry_end(month, year).unwrap();
            prop_assert_eq!(end - from, Duration::days(EXPIRY_REMINDER_DAYS));
            prop_assert!(!is_expired(month, year, end));
            prop_assert!(is_expired(month, year, end + Duration::days(1)));
            prop_assert!(expiry_reminder_due(month, year, from));
            prop_assert!(!expiry_reminder_due(month, year, from - Duration::days(1)));
        }
    }
}
