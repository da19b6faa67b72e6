//! Import customers and invoices from CSV, for the `fieldpay import` command
//! and the office upload form.
//!
//! Parsing and checking a row are pure functions; writing goes row by row,
//! each row in its own savepoint (batches of rows share one transaction, so
//! one bad row undoes only itself). Rows are keyed by external ids (customers,
//! properties) and invoice numbers, so importing the same file twice changes
//! nothing the second time.

use crate::money::parse_amount;
use std::collections::{HashMap, HashSet};
use std::io::Read;

use serde::Serialize;
use time::Date;

use crate::app::App;
use crate::dates;
use crate::domain::customer::CustomerInput;
use crate::domain::text;
use crate::domain::{LineInput, price_lines};
use crate::paylink;
use crate::store::customers::{self, NewCustomer};
use crate::store::invoices::{self, NewInvoice};
use crate::store::{Conn, StoreError, Tx, audit, companies};

/// Rows written per transaction (each in its own savepoint).
const BATCH: usize = 200;

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

// ---------------------------------------------------------------- reading CSV

/// A CSV file read into rows of named cells.
#[derive(Debug)]
pub struct Table {
    /// Normalised column names (trimmed, lowercase, spaces as `_`).
    pub columns: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    cells: HashMap<String, String>,
    /// A problem reading the row itself (bad encoding, broken quoting).
    pub broken: Option<String>,
}

impl Row {
    /// The trimmed cell of a column; empty when the column or cell is missing.
    pub fn get(&self, column: &str) -> &str {
        self.cells.get(column).map(|s| s.trim()).unwrap_or("")
    }

    pub fn has(&self, column: &str) -> bool {
        self.cells.contains_key(column)
    }
}

/// Line numbers of byte offsets, counted forward once. The CSV reader's own
/// count starts a record at the blank lines before it; this skips them.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    line: u64,
}

impl LineCounter {
    fn line_at(&mut self, data: &[u8], byte: u64) -> u64 {
        let mut at = (byte as usize).min(data.len());
        while at < data.len() && matches!(data[at], b'\n' | b'\r') {
            at += 1;
        }
        if at < self.offset {
            self.offset = 0;
            self.line = 0;
        }
        self.line += data[self.offset..at]
            .iter()
            .filter(|b| **b == b'\n')
            .count() as u64;
        self.offset = at;
        self.line + 1
    }
}

fn normalise_column(name: &str) -> String {
    name.trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_lowercase()
        .replace([' ', '-'], "_")
}

/// Reads a CSV file with a header row. `required` columns must be present;
/// columns outside `known` are reported as ignored.
pub fn read_table(
    mut input: impl Read,
    required: &[&str],
    known: &[&str],
) -> Result<(Table, Vec<String>), ImportError> {
    let mut data = Vec::new();
    input
        .read_to_end(&mut data)
        .map_err(|e| ImportError::File(format!("The file cannot be read: {e}")))?;
    let mut lines = LineCounter::default();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(data.as_slice());
    let headers = reader.byte_headers().map_err(|e| {
        ImportError::File(format!(
            "The first line (the column names) cannot be read: {e}"
        ))
    })?;
    let columns: Vec<String> = headers
        .iter()
        .map(|h| normalise_column(&String::from_utf8_lossy(h)))
        .collect();
    if columns.iter().all(|c| c.is_empty()) {
        return Err(ImportError::File(format!(
            "The file is empty. The first line must name the columns: {}.",
            known.join(", ")
        )));
    }
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !columns.iter().any(|c| c == r))
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::File(format!(
            "The first line must name the columns; missing: {}. Columns fieldpay reads: {}.",
            missing.join(", "),
            known.join(", ")
        )));
    }
    let mut notes = Vec::new();
    let mut seen = HashSet::new();
    for c in &columns {
        if !seen.insert(c.as_str()) && !c.is_empty() {
            return Err(ImportError::File(format!(
                "The column '{c}' appears twice in the first line; keep one."
            )));
        }
        if !c.is_empty() && !known.contains(&c.as_str()) {
            notes.push(format!(
                "Column '{c}' is not one fieldpay reads; it was ignored."
            ));
        }
    }
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    loop {
        let line_hint = lines.line_at(&data, reader.position().byte());
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record
                    .position()
                    .map(|p| lines.line_at(&data, p.byte()))
                    .unwrap_or(line_hint);
                if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                    continue;
                }
                let mut cells = HashMap::new();
                let mut broken = None;
                for (i, field) in record.iter().enumerate() {
                    let Some(col) = columns.get(i) else {
                        if !field.iter().all(u8::is_ascii_whitespace) {
                            broken = Some(format!(
                                "The row has more cells ({}) than the first line has columns ({}); check for an unquoted comma.",
                                record.len(),
                                columns.len()
                            ));
                        }
                        continue;
                    };
                    match std::str::from_utf8(field) {
                        Ok(s) => {
                            cells.insert(col.clone(), s.to_string());
                        }
                        Err(_) => {
                            broken = Some(format!(
                                "The '{col}' cell is not UTF-8 text; save the file as \"CSV UTF-8\"."
                            ));
                        }
                    }
                }
                rows.push(Row {
                    line,
                    cells,
                    broken,
                });
            }
            Err(e) => {
                let line = line_hint.max(2);
                rows.push(Row {
                    line,
                    cells: HashMap::new(),
                    broken: Some(format!("The row cannot be read as CSV: {e}.")),
                });
                if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) && e.is_io_error() {
                    break;
                }
            }
        }
    }
    Ok((Table { columns, rows }, notes))
}

