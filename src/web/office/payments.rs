//! Office: payments (list, record cash/check/card, detail) and refunds.

use crate::domain::money::{parse_amount, plain_amount};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};

use super::{OfficeUser, page, page_with_status};
use crate::app::office_payments::{
    self as usecase, OfficeMethod, OfficePayError, RecordPayment, RefundOutcome, RefundRequest,
};
use crate::app::payments::{PayInvoices, PayResult};
use crate::crypto::random_token;
use crate::domain::money::{Currency, Money};
use crate::store::payments::{self as store, OfficeFilter, OfficePayment};
use crate::store::{StoreError, companies, customers, refunds};
use crate::web::AppState;
use crate::web::error::ApiError;

const CHANNELS: &[(&str, &str)] = &[
    ("quick_pay", "Quick pay"),
    ("portal", "Portal"),
    ("office", "Office"),
    ("autopay", "Autopay"),
    ("api", "API"),
];
const METHODS: &[(&str, &str)] = &[("card", "Card"), ("cash", "Cash"), ("check", "Check")];
const LIST_LIMIT: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/payments", get(list).post(create))
        .route("/office/payments/new", get(new_form))
        .route("/office/payments/{id}", get(show))
        .route("/office/payments/{id}/refund", post(refund))
        .route(
            "/office/payments/{id}/refunds/{refund_id}/retry",
            post(retry_refund),
        )
}

