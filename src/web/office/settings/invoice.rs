//! Settings › Invoice Settings: whether messages carry the payment link and
//! where it goes, and the invoice paper size; the page and the JSON API.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{internal, owners_only};
use crate::domain::ids::CompanyId;
use crate::pdf::PaperSize;
use crate::store::companies::{self, InvoiceSettings};
use crate::store::{StoreError, audit};
use crate::web::AppState;
use crate::web::api::CompanyKey;
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, page_with_status};

/// Where a payment link in a message sends the customer.
pub fn parse_link_target(text: &str) -> Option<&'static str> {
    match text.trim() {
        "portal" => Some("portal"),
        "public" => Some("public"),
        _ => None,
    }
}
// ---------------------------------------------------------------- invoice settings

#[derive(Deserialize, Default)]
pub(super) struct NoticeQuery {
    #[serde(default)]
    saved: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn invoice_view(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    s: &InvoiceSettings,
    paper: PaperSize,
    saved: bool,
    error: Option<&str>,
    paper_error: Option<&str>,
) -> Response {
    page_with_status(
        state,
        user,
        status,
        "office/settings_invoice.html",
        "invoice-settings",
        minijinja::context! {
            settings => minijinja::value::Serde(s),
            paper_size => paper.key(),
            paper_error => paper_error,
            saved => saved,
            error => error,
            can_edit => user.is_owner(),
        },
    )
}

pub(super) async fn invoice_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let paper = match crate::pdf::paper_size(&state.app.db, &user.company_id).await {
        Ok(p) => p,
        Err(e) => return internal(e),
    };
    match companies::invoice_settings(&state.app.db, &user.company_id).await {
        Ok(Some(s)) => invoice_view(
            &state,
            &user,
            StatusCode::OK,
            &s,
            paper,
            q.saved.is_some(),
            None,
            None,
        ),
        Ok(None) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
pub(super) struct InvoiceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    payment_link_enabled: Option<String>,
    #[serde(default)]
    payment_link_target: String,
    #[serde(default)]
    paper_size: String,
}

pub(super) async fn save_invoice(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<InvoiceForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the invoice settings");
    }
    let current = match companies::invoice_settings(&state.app.db, &user.company_id).await {
        Ok(Some(s)) => s,
        Ok(None) => return state.views.not_found(),
        Err(e) => return internal(e),
    };
    let enabled = f.payment_link_enabled.is_some();
    // A form without the field (an older page) keeps the stored paper size.
    let paper = match f.paper_size.trim() {
        "" => Ok(None),
        text => PaperSize::parse(text).map(Some).ok_or(()),
    };
    // The target only matters when the link is on; when off, the stored one stays.
    let target = if enabled {
        match parse_link_target(&f.payment_link_target) {
            Some(t) => t.to_string(),
            None => {
                let typed = InvoiceSettings {
                    payment_link_enabled: enabled,
                    payment_link_target: current.payment_link_target.clone(),
                };
                return invoice_view(
                    &state,
                    &user,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &typed,
                    paper.ok().flatten().unwrap_or_default(),
                    false,
                    Some("Choose where the payment link goes: Customer Portal or Public Link."),
                    None,
                );
            }
        }
    } else {
        current.payment_link_target.clone()
    };
    let new = InvoiceSettings {
        payment_link_enabled: enabled,
        payment_link_target: target,
    };
    let Ok(paper) = paper else {
        return invoice_view(
            &state,
            &user,
            StatusCode::UNPROCESSABLE_ENTITY,
            &new,
            PaperSize::default(),
            false,
            None,
            Some("Choose a paper size: US Letter or A4."),
        );
    };
    match write_invoice_settings(
        &state,
        &user.company_id,
        &user.actor(),
        &current,
        &new,
        paper,
    )
    .await
    {
        Ok(()) => Redirect::to("/office/settings/invoice?saved=1").into_response(),
        Err(e) => internal(e),
    }
}

