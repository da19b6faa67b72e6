//! Sending one message now: an invoice, or a customer's payment link, to
//! the customer by email or SMS, with a template of the company's or its
//! default for the channel. The office's "Send now" and the JSON API
//! (`POST /api/v1/invoices/{id}/send`, `/customers/{id}/send-link`) come
//! here; the message goes through the outbox like every other.
//!
//! Also the SMS preview: the body exactly as it would be sent (rendered by
//! the function delivery renders with), and its segments.

use serde_json::json;

use super::{RenderError, render_for, vars_for};
use crate::app::{Actor, App, Refusal, Rejected};
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, SmsTemplateId};
use crate::messaging::Channel;
use crate::messaging::outbox::{self, Enqueued, NewMessage};
use crate::messaging::template::{SmsSegments, sms_segments};
use crate::store::customers::{self, Customer};
use crate::store::{audit, invoices, templates};

/// What to send, and to whom.
#[derive(Debug, Clone, Copy)]
pub struct SendRequest<'a> {
    /// The customer; `None` when the invoice names them (its bill-to).
    pub customer_id: Option<&'a str>,
    /// The invoice the message is about, billed to the customer.
    pub invoice_id: Option<&'a str>,
    pub channel: Channel,
    /// `None`: the company's default template for the channel.
    pub template_id: Option<&'a str>,
    /// Unique to this request (a form's nonce, an `Idempotency-Key`): the
    /// same key again queues nothing new and answers the first message.
    pub key: &'a str,
    /// The message must carry the customer's payment link (sending the link).
    pub must_carry_link: bool,
    /// A few words from the office shown above the template's text.
    pub note: Option<&'a str>,
}

/// Longest note the office may add to a message.
pub const NOTE_MAX: usize = 500;

/// The note as it is kept: trimmed, `None` when blank; refused when too
/// long or holding control characters other than line breaks.
fn checked_note(note: Option<&str>) -> Result<Option<String>, Rejected> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    let note = note.replace("\r\n", "\n");
    if note.chars().count() > NOTE_MAX {
        return Err(Rejected::field(
            "message",
            format!("The message may be at most {NOTE_MAX} characters."),
        ));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Rejected::field(
            "message",
            "The message may hold text and line breaks only.",
        ));
    }
    Ok(Some(note))
}

/// The message `send` would queue, rendered now (the customer's data and
/// live link, the note, the test-mode line) with its SMS segments. Nothing
/// is queued.
pub async fn preview_send(
    app: &App,
    actor: &Actor,
    req: &SendRequest<'_>,
) -> Result<super::DraftPreview, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let note = checked_note(req.note)?;
    let customer = recipient_customer(app, company_id, req.customer_id, req.invoice_id).await?;
    let (template_id, _) = chosen_template(app, company_id, req.channel, req.template_id).await?;
    let invoice_id = req.invoice_id.map(InvoiceId::from);
    let message = super::Message {
        channel: req.channel,
        template_id: &template_id,
        customer_id: &customer.id,
        invoice_id: invoice_id.as_ref(),
    };
    let rendered = super::render_message(app, company_id, &message, "", note.as_deref())
        .await
        .map_err(render_rejected)?;
    let segments = (req.channel == Channel::Sms).then(|| sms_segments(&rendered.text));
    Ok(super::DraftPreview {
        rendered,
        segments,
        sample: false,
    })
}

/// What became of a send.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Queued, kept as suppressed (SMS opt-out) or failed (the address is
    /// not one), or the first message of this key.
    pub outcome: Enqueued,
    pub customer_id: String,
    pub recipient: String,
    pub template_id: String,
    pub template_name: String,
}

/// A key the outbox can keep: 8 to 200 letters, digits, `-`, `_`, `.`, `:`.
pub fn valid_key(key: &str) -> bool {
    (8..=200).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

fn what(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Email => ("email", "email address"),
        Channel::Sms => ("SMS", "phone number"),
    }
}

