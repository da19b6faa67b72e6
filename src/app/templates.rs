//! A company's email and SMS templates: saving one (created or changed,
//! checked first: nothing broken is saved), making it the company's default
//! for its channel, duplicating and deleting. The office editor and the JSON
//! API both come here.

use serde_json::json;

use crate::app::{Actor, App, Refusal, Rejected};
use crate::domain::ids::{CompanyId, EmailTemplateId, SmsTemplateId};
use crate::domain::message::{EmailTranslations, SmsTranslations};
use crate::messaging::Channel;
use crate::messaging::template::{
    self, check_email_fields, check_email_translation, check_sms_fields, check_sms_translation,
};
use crate::store::templates::{self as store, EmailFields, EmailTemplate, SmsTemplate};
use crate::store::{Conn, audit};

/// Which template: an email template's id or an SMS template's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateId {
    Email(EmailTemplateId),
    Sms(SmsTemplateId),
}

impl TemplateId {
    pub fn channel(&self) -> Channel {
        match self {
            TemplateId::Email(_) => Channel::Email,
            TemplateId::Sms(_) => Channel::Sms,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TemplateId::Email(id) => id,
            TemplateId::Sms(id) => id,
        }
    }
}

/// A template as typed.
#[derive(Debug, Clone, Copy)]
pub enum Draft<'a> {
    Email {
        name: &'a str,
        subject: &'a str,
        html_body: &'a str,
        /// Blank: derived from the HTML when sent.
        text_body: Option<&'a str>,
        attach_invoice_pdf: bool,
        /// The subject and bodies in other languages (a blank text body:
        /// derived from that language's HTML).
        translations: &'a EmailTranslations,
    },
    Sms {
        name: &'a str,
        body: &'a str,
        translations: &'a SmsTranslations,
    },
}

impl Draft<'_> {
    pub fn channel(&self) -> Channel {
        match self {
            Draft::Email { .. } => Channel::Email,
            Draft::Sms { .. } => Channel::Sms,
        }
    }

    fn check(&self) -> Result<(), Rejected> {
        match *self {
            Draft::Email {
                name,
                subject,
                html_body,
                text_body,
                translations,
                ..
            } => check_email_fields(name, subject, html_body, text_body.unwrap_or("")).and_then(
                |()| {
                    translations.iter().try_for_each(|(lang, t)| {
                        let text = t.text_body.as_deref().unwrap_or("");
                        check_email_translation(*lang, &t.subject, &t.html_body, text)
                    })
                },
            ),
            Draft::Sms {
                name,
                body,
                translations,
            } => check_sms_fields(name, body).and_then(|()| {
                translations
                    .iter()
                    .try_for_each(|(lang, t)| check_sms_translation(*lang, &t.body))
            }),
        }
        .map_err(Rejected::from)
    }
}

/// A template as saved.
#[derive(Debug, Clone)]
pub enum Saved {
    Email(EmailTemplate),
    Sms(SmsTemplate),
}

impl Saved {
    pub fn id(&self) -> &str {
        match self {
            Saved::Email(t) => &t.id,
            Saved::Sms(t) => &t.id,
        }
    }
}

fn noun(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email_template",
        Channel::Sms => "sms_template",
    }
}

