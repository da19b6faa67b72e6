//! Settings › Communications › Email Templates and SMS Templates: the list,
//! the editor with its preview and SMS count, duplicate and delete.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use serde::{Deserialize, Serialize};

use super::time_zone;
use super::{Kind, Page, VARIABLE_MEANINGS, sms_count};
use crate::app::Rejected;
use crate::app::messages::DraftBody;
use crate::app::templates::{self, Draft, TemplateId};
use crate::domain::i18n::Lang;
use crate::domain::ids::CompanyId;
use crate::domain::message::{EmailTranslations, SmsTranslation, SmsTranslations, TemplateEmail};
use crate::messaging::template::{
    check_email_fields as check_email, check_sms_fields as check_sms,
};
use crate::store::customers;
use crate::store::templates as store;
use crate::web::AppState;
use crate::web::error::ApiError;
use crate::web::office::{OfficeUser, page, page_with_status, refused};

// ---------------------------------------------------------------- templates

#[derive(Deserialize, Serialize, Default, Debug)]
pub(super) struct TemplateForm {
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
    /// The Spanish text (all blank: none; the main text goes to everyone).
    #[serde(default)]
    es_subject: String,
    #[serde(default)]
    es_html_body: String,
    #[serde(default)]
    es_text_body: String,
    #[serde(default)]
    es_body: String,
    /// The checkbox: the company's default template for the channel.
    #[serde(default)]
    is_default: Option<String>,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    invoice_id: String,
}

/// The form's Spanish fields as the template's translations.
struct FormTranslations {
    email: EmailTranslations,
    sms: SmsTranslations,
}

impl FormTranslations {
    /// No translation for this kind of template.
    fn none_for(&self, kind: Kind) -> bool {
        match kind {
            Kind::Email => self.email.is_empty(),
            Kind::Sms => self.sms.is_empty(),
        }
    }
}

impl TemplateForm {
    fn translations(&self) -> FormTranslations {
        let mut email = EmailTranslations::new();
        if [&self.es_subject, &self.es_html_body, &self.es_text_body]
            .iter()
            .any(|f| !f.trim().is_empty())
        {
            let source = TemplateEmail {
                subject: self.es_subject.clone(),
                html_body: self.es_html_body.clone(),
                text_body: Some(self.es_text_body.clone()),
            };
            email.insert(Lang::Es, source);
        }
        let mut sms = SmsTranslations::new();
        if !self.es_body.trim().is_empty() {
            let body = self.es_body.clone();
            sms.insert(Lang::Es, SmsTranslation { body });
        }
        FormTranslations { email, sms }
    }

    fn draft<'a>(&'a self, kind: Kind, tr: &'a FormTranslations) -> Draft<'a> {
        match kind {
            Kind::Email => Draft::Email {
                name: &self.name,
                subject: &self.subject,
                html_body: &self.html_body,
                text_body: Some(&self.text_body),
                attach_invoice_pdf: self.attach_invoice_pdf.is_some(),
                translations: &tr.email,
            },
            Kind::Sms => Draft::Sms {
                name: &self.name,
                body: &self.body,
                translations: &tr.sms,
            },
        }
    }
}

#[derive(Serialize)]
struct ListItem {
    id: String,
    name: String,
    summary: String,
    updated: String,
    is_default: bool,
}

