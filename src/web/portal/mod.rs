//! The customer portal `/portal`: sign-in with a password set from an office
//! invitation or with a one-time link sent to the email on file; then the
//! quick payment page's invoices and pay form (the same code, channel
//! "portal"), payment history with receipts, saved cards and autopay.
//!
//! A session cookie `fp_portal` (Path=/portal) names the customer. Every POST
//! checks the session's CSRF token; the pay form's signed token is bound to it.

mod account;
mod home;

pub use account::{Invitation, InviteError, create_invitation};

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use super::office::{cookie_value, session_cookie};
use crate::app::App;
use crate::domain::ids::{CompanyId, CustomerId};
use crate::messaging::email::Email;
use crate::store::StoreError;
use crate::store::sessions::{self, Kind};

pub const COOKIE: &str = "fp_portal";
const SESSION_HOURS: i64 = 8;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/portal", get(home::home))
        .route("/portal/pay", post(home::pay))
        .route("/portal/receipts/{payment_id}", get(home::receipt))
        .route("/portal/history", get(home::history))
        .route("/portal/cards", get(home::cards))
        .route(
            "/portal/cards/{id}/remove",
            get(home::remove_card_page).post(home::remove_card),
        )
        .route("/portal/cards/{id}/default", post(home::set_default))
        .route(
            "/portal/cards/new",
            get(home::new_card).post(home::add_card),
        )
        .route("/portal/autopay", post(home::autopay))
        .route(
            "/portal/login",
            get(account::login_page).post(account::login),
        )
        .route("/portal/login-link", post(account::login_link))
        .route(
            "/portal/link/{token}",
            get(account::link_page).post(account::link_sign_in),
        )
        .route(
            "/portal/invite/{token}",
            get(account::invite_page).post(account::accept_invite),
        )
        .route("/portal/logout", post(account::logout))
        .route(
            "/office/customers/{id}/portal-invite",
            post(account::office_invite),
        )
}

/// The signed-in customer. Its company and customer id scope every query.
#[derive(Debug, Clone, Serialize)]
pub struct PortalUser {
    pub customer_id: CustomerId,
    pub company_id: CompanyId,
    pub customer_name: String,
    pub company_name: String,
    pub company_phone: String,
    #[serde(skip)]
    pub accent: String,
    #[serde(skip)]
    pub csrf: String,
    /// The company's payments move no money: every page says so.
    #[serde(skip)]
    pub test_mode: bool,
    /// The language the portal speaks to this customer (`web::lang`).
    #[serde(skip)]
    pub lang: crate::domain::i18n::Lang,
}

impl PortalUser {
    /// The audit log's name for this customer.
    pub fn actor(&self) -> String {
        self.as_actor().audit_name()
    }

    /// This customer, as the use cases take them.
    pub fn as_actor(&self) -> crate::app::Actor {
        crate::app::Actor::Portal {
            company_id: self.company_id.clone(),
            customer_id: self.customer_id.clone(),
        }
    }

    /// The refusal for a form whose CSRF token is not this session's.
    pub fn csrf_refusal(&self, token: &str) -> Option<Response> {
        crate::web::csrf_refusal(&self.csrf, token, self.lang)
    }

    /// What the pay form's signed token is bound to: this session.
    fn form_scope(&self) -> String {
        format!("portal:{}", self.csrf)
    }
}

impl FromRequestParts<AppState> for PortalUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/portal/login").into_response();
        let Some(cookie) = cookie_value(&parts.headers, COOKIE) else {
            return Err(to_login());
        };
        let session = sessions::find(&state.app.db, Kind::Portal, cookie)
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .ok_or_else(to_login)?;
        let row = crate::store::portal::signed_in(
            &state.app.db,
            &session.company_id,
            &CustomerId::from(&session.principal_id),
        )
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .ok_or_else(to_login)?;
        let mode = crate::store::processor_settings::mode(&state.app.db, &session.company_id)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        Ok(PortalUser {
            customer_id: session.principal_id.into(),
            company_id: session.company_id,
            lang: crate::web::lang::choose(row.customer_language, row.company_language),
            customer_name: row.customer_name,
            company_name: row.company_name,
            company_phone: row.company_phone,
            accent: row.accent,
            csrf: session.csrf_token,
            test_mode: mode.is_test(),
        })
    }
}