// ---------------------------------------------------------------- pure rules

/// A date as `YYYY-MM-DD` or `MM/DD/YYYY` (also `M/D/YYYY`).
pub fn parse_date(text: &str) -> Option<Date> {
    let t = text.trim();
    if let Some(d) = dates::parse(t) {
        return Some(d);
    }
    let parts: Vec<&str> = t.split('/').collect();
    let [m, d, y] = parts.as_slice() else {
        return None;
    };
    if y.len() != 4 || m.is_empty() || d.is_empty() || m.len() > 2 || d.len() > 2 {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let month = time::Month::try_from(u8::try_from(num(m)?).ok()?).ok()?;
    Date::from_calendar_date(num(y)? as i32, month, u8::try_from(num(d)?).ok()?).ok()
}

fn optional(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// A one-line column: no line breaks or other control characters (a quoted
/// CSV field may hold them), at most `max` characters.
fn check_len(value: &str, column: &'static str, max: usize) -> Result<(), String> {
    text::optional_single_line(column, Some(value), max)
        .map(drop)
        .map_err(|e| format!("{}; correct it in the file.", e.message))
}

/// A column of several lines (an address): newlines stay, other control
/// characters are refused.
fn check_lines(value: &str, column: &'static str, max: usize) -> Result<(), String> {
    text::check_multi_line(column, value, max)
        .map_err(|e| format!("{}; correct it in the file.", e.message))
}

pub const CUSTOMER_COLUMNS: &[&str] = &[
    "external_id",
    "name",
    "email",
    "phone",
    "billing_address",
    "service_address",
    "property_external_id",
    "bill_to_external_id",
];

/// A checked customer row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRow {
    pub external_id: String,
    pub name: String,
    /// `None` for a column the file does not have: the stored value is kept.
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub billing_address: Option<Option<String>>,
    pub property: Option<PropertyRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyRow {
    pub external_id: String,
    pub address: String,
    /// The external id of the customer responsible for billing; `None` means
    /// the customer itself.
    pub bill_to: Option<String>,
}

/// Checks one customer row. Errors say what to fix. `region` is the
/// company's country, for phone numbers without a country code.
pub fn parse_customer_row(row: &Row, region: &str) -> Result<CustomerRow, String> {
    if let Some(b) = &row.broken {
        return Err(b.clone());
    }
    let external_id = row.get("external_id");
    if external_id.is_empty() {
        return Err("external_id is empty; give each customer its id from your old system.".into());
    }
    check_len(external_id, "external_id", 100)?;
    let name = row.get("name");
    if name.is_empty() {
        return Err("name is empty; enter the customer's name.".into());
    }
    let column = |c: &str| row.has(c).then(|| row.get(c));
    let checked = CustomerInput {
        name,
        email: column("email"),
        phone: column("phone"),
        billing_address: column("billing_address"),
    }
    .check(region)
    .map_err(|errors| {
        let e = &errors[0];
        let value = row.get(e.field);
        format!("{} '{value}': {}", e.field, e.message)
    })?;
    // A column the file does not have keeps the stored value (`None`).
    let email = row.has("email").then_some(checked.email);
    let phone = row.has("phone").then_some(checked.phone);
    let billing_address = row
        .has("billing_address")
        .then_some(checked.billing_address);
    let name = checked.name;
    let address = row.get("service_address");
    let property_id = row.get("property_external_id");
    let bill_to = row.get("bill_to_external_id");
    let property = if address.is_empty() {
        if !bill_to.is_empty() {
            return Err("bill_to_external_id says who pays for a service address, but service_address is empty; fill it or clear bill_to_external_id.".into());
        }
        if !property_id.is_empty() {
            return Err("property_external_id names a service address, but service_address is empty; fill it or clear property_external_id.".into());
        }
        None
    } else {
        check_lines(address, "service_address", 500)?;
        check_len(property_id, "property_external_id", 100)?;
        Some(PropertyRow {
            external_id: if property_id.is_empty() {
                external_id.to_string()
            } else {
                property_id.to_string()
            },
            address: address.to_string(),
            bill_to: (!bill_to.is_empty() && bill_to != external_id).then(|| bill_to.to_string()),
        })
    };
    Ok(CustomerRow {
        external_id: external_id.to_string(),
        name,
        email,
        phone,
        billing_address,
        property,
    })
}

pub const INVOICE_COLUMNS: &[&str] = &[
    "number",
    "customer_external_id",
    "property_external_id",
    "issue_date",
    "due_date",
    "lines",
    "total",
    "amount_paid",
    "external_id",
];

/// A checked invoice row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRow {
    pub number: String,
    pub external_id: Option<String>,
    pub customer: Option<String>,
    pub property: Option<String>,
    pub issue_date: Option<Date>,
    pub due_date: Date,
    pub lines: Vec<LineInput>,
    pub amounts: Vec<i64>,
    pub total: i64,
    pub amount_paid: i64,
}

/// Parses `description|quantity|unit_price` items separated by `;`.
pub fn parse_lines(text: &str, digits: u32) -> Result<Vec<LineInput>, String> {
    let mut lines = Vec::new();
    for (i, item) in text.split(';').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let n = i + 1;
        let parts: Vec<&str> = item.split('|').map(str::trim).collect();
        let [description, quantity, price] = parts.as_slice() else {
            return Err(format!(
                "line item {n} ('{item}') must be description|quantity|unit_price, like 'Quarterly service|1|89.00'."
            ));
        };
        if description.is_empty() {
            return Err(format!("line item {n} has no description."));
        }
        check_len(description, "description", 500)
            .map_err(|why| format!("line item {n}: {why}"))?;
        let quantity: i64 = match quantity.parse() {
            Ok(q) if q >= 1 => q,
            _ => {
                return Err(format!(
                    "line item {n}: quantity '{quantity}' must be a whole number of at least 1."
                ));
            }
        };
        let unit_price = parse_amount(price, digits)
            .map_err(|why| format!("line item {n}: unit price '{price}' {why}."))?;
        lines.push(LineInput {
            description: description.to_string(),
            quantity,
            unit_price,
        });
    }
    if lines.is_empty() {
        return Err("lines is empty; write items as description|quantity|unit_price separated by ';', or use the total column.".into());
    }
    Ok(lines)
}

