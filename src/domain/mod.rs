//! Pure billing rules: no HTTP, SQL or processors here.

pub mod allocation;
pub mod autopay;
pub mod clock;
pub mod consent;
pub mod invoice;

pub use allocation::{Allocation, allocate};
pub use clock::Clock;
pub use consent::autopay_consent_text;
pub use invoice::{LineError, LineInput, price_lines};
