//! JSON API: sending now — an invoice (`POST /api/v1/invoices/{id}/send`)
//! or a customer's payment link (`POST /api/v1/customers/{id}/send-link`)
//! by email or SMS — and the SMS preview exactly as it would be sent
//! (`GET /api/v1/sms-templates/{id}/preview`). The office's "Send now"
//! calls the same use case.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::ErrorBody;
use super::error::ApiError;
use crate::app::messages::{self, SendRequest};
use crate::messaging::Channel;
use crate::messaging::template::SmsEncoding;
use crate::store::messages::{self as store, MessageView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_invoice))
        .routes(routes!(send_link))
        .routes(routes!(sms_preview))
}

type ApiResult = Result<Response, ApiError>;

/// What to send: the channel, and a template of the company's for it
/// (without one, the company's default template for the channel).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "email"}))]
pub struct SendBody {
    /// `email` or `sms`.
    #[serde(default)]
    #[schema(pattern = "^(email|sms)$")]
    pub channel: Option<String>,
    #[serde(default)]
    pub template_id: Option<String>,
    /// A few words shown above the template's text (at most 500 characters).
    #[serde(default)]
    pub message: Option<String>,
}

/// The messages queued (one per request today).
#[derive(Debug, Serialize, ToSchema)]
pub struct SentMessages {
    pub data: Vec<MessageView>,
}

fn channel(b: &SendBody) -> Result<Channel, ApiError> {
    match b.channel.as_deref() {
        Some("email") => Ok(Channel::Email),
        Some("sms") => Ok(Channel::Sms),
        _ => Err(ApiError::unprocessable(
            "invalid_field",
            "channel must be \"email\" or \"sms\".",
            "channel",
        )),
    }
}

/// The request's `Idempotency-Key` (optional): a repeat with the same key
/// queues nothing new and answers the first message. Without one, each
/// request sends.
fn send_key(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(crate::crypto::random_token(16)),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|k| messages::valid_key(k))
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 8 to 200 letters, digits, '-', '_', '.' or ':'.",
                )
                .with_field("Idempotency-Key")
            }),
    }
}

/// What a "send now" route sends: an invoice (to its bill-to customer), or
/// a customer's payment link (the template must carry it).
#[derive(Clone, Copy)]
enum Sending<'a> {
    Invoice(&'a str),
    Link(&'a str),
}

/// Both "send now" routes: the body checked, the message queued (or the
/// first one answered for a repeated key) and answered as sent.
async fn send(
    state: &AppState,
    key: &CompanyKey,
    headers: &HeaderMap,
    body: Result<Json<SendBody>, JsonRejection>,
    what: Sending<'_>,
) -> ApiResult {
    let Json(b) = body?;
    let channel = channel(&b)?;
    let idempotency = send_key(headers)?;
    let (customer_id, invoice_id) = match what {
        Sending::Invoice(id) => (None, Some(id)),
        Sending::Link(id) => (Some(id), None),
    };
    let req = SendRequest {
        customer_id,
        invoice_id,
        channel,
        template_id: b.template_id.as_deref().map(str::trim),
        key: &idempotency,
        must_carry_link: matches!(what, Sending::Link(_)),
        note: b.message.as_deref(),
    };
    let sent = messages::send(&state.app, &key.actor(), &req).await?;
    let message = store::view(&state.app.db, &key.0, sent.outcome.id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SentMessages {
            data: vec![message],
        }),
    )
        .into_response())
}

