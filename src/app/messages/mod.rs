//! Messages leaving fieldpay: a stored template rendered for a customer
//! and their invoice at delivery (with the payment link as it is now), and
//! the delivery run that claims due messages from the outbox, sends them
//! through the configured transports and records what became of each; and
//! sending one message now (`send`).

mod preview;
mod remind;
mod send;

pub use preview::{
    DraftBody, DraftPreview, draft_language, preview_draft, preview_stored, sample_vars,
};
pub use remind::{MAX_REMINDERS, OverduePlan, Reminded, plan_overdue_reminders, remind_overdue};

pub use send::{
    NOTE_MAX, SendRequest, Sent, SmsPreview, preview_send, preview_sms, record_opt_out,
    render_rejected, send, valid_key,
};

use crate::domain::i18n::Lang;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, MessageId, PaymentId};
use std::fmt;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::app::App;
use crate::domain::money::Money;
use crate::domain::paylink::carries_link;
use crate::messaging::email::{Email, EmailError};
use crate::messaging::outbox::{
    BATCH, CLAIM, DeliveryReport, MAX_PER_RUN, Transports, redact, retry_at,
};
use crate::messaging::sms::{Sms, SmsError};
use crate::messaging::template::*;
use crate::messaging::{Channel, Rendered};
use crate::processor::BoxFuture;
use crate::store::messages::{self as store, OutboxRow};
use crate::store::{Conn, StoreError, StoreResult, companies, customers, invoices, templates};

// ---------------------------------------------------------------- delivery

#[derive(Debug)]
pub enum RenderError {
    /// The template, customer or invoice is not the company's (or is gone).
    NotFound(&'static str),
    Template(TemplateError),
    Store(StoreError),
    /// The invoice's PDF could not be made.
    Attachment(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::NotFound(what) => write!(f, "{what} not found"),
            RenderError::Template(e) => write!(f, "template: {e}"),
            RenderError::Store(e) => write!(f, "{e}"),
            RenderError::Attachment(e) => write!(f, "attachment: {e}"),
        }
    }
}

impl std::error::Error for RenderError {}

impl From<StoreError> for RenderError {
    fn from(e: StoreError) -> Self {
        RenderError::Store(e)
    }
}

impl From<TemplateError> for RenderError {
    fn from(e: TemplateError) -> Self {
        RenderError::Template(e)
    }
}

/// The variables for a customer (and optionally one of its invoices), read
/// now. The payment link is the customer's CURRENT link; when the link is
/// revoked (or was never issued), or the company turned payment links off
/// or points them at the portal, both payment-link variables render the
/// portal link instead.
pub async fn vars_for(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    invoice_id: Option<&InvoiceId>,
    lang: Option<Lang>,
) -> Result<MessageVars, RenderError> {
    let db = &app.db;
    let company = companies::get(db, company_id)
        .await?
        .ok_or(RenderError::NotFound("company"))?;
    let customer = customers::get(db, company_id, customer_id)
        .await?
        .ok_or(RenderError::NotFound("customer"))?;
    let invoice = match invoice_id {
        Some(id) => Some(
            invoices::get(db, company_id, id)
                .await?
                .ok_or(RenderError::NotFound("invoice"))?,
        ),
        None => None,
    };
    let balance = customers::open_balance(db, company_id, customer_id).await?;
    let base = app.base_url(company.base_url.as_deref()).to_string();
    let portal_link = format!("{base}/portal");
    let settings = companies::invoice_settings(db, company_id).await?;
    let links_public = settings
        .map(|s| s.payment_link_enabled && s.payment_link_target != "portal")
        .unwrap_or(true);
    let link = crate::app::links::shown(
        db.reader(),
        &app.config.secret,
        company_id,
        &customer_id.into(),
    )
    .await?;
    let (payment_url, autopay_cancel_link) = match link {
        Some(l) if !l.revoked && links_public => {
            let url = crate::domain::paylink::url(&base, &l.token);
            let cancel = format!("{url}/autopay");
            (url, cancel)
        }
        _ => (portal_link.clone(), format!("{portal_link}/cards")),
    };
    let update_card_link = format!("{portal_link}/cards");
    let money = |minor: i64, currency| Money::new(minor, currency).format();
    // The words the template itself cannot choose (dates, the payment
    // link's label) are in the message's language: the one asked for, else
    // the customer's, else the company's.
    let lang = lang.unwrap_or(customer.language.unwrap_or(company.language));
    Ok(MessageVars {
        lang,
        payment_url,
        portal_link,
        customer_first_name: first_name(&customer.name),
        customer_name: customer.name,
        customer_balance: money(balance, company.currency),
        company_name: company.name,
        company_phone: company.phone,
        invoice_number: invoice
            .as_ref()
            .map(|i| i.number.clone())
            .unwrap_or_default(),
        invoice_date: invoice
            .as_ref()
            .map(|i| crate::domain::i18n::date(lang, i.issue_date))
            .unwrap_or_default(),
        invoice_due_date: invoice
            .as_ref()
            .map(|i| crate::domain::i18n::date(lang, i.due_date))
            .unwrap_or_default(),
        invoice_total: invoice
            .as_ref()
            .map(|i| money(i.total, i.currency))
            .unwrap_or_default(),
        invoice_balance: invoice
            .as_ref()
            .map(|i| money(i.balance, i.currency))
            .unwrap_or_default(),
        payment_amount: String::new(),
        autopay_cancel_link,
        update_card_link,
        company_logo_url: if companies::has_logo(db, company_id).await? {
            format!("{base}/logo/{company_id}")
        } else {
            String::new()
        },
        company_accent_color: company.accent_color,
        ..MessageVars::default()
    })
}

