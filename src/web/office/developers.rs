//! Office: Settings › Developers — the company's webhook endpoints: add one
//! (its signing secret is shown once, on the page that answers the form),
//! remove one, send a test event, turn an endpoint on again, and each
//! endpoint's delivery log with a Retry button. The same use cases as the
//! JSON API (`crate::app::webhooks`).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use super::{CsrfForm, OfficeUser, page_with_status};
use crate::app::Refusal;
use crate::app::webhooks::{self, EndpointView};
use crate::domain::dates::display_instant;
use crate::domain::ids::{CompanyId, WebhookDeliveryId, WebhookEndpointId, WebhookEventId};
use crate::domain::webhooks::EventType;
use crate::store::webhooks::{DeliveryView, TryView};
use crate::web::AppState;
use crate::web::error::ApiError;

type Page = Result<Response, ApiError>;

const BASE: &str = "/office/settings/developers";
const NAV: &str = "developers";
/// Deliveries and tries an endpoint's page shows.
const LOG_ROWS: i64 = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(BASE, get(list_page).post(create))
        .route(&format!("{BASE}/{{id}}"), get(endpoint_page))
        .route(&format!("{BASE}/{{id}}/test"), post(send_test))
        .route(&format!("{BASE}/{{id}}/enable"), post(enable))
        .route(
            &format!("{BASE}/{{id}}/delete"),
            get(delete_confirm).post(delete),
        )
        .route(&format!("{BASE}/deliveries/{{id}}/retry"), post(retry))
}

/// The company's time zone, for the times shown.
async fn time_zone(state: &AppState, company_id: &CompanyId) -> Result<String, ApiError> {
    Ok(crate::store::companies::get(&state.app.db, company_id)
        .await?
        .map(|c| c.time_zone)
        .unwrap_or_else(|| "UTC".into()))
}

#[derive(Serialize)]
struct EndpointRow {
    id: String,
    url: String,
    events: Vec<String>,
    secret_hint: String,
    enabled: bool,
    /// "On", "Failing since …" or "Turned off …".
    state: String,
    disabled_reason: Option<String>,
    created: String,
}

fn endpoint_row(e: &EndpointView, tz: &str) -> EndpointRow {
    let state = match (e.disabled_at, e.failing_since) {
        (Some(at), _) => format!("Turned off {}", display_instant(at, tz)),
        (None, Some(since)) => format!("On, failing since {}", display_instant(since, tz)),
        (None, None) => "On".to_string(),
    };
    EndpointRow {
        id: e.id.to_string(),
        url: e.url.clone(),
        events: e.events.clone(),
        secret_hint: e.secret_hint.clone(),
        enabled: e.enabled,
        state,
        disabled_reason: e.disabled_reason.clone(),
        created: display_instant(e.created_at, tz),
    }
}

/// Every event type, with whether the form has it checked.
fn event_choices(checked: &[String]) -> Vec<(String, bool)> {
    EventType::SUBSCRIBABLE
        .iter()
        .map(|t| {
            (
                t.as_str().to_string(),
                checked.iter().any(|c| c == t.as_str()),
            )
        })
        .collect()
}

#[derive(Deserialize, Serialize, Default)]
struct EndpointForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    saved: Option<String>,
}

/// What a refused form is told, and with which status.
fn refusal_words(r: Refusal) -> Result<(StatusCode, &'static str, String), ApiError> {
    Ok(match r {
        Refusal::Invalid { field, message } => (StatusCode::UNPROCESSABLE_ENTITY, field, message),
        Refusal::Forbidden(m) => (StatusCode::FORBIDDEN, "", m),
        Refusal::Conflict { message, .. } => (StatusCode::CONFLICT, "", message),
        Refusal::NotFound => (StatusCode::NOT_FOUND, "", "No such endpoint.".into()),
        Refusal::Store(e) => return Err(e.into()),
    })
}

struct Shown<'a> {
    status: StatusCode,
    form: &'a EndpointForm,
    errors: BTreeMap<&'static str, String>,
    error: Option<String>,
    /// The endpoint just made, and its secret (shown this once).
    created: Option<(EndpointRow, String)>,
    saved: Option<String>,
}

async fn list_view(state: &AppState, user: &OfficeUser, s: Shown<'_>) -> Page {
    let tz = time_zone(state, &user.company_id).await?;
    let endpoints: Vec<EndpointRow> = webhooks::list(&state.app, &user.as_actor())
        .await?
        .iter()
        .map(|e| endpoint_row(e, &tz))
        .collect();
    let (created, secret) = s.created.unzip();
    Ok(page_with_status(
        state,
        user,
        s.status,
        "office/developers.html",
        NAV,
        minijinja::context! {
            base => BASE,
            endpoints => minijinja::value::Serde(&endpoints),
            choices => event_choices(&s.form.events),
            f => minijinja::value::Serde(s.form),
            errors => s.errors,
            error => s.error,
            created => minijinja::value::Serde(&created),
            secret => secret,
            saved => s.saved,
            can_edit => user.is_owner(),
        },
    ))
}

