//! Office autopay: the overview (`overview`: upcoming charges for the next 14
//! days, the last run's results, retries pending, "Autopay problems"),
//! Settings › Autopay (`settings`), and a customer's autopay (`customer`:
//! office enrollment with the consent the customer stated, a card per
//! property, turning it off).

mod customer;
mod overview;
mod settings;

use axum::Router;
use axum::response::Response;
use axum::routing::get;

use crate::domain::autopay as rules;
use crate::domain::dates;
use crate::domain::money::{Currency, Money};
use crate::web::AppState;
use crate::web::error::ApiError;

use customer::{cancel, cancel_confirm, customer_page, enroll, set_property_cards};
use overview::overview;
use settings::{save_settings, settings_page};

type Page = Result<Response, ApiError>;

const OVERVIEW: &str = "/office/autopay";
const SETTINGS: &str = "/office/settings/autopay";
/// Days ahead the overview lists upcoming charges.
const UPCOMING_DAYS: i64 = 14;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(OVERVIEW, get(overview))
        .route(SETTINGS, get(settings_page).post(save_settings))
        .route(
            "/office/customers/{id}/autopay",
            get(customer_page).post(enroll),
        )
        .route(
            "/office/customers/{id}/autopay/properties",
            axum::routing::post(set_property_cards),
        )
        .route(
            "/office/customers/{id}/autopay/cancel",
            get(cancel_confirm).post(cancel),
        )
}

fn money(minor: i64, currency: &str) -> String {
    Money::new(minor, Currency::parse(currency).unwrap_or(Currency::USD)).format()
}

/// "9:00 AM".
pub fn hour_label(hour: u8) -> String {
    let (h, half) = match hour {
        0 => (12, "AM"),
        1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        _ => (hour - 12, "PM"),
    };
    format!("{h}:00 {half}")
}

fn card_label(brand: &str, last4: &str, exp_month: i64, exp_year: i64) -> String {
    crate::web::pay::method_label(
        crate::domain::i18n::Lang::En,
        brand,
        last4,
        exp_month,
        exp_year,
    )
}

/// What a result came to, in words.
fn outcome_words(outcome: &str, code: Option<&str>, next: Option<time::Date>) -> String {
    let why = code.map(rules::decline_words).unwrap_or("");
    match (outcome, next) {
        ("paid", _) => "Paid".to_string(),
        ("retry", Some(d)) => format!("Declined ({why}): next try {}", dates::display(d)),
        ("dropped", _) => format!("Declined ({why}): back to manual payment"),
        ("not_charged", _) => "Not charged: tried again on the next run day".to_string(),
        _ => format!("Declined ({why})"),
    }
}

fn chosen(v: &str) -> Option<String> {
    Some(v.trim()).filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_in_words() {
        assert_eq!(hour_label(0), "12:00 AM");
        assert_eq!(hour_label(9), "9:00 AM");
        assert_eq!(hour_label(12), "12:00 PM");
        assert_eq!(hour_label(17), "5:00 PM");
    }

    #[test]
    fn outcomes_in_words() {
        assert_eq!(outcome_words("paid", None, None), "Paid");
        let d = time::macros::date!(2026 - 12 - 18);
        assert_eq!(
            outcome_words("retry", Some("insufficient_funds"), Some(d)),
            "Declined (Insufficient funds): next try Dec 18, 2026"
        );
        assert_eq!(
            outcome_words("dropped", Some("expired_card"), None),
            "Declined (The card has expired): back to manual payment"
        );
    }
}
