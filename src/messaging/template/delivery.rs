//! A stored template rendered for a customer and their invoice at delivery.

use std::fmt;

use super::*;
use crate::app::App;
use crate::domain::money::Money;
use crate::messaging::{Channel, Rendered};
use crate::store::{StoreError, companies, customers, invoices, templates};

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
    company_id: &str,
    customer_id: &str,
    invoice_id: Option<&str>,
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
    let link =
        crate::app::links::shown(db.reader(), &app.config.secret, company_id, customer_id).await?;
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
    Ok(MessageVars {
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
            .map(|i| crate::domain::dates::display(i.issue_date))
            .unwrap_or_default(),
        invoice_due_date: invoice
            .as_ref()
            .map(|i| crate::domain::dates::display(i.due_date))
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
        ..MessageVars::default()
    })
}

/// Renders a stored template for a customer (and invoice) with the data as
/// it is now.
pub async fn render_for(
    app: &App,
    company_id: &str,
    channel: Channel,
    template_id: &str,
    customer_id: &str,
    invoice_id: Option<&str>,
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
    company_id: &str,
    channel: Channel,
    template_id: &str,
    customer_id: &str,
    invoice_id: Option<&str>,
    cause: &str,
) -> Result<Rendered, RenderError> {
    let mut vars = vars_for(app, company_id, customer_id, invoice_id).await?;
    if let Some(payment_id) = cause.strip_prefix("receipt:") {
        let payment = crate::store::payments::list(
            &app.db,
            company_id,
            Some(customer_id),
            Some(payment_id),
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
    match channel {
        Channel::Email => {
            let t = templates::get_email(&app.db, company_id, template_id)
                .await?
                .ok_or(RenderError::NotFound("email template"))?;
            let mut rendered = render_email(&t.source(), &vars)?;
            if let (true, Some(invoice_id)) = (t.attach_invoice_pdf, invoice_id) {
                let (number, content) = crate::pdf::invoice_pdf_named(app, company_id, invoice_id)
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
        Channel::Sms => {
            let t = templates::get_sms(&app.db, company_id, template_id)
                .await?
                .ok_or(RenderError::NotFound("SMS template"))?;
            Ok(render_sms(&t.body, &vars)?)
        }
    }
}
