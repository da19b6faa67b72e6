//! Typed ids: a customer's id is a `CustomerId`, an invoice's an
//! `InvoiceId`, a company's a `CompanyId`, an office user's a `UserId`, and
//! one cannot be passed where the other is meant — paying
//! the wrong invoice or opening another customer's page by a swapped
//! argument does not compile.
//!
//! ```compile_fail
//! use fieldpay::domain::ids::{CustomerId, InvoiceId};
//! fn invoices_of(customer: &CustomerId) -> usize { customer.len() }
//! let invoice = InvoiceId::from("inv_1");
//! invoices_of(&invoice); // an invoice's id is not a customer's
//! ```
//!
//! A company's id scopes every store call and use case; a customer's id
//! passed in its place does not compile either:
//!
//! ```compile_fail,E0308
//! use fieldpay::app::Actor;
//! use fieldpay::domain::ids::CustomerId;
//! let customer = CustomerId::from("cus_1");
//! let job = Actor::system(&customer, "reconciler"); // a customer's id is not a company's
//! ```
//!
//! ```
//! use fieldpay::app::Actor;
//! use fieldpay::domain::ids::CompanyId;
//! let company = CompanyId::from("co_1");
//! let job = Actor::system(&company, "reconciler");
//! assert_eq!(job.company_id(), &company);
//! ```
//!
//! ```compile_fail
//! use fieldpay::domain::ids::{CustomerId, PaymentId};
//! let customer = CustomerId::from("cus_1");
//! let payment: PaymentId = customer; // no silent conversion between kinds
//! ```
//!
//! They stay easy to use where text is meant: every id derefs to `&str`
//! (`&id` passes where `&str` is taken, `id.starts_with(…)` works), compares
//! with `str`, `&str` and `String`, is made from `String` and `&str`,
//! displays as its text, is serialized as a plain JSON string
//! (`#[serde(transparent)]`), stored as `TEXT` on both databases
//! (`store::sql` binds and decodes it), and is documented in the OpenAPI
//! document as a string.
//!
//! ```
//! use fieldpay::domain::ids::InvoiceId;
//! fn takes_text(s: &str) -> usize { s.len() }
//! let id = InvoiceId::from("inv_1");
//! assert_eq!(takes_text(&id), 5);
//! assert_eq!(id, "inv_1");
//! assert_eq!(serde_json::to_string(&id).unwrap(), "\"inv_1\"");
//! assert!(InvoiceId::new().starts_with("inv_"));
//! ```

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

