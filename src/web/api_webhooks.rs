//! JSON API: outbound webhook endpoints (`/api/v1/webhook-endpoints`) and
//! their deliveries. Every handler names the API key's company as the actor
//! and calls one use case of `crate::app::webhooks`.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::{ErrorBody, List};
use super::error::ApiError;
use crate::app::webhooks::{self, EndpointView};
use crate::domain::ids::{WebhookDeliveryId, WebhookEndpointId};
use crate::store::webhooks::DeliveryView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(show, remove))
        .routes(routes!(deliveries))
        .routes(routes!(attempts))
        .routes(routes!(test))
        .routes(routes!(enable))
        .routes(routes!(retry))
}

/// A new endpoint, with its signing secret (shown this once).
#[derive(Serialize, ToSchema)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// `whsec_…`: verify the signatures with it.
    pub secret: String,
}

type ApiResult = Result<Response, ApiError>;

/// Where to send which events.
#[derive(Deserialize, ToSchema)]
#[schema(as = WebhookEndpointCreate)]
#[schema(example = json!({"url": "https://hooks.example.com/fieldpay", "events": ["payment.succeeded"]}))]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    /// `https://…` (`http://` only where private targets are allowed).
    url: String,
    #[schema(schema_with = event_names)]
    events: Vec<String>,
}

/// The events an endpoint can subscribe to.
fn event_names() -> utoipa::openapi::Array {
    use crate::domain::webhooks::EventType;
    utoipa::openapi::ArrayBuilder::new()
        .items(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .enum_values(Some(EventType::SUBSCRIBABLE.iter().map(|e| e.as_str()))),
        )
        .min_items(Some(1))
        .build()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// 1 to 200; 100 when left out.
    #[param(minimum = 1, maximum = 200)]
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

/// Adds an endpoint that receives the events it names.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints",
    tag = "webhooks",
    security(("api_key" = [])),
    request_body = EndpointBody,
    responses(
        (status = 201, description = "The endpoint, with its secret.", body = CreatedEndpoint),
    )
)]
async fn create(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<EndpointBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let created = webhooks::create(&state.app, &key.actor(), &b.url, &b.events).await?;
    Ok(super::json_created(CreatedEndpoint {
        endpoint: created.endpoint,
        secret: created.secret,
    }))
}

/// The company's webhook endpoints.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints",
    tag = "webhooks",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The endpoints.", body = List<EndpointView>),
    )
)]
async fn list(State(state): State<AppState>, key: CompanyKey) -> ApiResult {
    let endpoints = webhooks::list(&state.app, &key.actor()).await?;
    let data: Vec<Value> = endpoints.iter().map(endpoint_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

/// One endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint.", body = EndpointView),
        (status = 404, description = "No such endpoint of this company.", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult {
    let e = webhooks::get(&state.app, &key.actor(), &id).await?;
    Ok(Json(endpoint_json(&e)).into_response())
}

/// Deletes an endpoint.
#[utoipa::path(
    delete,
    path = "/api/v1/webhook-endpoints/{id}",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such endpoint of this company.", body = ErrorBody),
    )
)]
async fn remove(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult {
    webhooks::delete(&state.app, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The endpoint's deliveries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}/deliveries",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id."), ListQuery),
    responses(
        (status = 200, description = "The deliveries.", body = List<DeliveryView>),
        (status = 400, description = "`limit` is not 1 to 200 (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such endpoint of this company.", body = ErrorBody),
    )
)]
async fn deliveries(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookEndpointId>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let list = webhooks::deliveries(&state.app, &key.actor(), &id, q.limit()?).await?;
    let data: Vec<Value> = list.iter().map(delivery_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

/// The endpoint's tries, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/webhook-endpoints/{id}/attempts",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id."), ListQuery),
    responses(
        (status = 200, description = "The tries.", body = List<crate::store::webhooks::TryView>),
        (status = 400, description = "`limit` is not 1 to 200 (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such endpoint of this company.", body = ErrorBody),
    )
)]
async fn attempts(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookEndpointId>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let list = webhooks::tries(&state.app, &key.actor(), &id, q.limit()?).await?;
    Ok(Json(json!({ "data": list })).into_response())
}

/// Sends the endpoint a test event now.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints/{id}/test",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 201, description = "The delivery.", body = DeliveryView),
        (status = 404, description = "No such endpoint of this company.", body = ErrorBody),
        (status = 409, description = "The endpoint is turned off.", body = ErrorBody),
    )
)]
async fn test(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult {
    let d = webhooks::send_test(&state.app, &key.actor(), &id).await?;
    Ok(super::json_created(delivery_json(&d)))
}

/// Turns a turned-off endpoint back on.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-endpoints/{id}/enable",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The endpoint's id.")),
    responses(
        (status = 200, description = "The endpoint.", body = EndpointView),
        (status = 404, description = "No such endpoint of this company.", body = ErrorBody),
    )
)]
async fn enable(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookEndpointId>,
) -> ApiResult {
    let e = webhooks::enable(&state.app, &key.actor(), &id).await?;
    Ok(Json(endpoint_json(&e)).into_response())
}

/// Sends a failed delivery again now.
#[utoipa::path(
    post,
    path = "/api/v1/webhook-deliveries/{id}/retry",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The delivery's id.")),
    responses(
        (status = 200, description = "The delivery.", body = DeliveryView),
        (status = 404, description = "No such delivery of this company.", body = ErrorBody),
        (status = 409, description = "The delivery cannot be sent again now.", body = ErrorBody),
    )
)]
async fn retry(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<WebhookDeliveryId>,
) -> ApiResult {
    let d = webhooks::retry(&state.app, &key.actor(), &id).await?;
    Ok(Json(delivery_json(&d)).into_response())
}
