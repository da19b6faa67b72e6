//! Office: customers, their properties and their payment links.
//!
//! `/office/customers` lists and searches (`list`); `/office/customers/new`
//! and `/{id}/edit` create and edit (`form`); `/office/customers/{id}` shows
//! one customer with properties, invoices, payments, cards and the payment
//! link (`detail`); properties are added there and edited at
//! `/office/properties/{id}/edit` (`properties`); the link is rotated or
//! revoked after a confirmation (`link`).

mod detail;
mod form;
mod link;
mod list;
mod properties;

use crate::domain::customer::CustomerInput;
use std::collections::BTreeMap;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::store::StoreError;
use crate::store::customers::Customer;
use crate::web::AppState;
use crate::web::error::ApiError;

use detail::detail;
use form::{create, edit_form, new_form, update};
use link::{link_action, link_confirm};
use list::list;
use properties::{add_property, property_form, update_property};

pub(super) const LIST_LIMIT: i64 = 200;
/// How many customers the bill-to select offers.
pub(super) const CHOICES_LIMIT: i64 = 5000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/customers", get(list).post(create))
        .route("/office/customers/new", get(new_form))
        .route("/office/customers/{id}", get(detail))
        .route("/office/customers/{id}/edit", get(edit_form).post(update))
        .route(
            "/office/customers/{id}/properties",
            axum::routing::post(add_property),
        )
        .route(
            "/office/customers/{id}/link/{action}",
            get(link_confirm).post(link_action),
        )
        .route(
            "/office/properties/{id}/edit",
            get(property_form).post(update_property),
        )
}

pub(super) fn store_error(e: StoreError) -> Response {
    ApiError::from(e).into_response()
}

/// The field errors of a form, by field name, shown next to each field.
pub(super) type FieldErrors = BTreeMap<&'static str, String>;

// ---------------------------------------------------------------- rules

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CustomerForm {
    #[serde(default, skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub billing_address: String,
    /// `en`, `es`, or empty for none.
    #[serde(default)]
    pub language: String,
}

impl CustomerForm {
    /// The fields as typed, for the use case to check.
    pub fn input(&self) -> CustomerInput<'_> {
        CustomerInput {
            name: &self.name,
            email: Some(&self.email),
            phone: Some(&self.phone),
            billing_address: Some(&self.billing_address),
            language: Some(&self.language),
        }
    }

    fn of(c: &Customer) -> CustomerForm {
        CustomerForm {
            csrf: String::new(),
            name: c.name.clone(),
            email: c.email.clone().unwrap_or_default(),
            phone: c.phone.clone().unwrap_or_default(),
            billing_address: c.billing_address.clone().unwrap_or_default(),
            language: c.language.map(|l| l.code().to_string()).unwrap_or_default(),
        }
    }
}

/// An invoice's state in words (colour is never the only signal) and the
/// badge class that goes with it.
pub fn invoice_state(status: &str, due: Date, today: Date) -> (String, &'static str) {
    match status {
        "paid" => ("Paid".into(), "paid"),
        "void" => ("Void".into(), "void"),
        _ => {
            let late = (today - due).whole_days();
            match late {
                1 => ("Overdue by 1 day".into(), "overdue"),
                n if n > 1 => (format!("Overdue by {n} days"), "overdue"),
                0 => ("Due today".into(), "open"),
                _ => ("Open".into(), "open"),
            }
        }
    }
}

/// How a payment was made, in words: "Visa ending 4242", "Check", "Cash".
pub fn payment_method_words(method: &str, brand: Option<&str>, last4: Option<&str>) -> String {
    match (method, brand, last4) {
        ("card", Some(b), Some(l)) => format!("{b} ending {l}"),
        ("card", _, _) => "Card".into(),
        ("check", _, _) => "Check".into(),
        ("cash", _, _) => "Cash".into(),
        (other, _, _) => other.to_string(),
    }
}

pub fn channel_words(channel: &str) -> &'static str {
    match channel {
        "quick_pay" => "Payment link",
        "portal" => "Customer portal",
        "office" => "Office",
        "autopay" => "Autopay",
        "api" => "API",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::customer::check_address;
    use time::macros::date;

    fn form(name: &str, email: &str, phone: &str) -> CustomerForm {
        CustomerForm {
            name: name.into(),
            email: email.into(),
            phone: phone.into(),
            ..CustomerForm::default()
        }
    }

    fn validate_customer(
        f: &CustomerForm,
        region: &str,
    ) -> Result<crate::store::customers::NewCustomer, FieldErrors> {
        f.input().check(region).map_err(|errors| {
            crate::app::Rejected::from(errors)
                .by_field()
                .unwrap_or_default()
        })
    }

    #[test]
    fn customer_forms_are_checked_field_by_field() {
        let ok =
            validate_customer(&form("  Lena Landlord ", " lena@example.com ", ""), "US").unwrap();
        assert_eq!(ok.name, "Lena Landlord");
        assert_eq!(ok.email.as_deref(), Some("lena@example.com"));
        assert_eq!(ok.phone, None);

        let errors = validate_customer(&form(" ", "lena@", "12"), "US").unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["email", "name", "phone"]
        );
        let ok = validate_customer(&form("A", "", "(512) 555-0142"), "US").unwrap();
        assert_eq!(ok.phone.as_deref(), Some("+15125550142"));
        assert!(validate_customer(&form(&"x".repeat(201), "", ""), "US").is_err());
        let errors =
            validate_customer(&form("Lena\nLandlord", "", "call me maybe"), "US").unwrap_err();
        assert!(errors["name"].contains("one line"), "{errors:?}");
        assert!(errors["phone"].contains("phone number"), "{errors:?}");
    }

    #[test]
    fn addresses() {
        let address = |a: &str| check_address("address", a).map_err(|e| e.message);
        assert_eq!(address(" 1 Main St ").unwrap(), "1 Main St");
        assert_eq!(address("  ").unwrap_err(), "Enter the service address.");
        assert!(address(&"x".repeat(501)).is_err());
    }

    #[test]
    fn invoice_states_say_overdue_in_words() {
        let today = date!(2026 - 12 - 20);
        let s = |status, due| invoice_state(status, due, today);
        assert_eq!(
            s("open", date!(2026 - 12 - 19)),
            ("Overdue by 1 day".into(), "overdue")
        );
        assert_eq!(
            s("open", date!(2026 - 12 - 05)),
            ("Overdue by 15 days".into(), "overdue")
        );
        assert_eq!(s("open", today), ("Due today".into(), "open"));
        assert_eq!(s("open", date!(2027 - 01 - 05)), ("Open".into(), "open"));
        assert_eq!(s("paid", date!(2026 - 01 - 05)), ("Paid".into(), "paid"));
        assert_eq!(s("void", date!(2026 - 01 - 05)), ("Void".into(), "void"));
    }

    #[test]
    fn payment_words() {
        assert_eq!(
            payment_method_words("card", Some("Visa"), Some("4242")),
            "Visa ending 4242"
        );
        assert_eq!(payment_method_words("check", None, None), "Check");
        assert_eq!(channel_words("quick_pay"), "Payment link");
    }
}
