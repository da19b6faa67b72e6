//! Office: invoices. The list with filters and totals, the create and edit
//! forms (line items typed in dollars), the invoice page with the payments
//! applied to it, and voiding with one confirmation.

use crate::domain::money::{parse_amount, plain_amount};
use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::Form;
use serde::{Deserialize, Serialize};
use time::Date;

use super::{CsrfForm, OfficeUser, page, page_with_status};
use crate::domain::dates;
use crate::domain::invoice::{self, DESCRIPTION_MAX};
use crate::domain::money::{Currency, Money};
use crate::domain::text::single_line;
use crate::domain::{LineError, LineInput, price_lines};
use crate::store::companies::{self, Company};
use crate::store::invoices::{
    self, Detail, ListFilter, NewInvoice, PropertyChoice, Refusal, Replacement, StatusFilter,
};
use crate::store::{StoreError, audit, customers};
use crate::web::AppState;
use crate::web::error::ApiError;

/// Rows the list shows at most; a note says when more matched.
const LIST_LIMIT: i64 = 200;
/// Properties offered in the form's select at most.
const PROPERTY_LIMIT: i64 = 2000;
/// Line rows a form offers without JavaScript.
const MIN_ROWS: usize = 5;
/// Days from issue to due that a new invoice starts with.
const DEFAULT_TERMS_DAYS: i64 = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/invoices", get(list).post(create))
        .route("/office/invoices/new", get(new_form))
        .route("/office/invoices/{id}", get(show))
        .route("/office/invoices/{id}/edit", get(edit_form).post(edit))
        .route("/office/invoices/{id}/void", get(void_confirm).post(void))
}

fn internal(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

async fn company(state: &AppState, user: &OfficeUser) -> Result<Company, Response> {
    match companies::get(&state.app.db, &user.company_id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(state.views.not_found()),
        Err(e) => Err(internal(e)),
    }
}

fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).format()
}

// ---------------------------------------------------------------- pure rules

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
        errors.insert(field, "Enter a date like 2026-12-15.".into());
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

/// "Overdue by 3 days", "Due today", "Due in 5 days"; nothing once settled.
fn due_words(status: &str, due: Date, today: Date) -> String {
    if status != "open" {
        return String::new();
    }
    let days = (due - today).whole_days();
    let plural = |n: i64| if n == 1 { "day" } else { "days" };
    match days {
        0 => "Due today".into(),
        d if d < 0 => format!("Overdue by {} {}", -d, plural(-d)),
        d => format!("Due in {d} {}", plural(d)),
    }
}

/// The status badge: CSS class and label. Open and past due is "Overdue".
fn badge(status: &str, due: Date, today: Date) -> (&'static str, &'static str) {
    match status {
        "open" if due < today => ("overdue", "Overdue"),
        "open" => ("open", "Open"),
        "paid" => ("paid", "Paid"),
        _ => ("void", "Void"),
    }
}

/// The invoice page saying why it cannot be `action` (409), when `refusal`
/// refuses the change.
fn refuse_change(
    state: &AppState,
    user: &OfficeUser,
    company: &Company,
    detail: &Detail,
    refusal: fn(&invoices::ChangeState) -> Option<Refusal>,
    action: &str,
) -> Option<Response> {
    let why = refusal(&detail.change())?;
    let message = refusal_message(why, &detail.invoice.number, action);
    Some(render_show(
        state,
        user,
        company,
        detail,
        StatusCode::CONFLICT,
        "",
        &message,
    ))
}

/// What the office sees when an edit or void is refused.
fn refusal_message(why: Refusal, number: &str, action: &str) -> String {
    match why {
        Refusal::NotFound => "No such invoice.".into(),
        Refusal::Locked => format!(
            "A payment for invoice {number} is being processed right now, so it cannot be {action} at the moment. Try again in a minute."
        ),
        Refusal::PaymentApplied => {
            let next = if action == "voided" {
                "Refund the payment first if it was taken in error; the invoice then stays on record."
            } else {
                "To bill more, issue a new invoice for the difference."
            };
            format!(
                "A payment has been applied to invoice {number}, so it can no longer be {action}. {next}"
            )
        }
        Refusal::Void if action == "voided" => format!("Invoice {number} is already void."),
        Refusal::Void => format!("Invoice {number} is void, so it cannot be {action}."),
        Refusal::Paid => format!("Invoice {number} is paid, so it cannot be {action}."),
    }
}

// ---------------------------------------------------------------- list

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    customer_id: String,
}

#[derive(Serialize)]
struct ListRowView {
    id: String,
    number: String,
    customer_id: String,
    customer_name: String,
    property_address: String,
    issue_date: String,
    due_date: String,
    due_words: String,
    total: String,
    balance: String,
    badge_class: &'static str,
    badge_label: &'static str,
}

