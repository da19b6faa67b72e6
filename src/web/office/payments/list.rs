//! The payments list: filters by channel, method, dates and customer.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{
    CHANNELS, LIST_LIMIT, METHODS, PaymentView, fail, fmt, payment_view, refund_note, time_zone,
};
use crate::domain::dates::day_start;
use crate::domain::money::Currency;
use crate::store::payments::{self as store, OfficeFilter};
use crate::store::refunds;
use crate::web::AppState;
use crate::web::office::{OfficeUser, page_with_status};

#[derive(Deserialize, Default, Serialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    channel: String,
    #[serde(default)]
    method: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    customer_id: String,
}

pub(super) async fn list(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let tz = match time_zone(&state, &user.company_id).await {
        Ok(tz) => tz,
        Err(e) => return fail(e),
    };
    let mut error = None;
    let mut filter = OfficeFilter {
        channel: CHANNELS
            .iter()
            .any(|(k, _)| *k == q.channel)
            .then(|| q.channel.clone()),
        method: METHODS
            .iter()
            .any(|(k, _)| *k == q.method)
            .then(|| q.method.clone()),
        customer_id: (!q.customer_id.is_empty()).then(|| q.customer_id.as_str().into()),
        ..OfficeFilter::default()
    };
    for (text, is_from) in [(&q.from, true), (&q.to, false)] {
        if text.trim().is_empty() {
            continue;
        }
        match crate::domain::dates::parse(text.trim()) {
            Some(d) if is_from => filter.from = Some(day_start(d, &tz)),
            Some(d) => {
                filter.until = d.next_day().map(|n| day_start(n, &tz));
            }
            None => error = Some("Enter dates as YYYY-MM-DD, for example 2026-11-28."),
        }
    }
    let (totals, rows) =
        match store::office_list(&state.app.db, &user.company_id, &filter, LIST_LIMIT).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
    // Refunds that failed or are pending, shown on their payments.
    let ids: Vec<crate::domain::ids::PaymentId> = rows.iter().map(|p| p.id.clone()).collect();
    let unsettled =
        match refunds::unsettled_of_payments(&state.app.db, &user.company_id, &ids).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
    // Totals in the company's currency (the first row's, else USD).
    let currency = rows.first().map(|p| p.currency).unwrap_or(Currency::USD);
    let views: Vec<PaymentView> = rows
        .iter()
        .map(|p| {
            let mut v = payment_view(p, &tz);
            if let Some(r) = unsettled.iter().find(|r| r.payment_id == p.id) {
                let (note, failed) = refund_note(&r.status, r.reason.as_deref());
                v.refund_note = Some(note);
                v.refund_failed = failed;
            }
            v
        })
        .collect();
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page_with_status(
        &state,
        &user,
        status,
        "office/payments.html",
        "payments",
        minijinja::context! {
            q => minijinja::value::Serde(&q),
            error => error,
            channels => CHANNELS.iter().map(|(k, l)| (k.to_string(), l.to_string())).collect::<Vec<_>>(),
            methods => METHODS.iter().map(|(k, l)| (k.to_string(), l.to_string())).collect::<Vec<_>>(),
            count => totals.count,
            total_amount => fmt(totals.amount, currency),
            total_refunded => fmt(totals.refunded, currency),
            total_net => fmt(totals.amount - totals.refunded, currency),
            shown => views.len(),
            payments => minijinja::value::Serde(&views),
        },
    )
}
