//! Office: Settings › Communications › Invoice Alerts — alert rules (list,
//! add, edit, enable/disable, delete) and the receipt templates sent after
//! each payment, saved by the use cases the JSON API calls
//! (`crate::app::alerts::save_rule`, …).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use super::{CsrfForm, OfficeUser, page, page_with_status, refused};
use crate::app::{Rejected, alerts};
use crate::domain::dates;
use crate::domain::ids::{AlertRuleId, CompanyId};
use crate::domain::money::Money;
use crate::store::StoreError;
use crate::store::alerts::{self as store, AlertRule, ReceiptSettings, RuleFields, Timing};
use crate::store::companies::{self, Company};
use crate::store::templates as tpl;
use crate::web::AppState;
use crate::web::error::ApiError;

type Page = Result<Response, ApiError>;

const BASE: &str = "/office/settings/invoice-alerts";
const NAV: &str = "invoice-alerts";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list_page))
        .route(&format!("{BASE}/new"), get(new_form).post(create))
        .route(&format!("{BASE}/receipts"), post(save_receipts))
        .route(&format!("{BASE}/{{id}}/edit"), get(edit_form).post(update))
        .route(&format!("{BASE}/{{id}}/toggle"), post(toggle))
        .route(
            &format!("{BASE}/{{id}}/delete"),
            get(delete_confirm).post(delete),
        )
}

// ---------------------------------------------------------------- rules

/// When an alert goes out, in words.
pub fn when_text(timing: Timing, days: i64) -> String {
    let n = |d: i64| {
        if d == 1 {
            "1 day".to_string()
        } else {
            format!("{d} days")
        }
    };
    match timing {
        Timing::AtCreation => "when the invoice is created".to_string(),
        Timing::AfterDue if days == 0 => "on the due date".to_string(),
        Timing::BeforeDue if days == 0 => "on the due date".to_string(),
        Timing::AfterDue => format!("{} after the due date", n(days)),
        Timing::BeforeDue => format!("{} before the due date", n(days)),
    }
}

/// A select's value, with blank meaning none.
fn chosen(v: &str) -> Option<&str> {
    Some(v.trim()).filter(|s| !s.is_empty())
}

/// Days as typed: blank is 0; anything but a whole number is refused.
pub fn parse_days(s: &str) -> Result<i64, &'static str> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    s.parse::<i64>()
        .map_err(|_| "Enter a whole number of days from 0 to 365.")
}

/// The form's fields checked (without the templates' owner), or the field
/// in error and its message.
fn check_form(f: &RuleForm) -> Result<RuleFields<'_>, (&'static str, String)> {
    let timing = Timing::parse(f.timing.trim())
        .ok_or(("timing", "Choose when the alert is sent.".to_string()))?;
    let days = if timing == Timing::AtCreation {
        0
    } else {
        parse_days(&f.days).map_err(|m| ("days", m.to_string()))?
    };
    let (email, sms) = (chosen(&f.email_template_id), chosen(&f.sms_template_id));
    crate::app::alerts::check_rule(email, sms, days).map_err(|(field, msg)| match field {
        "days_after_due" => (
            "days",
            "Enter a whole number of days from 0 to 365.".to_string(),
        ),
        _ => ("email_template_id", msg),
    })?;
    Ok(RuleFields {
        email_template_id: email,
        sms_template_id: sms,
        timing,
        days,
        enabled: f.enabled.is_some(),
    })
}

// ---------------------------------------------------------------- forms

#[derive(Deserialize, Serialize, Default, Debug)]
struct RuleForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    email_template_id: String,
    #[serde(default)]
    sms_template_id: String,
    #[serde(default)]
    timing: String,
    #[serde(default)]
    days: String,
    #[serde(default)]
    enabled: Option<String>,
    /// The office's answer to "also message the invoices already past this
    /// point?": `yes`, `no`, or blank (not asked yet).
    #[serde(default)]
    catch_up: String,
}

impl RuleForm {
    fn from_rule(r: &AlertRule) -> RuleForm {
        RuleForm {
            email_template_id: r
                .email_template_id
                .clone()
                .map(String::from)
                .unwrap_or_default(),
            sms_template_id: r
                .sms_template_id
                .clone()
                .map(String::from)
                .unwrap_or_default(),
            timing: r.timing.as_str().to_string(),
            days: r.days_after_due.to_string(),
            enabled: r.enabled.then(|| "on".to_string()),
            ..RuleForm::default()
        }
    }
}