async fn list_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<ListQuery>,
) -> Page {
    // A new endpoint's form starts with every event type checked.
    let all: Vec<String> = EventType::SUBSCRIBABLE
        .iter()
        .map(|t| t.as_str().to_string())
        .collect();
    let form = EndpointForm {
        events: all,
        ..EndpointForm::default()
    };
    let shown = Shown {
        status: StatusCode::OK,
        form: &form,
        errors: BTreeMap::new(),
        error: None,
        created: None,
        saved: q.saved,
    };
    list_view(&state, &user, shown).await
}

async fn create(
    State(state): State<AppState>,
    user: OfficeUser,
    axum_extra::extract::Form(f): axum_extra::extract::Form<EndpointForm>,
) -> Page {
    if let Some(refused) = user.csrf_refusal(&f.csrf) {
        return Ok(refused);
    }
    let mut shown = Shown {
        status: StatusCode::OK,
        form: &f,
        errors: BTreeMap::new(),
        error: None,
        created: None,
        saved: None,
    };
    match webhooks::create(&state.app, &user.as_actor(), &f.url, &f.events).await {
        Ok(created) => {
            let tz = time_zone(&state, &user.company_id).await?;
            shown.created = Some((endpoint_row(&created.endpoint, &tz), created.secret));
            // The form starts again empty.
            let empty = EndpointForm::default();
            shown.form = &empty;
            list_view(&state, &user, shown).await
        }
        Err(r) => {
            let (status, field, message) = refusal_words(r)?;
            shown.status = status;
            if field.is_empty() {
                shown.error = Some(message);
            } else {
                shown.errors.insert(field, message);
            }
            list_view(&state, &user, shown).await
        }
    }
}

#[derive(Serialize)]
struct DeliveryRow {
    id: WebhookDeliveryId,
    event_id: WebhookEventId,
    event_type: String,
    status: String,
    response_status: Option<i64>,
    duration: String,
    attempt: i64,
    last_try: String,
    next_try: String,
    error: Option<String>,
}

fn delivery_row(d: &DeliveryView, tz: &str) -> DeliveryRow {
    let waiting = matches!(d.status.as_str(), "pending" | "failed");
    DeliveryRow {
        id: d.id.clone(),
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        status: d.status.clone(),
        response_status: d.response_status,
        duration: d
            .duration_ms
            .map(|ms| format!("{ms} ms"))
            .unwrap_or_default(),
        attempt: d.attempt,
        last_try: d
            .last_attempt_at
            .map(|at| display_instant(at, tz))
            .unwrap_or_default(),
        next_try: d
            .next_attempt_at
            .filter(|_| waiting)
            .map(|at| display_instant(at, tz))
            .unwrap_or_default(),
        error: d.last_error.clone(),
    }
}

#[derive(Serialize)]
struct TryRow {
    at: String,
    delivery_id: WebhookDeliveryId,
    event_type: String,
    attempt: i64,
    response_status: Option<i64>,
    duration: String,
    error: Option<String>,
}

fn try_row(t: &TryView, tz: &str) -> TryRow {
    TryRow {
        at: display_instant(t.at, tz),
        delivery_id: t.delivery_id.clone(),
        event_type: t.event_type.clone(),
        attempt: t.attempt,
        response_status: t.response_status,
        duration: format!("{} ms", t.duration_ms),
        error: t.error.clone(),
    }
}

#[derive(Deserialize, Default)]
struct EndpointQuery {
    /// A test event's delivery, just sent.
    #[serde(default)]
    tested: Option<String>,
    /// A delivery just retried.
    #[serde(default)]
    retried: Option<String>,
    #[serde(default)]
    saved: Option<String>,
    /// Why the last button was refused (a refusal's code).
    #[serde(default)]
    refused: Option<String>,
}

/// The words for a refusal's code carried back in the page's address.
fn refused_words(code: &str) -> &'static str {
    match code {
        "webhook_endpoint_disabled" => {
            "This endpoint is turned off after days of failed deliveries. Turn it on again first."
        }
        "delivery_in_progress" => {
            "This delivery is being sent right now. Look again in a few seconds."
        }
        "forbidden" => "Only an owner of the company can change this.",
        _ => "That could not be done. Reload the page and try again.",
    }
}

