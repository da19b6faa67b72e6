//! Office: customers, their properties and their payment links.
//!
//! `/office/customers` lists and searches; `/office/customers/{id}` shows one
//! customer with properties, invoices, payments, cards and the payment link;
//! `/office/properties/{id}/edit` changes an address or who pays for it.

use crate::domain::customer::{CustomerInput, check_address};
use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::{Deserialize, Serialize};
use time::Date;

use super::{OfficeUser, page, page_with_status};
use crate::domain::dates;
use crate::domain::money::{Currency, Money};
use crate::store::companies::{self, Company};
use crate::store::customers::{self, Customer, NewCustomer, PropertyView};
use crate::store::payments::{self as pay_store, PaymentRecord};
use crate::store::{StoreError, audit, invoices};
use crate::web::AppState;
use crate::web::error::ApiError;

const LIST_LIMIT: i64 = 200;
/// How many customers the bill-to select offers.
const CHOICES_LIMIT: i64 = 5000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/customers", get(list).post(create))
        .route("/office/customers/new", get(new_form))
        .route("/office/customers/{id}", get(detail))
        .route("/office/customers/{id}/edit", get(edit_form).post(update))
        .route(
            "/office/customers/{id}/properties",
            axum::routing::post(add_property),
        )
        .route(
            "/office/customers/{id}/link/{action}",
            get(link_confirm).post(link_action),
        )
        .route(
            "/office/properties/{id}/edit",
            get(property_form).post(update_property),
        )
}

fn store_error(e: StoreError) -> Response {
    ApiError::from(e).into_response()
}

/// The field errors of a form, by field name, shown next to each field.
type FieldErrors = BTreeMap<&'static str, String>;

// ---------------------------------------------------------------- rules

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct CustomerForm {
    #[serde(default, skip_serializing)]
    pub csrf: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub billing_address: String,
}

impl CustomerForm {
    fn of(c: &Customer) -> CustomerForm {
        CustomerForm {
            csrf: String::new(),
            name: c.name.clone(),
            email: c.email.clone().unwrap_or_default(),
            phone: c.phone.clone().unwrap_or_default(),
            billing_address: c.billing_address.clone().unwrap_or_default(),
        }
    }
}

/// Checks a customer form: the customer to save, or an error per field.
/// `region` is the company's country, for phone numbers without a code.
pub fn validate_customer(f: &CustomerForm, region: &str) -> Result<NewCustomer, FieldErrors> {
    CustomerInput {
        name: &f.name,
        email: Some(&f.email),
        phone: Some(&f.phone),
        billing_address: Some(&f.billing_address),
    }
    .check(region)
    .map_err(|errors| errors.into_iter().map(|e| (e.field, e.message)).collect())
}

/// Checks a property address.
pub fn validate_address(address: &str) -> Result<String, String> {
    check_address("address", address).map_err(|e| e.message)
}

/// An invoice's state in words (colour is never the only signal) and the
/// badge class that goes with it.
pub fn invoice_state(status: &str, due: Date, today: Date) -> (String, &'static str) {
    match status {
        "paid" => ("Paid".into(), "paid"),
        "void" => ("Void".into(), "void"),
        _ => {
            let late = (today - due).whole_days();
            match late {
                1 => ("Overdue by 1 day".into(), "overdue"),
                n if n > 1 => (format!("Overdue by {n} days"), "overdue"),
                0 => ("Due today".into(), "open"),
                _ => ("Open".into(), "open"),
            }
        }
    }
}

/// How a payment was made, in words: "Visa ending 4242", "Check", "Cash".
pub fn payment_method_words(method: &str, brand: Option<&str>, last4: Option<&str>) -> String {
    match (method, brand, last4) {
        ("card", Some(b), Some(l)) => format!("{b} ending {l}"),
        ("card", _, _) => "Card".into(),
        ("check", _, _) => "Check".into(),
        ("cash", _, _) => "Cash".into(),
        (other, _, _) => other.to_string(),
    }
}

pub fn channel_words(channel: &str) -> &'static str {
    match channel {
        "quick_pay" => "Payment link",
        "portal" => "Customer portal",
        "office" => "Office",
        "autopay" => "Autopay",
        "api" => "API",
        _ => "Other",
    }
}

// ---------------------------------------------------------------- list

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct ListRow {
    id: String,
    name: String,
    email: String,
    phone: String,
    address: String,
    open_balance: String,
    open_invoices: i64,
}

