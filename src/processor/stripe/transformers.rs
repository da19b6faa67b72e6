//! Stripe's wire format mapped to ours: the core never sees Stripe's field names.
//!
//! Requests are form-encoded (`a[b]=c`), responses JSON. Everything here is
//! pure (no I/O), so it is tested against the shapes Stripe documents and the
//! ones localstripe sends.

use std::collections::HashMap;

use serde::Deserialize;

use crate::domain::money::{Currency, Money};
use crate::processor::{CardSummary, Charge, ChargeOutcome, Decline, Refund, RefundStatus};

// The webhook signature lives in `signature`; its names stay reachable here.
pub use super::signature::{SignatureError, sign, verify_signature};

/// Where our attempt id is kept on a PaymentIntent (and so searched for).
pub const ATTEMPT_METADATA: &str = "attempt_id";
/// Set on a PaymentIntent whose card was kept for later charges.
pub const SAVED_METADATA: &str = "saved_method";
/// Where our refund id is kept on a Stripe Refund we made.
pub const REFUND_METADATA: &str = "fieldpay_refund_id";

pub type Form = Vec<(String, String)>;

fn pair(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_string(), v.into())
}

/// What a PaymentIntent is created with.
pub struct IntentParams<'a> {
    pub attempt_id: &'a str,
    pub amount: Money,
    pub payment_method: &'a str,
    pub customer: Option<&'a str>,
    pub off_session: bool,
    pub saved: bool,
    pub description: &'a str,
}

/// `POST /v1/payment_intents`, created and confirmed at once.
pub fn payment_intent_form(p: &IntentParams<'_>) -> Form {
    let mut f = vec![
        pair("amount", p.amount.minor.to_string()),
        pair("currency", p.amount.currency.code().to_ascii_lowercase()),
        pair("payment_method", p.payment_method),
        pair("confirm", "true"),
        pair(&format!("metadata[{ATTEMPT_METADATA}]"), p.attempt_id),
        // localstripe refuses `description`; the metadata carries it.
        pair("metadata[description]", truncate(p.description, 450)),
        pair("expand[0]", "payment_method"),
    ];
    if let Some(c) = p.customer {
        f.push(pair("customer", c));
    }
    if p.off_session {
        f.push(pair("off_session", "true"));
    }
    if p.saved {
        f.push(pair(&format!("metadata[{SAVED_METADATA}]"), "true"));
    }
    f
}

/// `POST /v1/customers`.
pub fn customer_form(reference: &str) -> Form {
    vec![pair("metadata[fieldpay_reference]", reference)]
}

/// `POST /v1/payment_methods/{id}/attach`.
pub fn attach_form(customer: &str) -> Form {
    vec![pair("customer", customer)]
}

/// `POST /v1/refunds`.
pub fn refund_form(payment_intent: &str, amount: i64, refund_id: &str) -> Form {
    vec![
        pair("payment_intent", payment_intent),
        pair("amount", amount.to_string()),
        pair(&format!("metadata[{REFUND_METADATA}]"), refund_id),
    ]
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// A Stripe id, or the object it names when expanded.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(o) => o.id(),
        }
    }

    pub fn object(&self) -> Option<&T> {
        match self {
            Expandable::Id(_) => None,
            Expandable::Object(o) => Some(o),
        }
    }
}

