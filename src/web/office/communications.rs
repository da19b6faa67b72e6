//! Office: Settings › Communications — email and SMS templates (list, create,
//! edit, duplicate, delete, preview) — the Messages list, and "Send now" for
//! one customer. Templates are checked exactly as the JSON API checks them
//! (`check_email`, `check_sms`): nothing broken is saved.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::{Deserialize, Serialize};

use super::{OfficeUser, page, page_with_status};
use crate::app::messages::RenderError;
use crate::messaging::Channel;
use crate::messaging::outbox::{self, Enqueued, NewMessage};
use crate::messaging::template::{self, MessageVars, sms_segments};
use crate::messaging::template::{
    check_email_fields as check_email, check_sms_fields as check_sms,
};
use crate::store::templates::{self as store, EmailFields};
use crate::store::{StoreError, audit, companies, customers, invoices};
use crate::web::AppState;
use crate::web::error::ApiError;

type Page = Result<Response, ApiError>;

/// Messages shown on one page of the list.
const MESSAGES_SHOWN: i64 = 200;

/// Every template variable with a one-line meaning (kept beside the
/// variables themselves).
pub use crate::messaging::template::VARIABLE_HELP as VARIABLE_MEANINGS;

/// The statuses a message can have, for the filter.
const STATUSES: &[(&str, &str)] = &[
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("suppressed", "Suppressed"),
];

// ---------------------------------------------------------------- checks

/// A send-now nonce: letters, digits, `-` and `_`, 8 to 100 of them.
pub fn valid_nonce(nonce: &str) -> bool {
    (8..=100).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `email:ID` or `sms:ID` from the template select.
pub fn parse_template_choice(value: &str) -> Option<(Channel, &str)> {
    let (kind, id) = value.split_once(':')?;
    let channel = match kind {
        "email" => Channel::Email,
        "sms" => Channel::Sms,
        _ => return None,
    };
    (!id.is_empty()).then_some((channel, id))
}

/// The SMS count shown beside the editor.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SmsCount {
    pub characters: usize,
    pub segments: usize,
    pub encoding: &'static str,
    /// More than two segments: the message costs more and may arrive split.
    pub warn: bool,
}

pub fn sms_count(text: &str) -> SmsCount {
    let c = sms_segments(text);
    SmsCount {
        characters: c.units,
        segments: c.segments,
        encoding: match c.encoding {
            template::SmsEncoding::Gsm7 => "GSM-7",
            template::SmsEncoding::Ucs2 => "Unicode (UCS-2)",
        },
        warn: c.segments > 2,
    }
}

// ---------------------------------------------------------------- routes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Sms,
}

impl Kind {
    fn slug(self) -> &'static str {
        match self {
            Kind::Email => "email-templates",
            Kind::Sms => "sms-templates",
        }
    }

    fn base(self) -> String {
        format!("/office/settings/{}", self.slug())
    }

    fn info(self) -> minijinja::Value {
        let (title, noun) = match self {
            Kind::Email => ("Email Templates", "email template"),
            Kind::Sms => ("SMS Templates", "SMS template"),
        };
        minijinja::context! {
            title => title, noun => noun, base => self.base(), is_email => self == Kind::Email,
        }
    }
}

pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route("/office/messages", get(messages_page))
        .route("/office/customers/{id}/send", get(send_page).post(send_now));
    for kind in [Kind::Email, Kind::Sms] {
        let base = kind.base();
        r = r
            .route(
                &base,
                get(move |s: State<AppState>, u: OfficeUser| list(s, u, kind)),
            )
            .route(
                &format!("{base}/new"),
                get(move |s: State<AppState>, u: OfficeUser| new_form(s, u, kind)).post(
                    move |s: State<AppState>, u: OfficeUser, f: Form<TemplateForm>| {
                        save(s, u, kind, None, f)
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}"),
                get(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          p: Path<String>,
                          q: Query<SavedQuery>| { edit_form(s, u, kind, p, q) },
                )
                .post(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          Path(id): Path<String>,
                          f: Form<TemplateForm>| {
                        save(s, u, kind, Some(id), f)
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}/duplicate"),
                axum::routing::post(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          p: Path<String>,
                          f: Form<super::CsrfForm>| {
                        duplicate(s, u, kind, p, f)
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}/delete"),
                get(move |s: State<AppState>, u: OfficeUser, p: Path<String>| {
                    delete_confirm(s, u, kind, p)
                })
                .post(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          p: Path<String>,
                          f: Form<super::CsrfForm>| {
                        delete(s, u, kind, p, f)
                    },
                ),
            );
    }
    r
}

// ---------------------------------------------------------------- templates

#[derive(Deserialize, Serialize, Default, Debug)]
struct TemplateForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default, skip_serializing)]
    action: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    html_body: String,
    #[serde(default)]
    text_body: String,
    /// The checkbox: present ("on") when ticked.
    #[serde(default)]
    attach_invoice_pdf: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    customer_id: String,
}