async fn list(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let company = match company(&state, &user).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let today = state.app.clock.today_in(&company.time_zone);
    let mut errors: BTreeMap<&'static str, String> = BTreeMap::new();
    let status = StatusFilter::parse(q.status.trim()).unwrap_or_else(|| {
        errors.insert("status", "Choose a status from the list.".into());
        StatusFilter::All
    });
    let mut optional_date = |text: &str, field: &'static str| {
        let t = text.trim();
        if t.is_empty() {
            return None;
        }
        let d = dates::parse(t);
        if d.is_none() {
            errors.insert(field, "Enter a date like 2026-12-15.".into());
        }
        d
    };
    let from = optional_date(&q.from, "from");
    let to = optional_date(&q.to, "to");
    let customer_id = q.customer_id.trim();
    let customer = if customer_id.is_empty() {
        None
    } else {
        match customers::get(&state.app.db, &user.company_id, customer_id).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => return state.views.not_found(),
            Err(e) => return internal(e),
        }
    };
    let filter = ListFilter {
        status,
        today,
        from,
        to,
        customer_id: customer.as_ref().map(|c| c.id.as_str()),
    };
    let (rows, totals) =
        match invoices::office_list(&state.app.db, &user.company_id, &filter, LIST_LIMIT).await {
            Ok(r) => r,
            Err(e) => return internal(e),
        };
    let views: Vec<ListRowView> = rows
        .iter()
        .map(|r| {
            let (badge_class, badge_label) = badge(&r.status, r.due_date, today);
            ListRowView {
                id: r.id.clone(),
                number: r.number.clone(),
                customer_id: r.customer_id.clone(),
                customer_name: r.customer_name.clone(),
                property_address: r.property_address.clone(),
                issue_date: dates::display(r.issue_date),
                due_date: dates::display(r.due_date),
                due_words: due_words(&r.status, r.due_date, today),
                total: money(r.total, r.currency),
                balance: money(r.balance, r.currency),
                badge_class,
                badge_label,
            }
        })
        .collect();
    let more = totals.count > views.len() as i64;
    let status_code = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    page_with_status(
        &state,
        &user,
        status_code,
        "office/invoices.html",
        "invoices",
        minijinja::context! {
            rows => minijinja::value::Serde(&views),
            count => totals.count,
            total => money(totals.total, company.currency),
            open_balance => money(totals.open_balance, company.currency),
            more => more,
            limit => LIST_LIMIT,
            status => status.key(),
            from => q.from.trim(),
            to => q.to.trim(),
            link_from => from.map(dates::iso).unwrap_or_default(),
            link_to => to.map(dates::iso).unwrap_or_default(),
            customer => customer.as_ref().map(|c| minijinja::context! { id => c.id.as_str(), name => c.name.as_str() }),
            errors => minijinja::value::Serde(&errors),
            today => dates::display(today),
        },
    )
}

// ---------------------------------------------------------------- create and edit

