//! Payments: the attempts written before a processor is called, the
//! payments and their allocations, the office's cash and check records, and
//! the saved cards and autopay enrollments a payment can create.

mod attempts;
mod methods;
mod office;
mod records;

pub use attempts::*;
pub use methods::*;
pub use office::*;
pub use records::*;
