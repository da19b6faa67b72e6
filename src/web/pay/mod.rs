//! The quick payment page and its JSON twin. The token in the path is the
//! credential: every lookup goes through `resolve`, which rate-limits and
//! answers a miss exactly as any unknown path.

mod api;
mod form;
mod page;

pub use api::{pay_result_response, pay_step_response};
pub use form::AUTHENTICATE_MESSAGE;
pub(crate) use form::{FormPayer, Submitted, submit_form};
pub(crate) use page::{
    FormPlace, FormState, autopay_summary, card_ending, page_context, receipt_context,
};

use std::collections::HashMap;
use std::sync::Mutex;
use time::OffsetDateTime;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use super::{AppState, ClientIp, not_found_for, user_agent};
use crate::crypto::random_token;
use crate::domain::autopay_consent_text;
use crate::domain::i18n::Lang;
use crate::domain::ids::{CompanyId, CustomerId, LinkId};
use crate::store::companies;
use crate::store::links::LiveLink;
use crate::store::payments::Consent;
use crate::store::paypage::{self, PayPage};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{token}", get(page::page).post(form::submit))
        .route("/pay/{token}/receipts/{payment_id}", get(page::receipt))
}

pub use api::api_routes;

/// What a miss answers: 404 like any unknown path, or 429 over the limits
/// (no customer known: in the language the request asks for, else English).
pub(super) async fn miss(state: &AppState, ip: ClientIp, path: &str) -> Response {
    if state.limits.check_miss(&state.app.db, ip.0).await {
        not_found_for(state, path)
    } else {
        too_many(path, crate::web::lang::guess())
    }
}

/// "Too many requests" (429, retry after a minute) in the customer's
/// language: JSON under `/api/` (code `rate_limited`), plain text on pages.
pub(super) fn too_many(path: &str, lang: Lang) -> Response {
    let mut resp = if path.starts_with("/api/") {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            crate::domain::i18n::t(lang, "too-many-requests"),
        )
        .into_response()
    } else {
        crate::web::plain_text(StatusCode::TOO_MANY_REQUESTS, lang, "too-many-requests")
    };
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    resp
}

/// The page language of a link's customer (the language switch's choice,
/// else theirs, else the browser's, else the company's).
async fn link_language(state: &AppState, link: &LiveLink) -> Lang {
    let db = &state.app.db;
    let customer = crate::store::customers::get(db, &link.company_id, &link.customer_id)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.language);
    let company = companies::get(db, &link.company_id)
        .await
        .ok()
        .flatten()
        .map(|c| c.language)
        .unwrap_or_default();
    crate::web::lang::choose(customer, company)
}

/// Loads the page a token opens, applying the rate limits.
pub(super) async fn load_page(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    path: &str,
) -> Result<PayPage, Response> {
    if !crate::domain::paylink::looks_like_token(token) {
        return Err(miss(state, ip, path).await);
    }
    let found = paypage::load(&state.app.db, &crate::domain::paylink::token_hash(token))
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let Some(page) = found else {
        return Err(miss(state, ip, path).await);
    };
    if !state.limits.allow_hit(&page.link_id) {
        let lang = crate::web::lang::choose(page.customer.language, page.company.language);
        return Err(too_many(path, lang));
    }
    note_opened(
        state,
        &page.company.id,
        &page.link_id,
        &page.customer.id,
        token,
    );
    Ok(page)
}

/// Resolves a token for a state change, applying the rate limits.
pub(crate) async fn resolve(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    path: &str,
) -> Result<LiveLink, Response> {
    if !crate::domain::paylink::looks_like_token(token) {
        return Err(miss(state, ip, path).await);
    }
    let found =
        crate::store::links::find_live(&state.app.db, &crate::domain::paylink::token_hash(token))
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
    let Some(link) = found else {
        return Err(miss(state, ip, path).await);
    };
    if !state.limits.allow_hit(&link.id) {
        return Err(too_many(path, link_language(state, &link).await));
    }
    Ok(link)
}

static OPENED: Mutex<Option<HashMap<String, OffsetDateTime>>> = Mutex::new(None);

/// Notes "link opened" (audit log and collections funnel) at most once an
/// hour per link, off the request path, so page views do not queue behind
/// the database writer.
pub(super) fn note_opened(
    state: &AppState,
    company_id: &CompanyId,
    link_id: &LinkId,
    customer_id: &CustomerId,
    token: &str,
) {
    {
        let Ok(mut guard) = OPENED.lock() else { return };
        let seen = guard.get_or_insert_with(HashMap::new);
        if seen.len() > 100_000 {
            seen.clear();
        }
        let now = state.app.clock.now();
        match seen.get(link_id.as_str()) {
            Some(at) if *at <= now && now - *at < time::Duration::hours(1) => return,
            _ => {
                seen.insert(link_id.to_string(), now);
            }
        }
    }
    let app = state.app.clone();
    let (company_id, customer_id, token) =
        (company_id.clone(), customer_id.clone(), token.to_string());
    tokio::spawn(async move {
        if let Err(e) =
            crate::app::links::note_opened(&app, &company_id, &customer_id, &token).await
        {
            tracing::warn!(error = %e, "could not note a payment link's opening");
        }
    });
}

pub(crate) fn method_label(
    lang: crate::domain::i18n::Lang,
    brand: &str,
    last4: &str,
    exp_month: i64,
    exp_year: i64,
) -> String {
    crate::domain::i18n::tr(
        lang,
        "card-ending-expires",
        &[
            ("brand", brand.into()),
            ("last4", last4.into()),
            (
                "expiry",
                format!("{exp_month:02}/{:02}", exp_year % 100).into(),
            ),
        ],
    )
}

/// A signed one-time form token: the nonce is the payment's idempotency key,
/// the signature proves this server issued it for this scope (CSRF). The
/// scope is the link's id on the quick payment page, the session on the portal.
pub(crate) fn form_token(state: &AppState, scope: &str) -> (String, String) {
    let nonce = random_token(18);
    let sig = state
        .app
        .config
        .secret
        .derive(format!("form:{scope}:{nonce}").as_bytes());
    (nonce, sig)
}

pub(crate) fn form_sig_valid(state: &AppState, scope: &str, nonce: &str, sig: &str) -> bool {
    let expected = state
        .app
        .config
        .secret
        .derive(format!("form:{scope}:{nonce}").as_bytes());
    !nonce.is_empty() && crate::crypto::same_secret(&expected, sig)
}

/// The consent record for autopay: the exact text shown (in the language
/// the page was shown in), when, from where.
pub(crate) async fn consent_for(
    state: &AppState,
    company_id: &CompanyId,
    customer_id: &crate::domain::ids::CustomerId,
    channel: &str,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<Consent, ApiError> {
    let company = companies::get(&state.app.db, company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let customer = crate::store::customers::get(&state.app.db, company_id, customer_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let lang = crate::web::lang::choose(customer.language, company.language);
    Ok(Consent {
        text: autopay_consent_text(lang, &company.name, &company.phone),
        ip: ip.0.to_string(),
        user_agent: user_agent(headers),
        channel: channel.into(),
        starts_on: state.app.clock.today_in(&company.time_zone),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn method_labels() {
        assert_eq!(
            method_label(crate::domain::i18n::Lang::En, "Visa", "4242", 12, 2030),
            "Visa ending 4242, expires 12/30"
        );
        assert_eq!(
            method_label(crate::domain::i18n::Lang::Es, "Visa", "4242", 12, 2030),
            "Visa terminada en 4242, vence 12/30"
        );
    }
}
