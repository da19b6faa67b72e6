//! Signing in to the portal: invitations from the office, passwords, one-time
//! sign-in links by email, and signing out. GET never uses a token: mail
//! scanners open links; the buttons on those pages POST.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{
    COOKIE, PortalUser, clear_session, normalize_email, send_email, set_session, start_session,
};
use crate::app::App;
use crate::auth;
use crate::domain::i18n::{Arg, tr};
use crate::domain::ids::{CompanyId, CustomerId};
use crate::store::portal::{self as store, Purpose};
use crate::store::{StoreError, audit, sessions};
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, cookie_value};
use crate::web::signin_csrf::{self, SigninToken};
use crate::web::{AppState, ClientIp};

// Messages of locales/*/portal.ftl; the pages show them with `t()`.
const WRONG_PASSWORD: &str = "portal-wrong-password";
const LINK_SENT: &str = "portal-link-sent";

// ---------------------------------------------------------------- invitations

/// An invitation just made: the link (shown to the office once) and where it was emailed.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub url: String,
    pub email: String,
    pub emailed: bool,
}

#[derive(Debug)]
pub enum InviteError {
    /// No such customer in this company.
    NotFound,
    /// The customer has no email on file to send the invitation to.
    NoEmail,
    Store(StoreError),
}

impl From<StoreError> for InviteError {
    fn from(e: StoreError) -> Self {
        InviteError::Store(e)
    }
}

