//! Reports: `GET /api/v1/reports/collections?from=&to=`, the collections
//! funnel (rules in `domain::funnel` and the README).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::ErrorBody;
use super::api_invoices::parse_date;
use super::error::ApiError;
use crate::app::reports::{self, DateRange};
use crate::store::companies;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(collections))
}

/// The collections funnel of the days asked for.
#[derive(Serialize, ToSchema)]
pub struct CollectionsReport {
    #[schema(format = Date)]
    pub from: String,
    #[schema(format = Date)]
    pub to: String,
    pub data: Vec<crate::domain::funnel::FunnelLine>,
}

/// Both days included, in the company's time zone; the last 30 days when
/// left out.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    /// `YYYY-MM-DD`; absent: 29 days before `to`.
    #[param(format = Date)]
    pub from: Option<String>,
    /// `YYYY-MM-DD`; absent: today.
    #[param(format = Date)]
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

/// Per template and channel: messages with a payment link sent, links
/// opened, invoices paid within 14 days and the amount collected.
#[utoipa::path(
    get,
    path = "/api/v1/reports/collections",
    tag = "reports",
    security(("api_key" = [])),
    params(RangeQuery),
    responses(
        (status = 200, description = "The funnel.", body = CollectionsReport),
        (status = 422, description = "A date is not `YYYY-MM-DD`, or the range is refused.", body = ErrorBody),
    )
)]
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
    Ok(Json(CollectionsReport {
        from: crate::domain::dates::iso(range.from),
        to: crate::domain::dates::iso(range.to),
        data,
    })
    .into_response())
}
