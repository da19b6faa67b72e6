//! Invoice and statement PDFs for the office, the API, the pay page and
//! email attachments: what each document holds, read from the store (every
//! query scoped by company), then drawn by `crate::pdf`.

use std::sync::{Arc, LazyLock};

use tokio::sync::Semaphore;

use crate::app::App;
use crate::domain::ids::{CompanyId, CustomerId, InvoiceId};
use crate::domain::money::Currency;
use crate::pdf::{
    CompanyBlock, DocLine, InvoiceDoc, Logo, PdfError, StatementDoc, StatementInvoice,
    StatementProperty, paper_size, render_blocking, render_invoice, render_statement,
};
use crate::store::companies::{self, Company};
use crate::store::{StoreError, customers, invoices};

/// One PDF render per core at a time. A render is pure CPU work with a
/// few MB of buffers; more at once than there are cores only adds those
/// buffers to the peak memory (and threads to the blocking pool) without
/// finishing any sooner. Requests beyond it wait their turn.
static RENDERS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Arc::new(Semaphore::new(cores))
});

/// Draws a document off the async threads once a render slot is free. The
/// slot is held by the render itself, so a request that goes away while
/// its PDF is being drawn does not let another render start beside it.
async fn render(
    work: impl FnOnce() -> Result<Vec<u8>, PdfError> + Send + 'static,
) -> Result<Vec<u8>, PdfError> {
    let slot = RENDERS
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| PdfError::Render(e.to_string()))?;
    render_blocking(move || {
        let pdf = work();
        drop(slot);
        pdf
    })
    .await
}

/// The payment link a PDF prints for a customer, per Invoice Settings:
/// `None` when payment links are off or the customer's link is revoked (or
/// was never issued); the portal URL when the link goes to the portal; else
/// the customer's current quick payment URL. Built from the configured base
/// URL, never from a request.
pub async fn pay_url(
    app: &App,
    company: &Company,
    customer_id: &CustomerId,
) -> Result<Option<String>, StoreError> {
    let Some(settings) = companies::invoice_settings(&app.db, &company.id).await? else {
        return Ok(None);
    };
    if !settings.payment_link_enabled {
        return Ok(None);
    }
    let link = crate::app::links::shown(
        app.db.reader(),
        &app.config.secret,
        &company.id,
        customer_id,
    )
    .await?;
    let Some(link) = link.filter(|l| !l.revoked) else {
        return Ok(None);
    };
    let base = app.base_url(company.base_url.as_deref());
    Ok(Some(if settings.payment_link_target == "portal" {
        format!("{base}/portal")
    } else {
        crate::domain::paylink::url(base, &link.token)
    }))
}

async fn company_block(app: &App, company: &Company) -> Result<CompanyBlock, StoreError> {
    let logo = companies::logo(&app.db, &company.id)
        .await?
        .map(|(media_type, bytes)| Logo { media_type, bytes });
    Ok(CompanyBlock {
        name: company.name.clone(),
        address: company.address.clone(),
        phone: company.phone.clone(),
        email: company.email.clone(),
        logo,
    })
}

pub(super) struct LoadedInvoice {
    pub doc: InvoiceDoc,
    pub bill_to_customer_id: String,
}

/// An invoice of the company with everything its PDF prints.
pub(super) async fn invoice_doc(
    app: &App,
    company_id: &CompanyId,
    invoice_id: &InvoiceId,
) -> Result<Option<LoadedInvoice>, PdfError> {
    let Some(d) = invoices::detail(&app.db, company_id, invoice_id).await? else {
        return Ok(None);
    };
    let Some(company) = companies::get(&app.db, company_id).await? else {
        return Ok(None);
    };
    let bill_to = customers::get(&app.db, company_id, &d.invoice.bill_to_customer_id).await?;
    let bill_to_lang = bill_to.as_ref().and_then(|c| c.language);
    let inv = d.invoice;
    let pay_url = if inv.status == "open" && inv.balance > 0 {
        pay_url(app, &company, &inv.bill_to_customer_id).await?
    } else {
        None
    };
    let doc = InvoiceDoc {
        paper: paper_size(&app.db, company_id).await?,
        company: company_block(app, &company).await?,
        number: inv.number,
        issue_date: inv.issue_date,
        due_date: inv.due_date,
        status: inv.status,
        bill_to_name: d.bill_to_name,
        bill_to_address: bill_to.and_then(|c| c.billing_address),
        property_address: d.property_address,
        on_behalf_of: (d.resident_customer_id != inv.bill_to_customer_id)
            .then_some(d.resident_name),
        currency: inv.currency,
        lines: inv
            .lines
            .into_iter()
            .map(|l| DocLine {
                description: l.description,
                quantity: l.quantity,
                unit_price: l.unit_price,
                amount: l.amount,
            })
            .collect(),
        tax: 0,
        total: inv.total,
        paid: d.applied - d.refunded,
        balance: inv.balance,
        pay_url,
        lang: bill_to_lang.unwrap_or(company.language),
    };
    Ok(Some(LoadedInvoice {
        doc,
        bill_to_customer_id: inv.bill_to_customer_id.into(),
    }))
}