#[derive(Serialize)]
struct ListItem {
    id: String,
    name: String,
    summary: String,
    updated: String,
}

async fn time_zone(state: &AppState, company_id: &str) -> Result<String, ApiError> {
    Ok(companies::get(&state.app.db, company_id)
        .await?
        .map(|c| c.time_zone)
        .unwrap_or_else(|| "UTC".to_string()))
}

async fn list(State(state): State<AppState>, user: OfficeUser, kind: Kind) -> Page {
    let tz = time_zone(&state, &user.company_id).await?;
    let shown = |t: time::OffsetDateTime| crate::domain::dates::display_instant(t, &tz);
    let items: Vec<ListItem> = match kind {
        Kind::Email => store::list_email(&state.app.db, &user.company_id)
            .await?
            .into_iter()
            .map(|t| ListItem {
                updated: shown(t.updated_at),
                summary: t.subject,
                id: t.id,
                name: t.name,
            })
            .collect(),
        Kind::Sms => store::list_sms(&state.app.db, &user.company_id)
            .await?
            .into_iter()
            .map(|t| ListItem {
                updated: shown(t.updated_at),
                summary: t.body.chars().take(80).collect(),
                id: t.id,
                name: t.name,
            })
            .collect(),
    };
    Ok(page(
        &state,
        &user,
        "office/templates.html",
        kind.slug(),
        minijinja::context! { kind => kind.info(), items => minijinja::value::Serde(&items) },
    ))
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

/// What the editor shows besides the form.
#[derive(Default)]
struct Extra {
    id: Option<String>,
    errors: BTreeMap<&'static str, String>,
    preview: Option<minijinja::Value>,
    preview_error: Option<String>,
    saved: bool,
}

async fn editor(
    state: &AppState,
    user: &OfficeUser,
    kind: Kind,
    status: StatusCode,
    f: &TemplateForm,
    extra: Extra,
) -> Page {
    let choices = customers::choices(&state.app.db, &user.company_id, 500).await?;
    let choices: Vec<(String, String)> = choices.into_iter().map(|c| (c.id, c.name)).collect();
    let count = if kind == Kind::Sms {
        let sample = sample_vars(state, &user.company_id).await?;
        let text = template::render_sms(&f.body, &sample)
            .map(|r| r.text)
            .unwrap_or_else(|_| f.body.clone());
        Some(sms_count(&text))
    } else {
        None
    };
    let variables: Vec<(&str, &str)> = VARIABLE_MEANINGS.to_vec();
    Ok(page_with_status(
        state,
        user,
        status,
        "office/templates_form.html",
        kind.slug(),
        minijinja::context! {
            kind => kind.info(),
            id => extra.id,
            f => minijinja::value::Serde(f),
            errors => extra.errors,
            preview => extra.preview,
            preview_error => extra.preview_error,
            saved => extra.saved,
            count => count.map(minijinja::value::Serde),
            variables => variables,
            customers => choices,
        },
    ))
}

#[derive(Deserialize, Default)]
struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

async fn new_form(State(state): State<AppState>, user: OfficeUser, kind: Kind) -> Page {
    editor(
        &state,
        &user,
        kind,
        StatusCode::OK,
        &TemplateForm::default(),
        Extra::default(),
    )
    .await
}

/// The stored template as a form, or `None` when it is not the company's.
async fn load(
    state: &AppState,
    company_id: &str,
    kind: Kind,
    id: &str,
) -> Result<Option<TemplateForm>, ApiError> {
    Ok(match kind {
        Kind::Email => store::get_email(&state.app.db, company_id, id)
            .await?
            .map(|t| TemplateForm {
                name: t.name,
                subject: t.subject,
                html_body: t.html_body,
                text_body: t.text_body.unwrap_or_default(),
                attach_invoice_pdf: t.attach_invoice_pdf.then(|| "on".to_string()),
                ..TemplateForm::default()
            }),
        Kind::Sms => store::get_sms(&state.app.db, company_id, id)
            .await?
            .map(|t| TemplateForm {
                name: t.name,
                body: t.body,
                ..TemplateForm::default()
            }),
    })
}

async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Page {
    let Some(f) = load(&state, &user.company_id, kind, &id).await? else {
        return Ok(state.views.not_found());
    };
    editor(
        &state,
        &user,
        kind,
        StatusCode::OK,
        &f,
        Extra {
            id: Some(id),
            saved: q.saved.is_some(),
            ..Extra::default()
        },
    )
    .await
}

/// The preview of the typed template: the subject, the HTML (shown as
/// source) and the text part for email; the text and its count for SMS.
async fn preview(
    state: &AppState,
    user: &OfficeUser,
    kind: Kind,
    f: &TemplateForm,
) -> Result<Result<minijinja::Value, String>, ApiError> {
    let vars = if f.customer_id.trim().is_empty() {
        sample_vars(state, &user.company_id).await?
    } else {
        match crate::app::messages::vars_for(
            &state.app,
            &user.company_id,
            f.customer_id.trim(),
            None,
        )
        .await
        {
            Ok(v) => v,
            Err(RenderError::NotFound(what)) => {
                return Ok(Err(format!("That {what} was not found.")));
            }
            Err(RenderError::Template(e)) => return Ok(Err(e.to_string())),
            Err(RenderError::Attachment(e)) => return Ok(Err(e)),
            Err(RenderError::Store(e)) => return Err(e.into()),
        }
    };
    Ok(match kind {
        Kind::Email => {
            let source = crate::domain::message::TemplateEmail {
                subject: f.subject.clone(),
                html_body: f.html_body.clone(),
                text_body: Some(f.text_body.clone()).filter(|t| !t.trim().is_empty()),
            };
            template::render_email(&source, &vars)
                .map(|r| {
                    minijinja::context! { subject => r.subject, html => r.html, text => r.text }
                })
                .map_err(|e| e.to_string())
        }
        Kind::Sms => template::render_sms(&f.body, &vars)
            .map(|r| {
                let count = sms_count(&r.text);
                minijinja::context! { text => r.text, count => minijinja::value::Serde(count) }
            })
            .map_err(|e| e.to_string()),
    })
}

async fn save(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    id: Option<String>,
    Form(f): Form<TemplateForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    if let Some(id) = &id
        && load(&state, &user.company_id, kind, id).await?.is_none()
    {
        return Ok(state.views.not_found());
    }
    let checked = match kind {
        Kind::Email => check_email(&f.name, &f.subject, &f.html_body, &f.text_body),
        Kind::Sms => check_sms(&f.name, &f.body),
    };
    if let Err(e) = checked {
        let mut errors = BTreeMap::new();
        errors.insert(e.field, e.message);
        let extra = Extra {
            id,
            errors,
            ..Extra::default()
        };
        return editor(
            &state,
            &user,
            kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            extra,
        )
        .await;
    }
    if f.action == "preview" {
        let who = f.customer_id.trim();
        if !who.is_empty()
            && customers::get(&state.app.db, &user.company_id, who)
                .await?
                .is_none()
        {
            return Ok(state.views.not_found());
        }
        let (status, preview, preview_error) = match preview(&state, &user, kind, &f).await? {
            Ok(p) => (StatusCode::OK, Some(p), None),
            Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(e)),
        };
        let extra = Extra {
            id,
            preview,
            preview_error,
            ..Extra::default()
        };
        return editor(&state, &user, kind, status, &f, extra).await;
    }
    let name = f.name.trim();
    let text_body = Some(f.text_body.as_str()).filter(|t| !t.trim().is_empty());
    let mut tx = state.app.db.begin_write().await?;
    let saved_id = match (kind, &id) {
        (Kind::Email, None) => {
            let fields = EmailFields {
                name,
                subject: &f.subject,
                html_body: &f.html_body,
                text_body,
                attach_invoice_pdf: f.attach_invoice_pdf.is_some(),
            };
            Some(
                store::create_email(&mut tx, &user.company_id, &fields)
                    .await?
                    .id,
            )
        }
        (Kind::Email, Some(id)) => {
            let fields = EmailFields {
                name,
                subject: &f.subject,
                html_body: &f.html_body,
                text_body,
                attach_invoice_pdf: f.attach_invoice_pdf.is_some(),
            };
            store::update_email(&mut tx, &user.company_id, id, &fields)
                .await?
                .map(|t| t.id)
        }
        (Kind::Sms, None) => Some(
            store::create_sms(&mut tx, &user.company_id, name, &f.body)
                .await?
                .id,
        ),
        (Kind::Sms, Some(id)) => store::update_sms(&mut tx, &user.company_id, id, name, &f.body)
            .await?
            .map(|t| t.id),
    };
    let Some(saved_id) = saved_id else {
        return Ok(state.views.not_found());
    };
    let action = match (kind, &id) {
        (Kind::Email, None) => "email_template.created",
        (Kind::Email, Some(_)) => "email_template.updated",
        (Kind::Sms, None) => "sms_template.created",
        (Kind::Sms, Some(_)) => "sms_template.updated",
    };
    audit::record(
        &mut tx,
        &user.company_id,
        &user.actor(),
        action,
        &saved_id,
        serde_json::json!({ "name": name }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to(&format!("{}/{saved_id}?saved=1", kind.base())).into_response())
}

async fn duplicate(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
    Form(f): Form<super::CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let Some(t) = load(&state, &user.company_id, kind, &id).await? else {
        return Ok(state.views.not_found());
    };
    let name: String = format!("{} (copy)", t.name)
        .chars()
        .take(template::NAME_MAX)
        .collect();
    let mut tx = state.app.db.begin_write().await?;
    let (new_id, action) = match kind {
        Kind::Email => {
            let fields = EmailFields {
                name: &name,
                subject: &t.subject,
                html_body: &t.html_body,
                text_body: Some(t.text_body.as_str()).filter(|b| !b.is_empty()),
                attach_invoice_pdf: t.attach_invoice_pdf.is_some(),
            };
            (
                store::create_email(&mut tx, &user.company_id, &fields)
                    .await?
                    .id,
                "email_template.created",
            )
        }
        Kind::Sms => (
            store::create_sms(&mut tx, &user.company_id, &name, &t.body)
                .await?
                .id,
            "sms_template.created",
        ),
    };
    audit::record(
        &mut tx,
        &user.company_id,
        &user.actor(),
        action,
        &new_id,
        serde_json::json!({ "name": name, "copy_of": id }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to(&format!("{}/{new_id}", kind.base())).into_response())
}

async fn delete_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
) -> Page {
    let Some(t) = load(&state, &user.company_id, kind, &id).await? else {
        return Ok(state.views.not_found());
    };
    Ok(page(
        &state,
        &user,
        "office/templates_delete.html",
        kind.slug(),
        minijinja::context! { kind => kind.info(), id => id, name => t.name },
    ))
}

async fn delete(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
    Form(f): Form<super::CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let Some(t) = load(&state, &user.company_id, kind, &id).await? else {
        return Ok(state.views.not_found());
    };
    let mut tx = state.app.db.begin_write().await?;
    let (gone, action) = match kind {
        Kind::Email => (
            store::delete_email(&mut tx, &user.company_id, &id).await?,
            "email_template.deleted",
        ),
        Kind::Sms => (
            store::delete_sms(&mut tx, &user.company_id, &id).await?,
            "sms_template.deleted",
        ),
    };
    if !gone {
        return Ok(state.views.not_found());
    }
    audit::record(
        &mut tx,
        &user.company_id,
        &user.actor(),
        action,
        &id,
        serde_json::json!({ "name": t.name }),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(Redirect::to(&kind.base()).into_response())
}

// ---------------------------------------------------------------- messages

#[derive(Deserialize, Default)]
struct MessagesQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    customer_id: String,
}

#[derive(Serialize)]
struct MessageRow {
    id: String,
    channel: String,
    recipient: String,
    subject: Option<String>,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    created: String,
    sent: String,
    customer_id: String,
    customer_name: String,
}

async fn messages_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Query(q): Query<MessagesQuery>,
) -> Page {
    let status = STATUSES
        .iter()
        .find(|(k, _)| *k == q.status)
        .map(|(k, _)| *k);
    let channel = ["email", "sms"].into_iter().find(|c| *c == q.channel);
    let customer_id = Some(q.customer_id.trim()).filter(|c| !c.is_empty());
    let customer = match customer_id {
        Some(c) => match customers::get(&state.app.db, &user.company_id, c).await? {
            Some(c) => Some(c),
            None => return Ok(state.views.not_found()),
        },
        None => None,
    };
    let tz = time_zone(&state, &user.company_id).await?;
    let rows = crate::store::messages::office_list(
        &state.app.db,
        &user.company_id,
        status,
        channel,
        customer_id,
        MESSAGES_SHOWN,
    )
    .await?;
    let shown = |t: time::OffsetDateTime| crate::domain::dates::display_instant(t, &tz);
    let messages: Vec<MessageRow> = rows
        .into_iter()
        .map(|r| MessageRow {
            id: r.id,
            channel: r.channel,
            recipient: r.recipient,
            subject: r.subject,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            created: shown(r.created_at),
            sent: r.sent_at.map(shown).unwrap_or_default(),
            customer_id: r.customer_id,
            customer_name: r.customer_name,
        })
        .collect();
    Ok(page(
        &state,
        &user,
        "office/messages.html",
        "messages",
        minijinja::context! {
            messages => minijinja::value::Serde(&messages),
            statuses => minijinja::value::Serde(STATUSES),
            q_status => status.unwrap_or(""),
            q_channel => channel.unwrap_or(""),
            customer => customer.map(|c| minijinja::context! { id => c.id, name => c.name }),
            limit => MESSAGES_SHOWN,
        },
    ))
}