async fn company_of(state: &AppState, user: &OfficeUser) -> Result<Company, Response> {
    companies::get(&state.app.db, &user.company_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| state.views.not_found())
}

async fn list(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let company = match company_of(&state, &user).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = match customers::list_with_balances(
        &state.app.db,
        &user.company_id,
        &q.q,
        LIST_LIMIT,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return store_error(e),
    };
    let total: i64 = rows.iter().map(|r| r.open_balance).sum();
    let owing = rows.iter().filter(|r| r.open_balance > 0).count();
    let money = |m: i64| Money::new(m, company.currency).format();
    let shown: Vec<ListRow> = rows
        .iter()
        .map(|r| ListRow {
            id: r.id.clone(),
            name: r.name.clone(),
            email: r.email.clone().unwrap_or_default(),
            phone: r.phone.clone().unwrap_or_default(),
            address: r.billing_address.clone().unwrap_or_default(),
            open_balance: money(r.open_balance),
            open_invoices: r.open_invoices,
        })
        .collect();
    page(
        &state,
        &user,
        "office/customers.html",
        "customers",
        minijinja::context! {
            query => q.q.trim(),
            rows => minijinja::value::Serde(&shown),
            count => shown.len(),
            truncated => shown.len() as i64 >= LIST_LIMIT,
            owing => owing,
            total => money(total),
        },
    )
}

// ---------------------------------------------------------------- create and edit

fn customer_form_page(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    customer_id: Option<&str>,
    form: &CustomerForm,
    errors: &FieldErrors,
) -> Response {
    page_with_status(
        state,
        user,
        status,
        "office/customers_form.html",
        "customers",
        minijinja::context! {
            customer_id => customer_id,
            form => minijinja::value::Serde(form),
            errors => minijinja::value::Serde(errors),
        },
    )
}

async fn new_form(State(state): State<AppState>, user: OfficeUser) -> Response {
    customer_form_page(
        &state,
        &user,
        StatusCode::OK,
        None,
        &CustomerForm::default(),
        &FieldErrors::new(),
    )
}

async fn create(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(form): Form<CustomerForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let new = match validate_customer(&form, &user.country) {
        Ok(n) => n,
        Err(errors) => {
            return customer_form_page(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                &form,
                &errors,
            );
        }
    };
    let result: Result<String, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        let customer = customers::create(&mut tx, &user.company_id, &new).await?;
        // The payment link exists from the moment the customer does.
        crate::app::links::issue(
            &mut tx,
            &state.app.config.secret,
            &user.company_id,
            &customer.id,
        )
        .await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "customer.created",
            &customer.id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(customer.id)
    }
    .await;
    match result {
        Ok(id) => Redirect::to(&format!("/office/customers/{id}?done=created")).into_response(),
        Err(e) => store_error(e),
    }
}