#[derive(Deserialize, Serialize, Default, Debug)]
struct ReceiptForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    email_template_id: String,
    #[serde(default)]
    sms_template_id: String,
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
    #[serde(default)]
    caught_up: Option<usize>,
}

/// The company's email and SMS templates as (id, name) pairs.
async fn template_choices(
    state: &AppState,
    company_id: &CompanyId,
) -> Result<(Vec<(String, String)>, Vec<(String, String)>), ApiError> {
    let db = &state.app.db;
    let emails = tpl::list_email(db, company_id)
        .await?
        .into_iter()
        .map(|t| (t.id.into_string(), t.name))
        .collect();
    let sms = tpl::list_sms(db, company_id)
        .await?
        .into_iter()
        .map(|t| (t.id.into_string(), t.name))
        .collect();
    Ok((emails, sms))
}

#[derive(Serialize)]
struct RuleRow {
    id: AlertRuleId,
    email: Option<String>,
    sms: Option<String>,
    when: String,
    enabled: bool,
}

async fn list_view(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    receipt: &ReceiptForm,
    receipt_error: Option<String>,
    saved: Option<String>,
    caught_up: Option<usize>,
) -> Page {
    let (emails, sms) = template_choices(state, &user.company_id).await?;
    let email_names: HashMap<&str, &str> = emails
        .iter()
        .map(|(i, n)| (i.as_str(), n.as_str()))
        .collect();
    let sms_names: HashMap<&str, &str> =
        sms.iter().map(|(i, n)| (i.as_str(), n.as_str())).collect();
    let name_of = |names: &HashMap<&str, &str>, id: Option<&str>| {
        id.map(|i| {
            names
                .get(i)
                .copied()
                .unwrap_or("(deleted template)")
                .to_string()
        })
    };
    let rules: Vec<RuleRow> = store::list(&state.app.db, &user.company_id)
        .await?
        .iter()
        .map(|r| RuleRow {
            id: r.id.clone(),
            email: name_of(&email_names, r.email_template_id.as_deref()),
            sms: name_of(&sms_names, r.sms_template_id.as_deref()),
            when: when_text(r.timing, r.days_after_due),
            enabled: r.enabled,
        })
        .collect();
    Ok(page_with_status(
        state,
        user,
        status,
        "office/alerts.html",
        NAV,
        minijinja::context! {
            base => BASE,
            rules => minijinja::value::Serde(&rules),
            email_templates => emails,
            sms_templates => sms,
            receipt => minijinja::value::Serde(receipt),
            receipt_error => receipt_error,
            saved => saved,
            caught_up => caught_up,
        },
    ))
}

async fn list_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<SavedQuery>,
) -> Page {
    let mut conn = state
        .app
        .db
        .reader()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let s = store::receipt_settings(&mut conn, &user.company_id).await?;
    drop(conn);
    let receipt = ReceiptForm {
        email_template_id: s.email_template_id.map(String::from).unwrap_or_default(),
        sms_template_id: s.sms_template_id.map(String::from).unwrap_or_default(),
        ..ReceiptForm::default()
    };
    list_view(
        &state,
        &user,
        StatusCode::OK,
        &receipt,
        None,
        q.saved,
        q.caught_up,
    )
    .await
}

async fn editor(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    id: Option<&AlertRuleId>,
    f: &RuleForm,
    errors: BTreeMap<&'static str, String>,
) -> Page {
    let (emails, sms) = template_choices(state, &user.company_id).await?;
    // The saved rule's next messages, shown below its form.
    let next = match id {
        Some(id) => match store::get(&state.app.db, &user.company_id, id).await? {
            Some(rule) => Some(preview_rows(state, user, &rule).await?),
            None => None,
        },
        None => None,
    };
    Ok(page_with_status(
        state,
        user,
        status,
        "office/alerts_form.html",
        NAV,
        minijinja::context! {
            base => BASE,
            id => id.map(AlertRuleId::as_str),
            f => minijinja::value::Serde(f),
            errors => errors,
            email_templates => emails,
            sms_templates => sms,
            preview => next.map(minijinja::value::Serde),
        },
    ))
}

/// One row of a rule's "next messages", as the page writes it.
#[derive(Serialize)]
struct NextRow {
    send_on: String,
    invoice_id: String,
    number: String,
    customer_id: String,
    customer_name: String,
    balance: String,
    due_date: String,
    by: String,
}

#[derive(Serialize)]
struct PreviewRows {
    rule_enabled: bool,
    next: Vec<NextRow>,
    missed: usize,
}

