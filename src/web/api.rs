//! The office JSON API `/api/v1`, authenticated by a company API key.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api_doc::{ErrorBody, List};
use super::error::ApiError;
use super::{AppState, json_created};
use crate::domain::customer::CustomerInput;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId};
use crate::domain::text::FieldError;
use crate::store::customers;
use crate::store::invoices;
use crate::store::{companies, payments};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer))
        .routes(routes!(get_link))
        .routes(routes!(rotate_link))
        .routes(routes!(revoke_link))
        .routes(routes!(create_property))
        .routes(routes!(list_invoices))
        .routes(routes!(get_invoice))
        .routes(routes!(list_payments))
}

/// A request body of the API is a JSON object (or empty where the route
/// takes none): serde would read an array into a struct field by field, so
/// `[…]` is refused here, once for every route.
pub async fn objects_only(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, super::BODY_LIMIT).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "The body is over 64 KiB.",
        )
        .into_response();
    };
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "The body must be a JSON object.",
        )
        .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The company whose API key the request carries.
pub struct CompanyKey(pub CompanyId);

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

/// `POST /api/v1/customers`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Dana Driveway", "email": "dana@example.com", "phone": "+15125550142", "billing_address": "9 Oak St\nAustin, TX 78701"}))]
pub struct CustomerBody {
    #[schema(schema_with = super::api_doc::text::name)]
    name: String,
    #[schema(schema_with = super::api_doc::text::email_or_empty)]
    email: Option<String>,
    /// A phone number, with the country code or in the company's country;
    /// stored in E.164. Empty or `null`: none.
    phone: Option<String>,
    #[schema(schema_with = super::api_doc::text::address_or_empty)]
    billing_address: Option<String>,
    /// The language the customer reads pages, messages and PDFs in: `en`,
    /// `es`, or `null` (the browser's, then the company's default). Anything
    /// else is a 422.
    #[schema(value_type = Option<crate::domain::i18n::Lang>)]
    language: Option<String>,
}

/// Creates a customer (and their payment link).
#[utoipa::path(
    post,
    path = "/api/v1/customers",
    tag = "customers",
    security(("api_key" = [])),
    request_body = CustomerBody,
    responses(
        (status = 201, description = "The customer.", body = customers::Customer),
        (status = 409, description = "A record with these values already exists.", body = ErrorBody),
    )
)]
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
        language: b.language.as_deref(),
    };
    let customer = crate::app::customers::create(&state.app, &key.actor(), &input).await?;
    Ok(json_created(customer))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SearchQuery {
    /// Part of a name, email, phone, address or an invoice number.
    q: Option<String>,
}

/// The company's customers (at most 200), optionally matching a search.
#[utoipa::path(
    get,
    path = "/api/v1/customers",
    tag = "customers",
    security(("api_key" = [])),
    params(SearchQuery),
    responses(
        (status = 200, description = "The customers.", body = List<customers::Customer>),
        (status = 400, description = "A query parameter is malformed (`invalid_query`).", body = ErrorBody),
    )
)]
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

/// One customer.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The customer.", body = customers::Customer),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn get_customer(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<CustomerId>,
) -> ApiResult {
    let c = customers::get(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(c).into_response())
}

/// A customer's payment link.
#[derive(Serialize, ToSchema)]
pub struct LinkBody {
    url: String,
    active: bool,
}

async fn company_base_url(state: &AppState, company: &CompanyId) -> Result<String, ApiError> {
    let c = companies::get(&state.app.db, company)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(state.app.base_url(c.base_url.as_deref()).to_string())
}

/// The customer's payment link.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}/payment-link",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The link, and whether it still opens.", body = LinkBody),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn get_link(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<CustomerId>,
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

/// Issues the customer a new payment link; the old one stops working.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/payment-link/rotate",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The new link.", body = LinkBody),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn rotate_link(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<CustomerId>,
) -> ApiResult {
    let url = crate::app::links::rotate(&state.app, &key.actor(), &id).await?;
    Ok(Json(LinkBody { url, active: true }).into_response())
}

/// Stops the customer's payment link from opening.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/payment-link/revoke",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn revoke_link(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<CustomerId>,
) -> ApiResult {
    crate::app::links::revoke(&state.app, &key.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/v1/properties`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "12 Elm St, Austin, TX", "resident_customer_id": "cus_0000000000000000", "bill_to_customer_id": null}))]
pub struct PropertyBody {
    #[schema(schema_with = super::api_doc::text::address)]
    address: String,
    resident_customer_id: String,
    bill_to_customer_id: Option<String>,
}

/// Adds a property where a customer lives; another customer may be billed for it.
#[utoipa::path(
    post,
    path = "/api/v1/properties",
    tag = "customers",
    security(("api_key" = [])),
    request_body = PropertyBody,
    responses(
        (status = 201, description = "The property.", body = customers::Property),
        (status = 404, description = "A customer id names no customer of this company.", body = ErrorBody),
    )
)]
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

/// One invoice with its lines.
#[utoipa::path(
    get,
    path = "/api/v1/invoices/{id}",
    tag = "invoices",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The invoice's id.")),
    responses(
        (status = 200, description = "The invoice.", body = invoices::Invoice),
        (status = 404, description = "No such invoice of this company.", body = ErrorBody),
    )
)]
async fn get_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<InvoiceId>,
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
    company: &CompanyId,
    customer_id: Option<&str>,
) -> Result<(), ApiError> {
    match customer_id {
        None => Ok(()),
        Some(id) => customers::get(&state.app.db, company, &CustomerId::from(id))
            .await?
            .map(drop)
            .ok_or_else(ApiError::not_found),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InvoiceQuery {
    /// Only this customer's (billed) invoices.
    customer_id: Option<String>,
    /// `open`, `paid` or `void`.
    #[param(pattern = "^(open|paid|void)$")]
    status: Option<String>,
}

/// The company's invoices (at most 500), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/invoices",
    tag = "invoices",
    security(("api_key" = [])),
    params(InvoiceQuery),
    responses(
        (status = 200, description = "The invoices.", body = List<invoices::Invoice>),
        (status = 400, description = "`status` is not `open`, `paid` or `void` (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "`customer_id` names no customer of this company.", body = ErrorBody),
    )
)]
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

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PaymentQuery {
    /// Only this customer's payments.
    customer_id: Option<String>,
}

/// The company's payments (at most 500), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/payments",
    tag = "payments",
    security(("api_key" = [])),
    params(PaymentQuery),
    responses(
        (status = 200, description = "The payments.", body = List<payments::PaymentRecord>),
        (status = 400, description = "A query parameter is malformed (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "`customer_id` names no customer of this company.", body = ErrorBody),
    )
)]
async fn list_payments(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    query: Result<Query<PaymentQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    known_customer(&state, &company, q.customer_id.as_deref()).await?;
    let customer = q.customer_id.map(CustomerId::from);
    let data = payments::list(&state.app.db, &company, customer.as_ref(), None, 500).await?;
    Ok(Json(List { data }).into_response())
}
