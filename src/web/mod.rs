//! The HTTP layer: routing, headers, and thin handlers over the core.

pub mod api;
pub mod api_alerts;
pub mod api_customers;
pub mod api_doc;
pub mod api_invoices;
pub mod api_messages;
pub mod api_payments;
pub mod api_processor;
pub mod api_reports;
pub mod api_sending;
pub mod api_templates;
pub mod api_webhooks;
pub mod error;
pub mod lang;
pub mod limits;
pub mod office;
pub mod pay;
pub mod pay_autopay;
pub mod pdf;
pub mod portal;
pub mod sandbox;
pub mod setup;
pub mod signin_csrf;
pub mod stripe_webhook;
pub mod views;

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{
    ConnectInfo, DefaultBodyLimit, FromRequestParts, MatchedPath, Path, Request, State,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tracing::Instrument;

use crate::app::App;
use crate::domain::i18n::Lang;
use error::ApiError;
use limits::{LoginLimits, PayLimits};
use views::Views;

/// What every handler reads. The router clones it for each request (the
/// handler, each extractor, the origin check), so it is one `Arc`: one
/// reference count to touch rather than one per shared part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub app: App,
    pub views: Views,
    pub limits: Arc<PayLimits>,
    pub office_logins: Arc<LoginLimits>,
    pub portal_logins: Arc<LoginLimits>,
    /// Requests for emailed portal sign-in links.
    pub portal_links: Arc<LoginLimits>,
    /// The OpenAPI document, generated when the router is built.
    pub openapi: api_doc::Served,
}

/// The largest request body taken (a logo upload has its own limit).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The whole HTTP application.
pub fn router(app: App) -> Router {
    let (api_routes, doc) = api_doc::routes().split_for_parts();
    let state = AppState(Arc::new(Shared {
        openapi: api_doc::Served::new(&api_doc::document(doc)),
        views: Views::new(),
        limits: Arc::new(PayLimits::new(app.config.rate_limits)),
        office_logins: Arc::new(LoginLimits::office()),
        portal_logins: Arc::new(LoginLimits::portal()),
        portal_links: Arc::new(LoginLimits::portal_links()),
        app: app.clone(),
    }));
    forget_recovered_limits(&state);
    let hsts = app.config.base_url.starts_with("https://");
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/robots.txt", get(robots))
        .route("/static/{name}", get(static_file))
        .merge(pay::routes())
        .merge(api_routes.layer(middleware::from_fn(api::objects_only)))
        .merge(api_messages::routes())
        .merge(office::routes())
        .merge(portal::routes())
        .merge(pdf::routes())
        .merge(pay_autopay::routes())
        .merge(stripe_webhook::routes())
        .merge(setup::routes())
        .fallback(fallback)
        .with_state(state.clone())
        .merge(sandbox::router(app.sandbox.clone()))
        .layer(middleware::from_fn_with_state(state, check_origin))
        .layer(middleware::from_fn(move |req, next| {
            security_headers(hsts, req, next)
        }))
        .layer(middleware::from_fn(move |req, next| {
            lang::middleware(hsts, req, next)
        }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Outermost last: a request id is set (kept from the client when
        // it is a sane one, else generated), echoed in the response, and
        // carried by the span `observe` opens for the whole request.
        .layer(middleware::from_fn(observe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(NewRequestId))
        .layer(middleware::from_fn(drop_unsafe_request_id))
}

/// Every minute, drops rate-limit keys that have fully recovered, so a flood
/// of addresses or guessed accounts cannot grow memory without bound. The
/// task ends when the router is dropped.
fn forget_recovered_limits(state: &AppState) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let db = state.app.db.clone();
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
            // The shared counters whose window ended (any process may sweep).
            let before = db.now() - time::Duration::milliseconds(limits::WINDOW_MS);
            let swept = async {
                let mut tx = db.begin_write().await?;
                crate::store::limits::sweep(&mut tx, before).await?;
                tx.commit().await?;
                Ok::<_, crate::store::StoreError>(())
            };
            if let Err(e) = swept.await {
                tracing::warn!(error = %e, "sweeping rate-limit counters failed");
            }
        }
    });
}

