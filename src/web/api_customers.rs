//! JSON API: what the office does to a customer beyond creating one —
//! changing their contact details and their properties, their saved cards,
//! and their autopay (read, turn on with the consent the customer gave,
//! turn off). Each handler names the actor (the API key) and hands the
//! request to the use case the office calls too.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Deserializer, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::CompanyKey;
use super::api_doc::ErrorBody;
use super::error::ApiError;
use super::{AppState, ClientIp, user_agent};
use crate::app::autopay::{self, EnrollRequest};
use crate::app::properties::{self, PropertyChange};
use crate::domain::customer::CustomerInput;
use crate::domain::ids::{CompanyId, CustomerId, PropertyId};
use crate::store::autopay as autopay_store;
use crate::store::customers;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(update_customer))
        .routes(routes!(update_property))
        .routes(routes!(payment_methods))
        .routes(routes!(get_autopay, enroll, cancel))
}

type ApiResult = Result<Response, ApiError>;

/// A field that may be absent (`None`: left as it is), `null` (cleared) or
/// a value.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The company's customer, or 404 (another company's included).
async fn own_customer(
    state: &AppState,
    key: &CompanyKey,
    id: &CustomerId,
) -> Result<customers::Customer, ApiError> {
    customers::get(&state.app.db, &key.0, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

// ---------------------------------------------------------------- contact details

/// `PATCH /api/v1/customers/{id}`: the fields sent change; `null` clears an
/// optional one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "dana@example.org", "phone": null}))]
pub struct CustomerChange {
    #[serde(default)]
    #[schema(schema_with = super::api_doc::text::name_or_null)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::api_doc::text::email_or_empty)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::api_doc::text::address_or_empty)]
    pub billing_address: Option<Option<String>>,
    /// `en`, `es`, or `null` for none; anything else is a 422.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<crate::domain::i18n::Lang>)]
    pub language: Option<Option<String>>,
}

/// The new value of an optional field: as sent, cleared, or as it is.
fn merged<'a>(sent: &'a Option<Option<String>>, current: &'a Option<String>) -> Option<&'a str> {
    match sent {
        Some(value) => value.as_deref(),
        None => current.as_deref(),
    }
}

/// Changes a customer's contact details; `null` clears an optional one.
#[utoipa::path(
    patch,
    path = "/api/v1/customers/{id}",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    request_body = CustomerChange,
    responses(
        (status = 200, description = "The customer.", body = crate::store::customers::Customer),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn update_customer(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<CustomerId>,
    body: Result<Json<CustomerChange>, JsonRejection>,
) -> ApiResult {
    let current = own_customer(&state, &key, &id).await?;
    let Json(b) = body?;
    let input = CustomerInput {
        name: b.name.as_deref().unwrap_or(&current.name),
        email: merged(&b.email, &current.email),
        phone: merged(&b.phone, &current.phone),
        billing_address: merged(&b.billing_address, &current.billing_address),
        language: match &b.language {
            Some(sent) => sent.as_deref(),
            None => current.language.map(|l| l.code()),
        },
    };
    let customer = crate::app::customers::update(&state.app, &key.actor(), &id, &input).await?;
    Ok(Json(customer).into_response())
}

/// `PATCH /api/v1/properties/{id}`: a new address, or another customer
/// responsible for billing it (invoices already issued keep theirs).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"address": "14 Elm St, Austin, TX"}))]
pub struct PropertyPatch {
    #[serde(default)]
    #[schema(schema_with = super::api_doc::text::address_or_null)]
    pub address: Option<String>,
    #[serde(default)]
    pub bill_to_customer_id: Option<String>,
}

/// Changes a property's address or who is billed for it.
#[utoipa::path(
    patch,
    path = "/api/v1/properties/{id}",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The property's id.")),
    request_body = PropertyPatch,
    responses(
        (status = 200, description = "The property.", body = crate::store::customers::Property),
        (status = 404, description = "No such property (or bill-to customer) of this company.", body = ErrorBody),
    )
)]
async fn update_property(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<PropertyId>,
    body: Result<Json<PropertyPatch>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let change = PropertyChange {
        address: b.address.as_deref(),
        bill_to_customer_id: b.bill_to_customer_id.as_deref(),
    };
    let property = properties::update(&state.app, &key.actor(), &id, &change).await?;
    Ok(Json(property).into_response())
}

// ---------------------------------------------------------------- saved cards

/// A saved card: never more than brand, last 4 and expiry.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodView {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    /// The customer's default card.
    pub default: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentMethodList {
    pub data: Vec<PaymentMethodView>,
}

/// The customer's saved cards.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}/payment-methods",
    tag = "customers",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "The saved cards.", body = PaymentMethodList),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn payment_methods(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<CustomerId>,
) -> ApiResult {
    own_customer(&state, &key, &id).await?;
    let data = customers::saved_cards(&state.app.db, &key.0, &id)
        .await?
        .into_iter()
        .map(|c| PaymentMethodView {
            id: c.id.into(),
            brand: c.brand,
            last4: c.last4,
            exp_month: c.exp_month,
            exp_year: c.exp_year,
            default: c.is_default,
        })
        .collect();
    Ok(Json(PaymentMethodList { data }).into_response())
}

