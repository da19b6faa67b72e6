//! User-editable message templates: a sandboxed minijinja environment, the
//! variables a message may use, rendering, checking at save time and the SMS
//! segment counter.
//!
//! The sandbox (SECURITY.md 21):
//! - one `Environment` per process, built from `Environment::empty()`: no
//!   loader, so `include`/`import`/`extends` can never load anything;
//! - a restricted grammar checked on minijinja's own tokens ([`TAGS`]: only
//!   `if`/`elif`/`else`/`endif`/`for`/`endfor`; no `set`, `with`, `macro`,
//!   `call`, `filter`, `block`, `include`, `import`, `from`, `extends`,
//!   `autoescape`; no `~ + * ** %` operators; no list, dict or tuple literals
//!   or subscripts), so no value can grow beyond the template and its data;
//! - filters allowed ([`FILTERS`]): `upper`, `lower`, `title`, `capitalize`,
//!   `trim`, `default`, `length`; no tests; one function, `range(n)` with
//!   n at most [`RANGE_MAX`];
//! - strict undefined: an unknown name or attribute is an error, never text;
//! - fuel: [`FUEL`] instructions per render; recursion limit 20;
//! - output limits: [`EMAIL_MAX_BYTES`] per email part, [`SUBJECT_MAX_CHARS`],
//!   [`SMS_MAX_CHARS`]; past them rendering fails (nothing is truncated);
//! - HTML bodies are autoescaped; subjects, text bodies and SMS are plain text.
//!
//! The context is plain data ([`MessageVars`]): no secrets, no objects.

mod checks;
mod engine;
mod segments;
mod vars;

pub use checks::*;
pub use engine::*;
pub use segments::*;
pub use vars::*;

pub const FUEL: u64 = 100_000;
/// Largest rendered HTML or text part of an email, in bytes.
pub const EMAIL_MAX_BYTES: usize = 100 * 1024;
/// Largest rendered subject.
pub const SUBJECT_MAX_CHARS: usize = 998;
/// Largest rendered SMS (10 GSM-7 segments).
pub const SMS_MAX_CHARS: usize = 1600;

/// The text of the email payment-link anchor.
pub const PAYMENT_LINK_TEXT: &str = "Click Here to Make Payment";

#[cfg(test)]
mod tests;