/// The process is up (it answers); says nothing of the database.
async fn healthz() -> &'static str {
    "ok"
}

/// Ready to serve: the database answers and has every migration this binary
/// needs. A load balancer sends traffic only to ready processes.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.app.db.ready().await {
        Ok(_) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(not) => {
            tracing::warn!(reason = not.reason, message = %not.message, "not ready");
            let mut body = serde_json::json!({
                "status": "not_ready",
                "reason": not.reason,
                "message": not.message,
            });
            if !not.missing_migrations.is_empty() {
                body["missing_migrations"] = serde_json::json!(not.missing_migrations);
            }
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Prometheus metrics (`crate::metrics`). With `FIELDPAY_METRICS_TOKEN` set,
/// only for `Authorization: Bearer <token>`; without it, only for clients on
/// loopback that did not come through a proxy (one in
/// `FIELDPAY_TRUSTED_PROXIES`, or any request with a forwarding header). Anyone else gets the same
/// 404 as any unknown path, or a 401 when a token is expected.
async fn metrics_page(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap) -> Response {
    let token = state.app.config.metrics_token.as_deref();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // A request from a listed proxy came through it, forwarding header or not.
    let trusted = &state.app.config.trusted_proxies;
    let forwarded = trusted.contains(&ip.0)
        || ["forwarded", "x-forwarded-for", "x-real-ip"]
            .iter()
            .any(|h| headers.contains_key(*h));
    if crate::metrics::may_read(token, authorization, ip.0.is_loopback(), forwarded) {
        return (
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            crate::metrics::render(),
        )
            .into_response();
    }
    if token.is_some() {
        let mut resp = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The metrics need the bearer token the server was given (FIELDPAY_METRICS_TOKEN).",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    not_found_for(&state, "/metrics")
}

/// Keeps a client's `x-request-id` only when it is short and plain (letters,
/// digits, `-`, `_`, `.`), so a client cannot write what it likes into our
/// logs; otherwise it is dropped and a fresh one generated.
async fn drop_unsafe_request_id(mut req: Request, next: Next) -> Response {
    let sane = req
        .headers()
        .get("x-request-id")
        .map(|v| is_sane_request_id(v.as_bytes()));
    if sane == Some(false) {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Whether a client's request id may go into the logs: short, plain, and
/// without a long run of digits (a log scanner would take one for a card
/// number; SECURITY.md 10).
pub fn is_sane_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && longest_digit_run(id) < 8
}

/// The most digits in a row, dashes between them not counting as a break
/// (`4242-4242-4242-4242` is a run of 16, as a card scanner reads it).
fn longest_digit_run(text: &[u8]) -> usize {
    text.split(|b| !(b.is_ascii_digit() || *b == b'-'))
        .map(|run| run.iter().filter(|b| b.is_ascii_digit()).count())
        .max()
        .unwrap_or(0)
}

/// Request ids made here: 128 random bits in base64url (22 characters). Not
/// UUIDs: their hex digits, dashes included, too often read as a Luhn-valid
/// card number to a log scanner.
#[derive(Clone, Copy)]
struct NewRequestId;

impl MakeRequestId for NewRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        loop {
            let id = crate::crypto::random_token(16);
            if is_sane_request_id(id.as_bytes()) {
                return HeaderValue::from_str(&id).ok().map(RequestId::new);
            }
        }
    }
}

/// The path as logs may show it: the route template when a route matched
/// (`/pay/{token}`), else the path with anything that could be a payment or
/// sign-in link's token or a number someone pasted (a long segment, one with
/// six digits in a row, or whatever follows `/pay/`, `/api/v1/pay/`,
/// `/portal/link/`, `/portal/invite/`) replaced by `{redacted}`.
pub fn loggable_path(route: Option<&str>, path: &str) -> String {
    if let Some(route) = route {
        return route.to_string();
    }
    const TOKEN_PARENTS: [&str; 4] = ["/pay", "/api/v1/pay", "/portal/link", "/portal/invite"];
    let segments: Vec<&str> = path.split('/').collect();
    segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let parent = segments[..i].join("/");
            let secret_like = segment.len() >= 20 || longest_digit_run(segment.as_bytes()) >= 6;
            if secret_like || (i > 1 && TOKEN_PARENTS.contains(&parent.as_str())) {
                "{redacted}".to_string()
            } else {
                segment.chars().take(64).collect()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The method as a metrics label: the standard ones, else `other` (a client
/// may send any word as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// One span per request, carrying its id, so every line logged while it is
/// served says which request it belongs to; then one access line, and the
/// request's count and latency in the metrics under its route template.
async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let path = loggable_path(route.as_deref(), req.uri().path());
    let span = tracing::info_span!("request", request_id = %request_id, method, path = %path);
    let resp = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = resp.status().as_u16();
    crate::metrics::request(
        method,
        crate::metrics::route_label(route.as_deref()),
        status,
        took,
    );
    span.in_scope(|| {
        // Whole microseconds: a float's long tail of digits could read as
        // a card number to a log scanner.
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        tracing::info!(target: "fieldpay::access", status, us, "request")
    });
    resp
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

/// The policy of an email shown as the customer sees it (the office's
/// "See the email as the customer sees it"): a document of its own, opened
/// in its own tab, where nothing runs (`sandbox`: no scripts, forms or
/// same-origin rights), nothing loads but images, and only the inline styles
/// emails carry apply. Every office and customer page keeps `DEFAULT_CSP`.
pub const EMAIL_DOCUMENT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";

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
/// portal), in `lang` (the office's English, the portal's customer's), or
/// `None` when it is.
pub fn csrf_refusal(expected: &str, given: &str, lang: Lang) -> Option<Response> {
    (!crate::crypto::same_secret(given, expected))
        .then(|| plain_text(StatusCode::FORBIDDEN, lang, "form-expired"))
}

/// A plain-text answer a customer may read: the message `key` in `lang`,
/// said to be in that language.
pub fn plain_text(status: StatusCode, lang: Lang, key: &str) -> Response {
    let mut resp = (status, crate::domain::i18n::t(lang, key)).into_response();
    resp.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    resp
}

/// The client's address: the connection's, or, for a connection from a
/// trusted reverse proxy (`FIELDPAY_TRUSTED_PROXIES`), the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy. Rate limits key on it.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let trusted = &state.app.config.trusted_proxies;
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientIp(client_address(peer, &forwarded, trusted)))
    }
}

/// The client of a connection from `peer` that carried these
/// `X-Forwarded-For` headers: walking the hops from the nearest, the first
/// address that is not a trusted proxy. A proxy appends the address it saw,
/// so what a client wrote itself sits further left and is never reached
/// while a trusted proxy stands in between.
pub fn client_address(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // Garbage (or a port, or an obfuscated name): stop at the last
            // address we could trust.
            break;
        };
        client = ip;
        if !trusted.contains(&ip) {
            break;
        }
    }
    client
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

