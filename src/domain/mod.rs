//! Pure billing rules: no HTTP, SQL or processors here.

pub mod alerts;
pub mod allocation;
pub mod autopay;
pub mod clock;
pub mod consent;
pub mod contact;
pub mod customer;
pub mod dates;
pub mod funnel;
pub mod i18n;
pub mod ids;
pub mod invoice;
pub mod message;
pub mod money;
pub mod paylink;
pub mod processor;
pub mod text;
pub mod webhooks;

pub use allocation::{Allocation, allocate};
pub use clock::Clock;
pub use consent::autopay_consent_text;
pub use contact::{EmailAddress, PhoneNumber};
pub use invoice::{LineError, LineInput, price_lines};
pub use text::FieldError;
