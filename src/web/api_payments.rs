//! The JSON API's payments and refunds: recording a payment the company
//! took (cash, check, or a card charged now), reading one with its
//! allocations and refunds, and refunding it. Money moves only with an
//! `Idempotency-Key`: a repeat gets the first answer, a different request
//! with the same key is refused, and one still in flight is a 409. The
//! handlers call the use cases the office forms call
//! (`record_office_payment`, `refunds::refund`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
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
use crate::app::payments::view::{PaymentView, RefundView};
use crate::app::payments::{
    OfficeMethod, OfficePaid, PayResult, PaymentKey, RecordPayment, Spread, record_office_payment,
};
use crate::app::refunds::{self, RefundKey, RefundRequest};
use crate::domain::Allocation;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, PaymentId};
use crate::domain::money::minor_units_from_json;
use crate::store::payments::{self as store, PaymentRecord};
use crate::store::refunds as refund_store;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_payment))
        .routes(routes!(get_payment))
        .routes(routes!(create_refund))
}

type ApiResult = Result<Response, ApiError>;

/// The longest `Idempotency-Key` taken.
const MAX_KEY: usize = 200;

/// The request's `Idempotency-Key`: required where money moves.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "Send an Idempotency-Key header (a unique value per payment or refund, reused on retries).",
            )
            .with_field("Idempotency-Key")
        })?;
    if key.len() > MAX_KEY {
        return Err(ApiError::bad_request(
            "idempotency_key_required",
            format!("The Idempotency-Key header has at most {MAX_KEY} characters."),
        )
        .with_field("Idempotency-Key"));
    }
    Ok(key.to_string())
}

/// One share of a payment: an invoice of the customer and the amount
/// applied to it, in minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocationBody {
    #[schema(value_type = String)]
    pub invoice_id: InvoiceId,
    /// Minor units, an integer.
    #[schema(value_type = i64, minimum = 1)]
    pub amount: Value,
}

/// `POST /api/v1/payments`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"customer_id": "cus_0000000000000000", "method": "check", "check_number": "1042", "amount": 12500, "allocations": [{"invoice_id": "inv_0000000000000000", "amount": 12500}]}))]
pub struct NewPaymentBody {
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    /// `cash`, `check` or `card`.
    pub method: String,
    /// Minor units, an integer: the sum of the allocations.
    #[schema(value_type = i64, minimum = 1)]
    pub amount: Value,
    pub allocations: Vec<AllocationBody>,
    /// Required for a check.
    pub check_number: Option<String>,
    /// Required for a card: a saved card's id (`pmt_…`) or a processor
    /// token (`tok_…`, `pm_…`).
    pub payment_method: Option<String>,
}

/// `POST /api/v1/payments/{id}/refunds`; an empty body refunds what is left.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 2500, "reason": "Missed visit"}))]
pub struct NewRefundBody {
    /// Minor units; absent: all that has not been refunded yet.
    #[schema(value_type = Option<i64>, minimum = 1)]
    pub amount: Option<Value>,
    pub reason: Option<String>,
}

async fn payment_record(
    state: &AppState,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> Result<PaymentRecord, ApiError> {
    store::list(&state.app.db, company_id, None, Some(payment_id), 1)
        .await?
        .pop()
        .ok_or_else(ApiError::not_found)
}

/// An amount in minor units, refused with the field it came in.
fn minor_units(value: &Value, field: &str) -> Result<i64, ApiError> {
    minor_units_from_json(value)
        .map_err(|why| ApiError::unprocessable("invalid_amount", format!("{field} {why}"), field))
}

fn method_of(b: &NewPaymentBody) -> Result<OfficeMethod, ApiError> {
    let refuse = |field: &str, message: &str| {
        Err(ApiError::unprocessable(
            "invalid_field",
            message.to_string(),
            field,
        ))
    };
    match (b.method.as_str(), &b.check_number, &b.payment_method) {
        ("cash", None, None) => Ok(OfficeMethod::Cash),
        ("check", Some(n), None) => Ok(OfficeMethod::Check { number: n.clone() }),
        ("check", None, _) => refuse("check_number", "check_number is required for a check"),
        ("card", None, Some(m)) => Ok(OfficeMethod::Card {
            payment_method: m.clone(),
        }),
        ("card", _, None) => refuse(
            "payment_method",
            "payment_method is required for a card: a saved card's id (pmt_…) or a card token (tok_…, pm_…)",
        ),
        ("cash" | "card", Some(_), _) => refuse("check_number", "check_number is only for a check"),
        ("cash" | "check", _, Some(_)) => {
            refuse("payment_method", "payment_method is only for a card")
        }
        _ => refuse("method", "method must be cash, check or card"),
    }
}

/// The payment is still being confirmed with the card processor.
#[derive(Debug, Serialize, ToSchema)]
pub struct PendingPayment {
    /// The attempt's id.
    pub id: String,
    /// `pending`.
    pub status: String,
    pub message: String,
}

impl PendingPayment {
    /// 202 with the attempt: the charge was sent and its answer is awaited
    /// (accepted, not failed). The office API and the pay page's API answer
    /// it alike.
    pub fn accepted(attempt_id: String) -> Response {
        (
            StatusCode::ACCEPTED,
            Json(PendingPayment {
                id: attempt_id,
                status: "pending".into(),
                message: super::error::PENDING_MESSAGE.into(),
            }),
        )
            .into_response()
    }
}

/// Records a payment the company took: cash, a check, or a card charged now.
/// Needs an `Idempotency-Key`: a repeat answers the first answer.
#[utoipa::path(
    post,
    path = "/api/v1/payments",
    tag = "payments",
    security(("api_key" = [])),
    params(("Idempotency-Key" = String, Header, pattern = "^[!-~](?:[ -~]{0,198}[!-~])?$", description = "Unique per payment, reused on retries (at most 200 characters).")),
    request_body = NewPaymentBody,
    responses(
        (status = 201, description = "The payment.", body = PaymentView),
        (status = 202, description = "A card charge awaits the processor's answer.", body = PendingPayment),
        (status = 400, description = "No `Idempotency-Key`, or too long (`idempotency_key_required`).", body = ErrorBody),
        (status = 402, description = "The card was declined.", body = ErrorBody),
        (status = 404, description = "The customer or an invoice is not this company's.", body = ErrorBody),
        (status = 409, description = "An invoice cannot take it, or the same key is still in flight.", body = ErrorBody),
        (status = 502, description = "The card processor refused the request.", body = ErrorBody),
    )
)]
async fn create_payment(
    State(state): State<AppState>,
    key: CompanyKey,
    headers: HeaderMap,
    body: Result<Json<NewPaymentBody>, JsonRejection>,
) -> ApiResult {
    let idempotency_key = idempotency_key(&headers)?;
    let Json(b) = body?;
    let amount = minor_units(&b.amount, "amount")?;
    let mut allocations = Vec::with_capacity(b.allocations.len());
    for (i, a) in b.allocations.iter().enumerate() {
        allocations.push(Allocation {
            invoice_id: a.invoice_id.clone(),
            amount: minor_units(&a.amount, &format!("allocations[{i}].amount"))?,
        });
    }
    let req = RecordPayment {
        customer_id: b.customer_id.clone(),
        method: method_of(&b)?,
        spread: Spread::Exact {
            amount,
            allocations,
        },
        key: PaymentKey::Api(idempotency_key),
    };
    match record_office_payment(&state.app, &key.actor(), &req).await? {
        OfficePaid::Recorded { payment_id, .. } => {
            let p = payment_record(&state, &key.0, &payment_id).await?;
            Ok(json_created(PaymentView::as_recorded(p)))
        }
        OfficePaid::Declined(d) => Ok(super::pay::pay_result_response(PayResult::Declined(d))),
        // The charge was sent and its answer is awaited: accepted, not failed.
        OfficePaid::Pending { attempt_id } => Ok(PendingPayment::accepted(attempt_id)),
    }
}

