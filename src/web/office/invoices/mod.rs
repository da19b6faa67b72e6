//! Office: invoices. The list with filters and totals, the create and edit
//! forms (line items typed in dollars), the invoice page with the payments
//! applied to it, and voiding with one confirmation. Every change goes
//! through `crate::app::invoices`, as the JSON API's do.

mod form;
mod list;
mod remind;
mod show;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use time::Date;

use super::OfficeUser;
use crate::domain::money::{Currency, Money};
use crate::store::companies::{self, Company};
use crate::store::invoices::{self, Detail};
use crate::web::AppState;
use crate::web::error::ApiError;

/// Rows the list shows at most; a note says when more matched.
pub(super) const LIST_LIMIT: i64 = 200;

/// Properties offered in the form's select at most.
pub(super) const PROPERTY_LIMIT: i64 = 2000;

/// Line rows a form offers without JavaScript.
pub(super) const MIN_ROWS: usize = 5;

/// Days from issue to due that a new invoice starts with.
pub(super) const DEFAULT_TERMS_DAYS: i64 = 30;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/invoices", get(list::list).post(form::create))
        .route("/office/invoices/new", get(form::new_form))
        .route(
            "/office/invoices/remind-overdue",
            get(remind::confirm).post(remind::send),
        )
        .route("/office/invoices/{id}", get(show::show))
        .route(
            "/office/invoices/{id}/edit",
            get(form::edit_form).post(form::edit),
        )
        .route(
            "/office/invoices/{id}/void",
            get(show::void_confirm).post(show::void),
        )
}

pub(super) fn internal(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

pub(super) async fn company(state: &AppState, user: &OfficeUser) -> Result<Company, Response> {
    match companies::get(&state.app.db, &user.company_id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(state.views.not_found()),
        Err(e) => Err(internal(e)),
    }
}

pub(super) fn money(minor: i64, currency: Currency) -> String {
    Money::new(minor, currency).format()
}

/// "Overdue by 3 days", "Due today", "Due in 5 days"; nothing once settled.
pub(super) fn due_words(status: &str, due: Date, today: Date) -> String {
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
pub(super) fn badge(status: &str, due: Date, today: Date) -> (&'static str, &'static str) {
    match status {
        "open" if due < today => ("overdue", "Overdue"),
        "open" => ("open", "Open"),
        "paid" => ("paid", "Paid"),
        _ => ("void", "Void"),
    }
}

/// The signed-in user's company and one of its invoices (404 otherwise).
pub(super) async fn load_invoice(
    state: &AppState,
    user: &OfficeUser,
    id: &str,
) -> Result<(Company, Detail), Response> {
    let company = company(state, user).await?;
    match invoices::detail(
        &state.app.db,
        &user.company_id,
        &crate::domain::ids::InvoiceId::from(id),
    )
    .await
    {
        Ok(Some(d)) => Ok((company, d)),
        Ok(None) => Err(state.views.not_found()),
        Err(e) => Err(internal(e)),
    }
}

/// The invoice page with a refusal on it, read afresh (409).
pub(super) async fn refused(
    state: &AppState,
    user: &OfficeUser,
    id: &str,
    message: &str,
) -> Response {
    match load_invoice(state, user, id).await {
        Ok((company, d)) => {
            show::render_show(state, user, &company, &d, StatusCode::CONFLICT, "", message)
        }
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
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
}
