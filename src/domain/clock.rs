//! "Now", from the one place the application owns: the system clock in
//! production; in tests, a clock that starts at a chosen instant and can be
//! moved, so a test never compares a literal date with the real today.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::{Date, Duration, OffsetDateTime};

#[derive(Clone, Debug)]
pub struct Clock {
    /// Microseconds added to the system time: 0 for the system clock.
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock {
            offset_micros: Arc::new(AtomicI64::new(0)),
        }
    }

    /// A clock that reads `at` now and runs on from there at the system
    /// clock's pace (timeouts and rate-limit windows still pass).
    pub fn starting_at(at: OffsetDateTime) -> Clock {
        let clock = Clock::system();
        clock.set(at);
        clock
    }

    /// The current instant, to the microsecond (what PostgreSQL keeps, so
    /// values compare the same on both databases).
    pub fn now(&self) -> OffsetDateTime {
        let offset = Duration::microseconds(self.offset_micros.load(Ordering::Relaxed));
        truncate_to_micros(OffsetDateTime::now_utc() + offset)
    }

    /// Moves the clock so that it reads `at` now. Clones share the move.
    pub fn set(&self, at: OffsetDateTime) {
        let offset = at - OffsetDateTime::now_utc();
        self.offset_micros
            .store(offset.whole_microseconds() as i64, Ordering::Relaxed);
    }

    /// Moves the clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        self.offset_micros
            .fetch_add(by.whole_microseconds() as i64, Ordering::Relaxed);
    }

    /// Today's date in an IANA time zone; an unknown zone is read as UTC.
    pub fn today_in(&self, time_zone: &str) -> Date {
        date_in(self.now(), time_zone)
    }
}

/// The calendar date of an instant in an IANA time zone (UTC when unknown).
pub fn date_in(at: OffsetDateTime, time_zone: &str) -> Date {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(ts) = jiff::Timestamp::from_second(at.unix_timestamp()) else {
        return at.date();
    };
    let civil = ts.to_zoned_datetime(tz).date();
    Date::from_calendar_date(
        i32::from(civil.year()),
        time::Month::try_from(civil.month() as u8).unwrap_or(time::Month::January),
        civil.day() as u8,
    )
    .unwrap_or(at.date())
}

fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_clock_set_to_an_instant_reads_it_and_runs_on() {
        let clock = Clock::starting_at(datetime!(2031-03-01 12:00 UTC));
        let now = clock.now();
        assert!(now >= datetime!(2031-03-01 12:00 UTC));
        assert!(now < datetime!(2031-03-01 12:01 UTC));
        let shared = clock.clone();
        shared.advance(Duration::days(2));
        assert_eq!(clock.today_in("UTC"), date!(2031 - 03 - 03));
    }

    #[test]
    fn today_depends_on_the_zone() {
        let clock = Clock::starting_at(datetime!(2031-03-01 03:00 UTC));
        assert_eq!(clock.today_in("UTC"), date!(2031 - 03 - 01));
        assert_eq!(clock.today_in("America/Chicago"), date!(2031 - 02 - 28));
        assert_eq!(clock.today_in("Not/AZone"), date!(2031 - 03 - 01));
    }

    #[test]
    fn the_system_clock_keeps_microseconds_only() {
        let now = Clock::system().now();
        assert_eq!(now.nanosecond() % 1000, 0);
        let real = OffsetDateTime::now_utc();
        assert!((real - now).abs() < Duration::seconds(5));
    }
}
