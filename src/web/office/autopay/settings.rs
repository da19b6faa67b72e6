//! Settings › Autopay: when invoices are charged, retries, notices and the
//! templates of each autopay message.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};

use super::{Page, SETTINGS, chosen, hour_label};
use crate::app::{Rejected, autopay};
use crate::domain::autopay::{
    self as rules, Grouping, MAX_DAYS_AFTER_ISSUE, MAX_NOTICE_DAYS, Timing,
};
use crate::store::autopay::{self as store, Settings, Templates};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status, refused};

// ---------------------------------------------------------------- settings

#[derive(Deserialize, Serialize, Default, Debug, Clone)]
pub(super) struct SettingsForm {
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
        .map(|t| (t.id.into_string(), t.name))
        .collect();
    let sms: Vec<(String, String)> = crate::store::templates::list_sms(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (t.id.into_string(), t.name))
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
pub(super) struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub(super) async fn settings_page(
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

pub(super) async fn save_settings(
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
    match autopay::save_settings(&state.app, &user.as_actor(), &s).await {
        Ok(()) => Ok(Redirect::to(&format!("{SETTINGS}?saved=1")).into_response()),
        Err(Rejected::Refused(r)) => Ok(refused(&state, r)),
        Err(rejected) => {
            settings_view(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                rejected.by_field().unwrap_or_default(),
                false,
            )
            .await
        }
    }
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
}
