//! The JSON API's invoice writes: issuing, editing while no payment is
//! applied, voiding. Each handler reads the request, names the actor (the
//! API key's company) and calls the use case the office forms call
//! (`crate::app::invoices`).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::CompanyKey;
use super::api_doc::ErrorBody;
use super::error::ApiError;
use super::{AppState, json_created};
use crate::app::Refusal;
use crate::app::invoices::{self, EditInvoice, IssueInvoice};
use crate::domain::ids::InvoiceId;
use crate::domain::money::minor_units_from_json;
use crate::domain::{LineInput, dates, price_lines};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_invoice))
        .routes(routes!(edit_invoice))
        .routes(routes!(void_invoice))
}

type ApiResult = Result<Response, ApiError>;

/// One line of an invoice as the API takes it: the price in minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    #[schema(schema_with = super::api_doc::text::description)]
    pub description: String,
    /// A whole number of units, at least 1.
    #[schema(value_type = i64, minimum = 1)]
    pub quantity: Value,
    /// Minor units (cents), an integer.
    #[schema(value_type = i64, minimum = 0)]
    pub unit_price: Value,
}

/// `POST /api/v1/invoices`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"property_id": "prp_0000000000000000", "due_date": "2031-01-31", "lines": [{"description": "Quarterly pest control", "quantity": 1, "unit_price": 12500}]}))]
pub struct NewInvoiceBody {
    pub property_id: String,
    /// Empty or absent: the company's next number.
    #[schema(schema_with = super::api_doc::text::invoice_number)]
    pub number: Option<String>,
    /// `YYYY-MM-DD`; absent: today, where the company is.
    #[schema(format = Date)]
    pub issue_date: Option<String>,
    /// `YYYY-MM-DD`, not before the issue date.
    #[schema(format = Date)]
    pub due_date: String,
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<LineBody>,
}

/// `PATCH /api/v1/invoices/{id}`: what to change; absent fields stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"description": "Termite inspection", "quantity": 2, "unit_price": 7500}]}))]
pub struct EditInvoiceBody {
    #[schema(format = Date)]
    pub issue_date: Option<String>,
    #[schema(format = Date)]
    pub due_date: Option<String>,
    /// The whole new list of lines.
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Option<Vec<LineBody>>,
}

pub(crate) fn parse_date(text: &str, field: &str) -> Result<time::Date, ApiError> {
    dates::parse(text).ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_date",
            format!("{field} must be a date in the form YYYY-MM-DD, got '{text}'"),
            field,
        )
    })
}

/// The lines as the use case takes them, refused field by field
/// (`lines[2].unit_price`) with the same rules (`price_lines`).
pub(crate) fn parse_lines(lines: &[LineBody]) -> Result<Vec<LineInput>, ApiError> {
    let mut out = Vec::with_capacity(lines.len());
    for (i, l) in lines.iter().enumerate() {
        let quantity = l.quantity.as_i64().ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_field",
                "quantity must be a whole number",
                &format!("lines[{i}].quantity"),
            )
        })?;
        let unit_price = minor_units_from_json(&l.unit_price).map_err(|why| {
            ApiError::unprocessable(
                "invalid_amount",
                format!("unit_price {why}"),
                &format!("lines[{i}].unit_price"),
            )
        })?;
        out.push(LineInput {
            description: l.description.trim().to_string(),
            quantity,
            unit_price,
        });
    }
    price_lines(&out).map_err(|e| {
        let (field, message) = e.describe();
        ApiError::unprocessable("invalid_line", message, &field)
    })?;
    Ok(out)
}

/// A refusal of an invoice use case as the API answers it.
fn refused(r: Refusal) -> ApiError {
    match r {
        Refusal::Conflict {
            code: "invoice_number_taken",
            message,
        } => ApiError::conflict("invoice_number_taken", message).with_field("number"),
        other => other.into(),
    }
}

/// Issues an invoice for a property, billed to the property's bill-to customer.
#[utoipa::path(
    post,
    path = "/api/v1/invoices",
    tag = "invoices",
    security(("api_key" = [])),
    request_body = NewInvoiceBody,
    responses(
        (status = 201, description = "The invoice.", body = crate::store::invoices::Invoice),
        (status = 404, description = "`property_id` names no property of this company (`property_not_found`).", body = ErrorBody),
        (status = 409, description = "The invoice number is taken (`invoice_number_taken`).", body = ErrorBody),
    )
)]
async fn create_invoice(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<NewInvoiceBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let due_date = parse_date(&b.due_date, "due_date")?;
    let issue_date = b
        .issue_date
        .as_deref()
        .map(|d| parse_date(d, "issue_date"))
        .transpose()?;
    let req = IssueInvoice {
        property_id: b.property_id.into(),
        number: b.number,
        issue_date,
        due_date,
        lines: parse_lines(&b.lines)?,
    };
    match invoices::issue(&state.app, &key.actor(), &req).await {
        Ok(invoice) => Ok(json_created(invoice)),
        // The one record the request names that may be missing.
        Err(Refusal::NotFound) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "property_not_found",
            "property_id names no property of this company",
        )
        .with_field("property_id")),
        Err(r) => Err(refused(r)),
    }
}

/// Changes an open invoice no payment is applied to.
#[utoipa::path(
    patch,
    path = "/api/v1/invoices/{id}",
    tag = "invoices",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The invoice's id.")),
    request_body = EditInvoiceBody,
    responses(
        (status = 200, description = "The invoice as changed.", body = crate::store::invoices::Invoice),
        (status = 404, description = "No such invoice of this company.", body = ErrorBody),
        (status = 409, description = "The invoice is paid, void or has a payment applied.", body = ErrorBody),
    )
)]
async fn edit_invoice(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<InvoiceId>,
    body: Result<Json<EditInvoiceBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let req = EditInvoice {
        issue_date: b
            .issue_date
            .as_deref()
            .map(|d| parse_date(d, "issue_date"))
            .transpose()?,
        due_date: b
            .due_date
            .as_deref()
            .map(|d| parse_date(d, "due_date"))
            .transpose()?,
        lines: b.lines.as_deref().map(parse_lines).transpose()?,
    };
    let invoice = invoices::edit(&state.app, &key.actor(), &id, &req)
        .await
        .map_err(refused)?;
    Ok(Json(invoice).into_response())
}

/// Voids an open invoice no payment is applied to.
#[utoipa::path(
    post,
    path = "/api/v1/invoices/{id}/void",
    tag = "invoices",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The invoice's id.")),
    responses(
        (status = 200, description = "The invoice, void.", body = crate::store::invoices::Invoice),
        (status = 404, description = "No such invoice of this company.", body = ErrorBody),
        (status = 409, description = "The invoice is paid or has a payment applied.", body = ErrorBody),
    )
)]
async fn void_invoice(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<InvoiceId>,
) -> ApiResult {
    let invoice = invoices::void(&state.app, &key.actor(), &id)
        .await
        .map_err(refused)?;
    Ok(Json(invoice).into_response())
}