/// The PDF of an invoice as its customer may see it: only an invoice billed
/// to that customer, and not a void one; `None` otherwise.
pub async fn invoice_pdf_for_customer(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    invoice_id: &InvoiceId,
) -> Result<Option<(String, Vec<u8>)>, PdfError> {
    let Some(loaded) = invoice_doc(app, company_id, invoice_id).await? else {
        return Ok(None);
    };
    if *customer_id != loaded.bill_to_customer_id || loaded.doc.status == "void" {
        return Ok(None);
    }
    let number = loaded.doc.number.clone();
    let bytes = render(move || render_invoice(&loaded.doc)).await?;
    Ok(Some((number, bytes)))
}

/// The invoice's number and PDF for the office and the API; `None` when
/// the company has no such invoice.
pub async fn invoice_pdf_named(
    app: &App,
    company_id: &CompanyId,
    invoice_id: &InvoiceId,
) -> Result<Option<(String, Vec<u8>)>, PdfError> {
    let Some(loaded) = invoice_doc(app, company_id, invoice_id).await? else {
        return Ok(None);
    };
    let number = loaded.doc.number.clone();
    let bytes = render(move || render_invoice(&loaded.doc)).await?;
    Ok(Some((number, bytes)))
}

/// A statement of the customer's open invoices, grouped by property, with
/// the total due and the payment link; `None` when the company has no such
/// customer.
pub async fn statement_pdf(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> Result<Option<Vec<u8>>, PdfError> {
    let Some(company) = companies::get(&app.db, company_id).await? else {
        return Ok(None);
    };
    let Some(customer) = customers::get(&app.db, company_id, customer_id).await? else {
        return Ok(None);
    };
    let rows = invoices::open_for_statement(&app.db, company_id, customer_id).await?;
    let mut properties: Vec<(String, StatementProperty)> = Vec::new();
    let mut currency = company.currency;
    for r in rows {
        currency = Currency::parse(&r.currency).unwrap_or(currency);
        if properties
            .last()
            .map(|(id, _)| *id != r.property_id)
            .unwrap_or(true)
        {
            properties.push((
                r.property_id.to_string(),
                StatementProperty {
                    address: r.address.clone(),
                    on_behalf_of: (r.resident_customer_id != *customer_id)
                        .then(|| r.resident_name.clone()),
                    invoices: Vec::new(),
                },
            ));
        }
        if let Some((_, p)) = properties.last_mut() {
            p.invoices.push(StatementInvoice {
                number: r.number,
                issue_date: r.issue_date,
                due_date: r.due_date,
                total: r.total,
                balance: r.balance,
            });
        }
    }
    let doc = StatementDoc {
        paper: paper_size(&app.db, company_id).await?,
        pay_url: pay_url(app, &company, customer_id).await?,
        company: company_block(app, &company).await?,
        date: app.clock.today_in(&company.time_zone),
        lang: customer.language.unwrap_or(company.language),
        customer_name: customer.name,
        customer_address: customer.billing_address,
        currency,
        properties: properties.into_iter().map(|(_, p)| p).collect(),
    };
    render(move || render_statement(&doc)).await.map(Some)
}

/// The PDF of one invoice of a company, as the office prints it: `None`
/// when the company has no such invoice (another company's id included).
///
/// The payment link follows Invoice Settings for the invoice's bill-to
/// customer (public quick-pay URL or the portal; none when links are off,
/// the customer's link is revoked, or nothing is owed). Rendering runs on a
/// blocking thread. Use it for email attachments too.
pub async fn invoice_pdf(
    app: &App,
    company_id: &CompanyId,
    invoice_id: &InvoiceId,
) -> Result<Option<Vec<u8>>, PdfError> {
    Ok(invoice_pdf_named(app, company_id, invoice_id)
        .await?
        .map(|(_, bytes)| bytes))
}