/// Invites a customer to the portal: a 7-day, single-use link to set a
/// password, emailed to the customer's email on file.
pub async fn create_invitation(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    actor: &str,
) -> Result<Invitation, InviteError> {
    let customer = crate::store::customers::get(&app.db, company_id, customer_id)
        .await?
        .ok_or(InviteError::NotFound)?;
    let name = customer.name;
    let email = store::email_for(&app.db, company_id, customer_id)
        .await?
        .ok_or(InviteError::NoEmail)?;
    let company = crate::store::companies::get(&app.db, company_id)
        .await?
        .ok_or(InviteError::NotFound)?;
    let mut tx = app.db.begin_write().await?;
    let token = store::insert_token(&mut tx, company_id, customer_id, Purpose::Invite).await?;
    audit::record(
        &mut tx,
        company_id,
        actor,
        "portal.invited",
        customer_id,
        serde_json::json!({ "email": email }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    let url = format!(
        "{}/portal/invite/{token}",
        app.base_url(company.base_url.as_deref())
    );
    let lang = customer.language.unwrap_or(company.language);
    let args = [
        ("name", Arg::from(&name)),
        ("company", Arg::from(&company.name)),
        ("url", Arg::from(&url)),
    ];
    let mut text = tr(lang, "portal-invite-email-body", &args);
    if !company.phone.is_empty() {
        text.push('\n');
        text.push_str(&company.phone);
    }
    text.push('\n');
    let subject = tr(lang, "portal-invite-email-subject", &args);
    let emailed = send_email(app, company_id, &email, &subject, text).await;
    Ok(Invitation {
        url,
        email,
        emailed,
    })
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// POST /office/customers/{id}/portal-invite: invites and shows the link once.
pub(super) async fn office_invite(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(customer_id): Path<CustomerId>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let result = create_invitation(&state.app, &user.company_id, &customer_id, &user.actor()).await;
    let (status, ctx) = match result {
        Ok(inv) => (
            StatusCode::OK,
            minijinja::context! { url => inv.url, email => inv.email, emailed => inv.emailed },
        ),
        Err(InviteError::NotFound) => return state.views.not_found(),
        Err(InviteError::NoEmail) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            minijinja::context! { error => "This customer has no email on file. Add one on the customer's page, then invite again." },
        ),
        Err(InviteError::Store(e)) => return ApiError::from(e).into_response(),
    };
    let name = store::customer_name(&state.app.db, &user.company_id, &customer_id)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    crate::web::office::page_with_status(
        &state,
        &user,
        status,
        "portal/office_invite.html",
        "customers",
        minijinja::context! { customer => minijinja::context! { id => customer_id, name => name }, ..ctx },
    )
}

/// GET /portal/invite/{token}: the set-password form; the token is not used yet.
pub(super) async fn invite_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    match invite_target(&state, &token).await {
        Ok(Some((company, email))) => state.views.page(
            StatusCode::OK,
            "portal/invite.html",
            minijinja::context! { token => token, email => email, company => company_ctx(&company) },
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn company_ctx(c: &crate::store::companies::Company) -> minijinja::Value {
    minijinja::context! { name => c.name.as_str(), phone => c.phone.as_str() }
}

/// The company and email a live invitation is for.
async fn invite_target(
    state: &AppState,
    token: &str,
) -> Result<Option<(crate::store::companies::Company, String)>, StoreError> {
    let Some(p) = store::peek_token(&state.app.db, token, Purpose::Invite).await? else {
        return Ok(None);
    };
    let company = crate::store::companies::get(&state.app.db, &p.company_id).await?;
    let email = store::email_for(&state.app.db, &p.company_id, &p.customer_id).await?;
    Ok(company.zip(email))
}

#[derive(Deserialize)]
pub(super) struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// POST /portal/invite/{token}: sets the password, uses the invitation, signs in.
pub(super) async fn accept_invite(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    let (company, email) = match invite_target(&state, &token).await {
        Ok(Some(t)) => t,
        Ok(None) => return state.views.not_found(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let again = |status: StatusCode, error: &str| {
        state.views.page(
            status,
            "portal/invite.html",
            minijinja::context! { token => token.as_str(), email => email.as_str(), company => company_ctx(&company), error => error },
        )
    };
    if let Err(why) = auth::check_new_password(&f.password) {
        return again(StatusCode::UNPROCESSABLE_ENTITY, why);
    }
    if f.password != f.confirm {
        return again(StatusCode::UNPROCESSABLE_ENTITY, "portal-invite-mismatch");
    }
    let password = f.password.clone();
    let Ok(Ok(hash)) = tokio::task::spawn_blocking(move || auth::hash_password(&password)).await
    else {
        return again(StatusCode::INTERNAL_SERVER_ERROR, "portal-invite-not-saved");
    };
    let result: Result<Option<String>, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let Some(p) = store::consume_token(&mut tx, &token, Purpose::Invite).await? else {
            return Ok(None);
        };
        store::set_password(&mut tx, &p.company_id, &p.customer_id, &email, &hash).await?;
        audit::record(
            &mut tx,
            &p.company_id,
            &format!("portal:{}", p.customer_id),
            "portal.account_activated",
            &p.customer_id,
            serde_json::json!({ "ip": ip.0.to_string() }),
        )
        .await?;
        let cookie = open_session(
            &mut tx,
            &headers,
            ip,
            &p.company_id,
            &p.customer_id,
            "invitation",
        )
        .await?;
        tx.commit().await?;
        Ok(Some(cookie))
    }
    .await;
    match result {
        Ok(Some(cookie)) => signed_in(&state, &cookie),
        Ok(None) => state.views.not_found(),
        Err(StoreError::Conflict) => again(StatusCode::CONFLICT, "portal-invite-taken"),
        Err(e) => ApiError::from(e).into_response(),
    }
}

// ---------------------------------------------------------------- passwords

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    company: CompanyId,
}

pub(super) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let brand = match login_brand(&state, &q.company).await {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    login_form(
        &state,
        &headers,
        StatusCode::OK,
        minijinja::context! { email => "", ..brand },
    )
}

/// Whose sign-in page this is: the company named by `?company=` (its public
/// id, as in its logo's address), else the installation's only company;
/// its name, logo, phone and accent colour. Nothing for an unknown id.
async fn login_brand(
    state: &AppState,
    company_id: &CompanyId,
) -> Result<minijinja::Value, StoreError> {
    let db = &state.app.db;
    let company = if company_id.is_empty() {
        crate::store::companies::sole(db).await?
    } else if company_id.len() <= 64 {
        crate::store::companies::get(db, company_id).await?
    } else {
        None
    };
    let Some(c) = company else {
        return Ok(minijinja::context! {});
    };
    let logo = crate::store::companies::has_logo(db, &c.id)
        .await?
        .then(|| format!("/logo/{}", c.id));
    Ok(minijinja::context! {
        company => minijinja::context! {
            id => c.id.as_str(),
            name => c.name.as_str(),
            phone => c.phone.as_str(),
            logo => logo,
        },
        accent => c.accent_color.as_str(),
        lang => crate::web::lang::choose(None, c.language).code(),
    })
}

/// The sign-in page with its CSRF token (and the cookie it pairs with).
fn login_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Response {
    let csrf = SigninToken::for_page(state, headers);
    let page = state.views.page(
        status,
        "portal/login.html",
        minijinja::context! { csrf => csrf.token.as_str(), ..ctx },
    );
    csrf.attach(page)
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    /// Whose sign-in page the form was on (its branding when shown again).
    #[serde(default)]
    company: CompanyId,
}

/// POST /portal/login. One email may have accounts at several companies: each
/// is tried until one matches (at most five).
pub(super) async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let email = f.email.trim().to_lowercase();
    let brand = match login_brand(&state, &f.company).await {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let fail = |status: StatusCode, message: &str| {
        login_form(
            &state,
            &headers,
            status,
            minijinja::context! { email => email.as_str(), error => message, ..brand.clone() },
        )
    };
    if !signin_csrf::check(&state, &headers, &f.csrf) {
        return fail(StatusCode::FORBIDDEN, signin_csrf::REFUSED);
    }
    if !state.portal_logins.check(&state.app.db, &email, ip.0).await {
        return fail(StatusCode::TOO_MANY_REQUESTS, "portal-too-many-sign-ins");
    }
    let accounts = match store::accounts_by_email(&state.app.db, &email, 5).await {
        Ok(a) => a,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let mut matched = None;
    if accounts.is_empty() {
        // The same work as a wrong password, so both take the same time.
        auth::verify_password(f.password.clone(), None).await;
    }
    for account in accounts {
        if auth::verify_password(f.password.clone(), account.password_hash.clone()).await {
            matched = Some(account);
            break;
        }
    }
    let Some(account) = matched else {
        return fail(StatusCode::UNAUTHORIZED, WRONG_PASSWORD);
    };
    sign_in(
        &state,
        &headers,
        ip,
        &account.company_id,
        &account.customer_id,
        "password",
    )
    .await
}

/// Starts a session and goes to the portal's home page.
async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    how: &str,
) -> Response {
    let result: Result<String, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let cookie = open_session(&mut tx, headers, ip, company_id, customer_id, how).await?;
        tx.commit().await?;
        Ok(cookie)
    }
    .await;
    match result {
        Ok(cookie) => signed_in(state, &cookie),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A new session (ending the browser's old one) and its audit record.
async fn open_session(
    tx: &mut crate::store::Conn,
    headers: &HeaderMap,
    ip: ClientIp,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    how: &str,
) -> Result<String, StoreError> {
    let cookie = start_session(tx, headers, company_id, customer_id).await?;
    audit::record(
        tx,
        company_id,
        &format!("portal:{customer_id}"),
        "portal.signed_in",
        customer_id,
        serde_json::json!({ "ip": ip.0.to_string(), "with": how }),
    )
    .await?;
    Ok(cookie)
}

/// To the portal's home page with the session cookie.
fn signed_in(state: &AppState, cookie: &str) -> Response {
    let mut resp = Redirect::to("/portal").into_response();
    set_session(state, &mut resp, cookie);
    resp
}

// ---------------------------------------------------------------- sign-in links

#[derive(Deserialize)]
pub(super) struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    /// Whose sign-in page the form was on (its branding when shown again).
    #[serde(default)]
    company: CompanyId,
}

/// POST /portal/login-link: the same answer whether or not the email is
/// known; a link goes out (in the background) only when it is.
pub(super) async fn login_link(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Form(f): Form<LinkForm>,
) -> Response {
    let typed = f.email.trim().to_string();
    let brand = match login_brand(&state, &f.company).await {
        Ok(b) => b,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let show = |status: StatusCode, ctx: minijinja::Value| {
        login_form(
            &state,
            &headers,
            status,
            minijinja::context! { link_email => typed.as_str(), ..minijinja::context! { ..ctx, ..brand.clone() } },
        )
    };
    if !signin_csrf::check(&state, &headers, &f.csrf) {
        return show(
            StatusCode::FORBIDDEN,
            minijinja::context! { link_error => signin_csrf::REFUSED },
        );
    }
    let Some(email) = normalize_email(&typed) else {
        return show(
            StatusCode::UNPROCESSABLE_ENTITY,
            minijinja::context! { link_error => "portal-link-enter-email" },
        );
    };
    if !state.portal_links.check(&state.app.db, &email, ip.0).await {
        return show(
            StatusCode::TOO_MANY_REQUESTS,
            minijinja::context! { link_error => "too-many-requests" },
        );
    }
    let app = state.app.clone();
    tokio::spawn(async move {
        if let Err(e) = send_sign_in_links(&app, &email).await {
            tracing::error!(error = %e, "sign-in link not sent");
        }
    });
    show(
        StatusCode::OK,
        minijinja::context! { link_sent => LINK_SENT },
    )
}

/// One sign-in link per customer this email belongs to (at most five).
pub async fn send_sign_in_links(app: &App, email: &str) -> Result<usize, StoreError> {
    let mut sent = 0;
    for p in store::principals_by_email(&app.db, email, 5).await? {
        let Some(company) = crate::store::companies::get(&app.db, &p.company_id).await? else {
            continue;
        };
        let Some(customer) =
            crate::store::customers::get(&app.db, &p.company_id, &p.customer_id).await?
        else {
            continue;
        };
        let lang = customer.language.unwrap_or(company.language);
        let name = customer.name;
        let mut tx = app.db.begin_write().await?;
        let token =
            store::insert_token(&mut tx, &p.company_id, &p.customer_id, Purpose::SignIn).await?;
        tx.commit().await?;
        let url = format!(
            "{}/portal/link/{token}",
            app.base_url(company.base_url.as_deref())
        );
        let args = [
            ("name", Arg::from(&name)),
            ("company", Arg::from(&company.name)),
            ("url", Arg::from(&url)),
        ];
        let text = tr(lang, "portal-signin-email-body", &args) + "\n";
        let subject = tr(lang, "portal-signin-email-subject", &args);
        if send_email(app, &p.company_id, email, &subject, text).await {
            sent += 1;
        }
    }
    Ok(sent)
}

/// GET /portal/link/{token}: a button; the link is used only by the POST.
pub(super) async fn link_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Response {
    match store::peek_token(&state.app.db, &token, Purpose::SignIn).await {
        Ok(Some(p)) => {
            let company = crate::store::companies::get(&state.app.db, &p.company_id)
                .await
                .ok()
                .flatten();
            state.views.page(
                StatusCode::OK,
                "portal/link.html",
                minijinja::context! { token => token, company => company.as_ref().map(company_ctx) },
            )
        }
        Ok(None) => state.views.not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// POST /portal/link/{token}: uses the link and signs in, in one transaction.
pub(super) async fn link_sign_in(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let result: Result<Option<String>, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let Some(p) = store::consume_token(&mut tx, &token, Purpose::SignIn).await? else {
            return Ok(None);
        };
        let cookie = open_session(
            &mut tx,
            &headers,
            ip,
            &p.company_id,
            &p.customer_id,
            "email_link",
        )
        .await?;
        tx.commit().await?;
        Ok(Some(cookie))
    }
    .await;
    match result {
        Ok(Some(cookie)) => signed_in(&state, &cookie),
        Ok(None) => state.views.not_found(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// POST /portal/logout.
pub(super) async fn logout(
    State(state): State<AppState>,
    user: PortalUser,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if let Some(cookie) = cookie_value(&headers, COOKIE)
        && let Ok(mut tx) = state.app.db.begin_write().await
        && sessions::delete(&mut tx, cookie).await.is_ok()
    {
        tx.commit().await.ok();
    }
    let mut resp = Redirect::to("/portal/login").into_response();
    clear_session(&state, &mut resp);
    resp
}