/// The customer the message goes to: the one named, the invoice's bill-to,
/// or both when they agree. Another company's ids are `NotFound`.
pub(super) async fn recipient_customer(
    app: &App,
    company_id: &CompanyId,
    customer_id: Option<&str>,
    invoice_id: Option<&str>,
) -> Result<Customer, Rejected> {
    let bill_to = match invoice_id {
        Some(id) => Some(
            invoices::get(&app.db, company_id, &InvoiceId::from(id))
                .await?
                .ok_or(Refusal::NotFound)?
                .bill_to_customer_id,
        ),
        None => None,
    };
    let id = match (customer_id, bill_to.as_deref()) {
        (Some(c), Some(b)) if c != b => return Err(Refusal::NotFound.into()),
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => {
            return Err(Rejected::field(
                "customer_id",
                "Name the customer (customer_id) or the invoice (invoice_id).",
            ));
        }
    };
    Ok(customers::get(&app.db, company_id, &CustomerId::from(id))
        .await?
        .ok_or(Refusal::NotFound)?)
}

/// The template to send: the one chosen, or the company's default for the
/// channel. `(id, name)`.
async fn chosen_template(
    app: &App,
    company_id: &CompanyId,
    channel: Channel,
    template_id: Option<&str>,
) -> Result<(String, String), Rejected> {
    let (kind, _) = what(channel);
    let found = match (channel, template_id) {
        (Channel::Email, Some(id)) => templates::get_email(&app.db, company_id, &id.into())
            .await?
            .map(|t| (t.id.into_string(), t.name)),
        (Channel::Sms, Some(id)) => templates::get_sms(&app.db, company_id, &id.into())
            .await?
            .map(|t| (t.id.into_string(), t.name)),
        (Channel::Email, None) => templates::default_email(&app.db, company_id)
            .await?
            .map(|t| (t.id.into_string(), t.name)),
        (Channel::Sms, None) => templates::default_sms(&app.db, company_id)
            .await?
            .map(|t| (t.id.into_string(), t.name)),
    };
    match (found, template_id) {
        (Some(t), _) => Ok(t),
        (None, Some(_)) => Err(Rejected::coded(
            "template_id",
            "template_not_found",
            format!("template_id names no {kind} template of this company."),
        )),
        (None, None) => Err(Rejected::coded(
            "template_id",
            "no_default_template",
            format!(
                "This company has no default {kind} template: choose one (template_id), or make one the default."
            ),
        )),
    }
}

/// A render's failure as the use cases answer it.
pub fn render_rejected(e: RenderError) -> Rejected {
    match e {
        RenderError::NotFound(_) => Refusal::NotFound.into(),
        RenderError::Template(t) => Rejected::coded("template_id", t.code(), t.to_string()),
        RenderError::Attachment(m) => Rejected::coded(
            "template_id",
            "attachment_failed",
            format!("The invoice's PDF could not be made: {m}"),
        ),
        RenderError::Store(s) => s.into(),
    }
}

