//! JSON API: invoice alert rules (`/api/v1/invoice-alerts`) and the
//! receipt templates (`/api/v1/settings/receipts`).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::CompanyKey;
use super::error::ApiError;
use crate::app::alerts as app_alerts;
use crate::store::StoreError;
use crate::store::alerts::{self, AlertRule, ReceiptSettings, RuleFields, Timing};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/invoice-alerts", post(create).get(list))
        .route(
            "/api/v1/invoice-alerts/{id}",
            get(show).put(update).delete(remove),
        )
        .route(
            "/api/v1/settings/receipts",
            get(get_receipts).put(put_receipts),
        )
}

type ApiResult = Result<Response, ApiError>;

fn default_enabled() -> bool {
    true
}

#[derive(Deserialize)]
struct RuleBody {
    #[serde(default)]
    email_template_id: Option<String>,
    #[serde(default)]
    sms_template_id: Option<String>,
    #[serde(default)]
    days_after_due: i64,
    #[serde(default)]
    timing: Option<String>,
    #[serde(default = "default_enabled")]
    enabled: bool,
}

#[derive(Deserialize)]
struct ReceiptBody {
    #[serde(default)]
    email_template_id: Option<String>,
    #[serde(default)]
    sms_template_id: Option<String>,
}

/// An id as given, with blank meaning none.
fn given(id: &Option<String>) -> Option<&str> {
    id.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn rule_json(r: &AlertRule) -> Value {
    json!({
        "id": r.id,
        "email_template_id": r.email_template_id,
        "sms_template_id": r.sms_template_id,
        "days_after_due": r.days_after_due,
        "timing": r.timing.as_str(),
        "enabled": r.enabled,
    })
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

async fn create(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let rule = app_alerts::save_rule(&state.app, &key.actor(), None, &fields(&b)?).await?;
    Ok(super::json_created(rule_json(&rule)))
}

async fn list(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let rules = alerts::list(&state.app.db, &company).await?;
    let data: Vec<Value> = rules.iter().map(rule_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

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

async fn remove(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    app_alerts::delete_rule(&state.app, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_receipts(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let mut conn = state
        .app
        .db
        .reader()
        .acquire()
        .await
        .map_err(StoreError::from)?;
    let s = alerts::receipt_settings(&mut conn, &company).await?;
    Ok(Json(json!(s)).into_response())
}

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
    Ok(Json(json!(saved)).into_response())
}
