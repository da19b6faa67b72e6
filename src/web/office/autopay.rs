//! Office autopay: the overview (upcoming charges for the next 14 days, the
//! last run's results, retries pending, "Autopay problems"), Settings ›
//! Autopay, and a customer's autopay (office enrollment with the consent the
//! customer stated, a card per property, turning it off).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use time::Duration;

use super::{CsrfForm, OfficeUser, page, page_with_status};
use crate::app::autopay::scheduled_day;
use crate::domain::autopay::{
    self as rules, Grouping, MAX_DAYS_AFTER_ISSUE, MAX_NOTICE_DAYS, Timing,
};
use crate::domain::autopay_consent_text;
use crate::domain::dates;
use crate::domain::money::{Currency, Money};
use crate::store::autopay::{self as store, Settings, Templates, Window};
use crate::store::payments::{self as pay_store, Consent};
use crate::store::{StoreError, audit, companies, customers};
use crate::web::error::ApiError;
use crate::web::{AppState, ClientIp, user_agent};

type Page = Result<Response, ApiError>;

const OVERVIEW: &str = "/office/autopay";
const SETTINGS: &str = "/office/settings/autopay";
/// Days ahead the overview lists upcoming charges.
const UPCOMING_DAYS: i64 = 14;
/// Longest note on how a customer gave consent.
const NOTE_MAX: usize = 500;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(OVERVIEW, get(overview))
        .route(SETTINGS, get(settings_page).post(save_settings))
        .route(
            "/office/customers/{id}/autopay",
            get(customer_page).post(enroll),
        )
        .route(
            "/office/customers/{id}/autopay/properties",
            axum::routing::post(set_property_cards),
        )
        .route(
            "/office/customers/{id}/autopay/cancel",
            get(cancel_confirm).post(cancel),
        )
}

fn money(minor: i64, currency: &str) -> String {
    Money::new(minor, Currency::parse(currency).unwrap_or(Currency::USD)).format()
}

