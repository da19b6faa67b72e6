//! Card processors behind one trait. The core sees tokens, brand, last 4 and
//! expiry; card numbers reach only the processor's own module.

pub mod sandbox;
mod sandbox_cards;
pub mod stripe;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

pub use crate::domain::processor::{CardSummary, Charge, PageProcessor, ProcessorKind};

use crate::domain::money::Money;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What is charged: a one-time token from the processor's card fields, or a
/// method saved at the processor earlier.
#[derive(Debug, Clone)]
pub enum ChargeSource {
    Token(String),
    SavedMethod(String),
}

#[derive(Debug, Clone)]
pub struct ChargeRequest {
    /// Our payment attempt's id: the processor never charges one key twice.
    pub idempotency_key: String,
    pub amount: Money,
    pub source: ChargeSource,
    /// Keep the card at the processor for later charges (autopay).
    pub save_method: bool,
    /// The customer is not present (autopay).
    pub off_session: bool,
    pub processor_customer: Option<String>,
    pub description: String,
}

/// What is known of an attempt when the processor is asked about it.
#[derive(Debug, Clone)]
pub struct ChargeLookup {
    /// Our attempt's id: the charge's idempotency key.
    pub idempotency_key: String,
    /// When the attempt was written; its charge was made after.
    pub created_at: time::OffsetDateTime,
    /// The processor's own id of the charge, once it was learnt.
    pub processor_ref: Option<String>,
}

impl ChargeLookup {
    /// A lookup by key alone, for a charge made since `created_at`.
    pub fn by_key(idempotency_key: &str, created_at: time::OffsetDateTime) -> ChargeLookup {
        ChargeLookup {
            idempotency_key: idempotency_key.to_string(),
            created_at,
            processor_ref: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decline {
    pub code: String,
    /// Words a customer understands.
    pub message: String,
}

impl Decline {
    pub fn new(code: &str) -> Decline {
        Decline {
            code: code.to_string(),
            message: decline_message(code).to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChargeOutcome {
    Succeeded(Charge),
    Declined(Decline),
    /// The bank asks the customer to authenticate (3-D Secure) before it
    /// charges: nothing is charged yet. The page completes it with the
    /// client secret; `find_charge` tells the outcome afterwards, and
    /// `cancel_charge` ends one that is never completed.
    RequiresAction {
        charge_id: String,
        client_secret: String,
    },
}

/// A card kept at the processor without a charge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCard {
    pub method_id: String,
    pub card: CardSummary,
    pub processor_customer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SaveOutcome {
    Saved(SavedCard),
    Declined(Decline),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessorError {
    /// The token or method is unknown, used up, or not this processor's.
    InvalidSource(String),
    /// The processor could not be reached or failed; the outcome is unknown.
    Unavailable(String),
}

impl std::fmt::Display for ProcessorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProcessorError::InvalidSource(m) => write!(f, "invalid payment method: {m}"),
            ProcessorError::Unavailable(m) => write!(f, "processor unavailable: {m}"),
        }
    }
}

/// Where a refund stands at the processor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundStatus {
    /// The money goes back to the card.
    Succeeded,
    /// Accepted but not final yet (Stripe's `pending`, `requires_action`):
    /// ask again later.
    Pending,
    /// It will not be paid out (Stripe's `failed`, `canceled`), with the
    /// processor's reason.
    Failed(String),
}

/// A refund as the processor reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub amount: Money,
    pub status: RefundStatus,
}

/// A card processor. Every call that moves money takes an idempotency key.
pub trait PaymentProcessor: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Which account at the processor this is, without secrets: recorded
    /// with every attempt, payment and refund, so each is reconciled with
    /// the account that made it (`processor_of`).
    fn account(&self) -> String {
        self.name().to_string()
    }

    fn charge(&self, req: ChargeRequest) -> BoxFuture<'_, Result<ChargeOutcome, ProcessorError>>;

    /// Keeps a card (from a one-time token) for later charges, without
    /// charging it; the bank may refuse it here already.
    fn save_method(
        &self,
        token: String,
        processor_customer: Option<String>,
    ) -> BoxFuture<'_, Result<SaveOutcome, ProcessorError>>;

    /// The outcome of an earlier charge, or `None` when the processor has
    /// no charge for it. The answer must reflect every charge already made
    /// (no eventually consistent index): reconciliation concludes "never
    /// charged" from `None` once the attempt is older than any request
    /// could still be in flight (`payments::NOT_FOUND_AFTER`).
    fn find_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>>;

    /// Refunds (part of) a charge. The same key again answers the refund it
    /// made the first time (with its status now), never a second refund;
    /// `InvalidSource` when the processor refuses it (unknown charge, more
    /// than is left): nothing was refunded.
    fn refund(
        &self,
        charge_id: String,
        amount: Money,
        idempotency_key: String,
    ) -> BoxFuture<'_, Result<Refund, ProcessorError>>;

    /// The refund of this charge made under this idempotency key, as the
    /// processor reports it now, or `None` when it never received one
    /// (reconciliation asks this before sending a refund again).
    fn find_refund(
        &self,
        charge_id: String,
        idempotency_key: String,
    ) -> BoxFuture<'_, Result<Option<Refund>, ProcessorError>>;

    /// Cancels a charge still waiting for the customer's authentication so
    /// it can never be charged later, and answers its outcome as
    /// `find_charge` then does (a charge completed meanwhile stays
    /// `Succeeded`). A processor that never asks for authentication has
    /// nothing to cancel.
    fn cancel_charge(
        &self,
        lookup: ChargeLookup,
    ) -> BoxFuture<'_, Result<Option<ChargeOutcome>, ProcessorError>> {
        self.find_charge(lookup)
    }
}

/// The message (locales/*/common.ftl) a customer is told for a decline code.
pub fn decline_key(code: &str) -> &'static str {
    match code {
        "insufficient_funds" => "decline-insufficient-funds",
        "expired_card" => "decline-expired-card",
        "incorrect_cvc" => "decline-incorrect-cvc",
        "incorrect_number" | "invalid_number" => "decline-incorrect-number",
        "processing_error" => "decline-processing-error",
        "authentication_required" => "decline-authentication-required",
        _ => "decline-generic",
    }
}

/// What a customer is told for a decline code, in English.
pub fn decline_message(code: &str) -> String {
    decline_message_in(crate::domain::i18n::Lang::En, code)
}

/// What a customer is told for a decline code, in their language.
pub fn decline_message_in(lang: crate::domain::i18n::Lang, code: &str) -> String {
    crate::domain::i18n::t(lang, decline_key(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declines_are_told_in_words_a_customer_understands() {
        assert!(decline_message("authentication_required").contains("Nothing was charged"));
        assert!(decline_message("invalid_number").contains("card number is incorrect"));
        assert!(decline_message("do_not_honor").starts_with("Your bank declined"));
        assert_eq!(Decline::new("expired_card").code, "expired_card");
        assert!(
            decline_message_in(crate::domain::i18n::Lang::Es, "insufficient_funds")
                .starts_with("La tarjeta no tiene fondos suficientes")
        );
    }

    #[test]
    fn the_page_defaults_to_the_sandbox() {
        let p = PageProcessor::sandbox();
        assert!(!p.is_stripe());
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"kind": "sandbox", "publishable_key": null})
        );
    }
}
