//! The quick payment page's JSON twin: the page's data, paying with an
//! `Idempotency-Key`, and confirming after the bank's check.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::form::{AUTHENTICATE_MESSAGE, confirm_detached};
use super::{ClientIp, consent_for, load_page, resolve};
use crate::app::payments::{self, PayError, PayInvoices, PayResult, PayStep};
use crate::domain::ids::InvoiceId;
use crate::processor::PageProcessor;
use crate::store::links::LiveLink;
use crate::store::paypage::PayPage;
use crate::web::api_doc::{ErrorBody, ErrorDetail};
use crate::web::api_payments::PendingPayment;
use crate::web::error::ApiError;
use crate::web::{AppState, json_created};

/// The quick payment page's JSON twin, authenticated by the link's token.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(page_data))
        .routes(routes!(api_pay))
        .routes(routes!(api_confirm))
}

/// What a payment request is refused with: the error, and for
/// `authentication_required` what the page needs to complete the bank's
/// check (`client_secret`) and then confirm (`attempt_id`).
#[derive(Serialize, ToSchema)]
pub struct PaymentRefused {
    pub error: ErrorDetail,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_id: Option<String>,
}

/// The page's data: the company, the customer, their open invoices by
/// property, saved cards and autopay, and which card fields to use.
#[utoipa::path(
    get,
    path = "/api/v1/pay/{token}",
    tag = "pay",
    params(("token" = String, Path, description = "The payment link's token.")),
    responses(
        (status = 200, description = "The page's data.", body = PageData),
        (status = 404, description = "No live link has this token.", body = ErrorBody),
        (status = 429, description = "Too many requests for this link or from this address (`rate_limited`).", body = ErrorBody),
    )
)]
async fn page_data(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
) -> Response {
    match load_page(&state, ip, &token, "/api/v1/pay").await {
        Ok(page) => Json(PageData {
            processor: page.company.processor.clone(),
            page: &page,
        })
        .into_response(),
        Err(resp) => resp,
    }
}

/// `GET /api/v1/pay/{token}`: the page's data and which card fields to use.
#[derive(Serialize, ToSchema)]
struct PageData<'a> {
    #[serde(flatten)]
    page: &'a PayPage,
    processor: PageProcessor,
}

/// Which of the customer's open invoices to pay, and with which card.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"invoice_ids": ["inv_0000000000000000"], "payment_method": "tok_visa"}))]
pub struct PayBody {
    #[schema(value_type = Vec<String>)]
    invoice_ids: Vec<InvoiceId>,
    payment_method: String,
    #[serde(default)]
    save_card_and_enroll_autopay: bool,
    #[serde(default)]
    autopay_consent: bool,
}