// ---------------------------------------------------------------- send now

#[derive(Deserialize, Serialize, Default)]
struct SendForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    template: String,
    #[serde(default)]
    invoice_id: String,
}

async fn send_form(
    state: &AppState,
    user: &OfficeUser,
    customer: &customers::Customer,
    status: StatusCode,
    f: &SendForm,
    errors: BTreeMap<&'static str, String>,
    outcome: Option<minijinja::Value>,
) -> Page {
    let db = &state.app.db;
    let emails: Vec<(String, String)> = store::list_email(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (format!("email:{}", t.id), t.name))
        .collect();
    let sms: Vec<(String, String)> = store::list_sms(db, &user.company_id)
        .await?
        .into_iter()
        .map(|t| (format!("sms:{}", t.id), t.name))
        .collect();
    let invoices: Vec<(String, String)> =
        invoices::list(db, &user.company_id, Some(&customer.id), None, 200)
            .await?
            .into_iter()
            .map(|i| {
                let label = format!(
                    "{} — due {} — {} owed",
                    i.number,
                    crate::domain::dates::display(i.due_date),
                    crate::domain::money::Money::new(i.balance, i.currency).format()
                );
                (i.id, label)
            })
            .collect();
    Ok(page_with_status(
        state,
        user,
        status,
        "office/messages_send.html",
        "customers",
        minijinja::context! {
            customer => minijinja::context! {
                id => customer.id.clone(), name => customer.name.clone(),
                email => customer.email.clone(), phone => customer.phone.clone(),
            },
            f => minijinja::value::Serde(f),
            errors => errors,
            email_templates => emails,
            sms_templates => sms,
            invoices => invoices,
            outcome => outcome,
        },
    ))
}