/// Creates (`id` None) or replaces the template. `default`: `Some(true)`
/// makes it the company's default for its channel (the one before stops
/// being it), `Some(false)` makes it not the default, `None` leaves that as
/// it is. Another company's id is `NotFound`.
pub async fn save(
    app: &App,
    actor: &Actor,
    id: Option<&TemplateId>,
    draft: &Draft<'_>,
    default: Option<bool>,
) -> Result<Saved, Rejected> {
    actor.must_be_company()?;
    draft.check()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    let saved = write(&mut tx, company_id, id, draft).await?;
    let Some(mut saved) = saved else {
        return Err(Refusal::NotFound.into());
    };
    if let Some(default) = default {
        match &mut saved {
            Saved::Email(t) => {
                store::set_default_email(&mut tx, company_id, &t.id, default).await?;
                t.is_default = default;
            }
            Saved::Sms(t) => {
                store::set_default_sms(&mut tx, company_id, &t.id, default).await?;
                t.is_default = default;
            }
        }
    }
    let (name, is_default) = match &saved {
        Saved::Email(t) => (&t.name, t.is_default),
        Saved::Sms(t) => (&t.name, t.is_default),
    };
    let verb = if id.is_some() { "updated" } else { "created" };
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        &format!("{}.{verb}", noun(draft.channel())),
        saved.id(),
        json!({ "name": name, "default": is_default }),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

async fn write(
    tx: &mut Conn,
    company_id: &CompanyId,
    id: Option<&TemplateId>,
    draft: &Draft<'_>,
) -> Result<Option<Saved>, Refusal> {
    Ok(match *draft {
        Draft::Email {
            name,
            subject,
            html_body,
            text_body,
            attach_invoice_pdf,
            translations,
        } => {
            let mut translations = translations.clone();
            for t in translations.values_mut() {
                t.text_body = t.text_body.take().filter(|t| !t.trim().is_empty());
            }
            let fields = EmailFields {
                name: name.trim(),
                subject,
                html_body,
                text_body: text_body.filter(|t| !t.trim().is_empty()),
                attach_invoice_pdf,
                translations: &translations,
            };
            match id {
                None => Some(store::create_email(tx, company_id, &fields).await?),
                Some(TemplateId::Email(id)) => {
                    store::update_email(tx, company_id, id, &fields).await?
                }
                // Not an email template's id: no such email template.
                Some(TemplateId::Sms(_)) => None,
            }
            .map(Saved::Email)
        }
        Draft::Sms {
            name,
            body,
            translations,
        } => match id {
            None => Some(store::create_sms(tx, company_id, name.trim(), body, translations).await?),
            Some(TemplateId::Sms(id)) => {
                store::update_sms(tx, company_id, id, name.trim(), body, translations).await?
            }
            Some(TemplateId::Email(_)) => None,
        }
        .map(Saved::Sms),
    })
}

/// A copy of the template named "… (copy)", never the default.
pub async fn duplicate(app: &App, actor: &Actor, id: &TemplateId) -> Result<Saved, Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let copy_name = |name: &str| -> String {
        format!("{name} (copy)")
            .chars()
            .take(template::NAME_MAX)
            .collect()
    };
    let mut tx = app.db.begin_write_for(company_id).await?;
    let channel = id.channel();
    let saved = match id {
        TemplateId::Email(id) => {
            let t = store::get_email(&app.db, company_id, id)
                .await?
                .ok_or(Refusal::NotFound)?;
            let name = copy_name(&t.name);
            let fields = EmailFields {
                name: &name,
                subject: &t.subject,
                html_body: &t.html_body,
                text_body: t.text_body.as_deref(),
                attach_invoice_pdf: t.attach_invoice_pdf,
                translations: &t.translations,
            };
            Saved::Email(store::create_email(&mut tx, company_id, &fields).await?)
        }
        TemplateId::Sms(id) => {
            let t = store::get_sms(&app.db, company_id, id)
                .await?
                .ok_or(Refusal::NotFound)?;
            let name = copy_name(&t.name);
            Saved::Sms(
                store::create_sms(&mut tx, company_id, &name, &t.body, &t.translations).await?,
            )
        }
    };
    let name = match &saved {
        Saved::Email(t) => &t.name,
        Saved::Sms(t) => &t.name,
    };
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        &format!("{}.created", noun(channel)),
        saved.id(),
        json!({ "name": name, "copy_of": id.as_str() }),
    )
    .await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes the template (and with it the company's default, if it was).
pub async fn delete(app: &App, actor: &Actor, id: &TemplateId) -> Result<(), Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let channel = id.channel();
    let name = match id {
        TemplateId::Email(id) => store::get_email(&app.db, company_id, id)
            .await?
            .map(|t| t.name),
        TemplateId::Sms(id) => store::get_sms(&app.db, company_id, id)
            .await?
            .map(|t| t.name),
    }
    .ok_or(Refusal::NotFound)?;
    let mut tx = app.db.begin_write_for(company_id).await?;
    let gone = match id {
        TemplateId::Email(id) => store::delete_email(&mut tx, company_id, id).await?,
        TemplateId::Sms(id) => store::delete_sms(&mut tx, company_id, id).await?,
    };
    if !gone {
        return Err(Refusal::NotFound);
    }
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        &format!("{}.deleted", noun(channel)),
        id.as_str(),
        json!({ "name": name }),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
