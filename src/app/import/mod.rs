//! Import customers and invoices from CSV, for the `fieldpay import` command
//! and the office upload form.
//!
//! Parsing and checking a row are pure functions; writing goes row by row,
//! each row in its own savepoint (batches of rows share one transaction, so
//! one bad row undoes only itself). Rows are keyed by external ids (customers,
//! properties) and invoice numbers, so importing the same file twice changes
//! nothing the second time.

mod apply;
mod parse;

pub use apply::{import_customers, import_invoices};
pub use parse::*;

use serde::Serialize;

use crate::store::StoreError;

// ---------------------------------------------------------------- the report

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped,
    Failed,
}

impl Outcome {
    pub fn word(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "unchanged",
            Outcome::Skipped => "skipped",
            Outcome::Failed => "failed",
        }
    }
}

/// What happened to one row of the file.
#[derive(Debug, Clone, Serialize)]
pub struct RowResult {
    /// The line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// The row's key: a customer's external id or an invoice number.
    pub key: String,
    /// A customer's name, or the customer an invoice is for, when known.
    pub name: String,
    pub outcome: Outcome,
    /// Why a row failed or was skipped: what to fix.
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Notes about the whole file (ignored columns).
    pub notes: Vec<String>,
    /// Every row, in file order.
    pub results: Vec<RowResult>,
}

impl ImportReport {
    fn push(&mut self, r: RowResult) {
        match r.outcome {
            Outcome::Created => self.created += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Skipped => self.skipped += 1,
            Outcome::Failed => self.failed += 1,
        }
        self.rows += 1;
        self.results.push(r);
    }

    /// The failed and skipped rows, for a report of what needs attention.
    pub fn problems(&self) -> Vec<&RowResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Skipped))
            .collect()
    }

    /// "3 created, 1 updated, 0 unchanged, 0 skipped, 2 failed".
    pub fn summary(&self) -> String {
        format!(
            "{} created, {} updated, {} unchanged, {} skipped, {} failed",
            self.created, self.updated, self.unchanged, self.skipped, self.failed
        )
    }
}

/// Why a whole import could not run (no row was written).
#[derive(Debug)]
pub enum ImportError {
    /// The file is not a CSV file fieldpay can read (missing columns, not UTF-8…).
    File(String),
    UnknownCompany,
    Store(StoreError),
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImportError::File(m) => f.write_str(m),
            ImportError::UnknownCompany => f.write_str("no company has that id"),
            ImportError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ImportError {}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Store(e)
    }
}

impl From<sqlx::Error> for ImportError {
    fn from(e: sqlx::Error) -> Self {
        ImportError::Store(e.into())
    }
}

/// Told how many rows are done out of how many.
pub type Progress<'a> = &'a mut (dyn FnMut(usize, usize) + Send);
