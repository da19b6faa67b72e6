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
use crate::store::StoreError;
use crate::store::alerts::{self, AlertRule, ReceiptSettings, RuleFields, Timing};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, update, remove))
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
}

fn rule_json(r: &AlertRule) -> RuleView {
    RuleView {
        id: r.id.clone(),
        email_template_id: r.email_template_id.clone(),
        sms_template_id: r.sms_template_id.clone(),
        days_after_due: r.days_after_due,
        timing: r.timing.as_str(),
        enabled: r.enabled,
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
        (status = 201, description = "The rule.", body = RuleView),
        (status = 404, description = "A template id names no template of this company.", body = ErrorBody),
    )
)]
async fn create(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let rule = app_alerts::save_rule(&state.app, &key.actor(), None, &fields(&b)?).await?;
    Ok(super::json_created(rule_json(&rule)))
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
    Path(id): Path<String>,
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
        (status = 200, description = "The rule.", body = RuleView),
        (status = 404, description = "No such rule or template of this company.", body = ErrorBody),
    )
)]
async fn update(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    alerts::get(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let rule = app_alerts::save_rule(&state.app, &key.actor(), Some(&id), &fields(&b)?).await?;
    Ok(Json(rule_json(&rule)).into_response())
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
    Path(id): Path<String>,
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
        email_template_id: given(&b.email_template_id).map(str::to_string),
        sms_template_id: given(&b.sms_template_id).map(str::to_string),
    };
    let saved = app_alerts::save_receipts(&state.app, &key.actor(), &s).await?;
    Ok(Json(saved).into_response())
}
