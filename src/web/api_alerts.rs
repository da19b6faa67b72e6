//! JSON API: invoice alert rules (`/api/v1/invoice-alerts`) and the
//! receipt templates (`/api/v1/settings/receipts`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::{ErrorBody, List};
use super::error::ApiError;
use crate::app::alerts as app_alerts;
use crate::domain::ids::AlertRuleId;
use crate::store::StoreError;
use crate::store::alerts::{self, AlertRule, ReceiptSettings, RuleFields, Timing};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
        .routes(routes!(preview))
        .routes(routes!(get_receipts, put_receipts))
}

type ApiResult = Result<Response, ApiError>;

fn default_enabled() -> bool {
    true
}

/// An invoice alert rule: which templates to send, and when relative to
/// the due date.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email_template_id": "tpl_0000000000000000", "days_after_due": 7, "timing": "after_due", "enabled": true}))]
pub struct RuleBody {
    #[serde(default)]
    email_template_id: Option<String>,
    #[serde(default)]
    sms_template_id: Option<String>,
    #[serde(default)]
    days_after_due: i64,
    /// `after_due` (the default), `before_due` or `at_creation`.
    #[serde(default)]
    #[schema(pattern = "^(after_due|before_due|at_creation)$")]
    timing: Option<String>,
    #[serde(default = "default_enabled")]
    enabled: bool,
    /// Whether to message now, once, the open invoices already past this
    /// rule's trigger by more than the 7 days the daily run still catches
    /// (a "3 days after due" rule and a customer 35 days overdue). `false`
    /// (the default): only from now on. Needs `enabled`.
    #[serde(default)]
    catch_up: bool,
}

/// The templates a receipt is sent with (none: no receipt on that channel).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email_template_id": null, "sms_template_id": null}))]
pub struct ReceiptBody {
    #[serde(default)]
    email_template_id: Option<String>,
    #[serde(default)]
    sms_template_id: Option<String>,
}

/// An id as given, with blank meaning none.
fn given(id: &Option<String>) -> Option<&str> {
    id.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// An invoice alert rule of the company.
#[derive(Serialize, ToSchema)]
pub struct RuleView {
    pub id: String,
    pub email_template_id: Option<String>,
    pub sms_template_id: Option<String>,
    pub days_after_due: i64,
    /// `after_due`, `before_due` or `at_creation`.
    pub timing: &'static str,
    pub enabled: bool,
    /// In the answer to a create or update only: how many invoices the
    /// rule's catch-up messaged (0 without `catch_up`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caught_up: Option<u64>,
}

fn rule_json(r: &AlertRule) -> RuleView {
    RuleView {
        id: r.id.to_string(),
        email_template_id: r.email_template_id.clone().map(String::from),
        sms_template_id: r.sms_template_id.clone().map(String::from),
        days_after_due: r.days_after_due,
        timing: r.timing.as_str(),
        enabled: r.enabled,
        caught_up: None,
    }
}

fn saved_json(s: &app_alerts::SavedRule) -> RuleView {
    RuleView {
        caught_up: Some(s.caught_up as u64),
        ..rule_json(&s.rule)
    }
}

/// One invoice a rule will message: the day and the addresses.
#[derive(Serialize, ToSchema)]
pub struct NextMessageView {
    /// The company's date the message goes out (from 9:00 local time).
    #[schema(format = Date)]
    pub send_on: String,
    pub invoice_id: String,
    pub invoice_number: String,
    pub customer_id: String,
    pub customer_name: String,
    /// The invoice's balance, in cents.
    pub balance: i64,
    #[schema(format = Date)]
    pub due_date: String,
    /// Where the email goes, when the rule sends one.
    pub email: Option<String>,
    /// Where the SMS goes, when the rule sends one.
    pub sms: Option<String>,
}

/// What a rule will message next, and what it has missed.
#[derive(Serialize, ToSchema)]
pub struct PreviewView {
    /// Today where the company is.
    #[schema(format = Date)]
    pub today: String,
    /// The next invoices messaged, soonest first (at most 10).
    pub next: Vec<NextMessageView>,
    /// Open invoices past the trigger by more than 7 days, which the rule
    /// reaches only by a catch-up (`catch_up: true` on update).
    pub missed: u64,
}

fn next_json(m: &app_alerts::NextMessage) -> NextMessageView {
    use crate::domain::dates::iso;
    NextMessageView {
        send_on: iso(m.send_on),
        invoice_id: m.invoice_id.clone(),
        invoice_number: m.number.clone(),
        customer_id: m.customer_id.clone(),
        customer_name: m.customer_name.clone(),
        balance: m.balance,
        due_date: iso(m.due_date),
        email: m.email.clone(),
        sms: m.sms.clone(),
    }
}

/// The rule's fields as sent (the timing parsed); the use case checks them.
fn fields(b: &RuleBody) -> Result<RuleFields<'_>, ApiError> {
    let timing = match b.timing.as_deref() {
        None => Timing::AfterDue,
        Some(t) => Timing::parse(t).ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_field",
                "timing must be after_due, before_due or at_creation",
                "timing",
            )
        })?,
    };
    let (email, sms) = (given(&b.email_template_id), given(&b.sms_template_id));
    Ok(RuleFields {
        email_template_id: email,
        sms_template_id: sms,
        timing,
        days: b.days_after_due,
        enabled: b.enabled,
    })
}