async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Response {
    match customers::get(&state.app.db, &user.company_id, &id).await {
        Ok(Some(c)) => customer_form_page(
            &state,
            &user,
            StatusCode::OK,
            Some(&c.id),
            &CustomerForm::of(&c),
            &FieldErrors::new(),
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

async fn update(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(form): Form<CustomerForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    match customers::get(&state.app.db, &user.company_id, &id).await {
        Ok(Some(_)) => {}
        Ok(None) => return state.views.not_found(),
        Err(e) => return store_error(e),
    }
    let new = match validate_customer(&form, &user.country) {
        Ok(n) => n,
        Err(errors) => {
            return customer_form_page(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(&id),
                &form,
                &errors,
            );
        }
    };
    let result: Result<bool, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::update(&mut tx, &user.company_id, &id, &new).await? {
            return Ok(false);
        }
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "customer.updated",
            &id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => Redirect::to(&format!("/office/customers/{id}?done=saved")).into_response(),
        Ok(false) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

// ---------------------------------------------------------------- the customer page

#[derive(Serialize)]
struct InvoiceRow {
    id: String,
    number: String,
    property: String,
    issue_date: String,
    due_date: String,
    total: String,
    balance: String,
    state: String,
    badge: &'static str,
}

#[derive(Serialize)]
struct PaymentRow {
    id: String,
    when: String,
    amount: String,
    method: String,
    channel: &'static str,
    invoices: String,
    refunded: Option<String>,
}

#[derive(Serialize)]
struct CardRow {
    brand: String,
    last4: String,
    expires: String,
    autopay: bool,
}

#[derive(Serialize)]
struct LinkView {
    url: Option<String>,
    revoked: bool,
}

#[derive(Serialize)]
struct PropertyRow {
    #[serde(flatten)]
    property: PropertyView,
    lives_here: bool,
    pays_here: bool,
}

/// What the add-property form holds when it is shown again.
#[derive(Default, Serialize)]
struct PropertyFormState {
    address: String,
    bill_to: String,
    error: Option<String>,
    bill_to_error: Option<String>,
}

#[derive(Deserialize, Default)]
struct DetailQuery {
    #[serde(default)]
    done: String,
}

fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "created" => "Customer created. Their payment link is ready below.",
        "saved" => "Contact details saved.",
        "property" => "Property added.",
        "property-saved" => "Property saved.",
        "rotated" => "A new payment link was issued. The old link no longer works.",
        "revoked" => "The payment link was revoked. It no longer opens anything.",
        _ => return None,
    })
}

fn payment_rows(payments: &[PaymentRecord], time_zone: &str) -> Vec<PaymentRow> {
    payments
        .iter()
        .map(|p| PaymentRow {
            id: p.id.clone(),
            when: dates::display_instant(p.created_at, time_zone),
            amount: Money::new(p.amount, p.currency).format(),
            method: payment_method_words(
                &p.method,
                p.card_brand.as_deref(),
                p.card_last4.as_deref(),
            ),
            channel: channel_words(&p.channel),
            invoices: p
                .allocations
                .iter()
                .map(|a| a.invoice_number.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            refunded: (p.refunded > 0).then(|| Money::new(p.refunded, p.currency).format()),
        })
        .collect()
}

async fn render_detail(
    state: &AppState,
    user: &OfficeUser,
    id: &str,
    status: StatusCode,
    notice: Option<&str>,
    property_form: PropertyFormState,
) -> Response {
    let result: Result<Option<minijinja::Value>, StoreError> = async {
        let db = &state.app.db;
        let company_id = user.company_id.as_str();
        let Some(customer) = customers::get(db, company_id, id).await? else {
            return Ok(None);
        };
        let Some(company) = companies::get(db, company_id).await? else {
            return Ok(None);
        };
        let currency: Currency = company.currency;
        let money = |m: i64| Money::new(m, currency).format();
        let today = state.app.clock.today_in(&company.time_zone);

        let link =
            crate::app::links::shown(db.reader(), &state.app.config.secret, company_id, id).await?;
        let base = state.app.base_url(company.base_url.as_deref());
        let link = LinkView {
            url: link
                .as_ref()
                .map(|l| crate::domain::paylink::url(base, &l.token)),
            revoked: link.as_ref().is_some_and(|l| l.revoked),
        };

        let properties: Vec<PropertyRow> = customers::properties_of(db, company_id, id)
            .await?
            .into_iter()
            .map(|p| PropertyRow {
                lives_here: p.resident_customer_id == id,
                pays_here: p.bill_to_customer_id == id,
                property: p,
            })
            .collect();

        let invoice_list = invoices::list(db, company_id, Some(id), None, 500).await?;
        let mut overdue = 0;
        let mut open = 0;
        let invoice_rows: Vec<InvoiceRow> = invoice_list
            .iter()
            .map(|i| {
                let (state, badge) = invoice_state(&i.status, i.due_date, today);
                if i.status == "open" {
                    open += 1;
                }
                if badge == "overdue" {
                    overdue += 1;
                }
                InvoiceRow {
                    id: i.id.clone(),
                    number: i.number.clone(),
                    property: properties
                        .iter()
                        .find(|p| p.property.id == i.property_id)
                        .map(|p| p.property.address.clone())
                        .unwrap_or_default(),
                    issue_date: dates::display(i.issue_date),
                    due_date: dates::display(i.due_date),
                    total: Money::new(i.total, i.currency).format(),
                    balance: Money::new(i.balance, i.currency).format(),
                    state,
                    badge,
                }
            })
            .collect();
        let balance = customers::open_balance(db, company_id, id).await?;

        let payments = pay_store::list(db, company_id, Some(id), None, 100).await?;
        let paid_total: i64 = payments.iter().map(|p| p.amount - p.refunded).sum();
        let payment_rows = payment_rows(&payments, &company.time_zone);

        let autopay = pay_store::active_autopay(db, id).await?;
        let cards: Vec<CardRow> = customers::saved_cards(db, company_id, id)
            .await?
            .into_iter()
            .map(|c| CardRow {
                autopay: autopay.as_ref().is_some_and(|a| a.id == c.id),
                expires: format!("{:02}/{:02}", c.exp_month, c.exp_year % 100),
                brand: c.brand,
                last4: c.last4,
            })
            .collect();
        let autopay_words = autopay.map(|a| format!("{} ending {}", a.brand, a.last4));

        // The office sees that texts to this number stopped (SECURITY.md 20).
        let sms_opted_out = match customer
            .phone
            .as_deref()
            .and_then(crate::messaging::sms::normalize_phone)
        {
            Some(phone) => crate::store::messages::opted_out_since(db, company_id, &phone)
                .await?
                .map(|at| crate::domain::dates::display_instant(at, &company.time_zone)),
            None => None,
        };

        let choices = customers::choices(db, company_id, CHOICES_LIMIT).await?;
        let mut property_form = property_form;
        if property_form.bill_to.is_empty() {
            property_form.bill_to = id.to_string();
        }

        Ok(Some(minijinja::context! {
            customer => minijinja::value::Serde(&customer),
            notice => notice,
            link => minijinja::value::Serde(&link),
            properties => minijinja::value::Serde(&properties),
            invoices => minijinja::value::Serde(&invoice_rows),
            open_count => open,
            overdue_count => overdue,
            balance => money(balance),
            payments => minijinja::value::Serde(&payment_rows),
            paid_total => money(paid_total),
            cards => minijinja::value::Serde(&cards),
            autopay => autopay_words,
            sms_opted_out => sms_opted_out,
            choices => minijinja::value::Serde(&choices),
            property_form => minijinja::value::Serde(&property_form),
        }))
    }
    .await;
    match result {
        Ok(Some(ctx)) => page_with_status(
            state,
            user,
            status,
            "office/customers_detail.html",
            "customers",
            ctx,
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

async fn detail(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    render_detail(
        &state,
        &user,
        &id,
        StatusCode::OK,
        notice(&q.done),
        PropertyFormState::default(),
    )
    .await
}

// ---------------------------------------------------------------- properties

#[derive(Deserialize)]
struct NewPropertyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    bill_to: String,
}

async fn add_property(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(form): Form<NewPropertyForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let result: Result<Added, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::all_belong(&mut tx, &user.company_id, &[id.as_str()]).await? {
            return Ok(Added::NoSuchCustomer);
        }
        let bill_to = match form.bill_to.trim() {
            "" => id.clone(),
            chosen => chosen.to_string(),
        };
        let bill_to_ok = customers::all_belong(&mut tx, &user.company_id, &[&bill_to]).await?;
        let address = match (validate_address(&form.address), bill_to_ok) {
            (Ok(address), true) => address,
            (address, _) => {
                return Ok(Added::Invalid(PropertyFormState {
                    address: form.address.clone(),
                    bill_to: if bill_to_ok { bill_to } else { id.clone() },
                    error: address.err(),
                    bill_to_error: (!bill_to_ok)
                        .then(|| "Choose a customer from the list.".to_string()),
                }));
            }
        };
        let p =
            customers::create_property(&mut tx, &user.company_id, &address, &id, &bill_to).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "property.created",
            &p.id,
            serde_json::json!({ "resident": id, "bill_to": bill_to }),
        )
        .await?;
        tx.commit().await?;
        Ok(Added::Done)
    }
    .await;
    match result {
        Ok(Added::Done) => {
            Redirect::to(&format!("/office/customers/{id}?done=property")).into_response()
        }
        Ok(Added::NoSuchCustomer) => state.views.not_found(),
        Ok(Added::Invalid(form_state)) => {
            render_detail(
                &state,
                &user,
                &id,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                form_state,
            )
            .await
        }
        Err(e) => store_error(e),
    }
}

enum Added {
    Done,
    NoSuchCustomer,
    Invalid(PropertyFormState),
}

#[derive(Deserialize, Default)]
struct FromQuery {
    #[serde(default)]
    from: String,
}

#[derive(Deserialize)]
struct PropertyEditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    bill_to: String,
    #[serde(default)]
    from: String,
}

#[allow(clippy::too_many_arguments)]
async fn property_page(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    property: &PropertyView,
    address: &str,
    bill_to: &str,
    from: &str,
    errors: &FieldErrors,
) -> Response {
    let choices = match customers::choices(&state.app.db, &user.company_id, CHOICES_LIMIT).await {
        Ok(c) => c,
        Err(e) => return store_error(e),
    };
    page_with_status(
        state,
        user,
        status,
        "office/property_edit.html",
        "customers",
        minijinja::context! {
            property => minijinja::value::Serde(property),
            address => address,
            bill_to => bill_to,
            from => from,
            choices => minijinja::value::Serde(&choices),
            errors => minijinja::value::Serde(errors),
        },
    )
}

/// Where to go back to after editing a property: the customer the office came
/// from when it is one of the property's customers, else the resident.
fn back_to<'a>(from: &'a str, property: &'a PropertyView, new_bill_to: &'a str) -> &'a str {
    if from == property.resident_customer_id
        || from == property.bill_to_customer_id
        || from == new_bill_to
    {
        from
    } else {
        &property.resident_customer_id
    }
}

