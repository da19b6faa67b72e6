//! The customer page: contact details, properties, invoices, payments,
//! saved cards, autopay, SMS opt-out and the payment link.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{CHOICES_LIMIT, channel_words, invoice_state, payment_method_words, store_error};
use crate::domain::dates;
use crate::domain::ids::CustomerId;
use crate::domain::money::{Currency, Money};
use crate::store::companies;
use crate::store::customers::{self, PropertyView};
use crate::store::payments::{self as pay_store, PaymentRecord};
use crate::store::{StoreError, invoices};
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status};

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
pub(super) struct PropertyFormState {
    pub(super) address: String,
    pub(super) bill_to: String,
    pub(super) error: Option<String>,
    pub(super) bill_to_error: Option<String>,
}

#[derive(Deserialize, Default)]
pub(super) struct DetailQuery {
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
            id: p.id.to_string(),
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

pub(super) async fn render_detail(
    state: &AppState,
    user: &OfficeUser,
    id: &CustomerId,
    status: StatusCode,
    notice: Option<&str>,
    property_form: PropertyFormState,
) -> Response {
    let result: Result<Option<minijinja::Value>, StoreError> = async {
        let db = &state.app.db;
        let company_id = &user.company_id;
        let Some(customer) = customers::get(db, company_id, id).await? else {
            return Ok(None);
        };
        let Some(company) = companies::get(db, company_id).await? else {
            return Ok(None);
        };
        let currency: Currency = company.currency;
        let money = |m: i64| Money::new(m, currency).format();
        let today = state.app.clock.today_in(&company.time_zone);

        let link = crate::app::links::shown(
            db.reader(),
            &state.app.config.secret,
            company_id,
            &id.into(),
        )
        .await?;
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
        // "Email invoice" opens with the newest open invoice.
        let latest_open_invoice = invoice_list
            .iter()
            .filter(|i| i.status == "open")
            .max_by_key(|i| (i.issue_date, i.number.clone()))
            .map(|i| i.id.clone());
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
                    id: i.id.to_string(),
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
            latest_open_invoice => latest_open_invoice,
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

pub(super) async fn detail(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
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
