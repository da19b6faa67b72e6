//! The create and edit forms: line rows typed in the company's currency,
//! checked field by field, then handed to `app::invoices::issue` or `edit`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use time::Date;

use super::{
    DEFAULT_TERMS_DAYS, MIN_ROWS, OfficeUser, PROPERTY_LIMIT, company, internal, load_invoice,
    refused, show::refuse_change,
};
use crate::app::Refusal;
use crate::app::invoices::{EditInvoice, IssueInvoice};
use crate::domain::dates;
use crate::domain::ids::InvoiceId;
use crate::domain::invoice::{self, DESCRIPTION_MAX};
use crate::domain::money::{parse_amount, plain_amount};
use crate::domain::text::single_line;
use crate::domain::{LineError, LineInput, price_lines};
use crate::store::customers;
use crate::store::invoices::{self, Detail, PropertyChoice};
use crate::web::AppState;
use crate::web::office::page_with_status;

/// A whole number of units, at least 1.
fn parse_quantity(text: &str) -> Result<i64, &'static str> {
    let t = text.trim();
    if t.is_empty() {
        return Err("Enter a quantity.");
    }
    match t.parse::<i64>() {
        Ok(q) if (1..=100_000).contains(&q) => Ok(q),
        Ok(q) if q > 100_000 => Err("The quantity is too large."),
        _ => Err("Quantity must be a whole number of at least 1."),
    }
}

/// One line row of the form as typed, with its errors.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
struct RowView {
    description: String,
    quantity: String,
    unit_price: String,
    description_error: String,
    quantity_error: String,
    unit_price_error: String,
}

impl RowView {
    /// A row with no description and no price is left out (the quantity
    /// starts at 1 in empty rows).
    fn is_blank(&self) -> bool {
        self.description.trim().is_empty() && self.unit_price.trim().is_empty()
    }

    fn has_error(&self) -> bool {
        !(self.description_error.is_empty()
            && self.quantity_error.is_empty()
            && self.unit_price_error.is_empty())
    }

    fn empty() -> RowView {
        RowView {
            quantity: "1".into(),
            ..RowView::default()
        }
    }
}

/// Pads the rows so the form offers at least `MIN_ROWS`, and two empty ones.
fn pad_rows(mut rows: Vec<RowView>) -> Vec<RowView> {
    let blanks = rows.iter().rev().take_while(|r| r.is_blank()).count();
    let want = (rows.len() + 2usize.saturating_sub(blanks)).max(MIN_ROWS);
    while rows.len() < want {
        rows.push(RowView::empty());
    }
    rows
}

/// The rows as typed: the three repeated fields, zipped.
fn rows_from(description: &[String], quantity: &[String], unit_price: &[String]) -> Vec<RowView> {
    let n = description.len().max(quantity.len()).max(unit_price.len());
    let at = |v: &[String], i: usize| v.get(i).cloned().unwrap_or_default();
    (0..n)
        .map(|i| RowView {
            description: at(description, i),
            quantity: at(quantity, i),
            unit_price: at(unit_price, i),
            ..RowView::default()
        })
        .collect()
}

/// Checks every non-blank row and prices the lines. Errors are written into
/// the rows (by field) or under `lines` in `errors`.
fn check_lines(
    rows: &mut [RowView],
    digits: u32,
    errors: &mut BTreeMap<&'static str, String>,
) -> Option<(Vec<LineInput>, Vec<i64>, i64)> {
    let mut lines = Vec::new();
    let mut at = Vec::new();
    for (i, row) in rows.iter_mut().enumerate() {
        if row.is_blank() {
            continue;
        }
        let description = row.description.trim().to_string();
        if description.is_empty() {
            row.description_error = "Describe the work on this line.".into();
        } else if let Err(e) = single_line("description", &description, DESCRIPTION_MAX) {
            row.description_error = e.message;
        }
        let quantity = parse_quantity(&row.quantity)
            .map_err(|e| row.quantity_error = e.into())
            .unwrap_or(0);
        let unit_price = parse_amount(&row.unit_price, digits)
            .map_err(|e| row.unit_price_error = e.into())
            .unwrap_or(0);
        lines.push(LineInput {
            description,
            quantity,
            unit_price,
        });
        at.push(i);
    }
    if rows.iter().any(RowView::has_error) {
        return None;
    }
    match price_lines(&lines) {
        Ok((amounts, total)) => Some((lines, amounts, total)),
        Err(e) => {
            let row = |i: usize| at.get(i).copied().unwrap_or(0);
            match e {
                LineError::NoLines => {
                    errors.insert(
                        "lines",
                        "Add at least one line: a description, a quantity and a unit price.".into(),
                    );
                }
                LineError::TooManyLines => {
                    errors.insert("lines", "An invoice has at most 500 lines.".into());
                }
                LineError::EmptyDescription(i) => {
                    rows[row(i)].description_error = "Describe the work on this line.".into();
                }
                LineError::BadDescription(i, why) => {
                    rows[row(i)].description_error = why;
                }
                LineError::NonPositiveQuantity(i) => {
                    rows[row(i)].quantity_error =
                        "Quantity must be a whole number of at least 1.".into();
                }
                LineError::NegativePrice(i) => {
                    rows[row(i)].unit_price_error = "The price must not be negative.".into();
                }
                LineError::TooLarge(i) => {
                    rows[row(i)].unit_price_error = "The amounts are too large.".into();
                }
            }
            None
        }
    }
}