async fn property_form(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Query(q): Query<FromQuery>,
) -> Response {
    match customers::property_view(&state.app.db, &user.company_id, &id).await {
        Ok(Some(p)) => {
            let from = back_to(&q.from, &p, &p.bill_to_customer_id).to_string();
            property_page(
                &state,
                &user,
                StatusCode::OK,
                &p,
                &p.address,
                &p.bill_to_customer_id,
                &from,
                &FieldErrors::new(),
            )
            .await
        }
        Ok(None) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

async fn update_property(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(form): Form<PropertyEditForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    let property = match customers::property_view(&state.app.db, &user.company_id, &id).await {
        Ok(Some(p)) => p,
        Ok(None) => return state.views.not_found(),
        Err(e) => return store_error(e),
    };
    let bill_to = form.bill_to.trim();
    let mut errors = FieldErrors::new();
    let address = validate_address(&form.address)
        .map_err(|e| errors.insert("address", e))
        .ok();
    let result: Result<bool, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::all_belong(&mut tx, &user.company_id, &[bill_to]).await? {
            errors.insert("bill_to", "Choose a customer from the list.".into());
        }
        let Some(address) = address.filter(|_| errors.is_empty()) else {
            return Ok(false);
        };
        if !customers::update_property(&mut tx, &user.company_id, &id, &address, bill_to).await? {
            return Err(StoreError::Invalid);
        }
        if bill_to != property.bill_to_customer_id {
            audit::record(
                &mut tx,
                &user.company_id,
                &user.actor(),
                "property.bill_to_changed",
                &id,
                serde_json::json!({ "from": property.bill_to_customer_id, "to": bill_to }),
            )
            .await?;
        }
        if address != property.address {
            audit::record(
                &mut tx,
                &user.company_id,
                &user.actor(),
                "property.address_changed",
                &id,
                serde_json::json!({}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
    .await;
    match result {
        Ok(true) => {
            let back = back_to(&form.from, &property, bill_to);
            Redirect::to(&format!("/office/customers/{back}?done=property-saved")).into_response()
        }
        Ok(false) => {
            let bill_to = if errors.contains_key("bill_to") {
                property.bill_to_customer_id.as_str()
            } else {
                bill_to
            };
            let from = back_to(&form.from, &property, &property.bill_to_customer_id);
            property_page(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                &property,
                &form.address,
                bill_to,
                from,
                &errors,
            )
            .await
        }
        Err(e) => store_error(e),
    }
}

// ---------------------------------------------------------------- payment link

#[derive(Clone, Copy, PartialEq, Eq)]
enum LinkAction {
    Rotate,
    Revoke,
}

impl LinkAction {
    fn parse(s: &str) -> Option<LinkAction> {
        match s {
            "rotate" => Some(LinkAction::Rotate),
            "revoke" => Some(LinkAction::Revoke),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            LinkAction::Rotate => "rotate",
            LinkAction::Revoke => "revoke",
        }
    }
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

/// The confirmation step: says what will happen; changes nothing.
async fn confirm_page(state: &AppState, user: &OfficeUser, id: &str, action: &str) -> Response {
    let Some(action) = LinkAction::parse(action) else {
        return state.views.not_found();
    };
    let customer = match customers::get(&state.app.db, &user.company_id, id).await {
        Ok(Some(c)) => c,
        Ok(None) => return state.views.not_found(),
        Err(e) => return store_error(e),
    };
    let link = match crate::app::links::shown(
        state.app.db.reader(),
        &state.app.config.secret,
        &user.company_id,
        id,
    )
    .await
    {
        Ok(l) => l,
        Err(e) => return store_error(e),
    };
    let revoked = link.as_ref().is_none_or(|l| l.revoked);
    page(
        state,
        user,
        "office/customers_link.html",
        "customers",
        minijinja::context! {
            customer => minijinja::value::Serde(&customer),
            action => action.name(),
            revoked => revoked,
        },
    )
}

async fn link_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    confirm_page(&state, &user, &id, &action).await
}

async fn link_action(
    State(state): State<AppState>,
    user: OfficeUser,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<LinkForm>,
) -> Response {
    if let Some(refused) = user.csrf_refusal(&form.csrf) {
        return refused;
    }
    if form.confirm != "yes" {
        return confirm_page(&state, &user, &id, &action).await;
    }
    let Some(action) = LinkAction::parse(&action) else {
        return state.views.not_found();
    };
    let result: Result<bool, StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        if !customers::all_belong(&mut tx, &user.company_id, &[id.as_str()]).await? {
            return Ok(false);
        }
        let secret = &state.app.config.secret;
        match action {
            LinkAction::Rotate => {
                crate::app::links::rotate(&mut tx, secret, &user.company_id, &id, &user.actor())
                    .await?;
            }
            LinkAction::Revoke => {
                crate::app::links::revoke(&mut tx, secret, &user.company_id, &id, &user.actor())
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
    .await;
    let done = match action {
        LinkAction::Rotate => "rotated",
        LinkAction::Revoke => "revoked",
    };
    match result {
        Ok(true) => Redirect::to(&format!("/office/customers/{id}?done={done}")).into_response(),
        Ok(false) => state.views.not_found(),
        Err(e) => store_error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn form(name: &str, email: &str, phone: &str) -> CustomerForm {
        CustomerForm {
            name: name.into(),
            email: email.into(),
            phone: phone.into(),
            ..CustomerForm::default()
        }
    }

    #[test]
    fn customer_forms_are_checked_field_by_field() {
        let ok =
            validate_customer(&form("  Lena Landlord ", " lena@example.com ", ""), "US").unwrap();
        assert_eq!(ok.name, "Lena Landlord");
        assert_eq!(ok.email.as_deref(), Some("lena@example.com"));
        assert_eq!(ok.phone, None);

        let errors = validate_customer(&form(" ", "lena@", "12"), "US").unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["email", "name", "phone"]
        );
        let ok = validate_customer(&form("A", "", "(512) 555-0142"), "US").unwrap();
        assert_eq!(ok.phone.as_deref(), Some("+15125550142"));
        assert!(validate_customer(&form(&"x".repeat(201), "", ""), "US").is_err());
        let errors =
            validate_customer(&form("Lena\nLandlord", "", "call me maybe"), "US").unwrap_err();
        assert!(errors["name"].contains("one line"), "{errors:?}");
        assert!(errors["phone"].contains("phone number"), "{errors:?}");
    }

    #[test]
    fn addresses() {
        assert_eq!(validate_address(" 1 Main St ").unwrap(), "1 Main St");
        assert!(validate_address("  ").is_err());
        assert!(validate_address(&"x".repeat(501)).is_err());
    }

    #[test]
    fn invoice_states_say_overdue_in_words() {
        let today = date!(2026 - 12 - 20);
        let s = |status, due| invoice_state(status, due, today);
        assert_eq!(
            s("open", date!(2026 - 12 - 19)),
            ("Overdue by 1 day".into(), "overdue")
        );
        assert_eq!(
            s("open", date!(2026 - 12 - 05)),
            ("Overdue by 15 days".into(), "overdue")
        );
        assert_eq!(s("open", today), ("Due today".into(), "open"));
        assert_eq!(s("open", date!(2027 - 01 - 05)), ("Open".into(), "open"));
        assert_eq!(s("paid", date!(2026 - 01 - 05)), ("Paid".into(), "paid"));
        assert_eq!(s("void", date!(2026 - 01 - 05)), ("Void".into(), "void"));
    }

    #[test]
    fn payment_words() {
        assert_eq!(
            payment_method_words("card", Some("Visa"), Some("4242")),
            "Visa ending 4242"
        );
        assert_eq!(payment_method_words("check", None, None), "Check");
        assert_eq!(channel_words("quick_pay"), "Payment link");
    }
}