pub trait HasId {
    fn id(&self) -> &str;
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeCard {
    #[serde(default)]
    pub brand: Option<String>,
    #[serde(default)]
    pub last4: Option<String>,
    #[serde(default)]
    pub exp_month: Option<i64>,
    #[serde(default)]
    pub exp_year: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripePaymentMethod {
    pub id: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub card: Option<StripeCard>,
}

impl HasId for StripePaymentMethod {
    fn id(&self) -> &str {
        &self.id
    }
}

impl StripePaymentMethod {
    pub fn summary(&self) -> CardSummary {
        let card = self.card.as_ref();
        CardSummary {
            brand: brand_name(card.and_then(|c| c.brand.as_deref()).unwrap_or("")).to_string(),
            last4: card.and_then(|c| c.last4.clone()).unwrap_or_default(),
            exp_month: card.and_then(|c| c.exp_month).unwrap_or(0),
            exp_year: card.and_then(|c| c.exp_year).unwrap_or(0),
        }
    }
}

/// Stripe's brand codes as people write them.
pub fn brand_name(code: &str) -> &'static str {
    match code.to_ascii_lowercase().as_str() {
        "visa" => "Visa",
        "mastercard" => "Mastercard",
        "amex" | "american express" => "American Express",
        "discover" => "Discover",
        "diners" => "Diners Club",
        "jcb" => "JCB",
        "unionpay" => "UnionPay",
        _ => "Card",
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeCustomer {
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StripeApiError {
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeErrorBody {
    pub error: StripeApiError,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripePaymentIntent {
    pub id: String,
    pub status: String,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub customer: Option<String>,
    #[serde(default)]
    pub payment_method: Option<Expandable<StripePaymentMethod>>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    pub last_payment_error: Option<StripeApiError>,
    #[serde(default)]
    pub created: i64,
    /// What Stripe.js needs to complete a `requires_action` intent.
    #[serde(default)]
    pub client_secret: Option<String>,
}

impl HasId for StripePaymentIntent {
    fn id(&self) -> &str {
        &self.id
    }
}

impl StripePaymentIntent {
    pub fn attempt_id(&self) -> Option<&str> {
        self.metadata.get(ATTEMPT_METADATA).map(String::as_str)
    }

    pub fn money(&self) -> Money {
        Money::new(
            self.amount,
            Currency::parse(&self.currency.to_ascii_uppercase())
                .or_else(|| Currency::parse(&self.currency))
                .unwrap_or(Currency::USD),
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeList<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeRefund {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub charge: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

impl StripeRefund {
    /// Our refund id when fieldpay made this refund.
    pub fn ours(&self) -> Option<&str> {
        self.metadata.get(REFUND_METADATA).map(String::as_str)
    }

    /// Stripe's refund status as ours: `pending` and `requires_action`
    /// are not final; `failed` and `canceled` will never be paid out. A
    /// refund without a status (older API versions, localstripe) is done.
    pub fn state(&self) -> RefundStatus {
        match self.status.as_deref() {
            None | Some("succeeded") => RefundStatus::Succeeded,
            Some("failed") => RefundStatus::Failed(
                self.failure_reason
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "failed".into()),
            ),
            Some("canceled") => RefundStatus::Failed("canceled".into()),
            // pending, requires_action, and anything newer: ask again.
            Some(_) => RefundStatus::Pending,
        }
    }

    /// The refund as the core sees it; `currency` when Stripe did not say.
    pub fn to_refund(&self, currency: Currency) -> Refund {
        let currency = self
            .currency
            .as_deref()
            .and_then(Currency::parse)
            .unwrap_or(currency);
        Refund {
            id: self.id.clone(),
            amount: Money::new(self.amount, currency),
            status: self.state(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeCharge {
    pub id: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    #[serde(default)]
    pub refunds: Option<StripeList<StripeRefund>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeDispute {
    pub id: String,
    pub charge: String,
    #[serde(default)]
    pub payment_intent: Option<String>,
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StripeEventData {
    pub object: serde_json::Value,
}

/// A webhook event. Only its id, type and the id of its object are
/// trusted; the object itself is read again from Stripe.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: StripeEventData,
}

impl StripeEvent {
    pub fn object_id(&self) -> Option<&str> {
        self.data.object.get("id").and_then(|v| v.as_str())
    }
}

/// The events fieldpay acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    PaymentSucceeded,
    PaymentFailed,
    ChargeRefunded,
    /// A refund was made or changed status (its object is the refund).
    RefundUpdated,
    DisputeCreated,
    Other,
}

pub fn event_kind(kind: &str) -> EventKind {
    match kind {
        "payment_intent.succeeded" => EventKind::PaymentSucceeded,
        "payment_intent.payment_failed" => EventKind::PaymentFailed,
        "charge.refunded" => EventKind::ChargeRefunded,
        "charge.refund.updated" | "refund.created" | "refund.updated" | "refund.failed" => {
            EventKind::RefundUpdated
        }
        "charge.dispute.created" => EventKind::DisputeCreated,
        _ => EventKind::Other,
    }
}

/// Our decline code for Stripe's error: its `decline_code` (issuer's
/// reason) first, then its `code`. Reasons a cardholder must not be told
/// (lost, stolen, fraud) become a plain `card_declined`.
pub fn decline_code(e: &StripeApiError) -> &'static str {
    let pick = |c: &str| -> Option<&'static str> {
        Some(match c {
            "insufficient_funds" => "insufficient_funds",
            "expired_card" => "expired_card",
            "incorrect_cvc" | "invalid_cvc" => "incorrect_cvc",
            "incorrect_number" | "invalid_number" => "incorrect_number",
            "processing_error" => "processing_error",
            "authentication_required" | "payment_intent_authentication_failure" => {
                "authentication_required"
            }
            "card_declined"
            | "generic_decline"
            | "do_not_honor"
            | "lost_card"
            | "stolen_card"
            | "fraudulent"
            | "pickup_card"
            | "restricted_card"
            | "merchant_blacklist"
            | "card_velocity_exceeded"
            | "transaction_not_allowed" => "card_declined",
            _ => return None,
        })
    };
    e.decline_code
        .as_deref()
        .and_then(pick)
        .or_else(|| e.code.as_deref().and_then(pick))
        .unwrap_or("card_declined")
}

/// What a failed request to Stripe means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The card was refused: nothing was charged.
    Declined(String),
    /// The request named something Stripe does not know or will not use
    /// (payment method, charge): nothing was charged.
    Invalid(String),
    /// The outcome is unknown or Stripe failed (network, 5xx, 429, keys).
    Unavailable(String),
}

/// Classifies an HTTP error answer from Stripe.
pub fn classify(status: u16, body: &str) -> Failure {
    let err = serde_json::from_str::<StripeErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_default();
    let kind = err.kind.as_deref().unwrap_or("");
    let what = format!(
        "stripe {status} {kind} {}",
        err.code.as_deref().unwrap_or("")
    );
    match status {
        402 => Failure::Declined(decline_code(&err).to_string()),
        _ if kind == "card_error" => Failure::Declined(decline_code(&err).to_string()),
        400 | 404 if kind == "invalid_request_error" || kind.is_empty() => Failure::Invalid(what),
        // 401/403 (keys), 409 (idempotency race), 429 (rate limit), 5xx.
        _ => Failure::Unavailable(what),
    }
}

/// What a PaymentIntent's state means for an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentState {
    Final(ChargeOutcome),
    /// The customer must authenticate (3-D Secure); not charged yet.
    NeedsAction,
    /// Created but never confirmed: not charged.
    Unconfirmed,
    /// Still moving (`processing`): ask again later.
    InFlight,
}

pub fn intent_state(pi: &StripePaymentIntent, saved_customer: Option<&str>) -> IntentState {
    match pi.status.as_str() {
        "succeeded" => {
            let method = pi.payment_method.as_ref();
            let card = method
                .and_then(|m| m.object())
                .map(StripePaymentMethod::summary)
                .unwrap_or(CardSummary {
                    brand: "Card".into(),
                    last4: String::new(),
                    exp_month: 0,
                    exp_year: 0,
                });
            let saved = pi.metadata.get(SAVED_METADATA).map(String::as_str) == Some("true");
            IntentState::Final(ChargeOutcome::Succeeded(Charge {
                id: pi.id.clone(),
                amount: pi.money(),
                card,
                saved_method: if saved {
                    method.map(|m| m.id().to_string())
                } else {
                    None
                },
                processor_customer: if saved {
                    pi.customer.clone().or(saved_customer.map(str::to_string))
                } else {
                    None
                },
            }))
        }
        "requires_action" => IntentState::NeedsAction,
        "requires_confirmation" => IntentState::Unconfirmed,
        "processing" | "requires_capture" => IntentState::InFlight,
        // requires_payment_method after a failure, canceled.
        _ => {
            let code = pi
                .last_payment_error
                .as_ref()
                .map(decline_code)
                .unwrap_or("card_declined");
            IntentState::Final(ChargeOutcome::Declined(Decline::new(code)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: &str, code: Option<&str>, decline: Option<&str>) -> String {
        serde_json::json!({"error": {"type": kind, "code": code, "decline_code": decline, "message": "x"}})
            .to_string()
    }

    #[test]
    fn errors_are_classified() {
        assert_eq!(
            classify(
                402,
                &err(
                    "card_error",
                    Some("card_declined"),
                    Some("insufficient_funds")
                )
            ),
            Failure::Declined("insufficient_funds".into())
        );
        assert_eq!(
            classify(402, &err("card_error", Some("expired_card"), None)),
            Failure::Declined("expired_card".into())
        );
        assert_eq!(
            classify(402, &err("card_error", Some("incorrect_cvc"), None)),
            Failure::Declined("incorrect_cvc".into())
        );
        assert_eq!(
            classify(
                402,
                &err("card_error", Some("card_declined"), Some("stolen_card"))
            ),
            Failure::Declined("card_declined".into())
        );
        assert_eq!(
            classify(
                402,
                &err("card_error", Some("authentication_required"), None)
            ),
            Failure::Declined("authentication_required".into())
        );
        // localstripe's shape: 402, invalid_request_error, code card_declined.
        assert_eq!(
            classify(
                402,
                &err("invalid_request_error", Some("card_declined"), None)
            ),
            Failure::Declined("card_declined".into())
        );
        assert!(matches!(
            classify(
                404,
                &err("invalid_request_error", Some("resource_missing"), None)
            ),
            Failure::Invalid(_)
        ));
        assert!(matches!(
            classify(500, &err("api_error", None, None)),
            Failure::Unavailable(_)
        ));
        assert!(matches!(
            classify(429, &err("invalid_request_error", Some("rate_limit"), None)),
            Failure::Unavailable(_)
        ));
        assert!(matches!(
            classify(401, &err("invalid_request_error", None, None)),
            Failure::Unavailable(_)
        ));
        assert!(matches!(classify(502, "<html>"), Failure::Unavailable(_)));
    }

    #[test]
    fn every_decline_has_words_for_the_customer() {
        for code in [
            "insufficient_funds",
            "expired_card",
            "incorrect_cvc",
            "incorrect_number",
        ] {
            let d = Decline::new(code);
            assert_ne!(
                d.message,
                Decline::new("card_declined").message,
                "{code} has its own message"
            );
        }
    }

    fn intent(status: &str, extra: serde_json::Value) -> StripePaymentIntent {
        let mut v = serde_json::json!({
            "id": "pi_1", "status": status, "amount": 12500, "currency": "usd",
            "customer": null, "metadata": {"attempt_id": "att_1"},
            "payment_method": {"id": "pm_1", "customer": null,
                "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}}
        });
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn intents_map_to_outcomes() {
        let IntentState::Final(ChargeOutcome::Succeeded(c)) =
            intent_state(&intent("succeeded", serde_json::json!({})), None)
        else {
            panic!("not a success");
        };
        assert_eq!(c.id, "pi_1");
        assert_eq!(c.amount, Money::new(12500, Currency::USD));
        assert_eq!(c.card.brand, "Visa");
        assert_eq!(c.card.last4, "4242");
        assert_eq!(c.saved_method, None);

        let saved = intent(
            "succeeded",
            serde_json::json!({"customer": "cus_1", "metadata": {"attempt_id": "att_1", "saved_method": "true"}}),
        );
        let IntentState::Final(ChargeOutcome::Succeeded(c)) = intent_state(&saved, None) else {
            panic!("not a success");
        };
        assert_eq!(c.saved_method.as_deref(), Some("pm_1"));
        assert_eq!(c.processor_customer.as_deref(), Some("cus_1"));

        let failed = intent(
            "requires_payment_method",
            serde_json::json!({"last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"}}),
        );
        assert_eq!(
            intent_state(&failed, None),
            IntentState::Final(ChargeOutcome::Declined(Decline::new("insufficient_funds")))
        );
        assert_eq!(
            intent_state(&intent("requires_action", serde_json::json!({})), None),
            IntentState::NeedsAction
        );
        assert_eq!(
            intent_state(&intent("processing", serde_json::json!({})), None),
            IntentState::InFlight
        );
        // An unexpanded payment method still parses.
        let bare = intent("succeeded", serde_json::json!({"payment_method": "pm_9"}));
        assert_eq!(bare.payment_method.as_ref().map(|m| m.id()), Some("pm_9"));
    }

    #[test]
    fn forms_carry_the_attempt_and_off_session() {
        let f = payment_intent_form(&IntentParams {
            attempt_id: "att_1",
            amount: Money::new(500, Currency::USD),
            payment_method: "pm_1",
            customer: Some("cus_1"),
            off_session: true,
            saved: false,
            description: "Invoices 1001",
        });
        let get = |k: &str| f.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("amount"), Some("500"));
        assert_eq!(get("currency"), Some("usd"));
        assert_eq!(get("metadata[attempt_id]"), Some("att_1"));
        assert_eq!(get("off_session"), Some("true"));
        assert_eq!(get("confirm"), Some("true"));
        assert_eq!(get("customer"), Some("cus_1"));
    }

    #[test]
    fn refund_statuses_map_to_ours() {
        let refund = |status: Option<&str>, reason: Option<&str>| -> StripeRefund {
            serde_json::from_value(serde_json::json!({
                "id": "re_1", "amount": 500, "currency": "usd", "status": status,
                "failure_reason": reason, "payment_intent": "pi_1",
                "metadata": {"fieldpay_refund_id": "ref_1"}
            }))
            .unwrap()
        };
        assert_eq!(refund(None, None).state(), RefundStatus::Succeeded);
        assert_eq!(
            refund(Some("succeeded"), None).state(),
            RefundStatus::Succeeded
        );
        assert_eq!(refund(Some("pending"), None).state(), RefundStatus::Pending);
        assert_eq!(
            refund(Some("requires_action"), None).state(),
            RefundStatus::Pending
        );
        assert_eq!(
            refund(Some("failed"), Some("expired_or_canceled_card")).state(),
            RefundStatus::Failed("expired_or_canceled_card".into())
        );
        assert_eq!(
            refund(Some("failed"), None).state(),
            RefundStatus::Failed("failed".into())
        );
        assert_eq!(
            refund(Some("canceled"), None).state(),
            RefundStatus::Failed("canceled".into())
        );
        let r = refund(Some("pending"), None);
        assert_eq!(r.ours(), Some("ref_1"));
        assert_eq!(r.payment_intent.as_deref(), Some("pi_1"));
        let core = r.to_refund(Currency::parse("eur").unwrap());
        assert_eq!(core.amount, Money::new(500, Currency::USD));
        assert_eq!(core.status, RefundStatus::Pending);
    }

    #[test]
    fn refund_events_are_told_apart_from_charge_events() {
        assert_eq!(event_kind("charge.refunded"), EventKind::ChargeRefunded);
        for kind in [
            "charge.refund.updated",
            "refund.created",
            "refund.updated",
            "refund.failed",
        ] {
            assert_eq!(event_kind(kind), EventKind::RefundUpdated, "{kind}");
        }
        assert_eq!(event_kind("customer.created"), EventKind::Other);
    }
}