/// A required date field.
fn check_date(
    text: &str,
    field: &'static str,
    errors: &mut BTreeMap<&'static str, String>,
) -> Option<Date> {
    let t = text.trim();
    if t.is_empty() {
        errors.insert(field, "Enter a date.".into());
        return None;
    }
    let d = dates::parse(t);
    if d.is_none() {
        errors.insert(field, dates::ENTER_A_DATE.into());
    }
    d
}

/// The form's dates: both valid and the due date not before the issue date.
fn check_dates(
    issue: &str,
    due: &str,
    errors: &mut BTreeMap<&'static str, String>,
) -> Option<(Date, Date)> {
    let issue = check_date(issue, "issue_date", errors);
    let due = check_date(due, "due_date", errors);
    let (issue, due) = (issue?, due?);
    if due < issue {
        errors.insert(
            "due_date",
            "The due date cannot be before the issue date.".into(),
        );
        return None;
    }
    Some((issue, due))
}

/// An optional invoice number: one line, at most 40 characters.
fn check_number(text: &str, errors: &mut BTreeMap<&'static str, String>) -> Option<String> {
    invoice::check_number("number", text)
        .map_err(|e| errors.insert("number", e.message))
        .ok()
        .flatten()
}

#[derive(Deserialize)]
pub(super) struct InvoiceForm {
    csrf: String,
    #[serde(default)]
    property_id: String,
    /// The customer whose properties the create form listed, if one.
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    issue_date: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    description: Vec<String>,
    #[serde(default)]
    quantity: Vec<String>,
    #[serde(default)]
    unit_price: Vec<String>,
}

/// The form as shown: what was typed and the errors by field.
#[derive(Serialize, Default)]
struct FormView {
    property_id: String,
    number: String,
    issue_date: String,
    due_date: String,
    rows: Vec<RowView>,
    errors: BTreeMap<&'static str, String>,
}

impl FormView {
    fn has_errors(&self) -> bool {
        !self.errors.is_empty() || self.rows.iter().any(RowView::has_error)
    }
}

#[derive(Serialize)]
struct PropertyView {
    id: String,
    label: String,
}