/// Queues the message (through the outbox, delivered by the next run) and
/// audits it. A customer without an email address (or phone number) on file,
/// a template of another company, no template and no default: refused,
/// nothing queued.
pub async fn send(app: &App, actor: &Actor, req: &SendRequest<'_>) -> Result<Sent, Rejected> {
    actor.must_be_company()?;
    if !valid_key(req.key) {
        return Err(Rejected::field(
            "key",
            "The request's key must be 8 to 200 letters, digits, '-', '_', '.' or ':'.",
        ));
    }
    let company_id = actor.company_id();
    let note = checked_note(req.note)?;
    let customer = recipient_customer(app, company_id, req.customer_id, req.invoice_id).await?;
    let (template_id, template_name) =
        chosen_template(app, company_id, req.channel, req.template_id).await?;
    let contact = match req.channel {
        Channel::Email => customer.email.as_deref(),
        Channel::Sms => customer.phone.as_deref(),
    };
    let Some(recipient) = contact.map(str::trim).filter(|r| !r.is_empty()) else {
        let (_, address) = what(req.channel);
        return Err(Rejected::coded(
            "channel",
            "no_contact",
            format!("This customer has no {address} on file. Add one to the customer first."),
        ));
    };
    if req.must_carry_link {
        let invoice_id = req.invoice_id.map(InvoiceId::from);
        let vars = vars_for(app, company_id, &customer.id, invoice_id.as_ref(), None)
            .await
            .map_err(render_rejected)?;
        let rendered = render_for(
            app,
            company_id,
            req.channel,
            &template_id,
            &customer.id,
            invoice_id.as_ref(),
        )
        .await
        .map_err(render_rejected)?;
        let carries = rendered.text.contains(&vars.payment_url)
            || rendered
                .html
                .as_deref()
                .is_some_and(|h| h.contains(&vars.payment_url));
        if !carries {
            let variable = match req.channel {
                Channel::Email => "{{ email_payment_link }}",
                Channel::Sms => "{{ sms_payment_link }}",
            };
            return Err(Rejected::coded(
                "template_id",
                "template_without_link",
                format!(
                    "“{template_name}” does not carry the payment link: choose a template with {variable}."
                ),
            ));
        }
    }
    let message = NewMessage {
        company_id: company_id.clone(),
        customer_id: customer.id.to_string(),
        invoice_id: req.invoice_id.map(str::to_string),
        channel: req.channel,
        recipient: recipient.to_string(),
        template_id: template_id.clone(),
        cause: format!("send_now:{company_id}:{}", req.key),
    };
    let mut tx = app.db.begin_write_for(company_id).await?;
    let outcome = outbox::enqueue(&mut tx, &message, app.clock.now()).await?;
    let state = match &outcome {
        Enqueued::Queued { .. } => "queued",
        Enqueued::Suppressed { .. } => "suppressed",
        Enqueued::Rejected { .. } => "failed",
        Enqueued::Duplicate { .. } => "duplicate",
    };
    if let (Some(note), false) = (&note, matches!(outcome, Enqueued::Duplicate { .. })) {
        crate::store::messages::set_note(&mut tx, company_id, outcome.id(), note).await?;
    }
    if !matches!(outcome, Enqueued::Duplicate { .. }) {
        audit::record(
            &mut tx,
            company_id,
            &actor.audit_name(),
            "message.send_now",
            outcome.id(),
            json!({
                "customer_id": customer.id, "template_id": template_id,
                "channel": req.channel.as_str(), "invoice_id": req.invoice_id,
                "outcome": state, "link": req.must_carry_link, "note": note.is_some(),
            }),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Sent {
        outcome,
        customer_id: customer.id.into(),
        recipient: recipient.to_string(),
        template_id,
        template_name,
    })
}

/// An SMS as it would be sent now.
#[derive(Debug, Clone)]
pub struct SmsPreview {
    /// Exactly the text delivery would send: the customer's (and invoice's)
    /// data and their live payment link.
    pub body: String,
    pub segments: SmsSegments,
}

/// The SMS template rendered for the customer (or the invoice's bill-to),
/// as delivery renders it (`lang`: in that language instead of theirs,
/// where the template has it), with its segment count.
pub async fn preview_sms(
    app: &App,
    actor: &Actor,
    template_id: &SmsTemplateId,
    customer_id: Option<&str>,
    invoice_id: Option<&str>,
    lang: Option<crate::domain::i18n::Lang>,
) -> Result<SmsPreview, Rejected> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    if templates::get_sms(&app.db, company_id, template_id)
        .await?
        .is_none()
    {
        return Err(Refusal::NotFound.into());
    }
    // A real message: the customer (or invoice) must be named.
    recipient_customer(app, company_id, customer_id, invoice_id).await?;
    let shown = super::preview_stored(
        app,
        actor,
        Channel::Sms,
        template_id,
        customer_id,
        invoice_id,
        lang,
    )
    .await?;
    Ok(SmsPreview {
        segments: sms_segments(&shown.rendered.text),
        body: shown.rendered.text,
    })
}

/// Records a STOP (or START) texted from `phone` to the company: every SMS
/// to that number stops (or resumes), checked when queued and when sent.
pub async fn record_opt_out(
    app: &App,
    actor: &Actor,
    phone: &str,
    opted_out: bool,
) -> Result<(), Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let mut tx = app.db.begin_write_for(company_id).await?;
    crate::store::messages::set_opt_out(&mut tx, company_id, phone, opted_out, app.clock.now())
        .await?;
    let action = if opted_out {
        "sms.opted_out"
    } else {
        "sms.opted_in"
    };
    audit::record(
        &mut tx,
        company_id,
        &actor.audit_name(),
        action,
        phone,
        json!({}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