#[derive(Deserialize)]
struct InvoiceForm {
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
            id: p.id.clone(),
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
struct NewQuery {
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

async fn new_form(
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
        match customers::get(&state.app.db, &user.company_id, customer).await {
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

async fn create(
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
    let (Some((issue_date, due_date)), Some((lines, amounts, total)), false) =
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
    let result: Result<Result<invoices::Invoice, &'static str>, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let Some(property) =
            customers::get_property(&mut tx, &user.company_id, &form.property_id).await?
        else {
            return Ok(Err("property_id"));
        };
        let new = NewInvoice {
            company_id: &user.company_id,
            number: number.as_deref(),
            property_id: &property.id,
            bill_to_customer_id: &property.bill_to_customer_id,
            issue_date,
            due_date,
            currency: company.currency,
            lines: &lines,
            amounts: &amounts,
            total,
        };
        let invoice = match invoices::create(&mut tx, &new).await {
            Ok(i) => i,
            Err(StoreError::Conflict) => return Ok(Err("number")),
            Err(e) => return Err(e),
        };
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "invoice.created",
            &invoice.id,
            serde_json::json!({"number": invoice.number, "total": invoice.total, "lines": lines.len()}),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(invoice))
    }
    .await;
    match result {
        Ok(Ok(invoice)) => {
            Redirect::to(&format!("/office/invoices/{}?done=created", invoice.id)).into_response()
        }
        Ok(Err(field)) => {
            let message = if field == "number" {
                format!(
                    "Invoice number {} is already used. Leave it empty to take the next number.",
                    number.as_deref().unwrap_or("")
                )
            } else {
                "Choose a property from the list.".to_string()
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
        Err(e) => internal(e),
    }
}

/// The signed-in user's company and one of its invoices (404 otherwise).
async fn load_invoice(
    state: &AppState,
    user: &OfficeUser,
    id: &str,
) -> Result<(Company, Detail), Response> {
    let company = company(state, user).await?;
    match invoices::detail(&state.app.db, &user.company_id, id).await {
        Ok(Some(d)) => Ok((company, d)),
        Ok(None) => Err(state.views.not_found()),
        Err(e) => Err(internal(e)),
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

async fn edit_form(
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
        property_id: detail.invoice.property_id.clone(),
        number: detail.invoice.number.clone(),
        issue_date: dates::iso(detail.invoice.issue_date),
        due_date: dates::iso(detail.invoice.due_date),
        rows: pad_rows(rows),
        errors: BTreeMap::new(),
    };
    render_edit(&state, &user, StatusCode::OK, &detail, form)
}

async fn edit(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
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
        property_id: detail.invoice.property_id.clone(),
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
    let (Some((issue_date, due_date)), Some((lines, amounts, total)), false) =
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
    let result: Result<Result<i64, Refusal>, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let replacement = Replacement {
            issue_date,
            due_date,
            lines: &lines,
            amounts: &amounts,
            total,
        };
        let old_total =
            match invoices::replace(&mut tx, &user.company_id, &id, &replacement).await? {
                Ok(t) => t,
                Err(why) => return Ok(Err(why)),
            };
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "invoice.edited",
            &id,
            serde_json::json!({
                "number": detail.invoice.number,
                "old_total": old_total,
                "new_total": total,
                "lines": lines.len(),
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(old_total))
    }
    .await;
    match result {
        Ok(Ok(_)) => Redirect::to(&format!("/office/invoices/{id}?done=edited")).into_response(),
        Ok(Err(Refusal::NotFound)) => state.views.not_found(),
        Ok(Err(why)) => {
            let message = refusal_message(why, &detail.invoice.number, "edited");
            refused(&state, &user, &id, &message).await
        }
        Err(e) => internal(e),
    }
}

/// The invoice page with a refusal on it, read afresh (409).
async fn refused(state: &AppState, user: &OfficeUser, id: &str, message: &str) -> Response {
    match load_invoice(state, user, id).await {
        Ok((company, d)) => {
            render_show(state, user, &company, &d, StatusCode::CONFLICT, "", message)
        }
        Err(r) => r,
    }
}

// ---------------------------------------------------------------- the invoice page

#[derive(Serialize)]
struct LineView {
    description: String,
    quantity: i64,
    unit_price: String,
    amount: String,
}

#[derive(Serialize)]
struct PaymentView {
    date: String,
    how: String,
    channel: &'static str,
    amount: String,
}

#[derive(Serialize)]
struct RefundView {
    date: String,
    reason: String,
    amount: String,
}

fn channel_label(channel: &str) -> &'static str {
    match channel {
        "quick_pay" => "Quick payment page",
        "portal" => "Customer portal",
        "office" => "Office",
        "autopay" => "Autopay",
        "api" => "API",
        _ => "Other",
    }
}

fn payment_how(p: &invoices::AppliedPayment) -> String {
    match p.method.as_str() {
        "card" => match (&p.card_brand, &p.card_last4) {
            (Some(b), Some(l)) => format!("{b} ending {l}"),
            _ => "Card".into(),
        },
        "check" => match &p.check_number {
            Some(n) if !n.is_empty() => format!("Check #{n}"),
            _ => "Check".into(),
        },
        "cash" => "Cash".into(),
        other => other.to_string(),
    }
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    #[serde(default)]
    done: String,
}

fn render_show(
    state: &AppState,
    user: &OfficeUser,
    company: &Company,
    d: &Detail,
    status: StatusCode,
    notice: &str,
    refusal: &str,
) -> Response {
    let today = state.app.clock.today_in(&company.time_zone);
    let inv = &d.invoice;
    let c = inv.currency;
    let (badge_class, badge_label) = badge(&inv.status, inv.due_date, today);
    let change = d.change();
    let lines: Vec<LineView> = inv
        .lines
        .iter()
        .map(|l| LineView {
            description: l.description.clone(),
            quantity: l.quantity,
            unit_price: money(l.unit_price, c),
            amount: money(l.amount, c),
        })
        .collect();
    let payments: Vec<PaymentView> = d
        .payments
        .iter()
        .map(|p| PaymentView {
            date: dates::display_instant(p.created_at, &company.time_zone),
            how: payment_how(p),
            channel: channel_label(&p.channel),
            amount: money(p.amount, c),
        })
        .collect();
    let refunds: Vec<RefundView> = d
        .refunds
        .iter()
        .map(|r| RefundView {
            date: dates::display_instant(r.created_at, &company.time_zone),
            reason: r.reason.clone(),
            amount: money(r.amount, c),
        })
        .collect();
    let lock_note = if d.locked && inv.status == "open" {
        "A payment for this invoice is being processed right now. It cannot be edited or voided until that finishes."
    } else {
        ""
    };
    page_with_status(
        state,
        user,
        status,
        "office/invoice.html",
        "invoices",
        minijinja::context! {
            invoice => minijinja::context! {
                id => inv.id.as_str(),
                number => inv.number.as_str(),
                status => inv.status.as_str(),
                badge_class => badge_class,
                badge_label => badge_label,
                due_words => due_words(&inv.status, inv.due_date, today),
                issue_date => dates::display(inv.issue_date),
                due_date => dates::display(inv.due_date),
                total => money(inv.total, c),
                applied => money(d.applied, c),
                refunded => money(d.refunded, c),
                has_refunds => d.refunded > 0,
                balance => money(inv.balance, c),
                owed => inv.status == "open",
                voided_at => d.voided_at.map(|t| dates::display_instant(t, &company.time_zone)),
                property_address => d.property_address.as_str(),
                bill_to_id => inv.bill_to_customer_id.as_str(),
                bill_to_name => d.bill_to_name.as_str(),
                resident_id => d.resident_customer_id.as_str(),
                resident_name => d.resident_name.as_str(),
                on_behalf => d.resident_customer_id != inv.bill_to_customer_id,
                can_edit => invoices::edit_refusal(&change).is_none(),
                can_void => invoices::void_refusal(&change).is_none(),
            },
            lines => minijinja::value::Serde(&lines),
            payments => minijinja::value::Serde(&payments),
            refunds => minijinja::value::Serde(&refunds),
            lock_note => lock_note,
            notice => notice,
            refusal => refusal,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    let (company, detail) = match load_invoice(&state, &user, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let number = &detail.invoice.number;
    let notice = match q.done.as_str() {
        "created" => format!("Invoice {number} was created."),
        "edited" => format!("Invoice {number} was updated."),
        "voided" => format!("Invoice {number} was voided. It is no longer payable."),
        _ => String::new(),
    };
    render_show(
        &state,
        &user,
        &company,
        &detail,
        StatusCode::OK,
        &notice,
        "",
    )
}

// ---------------------------------------------------------------- void

async fn void_confirm(
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
        invoices::void_refusal,
        "voided",
    ) {
        return r;
    }
    let inv = &detail.invoice;
    page(
        &state,
        &user,
        "office/invoice_void.html",
        "invoices",
        minijinja::context! {
            invoice => minijinja::context! {
                id => inv.id.as_str(),
                number => inv.number.as_str(),
                total => money(inv.total, inv.currency),
                balance => money(inv.balance, inv.currency),
                bill_to_name => detail.bill_to_name.as_str(),
                property_address => detail.property_address.as_str(),
            },
        },
    )
}

async fn void(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    let (_, detail) = match load_invoice(&state, &user, &id).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let result: Result<Result<(), Refusal>, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if let Err(why) = invoices::void(&mut tx, &user.company_id, &id).await? {
            return Ok(Err(why));
        }
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "invoice.voided",
            &id,
            serde_json::json!({
                "number": detail.invoice.number,
                "total": detail.invoice.total,
                "balance": detail.invoice.balance,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }
    .await;
    match result {
        Ok(Ok(())) => Redirect::to(&format!("/office/invoices/{id}?done=voided")).into_response(),
        Ok(Err(Refusal::NotFound)) => state.views.not_found(),
        Ok(Err(why)) => {
            let message = refusal_message(why, &detail.invoice.number, "voided");
            refused(&state, &user, &id, &message).await
        }
        Err(e) => internal(e),
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

    #[test]
    fn overdue_in_words() {
        let today = date!(2026 - 11 - 28);
        assert_eq!(
            due_words("open", date!(2026 - 11 - 25), today),
            "Overdue by 3 days"
        );
        assert_eq!(
            due_words("open", date!(2026 - 11 - 27), today),
            "Overdue by 1 day"
        );
        assert_eq!(due_words("open", today, today), "Due today");
        assert_eq!(
            due_words("open", date!(2026 - 12 - 03), today),
            "Due in 5 days"
        );
        assert_eq!(due_words("paid", date!(2026 - 11 - 01), today), "");
        assert_eq!(
            badge("open", date!(2026 - 11 - 27), today),
            ("overdue", "Overdue")
        );
        assert_eq!(badge("open", today, today), ("open", "Open"));
        assert_eq!(
            badge("void", date!(2026 - 11 - 01), today),
            ("void", "Void")
        );
    }

    #[test]
    fn refusals_say_why() {
        assert!(refusal_message(Refusal::Locked, "1001", "voided").contains("being processed"));
        assert!(
            refusal_message(Refusal::PaymentApplied, "1001", "edited")
                .contains("can no longer be edited")
        );
        assert_eq!(
            refusal_message(Refusal::Void, "1001", "voided"),
            "Invoice 1001 is already void."
        );
    }
}
