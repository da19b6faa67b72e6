//! Reading CSV and checking rows: pure functions, no database.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use time::Date;

use crate::domain::customer::CustomerInput;
use crate::domain::dates;
use crate::domain::money::parse_amount;
use crate::domain::text;
use crate::domain::{LineInput, price_lines};

use super::ImportError;

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
    "language",
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
    /// `en`, `es`, or none (empty); `None` when the file has no such column.
    pub language: Option<Option<crate::domain::i18n::Lang>>,
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
        language: column("language"),
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
    let language = row.has("language").then_some(checked.language);
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
        language,
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
