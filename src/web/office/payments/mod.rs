//! Office: payments (list, record cash/check/card, detail) and refunds.
//! Recording goes through `app::payments::record_office_payment` and
//! refunding through `app::refunds::refund`, as the JSON API's do.

mod detail;
mod list;
mod record;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::crypto::random_token;
use crate::domain::ids::CompanyId;
use crate::domain::money::{Currency, Money};
use crate::store::payments::OfficePayment;
use crate::store::{StoreError, companies, refunds};
use crate::web::AppState;
use crate::web::error::ApiError;

pub(super) const CHANNELS: &[(&str, &str)] = &[
    ("quick_pay", "Quick pay"),
    ("portal", "Portal"),
    ("office", "Office"),
    ("autopay", "Autopay"),
    ("api", "API"),
];

pub(super) const METHODS: &[(&str, &str)] =
    &[("card", "Card"), ("cash", "Cash"), ("check", "Check")];

pub(super) const LIST_LIMIT: i64 = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/payments", get(list::list).post(record::create))
        .route("/office/payments/new", get(record::new_form))
        .route("/office/payments/{id}", get(detail::show))
        .route("/office/payments/{id}/refund", post(detail::refund))
        .route(
            "/office/payments/{id}/refunds/{refund_id}/retry",
            post(detail::retry_refund),
        )
}

pub(super) fn fail(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

pub(super) fn label(list: &[(&str, &'static str)], key: &str) -> String {
    list.iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| key.to_string())
}

pub(super) fn fmt(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).format()
}

pub(super) fn nonce() -> String {
    random_token(24)
}

pub(super) async fn time_zone(
    state: &AppState,
    company_id: &CompanyId,
) -> Result<String, StoreError> {
    Ok(companies::get(&state.app.db, company_id)
        .await?
        .map(|c| c.time_zone)
        .unwrap_or_else(|| "UTC".into()))
}

/// A payment row as pages show it.
#[derive(Serialize)]
pub(super) struct PaymentView {
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

pub(super) fn method_detail(p: &OfficePayment) -> String {
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

pub(super) fn payment_view(p: &OfficePayment, tz: &str) -> PaymentView {
    PaymentView {
        id: p.id.to_string(),
        date: crate::domain::dates::display_instant(p.created_at, tz),
        customer_id: p.customer_id.to_string(),
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
pub(super) fn refund_note(status: &str, reason: Option<&str>) -> (String, bool) {
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
