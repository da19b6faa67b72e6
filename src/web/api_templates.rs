//! JSON API: a company's email and SMS templates, checked before they are
//! saved, and previews rendered with a customer's data (or sample data).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

use super::AppState;
use super::api::CompanyKey;
use super::error::ApiError;
use crate::app::messages::RenderError;
use crate::app::templates::{self, Draft, Saved};
use crate::messaging::Channel;
use crate::messaging::template::{self, MessageVars, sms_segments};
use crate::store::templates::{self as store, EmailTemplate, SmsTemplate};
use crate::store::{companies, invoices};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/email-templates",
            post(create_email).get(list_email),
        )
        .route(
            "/api/v1/email-templates/{id}",
            get(get_email).put(update_email).delete(delete_email),
        )
        .route("/api/v1/email-templates/{id}/preview", post(preview_email))
        .route("/api/v1/sms-templates", post(create_sms).get(list_sms))
        .route(
            "/api/v1/sms-templates/{id}",
            get(get_sms).put(update_sms).delete(delete_sms),
        )
        .route("/api/v1/sms-templates/{id}/preview", post(preview_sms))
}

type ApiResult = Result<Response, ApiError>;

#[derive(Deserialize)]
struct EmailBody {
    name: String,
    subject: String,
    html_body: String,
    #[serde(default)]
    text_body: Option<String>,
    /// Attach the invoice's PDF to messages about an invoice.
    #[serde(default)]
    attach_invoice_pdf: bool,
    /// Make it the company's default email template (`false`: not the
    /// default; absent: as it is).
    #[serde(default)]
    default: Option<bool>,
}

impl EmailBody {
    fn draft(&self) -> Draft<'_> {
        Draft::Email {
            name: &self.name,
            subject: &self.subject,
            html_body: &self.html_body,
            text_body: self.text_body.as_deref(),
            attach_invoice_pdf: self.attach_invoice_pdf,
        }
    }
}

#[derive(Deserialize)]
struct SmsBody {
    name: String,
    body: String,
    /// Make it the company's default SMS template.
    #[serde(default)]
    default: Option<bool>,
}

impl SmsBody {
    fn draft(&self) -> Draft<'_> {
        Draft::Sms {
            name: &self.name,
            body: &self.body,
        }
    }
}

#[derive(Deserialize, Default)]
struct PreviewBody {
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    invoice_id: Option<String>,
}

fn render_error(e: RenderError) -> ApiError {
    match e {
        RenderError::NotFound(_) => ApiError::not_found(),
        RenderError::Template(t) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, t.code(), t.to_string())
        }
        RenderError::Store(s) => s.into(),
        RenderError::Attachment(e) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "attachment_failed",
            format!("The invoice's PDF could not be made: {e}"),
        ),
    }
}

fn timestamp(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn email_json(t: &EmailTemplate) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "subject": t.subject,
        "html_body": t.html_body,
        "text_body": t.text_body,
        "attach_invoice_pdf": t.attach_invoice_pdf,
        "default": t.is_default,
        "created_at": timestamp(t.created_at),
        "updated_at": timestamp(t.updated_at),
    })
}

/// An SMS template with the segments of its message rendered with sample data.
fn sms_json(t: &SmsTemplate, sample: &MessageVars) -> Value {
    let counted = template::render_sms(&t.body, sample)
        .map(|r| sms_segments(&r.text))
        .unwrap_or_else(|_| sms_segments(&t.body));
    json!({
        "id": t.id,
        "name": t.name,
        "body": t.body,
        "segments": counted.segments,
        "encoding": counted.encoding,
        "characters": counted.units,
        "default": t.is_default,
        "created_at": timestamp(t.created_at),
        "updated_at": timestamp(t.updated_at),
    })
}