/// Renders a stored template for a customer (and invoice) with the data as
/// it is now.
pub async fn render_for(
    app: &App,
    company_id: &CompanyId,
    channel: Channel,
    template_id: &str,
    customer_id: &CustomerId,
    invoice_id: Option<&InvoiceId>,
) -> Result<Rendered, RenderError> {
    render_for_cause(
        app,
        company_id,
        channel,
        template_id,
        customer_id,
        invoice_id,
        "",
    )
    .await
}

/// `render_for` for an outbox message: a receipt's cause (`receipt:{payment
/// id}`) also fills `payment_amount`, `autopay_amount` and the card; autopay
/// causes (`autopay_notice:…`, `autopay_declined:…`, `card_expiring:…`) fill
/// the card, the amount, the date and the decline reason
/// (`crate::app::autopay::vars_for_cause`). What the worker calls at delivery time.
pub async fn render_for_cause(
    app: &App,
    company_id: &CompanyId,
    channel: Channel,
    template_id: &str,
    customer_id: &CustomerId,
    invoice_id: Option<&InvoiceId>,
    cause: &str,
) -> Result<Rendered, RenderError> {
    let message = Message {
        channel,
        template_id,
        customer_id,
        invoice_id,
    };
    render_message(app, company_id, &message, cause, None).await
}

/// What a message is: its channel, template, customer and invoice.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub channel: Channel,
    pub template_id: &'a str,
    pub customer_id: &'a CustomerId,
    pub invoice_id: Option<&'a InvoiceId>,
}

/// `render_for_cause` with the office's note for this one message (shown
/// above the template's text).
pub async fn render_message(
    app: &App,
    company_id: &CompanyId,
    message: &Message<'_>,
    cause: &str,
    note: Option<&str>,
) -> Result<Rendered, RenderError> {
    render_message_in(app, company_id, message, cause, note, None).await
}

/// `render_message`, written in `asked` instead of the customer's language
/// where the template has it (a preview's `lang`).
async fn render_message_in(
    app: &App,
    company_id: &CompanyId,
    message: &Message<'_>,
    cause: &str,
    note: Option<&str>,
    asked: Option<Lang>,
) -> Result<Rendered, RenderError> {
    let Message {
        channel,
        template_id,
        customer_id,
        invoice_id,
    } = *message;
    let template = stored_template(app, company_id, channel, template_id).await?;
    let lang = written_language(app, company_id, &template, Some(customer_id), asked).await?;
    let mut vars = vars_for(app, company_id, customer_id, invoice_id, Some(lang)).await?;
    if let Some(payment_id) = cause.strip_prefix("receipt:") {
        let payment = crate::store::payments::list(
            &app.db,
            company_id,
            Some(customer_id),
            Some(&PaymentId::from(payment_id)),
            1,
        )
        .await?
        .pop()
        .ok_or(RenderError::NotFound("payment"))?;
        vars.payment_amount = Money::new(payment.amount, payment.currency).format();
        vars.autopay_amount = vars.payment_amount.clone();
        vars.card_brand = payment.card_brand.unwrap_or_default();
        vars.card_last4 = payment.card_last4.unwrap_or_default();
    } else if let Some(a) = crate::app::autopay::vars_for_cause(app, company_id, cause).await? {
        vars.card_brand = a.card_brand;
        vars.card_last4 = a.card_last4;
        vars.card_expiry = a.card_expiry;
        vars.autopay_amount = a.autopay_amount;
        vars.autopay_date = a.autopay_date;
        vars.decline_reason = a.decline_reason;
    }
    let mut rendered = render_template(app, company_id, &template, invoice_id, &vars, lang).await?;
    if let Some(note) = note {
        add_note(&mut rendered, note);
    }
    mark_while_test_mode(app, company_id, &mut rendered, lang).await?;
    Ok(rendered)
}

