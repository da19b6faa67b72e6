//! JSON API: a company's email and SMS templates, checked before they are
//! saved, and previews rendered with a customer's data (or sample data).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::api::CompanyKey;
use super::api_doc::{ErrorBody, List};
use super::error::ApiError;
use crate::app::templates::{self, Draft, Saved, TemplateId};
use crate::domain::i18n::Lang;
use crate::domain::ids::{CompanyId, EmailTemplateId, SmsTemplateId};
use crate::domain::message::{EmailTranslations, SmsTranslation, SmsTranslations, TemplateEmail};
use crate::messaging::Channel;
use crate::messaging::template::{self, MessageVars, SmsEncoding, sms_segments};
use crate::store::templates::{self as store, EmailTemplate, SmsTemplate};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_email, list_email))
        .routes(routes!(get_email, update_email, delete_email))
        .routes(routes!(preview_email))
        .routes(routes!(create_sms, list_sms))
        .routes(routes!(get_sms, update_sms, delete_sms))
        .routes(routes!(preview_sms))
}

type ApiResult = Result<Response, ApiError>;

/// An email template as written: its subject and bodies use the message
/// variables (`{{ customer_name }}`, `{{ payment_link }}`, …).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "Friendly reminder", "subject": "Your invoice from {{ company_name }}", "html_body": "<p>Hi {{ customer_name }}, pay here: {{ payment_link }}</p>"}))]
pub struct EmailBody {
    #[schema(schema_with = super::api_doc::text::name)]
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
    /// The subject and bodies in Spanish, sent to customers who read
    /// Spanish (absent: the main text for everyone).
    #[serde(default)]
    translations: EmailTranslationsBody,
}

/// An email template's text in other languages than its main one.
#[derive(Deserialize, Serialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailTranslationsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    es: Option<EmailTranslationBody>,
}

/// An email template's subject and bodies in one language.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct EmailTranslationBody {
    subject: String,
    html_body: String,
    /// Blank: derived from this language's HTML when sent.
    #[serde(default)]
    text_body: Option<String>,
}

impl EmailTranslationsBody {
    fn of(t: &EmailTranslations) -> Self {
        EmailTranslationsBody {
            es: t.get(&Lang::Es).map(|t| EmailTranslationBody {
                subject: t.subject.clone(),
                html_body: t.html_body.clone(),
                text_body: t.text_body.clone(),
            }),
        }
    }

    fn stored(&self) -> EmailTranslations {
        let mut out = EmailTranslations::new();
        if let Some(t) = &self.es {
            let source = TemplateEmail {
                subject: t.subject.clone(),
                html_body: t.html_body.clone(),
                text_body: t.text_body.clone(),
            };
            out.insert(Lang::Es, source);
        }
        out
    }
}

/// An SMS template's text in other languages than its main one.
#[derive(Deserialize, Serialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsTranslationsBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    es: Option<SmsTranslationBody>,
}

/// An SMS template's body in one language.
#[derive(Deserialize, Serialize, ToSchema)]
pub struct SmsTranslationBody {
    body: String,
}

impl SmsTranslationsBody {
    fn of(t: &SmsTranslations) -> Self {
        SmsTranslationsBody {
            es: t.get(&Lang::Es).map(|t| SmsTranslationBody {
                body: t.body.clone(),
            }),
        }
    }

    fn stored(&self) -> SmsTranslations {
        let mut out = SmsTranslations::new();
        if let Some(t) = &self.es {
            out.insert(
                Lang::Es,
                SmsTranslation {
                    body: t.body.clone(),
                },
            );
        }
        out
    }
}

impl EmailBody {
    fn draft<'a>(&'a self, translations: &'a EmailTranslations) -> Draft<'a> {
        Draft::Email {
            name: &self.name,
            subject: &self.subject,
            html_body: &self.html_body,
            text_body: self.text_body.as_deref(),
            attach_invoice_pdf: self.attach_invoice_pdf,
            translations,
        }
    }
}

/// An SMS template as written.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "Short reminder", "body": "{{ company_name }}: pay your invoice at {{ payment_link }}"}))]
pub struct SmsBody {
    #[schema(schema_with = super::api_doc::text::name)]
    name: String,
    body: String,
    /// Make it the company's default SMS template.
    #[serde(default)]
    default: Option<bool>,
    /// The body in Spanish, sent to customers who read Spanish.
    #[serde(default)]
    translations: SmsTranslationsBody,
}

