//! "Remind all overdue": one reminder per overdue invoice, to the customer
//! it is billed to, with the company's default template for the channel (or
//! the one chosen). The office sees how many and a preview of the first
//! before anything is sent; each reminder is a one-message send, keyed by
//! the form and the invoice, so a repeated press sends nothing twice.

use super::DraftPreview;
use super::send::{SendRequest, preview_send, send};
use crate::app::{Actor, App, Rejected};
use crate::messaging::Channel;
use crate::messaging::outbox::Enqueued;
use crate::store::invoices::{self, ListFilter, StatusFilter};

/// Overdue invoices reminded at most in one press.
pub const MAX_REMINDERS: i64 = 1000;

/// What a press would do: the overdue invoices, and the first one's message.
#[derive(Debug, Clone)]
pub struct OverduePlan {
    /// `(invoice id, customer id)`, oldest due first.
    pub invoices: Vec<(String, String)>,
    pub customers: usize,
    /// The first invoice's reminder as it would be sent (`None`: nothing
    /// overdue, or it cannot be made, see `problem`).
    pub preview: Option<DraftPreview>,
    pub problem: Option<String>,
}

/// What a press did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminded {
    pub queued: usize,
    /// Already sent by this press before (the same form sent twice).
    pub duplicates: usize,
    /// Not sent: no address on file, opted out, or not an address.
    pub skipped: usize,
}

async fn overdue(app: &App, actor: &Actor) -> Result<Vec<(String, String)>, Rejected> {
    let company_id = actor.company_id();
    let company = crate::store::companies::get(&app.db, company_id)
        .await?
        .ok_or(crate::app::Refusal::NotFound)?;
    let filter = ListFilter {
        status: StatusFilter::Overdue,
        today: app.clock.today_in(&company.time_zone),
        from: None,
        to: None,
        customer_id: None,
    };
    let (mut rows, _) = invoices::office_list(&app.db, company_id, &filter, MAX_REMINDERS).await?;
    rows.sort_by(|a, b| (a.due_date, &a.number).cmp(&(b.due_date, &b.number)));
    Ok(rows
        .into_iter()
        .map(|r| (r.id.into(), r.customer_id.into()))
        .collect())
}

/// How many reminders a press would send, and the first one's message.
pub async fn plan_overdue_reminders(
    app: &App,
    actor: &Actor,
    channel: Channel,
    template_id: Option<&str>,
) -> Result<OverduePlan, Rejected> {
    actor.must_be_company()?;
    let invoices = overdue(app, actor).await?;
    let mut customers: Vec<&str> = invoices.iter().map(|(_, c)| c.as_str()).collect();
    customers.sort_unstable();
    customers.dedup();
    let customers = customers.len();
    let (preview, problem) = match invoices.first() {
        None => (None, None),
        Some((invoice, customer)) => {
            let req = SendRequest {
                customer_id: Some(customer),
                invoice_id: Some(invoice),
                channel,
                template_id,
                key: "preview-only",
                must_carry_link: false,
                note: None,
            };
            match preview_send(app, actor, &req).await {
                Ok(p) => (Some(p), None),
                Err(Rejected::Fields(problems)) => (
                    None,
                    Some(
                        problems
                            .into_iter()
                            .map(|p| p.message)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                ),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(OverduePlan {
        invoices,
        customers,
        preview,
        problem,
    })
}

/// Sends one reminder per overdue invoice (`key`: the form's nonce).
pub async fn remind_overdue(
    app: &App,
    actor: &Actor,
    channel: Channel,
    template_id: Option<&str>,
    key: &str,
) -> Result<Reminded, Rejected> {
    actor.must_be_company()?;
    let mut done = Reminded::default();
    for (invoice, customer) in overdue(app, actor).await? {
        let key = format!("{key}:{invoice}");
        let req = SendRequest {
            customer_id: Some(&customer),
            invoice_id: Some(&invoice),
            channel,
            template_id,
            key: &key,
            must_carry_link: false,
            note: None,
        };
        match send(app, actor, &req).await {
            Ok(sent) => match sent.outcome {
                Enqueued::Queued { .. } => done.queued += 1,
                Enqueued::Duplicate { .. } => done.duplicates += 1,
                Enqueued::Suppressed { .. } | Enqueued::Rejected { .. } => done.skipped += 1,
            },
            // No address on file for this customer: the others still go.
            Err(Rejected::Fields(p)) if p.iter().any(|p| p.code == "no_contact") => {
                done.skipped += 1
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}
