//! Reports: `GET /api/v1/reports/collections?from=&to=`, the collections
//! funnel (rules in `domain::funnel` and the README).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::api::CompanyKey;
use super::api_invoices::parse_date;
use super::error::ApiError;
use crate::app::reports::{self, DateRange};
use crate::store::companies;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/reports/collections", get(collections))
}

/// Both days included, in the company's time zone; the last 30 days when
/// left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

impl RangeQuery {
    /// The range asked for, with the defaults filled in from `today`.
    pub fn range(&self, today: time::Date) -> Result<DateRange, ApiError> {
        let to = match self.to.as_deref() {
            Some(text) => parse_date(text, "to")?,
            None => today,
        };
        let from = match self.from.as_deref() {
            Some(text) => parse_date(text, "from")?,
            None => to - time::Duration::days(29),
        };
        Ok(DateRange { from, to })
    }
}

async fn collections(
    State(state): State<AppState>,
    key: CompanyKey,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::unprocessable("invalid_query", e.body_text(), "from"))?;
    let company = companies::get(&state.app.db, &key.0)
        .await?
        .ok_or_else(|| ApiError::from(crate::app::Refusal::NotFound))?;
    let range = q.range(state.app.clock.today_in(&company.time_zone))?;
    let data = reports::collections(&state.app, &key.actor(), range).await?;
    Ok(Json(json!({
        "from": crate::domain::dates::iso(range.from),
        "to": crate::domain::dates::iso(range.to),
        "data": data,
    }))
    .into_response())
}
