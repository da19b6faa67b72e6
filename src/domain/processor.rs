//! What the rest of fieldpay knows of a card processor's work: the card
//! (brand, last 4, expiry, never its number), a charge it made, which
//! processor a company uses, and what a payer's page needs of it.

use serde::{Deserialize, Serialize};

use super::money::Money;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub id: String,
    pub amount: Money,
    pub card: CardSummary,
    /// The processor's id of the saved method, when `save_method` was asked.
    pub saved_method: Option<String>,
    pub processor_customer: Option<String>,
}

/// Which processor a company takes cards through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcessorKind {
    Sandbox,
    Stripe,
}

impl ProcessorKind {
    pub fn parse(text: &str) -> Option<ProcessorKind> {
        match text {
            "sandbox" => Some(ProcessorKind::Sandbox),
            "stripe" => Some(ProcessorKind::Stripe),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessorKind::Sandbox => "sandbox",
            ProcessorKind::Stripe => "stripe",
        }
    }
}

/// What a payer's browser needs to know about the company's processor: which
/// card fields to show, and Stripe's publishable key (public by design).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PageProcessor {
    pub kind: ProcessorKind,
    pub publishable_key: Option<String>,
}

impl PageProcessor {
    pub fn sandbox() -> PageProcessor {
        PageProcessor {
            kind: ProcessorKind::Sandbox,
            publishable_key: None,
        }
    }

    pub fn is_stripe(&self) -> bool {
        self.kind == ProcessorKind::Stripe
    }

    /// Test or live: the sandbox and Stripe test keys move no money.
    pub fn mode(&self) -> Mode {
        Mode::of(self.kind, self.publishable_key.as_deref())
    }

    /// From a company's stored kind and publishable key (none stored: the
    /// sandbox).
    pub fn from_settings(kind: Option<ProcessorKind>, publishable_key: Option<String>) -> Self {
        match kind {
            Some(ProcessorKind::Stripe) => PageProcessor {
                kind: ProcessorKind::Stripe,
                publishable_key: publishable_key.filter(|k| !k.is_empty()),
            },
            _ => PageProcessor::sandbox(),
        }
    }
}

/// Whether a company's payments move money. The sandbox and Stripe test keys
/// do not (`Test`); only Stripe with live keys does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Test,
    Live,
}

/// The banner every customer-facing page, email and the office header carry
/// in test mode.
pub const TEST_MODE_BANNER: &str = "Test mode \u{2014} no money moves";
/// The same words for SMS, in GSM-7 (the dash of the banner would make
/// every test message UCS-2 and halve what fits in one segment).
pub const TEST_MODE_SMS: &str = "Test mode - no money moves.";

impl Mode {
    /// From the processor kind and the publishable key stored with it (both
    /// Stripe keys are checked to be of one mode when saved).
    pub fn of(kind: ProcessorKind, publishable_key: Option<&str>) -> Mode {
        match (kind, publishable_key) {
            (ProcessorKind::Stripe, Some(k)) if k.starts_with("pk_live_") => Mode::Live,
            _ => Mode::Test,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Test => "test",
            Mode::Live => "live",
        }
    }

    pub fn is_test(self) -> bool {
        self == Mode::Test
    }
}