pub(super) async fn list(State(state): State<AppState>, user: OfficeUser, kind: Kind) -> Page {
    let tz = time_zone(&state, &user.company_id).await?;
    let shown = |t: time::OffsetDateTime| crate::domain::dates::display_instant(t, &tz);
    let items: Vec<ListItem> = match kind {
        Kind::Email => store::list_email(&state.app.db, &user.company_id)
            .await?
            .into_iter()
            .map(|t| ListItem {
                updated: shown(t.updated_at),
                is_default: t.is_default,
                summary: t.subject,
                id: t.id.into_string(),
                name: t.name,
            })
            .collect(),
        Kind::Sms => store::list_sms(&state.app.db, &user.company_id)
            .await?
            .into_iter()
            .map(|t| ListItem {
                updated: shown(t.updated_at),
                is_default: t.is_default,
                summary: t.body.chars().take(80).collect(),
                id: t.id.into_string(),
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

/// What the editor shows besides the form.
#[derive(Default)]
struct Extra {
    id: Option<String>,
    errors: BTreeMap<&'static str, String>,
    preview: Option<minijinja::Value>,
    preview_error: Option<String>,
    /// The Spanish text's preview, beside the main one.
    preview_es: Option<minijinja::Value>,
    preview_es_error: Option<String>,
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
    let choices: Vec<(String, String)> =
        choices.into_iter().map(|c| (c.id.into(), c.name)).collect();
    // The message with sample data and a real-length link, as sent.
    let counted = |body: &str, lang: Lang| {
        let body = body.to_string();
        async move {
            match crate::app::messages::preview_draft(
                &state.app,
                &user.as_actor(),
                DraftBody::Sms { body: &body },
                None,
                None,
                lang,
            )
            .await
            {
                Ok(p) => sms_count(&p.rendered.text),
                Err(_) => sms_count(&body),
            }
        }
    };
    let (count, count_es) = if kind == Kind::Sms {
        let es = if f.es_body.trim().is_empty() {
            None
        } else {
            Some(counted(&f.es_body, Lang::Es).await)
        };
        (Some(counted(&f.body, Lang::En).await), es)
    } else {
        (None, None)
    };
    let invoices = invoice_choices(state, &user.company_id).await?;
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
            count_es => count_es.map(minijinja::value::Serde),
            preview_es => extra.preview_es,
            preview_es_error => extra.preview_es_error,
            variables => variables,
            customers => choices,
            invoices => invoices,
        },
    ))
}

#[derive(Deserialize, Default)]
pub(super) struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

pub(super) async fn new_form(State(state): State<AppState>, user: OfficeUser, kind: Kind) -> Page {
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
    company_id: &CompanyId,
    id: &TemplateId,
) -> Result<Option<TemplateForm>, ApiError> {
    Ok(match id {
        TemplateId::Email(id) => store::get_email(&state.app.db, company_id, id)
            .await?
            .map(|t| {
                let es = t.translations.get(&Lang::Es).cloned();
                TemplateForm {
                    es_subject: es.as_ref().map(|e| e.subject.clone()).unwrap_or_default(),
                    es_html_body: es.as_ref().map(|e| e.html_body.clone()).unwrap_or_default(),
                    es_text_body: es.and_then(|e| e.text_body).unwrap_or_default(),
                    name: t.name,
                    subject: t.subject,
                    html_body: t.html_body,
                    text_body: t.text_body.unwrap_or_default(),
                    attach_invoice_pdf: t.attach_invoice_pdf.then(|| "on".to_string()),
                    is_default: t.is_default.then(|| "on".to_string()),
                    ..TemplateForm::default()
                }
            }),
        TemplateId::Sms(id) => store::get_sms(&state.app.db, company_id, id)
            .await?
            .map(|t| TemplateForm {
                es_body: t
                    .translations
                    .get(&Lang::Es)
                    .map(|e| e.body.clone())
                    .unwrap_or_default(),
                name: t.name,
                body: t.body,
                is_default: t.is_default.then(|| "on".to_string()),
                ..TemplateForm::default()
            }),
    })
}

pub(super) async fn edit_form(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
    Query(q): Query<SavedQuery>,
) -> Page {
    let Some(f) = load(&state, &user.company_id, &kind.id(&id)).await? else {
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

/// Open invoices to preview with: `(id, "1004 — Lena Landlord — $65.00")`.
async fn invoice_choices(
    state: &AppState,
    company_id: &CompanyId,
) -> Result<Vec<(String, String)>, ApiError> {
    let tz = time_zone(state, company_id).await?;
    let filter = crate::store::invoices::ListFilter {
        status: crate::store::invoices::StatusFilter::Open,
        today: state.app.clock.today_in(&tz),
        from: None,
        to: None,
        customer_id: None,
    };
    let (rows, _) =
        crate::store::invoices::office_list(&state.app.db, company_id, &filter, 200).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let balance = crate::domain::money::Money::new(r.balance, r.currency).format();
            (
                r.id.into(),
                format!(
                    "{} \u{2014} {} \u{2014} {balance}",
                    r.number, r.customer_name
                ),
            )
        })
        .collect())
}

