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

fn foreign_template() -> ApiError {
    ApiError::unprocessable(
        "unknown_template",
        "No such template in this company: create it first under /api/v1/email-templates or /api/v1/sms-templates.",
        "email_template_id",
    )
}

/// The rule's fields, checked; templates are checked inside the write.
fn checked(b: &RuleBody) -> Result<RuleFields<'_>, ApiError> {
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
    crate::app::alerts::check_rule(email, sms, b.days_after_due)
        .map_err(|(field, msg)| ApiError::unprocessable("invalid_field", msg, field))?;
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
    CompanyKey(company): CompanyKey,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let f = checked(&b)?;
    let mut tx = state.app.db.begin_write().await?;
    if !alerts::templates_belong(&mut tx, &company, f.email_template_id, f.sms_template_id).await? {
        return Err(foreign_template());
    }
    let rule = alerts::create(&mut tx, &company, &f, state.app.clock.now()).await?;
    tx.commit().await.map_err(StoreError::from)?;
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
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Result<Json<RuleBody>, JsonRejection>,
) -> ApiResult {
    alerts::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let f = checked(&b)?;
    let mut tx = state.app.db.begin_write().await?;
    if !alerts::templates_belong(&mut tx, &company, f.email_template_id, f.sms_template_id).await? {
        return Err(foreign_template());
    }
    if !alerts::update(&mut tx, &company, &id, &f, state.app.clock.now()).await? {
        return Err(ApiError::not_found());
    }
    tx.commit().await.map_err(StoreError::from)?;
    let rule = alerts::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(rule_json(&rule)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let mut tx = state.app.db.begin_write().await?;
    if !alerts::delete(&mut tx, &company, &id).await? {
        return Err(ApiError::not_found());
    }
    tx.commit().await.map_err(StoreError::from)?;
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
    CompanyKey(company): CompanyKey,
    body: Result<Json<ReceiptBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let s = ReceiptSettings {
        email_template_id: given(&b.email_template_id).map(str::to_string),
        sms_template_id: given(&b.sms_template_id).map(str::to_string),
    };
    let mut tx = state.app.db.begin_write().await?;
    let belong = alerts::templates_belong(
        &mut tx,
        &company,
        s.email_template_id.as_deref(),
        s.sms_template_id.as_deref(),
    )
    .await?;
    if !belong {
        return Err(foreign_template());
    }
    alerts::set_receipt_settings(&mut tx, &company, &s, state.app.clock.now()).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(json!(s)).into_response())
}
