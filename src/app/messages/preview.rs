//! Previews a template as typed (not yet saved): the message exactly as the
//! chosen customer would get it about the chosen invoice (their data, their
//! live payment link, the test-mode line while the company is in test
//! mode), or with sample data whose payment link is as long as a real one,
//! so an SMS count made from the sample is the count of a real message.

use super::send::{recipient_customer, render_rejected};
use super::{
    Message, RenderError, mark_while_test_mode, render_message_in, render_template,
    stored_template, vars_for, wanted_language, written_in, written_language,
};
use crate::app::{Actor, App, Rejected};
use crate::domain::i18n::Lang;
use crate::domain::ids::{CompanyId, InvoiceId};
use crate::messaging::template::{
    MessageVars, SAMPLE_TOKEN, SmsSegments, render_email, render_sms, sms_segments,
};
use crate::messaging::{Channel, Rendered};
use crate::store::companies;

/// A template as typed.
#[derive(Debug, Clone, Copy)]
pub enum DraftBody<'a> {
    Email {
        subject: &'a str,
        html_body: &'a str,
        text_body: Option<&'a str>,
    },
    Sms {
        body: &'a str,
    },
}

/// A rendered draft.
#[derive(Debug, Clone)]
pub struct DraftPreview {
    pub rendered: Rendered,
    /// For SMS: the segments of exactly `rendered.text`.
    pub segments: Option<SmsSegments>,
    /// Made with sample data (no customer or invoice chosen).
    pub sample: bool,
}

/// The company's own name, phone, colour and logo with sample customer and
/// invoice data written in `lang` (its dates, the payment link's words), and
/// a payment link as long as a real one.
pub async fn sample_vars(
    app: &App,
    company_id: &CompanyId,
    lang: Lang,
) -> Result<MessageVars, RenderError> {
    let company = companies::get(&app.db, company_id)
        .await?
        .ok_or(RenderError::NotFound("company"))?;
    let base = app.base_url(company.base_url.as_deref()).to_string();
    let logo = if companies::has_logo(&app.db, company_id).await? {
        format!("{base}/logo/{company_id}")
    } else {
        String::new()
    };
    Ok(MessageVars {
        company_name: company.name,
        company_phone: company.phone,
        company_accent_color: company.accent_color,
        company_logo_url: logo,
        payment_url: crate::domain::paylink::url(&base, SAMPLE_TOKEN),
        ..MessageVars::sample_in(&base, lang)
    })
}

/// The language the chosen customer (or the invoice's bill-to) would get a
/// draft in, given the languages it is translated into: the choice sending
/// makes. With neither named, a customer of the company's default language.
pub async fn draft_language(
    app: &App,
    actor: &Actor,
    customer_id: Option<&str>,
    invoice_id: Option<&str>,
    translations: &[Lang],
) -> Result<Lang, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let customer = match (customer_id, invoice_id) {
        (None, None) => None,
        _ => Some(recipient_customer(app, company_id, customer_id, invoice_id).await?),
    };
    let wanted = wanted_language(app, company_id, customer.as_ref().map(|c| &c.id), None)
        .await
        .map_err(render_rejected)?;
    Ok(written_in(wanted, translations))
}

/// Renders the draft for the customer (or the invoice's bill-to) and the
/// invoice, or with sample data when neither is named. Another company's
/// ids are `NotFound`; a template error names its line and column. `lang`
/// is the draft's language: dates and the payment link's words follow it.
pub async fn preview_draft(
    app: &App,
    actor: &Actor,
    draft: DraftBody<'_>,
    customer_id: Option<&str>,
    invoice_id: Option<&str>,
    lang: Lang,
) -> Result<DraftPreview, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let sample = customer_id.is_none() && invoice_id.is_none();
    let vars = if sample {
        sample_vars(app, company_id, lang).await
    } else {
        let customer = recipient_customer(app, company_id, customer_id, invoice_id).await?;
        let invoice_id = invoice_id.map(InvoiceId::from);
        vars_for(
            app,
            company_id,
            &customer.id,
            invoice_id.as_ref(),
            Some(lang),
        )
        .await
    }
    .map_err(render_rejected)?;
    let mut rendered = match draft {
        DraftBody::Email {
            subject,
            html_body,
            text_body,
        } => render_email(
            &crate::domain::message::TemplateEmail {
                subject: subject.to_string(),
                html_body: html_body.to_string(),
                text_body: text_body
                    .filter(|t| !t.trim().is_empty())
                    .map(str::to_string),
            },
            &vars,
        ),
        DraftBody::Sms { body } => render_sms(body, &vars),
    }
    .map_err(|e| Rejected::coded("body", e.code(), e.to_string()))?;
    mark_while_test_mode(app, company_id, &mut rendered, vars.lang)
        .await
        .map_err(render_rejected)?;
    let segments = matches!(draft, DraftBody::Sms { .. }).then(|| sms_segments(&rendered.text));
    Ok(DraftPreview {
        rendered,
        segments,
        sample,
    })
}

/// A stored template as the customer (or the invoice's bill-to) would get
/// it now: rendered by the function delivery renders with, in the language
/// it would be written in (their data, their live payment link, the
/// test-mode line while the company is in test mode). With neither named:
/// sample data, as a customer of the company's default language would get
/// it. `lang` asks for a language instead, where the template has it (else
/// its main text, as sending does). Another company's ids are `NotFound`.
pub async fn preview_stored(
    app: &App,
    actor: &Actor,
    channel: Channel,
    template_id: &str,
    customer_id: Option<&str>,
    invoice_id: Option<&str>,
    lang: Option<Lang>,
) -> Result<DraftPreview, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let sample = customer_id.is_none() && invoice_id.is_none();
    let rendered = if sample {
        sample_message(app, company_id, channel, template_id, lang).await
    } else {
        let customer = recipient_customer(app, company_id, customer_id, invoice_id).await?;
        let invoice_id = invoice_id.map(InvoiceId::from);
        let message = Message {
            channel,
            template_id,
            customer_id: &customer.id,
            invoice_id: invoice_id.as_ref(),
        };
        render_message_in(app, company_id, &message, "", None, lang).await
    }
    .map_err(render_rejected)?;
    let segments = (channel == Channel::Sms).then(|| sms_segments(&rendered.text));
    Ok(DraftPreview {
        rendered,
        segments,
        sample,
    })
}

/// A stored template rendered with sample data, written in the language a
/// message to a customer without one of their own would be (or `asked`).
async fn sample_message(
    app: &App,
    company_id: &CompanyId,
    channel: Channel,
    template_id: &str,
    asked: Option<Lang>,
) -> Result<Rendered, RenderError> {
    let template = stored_template(app, company_id, channel, template_id).await?;
    let lang = written_language(app, company_id, &template, None, asked).await?;
    let vars = sample_vars(app, company_id, lang).await?;
    let mut rendered = render_template(app, company_id, &template, None, &vars, lang).await?;
    mark_while_test_mode(app, company_id, &mut rendered, lang).await?;
    Ok(rendered)
}