/// `mark_test_mode` while the company's payments move no money.
async fn mark_while_test_mode(
    app: &App,
    company_id: &CompanyId,
    rendered: &mut Rendered,
    lang: Lang,
) -> Result<(), RenderError> {
    if crate::store::processor_settings::mode(&app.db, company_id)
        .await?
        .is_test()
    {
        mark_test_mode(rendered, lang);
    }
    Ok(())
}

/// Puts the office's note for one message above the template's text: its
/// own paragraph at the top of the email (escaped, line breaks kept), the
/// first lines of the text part and of an SMS.
pub fn add_note(rendered: &mut Rendered, note: &str) {
    if let Some(html) = &mut rendered.html {
        let escaped = crate::messaging::template::escape_text(note).replace('\n', "<br>");
        let block = format!(
            "<p style=\"margin:0;padding:16px 24px;background:#ffffff;color:#1b1f24;font:16px/1.5 Arial,Helvetica,sans-serif\">{escaped}</p>"
        );
        let at = html
            .to_ascii_lowercase()
            .find("<body")
            .and_then(|start| html[start..].find('>').map(|end| start + end + 1))
            .unwrap_or(0);
        html.insert_str(at, &block);
        rendered.text = format!("{note}\n\n{}", rendered.text);
    } else {
        rendered.text = format!("{note}\n{}", rendered.text);
    }
}

/// Says "Test mode — no money moves" (in the message's language) at the top
/// of a message a company in test mode sends: the first line of the text
/// (and of an SMS), a banner at the top of the HTML body.
pub fn mark_test_mode(rendered: &mut Rendered, lang: crate::domain::i18n::Lang) {
    use crate::domain::i18n::t;
    let banner_words = t(lang, "message-test-mode");
    match &mut rendered.html {
        Some(html) => {
            let banner = format!(
                "<div style=\"background:#fff3c4;color:#3d2e00;border-bottom:2px solid #b08900;padding:10px 16px;font:bold 14px/1.4 Arial,Helvetica,sans-serif;text-align:center\">{banner_words}</div>"
            );
            let at = html
                .to_ascii_lowercase()
                .find("<body")
                .and_then(|start| html[start..].find('>').map(|end| start + end + 1))
                .unwrap_or(0);
            html.insert_str(at, &banner);
            rendered.text = format!("{banner_words}\n\n{}", rendered.text);
        }
        None => rendered.text = format!("{} {}", t(lang, "message-test-mode-sms"), rendered.text),
    }
}

/// The language a message goes out in: the one asked for (a preview's
/// `lang`), else the customer's own, else the company's default, where the
/// template has it; else its main text's (English). Delivery, "send now" and
/// every preview of a stored template choose here.
async fn written_language(
    app: &App,
    company_id: &CompanyId,
    template: &StoredTemplate,
    customer_id: Option<&CustomerId>,
    asked: Option<Lang>,
) -> Result<Lang, RenderError> {
    let wanted = wanted_language(app, company_id, customer_id, asked).await?;
    Ok(written_in(wanted, &template.languages()))
}

/// A company's stored email or SMS template, read once for a message: the
/// language it is written in and its rendering both come from it.
enum StoredTemplate {
    Email(templates::EmailTemplate),
    Sms(templates::SmsTemplate),
}

impl StoredTemplate {
    /// The languages the template has a translation in.
    fn languages(&self) -> Vec<Lang> {
        match self {
            StoredTemplate::Email(t) => t.translations.keys().copied().collect(),
            StoredTemplate::Sms(t) => t.translations.keys().copied().collect(),
        }
    }
}

