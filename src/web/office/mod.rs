//! The office app `/office`: sign-in, the shared layout, and one module per
//! area. Every handler takes an `OfficeUser`, whose company scopes every query.

pub mod alerts;
pub mod autopay;
pub mod communications;
pub mod customers;
pub mod dashboard;
pub mod developers;
mod funnel;
pub mod import;
pub mod invoices;
pub mod payments;
mod processor;
pub mod settings;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use super::signin_csrf::{self, SigninToken};
use super::{AppState, ClientIp};
use crate::auth;
use crate::domain::ids::{CompanyId, UserId};
use crate::store::sessions::{self, Kind};
use crate::store::{StoreError, audit};

pub const COOKIE: &str = "fp_office";
const SESSION_HOURS: i64 = 12;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/office",
            get(|| async { Redirect::to("/office/dashboard") }),
        )
        .route("/office/login", get(login_page).post(login))
        .route("/office/logout", post(logout))
        .route(
            "/office/account/password",
            get(password_page).post(change_password),
        )
        .route("/office/search", get(search))
        .merge(dashboard::routes())
        .merge(customers::routes())
        .merge(invoices::routes())
        .merge(payments::routes())
        .merge(settings::routes())
        .merge(import::routes())
        .merge(communications::routes())
        .merge(alerts::routes())
        .merge(autopay::routes())
        .merge(processor::routes())
        .merge(developers::routes())
}

/// The signed-in office user. Its `company_id` scopes every query.
#[derive(Debug, Clone, Serialize)]
pub struct OfficeUser {
    pub user_id: UserId,
    pub company_id: CompanyId,
    pub email: String,
    pub role: String,
    pub company_name: String,
    /// The company's country: the region of phone numbers typed without a
    /// country code, and how stored numbers are shown.
    pub country: String,
    pub csrf: String,
    /// The company's payments move no money (the sandbox or Stripe test
    /// keys): the header says so on every page.
    pub test_mode: bool,
}

impl OfficeUser {
    pub fn is_owner(&self) -> bool {
        self.role == "owner"
    }

    /// The audit log's name for this user.
    pub fn actor(&self) -> String {
        self.as_actor().audit_name()
    }

    /// This user, as the use cases take them.
    pub fn as_actor(&self) -> crate::app::Actor {
        crate::app::Actor::Office {
            company_id: self.company_id.clone(),
            user_id: self.user_id.clone(),
            owner: self.is_owner(),
        }
    }

    /// The refusal for a form whose CSRF token is not this session's, if it is not.
    pub fn csrf_refusal(&self, token: &str) -> Option<Response> {
        super::csrf_refusal(&self.csrf, token, crate::domain::i18n::Lang::En)
    }
}

/// A use case's refusal as an office page: the usual 404 page for a record
/// this user's company does not have, else the error in words.
pub fn refused(state: &AppState, r: crate::app::Refusal) -> Response {
    match r {
        crate::app::Refusal::NotFound => state.views.not_found(),
        other => super::error::ApiError::from(other).into_response(),
    }
}