impl SmsBody {
    fn draft<'a>(&'a self, translations: &'a SmsTranslations) -> Draft<'a> {
        Draft::Sms {
            name: &self.name,
            body: &self.body,
            translations,
        }
    }
}

/// Whose data a preview renders: a customer's, or an invoice's (and its
/// bill-to customer's); neither: sample data.
#[derive(Deserialize, Default, ToSchema)]
#[schema(example = json!({}))]
pub struct PreviewBody {
    #[serde(default)]
    customer_id: Option<String>,
    #[serde(default)]
    invoice_id: Option<String>,
}

/// An email template of the company.
#[derive(Serialize, ToSchema)]
pub struct EmailTemplateView {
    pub id: String,
    pub name: String,
    pub subject: String,
    pub html_body: String,
    pub text_body: Option<String>,
    pub attach_invoice_pdf: bool,
    /// The subject and bodies in other languages (`es`).
    pub translations: EmailTranslationsBody,
    /// The company's default email template.
    pub default: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

fn email_json(t: &EmailTemplate) -> EmailTemplateView {
    EmailTemplateView {
        id: t.id.to_string(),
        name: t.name.clone(),
        subject: t.subject.clone(),
        html_body: t.html_body.clone(),
        text_body: t.text_body.clone(),
        attach_invoice_pdf: t.attach_invoice_pdf,
        translations: EmailTranslationsBody::of(&t.translations),
        default: t.is_default,
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

/// An SMS template of the company, with how its message splits when
/// rendered with sample data.
#[derive(Serialize, ToSchema)]
pub struct SmsTemplateView {
    pub id: String,
    pub name: String,
    pub body: String,
    pub segments: usize,
    pub encoding: SmsEncoding,
    /// Length in the encoding's units (GSM-7 septets or UTF-16 units).
    pub characters: usize,
    /// The body in other languages (`es`).
    pub translations: SmsTranslationsBody,
    /// The company's default SMS template.
    pub default: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An SMS template with the segments of its message rendered with sample data.
fn sms_json(t: &SmsTemplate, sample: &MessageVars) -> SmsTemplateView {
    let counted = template::render_sms(&t.body, sample)
        .map(|r| sms_segments(&r.text))
        .unwrap_or_else(|_| sms_segments(&t.body));
    SmsTemplateView {
        id: t.id.to_string(),
        name: t.name.clone(),
        body: t.body.clone(),
        segments: counted.segments,
        encoding: counted.encoding,
        characters: counted.units,
        translations: SmsTranslationsBody::of(&t.translations),
        default: t.is_default,
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

/// An email rendered for a customer.
#[derive(Serialize, ToSchema)]
pub struct EmailPreview {
    pub subject: String,
    /// The HTML body; `null` for a template without one.
    pub html: Option<String>,
    pub text: String,
}

/// An SMS rendered for a customer, and how it splits.
#[derive(Serialize, ToSchema)]
pub struct SmsPreview {
    pub text: String,
    pub segments: usize,
    pub encoding: SmsEncoding,
    pub characters: usize,
}

/// Sample data with the company's own name, phone and links (the SMS
/// count of a template's main text).
async fn sample_vars(state: &AppState, company_id: &CompanyId) -> Result<MessageVars, ApiError> {
    crate::app::messages::sample_vars(&state.app, company_id, Lang::En)
        .await
        .map_err(|e| ApiError::from(crate::app::messages::render_rejected(e)))
}

/// A preview's language, asked for in the query (`?lang=es`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `en` or `es`: the preview in that language where the template has
    /// it (else its main text, as a message is sent). Absent: the
    /// customer's language, else the company's default.
    #[serde(default)]
    #[param(value_type = Option<Lang>)]
    lang: Option<String>,
}

/// A stored template as the customer named in the body (or the invoice's
/// bill-to) would get it, or with sample data: in the language a message to
/// them is written in, or the query's `lang`.
async fn preview_stored(
    state: &AppState,
    key: &CompanyKey,
    channel: Channel,
    id: &str,
    query: Result<Query<LangQuery>, QueryRejection>,
    body: &Bytes,
) -> Result<crate::app::messages::DraftPreview, ApiError> {
    let Query(q) = query?;
    let lang = super::lang::asked(q.lang.as_deref())?;
    let p: PreviewBody = if body.iter().all(u8::is_ascii_whitespace) {
        PreviewBody::default()
    } else {
        // `null` is the empty body too.
        serde_json::from_slice::<Option<PreviewBody>>(body)
            .map(Option::unwrap_or_default)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_field",
                    e.to_string(),
                )
            })?
    };
    Ok(crate::app::messages::preview_stored(
        &state.app,
        &key.actor(),
        channel,
        id,
        p.customer_id.as_deref(),
        p.invoice_id.as_deref(),
        lang,
    )
    .await?)
}

// ---------------------------------------------------------------- email

/// Saves a new email template, checked first (variables, syntax, size).
#[utoipa::path(
    post,
    path = "/api/v1/email-templates",
    tag = "templates",
    security(("api_key" = [])),
    request_body = EmailBody,
    responses(
        (status = 201, description = "The template.", body = EmailTemplateView),
    )
)]
async fn create_email(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<EmailBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let translations = b.translations.stored();
    let draft = b.draft(&translations);
    match templates::save(&state.app, &key.actor(), None, &draft, b.default).await? {
        Saved::Email(t) => Ok(super::json_created(email_json(&t))),
        Saved::Sms(_) => Err(ApiError::not_found()),
    }
}