async fn stored_template(
    app: &App,
    company_id: &CompanyId,
    channel: Channel,
    template_id: &str,
) -> Result<StoredTemplate, RenderError> {
    Ok(match channel {
        Channel::Email => StoredTemplate::Email(
            templates::get_email(&app.db, company_id, &template_id.into())
                .await?
                .ok_or(RenderError::NotFound("email template"))?,
        ),
        Channel::Sms => StoredTemplate::Sms(
            templates::get_sms(&app.db, company_id, &template_id.into())
                .await?
                .ok_or(RenderError::NotFound("SMS template"))?,
        ),
    })
}

/// The language a message to the customer is wanted in: `asked`, else the
/// customer's own, else the company's default (`None`: a customer without
/// one of their own).
async fn wanted_language(
    app: &App,
    company_id: &CompanyId,
    customer_id: Option<&CustomerId>,
    asked: Option<Lang>,
) -> Result<Lang, RenderError> {
    let own = match (asked, customer_id) {
        (Some(lang), _) => Some(lang),
        (None, Some(id)) => crate::store::customers::get(&app.db, company_id, id)
            .await?
            .and_then(|c| c.language),
        (None, None) => None,
    };
    Ok(match own {
        Some(lang) => lang,
        None => companies::get(&app.db, company_id)
            .await?
            .map(|c| c.language)
            .unwrap_or_default(),
    })
}

/// A message is written in the wanted language where its template has a
/// translation in it, else in the template's main text (English).
fn written_in(wanted: Lang, translations: &[Lang]) -> Lang {
    if translations.contains(&wanted) {
        wanted
    } else {
        Lang::En
    }
}

/// Renders the stored template in `lang` where it has that language, else
/// its main text.
async fn render_template(
    app: &App,
    company_id: &CompanyId,
    template: &StoredTemplate,
    invoice_id: Option<&InvoiceId>,
    vars: &MessageVars,
    lang: crate::domain::i18n::Lang,
) -> Result<Rendered, RenderError> {
    match template {
        StoredTemplate::Email(t) => {
            let mut rendered = render_email(&t.source_for(lang), vars)?;
            if let (true, Some(invoice_id)) = (t.attach_invoice_pdf, invoice_id) {
                let (number, content) =
                    crate::app::documents::invoice_pdf_named(app, company_id, invoice_id)
                        .await
                        .map_err(|e| RenderError::Attachment(e.to_string()))?
                        .ok_or(RenderError::NotFound("invoice"))?;
                rendered.attachments.push(crate::messaging::Attachment {
                    filename: crate::pdf::invoice_filename(&number),
                    content_type: "application/pdf".to_string(),
                    content,
                });
            }
            Ok(rendered)
        }
        StoredTemplate::Sms(t) => Ok(render_sms(t.body_for(lang), vars)?),
    }
}

/// The renderer the jobs loop uses: the company's stored template, with the
/// data (and payment link) as they are now.
pub fn render_stored<'a>(
    app: &'a App,
    row: &'a OutboxRow,
) -> BoxFuture<'a, Result<Rendered, String>> {
    Box::pin(async move {
        let channel = channel_of(row)?;
        let note = store::note(&app.db, &row.id)
            .await
            .map_err(|e| e.to_string())?;
        let message = Message {
            channel,
            template_id: &row.template_id,
            customer_id: &row.customer_id,
            invoice_id: row.invoice_id.as_ref(),
        };
        render_message(app, &row.company_id, &message, &row.cause, note.as_deref())
            .await
            .map_err(|e| e.to_string())
    })
}

fn channel_of(row: &OutboxRow) -> Result<Channel, String> {
    match row.channel.as_str() {
        "email" => Ok(Channel::Email),
        "sms" => Ok(Channel::Sms),
        other => Err(format!("unknown channel {other}")),
    }
}

enum Outcome {
    Sent {
        subject: String,
        body: String,
        provider_id: String,
        /// Whether it held the customer's payment link (the funnel counts it).
        carries_link: bool,
    },
    Temporary(String),
    Permanent(String),
}

/// Sends every message due at `now`, with the transports the settings name.
pub async fn deliver_due<R>(
    app: &App,
    now: OffsetDateTime,
    render: R,
) -> anyhow::Result<DeliveryReport>
where
    R: for<'a> Fn(&'a App, &'a OutboxRow) -> BoxFuture<'a, Result<Rendered, String>>,
{
    let transports =
        Transports::from_config(&app.config, &app.clock).map_err(|e| anyhow::anyhow!(e))?;
    deliver_due_with(app, &transports, now, render).await
}

