//! The customer list and its search, with what each customer owes.

use axum::extract::{Query, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{LIST_LIMIT, store_error};
use crate::domain::money::Money;
use crate::store::companies::{self, Company};
use crate::store::customers;
use crate::web::AppState;
use crate::web::office::{OfficeUser, page};

// ---------------------------------------------------------------- list

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
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

pub(super) async fn list(
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
            id: r.id.to_string(),
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