/// "9:00 AM".
pub fn hour_label(hour: u8) -> String {
    let (h, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{h}:00 {half}")
}

fn card_label(brand: &str, last4: &str, exp_month: i64, exp_year: i64) -> String {
    crate::web::pay::method_label(brand, last4, exp_month, exp_year)
}

/// What a result came to, in words.
fn outcome_words(outcome: &str, code: Option<&str>, next: Option<time::Date>) -> String {
    let why = code.map(rules::decline_words).unwrap_or("");
    match (outcome, next) {
        ("paid", _) => "Paid".to_string(),
        ("retry", Some(d)) => format!("Declined ({why}): next try {}", dates::display(d)),
        ("dropped", _) => format!("Declined ({why}): back to manual payment"),
        ("not_charged", _) => "Not charged: tried again on the next run day".to_string(),
        _ => format!("Declined ({why})"),
    }
}

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

async fn overview(State(state): State<AppState>, user: OfficeUser) -> Page {
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
                customer_id: inv.customer_id.clone(),
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

// ---------------------------------------------------------------- settings

#[derive(Deserialize, Serialize, Default, Debug, Clone)]
struct SettingsForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    timing: String,
    #[serde(default)]
    days_after_issue: String,
    #[serde(default)]
    charge_hour: String,
    #[serde(default)]
    grouping: String,
    #[serde(default)]
    retry_days: String,
    #[serde(default)]
    notice_days: String,
    #[serde(default)]
    notice_email: String,
    #[serde(default)]
    notice_sms: String,
    #[serde(default)]
    receipt_email: String,
    #[serde(default)]
    receipt_sms: String,
    #[serde(default)]
    decline_email: String,
    #[serde(default)]
    decline_sms: String,
    #[serde(default)]
    expiring_email: String,
    #[serde(default)]
    expiring_sms: String,
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn chosen(v: &str) -> Option<String> {
    Some(v.trim()).filter(|s| !s.is_empty()).map(str::to_string)
}

impl SettingsForm {
    fn from_settings(s: &Settings) -> SettingsForm {
        let t = &s.templates;
        SettingsForm {
            timing: s.timing.key().to_string(),
            days_after_issue: match s.timing {
                Timing::AfterIssue(d) => d.to_string(),
                Timing::DueDate => "0".to_string(),
            },
            charge_hour: s.charge_hour.to_string(),
            grouping: s.grouping.key().to_string(),
            retry_days: rules::format_retry_days(&s.retry_days),
            notice_days: s.notice_days.to_string(),
            notice_email: opt(&t.notice_email),
            notice_sms: opt(&t.notice_sms),
            receipt_email: opt(&t.receipt_email),
            receipt_sms: opt(&t.receipt_sms),
            decline_email: opt(&t.decline_email),
            decline_sms: opt(&t.decline_sms),
            expiring_email: opt(&t.expiring_email),
            expiring_sms: opt(&t.expiring_sms),
            ..SettingsForm::default()
        }
    }
}

/// A whole number from `lo` to `hi` as typed (blank is 0).
fn whole(text: &str, lo: i64, hi: i64) -> Option<i64> {
    let t = text.trim();
    let n = if t.is_empty() { 0 } else { t.parse().ok()? };
    (lo..=hi).contains(&n).then_some(n)
}

/// The form checked: the settings, or every field in error and its message.
fn check_settings(f: &SettingsForm) -> Result<Settings, BTreeMap<&'static str, String>> {
    let mut errors = BTreeMap::new();
    let days = whole(&f.days_after_issue, 0, MAX_DAYS_AFTER_ISSUE);
    let timing = match f.timing.as_str() {
        "due_date" => Some(Timing::DueDate),
        "after_issue" => match days {
            Some(d) => Some(Timing::AfterIssue(d)),
            None => {
                errors.insert(
                    "days_after_issue",
                    format!("Enter a whole number of days from 0 to {MAX_DAYS_AFTER_ISSUE}."),
                );
                None
            }
        },
        _ => {
            errors.insert("timing", "Choose when invoices are charged.".to_string());
            None
        }
    };
    let hour = whole(&f.charge_hour, 0, 23);
    if hour.is_none() {
        errors.insert("charge_hour", "Choose an hour of the day.".to_string());
    }
    let grouping = Grouping::parse(&f.grouping);
    if grouping.is_none() {
        errors.insert(
            "grouping",
            "Choose one charge per invoice or one per customer per day.".to_string(),
        );
    }
    let retry = match rules::parse_retry_days(&f.retry_days) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.insert("retry_days", e);
            None
        }
    };
    let notice = whole(&f.notice_days, 0, MAX_NOTICE_DAYS);
    if notice.is_none() {
        errors.insert(
            "notice_days",
            format!("Enter a whole number of days from 0 (no notice) to {MAX_NOTICE_DAYS}."),
        );
    }
    let (Some(timing), Some(hour), Some(grouping), Some(retry_days), Some(notice_days)) =
        (timing, hour, grouping, retry, notice)
    else {
        return Err(errors);
    };
    Ok(Settings {
        timing,
        charge_hour: u8::try_from(hour).unwrap_or(9),
        grouping,
        retry_days,
        notice_days,
        templates: Templates {
            notice_email: chosen(&f.notice_email),
            notice_sms: chosen(&f.notice_sms),
            receipt_email: chosen(&f.receipt_email),
            receipt_sms: chosen(&f.receipt_sms),
            decline_email: chosen(&f.decline_email),
            decline_sms: chosen(&f.decline_sms),
            expiring_email: chosen(&f.expiring_email),
            expiring_sms: chosen(&f.expiring_sms),
        },
    })
}