/// Checks one invoice row. Amounts are in the company's currency.
pub fn parse_invoice_row(row: &Row, digits: u32) -> Result<InvoiceRow, String> {
    if let Some(b) = &row.broken {
        return Err(b.clone());
    }
    let number = row.get("number");
    if number.is_empty() {
        return Err("number is empty; give each invoice its number.".into());
    }
    check_len(number, "number", 40)?;
    let customer = optional(row.get("customer_external_id"));
    let property = optional(row.get("property_external_id"));
    if customer.is_none() && property.is_none() {
        return Err(
            "customer_external_id and property_external_id are both empty; fill one.".into(),
        );
    }
    let date = |column: &str| -> Result<Option<Date>, String> {
        let text = row.get(column);
        if text.is_empty() {
            return Ok(None);
        }
        parse_date(text).map(Some).ok_or_else(|| {
            format!("{column} '{text}' is not a date; write it as YYYY-MM-DD or MM/DD/YYYY.")
        })
    };
    let issue_date = date("issue_date")?;
    let due_date = date("due_date")?
        .ok_or("due_date is empty; write it as YYYY-MM-DD or MM/DD/YYYY.".to_string())?;
    if let Some(issued) = issue_date
        && due_date < issued
    {
        return Err(format!(
            "due_date {} is before issue_date {}; correct one of them.",
            dates::iso(due_date),
            dates::iso(issued)
        ));
    }
    let lines_text = row.get("lines");
    let total_text = row.get("total");
    let given_total = if total_text.is_empty() {
        None
    } else {
        Some(
            parse_amount(total_text, digits)
                .map_err(|why| format!("total '{total_text}' {why}."))?,
        )
    };
    let lines = if !lines_text.is_empty() {
        parse_lines(lines_text, digits)?
    } else if let Some(total) = given_total {
        vec![LineInput {
            description: "Imported balance".into(),
            quantity: 1,
            unit_price: total,
        }]
    } else {
        return Err("lines and total are both empty; fill one.".into());
    };
    let (amounts, total) = price_lines(&lines).map_err(|e| e.describe().1)?;
    if let Some(given) = given_total
        && given != total
    {
        return Err(format!(
            "total {} differs from the sum of the lines, {}; correct one or leave total empty.",
            plain(given, digits),
            plain(total, digits)
        ));
    }
    let paid_text = row.get("amount_paid");
    let amount_paid = if paid_text.is_empty() {
        0
    } else {
        parse_amount(paid_text, digits)
            .map_err(|why| format!("amount_paid '{paid_text}' {why}."))?
    };
    if amount_paid > total {
        return Err(format!(
            "amount_paid {} is more than the total {}; correct it.",
            plain(amount_paid, digits),
            plain(total, digits)
        ));
    }
    Ok(InvoiceRow {
        number: number.to_string(),
        external_id: optional(row.get("external_id")),
        customer,
        property,
        issue_date,
        due_date,
        lines,
        amounts,
        total,
        amount_paid,
    })
}

/// "125.00" for messages.
fn plain(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    format!(
        "{}.{:0width$}",
        minor / scale,
        minor % scale,
        width = digits as usize
    )
}

/// The next invoice number the company should hand out after importing
/// `number`, when `number` is a plain number.
pub fn counter_after(number: &str) -> Option<i64> {
    (!number.is_empty() && number.len() <= 15 && number.bytes().all(|b| b.is_ascii_digit()))
        .then(|| number.parse::<i64>().ok())
        .flatten()
        .map(|n| n + 1)
}

// ---------------------------------------------------------------- SQL

// The queries of the import. They belong in a store module; kept here while
// the area is young.
mod sql {
    use crate::store::{Conn, StoreResult};

    pub struct Existing {
        pub id: String,
        pub name: String,
        pub email: Option<String>,
        pub phone: Option<String>,
        pub billing_address: Option<String>,
    }

