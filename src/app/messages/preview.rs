//! Previews a template as typed (not yet saved): the message exactly as the
//! chosen customer would get it about the chosen invoice (their data, their
//! live payment link, the test-mode line while the company is in test
//! mode), or with sample data whose payment link is as long as a real one,
//! so an SMS count made from the sample is the count of a real message.

use super::{RenderError, mark_test_mode, send::recipient_customer, vars_for};
use crate::app::{Actor, App, Rejected};
use crate::domain::i18n::Lang;
use crate::messaging::Rendered;
use crate::messaging::template::{
    MessageVars, SAMPLE_TOKEN, SmsSegments, render_email, render_sms, sms_segments,
};
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
/// invoice data, and a payment link as long as a real one.
pub async fn sample_vars(app: &App, company_id: &str) -> Result<MessageVars, RenderError> {
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
        ..MessageVars::sample(&base)
    })
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
        sample_vars(app, company_id)
            .await
            .map(|v| MessageVars { lang, ..v })
    } else {
        let customer = recipient_customer(app, company_id, customer_id, invoice_id).await?;
        vars_for(app, company_id, &customer.id, invoice_id, Some(lang)).await
    }
    .map_err(super::send::render_rejected)?;
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
    if crate::store::processor_settings::mode(&app.db, company_id)
        .await?
        .is_test()
    {
        mark_test_mode(&mut rendered, vars.lang);
    }
    let segments = matches!(draft, DraftBody::Sms { .. }).then(|| sms_segments(&rendered.text));
    Ok(DraftPreview {
        rendered,
        segments,
        sample,
    })
}