async fn endpoint_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<WebhookEndpointId>,
    Query(q): Query<EndpointQuery>,
) -> Page {
    let actor = user.as_actor();
    let endpoint = match webhooks::get(&state.app, &actor, &id).await {
        Ok(e) => e,
        Err(Refusal::NotFound) => return Ok(state.views.not_found()),
        Err(r) => return Err(r.into()),
    };
    let tz = time_zone(&state, &user.company_id).await?;
    let deliveries = webhooks::deliveries(&state.app, &actor, &id, LOG_ROWS).await?;
    let tries = webhooks::tries(&state.app, &actor, &id, LOG_ROWS).await?;
    // The outcome of the button just pressed, in words.
    let outcome = q
        .tested
        .as_deref()
        .map(|d| ("The test event", d))
        .or(q.retried.as_deref().map(|d| ("The retry", d)))
        .and_then(|(what, d)| deliveries.iter().find(|x| x.id == d).map(|x| (what, x)))
        .map(|(what, d)| match (d.status.as_str(), d.response_status) {
            ("succeeded", Some(s)) => (true, format!("{what} was delivered: the endpoint answered {s}.")),
            (_, Some(s)) => (false, format!("{what} failed: the endpoint answered {s}. It is tried again as scheduled below.")),
            (_, None) => (false, format!(
                "{what} failed: {}. It is tried again as scheduled below.",
                d.last_error.as_deref().unwrap_or("no answer")
            )),
        });
    let rows: Vec<DeliveryRow> = deliveries.iter().map(|d| delivery_row(d, &tz)).collect();
    let tries: Vec<TryRow> = tries.iter().map(|t| try_row(t, &tz)).collect();
    Ok(page_with_status(
        &state,
        &user,
        StatusCode::OK,
        "office/developers_endpoint.html",
        NAV,
        minijinja::context! {
            base => BASE,
            e => minijinja::value::Serde(&endpoint_row(&endpoint, &tz)),
            deliveries => minijinja::value::Serde(&rows),
            tries => minijinja::value::Serde(&tries),
            outcome => outcome,
            saved => q.saved,
            refused => q.refused.as_deref().map(refused_words),
            can_edit => user.is_owner(),
        },
    ))
}

/// After a button on an endpoint's page: back to it, saying what happened.
fn back_to(endpoint_id: &str, query: &str) -> Response {
    // Ids are letters, digits and `_`; anything else (a form's hidden field
    // can hold anything) is dropped rather than put in a Location header.
    let id: String = endpoint_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    Redirect::to(&format!("{BASE}/{id}?{query}")).into_response()
}

/// A refused button: back to the endpoint's page with the refusal's code,
/// or the 404 page.
fn refused(state: &AppState, endpoint_id: &str, r: Refusal) -> Page {
    match r {
        Refusal::NotFound => Ok(state.views.not_found()),
        Refusal::Store(e) => Err(e.into()),
        Refusal::Forbidden(_) => Ok(back_to(endpoint_id, "refused=forbidden")),
        Refusal::Conflict { code, .. } => Ok(back_to(endpoint_id, &format!("refused={code}"))),
        Refusal::Invalid { .. } => Ok(back_to(endpoint_id, "refused=invalid")),
    }
}

async fn send_test(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<WebhookEndpointId>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match webhooks::send_test(&state.app, &user.as_actor(), &id).await {
        Ok(d) => Ok(back_to(&id, &format!("tested={}", d.id))),
        Err(r) => refused(&state, &id, r),
    }
}

async fn enable(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<WebhookEndpointId>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match webhooks::enable(&state.app, &user.as_actor(), &id).await {
        Ok(_) => Ok(back_to(&id, "saved=enabled")),
        Err(r) => refused(&state, &id, r),
    }
}

async fn delete_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<WebhookEndpointId>,
) -> Page {
    let endpoint = match webhooks::get(&state.app, &user.as_actor(), &id).await {
        Ok(e) => e,
        Err(Refusal::NotFound) => return Ok(state.views.not_found()),
        Err(r) => return Err(r.into()),
    };
    Ok(super::confirm_delete(
        &state,
        &user,
        NAV,
        super::ConfirmDelete {
            title: "Remove webhook endpoint",
            question: "Remove this webhook endpoint?",
            before: "Events will no longer be sent to ",
            strong: &endpoint.url,
            after: ", and its delivery log is deleted. Deliveries waiting for a retry are dropped. To send events there again, add it anew (with a new signing secret).",
            action: format!("{BASE}/{}/delete", endpoint.id),
            button: "Remove endpoint",
            cancel: format!("{BASE}/{}", endpoint.id),
        },
    ))
}

async fn delete(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<WebhookEndpointId>,
    Form(f): Form<CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match webhooks::delete(&state.app, &user.as_actor(), &id).await {
        Ok(()) => Ok(Redirect::to(&format!("{BASE}?saved=deleted")).into_response()),
        Err(r) => refused(&state, &id, r),
    }
}

#[derive(Deserialize)]
struct RetryForm {
    #[serde(default)]
    csrf: String,
    /// The page the button was on.
    #[serde(default)]
    endpoint_id: String,
}

async fn retry(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<WebhookDeliveryId>,
    Form(f): Form<RetryForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match webhooks::retry(&state.app, &user.as_actor(), &id).await {
        Ok(d) => Ok(back_to(&d.endpoint_id, &format!("retried={}", d.id))),
        Err(r) => refused(&state, &f.endpoint_id, r),
    }
}