fn fail(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

fn label(list: &[(&str, &'static str)], key: &str) -> String {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| key.to_string())
}

fn fmt(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).format()
}

fn nonce() -> String {
    random_token(24)
}

async fn time_zone(state: &AppState, company_id: &str) -> Result<String, StoreError> {
    Ok(companies::get(&state.app.db, company_id)
        .await?
        .map(|c| c.time_zone)
        .unwrap_or_else(|| "UTC".into()))
}

/// A payment row as pages show it.
#[derive(Serialize)]
struct PaymentView {
    id: String,
    date: String,
    customer_id: String,
    customer_name: String,
    channel: String,
    method: String,
    method_detail: String,
    amount: String,
    refunded: String,
    has_refunds: bool,
    left: String,
    left_minor: i64,
    invoices: String,
    recorded_by: String,
    is_card: bool,
    /// A refund of it that failed (with the reason) or is still pending.
    refund_note: Option<String>,
    refund_failed: bool,
}

fn method_detail(p: &OfficePayment) -> String {
    match p.method.as_str() {
        "card" => match (&p.card_brand, &p.card_last4) {
            (Some(b), Some(l)) => format!("{b} ending {l}"),
            _ => "Card".into(),
        },
        "check" => match &p.check_number {
            Some(n) => format!("Check #{n}"),
            None => "Check".into(),
        },
        _ => "Cash".into(),
    }
}

fn payment_view(p: &OfficePayment, tz: &str) -> PaymentView {
    PaymentView {
        id: p.id.clone(),
        date: crate::domain::dates::display_instant(p.created_at, tz),
        customer_id: p.customer_id.clone(),
        customer_name: p.customer_name.clone(),
        channel: label(CHANNELS, &p.channel),
        method: label(METHODS, &p.method),
        method_detail: method_detail(p),
        amount: fmt(p.amount, p.currency),
        refunded: fmt(p.refunded, p.currency),
        has_refunds: p.refunded > 0,
        left: fmt(p.amount - p.refunded, p.currency),
        left_minor: p.amount - p.refunded,
        invoices: p.invoices.clone(),
        recorded_by: p.recorded_by.clone().unwrap_or_default(),
        is_card: p.method == "card",
        refund_note: None,
        refund_failed: false,
    }
}

/// What the office is told of a refund that is not simply done: `(words,
/// failed)`.
fn refund_note(status: &str, reason: Option<&str>) -> (String, bool) {
    let reason = reason.unwrap_or("").trim().trim_end_matches('.');
    match status {
        refunds::FAILED => (
            format!(
                "Refund failed: {}",
                if reason.is_empty() {
                    "refused by the card processor"
                } else {
                    reason
                }
            ),
            true,
        ),
        refunds::PENDING => (
            "Refund pending at the processor; it will be retried automatically".to_string(),
            false,
        ),
        // Succeeded, then failed at the processor after its invoices were paid again.
        _ => (format!("Refund needs attention: {reason}"), true),
    }
}

// ---------------------------------------------------------------- list

#[derive(Deserialize, Default, Serialize)]
struct ListQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    customer_id: String,
}

async fn list(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let tz = match time_zone(&state, &user.company_id).await {
        Ok(tz) => tz,
        Err(e) => return fail(e),
    };
    let mut error = None;
    let mut filter = OfficeFilter {
        channel: CHANNELS
            .iter()
            .any(|(k, _)| *k == q.channel)
            .then(|| q.channel.clone()),
        method: METHODS
            .iter()
            .any(|(k, _)| *k == q.method)
            .then(|| q.method.clone()),
        customer_id: (!q.customer_id.is_empty()).then(|| q.customer_id.clone()),
        ..OfficeFilter::default()
    };
    for (text, is_from) in [(&q.from, true), (&q.to, false)] {
        if text.trim().is_empty() {
            continue;
        }
        match crate::domain::dates::parse(text.trim()) {
            Some(d) if is_from => filter.from = Some(usecase::day_start(d, &tz)),
            Some(d) => {
                filter.until = d.next_day().map(|n| usecase::day_start(n, &tz));
            }
            None => error = Some("Enter dates as YYYY-MM-DD, for example 2026-11-28."),
        }
    }
    let (totals, rows) =
        match store::office_list(&state.app.db, &user.company_id, &filter, LIST_LIMIT).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
    // Refunds that failed or are pending, shown on their payments.
    let ids: Vec<String> = rows.iter().map(|p| p.id.clone()).collect();
    let unsettled =
        match refunds::unsettled_of_payments(&state.app.db, &user.company_id, &ids).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
    // Totals in the company's currency (the first row's, else USD).
    let currency = rows.first().map(|p| p.currency).unwrap_or(Currency::USD);
    let views: Vec<PaymentView> = rows
        .iter()
        .map(|p| {
            let mut v = payment_view(p, &tz);
            if let Some(r) = unsettled.iter().find(|r| r.payment_id == p.id) {
                let (note, failed) = refund_note(&r.status, r.reason.as_deref());
                v.refund_note = Some(note);
                v.refund_failed = failed;
            }
            v
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page_with_status(
        &state,
        &user,
        status,
        "office/payments.html",
        "payments",
        minijinja::context! {
            q => minijinja::value::Serde(&q),
            error => error,
            channels => CHANNELS.iter().map(|(k, l)| (k.to_string(), l.to_string())).collect::<Vec<_>>(),
            methods => METHODS.iter().map(|(k, l)| (k.to_string(), l.to_string())).collect::<Vec<_>>(),
            count => totals.count,
            total_amount => fmt(totals.amount, currency),
            total_refunded => fmt(totals.refunded, currency),
            total_net => fmt(totals.amount - totals.refunded, currency),
            shown => views.len(),
            payments => minijinja::value::Serde(&views),
        },
    )
}

// ---------------------------------------------------------------- record

#[derive(Deserialize, Default)]
struct NewQuery {
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    q: String,
}

#[derive(Deserialize, Default, Serialize, Clone)]
struct PaymentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    invoice_ids: Vec<String>,
    /// `cash`, `check`, `card` (a processor token) or a saved card's id.
    #[serde(default)]
    method: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    check_number: String,
    #[serde(default)]
    card_token: String,
    #[serde(default)]
    nonce: String,
}

#[derive(Default, Serialize)]
struct FormErrors {
    general: Option<String>,
    invoice_ids: Option<String>,
    amount: Option<String>,
    check_number: Option<String>,
    card: Option<String>,
    method: Option<String>,
}

#[derive(Serialize)]
struct InvoiceRow {
    id: String,
    number: String,
    address: String,
    due: String,
    total: String,
    balance: String,
    locked: bool,
    checked: bool,
}

#[derive(Serialize)]
struct CardRow {
    id: String,
    label: String,
}

async fn new_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<NewQuery>,
) -> Response {
    if q.customer_id.is_empty() {
        let hits = if q.q.trim().is_empty() {
            Vec::new()
        } else {
            match customers::search(&state.app.db, &user.company_id, q.q.trim(), 50).await {
                Ok(h) => h,
                Err(e) => return fail(e),
            }
        };
        return page(
            &state,
            &user,
            "office/payment_new.html",
            "payments",
            minijinja::context! { pick => true, find => q.q.as_str(), hits => minijinja::value::Serde(&hits) },
        );
    }
    let form = PaymentForm {
        customer_id: q.customer_id.clone(),
        method: "cash".into(),
        nonce: nonce(),
        ..PaymentForm::default()
    };
    render_form(
        &state,
        &user,
        StatusCode::OK,
        form,
        FormErrors::default(),
        true,
    )
    .await
}

/// The record-payment form for a customer; 404 for another company's customer.
async fn render_form(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    form: PaymentForm,
    errors: FormErrors,
    select_all: bool,
) -> Response {
    let customer = match customers::get(&state.app.db, &user.company_id, &form.customer_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return fail(e),
    };
    let (invoices, cards) = match tokio::try_join!(
        store::office_open_invoices(&state.app.db, &user.company_id, &customer.id),
        store::saved_methods(&state.app.db, &user.company_id, &customer.id)
    ) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // A Stripe company's card is typed into Stripe.js's fields (pm_…).
    let processor = match crate::app::processors::page_processor(&state.app, &user.company_id).await
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let currency = invoices
        .first()
        .and_then(|i| Currency::parse(&i.currency))
        .unwrap_or(Currency::USD);
    let total: i64 = invoices.iter().map(|i| i.balance).sum();
    let rows: Vec<InvoiceRow> = invoices
        .iter()
        .map(|i| {
            let c = Currency::parse(&i.currency).unwrap_or(Currency::USD);
            InvoiceRow {
                id: i.id.clone(),
                number: i.number.clone(),
                address: i.address.clone(),
                due: crate::domain::dates::display(i.due_date),
                total: fmt(i.total, c),
                balance: fmt(i.balance, c),
                locked: i.locked,
                checked: select_all || form.invoice_ids.contains(&i.id),
            }
        })
        .collect();
    let cards: Vec<CardRow> = cards
        .iter()
        .map(|m| CardRow {
            id: m.id.clone(),
            label: format!(
                "{} ending {}, expires {:02}/{:02}",
                m.brand,
                m.last4,
                m.exp_month,
                m.exp_year % 100
            ),
        })
        .collect();
    let resp = page_with_status(
        state,
        user,
        status,
        "office/payment_new.html",
        "payments",
        minijinja::context! {
            pick => false,
            customer => minijinja::value::Serde(&customer),
            invoices => minijinja::value::Serde(&rows),
            open_total => fmt(total, currency),
            cards => minijinja::value::Serde(&cards),
            form => minijinja::value::Serde(&form),
            errors => minijinja::value::Serde(&errors),
            processor => minijinja::value::Serde(&processor),
        },
    );
    // Stripe.js is allowed on this page only, and only for a Stripe company.
    crate::web::with_processor_csp(resp, &processor)
}

/// Whether a typed card's reference is one the company's processor takes:
/// a PaymentMethod id from Stripe.js for Stripe, a sandbox token otherwise.
fn card_reference_ok(reference: &str, stripe: bool) -> bool {
    let prefix = if stripe { "pm_" } else { "tok_" };
    reference.len() > prefix.len() && reference.len() <= 255 && reference.starts_with(prefix)
}

async fn create(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(form): Form<PaymentForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    let mut errors = FormErrors::default();
    if form.invoice_ids.is_empty() {
        errors.invoice_ids = Some("Select at least one invoice.".into());
    }
    let amount = if form.amount.trim().is_empty() {
        None
    } else {
        // Amounts are typed in the invoices' currency (the company's).
        let currency = companies::get(&state.app.db, &user.company_id)
            .await
            .ok()
            .flatten()
            .map(|c| c.currency)
            .unwrap_or(Currency::USD);
        match parse_amount(&form.amount, currency.minor_digits()) {
            Ok(a) => Some(a),
            Err(m) => {
                errors.amount = Some(m.into());
                None
            }
        }
    };
    let method = form.method.as_str();
    if !matches!(method, "cash" | "check" | "card") && !method.starts_with("pmt_") {
        errors.method = Some("Choose how the customer paid.".into());
    }
    if method == "check" && form.check_number.trim().is_empty() {
        errors.check_number = Some("Enter the check number.".into());
    }
    if method == "card" {
        let stripe =
            match crate::app::processors::page_processor(&state.app, &user.company_id).await {
                Ok(p) => p.is_stripe(),
                Err(e) => return fail(e),
            };
        if !card_reference_ok(form.card_token.trim(), stripe) {
            errors.card = Some(if stripe {
                "Enter the card in the card fields. Card entry needs JavaScript turned on.".into()
            } else {
                "Enter the card token (tok_…) that the processor's card form produced.".into()
            });
        }
    }
    let is_card = method == "card" || method.starts_with("pmt_");
    if is_card && amount.is_some() {
        errors.amount = Some(
            "A card payment pays the selected invoices in full: leave the amount empty, or record part of it as cash or check."
                .into(),
        );
    }
    if errors.invoice_ids.is_some()
        || errors.amount.is_some()
        || errors.method.is_some()
        || errors.check_number.is_some()
        || errors.card.is_some()
    {
        return render_form(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            errors,
            false,
        )
        .await;
    }

    if is_card {
        let payment_method = if method == "card" {
            form.card_token.trim().to_string()
        } else {
            method.to_string()
        };
        // Only this customer's own cards, checked before the charge path too.
        if form.nonce.len() < 16 || form.nonce.len() > 128 {
            errors.general = Some("This form is incomplete. Reload the page and try again.".into());
            return render_form(&state, &user, StatusCode::BAD_REQUEST, form, errors, false).await;
        }
        match customers::get(&state.app.db, &user.company_id, &form.customer_id).await {
            Ok(Some(_)) => {}
            Ok(None) => return state.views.not_found(),
            Err(e) => return fail(e),
        }
        let req = PayInvoices {
            company_id: user.company_id.clone(),
            customer_id: form.customer_id.clone(),
            invoice_ids: form.invoice_ids.clone(),
            payment_method,
            idempotency_key: format!("office:{}", form.nonce),
            channel: "office",
            enroll: None,
            actor: user.actor(),
        };
        return match usecase::pay_by_card(&state.app, req, &user.user_id).await {
            Ok(PayResult::Succeeded(s)) => {
                Redirect::to(&format!("/office/payments/{}?done=recorded", s.id)).into_response()
            }
            Ok(PayResult::Declined(d)) => {
                errors.card = Some(d.message);
                render_form(
                    &state,
                    &user,
                    StatusCode::PAYMENT_REQUIRED,
                    form,
                    errors,
                    false,
                )
                .await
            }
            Err(e) => {
                let e = ApiError::from(e);
                if e.status == StatusCode::NOT_FOUND {
                    return state.views.not_found();
                }
                let retry = [StatusCode::BAD_GATEWAY, StatusCode::SERVICE_UNAVAILABLE];
                if e.status.is_server_error() && !retry.contains(&e.status) {
                    return e.into_response();
                }
                match e.field.as_deref() {
                    Some("payment_method") => errors.card = Some(e.message),
                    Some("invoice_ids") => errors.invoice_ids = Some(e.message),
                    _ => errors.general = Some(e.message),
                }
                render_form(&state, &user, e.status, form, errors, false).await
            }
        };
    }

    let req = RecordPayment {
        company_id: user.company_id.clone(),
        customer_id: form.customer_id.clone(),
        invoice_ids: form.invoice_ids.clone(),
        method: if method == "check" {
            OfficeMethod::Check {
                number: form.check_number.clone(),
            }
        } else {
            OfficeMethod::Cash
        },
        amount,
        office_key: form.nonce.clone(),
        user_id: user.user_id.clone(),
        actor: user.actor(),
    };
    match usecase::record_payment(&state.app, &req).await {
        Ok(r) => Redirect::to(&format!(
            "/office/payments/{}?done=recorded",
            r.payment_id()
        ))
        .into_response(),
        Err(OfficePayError::NotFound) => state.views.not_found(),
        Err(OfficePayError::Store(e)) => fail(e),
        Err(e) => {
            let status = match &e {
                OfficePayError::Conflict(_) => StatusCode::CONFLICT,
                OfficePayError::Invalid { field: "form", .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            match e {
                OfficePayError::Invalid { field, message } => match field {
                    "amount" => errors.amount = Some(message),
                    "check_number" => errors.check_number = Some(message),
                    "invoice_ids" => errors.invoice_ids = Some(message),
                    _ => errors.general = Some(message),
                },
                OfficePayError::Conflict(m) | OfficePayError::Processor(m) => {
                    errors.general = Some(m)
                }
                _ => {}
            }
            render_form(&state, &user, status, form, errors, false).await
        }
    }
}

// ---------------------------------------------------------------- detail and refunds

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    done: String,
}

#[derive(Deserialize, Default, Serialize, Clone)]
struct RefundForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Serialize)]
struct AllocationRow {
    invoice_id: String,
    number: String,
    applied: String,
    given_back: String,
    balance: String,
    status: String,
}