async fn settings_view(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    f: &SettingsForm,
    errors: BTreeMap<&'static str, String>,
    saved: bool,
) -> Page {
    let db = &state.app.db;
    let emails: Vec<(String, String)> = crate::store::templates::list_email(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let sms: Vec<(String, String)> = crate::store::templates::list_sms(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (t.id, t.name))
        .collect();
    let hours: Vec<(String, String)> = (0u8..24).map(|h| (h.to_string(), hour_label(h))).collect();
    let messages = [
        ("notice", "Notice before a charge"),
        ("receipt", "Receipt after a charge"),
        ("decline", "Decline"),
        ("expiring", "Card expiring"),
    ];
    Ok(page_with_status(
        state,
        user,
        status,
        "office/autopay_settings.html",
        "autopay-settings",
        minijinja::context! {
            f => minijinja::value::Serde(f),
            errors => errors,
            saved => saved,
            hours => hours,
            email_templates => emails,
            sms_templates => sms,
            messages => messages.to_vec(),
            max_days => MAX_DAYS_AFTER_ISSUE,
            max_notice => MAX_NOTICE_DAYS,
        },
    ))
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn settings_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<SavedQuery>,
) -> Page {
    let s = store::settings(state.app.db.reader(), &user.company_id).await?;
    let f = SettingsForm::from_settings(&s);
    settings_view(
        &state,
        &user,
        StatusCode::OK,
        &f,
        BTreeMap::new(),
        q.saved.is_some(),
    )
    .await
}

async fn save_settings(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<SettingsForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let s = match check_settings(&f) {
        Ok(s) => s,
        Err(errors) => {
            return settings_view(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                errors,
                false,
            )
            .await;
        }
    };
    let mut tx = state.app.db.begin_write().await?;
    if !store::templates_belong(&mut tx, &user.company_id, &s.templates).await? {
        drop(tx);
        let errors = BTreeMap::from([(
            "templates",
            "That template is not one of this company's templates.".to_string(),
        )]);
        return settings_view(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            errors,
            false,
        )
        .await;
    }
    store::save_settings(&mut tx, &user.company_id, &s, state.app.clock.now()).await?;
    audit::record(
        &mut tx,
        &user.company_id,
        &user.actor(),
        "autopay_settings.update",
        &user.company_id,
        serde_json::json!({
            "timing": s.timing.key(),
            "days_after_issue": match s.timing { Timing::AfterIssue(d) => d, Timing::DueDate => 0 },
            "charge_hour": s.charge_hour,
            "grouping": s.grouping.key(),
            "retry_days": rules::format_retry_days(&s.retry_days),
            "notice_days": s.notice_days,
            "templates": s.templates,
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to(&format!("{SETTINGS}?saved=1")).into_response())
}

// ---------------------------------------------------------------- a customer

#[derive(Deserialize, Serialize, Default, Debug, Clone)]
struct EnrollForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    method_id: String,
    #[serde(default)]
    consent: String,
    #[serde(default)]
    note: String,
}

#[derive(Serialize)]
struct CardChoice {
    id: String,
    label: String,
    expired: bool,
}

#[derive(Serialize)]
struct PropertyChoice {
    id: String,
    address: String,
    method_id: String,
}

#[derive(Serialize)]
struct EnrollmentView {
    card: String,
    method_id: String,
    channel: String,
    since: String,
    starts_on: String,
    consent_text: String,
    consent_note: Option<String>,
    enrolled_by: Option<String>,
}

fn channel_words(channel: &str) -> &'static str {
    match channel {
        "quick_pay" => "the payment link",
        "portal" => "the customer portal",
        "office" => "the office",
        _ => "another channel",
    }
}

async fn customer_view(
    state: &AppState,
    user: &OfficeUser,
    customer_id: &str,
    status: StatusCode,
    f: &EnrollForm,
    errors: BTreeMap<&'static str, String>,
    notice: Option<&str>,
) -> Page {
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, customer_id).await? else {
        return Ok(state.views.not_found());
    };
    let company = companies::get(db, &user.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let today = state.app.clock.today_in(&company.time_zone);
    let enrollment = store::enrollment(db.reader(), &user.company_id, customer_id).await?;
    let cards: Vec<CardChoice> = pay_store::saved_methods(db, &user.company_id, customer_id)
        .await?
        .into_iter()
        .map(|m| CardChoice {
            label: card_label(&m.brand, &m.last4, m.exp_month, m.exp_year),
            expired: rules::is_expired(m.exp_month, m.exp_year, today),
            id: m.id,
        })
        .collect();
    let properties: Vec<PropertyChoice> = store::property_cards(
        db,
        &user.company_id,
        customer_id,
        enrollment.as_ref().map(|e| e.id.as_str()),
    )
    .await?
    .into_iter()
    .map(|p| PropertyChoice {
        id: p.property_id,
        address: p.address,
        method_id: p.method_id.unwrap_or_default(),
    })
    .collect();
    let view = enrollment.map(|e| EnrollmentView {
        card: card_label(&e.brand, &e.last4, e.exp_month, e.exp_year),
        method_id: e.method_id,
        channel: channel_words(&e.channel).to_string(),
        since: dates::display_instant(e.consent_at, &company.time_zone),
        starts_on: dates::display(e.starts_on),
        consent_text: e.consent_text,
        consent_note: e.consent_note,
        enrolled_by: e.enrolled_by,
    });
    Ok(page_with_status(
        state,
        user,
        status,
        "office/autopay_customer.html",
        "customers",
        minijinja::context! {
            customer => minijinja::context! { id => customer.id, name => customer.name },
            enrollment => minijinja::value::Serde(&view),
            cards => minijinja::value::Serde(&cards),
            properties => minijinja::value::Serde(&properties),
            consent_text => autopay_consent_text(&company.name, &company.phone),
            f => minijinja::value::Serde(f),
            errors => errors,
            notice => notice,
        },
    ))
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn customer_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> Page {
    let notice = match q.saved.as_deref() {
        Some("enrolled") => {
            Some("Autopay is on. Invoices due from today on are charged when they are due.")
        }
        Some("properties") => Some("The cards for the properties were saved."),
        Some("cancelled") => Some("Autopay is off. Future invoices are not charged automatically."),
        Some("already_off") => Some("Autopay was already off."),
        _ => None,
    };
    customer_view(
        &state,
        &user,
        &id,
        StatusCode::OK,
        &EnrollForm::default(),
        BTreeMap::new(),
        notice,
    )
    .await
}

/// POST: enrolls the customer with a saved card, recording who did it and
/// how the customer gave consent.
async fn enroll(
    State(state): State<AppState>,
    user: OfficeUser,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<EnrollForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let db = &state.app.db;
    if customers::get(db, &user.company_id, &id).await?.is_none() {
        return Ok(state.views.not_found());
    }
    let company = companies::get(db, &user.company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let today = state.app.clock.today_in(&company.time_zone);
    let mut errors = BTreeMap::new();
    let method = match chosen(&f.method_id) {
        Some(m) => pay_store::saved_method(db, &user.company_id, &id, &m).await?,
        None => None,
    };
    match &method {
        None => {
            errors.insert(
                "method_id",
                "Choose one of the customer's saved cards.".to_string(),
            );
        }
        Some(m) if rules::is_expired(m.exp_month, m.exp_year, today) => {
            errors.insert(
                "method_id",
                "That card has expired. Choose another card.".to_string(),
            );
        }
        Some(_) => {}
    }
    if f.consent != "yes" {
        errors.insert(
            "consent",
            "Tick the box to confirm the customer gave this authorization.".to_string(),
        );
    }
    let note = f.note.trim();
    if note.is_empty() {
        errors.insert(
            "note",
            "Say how and when the customer gave consent, e.g. \u{201c}by phone, Nov 28\u{201d}."
                .to_string(),
        );
    } else if note.chars().count() > NOTE_MAX {
        errors.insert("note", format!("Keep it under {NOTE_MAX} characters."));
    } else if let Err(e) = crate::domain::text::single_line("note", note, NOTE_MAX) {
        errors.insert("note", e.message);
    }
    let Some(method) = method.filter(|_| errors.is_empty()) else {
        return customer_view(
            &state,
            &user,
            &id,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            errors,
            None,
        )
        .await;
    };
    let consent = Consent {
        text: autopay_consent_text(&company.name, &company.phone),
        ip: ip.0.to_string(),
        user_agent: user_agent(&headers),
        channel: "office".into(),
        starts_on: today,
    };
    let mut tx = db.begin_write().await?;
    let enrollment = store::enroll_by_office(
        &mut tx,
        &user.company_id,
        &id,
        &method.id,
        &consent,
        &user.user_id,
        note,
    )
    .await?;
    audit::record(
        &mut tx,
        &user.company_id,
        &user.actor(),
        "autopay.enrolled",
        &id,
        serde_json::json!({
            "enrollment": enrollment, "method": method.id, "channel": "office", "consent_note": note,
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to(&format!("/office/customers/{id}/autopay?saved=enrolled")).into_response())
}

/// POST: the card for each property (`card_{property id}`: a saved card's
/// id, or blank for the autopay card).
async fn set_property_cards(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(fields): Form<HashMap<String, String>>,
) -> Page {
    let csrf = fields.get("csrf").map(String::as_str).unwrap_or("");
    if let Some(r) = user.csrf_refusal(csrf) {
        return Ok(r);
    }
    let db = &state.app.db;
    if customers::get(db, &user.company_id, &id).await?.is_none() {
        return Ok(state.views.not_found());
    }
    let Some(enrollment) = store::enrollment(db.reader(), &user.company_id, &id).await? else {
        let errors = BTreeMap::from([(
            "properties",
            "Turn autopay on before choosing cards for properties.".to_string(),
        )]);
        return customer_view(
            &state,
            &user,
            &id,
            StatusCode::CONFLICT,
            &EnrollForm::default(),
            errors,
            None,
        )
        .await;
    };
    let cards: Vec<String> = pay_store::saved_methods(db, &user.company_id, &id)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let properties = store::property_cards(db, &user.company_id, &id, Some(&enrollment.id)).await?;
    let mut changes: Vec<(String, Option<String>)> = Vec::new();
    for p in &properties {
        let Some(value) = fields.get(&format!("card_{}", p.property_id)) else {
            continue;
        };
        let wanted = chosen(value).filter(|m| *m != enrollment.method_id);
        if let Some(m) = &wanted
            && !cards.contains(m)
        {
            let errors = BTreeMap::from([(
                "properties",
                "Choose one of the customer's saved cards for each property.".to_string(),
            )]);
            return customer_view(
                &state,
                &user,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                &EnrollForm::default(),
                errors,
                None,
            )
            .await;
        }
        if wanted != p.method_id {
            changes.push((p.property_id.clone(), wanted));
        }
    }
    let mut tx = db.begin_write().await?;
    for (property_id, method_id) in &changes {
        store::set_property_card(
            &mut tx,
            &user.company_id,
            &enrollment.id,
            property_id,
            method_id.as_deref(),
            &user.user_id,
        )
        .await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "autopay.property_card",
            &id,
            serde_json::json!({"enrollment": enrollment.id, "property": property_id, "method": method_id}),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to(&format!("/office/customers/{id}/autopay?saved=properties")).into_response())
}

async fn cancel_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Page {
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let enrollment = store::enrollment(db.reader(), &user.company_id, &id).await?;
    Ok(page(
        &state,
        &user,
        "office/autopay_cancel.html",
        "customers",
        minijinja::context! {
            customer => minijinja::context! { id => customer.id, name => customer.name },
            card => enrollment.map(|e| format!("{} ending {}", e.brand, e.last4)),
        },
    ))
}

async fn cancel(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    if customers::get(&state.app.db, &user.company_id, &id)
        .await?
        .is_none()
    {
        return Ok(state.views.not_found());
    }
    let mut tx = state.app.db.begin_write().await?;
    let was_on = store::cancel(&mut tx, &user.company_id, &id).await?;
    if was_on {
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "autopay.cancelled",
            &id,
            serde_json::json!({"channel": "office"}),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    let saved = if was_on { "cancelled" } else { "already_off" };
    Ok(Redirect::to(&format!("/office/customers/{id}/autopay?saved={saved}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SettingsForm {
        SettingsForm {
            timing: "due_date".into(),
            days_after_issue: "".into(),
            charge_hour: "9".into(),
            grouping: "per_invoice".into(),
            retry_days: "3,5,7".into(),
            notice_days: "3".into(),
            ..SettingsForm::default()
        }
    }

    #[test]
    fn hours_in_words() {
        assert_eq!(hour_label(0), "12:00 AM");
        assert_eq!(hour_label(9), "9:00 AM");
        assert_eq!(hour_label(12), "12:00 PM");
        assert_eq!(hour_label(17), "5:00 PM");
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let s = check_settings(&form()).unwrap();
        assert_eq!(s.timing, Timing::DueDate);
        assert_eq!((s.charge_hour, s.notice_days), (9, 3));
        assert_eq!(s.retry_days, vec![3, 5, 7]);
        let mut f = form();
        f.timing = "after_issue".into();
        f.days_after_issue = "10".into();
        f.grouping = "per_customer".into();
        f.notice_email = "etpl_1".into();
        let s = check_settings(&f).unwrap();
        assert_eq!(s.timing, Timing::AfterIssue(10));
        assert_eq!(s.grouping, Grouping::PerCustomer);
        assert_eq!(s.templates.notice_email.as_deref(), Some("etpl_1"));
        let mut f = form();
        f.timing = "after_issue".into();
        f.days_after_issue = "91".into();
        f.charge_hour = "24".into();
        f.retry_days = "3,5,25".into();
        f.notice_days = "x".into();
        f.grouping = "weekly".into();
        let e = check_settings(&f).unwrap_err();
        let fields: Vec<&str> = e.keys().copied().collect();
        assert_eq!(
            fields,
            vec![
                "charge_hour",
                "days_after_issue",
                "grouping",
                "notice_days",
                "retry_days"
            ]
        );
    }

    #[test]
    fn outcomes_in_words() {
        assert_eq!(outcome_words("paid", None, None), "Paid");
        let d = time::macros::date!(2026 - 12 - 18);
        assert_eq!(
            outcome_words("retry", Some("insufficient_funds"), Some(d)),
            "Declined (Insufficient funds): next try Dec 18, 2026"
        );
        assert_eq!(
            outcome_words("dropped", Some("expired_card"), None),
            "Declined (The card has expired): back to manual payment"
        );
    }
}