/// Pays open invoices of the link's customer. Needs an `Idempotency-Key`:
/// a repeat answers the first answer.
#[utoipa::path(
    post,
    path = "/api/v1/pay/{token}/payments",
    tag = "pay",
    params(
        ("token" = String, Path, description = "The payment link's token."),
        ("Idempotency-Key" = String, Header, pattern = "^[!-~](?:[ -~]*[!-~])?$", description = "Unique per payment, reused on retries."),
    ),
    request_body = PayBody,
    responses(
        (status = 201, description = "The payment.", body = crate::app::payments::PaymentSummary),
        (status = 202, description = "The charge awaits the processor's answer.", body = PendingPayment),
        (status = 400, description = "No `Idempotency-Key` (`idempotency_key_required`), or the body is not JSON.", body = ErrorBody),
        (status = 402, description = "Declined, or the bank's check is needed (`authentication_required`).", body = PaymentRefused),
        (status = 404, description = "No live link has this token, or an invoice is not the customer's.", body = ErrorBody),
        (status = 409, description = "An invoice is paid, void or being paid, or the key is in flight.", body = ErrorBody),
        (status = 429, description = "Too many requests (`rate_limited`).", body = ErrorBody),
        (status = 502, description = "The card processor refused the request.", body = ErrorBody),
    )
)]
async fn api_pay(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Result<Json<PayBody>, JsonRejection>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/api/v1/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    match api_pay_inner(&state, &link, ip, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn api_pay_inner(
    state: &AppState,
    link: &LiveLink,
    ip: ClientIp,
    headers: &HeaderMap,
    body: Result<Json<PayBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "Send an Idempotency-Key header (a unique value per payment, reused on retries).",
            )
            .with_field("Idempotency-Key")
        })?
        .to_string();
    let Json(body) = body?;
    let enroll = if body.save_card_and_enroll_autopay {
        if !body.autopay_consent {
            return Err(ApiError::unprocessable(
                "autopay_consent_required",
                "Saving the card for autopay needs the customer's consent: send autopay_consent: true after showing the authorization text.",
                "autopay_consent",
            ));
        }
        Some(
            consent_for(
                state,
                &link.company_id,
                &link.customer_id,
                "quick_pay",
                ip,
                headers,
            )
            .await?,
        )
    } else {
        None
    };
    let req = PayInvoices {
        company_id: link.company_id.clone(),
        customer_id: link.customer_id.clone(),
        invoice_ids: body.invoice_ids,
        payment_method: body.payment_method,
        // A namespace of its own: a client's key can never match one the
        // server makes (autopay's `autopay:…`, the forms' `form:…`).
        idempotency_key: format!("api:{key}"),
        channel: "quick_pay",
        enroll,
        actor: "customer".into(),
    };
    match payments::pay_interactive_detached(&state.app, req).await {
        Ok(step) => Ok(pay_step_response(step)),
        // The charge was sent and its answer is awaited: accepted, not failed.
        Err(PayError::Pending { attempt_id }) => Ok(PendingPayment::accepted(attempt_id)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/pay/{token}/payments/{attempt_id}/confirm`: after the
/// customer completed their bank's check, settles the attempt (once; a
/// repeat answers the same). An attempt not of the token's customer is 404.
#[utoipa::path(
    post,
    path = "/api/v1/pay/{token}/payments/{attempt_id}/confirm",
    tag = "pay",
    params(
        ("token" = String, Path, description = "The payment link's token."),
        ("attempt_id" = String, Path, description = "The attempt the 402 named."),
    ),
    responses(
        (status = 201, description = "The payment.", body = crate::app::payments::PaymentSummary),
        (status = 402, description = "Declined, or the bank's check is still needed.", body = PaymentRefused),
        (status = 404, description = "No live link has this token, or no such attempt of its customer.", body = ErrorBody),
        (status = 409, description = "The attempt cannot be settled now.", body = ErrorBody),
        (status = 429, description = "Too many requests (`rate_limited`).", body = ErrorBody),
        (status = 502, description = "The card processor refused the request.", body = ErrorBody),
    )
)]
async fn api_confirm(
    State(state): State<AppState>,
    ip: ClientIp,
    Path((token, attempt_id)): Path<(String, String)>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/api/v1/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    if attempt_id.is_empty() || attempt_id.len() > 64 {
        return ApiError::not_found().into_response();
    }
    match confirm_detached(&state, &link.company_id, &link.customer_id, &attempt_id).await {
        Ok(Some(step)) => pay_step_response(step),
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `pay_result_response`, or 402 `authentication_required` with what the
/// page needs to complete the bank's check (`client_secret`) and then
/// confirm (`attempt_id`).
pub fn pay_step_response(step: PayStep) -> Response {
    match step {
        PayStep::Done(result) => pay_result_response(result),
        PayStep::RequiresAction(a) => (
            StatusCode::PAYMENT_REQUIRED,
            Json(PaymentRefused {
                error: ErrorDetail {
                    code: "authentication_required".into(),
                    message: AUTHENTICATE_MESSAGE.into(),
                    field: None,
                },
                client_secret: Some(a.client_secret),
                attempt_id: Some(a.attempt_id),
            }),
        )
            .into_response(),
    }
}

/// 201 with the payment, or 402 with the decline: the same for a replay.
pub fn pay_result_response(result: PayResult) -> Response {
    match result {
        PayResult::Succeeded(summary) => json_created(summary),
        PayResult::Declined(d) => {
            let mut e = ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_declined", d.message);
            e.code = api_decline_code(&d.code);
            e.into_response()
        }
    }
}

/// The decline codes the API passes through; any other is `card_declined`.
fn api_decline_code(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "insufficient_funds",
        "expired_card" => "expired_card",
        "incorrect_cvc" => "incorrect_cvc",
        "incorrect_number" | "invalid_number" => "incorrect_number",
        "processing_error" => "processing_error",
        "authentication_required" => "authentication_required",
        "invalid_payment_method" => "invalid_payment_method",
        _ => "card_declined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn decline_codes_passed_through() {
        assert_eq!(
            api_decline_code("authentication_required"),
            "authentication_required"
        );
        assert_eq!(api_decline_code("invalid_number"), "incorrect_number");
        assert_eq!(api_decline_code("processing_error"), "processing_error");
        assert_eq!(api_decline_code("do_not_honor"), "card_declined");
        assert_eq!(api_decline_code("fraudulent"), "card_declined");
    }
}