/// `deliver_due` with given transports. Messages are claimed `BATCH` at a
/// time and sent concurrently (a round trip to the SMTP server or the SMS
/// API is the slow part); their outcomes are written in one transaction.
pub async fn deliver_due_with<R>(
    app: &App,
    transports: &Transports,
    now: OffsetDateTime,
    render: R,
) -> anyhow::Result<DeliveryReport>
where
    R: for<'a> Fn(&'a App, &'a OutboxRow) -> BoxFuture<'a, Result<Rendered, String>>,
{
    let mut report = DeliveryReport::default();
    let mut handled = 0;
    while handled < MAX_PER_RUN {
        let want = BATCH.min(MAX_PER_RUN - handled);
        // Claimed for `CLAIM` from now: a worker that dies mid-send leaves its
        // messages to another run (at least once). From the clock, not the
        // run's `now`, when that is later: a run that spent minutes on
        // autopay before delivery must not claim what is already expired.
        let until = now.max(app.clock.now()) + CLAIM;
        let claimed = {
            let mut tx = app.db.begin_write().await?;
            let rows = store::claim_batch(&mut tx, now, until, want).await?;
            hold_claims(app, &rows); // released at shutdown if unsent
            tx.commit().await?;
            rows
        };
        handled += claimed.len();
        let (ended, to_send): (Vec<_>, Vec<_>) =
            claimed.into_iter().partition(|r| r.status == "suppressed");
        report.withdrawn += ended.len();
        crate::metrics::withdrawn(ended.iter().map(|r| r.channel.as_str()));
        if to_send.is_empty() {
            if ended.is_empty() {
                break;
            }
            continue;
        }
        let outcomes = futures_util::future::join_all(
            to_send
                .iter()
                .map(|row| deliver_one(app, transports, row, &render)),
        )
        .await;
        let sent = outcomes.iter().map(|o| matches!(o, Outcome::Sent { .. }));
        crate::metrics::deliveries(&to_send, sent);
        let mut tx = app.db.begin_write().await?;
        for (row, outcome) in to_send.iter().zip(outcomes) {
            record(&mut tx, row, outcome, now, &mut report).await?;
        }
        tx.commit().await?;
    }
    Ok(report)
}

/// Writes what became of one claimed message.
async fn record(
    conn: &mut Conn,
    row: &OutboxRow,
    outcome: Outcome,
    now: OffsetDateTime,
    report: &mut DeliveryReport,
) -> StoreResult<()> {
    let attempts = row.attempts + 1;
    match outcome {
        Outcome::Sent {
            subject,
            body,
            provider_id,
            carries_link,
        } => {
            store::mark_sent(conn, row, &subject, &body, &provider_id, carries_link, now).await?;
            report.sent += 1;
        }
        Outcome::Temporary(e) => {
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            let next = retry_at(now, attempts, jitter);
            let e = if next.is_none() {
                format!("{e} (gave up after {attempts} attempts)")
            } else {
                e
            };
            store::mark_unsent(conn, row, true, next, "failed", &redact(&e)).await?;
            if next.is_some() {
                report.retried += 1;
            } else {
                report.failed += 1;
            }
        }
        Outcome::Permanent(e) => {
            store::mark_unsent(conn, row, true, None, "failed", &redact(&e)).await?;
            report.failed += 1;
        }
    }
    Ok(())
}

async fn deliver_one<R>(app: &App, transports: &Transports, row: &OutboxRow, render: &R) -> Outcome
where
    R: for<'a> Fn(&'a App, &'a OutboxRow) -> BoxFuture<'a, Result<Rendered, String>>,
{
    let channel = match channel_of(row) {
        Ok(c) => c,
        Err(e) => return Outcome::Permanent(e),
    };
    let rendered = match render(app, row).await {
        Ok(r) => r,
        Err(e) => return Outcome::Temporary(format!("cannot render the message: {e}")),
    };
    match channel {
        Channel::Email => {
            let from = match sender(app, &row.company_id).await {
                Ok(f) => f,
                Err(e) => return Outcome::Temporary(e),
            };
            let email = Email {
                from,
                to: row.recipient.clone(),
                subject: rendered.subject.clone(),
                text: rendered.text.clone(),
                attachments: rendered.attachments.clone(),
            };
            match transports
                .email
                .send_alternative(&email, rendered.html.as_deref())
                .await
            {
                Ok(id) => Outcome::Sent {
                    subject: redact(&rendered.subject),
                    body: redact(&rendered.text),
                    provider_id: id,
                    carries_link: carries_link(&rendered.text)
                        || rendered.html.as_deref().is_some_and(carries_link),
                },
                Err(EmailError::Temporary(e)) => Outcome::Temporary(e),
                Err(EmailError::Permanent(e)) => Outcome::Permanent(e),
            }
        }
        Channel::Sms => {
            let sms = Sms {
                to: row.recipient.clone(),
                body: rendered.text.clone(),
            };
            match transports.sms.send(&sms).await {
                Ok(id) => Outcome::Sent {
                    subject: String::new(),
                    body: redact(&rendered.text),
                    provider_id: id,
                    carries_link: carries_link(&rendered.text),
                },
                Err(SmsError::Temporary(e)) => Outcome::Temporary(e),
                Err(SmsError::Permanent(e)) => Outcome::Permanent(e),
            }
        }
    }
}