fn next_rows(next: &[alerts::NextMessage], today: time::Date, company: &Company) -> Vec<NextRow> {
    // A stored number as people in the company's country write it.
    let phone = |p: &str| crate::domain::contact::display_phone(p, &company.country);
    next.iter()
        .map(|m| NextRow {
            send_on: if m.send_on == today {
                "Today".to_string()
            } else {
                dates::display_near(m.send_on, today)
            },
            invoice_id: m.invoice_id.clone(),
            number: m.number.clone(),
            customer_id: m.customer_id.clone(),
            customer_name: m.customer_name.clone(),
            balance: Money::new(m.balance, company.currency).format(),
            due_date: dates::display_near(m.due_date, today),
            by: match (&m.email, m.sms.as_deref().map(phone)) {
                (Some(e), Some(p)) => format!("Email to {e}, SMS to {p}"),
                (Some(e), None) => format!("Email to {e}"),
                (None, Some(p)) => format!("SMS to {p}"),
                (None, None) => String::new(),
            },
        })
        .collect()
}

async fn company_of(state: &AppState, user: &OfficeUser) -> Result<Company, ApiError> {
    companies::get(&state.app.db, &user.company_id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The saved rule's next messages and how many invoices it has missed.
async fn preview_rows(
    state: &AppState,
    user: &OfficeUser,
    rule: &AlertRule,
) -> Result<PreviewRows, ApiError> {
    let fields = rule.fields();
    let p = alerts::preview(&state.app, &user.as_actor(), Some(&rule.id), &fields).await?;
    let company = company_of(state, user).await?;
    Ok(PreviewRows {
        rule_enabled: rule.enabled,
        next: next_rows(&p.next, p.today, &company),
        missed: p.missed.len(),
    })
}

/// Asks once whether to also message the invoices the rule has missed,
/// listing them (the form's fields carried along).
async fn ask_catch_up(
    state: &AppState,
    user: &OfficeUser,
    id: Option<&AlertRuleId>,
    f: &RuleForm,
    missed: &[alerts::NextMessage],
    today: time::Date,
) -> Page {
    let company = company_of(state, user).await?;
    let fields = check_form(f).ok();
    Ok(page(
        state,
        user,
        "office/alerts_catch_up.html",
        NAV,
        minijinja::context! {
            base => BASE,
            id => id.map(AlertRuleId::as_str),
            f => minijinja::value::Serde(f),
            when => fields.map(|x| when_text(x.timing, x.days)),
            count => missed.len(),
            missed => minijinja::value::Serde(next_rows(&missed[..missed.len().min(LISTED)], today, &company)),
            more => missed.len().saturating_sub(LISTED),
        },
    ))
}

/// Invoices the catch-up question lists by name.
const LISTED: usize = 10;

async fn new_form(State(state): State<AppState>, user: OfficeUser) -> Page {
    let f = RuleForm {
        timing: "after_due".to_string(),
        days: "3".to_string(),
        enabled: Some("on".to_string()),
        ..RuleForm::default()
    };
    editor(&state, &user, StatusCode::OK, None, &f, BTreeMap::new()).await
}

async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<AlertRuleId>,
) -> Page {
    let Some(rule) = store::get(&state.app.db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let f = RuleForm::from_rule(&rule);
    editor(
        &state,
        &user,
        StatusCode::OK,
        Some(&id),
        &f,
        BTreeMap::new(),
    )
    .await
}

/// Creates (`id` None) or updates the rule; the form again with the error
/// next to its field when it is refused.
async fn save(state: &AppState, user: &OfficeUser, id: Option<&AlertRuleId>, f: &RuleForm) -> Page {
    let refuse = |field: &'static str, msg: String| async move {
        let errors = BTreeMap::from([(field, msg)]);
        editor(state, user, StatusCode::UNPROCESSABLE_ENTITY, id, f, errors).await
    };
    let fields = match check_form(f) {
        Ok(x) => x,
        Err((field, msg)) => return refuse(field, msg).await,
    };
    let catch_up = match f.catch_up.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            if fields.enabled {
                let p = match alerts::preview(&state.app, &user.as_actor(), id, &fields).await {
                    Ok(p) => p,
                    Err(r) => return Ok(refused(state, r)),
                };
                if !p.missed.is_empty() {
                    return ask_catch_up(state, user, id, f, &p.missed, p.today).await;
                }
            }
            false
        }
    };
    match alerts::save_rule(&state.app, &user.as_actor(), id, &fields, catch_up).await {
        Ok(saved) if saved.caught_up > 0 => Ok(Redirect::to(&format!(
            "{BASE}?saved=alert&caught_up={}",
            saved.caught_up
        ))
        .into_response()),
        Ok(_) => Ok(Redirect::to(&format!("{BASE}?saved=alert")).into_response()),
        Err(Rejected::Refused(r)) => Ok(refused(state, r)),
        Err(Rejected::Fields(problems)) => {
            let Some(p) = problems.into_iter().next() else {
                return Ok(state.views.not_found());
            };
            let message = match p.code {
                "unknown_template" => NOT_OURS.to_string(),
                _ => p.message,
            };
            let field = match p.field {
                "days_after_due" => "days",
                "sms_template_id" => "sms_template_id",
                "catch_up" => "enabled",
                _ => "email_template_id",
            };
            refuse(field, message).await
        }
    }
}

