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
use crate::messaging::template::{self, MessageVars, sms_segments};
use crate::store::templates::{self, EmailFields, EmailTemplate, SmsTemplate};
use crate::store::{StoreError, companies, invoices};

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
}

#[derive(Deserialize)]
struct SmsBody {
    name: String,
    body: String,
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

fn field_error(e: template::FieldError) -> ApiError {
    ApiError::unprocessable(e.code, e.message, e.field)
}

/// The fields of an email template, trimmed and checked; nothing broken passes.
fn checked_email(b: &EmailBody) -> Result<(String, Option<String>), ApiError> {
    let text = b.text_body.as_deref().unwrap_or("");
    template::check_email_fields(&b.name, &b.subject, &b.html_body, text).map_err(field_error)?;
    let text_body = Some(text.to_string()).filter(|t| !t.trim().is_empty());
    Ok((b.name.trim().to_string(), text_body))
}

fn checked_sms(b: &SmsBody) -> Result<String, ApiError> {
    template::check_sms_fields(&b.name, &b.body).map_err(field_error)?;
    Ok(b.name.trim().to_string())
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
    CompanyKey(company): CompanyKey,
    body: Result<Json<EmailBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let (name, text_body) = checked_email(&b)?;
    let mut tx = state.app.db.begin_write().await?;
    let t = templates::create_email(
        &mut tx,
        &company,
        &EmailFields {
            name: &name,
            subject: &b.subject,
            html_body: &b.html_body,
            text_body: text_body.as_deref(),
            attach_invoice_pdf: b.attach_invoice_pdf,
        },
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(super::json_created(email_json(&t)))
}

async fn list_email(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let list = templates::list_email(&state.app.db, &company).await?;
    let data: Vec<Value> = list.iter().map(email_json).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn get_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let t = templates::get_email(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(email_json(&t)).into_response())
}

async fn update_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Result<Json<EmailBody>, JsonRejection>,
) -> ApiResult {
    templates::get_email(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let (name, text_body) = checked_email(&b)?;
    let mut tx = state.app.db.begin_write().await?;
    let t = templates::update_email(
        &mut tx,
        &company,
        &id,
        &EmailFields {
            name: &name,
            subject: &b.subject,
            html_body: &b.html_body,
            text_body: text_body.as_deref(),
            attach_invoice_pdf: b.attach_invoice_pdf,
        },
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(email_json(&t)).into_response())
}

async fn delete_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let mut tx = state.app.db.begin_write().await?;
    if !templates::delete_email(&mut tx, &company, &id).await? {
        return Err(ApiError::not_found());
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn preview_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let t = templates::get_email(&state.app.db, &company, &id)
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
    CompanyKey(company): CompanyKey,
    body: Result<Json<SmsBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let name = checked_sms(&b)?;
    let sample = sample_vars(&state, &company).await?;
    let mut tx = state.app.db.begin_write().await?;
    let t = templates::create_sms(&mut tx, &company, &name, &b.body).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(super::json_created(sms_json(&t, &sample)))
}

async fn list_sms(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let sample = sample_vars(&state, &company).await?;
    let list = templates::list_sms(&state.app.db, &company).await?;
    let data: Vec<Value> = list.iter().map(|t| sms_json(t, &sample)).collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn get_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let t = templates::get_sms(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let sample = sample_vars(&state, &company).await?;
    Ok(Json(sms_json(&t, &sample)).into_response())
}

async fn update_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Result<Json<SmsBody>, JsonRejection>,
) -> ApiResult {
    templates::get_sms(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let name = checked_sms(&b)?;
    let sample = sample_vars(&state, &company).await?;
    let mut tx = state.app.db.begin_write().await?;
    let t = templates::update_sms(&mut tx, &company, &id, &name, &b.body)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Json(sms_json(&t, &sample)).into_response())
}

async fn delete_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
) -> ApiResult {
    let mut tx = state.app.db.begin_write().await?;
    if !templates::delete_sms(&mut tx, &company, &id).await? {
        return Err(ApiError::not_found());
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn preview_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let t = templates::get_sms(&state.app.db, &company, &id)
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
