//! Settings › Payment Processor: the sandbox or the company's Stripe
//! account. Keys are typed once and shown back only masked; leaving a key
//! field empty keeps the stored one. Also lists disputes opened at Stripe.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::{OfficeUser, page_with_status};
use crate::domain::money::{Currency, Money};
use crate::processor::ProcessorKind;
use crate::store::processor_settings as store;
use crate::web::AppState;
use crate::web::api_processor::{ProcessorInput, WriteError, check_input, view, write_settings};

pub fn routes() -> Router<AppState> {
    Router::new().route("/office/settings/processor", get(show).post(save))
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "processor settings page failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong. Try again.",
    )
        .into_response()
}

#[derive(serde::Serialize)]
struct DisputeView {
    id: String,
    payment_id: Option<String>,
    amount: String,
    reason: String,
    status: String,
    opened: String,
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    kind: &str,
    publishable_key: &str,
    field: Option<&str>,
    error: Option<&str>,
    saved: bool,
) -> Response {
    let current = match store::get(&state.app.db, &user.company_id).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let shown = view(&state.app, &user.company_id, current.as_ref());
    let disputes = match store::disputes(&state.app.db, &user.company_id, 50).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let disputes: Vec<DisputeView> = disputes
        .into_iter()
        .map(|d| DisputeView {
            id: d.processor_dispute_id,
            payment_id: d.payment_id,
            amount: Money::new(
                d.amount,
                Currency::parse(&d.currency).unwrap_or(Currency::USD),
            )
            .format(),
            reason: d.reason.replace('_', " "),
            status: d.status.replace('_', " "),
            opened: crate::domain::dates::display(d.created_at.date()),
        })
        .collect();
    page_with_status(
        state,
        user,
        status,
        "office/settings_processor.html",
        "payment-processor",
        minijinja::context! {
            settings => minijinja::value::Serde(&shown),
            kind => kind,
            publishable_key => publishable_key,
            field => field,
            error => error,
            saved => saved,
            can_edit => user.is_owner(),
            disputes => minijinja::value::Serde(&disputes),
            live => current.as_ref().is_some_and(|c| {
                crate::domain::processor::Mode::of(c.kind, c.publishable_key.as_deref())
                    == crate::domain::processor::Mode::Live
            }),
        },
    )
}

async fn show(State(state): State<AppState>, user: OfficeUser, Query(q): Query<Saved>) -> Response {
    let current = match store::get(&state.app.db, &user.company_id).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let kind = current
        .as_ref()
        .map(|s| s.kind)
        .unwrap_or(ProcessorKind::Sandbox);
    let pk = current
        .as_ref()
        .and_then(|s| s.publishable_key.clone())
        .unwrap_or_default();
    render(
        &state,
        &user,
        StatusCode::OK,
        kind.as_str(),
        &pk,
        None,
        None,
        q.saved.is_some(),
    )
    .await
}

#[derive(Deserialize)]
struct ProcessorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    secret_key: String,
    #[serde(default)]
    publishable_key: String,
    #[serde(default)]
    webhook_secret: String,
    #[serde(default)]
    confirm_live: Option<String>,
}

async fn save(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<ProcessorForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return render(
            &state,
            &user,
            StatusCode::FORBIDDEN,
            &f.kind,
            &f.publishable_key,
            None,
            Some("Only an owner can change the payment processor."),
            false,
        )
        .await;
    }
    let current = match store::get(&state.app.db, &user.company_id).await {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let input = ProcessorInput {
        kind: f.kind.clone(),
        secret_key: Some(f.secret_key.clone()),
        publishable_key: Some(f.publishable_key.clone()),
        webhook_secret: Some(f.webhook_secret.clone()),
        confirm_live: Some(f.confirm_live.is_some()),
    };
    match check_input(&input, current.as_ref()) {
        Err((field, message)) => {
            // Secret fields are never sent back; the rest is kept.
            render(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f.kind,
                &f.publishable_key,
                Some(field),
                Some(&message),
                false,
            )
            .await
        }
        Ok(checked) => {
            match write_settings(&state.app, &user.company_id, &user.actor(), &checked).await {
                Ok(()) => Redirect::to("/office/settings/processor?saved=1").into_response(),
                Err(WriteError::Store(e)) => internal(e),
                Err(refused) => {
                    let (_, message) = refused.in_flight().unwrap_or_default();
                    render(
                        &state,
                        &user,
                        StatusCode::CONFLICT,
                        &f.kind,
                        &f.publishable_key,
                        Some("kind"),
                        Some(&message),
                        false,
                    )
                    .await
                }
            }
        }
    }
}
