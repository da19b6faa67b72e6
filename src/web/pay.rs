//! The quick payment page and its JSON twin. The token in the path is the
//! credential: every lookup goes through `resolve`, which rate-limits and
//! answers a miss exactly as any unknown path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::{AppState, ClientIp, json_created, not_found_for, user_agent};
use crate::app::payments::{self, ActionNeeded, PayError, PayInvoices, PayResult, PayStep};
use crate::crypto::random_token;
use crate::domain::autopay_consent_text;
use crate::domain::dates;
use crate::domain::money::Money;
use crate::processor::PageProcessor;
use crate::store::links::LiveLink;
use crate::store::payments::{self as pay_store, Consent};
use crate::store::paypage::{self, PayPage};
use crate::store::{audit, companies};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{token}", get(page).post(submit))
        .route("/pay/{token}/receipts/{payment_id}", get(receipt))
        .route("/api/v1/pay/{token}", get(page_data))
        .route("/api/v1/pay/{token}/payments", post(api_pay))
        .route(
            "/api/v1/pay/{token}/payments/{attempt_id}/confirm",
            post(api_confirm),
        )
}

/// What a miss answers: 404 like any unknown path, or 429 over the limits.
async fn miss(state: &AppState, ip: ClientIp, path: &str) -> Response {
    if state.limits.check_miss(&state.app.db, ip.0).await {
        not_found_for(state, path)
    } else {
        too_many(path)
    }
}

fn too_many(path: &str) -> Response {
    let mut resp = if path.starts_with("/api/") {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests. Wait a minute and try again.",
        )
        .into_response()
    } else {
        (
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests. Wait a minute and try again.",
        )
            .into_response()
    };
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    resp
}

/// Loads the page a token opens, applying the rate limits.
async fn load_page(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    path: &str,
) -> Result<PayPage, Response> {
    if !crate::domain::paylink::looks_like_token(token) {
        return Err(miss(state, ip, path).await);
    }
    let found = paypage::load(&state.app.db, &crate::domain::paylink::token_hash(token))
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let Some(page) = found else {
        return Err(miss(state, ip, path).await);
    };
    if !state.limits.allow_hit(&page.link_id) {
        return Err(too_many(path));
    }
    note_opened(state, &page.company.id, &page.link_id, token);
    Ok(page)
}

/// Resolves a token for a state change, applying the rate limits.
pub(crate) async fn resolve(
    state: &AppState,
    ip: ClientIp,
    token: &str,
    path: &str,
) -> Result<LiveLink, Response> {
    if !crate::domain::paylink::looks_like_token(token) {
        return Err(miss(state, ip, path).await);
    }
    let found =
        crate::store::links::find_live(&state.app.db, &crate::domain::paylink::token_hash(token))
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
    let Some(link) = found else {
        return Err(miss(state, ip, path).await);
    };
    if !state.limits.allow_hit(&link.id) {
        return Err(too_many(path));
    }
    Ok(link)
}

static OPENED: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);

/// Writes "link opened" to the audit log at most once an hour per link, off
/// the request path, so page views do not queue behind the database writer.
fn note_opened(state: &AppState, company_id: &str, link_id: &str, token: &str) {
    {
        let Ok(mut guard) = OPENED.lock() else { return };
        let seen = guard.get_or_insert_with(HashMap::new);
        if seen.len() > 100_000 {
            seen.clear();
        }
        match seen.get(link_id) {
            Some(at) if at.elapsed() < Duration::from_secs(3600) => return,
            _ => {
                seen.insert(link_id.to_string(), Instant::now());
            }
        }
    }
    let db = state.app.db.clone();
    let company_id = company_id.to_string();
    let subject = crate::domain::paylink::audit_ref(&crate::domain::paylink::token_hash(token));
    tokio::spawn(async move {
        let Ok(mut tx) = db.begin_write().await else {
            return;
        };
        let ok = audit::record(
            &mut tx,
            &company_id,
            "customer",
            "payment_link.opened",
            &subject,
            serde_json::json!({}),
        )
        .await
        .is_ok();
        if ok {
            tx.commit().await.ok();
        }
    });
}

