//! The HTTP layer: routing, headers, and thin handlers over the core.

pub mod api;
pub mod api_alerts;
pub mod api_messages;
pub mod api_processor;
pub mod api_templates;
pub mod error;
pub mod limits;
pub mod office;
pub mod pay;
pub mod pay_autopay;
pub mod pdf;
pub mod portal;
pub mod stripe_webhook;
pub mod views;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::app::App;
use crate::processor::sandbox;
use error::ApiError;
use limits::{LoginLimits, PayLimits};
use views::Views;

#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub views: Views,
    pub limits: Arc<PayLimits>,
    pub office_logins: Arc<LoginLimits>,
    pub portal_logins: Arc<LoginLimits>,
    /// Requests for emailed portal sign-in links.
    pub portal_links: Arc<LoginLimits>,
}

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let state = AppState {
        views: Views::new(),
        limits: Arc::new(PayLimits::new(app.config.rate_limits)),
        office_logins: Arc::new(LoginLimits::default()),
        portal_logins: Arc::new(LoginLimits::default()),
        portal_links: Arc::new(LoginLimits::new(3, 20)),
        app: app.clone(),
    };
    forget_recovered_limits(&state);
    let hsts = app.config.base_url.starts_with("https://");
    Router::new()
        .route("/healthz", get(healthz))
        .route("/robots.txt", get(robots))
        .route("/static/{name}", get(static_file))
        .merge(pay::routes())
        .merge(api::routes())
        .merge(api_templates::routes())
        .merge(api_messages::routes())
        .merge(api_alerts::routes())
        .merge(office::routes())
        .merge(portal::routes())
        .merge(pdf::routes())
        .merge(pay_autopay::routes())
        .merge(api_processor::routes())
        .merge(stripe_webhook::routes())
        .fallback(fallback)
        .with_state(state.clone())
        .merge(sandbox::router(app.sandbox.clone()))
        .layer(middleware::from_fn_with_state(state, check_origin))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(hsts, req, next)
        }))
        .layer(DefaultBodyLimit::max(64 * 1024))
}

/// Every minute, drops rate-limit keys that have fully recovered, so a flood
/// of addresses or guessed accounts cannot grow memory without bound. The
/// task ends when the router is dropped.
fn forget_recovered_limits(state: &AppState) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let limits = (
        Arc::downgrade(&state.limits),
        Arc::downgrade(&state.office_logins),
        Arc::downgrade(&state.portal_logins),
        Arc::downgrade(&state.portal_links),
    );
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            let (Some(pay), Some(office), Some(portal), Some(links)) = (
                limits.0.upgrade(),
                limits.1.upgrade(),
                limits.2.upgrade(),
                limits.3.upgrade(),
            ) else {
                return;
            };
            pay.shrink();
            office.shrink();
            portal.shrink();
            links.shrink();
        }
    });
}

async fn healthz() -> &'static str {
    "ok"
}

async fn robots() -> &'static str {
    "User-agent: *\nDisallow: /pay\nDisallow: /api\nDisallow: /portal\nDisallow: /office\n"
}

async fn static_file(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    views::static_asset(&name).unwrap_or_else(|| state.views.not_found())
}

/// Unknown paths: JSON under `/api`, the HTML 404 page elsewhere. Unknown
/// payment links answer with exactly the same responses.
async fn fallback(State(state): State<AppState>, req: Request) -> Response {
    not_found_for(&state, req.uri().path())
}

pub fn not_found_for(state: &AppState, path: &str) -> Response {
    if path.starts_with("/api/") {
        ApiError::not_found().into_response()
    } else {
        state.views.not_found()
    }
}

/// Headers every response carries (SECURITY.md 7).
/// The policy of every response (SECURITY.md 7).
pub const DEFAULT_CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:";

/// The policy of a page that shows Stripe's card fields: `DEFAULT_CSP` plus
/// Stripe.js, its frames and its API, and no other third party.
pub const STRIPE_CSP: &str = "default-src 'self'; script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; img-src 'self' data:";

/// Gives a pay or portal page the policy its processor's card fields need:
/// Stripe's for a Stripe company, else the default one unchanged.
pub(crate) fn with_processor_csp(
    mut resp: Response,
    processor: &crate::processor::PageProcessor,
) -> Response {
    if processor.is_stripe() {
        resp.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(STRIPE_CSP),
        );
    }
    resp
}

async fn security_headers(hsts: bool, req: Request, next: Next) -> Response {
    // Assets and company logos may be cached; everything else is private.
    let is_static =
        req.uri().path().starts_with("/static/") || req.uri().path().starts_with("/logo/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // A handler may have chosen its own policy (a page with Stripe's card
    // fields, see `with_processor_csp`); every other response gets ours.
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    if !is_static {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            "x-robots-tag",
            HeaderValue::from_static("noindex, nofollow"),
        );
    }
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    resp
}

/// Refuses state changes sent by another site (SECURITY.md 5). Browsers say
/// where a request comes from in `Sec-Fetch-Site` and `Origin`; API clients
/// send neither and authenticate by key or idempotency key instead.
async fn check_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let headers = req.headers();
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let cross_site = matches!(site, Some("cross-site") | Some("same-site"));
        let foreign_origin = match origin {
            Some(o) => o != state.app.config.base_url && site != Some("same-origin"),
            None => false,
        };
        if cross_site || foreign_origin {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "cross_origin_request",
                "This request came from another site and was refused.",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// The refusal of a form whose CSRF token is not the session's (office and
/// portal), or `None` when it is.
pub fn csrf_refusal(expected: &str, given: &str) -> Option<Response> {
    (!crate::crypto::same_secret(given, expected)).then(|| {
        (
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Go back, reload the page and try again.",
        )
            .into_response()
    })
}

/// The client's address as the connection reports it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(ip))
    }
}

/// The `User-Agent` header, trimmed to a sane length.
pub fn user_agent(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(512)
        .collect()
}

pub fn json_created<T: serde::Serialize>(value: T) -> Response {
    (StatusCode::CREATED, Json(value)).into_response()
}

/// Serves the application until Ctrl-C or SIGTERM, finishing requests in flight.
pub async fn serve(app: App) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(app.config.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", app.config.bind))?;
    serve_on(listener, app).await
}

pub async fn serve_on(listener: tokio::net::TcpListener, app: App) -> anyhow::Result<()> {
    let router = router(app);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
