//! JSON API: outbound webhook endpoints (`/api/v1/webhook-endpoints`) and
//! their deliveries. Every handler names the API key's company as the actor
//! and calls one use case of `crate::app::webhooks`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::api::CompanyKey;
use super::error::ApiError;
use crate::app::webhooks::{self, EndpointView};
use crate::store::webhooks::DeliveryView;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhook-endpoints", post(create).get(list))
        .route("/api/v1/webhook-endpoints/{id}", get(show).delete(remove))
        .route("/api/v1/webhook-endpoints/{id}/deliveries", get(deliveries))
        .route("/api/v1/webhook-endpoints/{id}/attempts", get(attempts))
        .route("/api/v1/webhook-endpoints/{id}/test", post(test))
        .route("/api/v1/webhook-endpoints/{id}/enable", post(enable))
        .route("/api/v1/webhook-deliveries/{id}/retry", post(retry))
}

type ApiResult = Result<Response, ApiError>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    url: String,
    events: Vec<String>,
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<i64>,
}

impl ListQuery {
    /// 1..=200, 100 when not given.
    fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(100),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::bad_request(
                "invalid_query",
                "limit must be a whole number from 1 to 200.",
            )
            .with_field("limit")),
        }
    }
}

fn endpoint_json(e: &EndpointView) -> Value {
    json!(e)
}

/// A delivery as the contract lists it (and a little more).
fn delivery_json(d: &DeliveryView) -> Value {
    json!(d)
}

async fn create(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<EndpointBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let created = webhooks::create(&state.app, &key.actor(), &b.url, &b.events).await?;
    let mut shown = endpoint_json(&created.endpoint);
    shown["secret"] = json!(created.secret);
    Ok(super::json_created(shown))
}

async fn list(State(state): State<AppState>, key: CompanyKey) -> ApiResult {
    let endpoints = webhooks::list(&state.app, &key.actor()).await?;
    let data: Vec<Value> = endpoints.iter().map(endpoint_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn show(State(state): State<AppState>, key: CompanyKey, Path(id): Path<String>) -> ApiResult {
    let e = webhooks::get(&state.app, &key.actor(), &id).await?;
    Ok(Json(endpoint_json(&e)).into_response())
}

async fn remove(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    webhooks::delete(&state.app, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn deliveries(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let list = webhooks::deliveries(&state.app, &key.actor(), &id, q.limit()?).await?;
    let data: Vec<Value> = list.iter().map(delivery_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn attempts(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let list = webhooks::tries(&state.app, &key.actor(), &id, q.limit()?).await?;
    Ok(Json(json!({ "data": list })).into_response())
}

async fn test(State(state): State<AppState>, key: CompanyKey, Path(id): Path<String>) -> ApiResult {
    let d = webhooks::send_test(&state.app, &key.actor(), &id).await?;
    Ok(super::json_created(delivery_json(&d)))
}

async fn enable(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let e = webhooks::enable(&state.app, &key.actor(), &id).await?;
    Ok(Json(endpoint_json(&e)).into_response())
}

async fn retry(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let d = webhooks::retry(&state.app, &key.actor(), &id).await?;
    Ok(Json(delivery_json(&d)).into_response())
}