/// Sample data with the company's own name, phone and links.
async fn sample_vars(state: &AppState, company_id: &str) -> Result<MessageVars, ApiError> {
    let company = companies::get(&state.app.db, company_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let base = state.app.base_url(company.base_url.as_deref());
    Ok(MessageVars {
        company_name: company.name.clone(),
        company_phone: company.phone.clone(),
        ..MessageVars::sample(base)
    })
}

/// The variables a preview renders with: the customer's (or the invoice's
/// bill-to customer's) real data, else sample data.
async fn preview_vars(
    state: &AppState,
    company: &str,
    body: &Bytes,
) -> Result<MessageVars, ApiError> {
    let p: PreviewBody = if body.iter().all(u8::is_ascii_whitespace) {
        PreviewBody::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                e.to_string(),
            )
        })?
    };
    let customer = match (&p.customer_id, &p.invoice_id) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(i)) => Some(
            invoices::get(&state.app.db, company, i)
                .await?
                .ok_or_else(ApiError::not_found)?
                .bill_to_customer_id,
        ),
        (None, None) => None,
    };
    match customer {
        Some(c) => crate::app::messages::vars_for(&state.app, company, &c, p.invoice_id.as_deref())
            .await
            .map_err(render_error),
        None => sample_vars(state, company).await,
    }
}

// ---------------------------------------------------------------- email

async fn create_email(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<EmailBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    match templates::save(&state.app, &key.actor(), None, &b.draft(), b.default).await? {
        Saved::Email(t) => Ok(super::json_created(email_json(&t))),
        Saved::Sms(_) => Err(ApiError::not_found()),
    }
}

async fn list_email(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let list = store::list_email(&state.app.db, &company).await?;
    let data: Vec<Value> = list.iter().map(email_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn get_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let t = store::get_email(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(email_json(&t)).into_response())
}

async fn update_email(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
    body: Result<Json<EmailBody>, JsonRejection>,
) -> ApiResult {
    store::get_email(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    match templates::save(&state.app, &key.actor(), Some(&id), &b.draft(), b.default).await? {
        Saved::Email(t) => Ok(Json(email_json(&t)).into_response()),
        Saved::Sms(_) => Err(ApiError::not_found()),
    }
}

async fn delete_email(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    templates::delete(&state.app, &key.actor(), Channel::Email, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn preview_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let t = store::get_email(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let vars = preview_vars(&state, &company, &body).await?;
    let r = template::render_email(&t.source(), &vars)
        .map_err(|e| render_error(RenderError::Template(e)))?;
    Ok(Json(json!({"subject": r.subject, "html": r.html, "text": r.text})).into_response())
}

// ---------------------------------------------------------------- sms

async fn create_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<SmsBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let saved = templates::save(&state.app, &key.actor(), None, &b.draft(), b.default).await?;
    let sample = sample_vars(&state, &key.0).await?;
    match saved {
        Saved::Sms(t) => Ok(super::json_created(sms_json(&t, &sample))),
        Saved::Email(_) => Err(ApiError::not_found()),
    }
}

async fn list_sms(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let sample = sample_vars(&state, &company).await?;
    let list = store::list_sms(&state.app.db, &company).await?;
    let data: Vec<Value> = list.iter().map(|t| sms_json(t, &sample)).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn get_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let t = store::get_sms(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let sample = sample_vars(&state, &company).await?;
    Ok(Json(sms_json(&t, &sample)).into_response())
}

async fn update_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
    body: Result<Json<SmsBody>, JsonRejection>,
) -> ApiResult {
    store::get_sms(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let saved = templates::save(&state.app, &key.actor(), Some(&id), &b.draft(), b.default).await?;
    let sample = sample_vars(&state, &key.0).await?;
    match saved {
        Saved::Sms(t) => Ok(Json(sms_json(&t, &sample)).into_response()),
        Saved::Email(_) => Err(ApiError::not_found()),
    }
}

async fn delete_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    templates::delete(&state.app, &key.actor(), Channel::Sms, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn preview_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let t = store::get_sms(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let vars = preview_vars(&state, &company, &body).await?;
    let r =
        template::render_sms(&t.body, &vars).map_err(|e| render_error(RenderError::Template(e)))?;
    let counted = sms_segments(&r.text);
    Ok(Json(json!({
        "text": r.text,
        "segments": counted.segments,
        "encoding": counted.encoding,
        "characters": counted.units,
    }))
    .into_response())
}