macro_rules! ids {
    ($( $(#[$doc:meta])* $name:ident = $prefix:literal; )*) => {$(
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The prefix of the ids this kind is made with (`prefix_…`).
            pub const PREFIX: &'static str = $prefix;

            /// A new random id (`crypto::new_id`, with this kind's prefix).
            pub fn new() -> Self {
                Self(crate::crypto::new_id($prefix))
            }

            /// A new id that sorts after those this process made before
            /// (`crypto::new_id_in_order`): for rows inserted as they are
            /// created, whose index then grows at its end.
            pub fn new_in_order(at: time::OffsetDateTime) -> Self {
                Self(crate::crypto::new_id_in_order($prefix, at))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                Self(s.clone())
            }
        }

        impl From<&$name> for $name {
            fn from(s: &$name) -> Self {
                s.clone()
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<&$name> for $name {
            fn eq(&self, other: &&$name) -> bool {
                self.0 == other.0
            }
        }

        impl PartialEq<$name> for &$name {
            fn eq(&self, other: &$name) -> bool {
                self.0 == other.0
            }
        }

        impl PartialEq<&$name> for String {
            fn eq(&self, other: &&$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        /// In page templates: the id's text.
        impl From<$name> for minijinja::Value {
            fn from(id: $name) -> Self {
                minijinja::Value::from(id.0)
            }
        }

        /// In the OpenAPI document: a string, as before ids had types.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <String as utoipa::PartialSchema>::schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    )*};
}

ids! {
    /// A company's id (`co_…`): every store call names one.
    CompanyId = "co";
    /// A customer's id (`cus_…`).
    CustomerId = "cus";
    /// A service address's id (`prop_…`).
    PropertyId = "prop";
    /// An invoice's id (`inv_…`).
    InvoiceId = "inv";
    /// A recorded payment's id (`pay_…`).
    PaymentId = "pay";
    /// A charge attempt's id (`att_…`).
    AttemptId = "att";
    /// A refund's id (`ref_…`).
    RefundId = "ref";
    /// A saved card's id (`pmt_…`).
    CardId = "pmt";
    /// A payment link's id (`lnk_…`).
    LinkId = "lnk";
    /// An autopay enrollment's id (`ape_…`).
    AutopayEnrollmentId = "ape";
    /// An email template's id (`etpl_…`).
    EmailTemplateId = "etpl";
    /// An SMS template's id (`stpl_…`).
    SmsTemplateId = "stpl";
    /// An invoice alert rule's id (`alert_…`).
    AlertRuleId = "alert";
    /// A webhook endpoint's id (`we_…`).
    WebhookEndpointId = "we";
    /// A webhook delivery's id (`wd_…`): one event sent to one endpoint.
    WebhookDeliveryId = "wd";
    /// A webhook event's id (`evt_…`).
    WebhookEventId = "evt";
    /// A message's id (`msg_…`).
    MessageId = "msg";
    /// An office user's id (`usr_…`).
    UserId = "usr";
}

/// Calls the macro `$m` with every id kind (`$m!(CompanyId, CustomerId, …)`),
/// so what is implemented for each kind elsewhere (the store's encodings)
/// lists them once, here.
macro_rules! for_each_id {
    ($m:ident) => {
        $m!(
            CompanyId,
            CustomerId,
            PropertyId,
            InvoiceId,
            PaymentId,
            AttemptId,
            RefundId,
            CardId,
            LinkId,
            AutopayEnrollmentId,
            EmailTemplateId,
            SmsTemplateId,
            AlertRuleId,
            WebhookEndpointId,
            WebhookDeliveryId,
            WebhookEventId,
            MessageId,
            UserId,
        );
    };
}
pub(crate) use for_each_id;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn ids_read_as_their_text() {
        let id = CustomerId::from("cus_1");
        assert_eq!(id, "cus_1");
        assert_eq!("cus_1", id);
        assert_eq!(id, String::from("cus_1"));
        assert_eq!(id.to_string(), "cus_1");
        assert_eq!(format!("{id:?}"), "\"cus_1\"");
        let text: &str = &id;
        assert_eq!(text, "cus_1");
        // Map keys looked up by text.
        let mut m = HashMap::new();
        m.insert(id.clone(), 1);
        assert_eq!(m.get("cus_1"), Some(&1));
    }

    #[test]
    fn new_ids_carry_their_kinds_prefix() {
        let a = InvoiceId::new();
        assert!(a.starts_with("inv_"), "{a}");
        assert_ne!(a, InvoiceId::new());
        assert!(PaymentId::new().starts_with("pay_"));
        assert!(CustomerId::new().starts_with("cus_"));
        assert!(WebhookDeliveryId::new().starts_with("wd_"));
        assert!(WebhookEventId::new().starts_with("evt_"));
    }

    #[test]
    fn ids_in_order_sort_as_made_and_keep_their_prefix() {
        let clock = crate::domain::Clock::system();
        let first = AttemptId::new_in_order(clock.now());
        let second = AttemptId::new_in_order(clock.now());
        assert!(first.starts_with("att_") && second.starts_with("att_"));
        assert!(first < second, "{first} then {second}");
        // Made at the same instant, they still sort as made: the process's
        // counter follows the time.
        let at = clock.now();
        let ids: Vec<PaymentId> = (0..50).map(|_| PaymentId::new_in_order(at)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        // Ten random characters after time and counter: not guessable.
        assert_eq!(first.len(), "att_".len() + 8 + 6 + 10);
    }

    #[test]
    fn json_is_a_plain_string() {
        let id: PaymentId = serde_json::from_str("\"pay_9\"").unwrap();
        assert_eq!(id, "pay_9");
        assert_eq!(
            serde_json::to_value(&id).unwrap(),
            serde_json::json!("pay_9")
        );
    }
}
