//! Calendar dates: `YYYY-MM-DD` on the wire, "Dec 15, 2026" on pages, and
//! "today" in a company's time zone.

use time::macros::format_description;
use time::{Date, OffsetDateTime};

/// What a form says when a date does not read as one: the format, by example.
pub const ENTER_A_DATE: &str = "Enter a date like 2026-12-15.";

pub fn parse(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

pub fn iso(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// "Dec 15, 2026".
pub fn display(date: Date) -> String {
    date.format(format_description!(
        "[month repr:short] [day padding:none], [year]"
    ))
    .unwrap_or_default()
}

/// "Dec 31" within `today`'s year, else "Jan 5, 2028".
pub fn display_near(date: Date, today: Date) -> String {
    if date.year() == today.year() {
        date.format(format_description!("[month repr:short] [day padding:none]"))
            .unwrap_or_default()
    } else {
        display(date)
    }
}

/// The time zones offered in lists (setup, company settings), with their
/// names in words; any IANA zone is accepted where one is typed.
pub const TIME_ZONES: &[(&str, &str)] = &[
    ("America/New_York", "Eastern time (New York)"),
    ("America/Chicago", "Central time (Chicago)"),
    ("America/Denver", "Mountain time (Denver)"),
    (
        "America/Phoenix",
        "Mountain time, no daylight saving (Phoenix)",
    ),
    ("America/Los_Angeles", "Pacific time (Los Angeles)"),
    ("America/Anchorage", "Alaska time (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii time (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic time (Puerto Rico)"),
    ("America/Toronto", "Eastern time (Toronto)"),
    ("America/Vancouver", "Pacific time (Vancouver)"),
    ("America/Mexico_City", "Central time (Mexico City)"),
    ("Europe/London", "London"),
    ("Europe/Madrid", "Madrid"),
    ("Europe/Paris", "Paris"),
    ("Australia/Sydney", "Sydney"),
    ("Asia/Tokyo", "Tokyo"),
    ("UTC", "UTC"),
];

/// Whether an IANA time zone name is known.
pub fn is_known_zone(time_zone: &str) -> bool {
    jiff::tz::TimeZone::get(time_zone).is_ok()
}

pub mod serde_iso {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::iso(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        super::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("'{text}' is not a date in the form YYYY-MM-DD"))
        })
    }
}

/// "Nov 28, 2026, 4:31 PM CST" in the company's zone.
pub fn display_instant(at: time::OffsetDateTime, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    match jiff::Timestamp::from_second(at.unix_timestamp()) {
        Ok(ts) => ts
            .to_zoned_datetime(tz)
            .strftime("%b %-d, %Y, %-I:%M %p %Z")
            .to_string(),
        Err(_) => String::new(),
    }
}

/// The instant a calendar day starts in a time zone (UTC for an unknown zone).
pub fn day_start(date: Date, time_zone: &str) -> OffsetDateTime {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let civil = jiff::civil::Date::new(
        date.year() as i16,
        u8::from(date.month()) as i8,
        date.day() as i8,
    );
    civil
        .ok()
        .and_then(|d| d.to_zoned_datetime(tz).ok())
        .and_then(|z| OffsetDateTime::from_unix_timestamp(z.timestamp().as_second()).ok())
        .unwrap_or_else(|| date.midnight().assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn near_dates_leave_out_the_year() {
        let today = date!(2026 - 12 - 06);
        assert_eq!(display_near(date!(2026 - 12 - 31), today), "Dec 31");
        assert_eq!(display_near(date!(2027 - 01 - 05), today), "Jan 5, 2027");
    }

    #[test]
    fn days_start_in_the_company_zone() {
        assert_eq!(
            day_start(date!(2026 - 11 - 28), "America/Chicago"),
            datetime!(2026-11-28 06:00 UTC)
        );
        assert_eq!(
            day_start(date!(2026 - 07 - 01), "America/Chicago"),
            datetime!(2026-07-01 05:00 UTC)
        );
        assert_eq!(
            day_start(date!(2026 - 11 - 28), "Mars/Olympus"),
            datetime!(2026-11-28 00:00 UTC)
        );
    }

    #[test]
    fn formats_and_parses() {
        assert_eq!(parse("2026-12-15"), Some(date!(2026 - 12 - 15)));
        assert_eq!(parse("2026-13-01"), None);
        assert_eq!(parse("12/15/2026"), None);
        assert_eq!(iso(date!(2026 - 01 - 05)), "2026-01-05");
        assert_eq!(display(date!(2026 - 12 - 05)), "Dec 5, 2026");
    }

    #[test]
    fn zones() {
        assert!(is_known_zone("America/Chicago"));
        assert!(!is_known_zone("Mars/Olympus"));
    }
}
