//! The built-in sandbox processor's own routes: card tokenization (what a
//! processor's card form posts to) and the bank's check it stands in for.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};

use super::error::ApiError;
use crate::processor::sandbox::{
    CardInput, SandboxProcessor, TEST_MODE_LIVE_CARD, TokenError, TokenResponse,
};

pub fn router(sandbox: SandboxProcessor) -> Router {
    Router::new()
        .route("/sandbox/v1/tokens", post(create_token))
        .route("/sandbox/v1/authenticate/{charge_id}", post(authenticate))
        .with_state(sandbox)
}

fn unavailable(reason: String) -> ApiError {
    tracing::error!(%reason, "sandbox database failed");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "The test card service is unavailable. Try again in a moment.",
    )
}

async fn create_token(
    State(sandbox): State<SandboxProcessor>,
    body: Result<Json<CardInput>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let Json(input) = body?;
    match sandbox.create_token(input).await {
        Ok(token) => Ok(Json(token)),
        // A real-looking number on a test page: refused like a declined card.
        Err(TokenError::Card(e)) if e.code == TEST_MODE_LIVE_CARD => {
            Err(ApiError::new(StatusCode::PAYMENT_REQUIRED, e.code, e.message).with_field(e.field))
        }
        Err(TokenError::Card(e)) => Err(ApiError::unprocessable(e.code, e.message, e.field)),
        Err(TokenError::Unavailable(e)) => Err(unavailable(e.0)),
    }
}

/// Completes a sandbox charge waiting for the customer's bank's check; any
/// other charge id is a 404.
async fn authenticate(
    State(sandbox): State<SandboxProcessor>,
    Path(charge_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    match sandbox.authenticate(&charge_id).await {
        Ok(true) => Ok(Json(
            serde_json::json!({"id": charge_id, "status": "succeeded"}),
        )),
        Ok(false) => Err(ApiError::not_found()),
        Err(e) => Err(unavailable(e.0)),
    }
}
