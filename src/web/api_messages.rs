//! Messages: `GET /api/v1/messages?customer_id=` (the outbox of one customer)
//! and the inbound SMS webhook `POST /webhooks/sms/{company_id}` that records
//! STOP / START (SECURITY.md 20).
//!
//! The webhook takes Twilio's form fields `From` and `Body` and checks
//! Twilio's `X-Twilio-Signature` with FIELDPAY_SMS_TOKEN over the URL built
//! from the configured base URL; without a token it refuses every request.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::{ErrorBody, List};
use super::error::ApiError;
use crate::domain::ids::{CompanyId, CustomerId};
use crate::messaging::sms::{Keyword, keyword, normalize_phone};
use crate::store::messages;

pub fn routes() -> Router<AppState> {
    Router::new().route("/webhooks/sms/{company_id}", post(inbound_sms))
}

pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_messages))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Whose messages.
    #[param(min_length = 1)]
    customer_id: String,
}

/// The messages sent (or queued) to one customer, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    tag = "sending",
    security(("api_key" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "The messages.", body = List<crate::store::messages::MessageView>),
        (status = 404, description = "`customer_id` names no customer of this company.", body = ErrorBody),
        (status = 422, description = "`customer_id` is missing.", body = ErrorBody),
    )
)]
async fn list_messages(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query
        .map_err(|e| ApiError::unprocessable("invalid_query", e.body_text(), "customer_id"))?;
    let customer_id: CustomerId = Some(q.customer_id)
        .filter(|c| !c.is_empty())
        .map(CustomerId::from)
        .ok_or_else(|| {
            ApiError::unprocessable("invalid_field", "customer_id is required", "customer_id")
        })?;
    super::api::known_customer(&state, &company, Some(&customer_id)).await?;
    let data = messages::list_for_customer(&state.app.db, &company, &customer_id).await?;
    Ok(Json(List { data }).into_response())
}

#[cfg(test)]
mod signature_tests {
    #[test]
    fn matches_twilios_documented_example() {
        // The example from Twilio's "Validating requests" documentation.
        let body = b"CallSid=CA1234567890ABCDE&Caller=%2B14158675310&Digits=1234&From=%2B14158675310&To=%2B18005551212";
        assert_eq!(
            super::twilio_signature("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", body),
            "GvWf1cFY/Q7PnoempGyD5oXAezc="
        );
    }
}

/// The fields of a provider's inbound message that matter here.
#[derive(Default)]
struct InboundSms {
    from: String,
    body: String,
}

/// An empty TwiML answer: no reply text is sent from here (the provider
/// sends its own STOP confirmation).
fn twiml() -> Response {
    let mut r = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>".into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

/// Twilio's request signature: base64 of HMAC-SHA1, keyed with the account's
/// auth token, over the URL followed by every form field's name and value
/// sorted by name.
pub fn twilio_signature(token: &str, url: &str, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    fields.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (k, v) in &fields {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

async fn inbound_sms(
    State(state): State<AppState>,
    Path(company_id): Path<CompanyId>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = &state.app.config.delivery.sms_token;
    let url = format!("{}/webhooks/sms/{company_id}", state.app.config.base_url);
    let given = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if token.is_empty() || !crate::crypto::same_secret(given, &twilio_signature(token, &url, &body))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bad_signature",
            "The request is not signed by the SMS provider (X-Twilio-Signature with FIELDPAY_SMS_TOKEN).",
        ));
    }
    let mut msg = InboundSms::default();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "From" => msg.from = v.into_owned(),
            "Body" => msg.body = v.into_owned(),
            _ => {}
        }
    }
    if company_id.len() > 100 || !messages::company_exists(&state.app.db, &company_id).await? {
        return Err(ApiError::not_found());
    }
    let Some(kw) = keyword(&msg.body) else {
        return Ok(twiml());
    };
    let Some(phone) = normalize_phone(&msg.from) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "From must be a phone number",
        ));
    };
    let provider = crate::app::Actor::system(&company_id, "sms_provider");
    crate::app::messages::record_opt_out(&state.app, &provider, &phone, kw == Keyword::OptOut)
        .await?;
    tracing::info!(company = %company_id, opted_out = kw == Keyword::OptOut, "SMS opt-out list changed");
    Ok(twiml())
}