/// The company's email templates.
#[utoipa::path(
    get,
    path = "/api/v1/email-templates",
    tag = "templates",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The templates.", body = List<EmailTemplateView>),
    )
)]
async fn list_email(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let list = store::list_email(&state.app.db, &company).await?;
    let data = list.iter().map(email_json).collect();
    Ok(Json(List { data }).into_response())
}

/// One email template.
#[utoipa::path(
    get,
    path = "/api/v1/email-templates/{id}",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id.")),
    responses(
        (status = 200, description = "The template.", body = EmailTemplateView),
        (status = 404, description = "No such email template of this company.", body = ErrorBody),
    )
)]
async fn get_email(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<EmailTemplateId>,
) -> ApiResult {
    let t = store::get_email(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(email_json(&t)).into_response())
}

/// Replaces an email template.
#[utoipa::path(
    put,
    path = "/api/v1/email-templates/{id}",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id.")),
    request_body = EmailBody,
    responses(
        (status = 200, description = "The template.", body = EmailTemplateView),
        (status = 404, description = "No such email template of this company.", body = ErrorBody),
    )
)]
async fn update_email(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<EmailTemplateId>,
    body: Result<Json<EmailBody>, JsonRejection>,
) -> ApiResult {
    store::get_email(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let translations = b.translations.stored();
    let draft = b.draft(&translations);
    match templates::save(
        &state.app,
        &key.actor(),
        Some(&TemplateId::Email(id)),
        &draft,
        b.default,
    )
    .await?
    {
        Saved::Email(t) => Ok(Json(email_json(&t)).into_response()),
        Saved::Sms(_) => Err(ApiError::not_found()),
    }
}

/// Deletes an email template no alert, receipt setting or default uses.
#[utoipa::path(
    delete,
    path = "/api/v1/email-templates/{id}",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such email template of this company.", body = ErrorBody),
        (status = 409, description = "The template is in use.", body = ErrorBody),
    )
)]
async fn delete_email(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<EmailTemplateId>,
) -> ApiResult {
    templates::delete(&state.app, &key.actor(), &TemplateId::Email(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Renders an email template as the customer would get it (in their
/// language where the template has it), or with sample data.
#[utoipa::path(
    post,
    path = "/api/v1/email-templates/{id}/preview",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id."), LangQuery),
    request_body(content = Option<PreviewBody>, description = "Empty: sample data."),
    responses(
        (status = 200, description = "The rendered email.", body = EmailPreview),
        (status = 400, description = "A query parameter is malformed (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such template, customer or invoice of this company.", body = ErrorBody),
        (status = 422, description = "The template does not render with this data, or `lang` is not `en` or `es`.", body = ErrorBody),
    )
)]
async fn preview_email(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<EmailTemplateId>,
    query: Result<Query<LangQuery>, QueryRejection>,
    body: Bytes,
) -> ApiResult {
    let p = preview_stored(&state, &key, Channel::Email, &id, query, &body).await?;
    Ok(Json(EmailPreview {
        subject: p.rendered.subject,
        html: p.rendered.html,
        text: p.rendered.text,
    })
    .into_response())
}

// ---------------------------------------------------------------- sms

/// Saves a new SMS template, checked first.
#[utoipa::path(
    post,
    path = "/api/v1/sms-templates",
    tag = "templates",
    security(("api_key" = [])),
    request_body = SmsBody,
    responses(
        (status = 201, description = "The template.", body = SmsTemplateView),
    )
)]
async fn create_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    body: Result<Json<SmsBody>, JsonRejection>,
) -> ApiResult {
    let Json(b) = body?;
    let translations = b.translations.stored();
    let draft = b.draft(&translations);
    let saved = templates::save(&state.app, &key.actor(), None, &draft, b.default).await?;
    let sample = sample_vars(&state, &key.0).await?;
    match saved {
        Saved::Sms(t) => Ok(super::json_created(sms_json(&t, &sample))),
        Saved::Email(_) => Err(ApiError::not_found()),
    }
}