fn property_views(choices: &[PropertyChoice]) -> Vec<PropertyView> {
    choices
        .iter()
        .map(|p| PropertyView {
            id: p.id.to_string(),
            label: if p.bill_to_name == p.resident_name {
                format!("{} — billed to {}", p.address, p.bill_to_name)
            } else {
                format!(
                    "{} — billed to {} (resident {})",
                    p.address, p.bill_to_name, p.resident_name
                )
            },
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub(super) struct NewQuery {
    #[serde(default)]
    property_id: String,
    #[serde(default)]
    customer_id: String,
}

/// Renders the create form.
async fn render_new(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    form: FormView,
    customer_id: Option<&str>,
) -> Response {
    let choices = match invoices::property_choices(
        &state.app.db,
        &user.company_id,
        customer_id,
        PROPERTY_LIMIT + 1,
    )
    .await
    {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let too_many = choices.len() as i64 > PROPERTY_LIMIT;
    let shown = &choices[..choices.len().min(PROPERTY_LIMIT as usize)];
    // One property to choose from (a customer with one house): chosen.
    let mut form = form;
    if form.property_id.is_empty()
        && let [only] = shown
    {
        form.property_id = only.id.to_string();
    }
    page_with_status(
        state,
        user,
        status,
        "office/invoice_form.html",
        "invoices",
        minijinja::context! {
            mode => "new",
            action => "/office/invoices",
            has_errors => form.has_errors(),
            form => minijinja::value::Serde(&form),
            properties => minijinja::value::Serde(&property_views(shown)),
            too_many_properties => too_many,
            customer_id => customer_id.unwrap_or(""),
        },
    )
}

pub(super) async fn new_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<NewQuery>,
) -> Response {
    let company = match company(&state, &user).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let today = state.app.clock.today_in(&company.time_zone);
    let form = FormView {
        property_id: q.property_id.trim().to_string(),
        issue_date: dates::iso(today),
        due_date: dates::iso(today + time::Duration::days(DEFAULT_TERMS_DAYS)),
        rows: pad_rows(Vec::new()),
        ..FormView::default()
    };
    let customer = q.customer_id.trim();
    if !customer.is_empty() {
        match customers::get(&state.app.db, &user.company_id, &customer.into()).await {
            Ok(Some(_)) => {}
            Ok(None) => return state.views.not_found(),
            Err(e) => return internal(e),
        }
    }
    render_new(
        &state,
        &user,
        StatusCode::OK,
        form,
        (!customer.is_empty()).then_some(customer),
    )
    .await
}

pub(super) async fn create(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<InvoiceForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let company = match company(&state, &user).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let listed = Some(f.customer_id.trim()).filter(|c| !c.is_empty());
    let mut form = FormView {
        property_id: f.property_id.trim().to_string(),
        number: f.number.clone(),
        issue_date: f.issue_date.clone(),
        due_date: f.due_date.clone(),
        rows: rows_from(&f.description, &f.quantity, &f.unit_price),
        errors: BTreeMap::new(),
    };
    if form.property_id.is_empty() {
        form.errors.insert(
            "property_id",
            "Choose the property this invoice is for.".into(),
        );
    }
    let number = check_number(&f.number, &mut form.errors);
    let dates = check_dates(&f.issue_date, &f.due_date, &mut form.errors);
    let lines = check_lines(
        &mut form.rows,
        company.currency.minor_digits(),
        &mut form.errors,
    );
    let (Some((issue_date, due_date)), Some((lines, _, _)), false) =
        (dates, lines, form.has_errors())
    else {
        form.rows = pad_rows(form.rows);
        return render_new(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
            listed,
        )
        .await;
    };
    let issue = IssueInvoice {
        property_id: form.property_id.as_str().into(),
        number,
        issue_date: Some(issue_date),
        due_date,
        lines,
    };
    match crate::app::invoices::issue(&state.app, &user.as_actor(), &issue).await {
        Ok(invoice) => {
            Redirect::to(&format!("/office/invoices/{}?done=created", invoice.id)).into_response()
        }
        Err(Refusal::Store(e)) => internal(e),
        Err(refusal) => {
            let (field, message) = match refusal {
                Refusal::NotFound => ("property_id", "Choose a property from the list.".into()),
                Refusal::Conflict { message, .. } => ("number", message),
                Refusal::Invalid { field, message } => (field, message),
                other => ("lines", other.to_string()),
            };
            form.errors.insert(field, message);
            form.rows = pad_rows(form.rows);
            render_new(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                listed,
            )
            .await
        }
    }
}

fn render_edit(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    detail: &Detail,
    form: FormView,
) -> Response {
    page_with_status(
        state,
        user,
        status,
        "office/invoice_form.html",
        "invoices",
        minijinja::context! {
            mode => "edit",
            action => format!("/office/invoices/{}/edit", detail.invoice.id),
            has_errors => form.has_errors(),
            form => minijinja::value::Serde(&form),
            invoice => minijinja::context! {
                id => detail.invoice.id.as_str(),
                number => detail.invoice.number.as_str(),
                property_address => detail.property_address.as_str(),
                bill_to_name => detail.bill_to_name.as_str(),
            },
        },
    )
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Response {
    let (company, detail) = match load_invoice(&state, &user, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    if let Some(r) = refuse_change(
        &state,
        &user,
        &company,
        &detail,
        invoices::edit_refusal,
        "edited",
    ) {
        return r;
    }
    let digits = company.currency.minor_digits();
    let rows = detail
        .invoice
        .lines
        .iter()
        .map(|l| RowView {
            description: l.description.clone(),
            quantity: l.quantity.to_string(),
            unit_price: plain_amount(l.unit_price, digits),
            ..RowView::default()
        })
        .collect();
    let form = FormView {
        property_id: detail.invoice.property_id.to_string(),
        number: detail.invoice.number.clone(),
        issue_date: dates::iso(detail.invoice.issue_date),
        due_date: dates::iso(detail.invoice.due_date),
        rows: pad_rows(rows),
        errors: BTreeMap::new(),
    };
    render_edit(&state, &user, StatusCode::OK, &detail, form)
}

pub(super) async fn edit(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<InvoiceId>,
    Form(f): Form<InvoiceForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let (company, detail) = match load_invoice(&state, &user, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let mut form = FormView {
        property_id: detail.invoice.property_id.to_string(),
        number: detail.invoice.number.clone(),
        issue_date: f.issue_date.clone(),
        due_date: f.due_date.clone(),
        rows: rows_from(&f.description, &f.quantity, &f.unit_price),
        errors: BTreeMap::new(),
    };
    let dates = check_dates(&f.issue_date, &f.due_date, &mut form.errors);
    let lines = check_lines(
        &mut form.rows,
        company.currency.minor_digits(),
        &mut form.errors,
    );
    let (Some((issue_date, due_date)), Some((lines, _, _)), false) =
        (dates, lines, form.has_errors())
    else {
        form.rows = pad_rows(form.rows);
        return render_edit(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &detail,
            form,
        );
    };
    let change = EditInvoice {
        issue_date: Some(issue_date),
        due_date: Some(due_date),
        lines: Some(lines),
    };
    match crate::app::invoices::edit(&state.app, &user.as_actor(), &id, &change).await {
        Ok(_) => Redirect::to(&format!("/office/invoices/{id}?done=edited")).into_response(),
        Err(Refusal::NotFound) => state.views.not_found(),
        Err(Refusal::Store(e)) => internal(e),
        Err(Refusal::Invalid { field, message }) => {
            form.errors.insert(field, message);
            form.rows = pad_rows(form.rows);
            render_edit(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &detail,
                form,
            )
        }
        Err(refusal) => refused(&state, &user, &id, &refusal.to_string()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    #[test]
    fn quantities_are_whole_and_positive() {
        assert_eq!(parse_quantity("2"), Ok(2));
        assert_eq!(parse_quantity(" 1 "), Ok(1));
        assert!(parse_quantity("0").is_err());
        assert!(parse_quantity("-1").is_err());
        assert!(parse_quantity("1.5").is_err());
        assert!(parse_quantity("").is_err());
        assert!(parse_quantity("1000000").is_err());
    }

    fn row(d: &str, q: &str, p: &str) -> RowView {
        RowView {
            description: d.into(),
            quantity: q.into(),
            unit_price: p.into(),
            ..RowView::default()
        }
    }

    #[test]
    fn blank_rows_are_ignored_and_lines_priced() {
        let mut rows = vec![
            row("Quarterly service", "1", "89.00"),
            row("", "1", ""),
            row("Termite bait", "2", "45.50"),
            row("", "", ""),
        ];
        let mut errors = BTreeMap::new();
        let (lines, amounts, total) = check_lines(&mut rows, 2, &mut errors).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(amounts, vec![8900, 9100]);
        assert_eq!(total, 18000);
        assert!(errors.is_empty());
    }

    #[test]
    fn line_errors_land_on_their_row_and_field() {
        let mut rows = vec![
            row("Service", "1", "12.345"),
            row("", "1", ""),
            row("Bait", "0", "5"),
            row("", "1", "5.00"),
        ];
        let mut errors = BTreeMap::new();
        assert!(check_lines(&mut rows, 2, &mut errors).is_none());
        assert!(rows[0].unit_price_error.contains("two decimals"));
        assert!(rows[1].quantity_error.is_empty());
        assert!(rows[2].quantity_error.contains("at least 1"));
        assert!(rows[3].description_error.contains("Describe"));
        let mut none = vec![row("", "1", ""); 5];
        assert!(check_lines(&mut none, 2, &mut errors).is_none());
        assert!(errors["lines"].contains("at least one line"));
    }

    #[test]
    fn rows_are_padded_for_forms_without_javascript() {
        assert_eq!(pad_rows(Vec::new()).len(), MIN_ROWS);
        let seven = vec![row("a", "1", "1"); 7];
        let padded = pad_rows(seven);
        assert_eq!(padded.len(), 9);
        assert!(padded[8].is_blank());
        // Rows as typed stay in place (their errors refer to them).
        let typed = vec![row("a", "1", "1"), row("", "1", ""), row("", "1", "")];
        assert_eq!(pad_rows(typed.clone())[..3], typed[..]);
        let zipped = rows_from(&["a".into(), "b".into()], &["1".into()], &[]);
        assert_eq!(zipped.len(), 2);
        assert_eq!(zipped[1].quantity, "");
    }

    #[test]
    fn dates_and_numbers() {
        let mut errors = BTreeMap::new();
        assert_eq!(
            check_dates("2026-12-01", "2026-12-31", &mut errors),
            Some((date!(2026 - 12 - 01), date!(2026 - 12 - 31)))
        );
        assert!(check_dates("2026-12-31", "2026-12-01", &mut errors).is_none());
        assert!(errors["due_date"].contains("before"));
        let mut errors = BTreeMap::new();
        assert!(check_dates("12/01/2026", "", &mut errors).is_none());
        assert!(errors.contains_key("issue_date") && errors.contains_key("due_date"));
        let mut errors = BTreeMap::new();
        assert_eq!(check_number("  ", &mut errors), None);
        assert_eq!(check_number(" A-17 ", &mut errors), Some("A-17".into()));
        assert!(errors.is_empty());
        assert_eq!(check_number(&"9".repeat(41), &mut errors), None);
        assert!(errors.contains_key("number"));
    }
}