// ---------------------------------------------------------------- HTML page

/// What the form showed when it comes back: the choices made and the errors.
#[derive(Default)]
pub(crate) struct FormState {
    pub selected: Option<Vec<String>>,
    pub plan: String,
    pub method: Option<String>,
    pub error: Option<String>,
    pub card_error: Option<String>,
    pub consent_error: Option<String>,
    /// The bank asks the customer to authenticate this attempt first.
    pub action: Option<ActionNeeded>,
}

#[derive(Serialize)]
struct LineView {
    description: String,
    quantity: i64,
    amount: String,
}

#[derive(Serialize)]
struct InvoiceView {
    id: String,
    number: String,
    issue_date: String,
    due_text: String,
    overdue: bool,
    balance: String,
    balance_minor: i64,
    total: String,
    paid_so_far: Option<String>,
    selected: bool,
    lines: Vec<LineView>,
}

#[derive(Serialize)]
struct PropertyView {
    address: String,
    on_behalf: bool,
    invoices: Vec<InvoiceView>,
}

#[derive(Serialize)]
struct MethodView {
    id: String,
    label: String,
    checked: bool,
}

pub(crate) fn method_label(brand: &str, last4: &str, exp_month: i64, exp_year: i64) -> String {
    format!(
        "{brand} ending {last4}, expires {exp_month:02}/{:02}",
        exp_year % 100
    )
}

fn due_text(due: time::Date, today: time::Date) -> (String, bool) {
    let days = (due - today).whole_days();
    match days {
        d if d < 0 => {
            let n = -d;
            let unit = if n == 1 { "day" } else { "days" };
            (
                format!("Overdue by {n} {unit} (was due {})", dates::display(due)),
                true,
            )
        }
        0 => ("Due today".to_string(), false),
        _ => (format!("Due {}", dates::display(due)), false),
    }
}

/// A signed one-time form token: the nonce is the payment's idempotency key,
/// the signature proves this server issued it for this scope (CSRF). The
/// scope is the link's id on the quick payment page, the session on the portal.
pub(crate) fn form_token(state: &AppState, scope: &str) -> (String, String) {
    let nonce = random_token(18);
    let sig = state
        .app
        .config
        .secret
        .derive(format!("form:{scope}:{nonce}").as_bytes());
    (nonce, sig)
}

pub(crate) fn form_sig_valid(state: &AppState, scope: &str, nonce: &str, sig: &str) -> bool {
    let expected = state
        .app
        .config
        .secret
        .derive(format!("form:{scope}:{nonce}").as_bytes());
    !nonce.is_empty() && crate::crypto::same_secret(&expected, sig)
}

async fn render_page(
    state: &AppState,
    page: &PayPage,
    token: &str,
    status: StatusCode,
    form: FormState,
) -> Response {
    let processor = &page.company.processor;
    let ctx = page_context(
        state,
        page,
        processor,
        &page.link_id,
        &format!("/pay/{token}"),
        form,
    );
    let resp = state.views.page(
        status,
        "pay.html",
        minijinja::context! { token => token, ..ctx },
    );
    super::with_processor_csp(resp, processor)
}