/// Adds an invoice alert rule.
#[utoipa::path(
    post,
    path = "/api/v1/invoice-alerts",
    tag = "alerts",
    security(("api_key" = [])),
    request_body = RuleBody,
    responses(
        (status = 201, description = "The rule, with `caught_up`.", body = RuleView),
        (status = 404, description = "A template id names no template of this company.", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let saved =
        app_alerts::save_rule(&state.app, &key.actor(), None, &fields(&b)?, b.catch_up).await?;
    Ok(super::json_created(saved_json(&saved)))
}

/// The company's invoice alert rules.
#[utoipa::path(
    get,
    path = "/api/v1/invoice-alerts",
    tag = "alerts",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The rules.", body = List<RuleView>),
    )
)]
async fn list(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let rules = alerts::list(&state.app.db, &company).await?;
    let data = rules.iter().map(rule_json).collect();
    Ok(Json(List { data }).into_response())
}

/// One invoice alert rule.
#[utoipa::path(
    get,
    path = "/api/v1/invoice-alerts/{id}",
    tag = "alerts",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id.")),
    responses(
        (status = 200, description = "The rule.", body = RuleView),
        (status = 404, description = "No such rule of this company.", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<AlertRuleId>,
) -> ApiResult {
    let rule = alerts::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(rule_json(&rule)).into_response())
}

/// Replaces an invoice alert rule.
#[utoipa::path(
    put,
    path = "/api/v1/invoice-alerts/{id}",
    tag = "alerts",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id.")),
    request_body = RuleBody,
    responses(
        (status = 200, description = "The rule, with `caught_up`.", body = RuleView),
        (status = 404, description = "No such rule or template of this company.", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<AlertRuleId>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    alerts::get(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let saved = app_alerts::save_rule(
        &state.app,
        &key.actor(),
        Some(&id),
        &fields(&b)?,
        b.catch_up,
    )
    .await?;
    Ok(Json(saved_json(&saved)).into_response())
}

/// Which invoices the rule messages next and on what day, by the rule the
/// daily run applies.
#[utoipa::path(
    get,
    path = "/api/v1/invoice-alerts/{id}/preview",
    tag = "alerts",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id.")),
    responses(
        (status = 200, description = "The next messages.", body = PreviewView),
        (status = 404, description = "No such rule of this company.", body = ErrorBody),
    )
)]
async fn preview(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<AlertRuleId>,
) -> ApiResult {
    let rule = alerts::get(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let fields = rule.fields();
    let p = app_alerts::preview(&state.app, &key.actor(), Some(&id), &fields).await?;
    Ok(Json(PreviewView {
        today: crate::domain::dates::iso(p.today),
        next: p.next.iter().map(next_json).collect(),
        missed: p.missed.len() as u64,
    })
    .into_response())
}

/// Deletes an invoice alert rule.
#[utoipa::path(
    delete,
    path = "/api/v1/invoice-alerts/{id}",
    tag = "alerts",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The rule's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such rule of this company.", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<AlertRuleId>,
) -> ApiResult {
    app_alerts::delete_rule(&state.app, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The templates receipts are sent with.
#[utoipa::path(
    get,
    path = "/api/v1/settings/receipts",
    tag = "settings",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The receipt settings.", body = crate::store::alerts::ReceiptSettings),
    )
)]
async fn get_receipts(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let mut conn = state
        .app
        .db
        .reader()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let s = alerts::receipt_settings(&mut conn, &company).await?;
    Ok(Json(s).into_response())
}

/// Sets the templates receipts are sent with.
#[utoipa::path(
    put,
    path = "/api/v1/settings/receipts",
    tag = "settings",
    security(("api_key" = [])),
    request_body = ReceiptBody,
    responses(
        (status = 200, description = "The receipt settings.", body = crate::store::alerts::ReceiptSettings),
        (status = 404, description = "A template id names no template of this company.", body = ErrorBody),
    )
)]
async fn put_receipts(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<ReceiptBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let s = ReceiptSettings {
        email_template_id: given(&b.email_template_id).map(Into::into),
        sms_template_id: given(&b.sms_template_id).map(Into::into),
    };
    let saved = app_alerts::save_receipts(&state.app, &key.actor(), &s).await?;
    Ok(Json(saved).into_response())
}