/// A future the caller runs to completion. Boxed, so the server's code
/// (axum's, hyper's and every handler's futures) is compiled once, in this
/// crate: a future awaited directly is compiled again in each crate that
/// polls it (the binary, every test binary).
pub type Serving = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// What ends a server: the server stops when it completes.
pub type Stop = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Serves the application until Ctrl-C or SIGTERM, finishing requests in flight.
pub fn serve(app: App) -> Serving {
    Box::pin(async move {
        let listener = bind(&app).await?;
        serve_on(listener, app).await
    })
}

/// Listens on the configured address.
pub async fn bind(app: &App) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(app.config.bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", app.config.bind))
}

pub fn serve_on(listener: tokio::net::TcpListener, app: App) -> Serving {
    serve_until(listener, app, Box::pin(shutdown_signal()))
}

/// How long requests in flight may take to finish once shutdown began.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// Serves until `stop` completes: then stops accepting connections and
/// finishes the requests in flight (for at most `SHUTDOWN_GRACE`).
pub fn serve_until(listener: tokio::net::TcpListener, app: App, stop: Stop) -> Serving {
    Box::pin(serve_until_stopped(listener, app, stop))
}

async fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    app: App,
    stop: Stop,
) -> anyhow::Result<()> {
    let router = router(app);
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let (began_tx, began_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        stop.await;
        tracing::info!("shutting down: no new connections; finishing requests in flight");
        let _ = began_tx.send(());
    });
    let overdue = async move {
        if began_rx.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        served = serving => served?,
        _ = overdue => tracing::warn!(
            grace_s = SHUTDOWN_GRACE.as_secs(),
            "requests still running after the grace period; stopping anyway"
        ),
    }
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logged_paths_hide_tokens() {
        assert_eq!(
            loggable_path(Some("/pay/{token}"), "/pay/abc"),
            "/pay/{token}"
        );
        let token = "k3Jx9_qP-0aZ7mN2bV5cX8dR1tY4uW6eS9gH3jL0oQ2";
        assert_eq!(
            loggable_path(None, &format!("/pay/{token}/nope")),
            "/pay/{redacted}/nope"
        );
        assert_eq!(
            loggable_path(None, "/api/v1/pay/short/x"),
            "/api/v1/pay/{redacted}/x"
        );
        assert_eq!(
            loggable_path(None, "/portal/link/abc"),
            "/portal/link/{redacted}"
        );
        assert_eq!(
            loggable_path(None, &format!("/anything/{token}")),
            "/anything/{redacted}"
        );
        assert_eq!(loggable_path(None, "/wp-login.php"), "/wp-login.php");
        assert_eq!(loggable_path(None, "/x/4242424242424242"), "/x/{redacted}");
        assert_eq!(loggable_path(None, "/pay"), "/pay");
    }

    #[test]
    fn client_addresses_behind_trusted_proxies() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = [ip("127.0.0.1")];
        // No proxy trusted: the header is the client's word, ignored.
        assert_eq!(
            client_address(ip("203.0.113.5"), &["1.2.3.4"], &[]),
            ip("203.0.113.5")
        );
        // Not from the proxy: ignored as well.
        assert_eq!(
            client_address(ip("203.0.113.5"), &["1.2.3.4"], &proxy),
            ip("203.0.113.5")
        );
        // From the proxy: the address it appended, not what the client wrote.
        assert_eq!(
            client_address(ip("127.0.0.1"), &["6.6.6.6, 198.51.100.7"], &proxy),
            ip("198.51.100.7")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &["6.6.6.6", "198.51.100.7"], &proxy),
            ip("198.51.100.7")
        );
        // Two trusted proxies in a row.
        let two = [ip("127.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            client_address(ip("127.0.0.1"), &["198.51.100.7, 10.0.0.2"], &two),
            ip("198.51.100.7")
        );
        // From the proxy without a header, or with garbage: the proxy.
        assert_eq!(
            client_address(ip("127.0.0.1"), &[], &proxy),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &["unknown"], &proxy),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn request_ids_from_clients_are_kept_only_when_plain() {
        assert!(is_sane_request_id(b"req-123_abc.7"));
        assert!(is_sane_request_id(b"0f8fad5b-d9cb-469f-a165-7086c772e95e"));
        assert!(!is_sane_request_id(b""));
        assert!(!is_sane_request_id(b"a b"));
        assert!(!is_sane_request_id(b"x\"y"));
        assert!(!is_sane_request_id(&[b'a'; 65]));
        assert!(!is_sane_request_id(b"4242424242424242"));
        assert!(!is_sane_request_id(b"4242-4242-4242-4242"));
        assert!(!is_sane_request_id(b"0f8fad5b-1234-4567-a165-70867728950e"));
        let mut make = NewRequestId;
        let req = axum::http::Request::new(());
        for _ in 0..1000 {
            let id = make.make_request_id(&req).unwrap();
            let id = id.header_value().as_bytes();
            assert_eq!(id.len(), 22);
            assert!(is_sane_request_id(id));
        }
    }
}