/// Everything the pay form shows (`pay.html`), for any place that shows it:
/// `scope` binds the form token, `action` is where the form posts.
pub(crate) fn page_context(
    state: &AppState,
    page: &PayPage,
    processor: &PageProcessor,
    scope: &str,
    action: &str,
    form: FormState,
) -> minijinja::Value {
    let today = state.app.clock.today_in(&page.company.time_zone);
    let currency = page.company.currency;
    let mut total = 0i64;
    let properties: Vec<PropertyView> = page
        .properties
        .iter()
        .map(|p| PropertyView {
            address: p.address.clone(),
            on_behalf: p.billed_on_behalf_of_resident,
            invoices: p
                .invoices
                .iter()
                .map(|inv| {
                    let selected = form
                        .selected
                        .as_ref()
                        .map(|s| s.contains(&inv.id))
                        .unwrap_or(true);
                    if selected {
                        total += inv.balance;
                    }
                    let (due_text, overdue) = due_text(inv.due_date, today);
                    let paid = inv.total - inv.balance;
                    InvoiceView {
                        id: inv.id.clone(),
                        number: inv.number.clone(),
                        issue_date: dates::display(inv.issue_date),
                        due_text,
                        overdue,
                        balance: Money::new(inv.balance, inv.currency).format(),
                        balance_minor: inv.balance,
                        total: Money::new(inv.total, inv.currency).format(),
                        paid_so_far: (paid > 0).then(|| Money::new(paid, inv.currency).format()),
                        selected,
                        lines: inv
                            .lines
                            .iter()
                            .map(|l| LineView {
                                description: l.description.clone(),
                                quantity: l.quantity,
                                amount: Money::new(l.amount, inv.currency).format(),
                            })
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let chosen = form
        .method
        .clone()
        .or_else(|| page.saved_methods.first().map(|m| m.id.clone()))
        .unwrap_or_else(|| "new_card".into());
    let methods: Vec<MethodView> = page
        .saved_methods
        .iter()
        .map(|m| MethodView {
            id: m.id.clone(),
            label: method_label(&m.brand, &m.last4, m.exp_month, m.exp_year),
            checked: m.id == chosen,
        })
        .collect();
    let autopay = page.autopay.method_id.as_ref().and_then(|id| {
        page.saved_methods.iter().find(|m| &m.id == id).map(|m| {
            minijinja::context! { label => format!("{} ending {}", m.brand, m.last4) }
        })
    });
    let (nonce, sig) = form_token(state, scope);
    minijinja::context! {
        accent => page.company.accent_color.as_str(),
        company => minijinja::context! { name => page.company.name.as_str(), phone => page.company.phone.as_str() },
        customer_name => page.customer.name.as_str(),
        action => action,
        properties => minijinja::value::Serde(&properties),
        total => Money::new(total, currency).format(),
        currency => currency.code(),
        saved_methods => minijinja::value::Serde(&methods),
        new_card_checked => chosen == "new_card",
        autopay => autopay,
        consent_text => autopay_consent_text(&page.company.name, &page.company.phone),
        plan => form.plan,
        form => minijinja::context! { nonce => nonce, sig => sig },
        error => form.error,
        card_error => form.card_error,
        consent_error => form.consent_error,
        authenticate => form.action.as_ref().map(|a| minijinja::context! {
            attempt_id => a.attempt_id.as_str(),
            client_secret => a.client_secret.as_str(),
            message => AUTHENTICATE_MESSAGE,
        }),
        processor => minijinja::value::Serde(processor),
    }
}

async fn page(State(state): State<AppState>, ip: ClientIp, Path(token): Path<String>) -> Response {
    match load_page(&state, ip, &token, "/pay").await {
        Ok(page) => render_page(&state, &page, &token, StatusCode::OK, FormState::default()).await,
        Err(resp) => resp,
    }
}

/// The form's fields; card numbers are not among them (the inputs carry no name).
#[derive(Default)]
pub(crate) struct PayForm {
    invoice_ids: Vec<String>,
    payment_method: String,
    card_token: String,
    plan: String,
    autopay_consent: bool,
    form_nonce: String,
    form_sig: String,
    /// Set by the page's script after the bank's check (3-D Secure).
    confirm_attempt: String,
}

pub(crate) fn parse_form(body: &[u8]) -> PayForm {
    let mut f = PayForm::default();
    for (k, v) in form_urlencoded::parse(body) {
        let v = v.into_owned();
        match k.as_ref() {
            "invoice_ids" => f.invoice_ids.push(v),
            "payment_method" => f.payment_method = v,
            "card_token" => f.card_token = v,
            "plan" => f.plan = v,
            "autopay_consent" => f.autopay_consent = v == "yes",
            "form_nonce" => f.form_nonce = v,
            "form_sig" => f.form_sig = v,
            "confirm_attempt" => f.confirm_attempt = v,
            _ => {}
        }
    }
    f
}

async fn submit(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Bytes,
) -> Response {
    let link = match resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let payer = FormPayer {
        company_id: &link.company_id,
        customer_id: &link.customer_id,
        scope: &link.id,
        channel: "quick_pay",
        key_prefix: "form",
    };
    match submit_form(&state, &payer, ip, &headers, &body).await {
        Submitted::Paid(payment_id) => {
            Redirect::to(&format!("/pay/{token}/receipts/{payment_id}")).into_response()
        }
        Submitted::Again(status, fs) => {
            match paypage::load(&state.app.db, &crate::domain::paylink::token_hash(&token)).await {
                Ok(Some(page)) => render_page(&state, &page, &token, status, fs).await,
                Ok(None) => state.views.not_found(),
                Err(e) => ApiError::from(e).into_response(),
            }
        }
        Submitted::Failed(resp) => resp,
    }
}

/// Who pays through a pay form, and how the form was bound.
pub(crate) struct FormPayer<'a> {
    pub company_id: &'a str,
    pub customer_id: &'a str,
    /// What the form token was signed for (see `form_token`).
    pub scope: &'a str,
    pub channel: &'static str,
    /// Prefix of the idempotency key made from the form's nonce.
    pub key_prefix: &'static str,
}

/// What a submitted pay form came to.
pub(crate) enum Submitted {
    /// Paid: the payment's id, for the receipt.
    Paid(String),
    /// Show the form again with this status, the choices kept and the errors.
    Again(StatusCode, FormState),
    /// An answer that is not the form (a server error).
    Failed(Response),
}

/// The pay form's submit flow, wherever the form is shown.
pub(crate) async fn submit_form(
    state: &AppState,
    payer: &FormPayer<'_>,
    ip: ClientIp,
    headers: &HeaderMap,
    body: &[u8],
) -> Submitted {
    let form = parse_form(body);
    let mut fs = FormState {
        selected: Some(form.invoice_ids.clone()),
        plan: form.plan.clone(),
        method: Some(form.payment_method.clone()),
        ..FormState::default()
    };
    if !form_sig_valid(state, payer.scope, &form.form_nonce, &form.form_sig) {
        fs.error = Some("This page was open too long or came from elsewhere. Check your selection and press Pay again.".into());
        return Submitted::Again(StatusCode::BAD_REQUEST, fs);
    }
    if !form.confirm_attempt.is_empty() {
        // Back from the bank's check: settle the attempt it was for.
        let confirmed = confirm_detached(
            state,
            payer.company_id,
            payer.customer_id,
            &form.confirm_attempt,
        )
        .await;
        return match confirmed {
            Ok(None) => {
                fs.error = Some(
                    "That payment was not found. Check your selection and press Pay again.".into(),
                );
                Submitted::Again(StatusCode::NOT_FOUND, fs)
            }
            Ok(Some(step)) => submitted_step(step, fs),
            Err(e) => submitted_error(e, fs),
        };
    }
    if form.invoice_ids.is_empty() {
        fs.error = Some("Select at least one invoice to pay.".into());
        return Submitted::Again(StatusCode::UNPROCESSABLE_ENTITY, fs);
    }
    let method = if form.payment_method == "new_card" || form.payment_method.is_empty() {
        if form.card_token.is_empty() {
            fs.card_error = Some(
                "Enter your card details. Card entry needs JavaScript turned on in your browser."
                    .into(),
            );
            return Submitted::Again(StatusCode::UNPROCESSABLE_ENTITY, fs);
        }
        form.card_token.clone()
    } else {
        form.payment_method.clone()
    };
    let enroll = if form.plan == "autopay" {
        if !form.autopay_consent {
            fs.consent_error = Some("To use autopay, tick the box to authorize future charges, or choose \u{201c}Pay this time only\u{201d}.".into());
            return Submitted::Again(StatusCode::UNPROCESSABLE_ENTITY, fs);
        }
        match consent_for(state, payer.company_id, payer.channel, ip, headers).await {
            Ok(c) => Some(c),
            Err(e) => return Submitted::Failed(e.into_response()),
        }
    } else {
        None
    };
    let req = PayInvoices {
        company_id: payer.company_id.to_string(),
        customer_id: payer.customer_id.to_string(),
        invoice_ids: form.invoice_ids.clone(),
        payment_method: method,
        idempotency_key: format!("{}:{}", payer.key_prefix, form.form_nonce),
        channel: payer.channel,
        enroll,
        actor: "customer".into(),
    };
    match pay_waiting(state, req).await {
        Ok(step) => submitted_step(step, fs),
        Err(e) => submitted_error(e, fs),
    }
}

/// What the form shows for where a payment stands.
fn submitted_step(step: PayStep, mut fs: FormState) -> Submitted {
    match step {
        PayStep::Done(PayResult::Succeeded(s)) => Submitted::Paid(s.id),
        PayStep::Done(PayResult::Declined(d)) => {
            fs.card_error = Some(d.message);
            fs.method = Some("new_card".into());
            Submitted::Again(StatusCode::PAYMENT_REQUIRED, fs)
        }
        PayStep::RequiresAction(action) => {
            fs.action = Some(action);
            Submitted::Again(StatusCode::PAYMENT_REQUIRED, fs)
        }
    }
}

fn submitted_error(e: PayError, mut fs: FormState) -> Submitted {
    let e = ApiError::from(e);
    // A processor or database that is briefly away: the form again, with
    // the message, so the customer can retry what they typed.
    let retry = [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE];
    if e.status.is_server_error() && !retry.contains(&e.status) {
        return Submitted::Failed(e.into_response());
    }
    fs.error = Some(e.message);
    Submitted::Again(e.status, fs)
}

/// What a customer is told while their bank's check is open.
pub const AUTHENTICATE_MESSAGE: &str = "Your bank asks you to confirm this payment. Complete your bank's check to finish paying; nothing is charged until you do.";

/// `payments::confirm` in a task of its own: a client that hangs up does not
/// cut the settlement short.
async fn confirm_detached(
    state: &AppState,
    company_id: &str,
    customer_id: &str,
    attempt_id: &str,
) -> Result<Option<PayStep>, PayError> {
    let app = state.app.clone();
    let (company_id, customer_id, attempt_id) = (
        company_id.to_string(),
        customer_id.to_string(),
        attempt_id.to_string(),
    );
    tokio::spawn(async move {
        payments::confirm(&app, &company_id, &customer_id, &attempt_id, "customer").await
    })
    .await
    .unwrap_or_else(|e| {
        Err(PayError::Store(crate::store::StoreError::Unavailable(
            format!("confirm task failed: {e}"),
        )))
    })
}

/// A double submit of the same form waits for the first one's result.
async fn pay_waiting(state: &AppState, req: PayInvoices) -> Result<PayStep, PayError> {
    for _ in 0..40 {
        match payments::pay_interactive_detached(&state.app, req.clone()).await {
            Err(PayError::InProgress) => tokio::time::sleep(Duration::from_millis(250)).await,
            other => return other,
        }
    }
    Err(PayError::InProgress)
}

/// The consent record for autopay: the exact text shown, when, from where.
pub(crate) async fn consent_for(
    state: &AppState,
    company_id: &str,
    channel: &str,
    ip: ClientIp,
    headers: &HeaderMap,
) -> Result<Consent, ApiError> {
    let company = companies::get(&state.app.db, company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Consent {
        text: autopay_consent_text(&company.name, &company.phone),
        ip: ip.0.to_string(),
        user_agent: user_agent(headers),
        channel: channel.into(),
        starts_on: state.app.clock.today_in(&company.time_zone),
    })
}

async fn receipt(
    State(state): State<AppState>,
    ip: ClientIp,
    Path((token, payment_id)): Path<(String, String)>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    match receipt_context(&state, &link.company_id, &link.customer_id, &payment_id).await {
        Ok(Some(ctx)) => state.views.page(
            StatusCode::OK,
            "receipt.html",
            minijinja::context! { back => format!("/pay/{token}"), token => token, ..ctx },
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => e.into_response(),
    }
}

/// What a receipt (`receipt.html`) shows: one payment of one customer, or
/// `None` when the payment is not theirs.
pub(crate) async fn receipt_context(
    state: &AppState,
    company_id: &str,
    customer_id: &str,
    payment_id: &str,
) -> Result<Option<minijinja::Value>, ApiError> {
    let payment = pay_store::list(
        &state.app.db,
        company_id,
        Some(customer_id),
        Some(payment_id),
        1,
    )
    .await?
    .pop();
    let company = companies::get(&state.app.db, company_id).await?;
    let autopay = pay_store::active_autopay(&state.app.db, customer_id).await?;
    let (Some(payment), Some(company)) = (payment, company) else {
        return Ok(None);
    };
    Ok(Some(minijinja::context! {
        accent => company.accent_color,
        company => minijinja::context! { name => company.name, phone => company.phone },
        amount => Money::new(payment.amount, payment.currency).format(),
        reference => payment.id,
        card => format!("{} ending {}", payment.card_brand.unwrap_or_default(), payment.card_last4.unwrap_or_default()),
        time => dates::display_instant(payment.created_at, &company.time_zone),
        allocations => payment.allocations.iter().map(|a| minijinja::context! {
            invoice_id => a.invoice_id.clone(),
            number => a.invoice_number.clone(),
            amount => Money::new(a.amount, payment.currency).format(),
            balance => Money::new(a.invoice_balance, payment.currency).format(),
        }).collect::<Vec<_>>(),
        autopay => autopay.map(|m| format!("{} ending {}", m.brand, m.last4)),
    }))
}

// ---------------------------------------------------------------- JSON twin

async fn page_data(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
) -> Response {
    match load_page(&state, ip, &token, "/api/v1/pay").await {
        Ok(page) => Json(PageData {
            processor: page.company.processor.clone(),
            page: &page,
        })
        .into_response(),
        Err(resp) => resp,
    }
}

/// `GET /api/v1/pay/{token}`: the page's data and which card fields to use.
#[derive(Serialize)]
struct PageData<'a> {
    #[serde(flatten)]
    page: &'a PayPage,
    processor: PageProcessor,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    invoice_ids: Vec<String>,
    payment_method: String,
    #[serde(default)]
    save_card_and_enroll_autopay: bool,
    #[serde(default)]
    autopay_consent: bool,
}

async fn api_pay(
    State(state): State<AppState>,
    ip: ClientIp,
    headers: HeaderMap,
    Path(token): Path<String>,
    body: Result<Json<PayBody>, JsonRejection>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/api/v1/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    match api_pay_inner(&state, &link, ip, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn api_pay_inner(
    state: &AppState,
    link: &LiveLink,
    ip: ClientIp,
    headers: &HeaderMap,
    body: Result<Json<PayBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "idempotency_key_required",
                "Send an Idempotency-Key header (a unique value per payment, reused on retries).",
            )
            .with_field("Idempotency-Key")
        })?
        .to_string();
    let Json(body) = body?;
    let enroll = if body.save_card_and_enroll_autopay {
        if !body.autopay_consent {
            return Err(ApiError::unprocessable(
                "autopay_consent_required",
                "Saving the card for autopay needs the customer's consent: send autopay_consent: true after showing the authorization text.",
                "autopay_consent",
            ));
        }
        Some(consent_for(state, &link.company_id, "quick_pay", ip, headers).await?)
    } else {
        None
    };
    let req = PayInvoices {
        company_id: link.company_id.clone(),
        customer_id: link.customer_id.clone(),
        invoice_ids: body.invoice_ids,
        payment_method: body.payment_method,
        // A namespace of its own: a client's key can never match one the
        // server makes (autopay's `autopay:…`, the forms' `form:…`).
        idempotency_key: format!("api:{key}"),
        channel: "quick_pay",
        enroll,
        actor: "customer".into(),
    };
    match payments::pay_interactive_detached(&state.app, req).await {
        Ok(step) => Ok(pay_step_response(step)),
        // The charge was sent and its answer is awaited: accepted, not failed.
        Err(PayError::Pending { attempt_id }) => Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({
                "id": attempt_id,
                "status": "pending",
                "message": crate::web::error::PENDING_MESSAGE,
            })),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `POST /api/v1/pay/{token}/payments/{attempt_id}/confirm`: after the
/// customer completed their bank's check, settles the attempt (once; a
/// repeat answers the same). An attempt not of the token's customer is 404.
async fn api_confirm(
    State(state): State<AppState>,
    ip: ClientIp,
    Path((token, attempt_id)): Path<(String, String)>,
) -> Response {
    let link = match resolve(&state, ip, &token, "/api/v1/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    if attempt_id.is_empty() || attempt_id.len() > 64 {
        return ApiError::not_found().into_response();
    }
    match confirm_detached(&state, &link.company_id, &link.customer_id, &attempt_id).await {
        Ok(Some(step)) => pay_step_response(step),
        Ok(None) => ApiError::not_found().into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `pay_result_response`, or 402 `authentication_required` with what the
/// page needs to complete the bank's check (`client_secret`) and then
/// confirm (`attempt_id`).
pub fn pay_step_response(step: PayStep) -> Response {
    match step {
        PayStep::Done(result) => pay_result_response(result),
        PayStep::RequiresAction(a) => (
            StatusCode::PAYMENT_REQUIRED,
            Json(serde_json::json!({
                "error": {"code": "authentication_required", "message": AUTHENTICATE_MESSAGE},
                "client_secret": a.client_secret,
                "attempt_id": a.attempt_id,
            })),
        )
            .into_response(),
    }
}

/// 201 with the payment, or 402 with the decline: the same for a replay.
pub fn pay_result_response(result: PayResult) -> Response {
    match result {
        PayResult::Succeeded(summary) => json_created(summary),
        PayResult::Declined(d) => {
            let mut e = ApiError::new(StatusCode::PAYMENT_REQUIRED, "card_declined", d.message);
            e.code = api_decline_code(&d.code);
            e.into_response()
        }
    }
}

/// The decline codes the API passes through; any other is `card_declined`.
fn api_decline_code(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "insufficient_funds",
        "expired_card" => "expired_card",
        "incorrect_cvc" => "incorrect_cvc",
        "incorrect_number" | "invalid_number" => "incorrect_number",
        "processing_error" => "processing_error",
        "authentication_required" => "authentication_required",
        "invalid_payment_method" => "invalid_payment_method",
        _ => "card_declined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decline_codes_passed_through() {
        assert_eq!(
            api_decline_code("authentication_required"),
            "authentication_required"
        );
        assert_eq!(api_decline_code("invalid_number"), "incorrect_number");
        assert_eq!(api_decline_code("processing_error"), "processing_error");
        assert_eq!(api_decline_code("do_not_honor"), "card_declined");
        assert_eq!(api_decline_code("fraudulent"), "card_declined");
    }
    use time::macros::date;

    #[test]
    fn due_texts() {
        let today = date!(2026 - 11 - 28);
        assert_eq!(
            due_text(date!(2026 - 11 - 27), today),
            ("Overdue by 1 day (was due Nov 27, 2026)".into(), true)
        );
        assert_eq!(
            due_text(date!(2026 - 11 - 28), today),
            ("Due today".into(), false)
        );
        assert_eq!(
            due_text(date!(2026 - 12 - 15), today),
            ("Due Dec 15, 2026".into(), false)
        );
    }

    #[test]
    fn method_labels() {
        assert_eq!(
            method_label("Visa", "4242", 12, 2030),
            "Visa ending 4242, expires 12/30"
        );
    }
}
