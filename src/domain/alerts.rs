//! Pure alert rules: when an alert rule's trigger date falls for an invoice,
//! which invoice dates the jobs loop looks at on a given day, and so when
//! (or whether) an invoice gets the rule's message. The job
//! (`crate::app::alerts::queue_due`), the rule page's preview and the
//! catch-up of a new or edited rule all reason with these functions.
//!
//! Nothing here reads a clock or a database.

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

/// Trigger dates older than this many days (today counted) are not sent by
/// the jobs loop; only a catch-up chosen by the office reaches them.
pub const CATCH_UP_DAYS: i64 = 7;

/// When an alert's trigger date falls, relative to the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    /// `due_date + days`.
    AfterDue,
    /// `due_date - days`.
    BeforeDue,
    /// `issue_date` (days ignored).
    AtCreation,
}

impl Timing {
    pub fn as_str(self) -> &'static str {
        match self {
            Timing::AfterDue => "after_due",
            Timing::BeforeDue => "before_due",
            Timing::AtCreation => "at_creation",
        }
    }

    pub fn parse(s: &str) -> Option<Timing> {
        match s {
            "after_due" => Some(Timing::AfterDue),
            "before_due" => Some(Timing::BeforeDue),
            "at_creation" => Some(Timing::AtCreation),
            _ => None,
        }
    }

    /// Whether the rule is keyed on the issue date (else the due date).
    pub fn by_issue_date(self) -> bool {
        self == Timing::AtCreation
    }
}

/// The trigger date of an invoice under a rule.
pub fn trigger_date(timing: Timing, days: i64, issue: Date, due: Date) -> Date {
    match timing {
        Timing::AfterDue => due + Duration::days(days),
        Timing::BeforeDue => due - Duration::days(days),
        Timing::AtCreation => issue,
    }
}

/// The window `(after, through]` of the invoice's date column (issue date
/// for `at_creation`, due date otherwise) whose trigger date lies in the
/// last `CATCH_UP_DAYS` days up to `today`: what the jobs loop sends today.
/// A date column at or before `after` is past the window for good; one
/// after `through` has its trigger still to come.
pub fn column_window(timing: Timing, days: i64, today: Date) -> (Date, Date) {
    let shift = match timing {
        Timing::AfterDue => -days,
        Timing::BeforeDue => days,
        Timing::AtCreation => 0,
    };
    let through = today + Duration::days(shift);
    (through - Duration::days(CATCH_UP_DAYS), through)
}

/// What a rule does for an open invoice not yet messaged by it, seen on
/// `today` (the company's date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The jobs loop sends it on this day: the trigger date, or today when
    /// the trigger fell within the catch-up window (the next run, from
    /// 9:00 local time).
    On(Date),
    /// Its trigger date is past the window: the job never sends it; only a
    /// catch-up does.
    Missed,
}

/// When the rule messages an invoice with these dates.
pub fn reach(timing: Timing, days: i64, today: Date, issue: Date, due: Date) -> Reach {
    let trigger = trigger_date(timing, days, issue, due);
    if trigger <= today - Duration::days(CATCH_UP_DAYS) {
        Reach::Missed
    } else {
        Reach::On(trigger.max(today))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn windows_map_trigger_dates_to_invoice_dates() {
        let today = date!(2026 - 12 - 10);
        // 3 days after due: due dates Nov 30 (exclusive) .. Dec 7 fire.
        assert_eq!(
            column_window(Timing::AfterDue, 3, today),
            (date!(2026 - 11 - 30), date!(2026 - 12 - 07))
        );
        assert_eq!(
            column_window(Timing::BeforeDue, 5, today),
            (date!(2026 - 12 - 08), date!(2026 - 12 - 15))
        );
        assert_eq!(
            column_window(Timing::AtCreation, 9, today),
            (date!(2026 - 12 - 03), today)
        );
        // Every date in the window has its trigger in the last 7 days.
        for timing in [Timing::AfterDue, Timing::BeforeDue, Timing::AtCreation] {
            let (after, through) = column_window(timing, 3, today);
            let mut d = after + Duration::days(1);
            while d <= through {
                let t = trigger_date(timing, 3, d, d);
                assert!(t <= today && t > today - Duration::days(CATCH_UP_DAYS));
                d += Duration::days(1);
            }
        }
    }

    #[test]
    fn reach_is_the_trigger_date_today_or_missed() {
        let today = date!(2026 - 12 - 10);
        let issue = date!(2026 - 10 - 01);
        // 35 days overdue under "3 days after due": its trigger was 32 days ago.
        let due = today - Duration::days(35);
        assert_eq!(reach(Timing::AfterDue, 3, today, issue, due), Reach::Missed);
        // Due 5 days ago: the trigger (2 days ago) is in the window, so today.
        let due = today - Duration::days(5);
        assert_eq!(
            reach(Timing::AfterDue, 3, today, issue, due),
            Reach::On(today)
        );
        // Due in 4 days: 3 days after that.
        let due = today + Duration::days(4);
        assert_eq!(
            reach(Timing::AfterDue, 3, today, issue, due),
            Reach::On(date!(2026 - 12 - 17))
        );
        assert_eq!(
            reach(Timing::BeforeDue, 3, today, issue, due),
            Reach::On(date!(2026 - 12 - 11))
        );
        // Issued long ago: a rule "when created" missed it.
        assert_eq!(
            reach(Timing::AtCreation, 0, today, issue, due),
            Reach::Missed
        );
        assert_eq!(
            reach(Timing::AtCreation, 0, today, today, due),
            Reach::On(today)
        );
    }

    #[test]
    fn reach_agrees_with_the_window_the_job_reads() {
        // For every invoice date around today, the job's window and `reach`
        // say the same: before the window missed, in it today, after it later.
        let today = date!(2027 - 03 - 14);
        for timing in [Timing::AfterDue, Timing::BeforeDue, Timing::AtCreation] {
            for days in [0, 1, 3, 14, 30] {
                let (after, through) = column_window(timing, days, today);
                for offset in -60..60 {
                    let d = today + Duration::days(offset);
                    let got = reach(timing, days, today, d, d);
                    let want = if d <= after {
                        Reach::Missed
                    } else if d <= through {
                        Reach::On(today)
                    } else {
                        Reach::On(trigger_date(timing, days, d, d))
                    };
                    assert_eq!(got, want, "{timing:?} {days} {d}");
                    if let Reach::On(day) = got {
                        assert!(day >= today);
                    }
                }
            }
        }
    }
}
