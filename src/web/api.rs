//! The office JSON API `/api/v1`, authenticated by a company API key.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{AppState, json_created};
use crate::domain::customer::CustomerInput;
use crate::domain::text::FieldError;
use crate::store::customers;
use crate::store::invoices;
use crate::store::{companies, payments};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            "/api/v1/customers",
            post(create_customer).get(list_customers),
        )
        .route("/api/v1/customers/{id}", get(get_customer))
        .route("/api/v1/customers/{id}/payment-link", get(get_link))
        .route(
            "/api/v1/customers/{id}/payment-link/rotate",
            post(rotate_link),
        )
        .route(
            "/api/v1/customers/{id}/payment-link/revoke",
            post(revoke_link),
        )
        .route("/api/v1/properties", post(create_property))
        .route("/api/v1/invoices", get(list_invoices))
        .route("/api/v1/invoices/{id}", get(get_invoice))
        .route("/api/v1/payments", get(list_payments))
        .merge(crate::web::office::settings::api_routes())
}

async fn openapi() -> Response {
    let mut resp = include_str!("openapi.json").into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The company whose API key the request carries.
pub struct CompanyKey(pub String);

impl CompanyKey {
    /// The API key's company, as the use cases take it.
    pub fn actor(&self) -> crate::app::Actor {
        crate::app::Actor::Api {
            company_id: self.0.clone(),
        }
    }
}

impl FromRequestParts<AppState> for CompanyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Send the company's API key as 'Authorization: Bearer <key>'.",
            )
        };
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer_token)
            .filter(|k| !k.is_empty() && k.len() < 200)
            .ok_or_else(unauthorized)?;
        let company = companies::company_for_api_key(&state.app.db, key).await?;
        company.map(CompanyKey).ok_or_else(unauthorized)
    }
}

type ApiResult = Result<Response, ApiError>;

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> ApiError {
        ApiError::unprocessable("invalid_field", e.message, e.field)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    name: String,
    email: Option<String>,
    phone: Option<String>,
    billing_address: Option<String>,
}

async fn create_customer(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<CustomerBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let input = CustomerInput {
        name: &b.name,
        email: b.email.as_deref(),
        phone: b.phone.as_deref(),
        billing_address: b.billing_address.as_deref(),
    };
    let customer = crate::app::customers::create(&state.app, &key.actor(), &input).await?;
    Ok(json_created(customer))
}

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
}

#[derive(Serialize)]
struct List<T> {
    data: Vec<T>,
}

async fn list_customers(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let data =
        customers::search(&state.app.db, &company, q.q.as_deref().unwrap_or(""), 200).await?;
    Ok(Json(List { data }).into_response())
}

async fn get_customer(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let c = customers::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(c).into_response())
}

#[derive(Serialize)]
struct LinkBody {
    url: String,
    active: bool,
}

async fn company_base_url(state: &AppState, company: &str) -> Result<String, ApiError> {
    let c = companies::get(&state.app.db, company)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(state.app.base_url(c.base_url.as_deref()).to_string())
}

async fn get_link(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    customers::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let base = company_base_url(&state, &company).await?;
    let link = crate::app::links::shown(
        state.app.db.reader(),
        &state.app.config.secret,
        &company,
        &id,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(Json(LinkBody {
        url: crate::domain::paylink::url(&base, &link.token),
        active: !link.revoked,
    })
    .into_response())
}

async fn rotate_link(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let url = crate::app::links::rotate(&state.app, &key.actor(), &id).await?;
    Ok(Json(LinkBody { url, active: true }).into_response())
}

async fn revoke_link(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    crate::app::links::revoke(&state.app, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PropertyBody {
    address: String,
    resident_customer_id: String,
    bill_to_customer_id: Option<String>,
}

async fn create_property(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<PropertyBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let input = crate::app::properties::PropertyInput {
        address: &b.address,
        resident_customer_id: &b.resident_customer_id,
        bill_to_customer_id: b.bill_to_customer_id.as_deref(),
    };
    let property = crate::app::properties::create(&state.app, &key.actor(), &input).await?;
    Ok(json_created(property))
}

async fn get_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let inv = invoices::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(inv).into_response())
}

/// A `customer_id` filter must name one of the company's customers: another
/// company's (or an unknown) id is a 404, as every id of another company is.
pub(crate) async fn known_customer(
    state: &AppState,
    company: &str,
    customer_id: Option<&str>,
) -> Result<(), ApiError> {
    match customer_id {
        None => Ok(()),
        Some(id) => customers::get(&state.app.db, company, id)
            .await?
            .map(drop)
            .ok_or_else(ApiError::not_found),
    }
}

#[derive(Deserialize)]
struct InvoiceQuery {
    customer_id: Option<String>,
    status: Option<String>,
}

async fn list_invoices(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    query: Result<Query<InvoiceQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    if let Some(s) = &q.status
        && !["open", "paid", "void"].contains(&s.as_str())
    {
        return Err(
            ApiError::bad_request("invalid_query", "status must be open, paid or void")
                .with_field("status"),
        );
    }
    known_customer(&state, &company, q.customer_id.as_deref()).await?;
    let data = invoices::list(
        &state.app.db,
        &company,
        q.customer_id.as_deref(),
        q.status.as_deref(),
        500,
    )
    .await?;
    Ok(Json(List { data }).into_response())
}

#[derive(Deserialize)]
struct PaymentQuery {
    customer_id: Option<String>,
}

async fn list_payments(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    query: Result<Query<PaymentQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    known_customer(&state, &company, q.customer_id.as_deref()).await?;
    let data = payments::list(&state.app.db, &company, q.customer_id.as_deref(), None, 500).await?;
    Ok(Json(List { data }).into_response())
}
