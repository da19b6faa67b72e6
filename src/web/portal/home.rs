//! The signed-in portal: invoices and the pay form (the quick payment page's
//! own code), payment history and receipts, saved cards and autopay.

use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::{PortalUser, page, portal_context};
use crate::app::autopay::EnrollRequest;
use crate::app::{Refusal, Rejected};
use crate::domain::autopay_consent_text;
use crate::domain::i18n::{self, t};
use crate::domain::ids::CardId;
use crate::domain::money::Money;
use crate::store::payments as pay_store;
use crate::store::portal as store;
use crate::store::{StoreError, paypage};
use crate::web::error::ApiError;
use crate::web::pay::{self, FormPayer, FormState, Submitted};
use crate::web::{AppState, ClientIp};

/// GET /portal: the customer's open invoices and the pay form.
pub(super) async fn home(State(state): State<AppState>, user: PortalUser) -> Response {
    render_home(&state, &user, StatusCode::OK, FormState::default()).await
}

async fn render_home(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    form: FormState,
) -> Response {
    let hash = match crate::app::links::pay_page_hash(
        &state.app.db,
        &state.app.config.secret,
        &user.company_id,
        &user.customer_id,
    )
    .await
    {
        Ok(h) => h,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let found = match hash {
        Some(h) => match paypage::load(&state.app.db, &h).await {
            Ok(p) => p,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    let Some(pay_page) = found else {
        // No live payment link: the office turned online payment off for this customer.
        return page(
            state,
            user,
            StatusCode::OK,
            "portal/unavailable.html",
            minijinja::context! {},
        );
    };
    let processor = match crate::app::processors::page_processor(&state.app, &user.company_id).await
    {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let autopay =
        match crate::app::autopay::state(&state.app, &user.company_id, &user.customer_id).await {
            Ok(a) => a,
            Err(e) => return ApiError::from(e).into_response(),
        };
    let ctx = pay::page_context(
        state,
        &pay_page,
        &processor,
        pay::FormPlace {
            scope: &user.form_scope(),
            action: "/portal/pay",
            token: "",
        },
        form,
        autopay.as_ref(),
    );
    let base = portal_context(user);
    let resp = state.views.page(
        status,
        "portal/home.html",
        minijinja::context! { ..minijinja::context! { back => "/portal" }, ..base, ..ctx },
    );
    crate::web::with_processor_csp(resp, &processor)
}

/// POST /portal/pay: the pay form's submit flow, channel "portal". Its signed
/// form token is bound to this session (the CSRF check).
pub(super) async fn pay(
    State(state): State<AppState>,
    user: PortalUser,
    ip: ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let scope = user.form_scope();
    let payer = FormPayer {
        company_id: &user.company_id,
        customer_id: &user.customer_id,
        scope: &scope,
        channel: "portal",
        key_prefix: "portal",
    };
    match pay::submit_form(&state, &payer, ip, &headers, &body).await {
        Submitted::Paid(id) => Redirect::to(&format!("/portal/receipts/{id}")).into_response(),
        Submitted::Again(status, fs) => render_home(&state, &user, status, fs).await,
        Submitted::Failed(resp) => resp,
    }
}

/// GET /portal/receipts/{id}: one of this customer's payments.
pub(super) async fn receipt(
    State(state): State<AppState>,
    user: PortalUser,
    Path(payment_id): Path<crate::domain::ids::PaymentId>,
) -> Response {
    match pay::receipt_context(&state, &user.company_id, &user.customer_id, &payment_id).await {
        Ok(Some(ctx)) => {
            let base = portal_context(&user);
            state.views.page(
                StatusCode::OK,
                "portal/receipt.html",
                minijinja::context! { ..minijinja::context! { back => "/portal" }, ..base, ..ctx },
            )
        }
        Ok(None) => state.views.not_found(),
        Err(e) => e.into_response(),
    }
}

#[derive(Serialize)]
struct HistoryRow {
    id: String,
    date: String,
    amount: String,
    how: String,
    invoices: String,
    /// Empty for a payment standing as made; else "Refunded", …
    status: String,
}

/// GET /portal/history: payments, newest first, each with its receipt.
pub(super) async fn history(State(state): State<AppState>, user: PortalUser) -> Response {
    let (payments, company) = match async {
        let p = pay_store::list(
            &state.app.db,
            &user.company_id,
            Some(&user.customer_id),
            None,
            200,
        )
        .await?;
        let c = crate::store::companies::get(&state.app.db, &user.company_id).await?;
        Ok::<_, StoreError>((p, c))
    }
    .await
    {
        Ok((p, Some(c))) => (p, c),
        Ok((_, None)) => return state.views.not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let rows: Vec<HistoryRow> = payments
        .into_iter()
        .map(|p| HistoryRow {
            date: i18n::instant(user.lang, p.created_at, &company.time_zone),
            amount: i18n::money(user.lang, Money::new(p.amount, p.currency)),
            how: match (&p.card_brand, &p.card_last4) {
                (Some(b), Some(l)) => pay::card_ending(user.lang, b, l),
                _ => match p.method.as_str() {
                    "cash" => t(user.lang, "portal-cash"),
                    "check" => t(user.lang, "portal-check"),
                    other => other.to_string(),
                },
            },
            invoices: p
                .allocations
                .iter()
                .map(|a| a.invoice_number.clone())
                .collect::<Vec<_>>()
                .join(", "),
            status: match p.status {
                "refunded" => t(user.lang, "portal-status-refunded"),
                "partially_refunded" => t(user.lang, "portal-status-partly-refunded"),
                _ => String::new(),
            },
            id: p.id.into(),
        })
        .collect();
    page(
        &state,
        &user,
        StatusCode::OK,
        "portal/history.html",
        minijinja::context! { payments => minijinja::value::Serde(&rows) },
    )
}

#[derive(Serialize)]
struct CardView {
    id: CardId,
    label: String,
    is_default: bool,
    autopay: bool,
    checked: bool,
}

/// GET /portal/cards: saved cards and autopay.
pub(super) async fn cards(State(state): State<AppState>, user: PortalUser) -> Response {
    render_cards(&state, &user, StatusCode::OK, minijinja::context! {}, None).await
}

async fn render_cards(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    ctx: minijinja::Value,
    chosen: Option<&str>,
) -> Response {
    let cards = match store::cards(&state.app.db, &user.company_id, &user.customer_id).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let autopay = cards
        .iter()
        .find(|c| c.autopay)
        .map(|c| pay::card_ending(user.lang, &c.brand, &c.last4));
    let summary = match crate::app::autopay::state(&state.app, &user.company_id, &user.customer_id)
        .await
    {
        Ok(Some(a)) => {
            let today = match crate::store::companies::get(&state.app.db, &user.company_id).await {
                Ok(Some(c)) => state.app.clock.today_in(&c.time_zone),
                Ok(None) => return state.views.not_found(),
                Err(e) => return ApiError::from(e).into_response(),
            };
            Some(pay::autopay_summary(user.lang, &a, today))
        }
        Ok(None) => None,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let chosen = chosen
        .map(CardId::from)
        .or_else(|| cards.iter().find(|c| c.is_default).map(|c| c.id.clone()))
        .or_else(|| cards.first().map(|c| c.id.clone()));
    let views: Vec<CardView> = cards
        .iter()
        .map(|c| CardView {
            id: c.id.clone(),
            label: pay::method_label(user.lang, &c.brand, &c.last4, c.exp_month, c.exp_year),
            is_default: c.is_default,
            autopay: c.autopay,
            checked: Some(&c.id) == chosen.as_ref(),
        })
        .collect();
    page(
        state,
        user,
        status,
        "portal/cards.html",
        minijinja::context! {
            cards => minijinja::value::Serde(&views),
            autopay => autopay,
            autopay_summary => summary,
            consent_text => autopay_consent_text(user.lang, &user.company_name, &user.company_phone),
            ..ctx
        },
    )
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// GET /portal/cards/{id}/remove: asks once, saying what will happen.
pub(super) async fn remove_card_page(
    State(state): State<AppState>,
    user: PortalUser,
    Path(id): Path<String>,
) -> Response {
    let cards = match store::cards(&state.app.db, &user.company_id, &user.customer_id).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let Some(card) = cards.into_iter().find(|c| c.id == id) else {
        return state.views.not_found();
    };
    page(
        &state,
        &user,
        StatusCode::OK,
        "portal/card_remove.html",
        minijinja::context! {
            card => minijinja::context! {
                id => card.id,
                label => pay::card_ending(user.lang, &card.brand, &card.last4),
                autopay => card.autopay,
            },
        },
    )
}

/// POST /portal/cards/{id}/remove: removes the card; autopay on it turns off.
pub(super) async fn remove_card(
    State(state): State<AppState>,
    user: PortalUser,
    Path(id): Path<crate::domain::ids::CardId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let actor = user.as_actor();
    match crate::app::cards::remove(&state.app, &actor, &user.customer_id, &id).await {
        Ok(removed) => {
            let notice = if removed.autopay_cancelled {
                t(user.lang, "portal-card-removed-autopay")
            } else {
                t(user.lang, "portal-card-removed")
            };
            render_cards(
                &state,
                &user,
                StatusCode::OK,
                minijinja::context! { notice => notice },
                None,
            )
            .await
        }
        Err(Refusal::NotFound) => state.views.not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// GET /portal/cards/new: card fields (tokenized at the processor by card.js).
pub(super) async fn new_card(State(state): State<AppState>, user: PortalUser) -> Response {
    card_form(&state, &user, StatusCode::OK, None).await
}

/// The add-a-card form with the company's card fields (sandbox or Stripe.js).
async fn card_form(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    card_error: Option<&str>,
) -> Response {
    let processor = match crate::app::processors::page_processor(&state.app, &user.company_id).await
    {
        Ok(p) => p,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let resp = page(
        state,
        user,
        status,
        "portal/card_new.html",
        minijinja::context! { card_error => card_error, processor => minijinja::value::Serde(&processor) },
    );
    crate::web::with_processor_csp(resp, &processor)
}

#[derive(Deserialize)]
pub(super) struct AddCardForm {
    csrf: String,
    #[serde(default)]
    card_token: String,
}

/// POST /portal/cards/new: keeps the card at the processor without a charge.
pub(super) async fn add_card(
    State(state): State<AppState>,
    user: PortalUser,
    Form(f): Form<AddCardForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if f.card_token.is_empty() {
        return card_form(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&t(user.lang, "card-enter-details")),
        )
        .await;
    }
    match crate::app::payments::add_card(
        &state.app,
        &user.company_id,
        &user.customer_id,
        f.card_token,
        &user.actor(),
    )
    .await
    {
        Ok(crate::app::payments::AddCard::Added(_)) => {
            render_cards(
                &state,
                &user,
                StatusCode::OK,
                minijinja::context! { notice => t(user.lang, "portal-card-saved") },
                None,
            )
            .await
        }
        Ok(crate::app::payments::AddCard::Declined(d)) => {
            card_form(
                &state,
                &user,
                StatusCode::PAYMENT_REQUIRED,
                Some(&crate::processor::decline_message_in(user.lang, &d.code)),
            )
            .await
        }
        Err(e) => {
            let e = ApiError::from(e);
            card_form(&state, &user, e.status, Some(&e.message)).await
        }
    }
}

/// POST /portal/cards/{id}/default.
pub(super) async fn set_default(
    State(state): State<AppState>,
    user: PortalUser,
    Path(id): Path<crate::domain::ids::CardId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let actor = user.as_actor();
    match crate::app::cards::set_default(&state.app, &actor, &user.customer_id, &id).await {
        Ok(()) => {
            render_cards(
                &state,
                &user,
                StatusCode::OK,
                minijinja::context! { notice => t(user.lang, "portal-default-changed") },
                None,
            )
            .await
        }
        Err(Refusal::NotFound) => state.views.not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub(super) struct AutopayForm {
    #[serde(default)]
    csrf: String,
    /// "on" or "off".
    #[serde(default)]
    action: String,
    #[serde(default)]
    method_id: String,
    #[serde(default)]
    autopay_consent: String,
}

/// POST /portal/autopay: off cancels the enrollment; on needs a saved card
/// and the ticked consent, whose exact text is stored with time, address and
/// user agent.
pub(super) async fn autopay(
    State(state): State<AppState>,
    user: PortalUser,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<AutopayForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    match f.action.as_str() {
        "off" => autopay_off(&state, &user).await,
        "on" => autopay_on(&state, &user, ip, &headers, &f).await,
        _ => (
            StatusCode::BAD_REQUEST,
            t(user.lang, "portal-choose-on-off"),
        )
            .into_response(),
    }
}

async fn autopay_off(state: &AppState, user: &PortalUser) -> Response {
    match crate::app::autopay::cancel(&state.app, &user.as_actor(), &user.customer_id).await {
        Ok(was_on) => {
            let notice = t(
                user.lang,
                if was_on {
                    "portal-autopay-now-off"
                } else {
                    "portal-autopay-was-off"
                },
            );
            render_cards(
                state,
                user,
                StatusCode::OK,
                minijinja::context! { notice => notice },
                None,
            )
            .await
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn autopay_on(
    state: &AppState,
    user: &PortalUser,
    ip: ClientIp,
    headers: &HeaderMap,
    f: &AutopayForm,
) -> Response {
    let req = EnrollRequest {
        method_id: &f.method_id,
        consent: f.autopay_consent == "yes",
        ip: ip.0.to_string(),
        user_agent: crate::web::user_agent(headers),
        note: None,
        language: Some(user.lang),
    };
    let chosen = Some(f.method_id.as_str()).filter(|m| !m.is_empty());
    match crate::app::autopay::enroll(&state.app, &user.as_actor(), &user.customer_id, &req).await {
        Ok(e) => {
            let notice = i18n::tr(
                user.lang,
                "portal-autopay-now-on",
                &[(
                    "card",
                    pay::card_ending(user.lang, &e.brand, &e.last4).into(),
                )],
            );
            render_cards(
                state,
                user,
                StatusCode::OK,
                minijinja::context! { notice => notice },
                None,
            )
            .await
        }
        Err(Rejected::Refused(r)) => ApiError::from(r).into_response(),
        Err(rejected) => {
            // The card first: a missing card is what to fix before the box.
            let errors = rejected.by_field().unwrap_or_default();
            let ctx = match errors.get("method_id") {
                Some(m) => minijinja::context! { method_error => m },
                None => minijinja::context! { consent_error => errors.get("consent") },
            };
            render_cards(state, user, StatusCode::UNPROCESSABLE_ENTITY, ctx, chosen).await
        }
    }
}