#[derive(Serialize)]
struct RefundRow {
    id: String,
    date: String,
    amount: String,
    reason: String,
    by: String,
    pending: bool,
    failed: bool,
    /// Why it failed, why it is still pending, or what the office must check.
    note: Option<String>,
    /// When the jobs try a pending refund next.
    next_try: Option<String>,
    shares: String,
}

async fn show(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let notice = match q.done.as_str() {
        "recorded" => Some("Payment recorded."),
        "refunded" => Some("Refund recorded."),
        "pending" => Some(
            "The refund is recorded and pending at the processor; it will be retried automatically. You can also send it again below.",
        ),
        _ => None,
    };
    render_detail(&state, &user, &id, StatusCode::OK, None, None, notice).await
}

async fn render_detail(
    state: &AppState,
    user: &OfficeUser,
    id: &str,
    status: StatusCode,
    form: Option<RefundForm>,
    error: Option<(String, String)>,
    notice: Option<&str>,
) -> Response {
    let tz = match time_zone(state, &user.company_id).await {
        Ok(tz) => tz,
        Err(e) => return fail(e),
    };
    let loaded: Result<_, StoreError> = async {
        let mut conn = state.app.db.reader().acquire().await?;
        let Some(p) = store::office_get(&mut conn, &user.company_id, id).await? else {
            return Ok(None);
        };
        let received = refunds::received_by_invoice(&mut conn, &user.company_id, id).await?;
        drop(conn);
        let refunds = refunds::for_payment(&state.app.db, &user.company_id, id).await?;
        Ok(Some((p, received, refunds)))
    }
    .await;
    let (p, received, refund_list) = match loaded {
        Ok(Some(x)) => x,
        Ok(None) => return state.views.not_found(),
        Err(e) => return fail(e),
    };
    let c = p.currency;
    let allocations: Vec<AllocationRow> = received
        .iter()
        .map(|r| AllocationRow {
            invoice_id: r.invoice_id.clone(),
            number: r.invoice_number.clone(),
            applied: fmt(r.received, c),
            given_back: fmt(r.given_back, c),
            balance: fmt(r.invoice_balance, c),
            status: r.invoice_status.clone(),
        })
        .collect();
    let refund_rows: Vec<RefundRow> = refund_list
        .iter()
        .map(|r| RefundRow {
            id: r.id.clone(),
            date: crate::domain::dates::display_instant(r.created_at, &tz),
            amount: fmt(r.amount, c),
            reason: r.reason.clone(),
            by: r.created_by.clone(),
            pending: r.status == refunds::PENDING,
            failed: r.status == refunds::FAILED,
            note: match r.status.as_str() {
                refunds::FAILED => Some(refund_note(&r.status, r.last_error.as_deref()).0),
                _ => r.last_error.clone(),
            },
            next_try: r
                .next_attempt_at
                .filter(|_| r.status == refunds::PENDING)
                .map(|at| crate::domain::dates::display_instant(at, &tz)),
            shares: r
                .shares
                .iter()
                .map(|s| format!("{} {}", s.invoice_number, fmt(s.amount, c)))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let left = p.amount - p.refunded;
    let form = form.unwrap_or_else(|| RefundForm {
        amount: plain_amount(left.max(0), c.minor_digits()),
        nonce: nonce(),
        ..RefundForm::default()
    });
    let (error_field, error_message) = error.unwrap_or_default();
    page_with_status(
        state,
        user,
        status,
        "office/payment.html",
        "payments",
        minijinja::context! {
            payment => minijinja::value::Serde(&payment_view(&p, &tz)),
            allocations => minijinja::value::Serde(&allocations),
            refunds => minijinja::value::Serde(&refund_rows),
            can_refund => left > 0,
            form => minijinja::value::Serde(&form),
            error_field => error_field,
            error => error_message,
            notice => notice,
        },
    )
}

async fn refund(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(form): Form<RefundForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    let back = |status: StatusCode, field: &str, message: String, form: RefundForm| {
        let state = state.clone();
        let user = user.clone();
        let id = id.clone();
        let field = field.to_string();
        async move {
            render_detail(
                &state,
                &user,
                &id,
                status,
                Some(form),
                Some((field, message)),
                None,
            )
            .await
        }
    };
    // The payment's currency decides how the amount is read.
    let payment = {
        let found: Result<_, StoreError> = async {
            let mut conn = state.app.db.reader().acquire().await?;
            store::office_get(&mut conn, &user.company_id, &id).await
        }
        .await;
        match found {
            Ok(Some(p)) => p,
            Ok(None) => return state.views.not_found(),
            Err(e) => return fail(e),
        }
    };
    let amount = if form.amount.trim().is_empty() {
        None
    } else {
        match parse_amount(&form.amount, payment.currency.minor_digits()) {
            Ok(a) => Some(a),
            Err(m) => {
                return back(StatusCode::UNPROCESSABLE_ENTITY, "amount", m.into(), form).await;
            }
        }
    };
    if form.reason.chars().count() > 500 {
        return back(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reason",
            "Keep the reason under 500 characters.".into(),
            form,
        )
        .await;
    }
    if form.confirm != "yes" {
        // The confirmation step: say what will happen.
        let plan = match usecase::plan_refund_for(&state.app, &user.company_id, &id, amount).await {
            Ok(p) => p,
            Err(OfficePayError::NotFound) => return state.views.not_found(),
            Err(OfficePayError::Invalid { field, message }) => {
                return back(StatusCode::UNPROCESSABLE_ENTITY, field, message, form).await;
            }
            Err(OfficePayError::Store(e)) => return fail(e),
            Err(OfficePayError::Conflict(m) | OfficePayError::Processor(m)) => {
                return back(StatusCode::CONFLICT, "general", m, form).await;
            }
        };
        let tz = time_zone(&state, &user.company_id)
            .await
            .unwrap_or_else(|_| "UTC".into());
        let c = plan.currency;
        let reopens: Vec<(String, String, String)> = plan
            .reopens
            .iter()
            .map(|(_, number, a, after)| (number.clone(), fmt(*a, c), fmt(*after, c)))
            .collect();
        let confirmed = RefundForm {
            amount: plain_amount(plan.amount, c.minor_digits()),
            ..form
        };
        return page(
            &state,
            &user,
            "office/payment_refund_confirm.html",
            "payments",
            minijinja::context! {
                payment => minijinja::value::Serde(&payment_view(&payment, &tz)),
                amount => fmt(plan.amount, c),
                left_after => fmt(plan.left - plan.amount, c),
                unapplied => (plan.unapplied > 0).then(|| fmt(plan.unapplied, c)),
                reopens => reopens,
                form => minijinja::value::Serde(&confirmed),
            },
        );
    }
    let req = RefundRequest {
        company_id: user.company_id.clone(),
        payment_id: id.clone(),
        amount,
        reason: form.reason.clone(),
        idempotency_key: form.nonce.clone(),
        user_id: user.user_id.clone(),
        actor: user.actor(),
    };
    match usecase::refund(&state.app, &req).await {
        Ok(RefundOutcome::Done(_) | RefundOutcome::Replay(_)) => {
            Redirect::to(&format!("/office/payments/{id}?done=refunded")).into_response()
        }
        Ok(RefundOutcome::Pending(_)) => {
            Redirect::to(&format!("/office/payments/{id}?done=pending")).into_response()
        }
        Err(OfficePayError::NotFound) => state.views.not_found(),
        Err(OfficePayError::Store(e)) => fail(e),
        Err(OfficePayError::Invalid { field, message }) => {
            let status = if field == "form" {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let fresh = RefundForm {
                nonce: nonce(),
                ..form
            };
            back(status, field, message, fresh).await
        }
        Err(OfficePayError::Conflict(m)) => {
            let fresh = RefundForm {
                nonce: nonce(),
                ..form
            };
            back(StatusCode::CONFLICT, "general", m, fresh).await
        }
        Err(OfficePayError::Processor(m)) => {
            let fresh = RefundForm {
                nonce: nonce(),
                ..form
            };
            back(StatusCode::BAD_GATEWAY, "general", m, fresh).await
        }
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn retry_refund(
    State(state): State<AppState>,
    user: OfficeUser,
    Path((id, refund_id)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&form.csrf) {
        return r;
    }
    match usecase::retry_refund(&state.app, &user.company_id, &id, &refund_id, &user.actor()).await
    {
        Ok(RefundOutcome::Pending(_)) => {
            Redirect::to(&format!("/office/payments/{id}?done=pending")).into_response()
        }
        Ok(_) => Redirect::to(&format!("/office/payments/{id}?done=refunded")).into_response(),
        Err(OfficePayError::NotFound) => state.views.not_found(),
        Err(OfficePayError::Store(e)) => fail(e),
        Err(
            OfficePayError::Invalid { message: m, .. }
            | OfficePayError::Conflict(m)
            | OfficePayError::Processor(m),
        ) => {
            render_detail(
                &state,
                &user,
                &id,
                StatusCode::BAD_GATEWAY,
                None,
                Some(("general".into(), m)),
                None,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::card_reference_ok;

    #[test]
    fn a_typed_card_is_the_processors_own_reference() {
        assert!(card_reference_ok("tok_abc", false));
        assert!(!card_reference_ok("pm_abc", false));
        assert!(card_reference_ok("pm_abc", true));
        assert!(!card_reference_ok("tok_abc", true));
        assert!(!card_reference_ok("pm_", true));
        assert!(!card_reference_ok(&format!("pm_{}", "x".repeat(300)), true));
    }
}