/// The company's SMS templates.
#[utoipa::path(
    get,
    path = "/api/v1/sms-templates",
    tag = "templates",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The templates.", body = List<SmsTemplateView>),
    )
)]
async fn list_sms(State(state): State<AppState>, CompanyKey(company): CompanyKey) -> ApiResult {
    let sample = sample_vars(&state, &company).await?;
    let list = store::list_sms(&state.app.db, &company).await?;
    let data = list.iter().map(|t| sms_json(t, &sample)).collect();
    Ok(Json(List { data }).into_response())
}

/// One SMS template.
#[utoipa::path(
    get,
    path = "/api/v1/sms-templates/{id}",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id.")),
    responses(
        (status = 200, description = "The template.", body = SmsTemplateView),
        (status = 404, description = "No such SMS template of this company.", body = ErrorBody),
    )
)]
async fn get_sms(
    State(state): State<AppState>,
    CompanyKey(company): CompanyKey,
    Path(id): Path<SmsTemplateId>,
) -> ApiResult {
    let t = store::get_sms(&state.app.db, &company, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let sample = sample_vars(&state, &company).await?;
    Ok(Json(sms_json(&t, &sample)).into_response())
}

/// Replaces an SMS template.
#[utoipa::path(
    put,
    path = "/api/v1/sms-templates/{id}",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id.")),
    request_body = SmsBody,
    responses(
        (status = 200, description = "The template.", body = SmsTemplateView),
        (status = 404, description = "No such SMS template of this company.", body = ErrorBody),
    )
)]
async fn update_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<SmsTemplateId>,
    body: Result<Json<SmsBody>, JsonRejection>,
) -> ApiResult {
    store::get_sms(&state.app.db, &key.0, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let Json(b) = body?;
    let translations = b.translations.stored();
    let draft = b.draft(&translations);
    let saved = templates::save(
        &state.app,
        &key.actor(),
        Some(&TemplateId::Sms(id)),
        &draft,
        b.default,
    )
    .await?;
    let sample = sample_vars(&state, &key.0).await?;
    match saved {
        Saved::Sms(t) => Ok(Json(sms_json(&t, &sample)).into_response()),
        Saved::Email(_) => Err(ApiError::not_found()),
    }
}

/// Deletes an SMS template no alert, receipt setting or default uses.
#[utoipa::path(
    delete,
    path = "/api/v1/sms-templates/{id}",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such SMS template of this company.", body = ErrorBody),
        (status = 409, description = "The template is in use.", body = ErrorBody),
    )
)]
async fn delete_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<SmsTemplateId>,
) -> ApiResult {
    templates::delete(&state.app, &key.actor(), &TemplateId::Sms(id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Renders an SMS template as the customer would get it (in their language
/// where the template has it), or with sample data; and how it splits.
#[utoipa::path(
    post,
    path = "/api/v1/sms-templates/{id}/preview",
    tag = "templates",
    security(("api_key" = [])),
    params(("id" = String, Path, description = "The template's id."), LangQuery),
    request_body(content = Option<PreviewBody>, description = "Empty: sample data."),
    responses(
        (status = 200, description = "The rendered SMS.", body = SmsPreview),
        (status = 400, description = "A query parameter is malformed (`invalid_query`).", body = ErrorBody),
        (status = 404, description = "No such template, customer or invoice of this company.", body = ErrorBody),
        (status = 422, description = "The template does not render with this data, or `lang` is not `en` or `es`.", body = ErrorBody),
    )
)]
async fn preview_sms(
    State(state): State<AppState>,
    key: CompanyKey,
    Path(id): Path<SmsTemplateId>,
    query: Result<Query<LangQuery>, QueryRejection>,
    body: Bytes,
) -> ApiResult {
    let p = preview_stored(&state, &key, Channel::Sms, &id, query, &body).await?;
    let counted = sms_segments(&p.rendered.text);
    Ok(Json(SmsPreview {
        text: p.rendered.text,
        segments: counted.segments,
        encoding: counted.encoding,
        characters: counted.units,
    })
    .into_response())
}