// ---------------------------------------------------------------- autopay

/// The consent the customer gave: its exact text and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub text: String,
    /// RFC 3339.
    pub at: String,
}

/// A customer's autopay: off (`enrolled: false`, the rest `null`), or on
/// with the card it charges.
#[derive(Debug, Serialize, ToSchema)]
pub struct AutopayView {
    pub enrolled: bool,
    pub method_id: Option<String>,
    /// RFC 3339.
    pub enrolled_at: Option<String>,
    pub consent: Option<ConsentView>,
    /// Invoices due on or after this date (`YYYY-MM-DD`) are charged.
    pub starts_on: Option<String>,
    /// `quick_pay`, `portal`, `office` or `api`.
    pub channel: Option<String>,
}

async fn autopay_view(
    state: &AppState,
    company: &CompanyId,
    id: &CustomerId,
) -> Result<AutopayView, ApiError> {
    let e = autopay_store::enrollment(state.app.db.reader(), company, id).await?;
    let at = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    Ok(match e {
        None => AutopayView {
            enrolled: false,
            method_id: None,
            enrolled_at: None,
            consent: None,
            starts_on: None,
            channel: None,
        },
        Some(e) => AutopayView {
            enrolled: true,
            method_id: Some(e.method_id.into()),
            enrolled_at: Some(at(e.consent_at)),
            consent: Some(ConsentView {
                text: e.consent_text,
                at: at(e.consent_at),
            }),
            starts_on: Some(crate::domain::dates::iso(e.starts_on)),
            channel: Some(e.channel),
        },
    })
}

/// The customer's autopay.
#[utoipa::path(
    get,
    path = "/api/v1/customers/{id}/autopay",
    tag = "autopay",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "On or off, and the card it charges.", body = AutopayView),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn get_autopay(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<CustomerId>,
) -> ApiResult {
    own_customer(&state, &key, &id).await?;
    Ok(Json(autopay_view(&state, &key.0, &id).await?).into_response())
}

/// `POST /api/v1/customers/{id}/autopay`: the office enrolls a customer who
/// gave consent (by phone, on paper): which card, that they consented, and
/// how and when.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"method_id": "pmt_0000000000000000", "consent": true, "consent_note": "by phone, Nov 28"}))]
pub struct EnrollBody {
    #[serde(default)]
    pub method_id: String,
    /// The customer gave the authorization whose text the response shows.
    #[serde(default)]
    pub consent: bool,
    /// How and when, e.g. "by phone, Nov 28".
    #[serde(default)]
    pub consent_note: String,
}

/// Turns autopay on with a saved card, for a customer who gave consent.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/autopay",
    tag = "autopay",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    request_body = EnrollBody,
    responses(
        (status = 201, description = "Autopay, on.", body = AutopayView),
        (status = 404, description = "No such customer or card of this company.", body = ErrorBody),
        (status = 409, description = "Autopay cannot be turned on now.", body = ErrorBody),
    )
)]
async fn enroll(
    State(state): State<AppState>,
    key: CompanyKey,
    ip: ClientIp,
    headers: HeaderMap,
    Path(id): Path<CustomerId>,
    body: Result<Json<EnrollBody>, JsonRejection>,
) -> ApiResult {
    own_customer(&state, &key, &id).await?;
    let Json(b) = body?;
    let req = EnrollRequest {
        method_id: &b.method_id,
        consent: b.consent,
        ip: ip.0.to_string(),
        user_agent: user_agent(&headers),
        note: Some(&b.consent_note),
        language: None,
    };
    autopay::enroll(&state.app, &key.actor(), &id, &req)
        .await
        .map_err(|r| in_api_words(r.into()))?;
    let view = autopay_view(&state, &key.0, &id).await?;
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The enrollment's refusals in the API's words: its field names, no boxes
/// to tick.
fn in_api_words(mut e: ApiError) -> ApiError {
    match e.field.as_deref() {
        Some("consent") => {
            e.message = "consent must be true: the customer gave the authorization autopay charges under (its text is in the answer).".into();
        }
        Some("note") => {
            e.field = Some("consent_note".into());
            if e.message.starts_with("Say how") {
                e.message =
                    "consent_note must say how and when the customer gave consent, e.g. \"by phone, Nov 28\".".into();
            }
        }
        _ => {}
    }
    e
}

/// Turns the customer's autopay off.
#[utoipa::path(
    delete,
    path = "/api/v1/customers/{id}/autopay",
    tag = "autopay",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id.")),
    responses(
        (status = 200, description = "Autopay, off.", body = AutopayView),
        (status = 404, description = "No such customer of this company.", body = ErrorBody),
    )
)]
async fn cancel(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<CustomerId>,
) -> ApiResult {
    autopay::cancel(&state.app, &key.actor(), &id).await?;
    Ok(Json(autopay_view(&state, &key.0, &id).await?).into_response())
}
