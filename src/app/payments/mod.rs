//! Paying invoices: the one path the page, the API and reconciliation share.
//!
//! 1. Reserve: in one write transaction, replay a known idempotency key or
//!    lock the selected invoices to a new attempt, computing the amount from
//!    their balances. The attempt is written before the processor is called.
//! 2. Charge at the company's processor (`processor::processor_for`: its
//!    Stripe account, else the sandbox) with the attempt's id as idempotency key.
//! 3. Settle: `apply` records the payment, its allocations and the new
//!    balances, guarded by the unique processor charge id, or a decline frees
//!    the invoices. Reconciliation settles attempts left pending.
//!
//! 3-D Secure: when the bank asks the customer to authenticate, an on-session
//! payment (`pay_interactive`) answers `PayStep::RequiresAction` with the
//! processor's client secret and the attempt stays pending, its invoices
//! locked to it. The page completes the check and calls `confirm`, which asks
//! the processor and settles through `settle` (a webhook may have settled it
//! first: idempotent). One never completed is cancelled at the processor by
//! `reconcile` after its grace period, and its invoices freed. Where nobody
//! can authenticate (autopay, `pay`/`pay_with`) the charge is cancelled and
//! declined as `authentication_required`.
//!
//! A second payer racing for a locked invoice gets `InvoiceBusy` (409) and is
//! never charged.
//!
//! Autopay takes this same path (`pay_with`: channel `autopay`, off-session,
//! the saved card, an expired card refused before the processor); settling
//! an autopay attempt also writes the invoices' retry state, the result and
//! the receipt or decline message in the same transaction (`crate::app::autopay`).

mod cards;
mod charge;
pub mod office;
mod office_rules;
mod reconcile;
mod reserve;
mod settle;
pub mod view;

pub use cards::{AddCard, add_card};
pub use charge::{pay, pay_detached, pay_interactive, pay_interactive_detached, pay_with};
pub use office::{
    OfficeMethod, OfficePaid, OfficePayError, PaymentKey, RecordPayment, Spread,
    record_office_payment,
};
pub use office_rules::{PlanError, check_exact_shares, plan_office_payment};
pub use reconcile::{AUTHENTICATION_WINDOW, ReconcileReport, confirm, reconcile};
pub use settle::settle;

use serde::{Deserialize, Serialize};

use crate::domain::ids::{CompanyId, CustomerId, InvoiceId};
use crate::domain::money::Currency;
use crate::processor::Decline;
use crate::store::StoreError;
use crate::store::payments::Consent;

pub const MAX_INVOICES_PER_PAYMENT: usize = 100;

#[derive(Debug, Clone)]
pub struct PayInvoices {
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
    pub invoice_ids: Vec<InvoiceId>,
    /// A processor token (`tok_…`, `pm_…`) or a saved method id (`pmt_…`).
    pub payment_method: String,
    pub idempotency_key: String,
    pub channel: &'static str,
    /// Save the card and enroll in autopay with this consent.
    pub enroll: Option<Consent>,
    /// Who the audit log names.
    pub actor: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Share {
    pub invoice_id: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct CardRef {
    pub brand: String,
    pub last4: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AutopayState {
    pub enrolled: bool,
    pub method_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PaymentSummary {
    pub id: String,
    pub amount: i64,
    pub currency: Currency,
    pub status: String,
    pub allocations: Vec<Share>,
    pub card: CardRef,
    pub autopay: Option<AutopayState>,
}

/// The result of an attempt that reached the processor; stored with the
/// attempt so a repeated idempotency key returns it again.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PayResult {
    Succeeded(PaymentSummary),
    Declined(Decline),
}

/// A charge waiting for the customer's authentication (3-D Secure): the
/// page completes it with the client secret, then confirms the attempt.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActionNeeded {
    pub attempt_id: String,
    pub client_secret: String,
}

/// Where an on-session payment stands: done, or waiting for the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayStep {
    Done(PayResult),
    RequiresAction(ActionNeeded),
}

#[derive(Debug)]
pub enum PayError {
    Invalid {
        field: &'static str,
        message: String,
    },
    InvoiceNotFound,
    InvoiceNotPayable(String),
    InvoiceBusy(String),
    MixedCurrency,
    MethodNotFound,
    InProgress,
    KeyReused,
    /// The processor could not be reached and nothing was charged (the
    /// charge was never sent, or a lookup could not be made).
    ProcessorUnavailable,
    /// The charge was sent and its answer did not come back: the outcome is
    /// unknown until the processor is asked again. The invoices stay held
    /// to this attempt meanwhile, so paying again cannot charge twice.
    Pending {
        attempt_id: String,
    },
    /// Autopay was turned off, or its card changed, after the run read the
    /// invoices: nothing was charged.
    AutopayEnded,
    Store(StoreError),
}

impl From<StoreError> for PayError {
    fn from(e: StoreError) -> Self {
        PayError::Store(e)
    }
}

pub(super) fn invalid(field: &'static str, message: &str) -> PayError {
    PayError::Invalid {
        field,
        message: message.to_string(),
    }
}

/// How a charge is made beyond what the payer chose.
#[derive(Debug, Clone, Copy)]
pub struct ChargeOptions {
    /// The customer is not present (autopay): the processor is told so.
    pub off_session: bool,
    /// The instant the work happens at (the jobs pass their `now`): messages
    /// queued with the settlement are queued at it.
    pub now: time::OffsetDateTime,
    /// Refuse a saved card whose expiry month ended before this day, as an
    /// `expired_card` decline, without calling the processor (autopay).
    pub refuse_expired_on: Option<time::Date>,
}

impl ChargeOptions {
    /// A payer at the page, the portal or the office, now.
    pub fn on_session(now: time::OffsetDateTime) -> ChargeOptions {
        ChargeOptions {
            off_session: false,
            now,
            refuse_expired_on: None,
        }
    }
}

/// What `pay_with` came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    pub result: PayResult,
    /// The key was used before: this is that attempt's answer, and nothing
    /// was charged now.
    pub replayed: bool,
}

/// The longest a charge may take, all its requests together; what has not
/// answered by then is reconciled.
pub const CHARGE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(150);

/// How old an attempt must be before "the processor has no such charge"
/// means it was never charged: well past `CHARGE_DEADLINE`, so no request
/// for it can still be on its way or being worked on.
pub const NOT_FOUND_AFTER: time::Duration = time::Duration::minutes(10);