/// One payment with its allocations and refunds.
#[utoipa::path(
    get,
    path = "/api/v1/payments/{id}",
    tag = "payments",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The payment's id.")),
    responses(
        (status = 200, description = "The payment.", body = PaymentView),
        (status = 404, description = "No such payment of this company.", body = ErrorBody),
    )
)]
async fn get_payment(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<PaymentId>,
) -> ApiResult {
    let p = payment_record(&state, &key.0, &id).await?;
    let refunds = refund_store::for_payment(&state.app.db, &key.0, &id).await?;
    Ok(Json(PaymentView::of(p, &refunds)).into_response())
}

/// The refund body: empty for "all that is left", else JSON.
fn refund_body(body: &Bytes) -> Result<NewRefundBody, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(NewRefundBody::default());
    }
    // `null` is the empty body too.
    serde_json::from_slice::<Option<NewRefundBody>>(body)
        .map(Option::unwrap_or_default)
        .map_err(|e| {
            if e.is_data() {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    e.to_string(),
                )
            } else {
                ApiError::bad_request("malformed_json", e.to_string())
            }
        })
}

/// Refunds a payment, in part or what is left of it; a card payment is
/// refunded at the processor. Needs an `Idempotency-Key`.
#[utoipa::path(
    post,
    path = "/api/v1/payments/{id}/refunds",
    tag = "payments",
    security(("api_key" = [])),
    params(
        ("id" = String, Path, description = "The payment's id."),
        ("Idempotency-Key" = String, Header, pattern = "^[!-~](?:[ -~]{0,198}[!-~])?$", description = "Unique per refund, reused on retries (at most 200 characters)."),
    ),
    request_body(content = Option<NewRefundBody>, description = "Empty: refund all that is left."),
    responses(
        (status = 201, description = "The refund.", body = RefundView),
        (status = 400, description = "No `Idempotency-Key`, or the body is not JSON.", body = ErrorBody),
        (status = 404, description = "No such payment of this company.", body = ErrorBody),
        (status = 409, description = "Nothing left to refund, or the same key is still in flight.", body = ErrorBody),
        (status = 502, description = "The card processor refused the refund.", body = ErrorBody),
    )
)]
async fn create_refund(
    State(state): State<AppState>,
    key: CompanyKey,
    headers: HeaderMap,
    Path(id): Path<PaymentId>,
    body: Bytes,
) -> ApiResult {
    let idempotency_key = idempotency_key(&headers)?;
    let b = refund_body(&body)?;
    let req = RefundRequest {
        payment_id: id,
        amount: b
            .amount
            .as_ref()
            .map(|a| minor_units(a, "amount"))
            .transpose()?,
        reason: b.reason.unwrap_or_default(),
        key: RefundKey::Api(idempotency_key),
    };
    let outcome = refunds::refund(&state.app, &key.actor(), &req).await?;
    let refund_id = outcome.refund_id();
    let refund = refund_store::for_payment(&state.app.db, &key.0, &req.payment_id)
        .await?
        .into_iter()
        .find(|r| r.id == refund_id)
        .ok_or_else(ApiError::not_found)?;
    Ok(json_created(RefundView {
        id: refund.id.into(),
        payment_id: req.payment_id.into(),
        amount: refund.amount,
        status: refund.status,
        reason: refund.reason,
        created_at: refund.created_at,
    }))
}
