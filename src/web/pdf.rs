//! PDF downloads: office, quick payment page, portal and API. Each route
//! checks who may see what first (office session and company, the payment
//! link token, the portal session, the API key) and answers a miss as a 404.

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::api::CompanyKey;
use super::api_doc::ErrorBody;
use super::error::ApiError;
use super::office::OfficeUser;
use super::portal::PortalUser;
use super::{AppState, ClientIp, not_found_for};
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId};
use crate::pdf::{self, PdfError};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/office/invoices/{id}/pdf", get(office_invoice))
        .route(
            "/office/customers/{id}/statement.pdf",
            get(office_statement),
        )
        .route("/pay/{token}/invoices/{invoice_id}/pdf", get(pay_invoice))
        .route("/pay/{token}/statement.pdf", get(pay_statement))
        .route("/portal/invoices/{id}/pdf", get(portal_invoice))
        .route("/portal/statement.pdf", get(portal_statement))
}

/// `GET /api/v1/invoices/{id}/pdf`.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_invoice))
}

#[derive(Deserialize, Default, IntoParams)]
#[into_params(parameter_in = Query)]
struct DownloadQuery {
    /// `1`, `true` or `yes`: save the file instead of showing it (`0`,
    /// `false`, `no`: show it).
    #[serde(default)]
    #[param(pattern = "^(1|true|yes|0|false|no)$")]
    download: Option<String>,
}

impl DownloadQuery {
    fn attachment(&self) -> bool {
        matches!(self.download.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// `application/pdf`, shown in the browser (or saved with `?download=1`),
/// never cached. The security headers middleware adds the rest.
fn pdf_response(bytes: Vec<u8>, filename: &str, attachment: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"{filename}\"",
        if attachment { "attachment" } else { "inline" }
    );
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn failed(e: PdfError) -> Response {
    match e {
        PdfError::Store(e) => ApiError::from(e).into_response(),
        other => ApiError::internal(other).into_response(),
    }
}

fn statement_filename(today: time::Date) -> String {
    format!("statement-{}.pdf", crate::domain::dates::iso(today))
}

/// The served form of a loaded invoice PDF, or the 404 of `path`'s space.
fn invoice_answer(
    state: &AppState,
    found: Result<Option<(String, Vec<u8>)>, PdfError>,
    q: &DownloadQuery,
    path: &str,
) -> Response {
    match found {
        Ok(Some((number, bytes))) => {
            pdf_response(bytes, &pdf::invoice_filename(&number), q.attachment())
        }
        Ok(None) => not_found_for(state, path),
        Err(e) => failed(e),
    }
}

async fn statement_answer(
    state: &AppState,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    q: &DownloadQuery,
    path: &str,
) -> Response {
    match crate::app::documents::statement_pdf(&state.app, company_id, customer_id).await {
        Ok(Some(bytes)) => {
            let zone = crate::store::companies::get(&state.app.db, company_id)
                .await
                .ok()
                .flatten()
                .map(|c| c.time_zone);
            let today = state.app.clock.today_in(zone.as_deref().unwrap_or("UTC"));
            pdf_response(bytes, &statement_filename(today), q.attachment())
        }
        Ok(None) => not_found_for(state, path),
        Err(e) => failed(e),
    }
}

// ---------------------------------------------------------------- office

async fn office_invoice(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<InvoiceId>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let found = crate::app::documents::invoice_pdf_named(&state.app, &user.company_id, &id).await;
    invoice_answer(&state, found, &q, "/office")
}

async fn office_statement(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<CustomerId>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    statement_answer(&state, &user.company_id, &id, &q, "/office").await
}

// ---------------------------------------------------------------- quick payment page

/// Only invoices billed to the token's customer; the token goes through the
/// pay page's own lookup and rate limits, and a miss is the same 404.
async fn pay_invoice(
    State(state): State<AppState>,
    ip: ClientIp,
    Path((token, invoice_id)): Path<(String, InvoiceId)>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let link = match super::pay::resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    let found = crate::app::documents::invoice_pdf_for_customer(
        &state.app,
        &link.company_id,
        &link.customer_id,
        &invoice_id,
    )
    .await;
    invoice_answer(&state, found, &q, "/pay")
}

async fn pay_statement(
    State(state): State<AppState>,
    ip: ClientIp,
    Path(token): Path<String>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let link = match super::pay::resolve(&state, ip, &token, "/pay").await {
        Ok(l) => l,
        Err(resp) => return resp,
    };
    statement_answer(&state, &link.company_id, &link.customer_id, &q, "/pay").await
}

// ---------------------------------------------------------------- portal

async fn portal_invoice(
    State(state): State<AppState>,
    user: PortalUser,
    Path(id): Path<InvoiceId>,
    Query(q): Query<DownloadQuery>,
) -> Response {
    let found = crate::app::documents::invoice_pdf_for_customer(
        &state.app,
        &user.company_id,
        &user.customer_id,
        &id,
    )
    .await;
    invoice_answer(&state, found, &q, "/portal")
}

async fn portal_statement(
    State(state): State<AppState>,
    user: PortalUser,
    Query(q): Query<DownloadQuery>,
) -> Response {
    statement_answer(&state, &user.company_id, &user.customer_id, &q, "/portal").await
}

// ---------------------------------------------------------------- API

/// The invoice as a PDF.
#[utoipa::path(
    get,
    path = "/api/v1/invoices/{id}/pdf",
    tag = "invoices",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The invoice's id."), DownloadQuery),
    responses(
        (status = 200, description = "The PDF.", content_type = "application/pdf", body = Vec<u8>),
        (status = 400, description = "`download` is not one of its values (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such invoice of this company.", body = ErrorBody),
    )
)]
async fn api_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<InvoiceId>,
    query: Result<Query<DownloadQuery>, QueryRejection>,
) -> Response {
    let q = match query {
        Ok(Query(q)) => q,
        Err(e) => return ApiError::from(e).into_response(),
    };
    if let Some(d) = &q.download
        && !["1", "true", "yes", "0", "false", "no"].contains(&d.as_str())
    {
        return ApiError::bad_request(
            "invalid_query",
            "download must be 1, true or yes (or 0, false, no)",
        )
        .with_field("download")
        .into_response();
    }
    let found = crate::app::documents::invoice_pdf_named(&state.app, &company, &id).await;
    if let Ok(None) = found {
        return ApiError::not_found().into_response();
    }
    invoice_answer(&state, found, &q, "/api/v1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn download_means_attachment() {
        let resp = pdf_response(b"%PDF-".to_vec(), "invoice-1.pdf", true);
        assert_eq!(
            resp.headers()[header::CONTENT_DISPOSITION],
            "attachment; filename=\"invoice-1.pdf\""
        );
        let resp = pdf_response(b"%PDF-".to_vec(), "invoice-1.pdf", false);
        assert_eq!(
            resp.headers()[header::CONTENT_DISPOSITION],
            "inline; filename=\"invoice-1.pdf\""
        );
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            DownloadQuery {
                download: Some("1".into())
            }
            .attachment()
        );
        assert!(!DownloadQuery::default().attachment());
    }
}
