//! Creating a company in the browser: `/setup` on first run (while the
//! database has no company) and `/signup` when the operator opened sign-up
//! (`FIELDPAY_SIGNUP=open`). Success signs the owner in to the office.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;

use super::signin_csrf::{self, SigninToken};
use super::{AppState, ClientIp};
use crate::app::setup::{self, SignupError};
use crate::config::Signup;
use crate::domain::dates::TIME_ZONES;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/setup", get(setup_page).post(setup_submit))
        .route("/signup", get(signup_page).post(signup_submit))
}

#[derive(Deserialize, Default)]
pub(super) struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    company_name: String,
    #[serde(default)]
    owner_email: String,
    #[serde(default)]
    owner_password: String,
    #[serde(default)]
    time_zone: String,
}

/// Which form a request is at: the first-run one or the open one.
#[derive(Clone, Copy)]
enum Door {
    Setup,
    Signup,
}

impl Door {
    fn path(self) -> &'static str {
        match self {
            Door::Setup => "/setup",
            Door::Signup => "/signup",
        }
    }

    /// Whether this door is open now.
    async fn open(self, state: &AppState) -> Result<bool, crate::store::StoreError> {
        Ok(match (self, state.app.config.signup) {
            (Door::Signup, Signup::Open) => true,
            (Door::Setup, Signup::FirstRun | Signup::Open) => {
                !crate::store::companies::exist(&state.app.db).await?
            }
            _ => false,
        })
    }
}

async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, Door::Setup).await
}

async fn signup_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    page(&state, &headers, Door::Signup).await
}

async fn page(state: &AppState, headers: &HeaderMap, door: Door) -> Response {
    match door.open(state).await {
        Ok(true) => form(
            state,
            headers,
            door,
            StatusCode::OK,
            &SignupForm {
                time_zone: "America/Chicago".into(),
                ..SignupForm::default()
            },
            None,
        ),
        Ok(false) => state.views.not_found(),
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}

fn form(
    state: &AppState,
    headers: &HeaderMap,
    door: Door,
    status: StatusCode,
    f: &SignupForm,
    error: Option<(&str, &str)>,
) -> Response {
    let csrf = SigninToken::for_page(state, headers);
    let page = state.views.page(
        status,
        "setup.html",
        minijinja::context! {
            action => door.path(),
            first_run => matches!(door, Door::Setup),
            csrf => csrf.token.as_str(),
            company_name => f.company_name.as_str(),
            owner_email => f.owner_email.as_str(),
            time_zone => f.time_zone.as_str(),
            zones => minijinja::value::Serde(TIME_ZONES),
            error_field => error.map(|e| e.0),
            error => error.map(|e| e.1),
        },
    );
    csrf.attach(page)
}

async fn setup_submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    submit(&state, ip, &headers, Door::Setup, f).await
}

async fn signup_submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<SignupForm>,
) -> Response {
    submit(&state, ip, &headers, Door::Signup, f).await
}

async fn submit(
    state: &AppState,
    ip: ClientIp,
    headers: &HeaderMap,
    door: Door,
    f: SignupForm,
) -> Response {
    match door.open(state).await {
        Ok(true) => {}
        Ok(false) => return state.views.not_found(),
        Err(e) => return super::error::ApiError::from(e).into_response(),
    }
    let again = |status: StatusCode, field: &str, message: &str| {
        form(state, headers, door, status, &f, Some((field, message)))
    };
    if !signin_csrf::check(state, headers, &f.csrf) {
        return again(
            StatusCode::FORBIDDEN,
            "form",
            &signin_csrf::refused(crate::domain::i18n::Lang::En),
        );
    }
    // The office's sign-in limit per address: a flood of sign-ups is slowed
    // like a flood of password guesses.
    if !state
        .office_logins
        .check(
            &state.app.db,
            &f.owner_email.trim().to_ascii_lowercase(),
            ip.0,
        )
        .await
    {
        return again(
            StatusCode::TOO_MANY_REQUESTS,
            "form",
            "Too many attempts. Wait a minute and try again.",
        );
    }
    let signup = setup::Signup {
        company_name: &f.company_name,
        owner_email: &f.owner_email,
        owner_password: &f.owner_password,
        time_zone: &f.time_zone,
    };
    match setup::sign_up(&state.app.db, &signup, matches!(door, Door::Setup)).await {
        Ok(created) => {
            super::office::signed_in(
                state,
                headers,
                ip,
                &created.owner_id,
                &created.company_id,
                door.path().trim_start_matches('/'),
            )
            .await
        }
        Err(SignupError::Closed) => state.views.not_found(),
        Err(SignupError::Invalid(field, message)) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, field, &message)
        }
        Err(SignupError::EmailTaken) => again(
            StatusCode::CONFLICT,
            "owner_email",
            "An office account with this email exists already: sign in with it, or use another email.",
        ),
        Err(SignupError::Store(e)) => super::error::ApiError::from(e).into_response(),
    }
}
