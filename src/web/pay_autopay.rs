//! Autopay from the payment link: turn it off in one click.
//!
//! `GET /pay/{token}/autopay` (the `autopay_cancel_link` of every autopay
//! message) shows which card autopay uses and one button; it never changes
//! anything, since mail scanners open links first. `POST` turns autopay off.
//! The token is looked up, and rate-limited, exactly as on the pay page
//! (`pay::resolve`); the form is bound to the link by a signed token.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::error::ApiError;
use super::pay::{form_sig_valid, form_token, resolve};
use super::{AppState, ClientIp};
use crate::app::Actor;
use crate::store::links::LiveLink;
use crate::store::{companies, payments as pay_store};

pub fn routes() -> Router<AppState> {
    Router::new().route("/pay/{token}/autopay", get(confirm).post(turn_off))
}

/// What the page says.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// Autopay is on: the question and the button (or off: says so).
    Ask,
    /// It was just turned off.
    TurnedOff,
    /// It was already off when the button was pressed.
    AlreadyOff,
}

async fn render(
    state: &AppState,
    link: &LiveLink,
    token: &str,
    status: StatusCode,
    shown: Shown,
    error: Option<&str>,
) -> Response {
    let company = match companies::get(&state.app.db, &link.company_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let customer = match crate::store::customers::get(
        &state.app.db,
        &link.company_id,
        &link.customer_id,
    )
    .await
    {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let lang = crate::web::lang::choose(customer.language, company.language);
    let card = match pay_store::active_autopay(&state.app.db, &link.customer_id).await {
        Ok(m) => m.map(|m| crate::web::pay::card_ending(lang, &m.brand, &m.last4)),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mode = match crate::store::processor_settings::mode(&state.app.db, &link.company_id).await {
        Ok(m) => m,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let (nonce, sig) = form_token(state, &link.id);
    state.views.page(
        status,
        "pay_autopay.html",
        minijinja::context! {
            lang => lang.code(),
            accent => company.accent_color,
            test_mode => mode.is_test(),
            company => minijinja::context! { name => company.name, phone => company.phone },
            card => card,
            action => format!("/pay/{token}/autopay"),
            back => format!("/pay/{token}"),
            form => minijinja::context! { nonce => nonce, sig => sig },
            turned_off => shown == Shown::TurnedOff,
            already_off => shown == Shown::AlreadyOff,
            error => error.map(|key| crate::domain::i18n::t(lang, key)),
        },
    )
}

/// GET: what autopay does now, and the button. Changes nothing.
async fn confirm(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
) -> Response {
    match resolve(&state, ip, &token, "/pay").await {
        Ok(link) => render(&state, &link, &token, StatusCode::OK, Shown::Ask, None).await,
        Err(resp) => resp,
    }
}

#[derive(Deserialize)]
struct OffForm {
    #[serde(default)]
    form_nonce: String,
    #[serde(default)]
    form_sig: String,
}

/// POST: turns autopay off (the one use case the office and the portal
/// call too) and says so; audited by the link's hash prefix.
async fn turn_off(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
    Form(f): Form<OffForm>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    if !form_sig_valid(&state, &link.id, &f.form_nonce, &f.form_sig) {
        let msg = "autopay-form-stale";
        return render(
            &state,
            &link,
            &token,
            StatusCode::BAD_REQUEST,
            Shown::Ask,
            Some(msg),
        )
        .await;
    }
    let actor = Actor::PayLink {
        company_id: link.company_id.clone(),
        customer_id: link.customer_id.clone(),
    };
    let result = crate::app::autopay::cancel(&state.app, &actor, &link.customer_id).await;
    match result {
        Ok(true) => {
            render(
                &state,
                &link,
                &token,
                StatusCode::OK,
                Shown::TurnedOff,
                None,
            )
            .await
        }
        Ok(false) => {
            render(
                &state,
                &link,
                &token,
                StatusCode::OK,
                Shown::AlreadyOff,
                None,
            )
            .await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}