    pub async fn customer_by_external(
        conn: &mut Conn,
        company_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<Existing>> {
        let row = crate::store::sql::query(
            "SELECT id, name, email, phone, billing_address FROM customers
             WHERE company_id = $1 AND external_id = $2",
        )
        .bind(company_id)
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?;
        row.map(|r| {
            Ok(Existing {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                billing_address: r.try_get("billing_address")?,
            })
        })
        .transpose()
    }

    pub async fn customer_id_by_external(
        conn: &mut Conn,
        company_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        Ok(crate::store::sql::query_as(
            "SELECT id, name FROM customers WHERE company_id = $1 AND external_id = $2",
        )
        .bind(company_id)
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    pub async fn customer_name(conn: &mut Conn, company_id: &str, id: &str) -> StoreResult<String> {
        let name: Option<String> = crate::store::sql::query_scalar(
            "SELECT name FROM customers WHERE company_id = $1 AND id = $2",
        )
        .bind(company_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(name.unwrap_or_default())
    }

    pub async fn set_customer_external(
        conn: &mut Conn,
        company_id: &str,
        id: &str,
        external_id: &str,
    ) -> StoreResult<()> {
        crate::store::sql::query(
            "UPDATE customers SET external_id = $1 WHERE company_id = $2 AND id = $3",
        )
        .bind(external_id)
        .bind(company_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// (id, address, resident, bill_to)
    pub async fn property_by_external(
        conn: &mut Conn,
        company_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<(String, String, String, String)>> {
        Ok(crate::store::sql::query_as(
            "SELECT id, address, resident_customer_id, bill_to_customer_id FROM properties
             WHERE company_id = $1 AND external_id = $2",
        )
        .bind(company_id)
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    pub async fn set_property_external(
        conn: &mut Conn,
        company_id: &str,
        id: &str,
        external_id: &str,
    ) -> StoreResult<()> {
        crate::store::sql::query(
            "UPDATE properties SET external_id = $1 WHERE company_id = $2 AND id = $3",
        )
        .bind(external_id)
        .bind(company_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Properties where the customer lives or which it pays for: (id, bill_to).
    pub async fn properties_of(
        conn: &mut Conn,
        company_id: &str,
        customer_id: &str,
    ) -> StoreResult<Vec<(String, String, String)>> {
        Ok(crate::store::sql::query_as(
            "SELECT id, resident_customer_id, bill_to_customer_id FROM properties
             WHERE company_id = $1 AND (resident_customer_id = $2 OR bill_to_customer_id = $2)
             ORDER BY id",
        )
        .bind(company_id)
        .bind(customer_id)
        .fetch_all(&mut *conn)
        .await?)
    }

    pub async fn invoice_exists(
        conn: &mut Conn,
        company_id: &str,
        number: &str,
    ) -> StoreResult<bool> {
        let found: Option<i64> = crate::store::sql::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM invoices WHERE company_id = $1 AND number = $2",
        )
        .bind(company_id)
        .bind(number)
        .fetch_optional(&mut *conn)
        .await?;
        Ok(found.is_some())
    }

    pub async fn invoice_external_taken(
        conn: &mut Conn,
        company_id: &str,
        external_id: &str,
    ) -> StoreResult<Option<String>> {
        Ok(crate::store::sql::query_scalar(
            "SELECT number FROM invoices WHERE company_id = $1 AND external_id = $2",
        )
        .bind(company_id)
        .bind(external_id)
        .fetch_optional(&mut *conn)
        .await?)
    }

    pub async fn set_invoice_external(
        conn: &mut Conn,
        company_id: &str,
        id: &str,
        external_id: &str,
    ) -> StoreResult<()> {
        crate::store::sql::query(
            "UPDATE invoices SET external_id = $1 WHERE company_id = $2 AND id = $3",
        )
        .bind(external_id)
        .bind(company_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Records what was paid elsewhere before the import.
    pub async fn apply_paid_elsewhere(
        conn: &mut Conn,
        company_id: &str,
        id: &str,
        amount: i64,
    ) -> StoreResult<()> {
        crate::store::sql::query(
            "UPDATE invoices SET applied = applied + $1, balance = balance - $1,
                status = CASE WHEN balance - $1 = 0 THEN 'paid' ELSE status END
             WHERE company_id = $2 AND id = $3 AND status = 'open' AND balance >= $1",
        )
        .bind(amount)
        .bind(company_id)
        .bind(id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    /// Keeps the company's invoice counter past an imported numeric number.
    pub async fn bump_counter(conn: &mut Conn, company_id: &str, next: i64) -> StoreResult<()> {
        crate::store::sql::query(
            "UPDATE companies SET next_invoice_number = $1
             WHERE id = $2 AND next_invoice_number < $1",
        )
        .bind(next)
        .bind(company_id)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

// ---------------------------------------------------------------- writing

/// Batches rows into transactions; each row runs in its own savepoint.
struct Writer<'a> {
    app: &'a App,
    tx: Option<Tx>,
    in_batch: usize,
}

impl<'a> Writer<'a> {
    fn new(app: &'a App) -> Self {
        Writer {
            app,
            tx: None,
            in_batch: 0,
        }
    }

    async fn conn(&mut self) -> Result<&mut Tx, StoreError> {
        if self.tx.is_none() {
            self.tx = Some(self.app.db.begin_write().await?);
            self.in_batch = 0;
        }
        match self.tx.as_mut() {
            Some(tx) => Ok(tx),
            None => Err(StoreError::Unavailable("no transaction".into())),
        }
    }

    async fn row_done(&mut self) -> Result<(), StoreError> {
        self.in_batch += 1;
        if self.in_batch >= BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A row's failure: a message for the report, or a database error that stops
/// the import.
enum RowError {
    Row(String),
    Store(StoreError),
}

impl From<StoreError> for RowError {
    fn from(e: StoreError) -> Self {
        RowError::Store(e)
    }
}

impl From<sqlx::Error> for RowError {
    fn from(e: sqlx::Error) -> Self {
        RowError::Store(e.into())
    }
}

async fn savepoint(tx: &mut Tx, statement: &'static str) -> Result<(), StoreError> {
    crate::store::sql::query(statement).execute(tx).await?;
    Ok(())
}

/// Runs `work` in a savepoint of the writer's transaction: its writes stay
/// only if it returns `Ok`. Constraint errors become row failures.
macro_rules! in_savepoint {
    ($writer:expr, |$conn:ident| $body:expr) => {{
        let tx = $writer.conn().await?;
        savepoint(tx, "SAVEPOINT import_row").await?;
        let result: Result<_, RowError> = {
            let $conn: &mut Conn = &mut **tx;
            $body
        };
        let result = match result {
            Ok(v) => {
                savepoint(tx, "RELEASE import_row").await?;
                Ok(v)
            }
            Err(e) => {
                savepoint(tx, "ROLLBACK TO import_row").await?;
                savepoint(tx, "RELEASE import_row").await?;
                match e {
                    RowError::Row(m) => Err(m),
                    RowError::Store(StoreError::Conflict) => Err(
                        "another record already uses one of this row's ids or numbers.".to_string(),
                    ),
                    RowError::Store(StoreError::Invalid) => Err(
                        "the values break a rule of the data (a reference or a limit).".to_string(),
                    ),
                    RowError::Store(e) => return Err(ImportError::Store(e)),
                }
            }
        };
        $writer.row_done().await?;
        result
    }};
}

fn result(line: u64, key: &str, name: &str, outcome: Outcome, message: &str) -> RowResult {
    RowResult {
        line,
        key: key.to_string(),
        name: name.to_string(),
        outcome,
        message: message.to_string(),
    }
}

/// Imports customers (and their service addresses) from CSV.
pub async fn import_customers(
    app: &App,
    company_id: &str,
    input: impl Read,
    actor: &str,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(ImportError::UnknownCompany)?;
    let (table, notes) = read_table(input, &["external_id", "name"], CUSTOMER_COLUMNS)?;
    let total = table.rows.len();
    let mut results: Vec<RowResult> = Vec::with_capacity(total);
    // Check every row first: bill-to references may point at later rows.
    let mut pending: Vec<(u64, CustomerRow)> = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    let mut property_lines: HashMap<String, u64> = HashMap::new();
    for row in &table.rows {
        let key = row.get("external_id").to_string();
        let name = row.get("name").to_string();
        let parsed = parse_customer_row(row, &company.country).and_then(|c| {
            if let Some(first) = first_line.get(&c.external_id) {
                return Err(format!(
                    "external_id '{}' is already on line {first}; put each customer on one row.",
                    c.external_id
                ));
            }
            if let Some(p) = &c.property
                && let Some(first) = property_lines.get(&p.external_id)
            {
                return Err(format!(
                    "the service address id '{}' is already on line {first}; give each address its own property_external_id.",
                    p.external_id
                ));
            }
            Ok(c)
        });
        match parsed {
            Ok(c) => {
                first_line.insert(c.external_id.clone(), row.line);
                if let Some(p) = &c.property {
                    property_lines.insert(p.external_id.clone(), row.line);
                }
                pending.push((row.line, c));
            }
            Err(m) => results.push(result(row.line, &key, &name, Outcome::Failed, &m)),
        }
    }
    let mut done = results.len();
    progress(done, total);

    let mut writer = Writer::new(app);
    let in_file: HashSet<String> = pending.iter().map(|(_, c)| c.external_id.clone()).collect();
    // Lines of rows that failed, by external id.
    let mut failed_ids: HashMap<String, u64> = HashMap::new();
    for r in &results {
        if !in_file.contains(&r.key) {
            failed_ids.entry(r.key.clone()).or_insert(r.line);
        }
    }
    let mut written: HashSet<String> = HashSet::new();
    // Rows whose bill-to is ready go first; repeat until nothing moves.
    loop {
        let mut next = Vec::new();
        let mut moved = false;
        for (line, c) in std::mem::take(&mut pending) {
            let target = c.property.as_ref().and_then(|p| p.bill_to.clone());
            let ready = match &target {
                None => true,
                Some(t) => {
                    written.contains(t) || !in_file.contains(t) || failed_ids.contains_key(t)
                }
            };
            if !ready {
                next.push((line, c));
                continue;
            }
            moved = true;
            let outcome = in_savepoint!(writer, |conn| write_customer(app, conn, company_id, &c)
                .await);
            match outcome {
                Ok(o) => {
                    written.insert(c.external_id.clone());
                    results.push(result(line, &c.external_id, &c.name, o, ""));
                }
                Err(m) => {
                    failed_ids.entry(c.external_id.clone()).or_insert(line);
                    let m = match &target {
                        Some(t) if failed_ids.get(t).is_some_and(|l| *l != line) => format!(
                            "bill_to_external_id '{t}' is on line {}, which failed; fix that row first.",
                            failed_ids[t]
                        ),
                        _ => m,
                    };
                    results.push(result(line, &c.external_id, &c.name, Outcome::Failed, &m));
                }
            }
            done += 1;
            progress(done, total);
        }
        pending = next;
        if pending.is_empty() || !moved {
            break;
        }
    }
    for (line, c) in pending {
        let target = c
            .property
            .as_ref()
            .and_then(|p| p.bill_to.clone())
            .unwrap_or_default();
        results.push(result(
            line,
            &c.external_id,
            &c.name,
            Outcome::Failed,
            &format!("bill_to_external_id '{target}' leads back to this customer through other rows; break the loop."),
        ));
        done += 1;
        progress(done, total);
    }
    writer.flush().await?;
    finish(app, company_id, actor, "import.customers", notes, results).await
}

async fn finish(
    app: &App,
    company_id: &str,
    actor: &str,
    action: &str,
    notes: Vec<String>,
    mut results: Vec<RowResult>,
) -> Result<ImportReport, ImportError> {
    results.sort_by_key(|r| r.line);
    let mut report = ImportReport {
        notes,
        ..ImportReport::default()
    };
    for r in results {
        report.push(r);
    }
    let mut tx = app.db.begin_write().await?;
    audit::record(
        &mut tx,
        company_id,
        actor,
        action,
        company_id,
        serde_json::json!({
            "rows": report.rows, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "skipped": report.skipped, "failed": report.failed,
        }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(report)
}

async fn write_customer(
    app: &App,
    conn: &mut Conn,
    company_id: &str,
    c: &CustomerRow,
) -> Result<Outcome, RowError> {
    let existing = sql::customer_by_external(conn, company_id, &c.external_id).await?;
    let mut outcome = Outcome::Unchanged;
    let customer_id = match existing {
        None => {
            let new = NewCustomer {
                name: c.name.clone(),
                email: c.email.clone().flatten(),
                phone: c.phone.clone().flatten(),
                billing_address: c.billing_address.clone().flatten(),
            };
            let created = customers::create(conn, company_id, &new).await?;
            sql::set_customer_external(conn, company_id, &created.id, &c.external_id).await?;
            paylink::issue(conn, &app.config.secret, company_id, &created.id).await?;
            outcome = Outcome::Created;
            created.id
        }
        Some(e) => {
            let wanted = NewCustomer {
                name: c.name.clone(),
                email: c.email.clone().unwrap_or(e.email.clone()),
                phone: c.phone.clone().unwrap_or(e.phone.clone()),
                billing_address: c
                    .billing_address
                    .clone()
                    .unwrap_or(e.billing_address.clone()),
            };
            if wanted.name != e.name
                || wanted.email != e.email
                || wanted.phone != e.phone
                || wanted.billing_address != e.billing_address
            {
                customers::update(conn, company_id, &e.id, &wanted).await?;
                outcome = Outcome::Updated;
            }
            e.id
        }
    };
    if let Some(p) = &c.property {
        let bill_to = match &p.bill_to {
            None => customer_id.clone(),
            Some(t) => sql::customer_id_by_external(conn, company_id, t)
                .await?
                .map(|(id, _)| id)
                .ok_or_else(|| {
                    RowError::Row(format!(
                        "bill_to_external_id '{t}' matches no customer in this file or in fieldpay; check the id or add that customer."
                    ))
                })?,
        };
        match sql::property_by_external(conn, company_id, &p.external_id).await? {
            None => {
                let prop = customers::create_property(
                    conn,
                    company_id,
                    &p.address,
                    &customer_id,
                    &bill_to,
                )
                .await?;
                sql::set_property_external(conn, company_id, &prop.id, &p.external_id).await?;
                if outcome == Outcome::Unchanged {
                    outcome = Outcome::Updated;
                }
            }
            Some((id, address, resident, current_bill_to)) => {
                if resident != customer_id {
                    return Err(RowError::Row(format!(
                        "service address id '{}' belongs to another customer; give this address its own property_external_id.",
                        p.external_id
                    )));
                }
                if address != p.address || current_bill_to != bill_to {
                    customers::update_property(conn, company_id, &id, &p.address, &bill_to).await?;
                    if outcome == Outcome::Unchanged {
                        outcome = Outcome::Updated;
                    }
                }
            }
        }
    }
    Ok(outcome)
}

/// Imports invoices from CSV. Invoices whose number exists are skipped.
pub async fn import_invoices(
    app: &App,
    company_id: &str,
    input: impl Read,
    actor: &str,
    progress: Progress<'_>,
) -> Result<ImportReport, ImportError> {
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(ImportError::UnknownCompany)?;
    let (table, notes) = read_table(input, &["number"], INVOICE_COLUMNS)?;
    let has_amount = ["lines", "total"]
        .iter()
        .any(|c| table.columns.iter().any(|k| k == c));
    let has_target = ["customer_external_id", "property_external_id"]
        .iter()
        .any(|c| table.columns.iter().any(|k| k == c));
    if !has_amount || !has_target || !table.columns.iter().any(|k| k == "due_date") {
        return Err(ImportError::File(format!(
            "The first line must name the columns number, due_date, customer_external_id or property_external_id, and lines or total. Columns fieldpay reads: {}.",
            INVOICE_COLUMNS.join(", ")
        )));
    }
    let digits = company.currency.minor_digits();
    let today = app.clock.today_in(&company.time_zone);
    let total = table.rows.len();
    let mut results = Vec::with_capacity(total);
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut writer = Writer::new(app);
    for (done, row) in table.rows.iter().enumerate() {
        let key = row.get("number").to_string();
        let label = row.get("customer_external_id").to_string();
        let parsed = parse_invoice_row(row, digits).and_then(|inv| match seen.get(&inv.number) {
            Some(first) => Err(format!(
                "number '{}' is already on line {first}; each invoice needs its own number.",
                inv.number
            )),
            None => Ok(inv),
        });
        let r = match parsed {
            Err(m) => result(row.line, &key, &label, Outcome::Failed, &m),
            Ok(inv) => {
                seen.insert(inv.number.clone(), row.line);
                let outcome = in_savepoint!(writer, |conn| {
                    write_invoice(conn, &company, actor, today, &inv).await
                });
                match outcome {
                    Ok((o, name, message)) => result(row.line, &key, &name, o, &message),
                    Err(m) => result(row.line, &key, &label, Outcome::Failed, &m),
                }
            }
        };
        results.push(r);
        progress(done + 1, total);
    }
    writer.flush().await?;
    finish(app, company_id, actor, "import.invoices", notes, results).await
}

async fn write_invoice(
    conn: &mut Conn,
    company: &companies::Company,
    actor: &str,
    today: Date,
    inv: &InvoiceRow,
) -> Result<(Outcome, String, String), RowError> {
    let company_id = company.id.as_str();
    if sql::invoice_exists(conn, company_id, &inv.number).await? {
        return Ok((
            Outcome::Skipped,
            inv.customer.clone().unwrap_or_default(),
            format!(
                "invoice {} already exists; it was left as it is.",
                inv.number
            ),
        ));
    }
    if let Some(ext) = &inv.external_id
        && let Some(number) = sql::invoice_external_taken(conn, company_id, ext).await?
    {
        return Err(RowError::Row(format!(
            "external_id '{ext}' is already used by invoice {number}; give this invoice its own."
        )));
    }
    let customer = match &inv.customer {
        None => None,
        Some(ext) => Some(
            sql::customer_id_by_external(conn, company_id, ext)
                .await?
                .ok_or_else(|| {
                    RowError::Row(format!(
                        "customer_external_id '{ext}' matches no customer; import the customers first or correct the id."
                    ))
                })?,
        ),
    };
    let (property_id, bill_to) = match (&inv.property, &customer) {
        (Some(ext), _) => {
            let (id, _, resident, bill_to) = sql::property_by_external(conn, company_id, ext)
                .await?
                .ok_or_else(|| {
                    RowError::Row(format!(
                        "property_external_id '{ext}' matches no service address; import the customers (with service_address) first or correct the id."
                    ))
                })?;
            if let Some((cid, _)) = &customer
                && *cid != resident
                && *cid != bill_to
            {
                return Err(RowError::Row(format!(
                    "property_external_id '{ext}' is not a service address of customer '{}'; correct one of them.",
                    inv.customer.clone().unwrap_or_default()
                )));
            }
            (id, bill_to)
        }
        (None, Some((cid, _))) => {
            let props = sql::properties_of(conn, company_id, cid).await?;
            let ext = inv.customer.clone().unwrap_or_default();
            match props.as_slice() {
                [(id, _, bill_to)] => (id.clone(), bill_to.clone()),
                [] => {
                    return Err(RowError::Row(format!(
                        "customer '{ext}' has no service address; add one (service_address in the customers import) or give property_external_id."
                    )));
                }
                many => {
                    return Err(RowError::Row(format!(
                        "customer '{ext}' has {} service addresses; say which with property_external_id.",
                        many.len()
                    )));
                }
            }
        }
        (None, None) => {
            return Err(RowError::Row(
                "customer_external_id and property_external_id are both empty; fill one.".into(),
            ));
        }
    };
    let name = sql::customer_name(conn, company_id, &bill_to).await?;
    let issue_date = inv.issue_date.unwrap_or(today).min(inv.due_date);
    let new = NewInvoice {
        company_id,
        number: Some(&inv.number),
        property_id: &property_id,
        bill_to_customer_id: &bill_to,
        issue_date,
        due_date: inv.due_date,
        currency: company.currency,
        lines: &inv.lines,
        amounts: &inv.amounts,
        total: inv.total,
    };
    let created = invoices::create(conn, &new).await?;
    if let Some(ext) = &inv.external_id {
        sql::set_invoice_external(conn, company_id, &created.id, ext).await?;
    }
    if inv.amount_paid > 0 {
        sql::apply_paid_elsewhere(conn, company_id, &created.id, inv.amount_paid).await?;
        audit::record(
            conn,
            company_id,
            actor,
            "invoice.imported_paid",
            &created.id,
            serde_json::json!({
                "number": inv.number,
                "amount_paid": inv.amount_paid,
                "currency": company.currency.code(),
            }),
        )
        .await?;
    }
    if let Some(next) = counter_after(&inv.number) {
        sql::bump_counter(conn, company_id, next).await?;
    }
    Ok((Outcome::Created, name, String::new()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn table(csv: &str, known: &[&str]) -> Table {
        read_table(csv.as_bytes(), &[], known).unwrap().0
    }

    #[test]
    fn dates_in_two_forms() {
        assert_eq!(parse_date("2026-12-15"), Some(date!(2026 - 12 - 15)));
        assert_eq!(parse_date("12/15/2026"), Some(date!(2026 - 12 - 15)));
        assert_eq!(parse_date("1/5/2026"), Some(date!(2026 - 01 - 05)));
        assert_eq!(parse_date("13/01/2026"), None);
        assert_eq!(parse_date("02/30/2026"), None);
        assert_eq!(parse_date("15.12.2026"), None);
        assert_eq!(parse_date("12/15/26"), None);
    }

    #[test]
    fn header_names_are_normalised_and_line_numbers_kept() {
        let t = table(
            "\u{feff}External ID,Name\nC1,Ann\n\n\"C2\",\"Bob\nJr\"\nC3,Cy\n",
            CUSTOMER_COLUMNS,
        );
        assert_eq!(t.columns, vec!["external_id", "name"]);
        let lines: Vec<u64> = t.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6]);
        assert_eq!(t.rows[1].get("name"), "Bob\nJr");
    }

    #[test]
    fn missing_columns_refuse_the_file() {
        let e = read_table(
            "name,email\nA,a@b.co\n".as_bytes(),
            &["external_id", "name"],
            CUSTOMER_COLUMNS,
        )
        .unwrap_err();
        assert!(e.to_string().contains("missing: external_id"), "{e}");
        let (_, notes) = read_table(
            "external_id,name,emial\n".as_bytes(),
            &["external_id"],
            CUSTOMER_COLUMNS,
        )
        .unwrap();
        assert!(notes[0].contains("emial"));
    }

    #[test]
    fn customer_rows() {
        let t = table(
            "external_id,name,email,phone,service_address,bill_to_external_id,property_external_id\n\
             T1,Tina,tina@example.com,512-555-0100,9 Elm St,L1,\n\
             T2,,,,,,\n\
             T3,Tom,not-an-email,,,,\n\
             T4,Ted,,,,L1,\n\
             T5,Tia,,12,,,\n\
             T6,Tod,,,1 Oak,,P9\n",
            CUSTOMER_COLUMNS,
        );
        let ok = parse_customer_row(&t.rows[0], "US").unwrap();
        assert_eq!(ok.email, Some(Some("tina@example.com".into())));
        assert_eq!(
            ok.billing_address, None,
            "absent column keeps the stored value"
        );
        let p = ok.property.unwrap();
        assert_eq!(
            (p.external_id.as_str(), p.bill_to.as_deref()),
            ("T1", Some("L1"))
        );
        assert!(
            parse_customer_row(&t.rows[1], "US")
                .unwrap_err()
                .contains("name is empty")
        );
        assert!(
            parse_customer_row(&t.rows[2], "US")
                .unwrap_err()
                .contains("email 'not-an-email'")
        );
        assert!(
            parse_customer_row(&t.rows[3], "US")
                .unwrap_err()
                .contains("service_address is empty")
        );
        assert!(
            parse_customer_row(&t.rows[4], "US")
                .unwrap_err()
                .contains("phone '12'")
        );
        assert_eq!(
            parse_customer_row(&t.rows[5], "US")
                .unwrap()
                .property
                .unwrap()
                .external_id,
            "P9"
        );
    }

    #[test]
    fn invoice_rows() {
        let t = table(
            "number,customer_external_id,issue_date,due_date,lines,total,amount_paid\n\
             1001,C1,2026-10-01,2026-10-31,Quarterly service|1|89.00;Termite bait|2|18.00,,25.00\n\
             1002,C1,,11/30/2026,,125.00,125\n\
             1003,C1,,2026-31-12,,5,\n\
             1004,C1,,2026-12-01,,12.345,\n\
             1005,C1,2026-12-01,2026-11-01,,5,\n\
             1006,C1,,2026-12-01,,5,6\n\
             1007,C1,,2026-12-01,Spray|0|5.00,,\n\
             1008,C1,,2026-12-01,Spray|1|5.00,6.00,\n\
             1009,,,2026-12-01,,5,\n",
            INVOICE_COLUMNS,
        );
        let a = parse_invoice_row(&t.rows[0], 2).unwrap();
        assert_eq!((a.total, a.amount_paid, a.lines.len()), (12500, 2500, 2));
        let b = parse_invoice_row(&t.rows[1], 2).unwrap();
        assert_eq!((b.total, b.amount_paid), (12500, 12500));
        assert_eq!(b.lines[0].description, "Imported balance");
        assert_eq!(b.due_date, date!(2026 - 11 - 30));
        let err = |i: usize| parse_invoice_row(&t.rows[i], 2).unwrap_err();
        assert!(err(2).contains("due_date '2026-31-12' is not a date"));
        assert!(err(3).contains("at most two decimals"));
        assert!(err(4).contains("before issue_date"));
        assert!(err(5).contains("more than the total"));
        assert!(err(6).contains("at least 1"));
        assert!(err(7).contains("differs from the sum"));
        assert!(err(8).contains("both empty"));
    }

    #[test]
    fn invoice_counter_follows_numeric_numbers() {
        assert_eq!(counter_after("1042"), Some(1043));
        assert_eq!(counter_after("INV-7"), None);
        assert_eq!(counter_after("99999999999999999999"), None);
    }
}