async fn write_invoice_settings(
    state: &AppState,
    company_id: &CompanyId,
    actor: &str,
    old: &InvoiceSettings,
    new: &InvoiceSettings,
    paper: Option<PaperSize>,
) -> Result<(), StoreError> {
    let old_paper = crate::pdf::paper_size(&state.app.db, company_id).await?;
    let paper = paper.unwrap_or(old_paper);
    let mut tx = state.app.db.begin_write().await?;
    companies::set_invoice_settings(&mut tx, company_id, new).await?;
    crate::pdf::set_paper_size(&mut tx, company_id, paper).await?;
    audit::record(
        &mut tx,
        company_id,
        actor,
        "settings.invoice_updated",
        company_id,
        serde_json::json!({
            "from": {"payment_link_enabled": old.payment_link_enabled, "payment_link_target": old.payment_link_target, "paper_size": old_paper.key()},
            "to": {"payment_link_enabled": new.payment_link_enabled, "payment_link_target": new.payment_link_target, "paper_size": paper.key()},
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Shows the target select only while the payment link box is ticked. Without
/// JavaScript the select is always shown (and ignored when the box is off).
pub(super) async fn invoice_script() -> Response {
    const JS: &str = "(function(){var b=document.getElementById('payment_link_enabled');\
var f=document.getElementById('target-field');if(!b||!f)return;\
function s(){f.hidden=!b.checked;}b.addEventListener('change',s);s();})();\n";
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        JS,
    )
        .into_response()
}

/// `GET`/`PUT /api/v1/settings/invoice`, authenticated by the company API key.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_get_invoice, api_put_invoice))
}

/// The invoice settings as written.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "letter"}))]
pub struct InvoiceSettingsBody {
    /// Messages about an invoice carry the payment link.
    payment_link_enabled: bool,
    /// Where the link goes: `portal` or `public` (the quick payment page).
    #[schema(pattern = "^(portal|public)$")]
    payment_link_target: String,
    /// `letter` or `a4`; left as it is when not sent.
    #[serde(default)]
    #[schema(pattern = "^(letter|a4)$")]
    paper_size: Option<String>,
}

/// The invoice settings as the API shows them.
#[derive(Serialize, ToSchema)]
pub struct InvoiceSettingsView {
    pub payment_link_enabled: bool,
    /// `portal` or `public`.
    pub payment_link_target: String,
    /// `letter` or `a4`.
    pub paper_size: &'static str,
}

/// Invoice settings as the API shows them: the stored ones and the paper size.
fn invoice_settings_json(s: &InvoiceSettings, paper: PaperSize) -> Response {
    Json(InvoiceSettingsView {
        payment_link_enabled: s.payment_link_enabled,
        payment_link_target: s.payment_link_target.clone(),
        paper_size: paper.key(),
    })
    .into_response()
}

/// Whether messages carry the payment link, where it goes, and the paper size.
#[utoipa::path(
    get,
    path = "/api/v1/settings/invoice",
    tag = "settings",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The invoice settings.", body = InvoiceSettingsView),
    )
)]
async fn api_get_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
) -> Result<Response, ApiError> {
    let s = companies::invoice_settings(&state.app.db, &company)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let paper = crate::pdf::paper_size(&state.app.db, &company).await?;
    Ok(invoice_settings_json(&s, paper))
}

/// Sets whether messages carry the payment link, where it goes, and the paper size.
#[utoipa::path(
    put,
    path = "/api/v1/settings/invoice",
    tag = "settings",
    security(("api_key" = [])),
    request_body = InvoiceSettingsBody,
    responses(
        (status = 200, description = "The invoice settings.", body = InvoiceSettingsView),
    )
)]
async fn api_put_invoice(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    body: Result<Json<InvoiceSettingsBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(b) = body?;
    // Exactly as the document spells them: the API does not trim or fold case.
    let target = parse_link_target(&b.payment_link_target)
        .filter(|t| *t == b.payment_link_target)
        .ok_or_else(|| {
            ApiError::unprocessable(
                "invalid_field",
                "payment_link_target must be \"portal\" or \"public\"",
                "payment_link_target",
            )
        })?;
    let paper = match b.paper_size.as_deref() {
        None => None,
        Some(text) => Some(
            PaperSize::parse(text)
                .filter(|p| p.key() == text)
                .ok_or_else(|| {
                    ApiError::unprocessable(
                        "invalid_field",
                        "paper_size must be \"letter\" or \"a4\"",
                        "paper_size",
                    )
                })?,
        ),
    };
    let current = companies::invoice_settings(&state.app.db, &company)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let new = InvoiceSettings {
        payment_link_enabled: b.payment_link_enabled,
        payment_link_target: target.to_string(),
    };
    write_invoice_settings(&state, &company, "api", &current, &new, paper).await?;
    let paper = crate::pdf::paper_size(&state.app.db, &company).await?;
    Ok(invoice_settings_json(&new, paper))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets() {
        assert_eq!(parse_link_target("portal"), Some("portal"));
        assert_eq!(parse_link_target("public"), Some("public"));
        assert_eq!(parse_link_target("elsewhere"), None);
    }
}
