//! The invoices list: filters by status, dates and customer, with totals.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{LIST_LIMIT, OfficeUser, badge, company, due_words, internal, money};
use crate::domain::dates;
use crate::store::customers;
use crate::store::invoices::{self, ListFilter, StatusFilter};
use crate::web::AppState;
use crate::web::office::page_with_status;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
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

pub(super) async fn list(
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
            errors.insert(field, dates::ENTER_A_DATE.into());
        }
        d
    };
    let from = optional_date(&q.from, "from");
    let to = optional_date(&q.to, "to");
    let customer_id = q.customer_id.trim();
    let customer = if customer_id.is_empty() {
        None
    } else {
        match customers::get(&state.app.db, &user.company_id, &customer_id.into()).await {
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
                id: r.id.to_string(),
                number: r.number.clone(),
                customer_id: r.customer_id.to_string(),
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
