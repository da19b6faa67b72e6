//! Messages: `GET /api/v1/messages?customer_id=` (the outbox of one customer)
//! and the inbound SMS webhook `POST /webhooks/sms/{company_id}` that records
//! STOP / START (SECURITY.md 20).
//!
//! The webhook takes Twilio's form fields `From` and `Body`. It does not yet
//! check Twilio's `X-Twilio-Signature`; until it does, anyone who knows a
//! company id can opt a number out or back in (TODO: verify the signature
//! with FIELDPAY_SMS_TOKEN).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::api::CompanyKey;
use super::error::ApiError;
use crate::messaging::sms::{Keyword, keyword, normalize_phone};
use crate::store::{StoreError, customers, messages};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/messages", get(list_messages))
        .route("/webhooks/sms/{company_id}", post(inbound_sms))
}

#[derive(Deserialize)]
struct ListQuery {
    customer_id: Option<String>,
}

async fn list_messages(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError::unprocessable("invalid_query", e.body_text(), "customer_id"))?;
    let customer_id = q
        .customer_id
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_field", "customer_id is required", "customer_id")
        })?;
    if customers::get(&state.app.db, &company, &customer_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found());
    }
    let data = messages::list_for_customer(&state.app.db, &company, &customer_id).await?;
    Ok(Json(json!({ "data": data })).into_response())
}

#[derive(Deserialize)]
struct InboundSms {
    #[serde(rename = "From", default)]
    from: String,
    #[serde(rename = "Body", default)]
    body: String,
}

/// An empty TwiML answer: no reply text is sent from here (the provider
/// sends its own STOP confirmation).
fn twiml() -> Response {
    let mut r = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

async fn inbound_sms(
    State(state): State<AppState>,
    Path(company_id): Path<String>,
    Form(msg): Form<InboundSms>,
) -> Result<Response, ApiError> {
    if company_id.len() > 100 || !messages::company_exists(&state.app.db, &company_id).await? {
        return Err(ApiError::not_found());
    }
    let Some(kw) = keyword(&msg.body) else {
        return Ok(twiml());
    };
    let Some(phone) = normalize_phone(&msg.from) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "From must be a phone number",
        ));
    };
    let mut tx = state.app.db.begin_write().await?;
    messages::set_opt_out(
        &mut tx,
        &company_id,
        &phone,
        kw == Keyword::OptOut,
        crate::store::now(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    tracing::info!(company = %company_id, opted_out = kw == Keyword::OptOut, "SMS opt-out list changed");
    Ok(twiml())
}
