//! The autopay overview: upcoming charges, the last run's results, retries
//! pending and invoices autopay gave up on.

use axum::extract::State;
use serde::Serialize;
use time::Duration;

use super::{Page, UPCOMING_DAYS, hour_label, money, outcome_words};
use crate::app::autopay::scheduled_day;
use crate::domain::autopay::{self as rules, Timing};
use crate::domain::dates;
use crate::store::autopay::{self as store, Window};
use crate::store::companies;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, page};

// ---------------------------------------------------------------- overview

#[derive(Serialize)]
struct UpcomingRow {
    date: String,
    time: String,
    customer_id: String,
    customer_name: String,
    invoice_id: String,
    number: String,
    card: String,
    card_expired: bool,
    amount: String,
    try_text: String,
    busy: bool,
}

#[derive(Serialize)]
struct ResultView {
    customer_id: String,
    customer_name: String,
    invoices: String,
    amount: String,
    outcome: String,
    paid: bool,
    payment_id: Option<String>,
}

#[derive(Serialize)]
struct ItemView {
    invoice_id: String,
    number: String,
    customer_id: String,
    customer_name: String,
    balance: String,
    tries: i64,
    reason: String,
    next_try: String,
    since: String,
}

pub(super) async fn overview(State(state): State<AppState>, user: OfficeUser) -> Page {
    let db = &state.app.db;
    let company = companies::get(db, &user.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let settings = store::settings(db.reader(), &user.company_id).await?;
    let at = state.app.clock.now();
    let (today, _) = rules::local_date_hour(at, &company.time_zone);
    let through = today + Duration::days(UPCOMING_DAYS);
    let (due_through, issue_through) = match settings.timing {
        Timing::DueDate => (Some(through), None),
        Timing::AfterIssue(d) => (None, Some(through - Duration::days(d))),
    };
    let open = store::open_enrolled(
        db,
        &user.company_id,
        Window {
            due_through,
            issue_through,
            retry_through: Some(through),
            include_locked: true,
        },
    )
    .await?;
    let mut upcoming: Vec<(time::Date, UpcomingRow)> = open
        .iter()
        .map(|inv| {
            let day = scheduled_day(inv, settings.timing).max(today);
            let try_text = match &inv.item {
                Some(i) => format!("Retry {} of {}", i.failures, settings.retry_days.len()),
                None => "First try".to_string(),
            };
            let instant = rules::local_instant(day, settings.charge_hour, &company.time_zone);
            let row = UpcomingRow {
                date: dates::display(day),
                time: dates::display_instant(instant, &company.time_zone),
                customer_id: inv.customer_id.to_string(),
                customer_name: inv.customer_name.clone(),
                invoice_id: inv.invoice_id.clone(),
                number: inv.number.clone(),
                card: format!("{} ending {}", inv.brand, inv.last4),
                card_expired: rules::is_expired(inv.exp_month, inv.exp_year, day),
                amount: money(inv.balance, &inv.currency),
                try_text,
                busy: inv.locked,
            };
            (day, row)
        })
        .collect();
    upcoming.sort_by_key(|(day, _)| *day);
    let upcoming_total: i64 = open.iter().map(|i| i.balance).sum();
    let last = store::last_run_results(db, &user.company_id).await?;
    let last_run = last
        .first()
        .map(|r| dates::display_instant(r.settled_at, &company.time_zone));
    let results: Vec<ResultView> = last
        .into_iter()
        .map(|r| ResultView {
            outcome: outcome_words(&r.outcome, r.code.as_deref(), r.next_try_on),
            paid: r.outcome == "paid",
            customer_id: r.customer_id,
            customer_name: r.customer_name,
            invoices: r.invoice_numbers,
            amount: money(r.amount, &r.currency),
            payment_id: r.payment_id,
        })
        .collect();
    let item_view = |r: store::ItemRow| ItemView {
        reason: r
            .last_code
            .as_deref()
            .map(rules::decline_words)
            .unwrap_or("")
            .to_string(),
        next_try: r.next_try_on.map(dates::display).unwrap_or_default(),
        since: dates::display_instant(r.updated_at, &company.time_zone),
        balance: money(r.balance, &r.currency),
        invoice_id: r.invoice_id,
        number: r.number,
        customer_id: r.customer_id,
        customer_name: r.customer_name,
        tries: r.failures,
    };
    let retries: Vec<ItemView> = store::items(db, &user.company_id, "retrying")
        .await?
        .into_iter()
        .map(item_view)
        .collect();
    let problems: Vec<ItemView> = store::items(db, &user.company_id, "failed")
        .await?
        .into_iter()
        .map(item_view)
        .collect();
    let enrolled = store::enrolled_count(db, &user.company_id).await?;
    let rows: Vec<UpcomingRow> = upcoming.into_iter().map(|(_, r)| r).collect();
    Ok(page(
        &state,
        &user,
        "office/autopay.html",
        "autopay",
        minijinja::context! {
            enrolled => enrolled,
            upcoming => minijinja::value::Serde(&rows),
            upcoming_total => money(upcoming_total, company.currency.code()),
            days => UPCOMING_DAYS,
            charge_hour => hour_label(settings.charge_hour),
            last_run => last_run,
            results => minijinja::value::Serde(&results),
            retries => minijinja::value::Serde(&retries),
            problems => minijinja::value::Serde(&problems),
        },
    ))
}