/// `POST /api/v1/invoices/{id}/send`: the invoice to its bill-to customer.
/// Sends an invoice to its bill-to customer now, by email or SMS.
#[utoipa::path(
    post,
    path = "/api/v1/invoices/{id}/send",
    tag = "sending",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The invoice's id."), ("Idempotency-Key" = Option<String>, Header, pattern = "^[A-Za-z0-9._:-]{8,200}$", description = "Optional: a repeat with the same key queues nothing new (8 to 200 letters, digits, `-`, `_`, `.`, `:`).")),
    request_body = SendBody,
    responses(
        (status = 202, description = "The message, queued.", body = SentMessages),
        (status = 400, description = "The `Idempotency-Key` is malformed (`invalid_idempotency_key`).", body = ErrorBody),
        (status = 404, description = "No such invoice or template of this company.", body = ErrorBody),
        (status = 409, description = "The customer cannot be reached on this channel (no address, opted out).", body = ErrorBody),
    )
)]
async fn send_invoice(
    State(state): State<AppState>,
    key: CompanyKey,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<SendBody>, JsonRejection>,
) -> ApiResult {
    send(&state, &key, &headers, body, Sending::Invoice(&id)).await
}

/// `POST /api/v1/customers/{id}/send-link`: the customer's payment link;
/// the template must carry it.
/// Sends a customer their payment link now, by email or SMS.
#[utoipa::path(
    post,
    path = "/api/v1/customers/{id}/send-link",
    tag = "sending",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The customer's id."), ("Idempotency-Key" = Option<String>, Header, pattern = "^[A-Za-z0-9._:-]{8,200}$", description = "Optional: a repeat with the same key queues nothing new (8 to 200 letters, digits, `-`, `_`, `.`, `:`).")),
    request_body = SendBody,
    responses(
        (status = 202, description = "The message, queued.", body = SentMessages),
        (status = 400, description = "The `Idempotency-Key` is malformed (`invalid_idempotency_key`).", body = ErrorBody),
        (status = 404, description = "No such customer or template of this company.", body = ErrorBody),
        (status = 409, description = "The customer cannot be reached on this channel (no address, opted out).", body = ErrorBody),
    )
)]
async fn send_link(
    State(state): State<AppState>,
    key: CompanyKey,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<SendBody>, JsonRejection>,
) -> ApiResult {
    send(&state, &key, &headers, body, Sending::Link(&id)).await
}

/// Whose data the preview renders: the customer's, or the invoice's (and
/// its bill-to customer's).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    #[serde(default)]
    pub customer_id: Option<String>,
    #[serde(default)]
    pub invoice_id: Option<String>,
    /// `en` or `es`: the message in that language instead of the
    /// customer's, where the template has it (else its main text, as it
    /// would be sent).
    #[serde(default)]
    #[param(value_type = Option<crate::domain::i18n::Lang>)]
    pub lang: Option<String>,
}

/// An SMS as it would be sent now: its text, and how it is split.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsPreviewBody {
    pub body: String,
    pub segments: usize,
    /// `gsm7` or `ucs2`.
    pub encoding: SmsEncoding,
    /// Length in the encoding's units (GSM-7 septets or UTF-16 units).
    pub characters: usize,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// An SMS as it would be sent now to a customer (or for an invoice), in
/// their language where the template has it.
#[utoipa::path(
    get,
    path = "/api/v1/sms-templates/{id}/preview",
    tag = "sending",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The SMS template's id."), PreviewQuery),
    responses(
        (status = 200, description = "The message and how it splits.", body = SmsPreviewBody),
        (status = 400, description = "A query parameter is malformed (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such template, customer or invoice of this company.", body = ErrorBody),
        (status = 422, description = "The template does not render with this data, or `lang` is not `en` or `es`.", body = ErrorBody),
    )
)]
async fn sms_preview(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<crate::domain::ids::SmsTemplateId>,
    query: Result<Query<PreviewQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query?;
    let lang = super::lang::asked(q.lang.as_deref())?;
    let p = messages::preview_sms(
        &state.app,
        &key.actor(),
        &id,
        given(&q.customer_id),
        given(&q.invoice_id),
        lang,
    )
    .await?;
    Ok(Json(SmsPreviewBody {
        body: p.body,
        segments: p.segments.segments,
        encoding: p.segments.encoding,
        characters: p.segments.units,
    })
    .into_response())
}