/// `Company <office@company>`, or `no-reply@` the company's host.
async fn sender(app: &App, company_id: &CompanyId) -> Result<String, String> {
    let company = crate::store::companies::get(&app.db, company_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the company is gone")?;
    let addr = if company.email.contains('@') {
        company.email.clone()
    } else {
        let base = app.base_url(company.base_url.as_deref());
        let host = base.split_once("://").map(|(_, r)| r).unwrap_or(base);
        let host = host.split([':', '/']).next().unwrap_or("localhost");
        format!("no-reply@{host}")
    };
    let name: String = company
        .name
        .chars()
        .filter(|c| !"<>\"\r\n".contains(*c))
        .collect();
    Ok(format!("{name} <{addr}>"))
}

/// Outbox claims this process holds: (database, message id, claimed until).
/// Filled as messages are claimed (`crate::app::messages::deliver_due_with`); a claim whose
/// message was since recorded is released as a no-op, so entries need no
/// removal, only pruning once expired.
static HELD: Mutex<Vec<(String, MessageId, OffsetDateTime)>> = Mutex::new(Vec::new());

/// Notes outbox messages this process just claimed for sending.
pub fn hold_claims(app: &App, rows: &[OutboxRow]) {
    let now = app.clock.now();
    let Ok(mut held) = HELD.lock() else { return };
    held.retain(|(_, _, until)| *until > now);
    for row in rows.iter().filter(|r| r.status == "sending") {
        if let Some(until) = row.claimed_until {
            held.push((app.config.database_url.clone(), row.id.clone(), until));
        }
    }
}

/// Puts the outbox messages this process claimed on `app`'s database but
/// did not send back in the queue; answers how many went back.
pub async fn release_claims(app: &App) -> crate::store::StoreResult<u64> {
    let mine: Vec<(MessageId, OffsetDateTime)> = {
        let Ok(mut held) = HELD.lock() else {
            return Ok(0);
        };
        let (mine, others): (Vec<_>, Vec<_>) = held
            .drain(..)
            .partition(|(db, _, _)| *db == app.config.database_url);
        *held = others;
        mine.into_iter().map(|(_, id, until)| (id, until)).collect()
    };
    if mine.is_empty() {
        return Ok(0);
    }
    let mut tx = app.db.begin_write().await?;
    let released = crate::store::health::release_outbox_claims(&mut tx, &mine).await?;
    tx.commit().await?;
    Ok(released)
}

/// One message as the office reads it: what the list shows, and the body
/// kept when it was sent (`None` until then: a message is written when it is
/// sent, with the data and link as they are at that moment).
#[derive(Debug, Clone)]
pub struct ReadMessage {
    pub view: crate::store::messages::MessageView,
    pub body: Option<String>,
    /// The office's own words added to it, if any.
    pub note: Option<String>,
}

/// Opens one of the company's messages; another company's is `NotFound`.
pub async fn read_message(
    app: &App,
    actor: &crate::app::Actor,
    id: &MessageId,
) -> Result<ReadMessage, crate::app::Refusal> {
    actor.must_be_company()?;
    let company_id = actor.company_id();
    let view = store::view(&app.db, company_id, id)
        .await?
        .ok_or(crate::app::Refusal::NotFound)?;
    let body = store::stored_copy(&app.db, company_id, id)
        .await?
        .and_then(|(_, _, body, _)| body);
    let note = store::note(&app.db, id).await?;
    Ok(ReadMessage { view, body, note })
}