/// The preview of the typed template for the chosen customer and invoice
/// (or sample data): the subject, the email drawn as the customer sees it
/// (in a sandboxed frame) and its text part; the SMS as sent and its count.
/// `lang`: the text in that language; `None`: in the language the chosen
/// customer would get it in (their Spanish where it is typed, else the main
/// text), as sending chooses.
async fn preview(
    state: &AppState,
    user: &OfficeUser,
    kind: Kind,
    f: &TemplateForm,
    lang: Option<Lang>,
) -> Result<Result<minijinja::Value, String>, ApiError> {
    let pick = |v: &str| Some(v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    let (customer, invoice) = (pick(&f.customer_id), pick(&f.invoice_id));
    let lang = match lang {
        Some(lang) => Ok(lang),
        None => {
            let tr = f.translations();
            let typed: Vec<Lang> = match kind {
                Kind::Email => tr.email.into_keys().collect(),
                Kind::Sms => tr.sms.into_keys().collect(),
            };
            crate::app::messages::draft_language(
                &state.app,
                &user.as_actor(),
                customer.as_deref(),
                invoice.as_deref(),
                &typed,
            )
            .await
        }
    };
    let shown = match lang {
        Ok(lang) => {
            preview_in(
                state,
                user,
                kind,
                f,
                (customer.as_deref(), invoice.as_deref()),
                lang,
            )
            .await
        }
        Err(e) => Err(e),
    };
    preview_shown(kind, shown)
}

/// The typed template's text in `lang`, rendered for the customer and invoice.
async fn preview_in(
    state: &AppState,
    user: &OfficeUser,
    kind: Kind,
    f: &TemplateForm,
    (customer, invoice): (Option<&str>, Option<&str>),
    lang: Lang,
) -> Result<crate::app::messages::DraftPreview, Rejected> {
    let spanish = lang == Lang::Es;
    let draft = match (kind, spanish) {
        (Kind::Email, false) => DraftBody::Email {
            subject: &f.subject,
            html_body: &f.html_body,
            text_body: Some(&f.text_body),
        },
        (Kind::Email, true) => DraftBody::Email {
            subject: &f.es_subject,
            html_body: &f.es_html_body,
            text_body: Some(&f.es_text_body),
        },
        (Kind::Sms, false) => DraftBody::Sms { body: &f.body },
        (Kind::Sms, true) => DraftBody::Sms { body: &f.es_body },
    };
    crate::app::messages::preview_draft(
        &state.app,
        &user.as_actor(),
        draft,
        customer,
        invoice,
        lang,
    )
    .await
}

/// A preview as the editor shows it, or why it could not be made.
fn preview_shown(
    kind: Kind,
    shown: Result<crate::app::messages::DraftPreview, Rejected>,
) -> Result<Result<minijinja::Value, String>, ApiError> {
    Ok(match shown {
        Ok(p) => Ok(match kind {
            Kind::Email => minijinja::context! {
                subject => p.rendered.subject,
                html => p.rendered.html,
                text => p.rendered.text,
                sample => p.sample,
            },
            Kind::Sms => {
                let count = sms_count(&p.rendered.text);
                minijinja::context! { text => p.rendered.text, count => minijinja::value::Serde(count), sample => p.sample }
            }
        }),
        Err(Rejected::Refused(crate::app::Refusal::NotFound)) => Err(
            "That customer or invoice was not found, or the invoice is billed to someone else."
                .to_string(),
        ),
        Err(Rejected::Fields(problems)) => Err(problems
            .into_iter()
            .map(|p| p.message)
            .collect::<Vec<_>>()
            .join(" ")),
        Err(Rejected::Refused(r)) => return Err(r.into()),
    })
}

/// POST …/email-templates/preview-email: the typed email, for the chosen
/// customer and invoice (or sample data) in the language they would get it
/// in, as a document of its own under `EMAIL_DOCUMENT_CSP`: what the
/// customer's mail program shows.
pub(super) async fn email_document(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<TemplateForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    Ok(match preview(&state, &user, Kind::Email, &f, None).await? {
        Ok(p) => super::email_document(
            p.get_attr("html")
                .ok()
                .and_then(|h| h.as_str().map(str::to_string))
                .unwrap_or_default(),
        ),
        Err(message) => super::email_document_refused(&message),
    })
}

pub(super) async fn save(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    id: Option<String>,
    Form(f): Form<TemplateForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    let id = id.map(|id| kind.id(&id));
    if let Some(id) = &id
        && load(&state, &user.company_id, id).await?.is_none()
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
            id: id.map(|i| i.as_str().to_string()),
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
            && customers::get(&state.app.db, &user.company_id, &who.into())
                .await?
                .is_none()
        {
            return Ok(state.views.not_found());
        }
        let main = preview(&state, &user, kind, &f, Some(Lang::En)).await?;
        let has_spanish = !f.translations().none_for(kind);
        let spanish = if has_spanish {
            Some(preview(&state, &user, kind, &f, Some(Lang::Es)).await?)
        } else {
            None
        };
        let (status, preview, preview_error) = match main {
            Ok(p) => (StatusCode::OK, Some(p), None),
            Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(e)),
        };
        let (status, preview_es, preview_es_error) = if let Some(spanish) = spanish {
            match spanish {
                Ok(p) => (status, Some(p), None),
                Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, None, Some(e)),
            }
        } else {
            (status, None, None)
        };
        let extra = Extra {
            id: id.map(|i| i.as_str().to_string()),
            preview,
            preview_error,
            preview_es,
            preview_es_error,
            ..Extra::default()
        };
        return editor(&state, &user, kind, status, &f, extra).await;
    }
    let default = Some(f.is_default.is_some());
    let translations = f.translations();
    let saved = templates::save(
        &state.app,
        &user.as_actor(),
        id.as_ref(),
        &f.draft(kind, &translations),
        default,
    )
    .await;
    match saved {
        Ok(saved) => {
            Ok(Redirect::to(&format!("{}/{}?saved=1", kind.base(), saved.id())).into_response())
        }
        Err(Rejected::Refused(r)) => Ok(refused(&state, r)),
        Err(rejected) => {
            let extra = Extra {
                id: id.map(|i| i.as_str().to_string()),
                errors: rejected.by_field().unwrap_or_default(),
                ..Extra::default()
            };
            editor(
                &state,
                &user,
                kind,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                extra,
            )
            .await
        }
    }
}

