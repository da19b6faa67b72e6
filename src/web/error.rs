//! Client-visible errors: a stable `code`, a message that says what to fix,
//! and the field it is about. Internals are logged, never shown.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::payments::PayError;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>, field: &str) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message).with_field(field)
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found.")
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, code, message)
    }

    /// The database cannot take the write right now (locked by another
    /// process, disk full): 503 with `Retry-After`; nothing was saved.
    pub fn unavailable(e: impl std::fmt::Display) -> ApiError {
        tracing::warn!(error = %e, "database unavailable");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "We could not save this just now (the database is busy or out of space). \
             Try the same request again in a minute; it will not be applied twice.",
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Nothing was charged twice; please try again.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            error["field"] = json!(field);
        }
        let mut resp = (self.status, Json(json!({ "error": error }))).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("30"),
            );
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ApiError::conflict("conflict", "That record already exists."),
            StoreError::Invalid => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "The values break a rule of the data (a reference or a limit).",
            ),
            StoreError::Other(e) => ApiError::internal(e),
            StoreError::Unavailable(m) => ApiError::unavailable(m),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match &r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        let code = match status {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid_field",
            _ => "malformed_json",
        };
        ApiError::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request("invalid_query", r.body_text())
    }
}

impl From<crate::app::Refusal> for ApiError {
    fn from(r: crate::app::Refusal) -> ApiError {
        use crate::app::Refusal;
        match r {
            Refusal::NotFound => ApiError::not_found(),
            Refusal::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            Refusal::Invalid { field, message } => {
                ApiError::unprocessable("invalid_field", message, field)
            }
            Refusal::Conflict { code, message } => ApiError::conflict(code, message),
            Refusal::Store(e) => e.into(),
        }
    }
}

impl From<crate::app::Rejected> for ApiError {
    /// The first field to fix: a 404 when it names a record the company
    /// does not have (`…_not_found`), else a 422; a refusal as a refusal.
    fn from(r: crate::app::Rejected) -> ApiError {
        use crate::app::Rejected;
        match r {
            Rejected::Fields(problems) => match problems.into_iter().next() {
                Some(p) if p.code.ends_with("_not_found") => {
                    ApiError::new(StatusCode::NOT_FOUND, p.code, p.message).with_field(p.field)
                }
                Some(p) => ApiError::unprocessable(p.code, p.message, p.field),
                None => ApiError::unprocessable("invalid_field", "Check the request.", ""),
            },
            Rejected::Refused(r) => r.into(),
        }
    }
}

/// What a payer is told while the processor's answer is awaited.
pub const PENDING_MESSAGE: &str = "Your payment is being confirmed with the card processor. Do not pay again: you will not be charged twice. The result shows here within a few minutes, and a receipt is emailed when it goes through.";

impl From<PayError> for ApiError {
    fn from(e: PayError) -> Self {
        match e {
            PayError::Invalid { field, message } => {
                let status = if field == "Idempotency-Key" {
                    StatusCode::BAD_REQUEST
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                let code = if field == "Idempotency-Key" {
                    "idempotency_key_required"
                } else {
                    "invalid_request"
                };
                ApiError::new(status, code, message).with_field(field)
            }
            PayError::InvoiceNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "invoice_not_found",
                "One of the selected invoices does not exist on this account.",
            )
            .with_field("invoice_ids"),
            PayError::InvoiceNotPayable(id) => ApiError::conflict(
                "invoice_not_payable",
                format!("Invoice {id} is already paid or void. Refresh the page to see what is still owed."),
            )
            .with_field("invoice_ids"),
            PayError::InvoiceBusy(id) => ApiError::conflict(
                "invoice_being_paid",
                format!("Invoice {id} is being paid right now. Wait a moment and refresh the page."),
            )
            .with_field("invoice_ids"),
            PayError::MixedCurrency => ApiError::unprocessable(
                "mixed_currency",
                "Invoices in different currencies must be paid separately.",
                "invoice_ids",
            ),
            PayError::MethodNotFound => ApiError::unprocessable(
                "payment_method_not_found",
                "That saved card is not on this account any more. Enter a card.",
                "payment_method",
            ),
            PayError::InProgress => ApiError::conflict(
                "idempotency_in_progress",
                "A request with this Idempotency-Key is still being processed. Retry shortly for its result.",
            ),
            PayError::KeyReused => ApiError::unprocessable(
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request. Use a new key for a new payment.",
                "Idempotency-Key",
            ),
            PayError::ProcessorUnavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "processor_unavailable",
                "We could not reach the card processor. Nothing was charged. Try again in a moment.",
            ),
            PayError::Pending { .. } => ApiError::new(
                StatusCode::ACCEPTED,
                "payment_pending",
                PENDING_MESSAGE,
            ),
            PayError::AutopayEnded => ApiError::conflict(
                "autopay_ended",
                "Autopay was turned off or its card changed. Nothing was charged.",
            ),
            PayError::Store(e) => e.into(),
        }
    }
}

impl From<crate::app::payments::OfficePayError> for ApiError {
    fn from(e: crate::app::payments::OfficePayError) -> Self {
        use crate::app::payments::OfficePayError;
        match e {
            OfficePayError::Invalid { field, message } => {
                let (status, code) = match field {
                    "Idempotency-Key" => (StatusCode::BAD_REQUEST, "idempotency_key_required"),
                    "form" => (StatusCode::BAD_REQUEST, "form_expired"),
                    _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
                };
                ApiError::new(status, code, message).with_field(field)
            }
            OfficePayError::NotFound => ApiError::not_found(),
            OfficePayError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            OfficePayError::Conflict { code, message } => ApiError::conflict(code, message),
            OfficePayError::Processor(m) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "processor_refused", m)
            }
            OfficePayError::KeyReused => PayError::KeyReused.into(),
            OfficePayError::InProgress => PayError::InProgress.into(),
            OfficePayError::Charge(e) => e.into(),
            OfficePayError::Store(e) => e.into(),
        }
    }
}