/// A cookie's value from the request headers.
pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` for a session cookie: HttpOnly, SameSite=Lax, Secure over https.
pub fn session_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if state.app.config.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

impl FromRequestParts<AppState> for OfficeUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/office/login").into_response();
        let Some(cookie) = cookie_value(&parts.headers, COOKIE) else {
            return Err(to_login());
        };
        let session = sessions::find(&state.app.db, Kind::Office, cookie)
            .await
            .map_err(|e| super::error::ApiError::from(e).into_response())?
            .ok_or_else(to_login)?;
        let user_id = UserId::from(session.principal_id);
        let user = crate::store::companies::active_office_user(
            &state.app.db,
            &session.company_id,
            &user_id,
        )
        .await
        .map_err(|e| super::error::ApiError::from(e).into_response())?
        .ok_or_else(to_login)?;
        let mode = crate::store::processor_settings::mode(&state.app.db, &session.company_id)
            .await
            .map_err(|e| super::error::ApiError::from(e).into_response())?;
        Ok(OfficeUser {
            user_id,
            company_id: session.company_id,
            email: user.email,
            role: user.role,
            company_name: user.company_name,
            country: user.country,
            csrf: session.csrf_token,
            test_mode: mode.is_test(),
        })
    }
}

/// Renders an office page inside the layout: `nav` names the active section.
pub fn page(
    state: &AppState,
    user: &OfficeUser,
    template: &str,
    nav: &str,
    ctx: minijinja::Value,
) -> Response {
    page_with_status(state, user, StatusCode::OK, template, nav, ctx)
}

pub fn page_with_status(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    template: &str,
    nav: &str,
    ctx: minijinja::Value,
) -> Response {
    let base = minijinja::context! { user => minijinja::value::Serde(user), nav => nav, csrf => user.csrf.as_str() };
    state
        .views
        .page(status, template, minijinja::context! { ..base, ..ctx })
}

/// A "delete this?" page (alert rules, templates, webhook endpoints): what
/// goes, in words around the one name in bold, one button that posts the
/// deletion with the CSRF token, and the way back.
pub struct ConfirmDelete<'a> {
    /// The page's title.
    pub title: &'a str,
    /// The heading: the question asked.
    pub question: &'a str,
    /// The explanation: `before`, then `strong` in bold, then `after`.
    pub before: &'a str,
    pub strong: &'a str,
    pub after: &'a str,
    /// Where the button posts.
    pub action: String,
    pub button: &'a str,
    /// Where "Cancel" leads.
    pub cancel: String,
}

pub fn confirm_delete(
    state: &AppState,
    user: &OfficeUser,
    nav: &str,
    c: ConfirmDelete,
) -> Response {
    page(
        state,
        user,
        "office/confirm_delete.html",
        nav,
        minijinja::context! {
            title => c.title, question => c.question, before => c.before,
            strong => c.strong, after => c.after, action => c.action,
            button => c.button, cancel => c.cancel,
        },
    )
}

// ---------------------------------------------------------------- sign-in

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    error: Option<String>,
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let _ = q.error;
    let csrf = SigninToken::for_page(&state, &headers);
    let page = state.views.page(
        StatusCode::OK,
        "office/login.html",
        minijinja::context! { email => "", csrf => csrf.token.as_str() },
    );
    csrf.attach(page)
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let email = f.email.trim().to_ascii_lowercase();
    let fail = |status: StatusCode, message: &str| {
        let csrf = SigninToken::for_page(&state, &headers);
        let page = state.views.page(
            status,
            "office/login.html",
            minijinja::context! { email => email.as_str(), error => message, csrf => csrf.token.as_str() },
        );
        csrf.attach(page)
    };
    if !signin_csrf::check(&state, &headers, &f.csrf) {
        return fail(
            StatusCode::FORBIDDEN,
            &signin_csrf::refused(crate::domain::i18n::Lang::En),
        );
    }
    if !state.office_logins.check(&state.app.db, &email, ip.0).await {
        return fail(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts. Wait a minute and try again.",
        );
    }
    let row = match crate::store::companies::office_login(&state.app.db, &email).await {
        Ok(r) => r,
        Err(e) => return super::error::ApiError::from(e).into_response(),
    };
    let ok = auth::verify_password(f.password, row.as_ref().map(|r| r.2.clone())).await;
    let Some((user_id, company_id, _)) = row.filter(|_| ok) else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "That email and password do not match an office account.",
        );
    };
    signed_in(&state, &headers, ip, &user_id, &company_id, "password").await
}

/// Starts an office session for a user who just proved who they are (the
/// sign-in form, or creating their company), ending the one this browser
/// had, and goes to the dashboard.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    user_id: &UserId,
    company_id: &CompanyId,
    how: &str,
) -> Response {
    let ttl = time::Duration::hours(SESSION_HOURS);
    let result: Result<String, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        // A new session at every sign-in; the one this browser had ends.
        if let Some(old) = cookie_value(headers, COOKIE) {
            sessions::delete(&mut tx, old).await?;
        }
        let cookie = sessions::create(&mut tx, Kind::Office, user_id, company_id, ttl).await?;
        audit::record(
            &mut tx,
            company_id,
            &format!("office:{user_id}"),
            "office.signed_in",
            user_id,
            serde_json::json!({"ip": ip.0.to_string(), "with": how}),
        )
        .await?;
        tx.commit().await?;
        Ok(cookie)
    }
    .await;
    match result {
        Ok(cookie) => {
            let mut resp = Redirect::to("/office/dashboard").into_response();
            resp.headers_mut().append(
                header::SET_COOKIE,
                session_cookie(state, COOKIE, &cookie, "/office", SESSION_HOURS * 3600),
            );
            resp
        }
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    user: OfficeUser,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&f.csrf) {
        return refused;
    }
    if let Some(cookie) = cookie_value(&headers, COOKIE)
        && let Ok(mut tx) = state.app.db.begin_write().await
        && sessions::delete(&mut tx, cookie).await.is_ok()
    {
        tx.commit().await.ok();
    }
    let mut resp = Redirect::to("/office/login").into_response();
    resp.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(&state, COOKIE, "", "/office", 0),
    );
    resp
}

async fn password_page(State(state): State<AppState>, user: OfficeUser) -> Response {
    page(
        &state,
        &user,
        "office/password.html",
        "account",
        minijinja::context! {},
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    user: OfficeUser,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&f.csrf) {
        return refused;
    }
    let show = |status: StatusCode, error: &str, done: bool| {
        page_with_status(
            &state,
            &user,
            status,
            "office/password.html",
            "account",
            minijinja::context! { error => error, done => done },
        )
    };
    let stored = crate::store::companies::office_password_hash(&state.app.db, &user.user_id)
        .await
        .ok()
        .flatten();
    if !auth::verify_password(f.current, stored).await {
        return show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Your current password is not right.",
            false,
        );
    }
    if f.new != f.confirm {
        return show(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The new password and its confirmation differ.",
            false,
        );
    }
    if let Err(why) = auth::check_new_password(&f.new) {
        return show(StatusCode::UNPROCESSABLE_ENTITY, why, false);
    }
    let Ok(hash) = auth::hash_password(&f.new) else {
        return show(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The password could not be saved.",
            false,
        );
    };
    let keep = cookie_value(&headers, COOKIE).map(str::to_string);
    let result: Result<(), StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        crate::store::companies::set_office_password(&mut tx, &user.user_id, &hash).await?;
        // Other sessions of this user end: a stolen cookie stops working.
        sessions::delete_all_for(&mut tx, Kind::Office, &user.user_id, keep.as_deref()).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "office.password_changed",
            &user.user_id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => show(StatusCode::OK, "", true),
        Err(e) => super::error::ApiError::from(e).into_response(),
    }
}

// ---------------------------------------------------------------- search

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// Finds customers by name, email, phone, billing or service address, or
/// invoice number.
async fn search(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<SearchQuery>,
) -> Response {
    let hits =
        match crate::store::customers::quick_search(&state.app.db, &user.company_id, &q.q).await {
            Ok(hits) => hits,
            Err(e) => return super::error::ApiError::from(e).into_response(),
        };
    page(
        &state,
        &user,
        "office/search.html",
        "customers",
        minijinja::context! { q => q.q.as_str(), search_q => q.q.as_str(), hits => minijinja::value::Serde(&hits) },
    )
}
