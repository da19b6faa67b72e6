//! Reports the office reads: the collections funnel.

use time::{Date, Duration};

use crate::app::{Actor, App, Refusal};
use crate::domain::dates::day_start;
use crate::domain::funnel::{ATTRIBUTION_DAYS, FunnelLine, collections_funnel};
use crate::store::{companies, funnel};

/// The longest range one report covers.
pub const MAX_RANGE_DAYS: i64 = 366;

/// Days as the company counts them: `from` and `to` both included.
#[derive(Debug, Clone, Copy)]
pub struct DateRange {
    pub from: Date,
    pub to: Date,
}

impl DateRange {
    pub fn check(self) -> Result<DateRange, Refusal> {
        if self.to < self.from {
            return Err(Refusal::invalid(
                "to",
                "to is before from: give the range's first day as from and its last as to.",
            ));
        }
        if (self.to - self.from).whole_days() >= MAX_RANGE_DAYS {
            return Err(Refusal::invalid(
                "to",
                format!("a report covers at most {MAX_RANGE_DAYS} days: choose a shorter range."),
            ));
        }
        Ok(self)
    }
}

/// Per template and channel: messages with a payment link sent in the
/// range, how many were followed by an open and by a payment, and the
/// amount collected (rules in `domain::funnel`).
pub async fn collections(
    app: &App,
    actor: &Actor,
    range: DateRange,
) -> Result<Vec<FunnelLine>, Refusal> {
    actor.must_be_company()?;
    let range = range.check()?;
    let company_id = actor.company_id();
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    let from = day_start(range.from, &company.time_zone);
    let until = range
        .to
        .next_day()
        .map_or(from + Duration::days(MAX_RANGE_DAYS), |d| {
            day_start(d, &company.time_zone)
        });
    let messages = funnel::messages_since(&app.db, company_id, from).await?;
    let opens = funnel::opens_since(&app.db, company_id, from).await?;
    let shares = funnel::paid_shares(
        &app.db,
        company_id,
        from,
        until + Duration::days(ATTRIBUTION_DAYS),
    )
    .await?;
    Ok(collections_funnel(&messages, &opens, &shares, from, until))
}