async fn send_page(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
) -> Page {
    let Some(customer) = customers::get(&state.app.db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let f = SendForm {
        nonce: crate::crypto::random_token(16),
        ..SendForm::default()
    };
    send_form(
        &state,
        &user,
        &customer,
        StatusCode::OK,
        &f,
        BTreeMap::new(),
        None,
    )
    .await
}

async fn send_now(
    State(state): State<AppState>,
    user: OfficeUser,
    Path(id): Path<String>,
    Form(f): Form<SendForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let db = &state.app.db;
    let Some(customer) = customers::get(db, &user.company_id, &id).await? else {
        return Ok(state.views.not_found());
    };
    let mut errors = BTreeMap::new();
    let invalid = |errors| {
        send_form(
            &state,
            &user,
            &customer,
            StatusCode::UNPROCESSABLE_ENTITY,
            &f,
            errors,
            None,
        )
    };
    if !valid_nonce(&f.nonce) {
        errors.insert(
            "template",
            "This form has expired. Open the send page again.".to_string(),
        );
        return invalid(errors).await;
    }
    let Some((channel, template_id)) = parse_template_choice(&f.template) else {
        errors.insert("template", "Choose a template.".to_string());
        return invalid(errors).await;
    };
    let (template_name, recipient) = match channel {
        Channel::Email => {
            let Some(t) = store::get_email(db, &user.company_id, template_id).await? else {
                return Ok(state.views.not_found());
            };
            (t.name, customer.email.clone())
        }
        Channel::Sms => {
            let Some(t) = store::get_sms(db, &user.company_id, template_id).await? else {
                return Ok(state.views.not_found());
            };
            (t.name, customer.phone.clone())
        }
    };
    let invoice_id = Some(f.invoice_id.trim())
        .filter(|i| !i.is_empty())
        .map(str::to_string);
    if let Some(inv) = &invoice_id {
        match invoices::get(db, &user.company_id, inv).await? {
            Some(i) if i.bill_to_customer_id == customer.id => {}
            _ => return Ok(state.views.not_found()),
        }
    }
    let Some(recipient) = recipient.filter(|r| !r.trim().is_empty()) else {
        let what = match channel {
            Channel::Email => "email address",
            Channel::Sms => "phone number",
        };
        errors.insert(
            "template",
            format!("This customer has no {what} on file. Add one to the customer first."),
        );
        return invalid(errors).await;
    };
    let message = NewMessage {
        company_id: user.company_id.clone(),
        customer_id: customer.id.clone(),
        invoice_id: invoice_id.clone(),
        channel,
        recipient: recipient.clone(),
        template_id: template_id.to_string(),
        cause: format!("send_now:{}", f.nonce),
    };
    let mut tx = db.begin_write().await?;
    let done = outbox::enqueue(&mut tx, &message, state.app.clock.now()).await?;
    let (state_key, text) = match &done {
        Enqueued::Queued { .. } => (
            "queued",
            format!(
                "Queued: “{template_name}” to {recipient}. It is delivered on the next delivery run (within a few minutes); its status shows on the Messages page."
            ),
        ),
        Enqueued::Suppressed { .. } => (
            "suppressed",
            format!("Not sent: {recipient} opted out of text messages (replied STOP)."),
        ),
        Enqueued::Rejected { reason, .. } => (
            "failed",
            format!("Not sent: {recipient} is {reason}. Correct the customer's contact details."),
        ),
        Enqueued::Duplicate { .. } => (
            "duplicate",
            "This form was already sent: the message was queued once and is not sent again."
                .to_string(),
        ),
    };
    if !matches!(done, Enqueued::Duplicate { .. }) {
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "message.send_now",
            done.id(),
            serde_json::json!({
                "customer_id": customer.id, "template_id": template_id,
                "channel": channel.as_str(), "invoice_id": invoice_id, "outcome": state_key,
            }),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    let outcome = minijinja::context! { state => state_key, text => text };
    send_form(
        &state,
        &user,
        &customer,
        StatusCode::OK,
        &f,
        BTreeMap::new(),
        Some(outcome),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_name_the_field() {
        let e = check_email("", "Hi", "<p>x</p>", "").unwrap_err();
        assert_eq!(e.field, "name");
        let e = check_email("A", "Hi {{ nope }}", "<p>x</p>", "").unwrap_err();
        assert_eq!(e.field, "subject");
        assert!(e.message.contains("nope"), "{}", e.message);
        let e = check_email("A", "Hi", "<p>{% if %}</p>", "").unwrap_err();
        assert_eq!(e.field, "html_body");
        assert!(e.message.starts_with("line 1, column"), "{}", e.message);
        assert!(check_email("A", "Hi {{ customer_name }}", "<p>x</p>", "  ").is_ok());
        let e = check_email("A", "Hi", "<p>x</p>", "{{ x }}").unwrap_err();
        assert_eq!(e.field, "text_body");
        assert_eq!(check_sms("A", "").unwrap_err().field, "body");
        assert!(check_sms("A", "Pay {{ sms_payment_link }}").is_ok());
    }

    #[test]
    fn sms_count_warns_above_two_segments() {
        assert_eq!(sms_count(&"a".repeat(160)).segments, 1);
        let two = sms_count(&"a".repeat(161));
        assert_eq!((two.segments, two.warn), (2, false));
        let three = sms_count(&"a".repeat(307));
        assert_eq!((three.segments, three.warn), (3, true));
        assert_eq!(sms_count("é😀").encoding, "Unicode (UCS-2)");
    }

    #[test]
    fn nonces_and_choices() {
        assert!(valid_nonce("abcDEF12_-"));
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce("has space in it"));
        assert_eq!(
            parse_template_choice("sms:stpl_1"),
            Some((Channel::Sms, "stpl_1"))
        );
        assert_eq!(parse_template_choice("email:"), None);
        assert_eq!(parse_template_choice("fax:1"), None);
    }
}