/// Renders a portal page: the customer, the company and the session's CSRF token.
fn page(
    state: &AppState,
    user: &PortalUser,
    status: StatusCode,
    template: &str,
    ctx: minijinja::Value,
) -> Response {
    let base = portal_context(user);
    state
        .views
        .page(status, template, minijinja::context! { ..base, ..ctx })
}

fn portal_context(user: &PortalUser) -> minijinja::Value {
    minijinja::context! {
        lang => user.lang.code(),
        portal => minijinja::value::Serde(user),
        csrf => user.csrf.as_str(),
        accent => user.accent.as_str(),
        test_mode => user.test_mode,
        company => minijinja::context! { name => user.company_name.as_str(), phone => user.company_phone.as_str() },
    }
}

/// The `Set-Cookie` that starts a portal session.
fn set_session(state: &AppState, resp: &mut Response, cookie: &str) {
    resp.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(state, COOKIE, cookie, "/portal", SESSION_HOURS * 3600),
    );
}

fn clear_session(state: &AppState, resp: &mut Response) {
    resp.headers_mut().append(
        header::SET_COOKIE,
        session_cookie(state, COOKIE, "", "/portal", 0),
    );
}

/// Starts a portal session for a customer, ending the one the browser had
/// (the session id is rotated at every sign-in).
async fn start_session(
    tx: &mut crate::store::Conn,
    headers: &HeaderMap,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> Result<String, StoreError> {
    if let Some(old) = cookie_value(headers, COOKIE) {
        sessions::delete(tx, old).await?;
    }
    sessions::create(
        tx,
        Kind::Portal,
        customer_id,
        company_id,
        time::Duration::hours(SESSION_HOURS),
    )
    .await
}

// ---------------------------------------------------------------- email

/// Sends a plain-text email from the company through the configured
/// transport (SMTP when set, else the spool folder). Sign-in links are sent
/// at once rather than through the outbox: they expire in minutes.
async fn send_email(
    app: &App,
    company_id: &CompanyId,
    to: &str,
    subject: &str,
    text: String,
) -> bool {
    let company = match crate::store::companies::get(&app.db, company_id).await {
        Ok(Some(c)) => c,
        _ => return false,
    };
    let from_addr = if company.email.contains('@') {
        company.email.clone()
    } else {
        format!(
            "no-reply@{}",
            host_of(app.base_url(company.base_url.as_deref()))
        )
    };
    let email = Email {
        from: format!("{} <{from_addr}>", company.name),
        to: to.to_string(),
        subject: subject.to_string(),
        text,
        attachments: Vec::new(),
    };
    let transports =
        match crate::messaging::outbox::Transports::from_config(&app.config, &app.clock) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "email transport misconfigured");
                return false;
            }
        };
    match transports.email.send(&email).await {
        Ok(_) => true,
        Err(e) => {
            tracing::error!(error = %e, "portal email not sent");
            false
        }
    }
}

/// The host of an origin such as `https://pay.example.com:8443`.
fn host_of(base_url: &str) -> &str {
    let rest = base_url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(base_url);
    let rest = rest.split('/').next().unwrap_or(rest);
    rest.rsplit_once(':').map(|(h, _)| h).unwrap_or(rest)
}

/// A plausible email address, lower-cased: something@something.
fn normalize_email(text: &str) -> Option<String> {
    let e = text.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    (!local.is_empty()
        && domain.contains('.')
        && e.len() <= 254
        && !e.contains(char::is_whitespace))
    .then_some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_emails() {
        assert_eq!(host_of("https://pay.example.com"), "pay.example.com");
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(
            normalize_email(" Lena@Example.COM "),
            Some("lena@example.com".into())
        );
        assert_eq!(normalize_email("lena"), None);
        assert_eq!(normalize_email("a b@example.com"), None);
    }
}