pub(super) async fn duplicate(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
    Form(f): Form<crate::web::office::CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match templates::duplicate(&state.app, &user.as_actor(), &kind.id(&id)).await {
        Ok(copy) => Ok(Redirect::to(&format!("{}/{}", kind.base(), copy.id())).into_response()),
        Err(r) => Ok(refused(&state, r)),
    }
}

pub(super) async fn delete_confirm(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
) -> Page {
    let Some(t) = load(&state, &user.company_id, &kind.id(&id)).await? else {
        return Ok(state.views.not_found());
    };
    let noun = kind.noun();
    Ok(crate::web::office::confirm_delete(
        &state,
        &user,
        kind.slug(),
        crate::web::office::ConfirmDelete {
            title: &format!("Delete {noun}"),
            question: &format!("Delete “{}”?", t.name),
            before: &format!("The {noun} "),
            strong: &t.name,
            after: " will be deleted for good. Messages already sent stay in the Messages list; alerts that use it will have to be given another template.",
            action: format!("{}/{id}/delete", kind.base()),
            button: &format!("Delete {}", t.name),
            cancel: kind.base(),
        },
    ))
}

pub(super) async fn delete(
    State(state): State<AppState>,
    user: OfficeUser,
    kind: Kind,
    Path(id): Path<String>,
    Form(f): Form<crate::web::office::CsrfForm>,
) -> Page {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return Ok(r);
    }
    match templates::delete(&state.app, &user.as_actor(), &kind.id(&id)).await {
        Ok(()) => Ok(Redirect::to(&kind.base()).into_response()),
        Err(r) => Ok(refused(&state, r)),
    }
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
}