/// What the office says of a template that is not the company's.
const NOT_OURS: &str = "That template is not one of this company's templates.";

async fn create(State(state): State<AppState>, user: OfficeUser, Form(f): Form<RuleForm>) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    save(&state, &user, None, &f).await
}

async fn update(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<AlertRuleId>,
    Form(f): Form<RuleForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    if store::get(&state.app.db, &user.company_id, &id)
        .await?
        .is_none()
    {
        return Ok(state.views.not_found());
    }
    save(&state, &user, Some(&id), &f).await
}

async fn toggle(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<AlertRuleId>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let Some(rule) = store::get(&state.app.db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    match alerts::set_enabled(&state.app, &user.as_actor(), &id, !rule.enabled).await {
        Ok(_) => Ok(Redirect::to(BASE).into_response()),
        Err(r) => Ok(refused(&state, r)),
    }
}

async fn delete_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<AlertRuleId>,
) -> Page {
    let Some(rule) = store::get(&state.app.db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let when = when_text(rule.timing, rule.days_after_due);
    Ok(super::confirm_delete(
        &state,
        &user,
        NAV,
        super::ConfirmDelete {
            title: "Delete invoice alert",
            question: "Delete this invoice alert?",
            before: "The alert sent ",
            strong: &when,
            after: " will be deleted for good: no more messages are sent for it. Messages already sent stay in the Messages list.",
            action: format!("{BASE}/{id}/delete"),
            button: "Delete invoice alert",
            cancel: BASE.to_string(),
        },
    ))
}

async fn delete(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<AlertRuleId>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match alerts::delete_rule(&state.app, &user.as_actor(), &id).await {
        Ok(()) => Ok(Redirect::to(&format!("{BASE}?saved=deleted")).into_response()),
        Err(r) => Ok(refused(&state, r)),
    }
}

async fn save_receipts(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<ReceiptForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let s = ReceiptSettings {
        email_template_id: chosen(&f.email_template_id).map(Into::into),
        sms_template_id: chosen(&f.sms_template_id).map(Into::into),
    };
    match alerts::save_receipts(&state.app, &user.as_actor(), &s).await {
        Ok(_) => Ok(Redirect::to(&format!("{BASE}?saved=receipts")).into_response()),
        Err(Rejected::Refused(r)) => Ok(refused(&state, r)),
        Err(Rejected::Fields(_)) => {
            list_view(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                Some(NOT_OURS.to_string()),
                None,
                None,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_in_words() {
        assert_eq!(when_text(Timing::AfterDue, 3), "3 days after the due date");
        assert_eq!(
            when_text(Timing::BeforeDue, 2),
            "2 days before the due date"
        );
        assert_eq!(when_text(Timing::BeforeDue, 1), "1 day before the due date");
        assert_eq!(when_text(Timing::AfterDue, 0), "on the due date");
        assert_eq!(
            when_text(Timing::AtCreation, 9),
            "when the invoice is created"
        );
    }

    #[test]
    fn days_and_form_checks() {
        assert_eq!(parse_days(" 7 "), Ok(7));
        assert_eq!(parse_days(""), Ok(0));
        assert!(parse_days("3.5").is_err());
        let mut f = RuleForm {
            email_template_id: "etpl_1".into(),
            timing: "after_due".into(),
            days: "366".into(),
            ..RuleForm::default()
        };
        assert_eq!(check_form(&f).unwrap_err().0, "days");
        f.days = "365".into();
        let ok = check_form(&f).unwrap();
        assert_eq!((ok.days, ok.enabled), (365, false));
        f.timing = "at_creation".into();
        f.days = "".into();
        assert_eq!(check_form(&f).unwrap().days, 0);
        f.email_template_id = " ".into();
        assert_eq!(check_form(&f).unwrap_err().0, "email_template_id");
        f.email_template_id = "x".into();
        f.timing = "weekly".into();
        assert_eq!(check_form(&f).unwrap_err().0, "timing");
    }
}
