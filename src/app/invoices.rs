//! Invoices: issuing one, editing it while nothing has been applied to it,
//! voiding it. The office forms, the JSON API, CSV import and `demo` call
//! these; each writes its audit entry in the same transaction.

use time::Date;

use crate::app::{Actor, App, Refusal};
use crate::domain::ids::{InvoiceId, PropertyId};
use crate::domain::invoice::check_number;
use crate::domain::{LineInput, price_lines};
use crate::store::companies::{self, Company};
use crate::store::invoices::{self, Invoice, NewInvoice, Replacement};
use crate::store::{Conn, StoreError, audit, customers};

/// A new invoice as asked for.
#[derive(Debug, Clone)]
pub struct IssueInvoice {
    pub property_id: PropertyId,
    /// Empty or `None`: the company's next number.
    pub number: Option<String>,
    /// `None`: today, where the company is.
    pub issue_date: Option<Date>,
    pub due_date: Date,
    pub lines: Vec<LineInput>,
}

/// What an edit changes; `None` keeps what the invoice has.
#[derive(Debug, Clone, Default)]
pub struct EditInvoice {
    pub issue_date: Option<Date>,
    pub due_date: Option<Date>,
    pub lines: Option<Vec<LineInput>>,
}

/// Prices lines, refusing them with the line and field named in the words.
fn priced(lines: &[LineInput]) -> Result<(Vec<i64>, i64), Refusal> {
    price_lines(lines).map_err(|e| {
        let (field, message) = e.describe();
        Refusal::invalid("lines", format!("{field}: {message}"))
    })
}

fn check_dates(issue_date: Date, due_date: Date) -> Result<(), Refusal> {
    if due_date < issue_date {
        return Err(Refusal::invalid(
            "due_date",
            "The due date cannot be before the issue date.",
        ));
    }
    Ok(())
}

/// Issues an invoice for a property, billed to its bill-to customer.
pub async fn issue(app: &App, actor: &Actor, req: &IssueInvoice) -> Result<Invoice, Refusal> {
    actor.must_be_company()?;
    let company = companies::get(&app.db, actor.company_id())
        .await?
        .ok_or(Refusal::NotFound)?;
    let today = app.clock.today_in(&company.time_zone);
    let mut tx = app.db.begin_write_for(actor.company_id()).await?;
    let invoice = issue_on(&mut tx, actor, &company, today, req).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(invoice)
}

/// `issue` inside the caller's transaction: CSV import (a savepoint per
/// row) and `demo` (the whole company at once). `today` is the company's.
pub async fn issue_on(
    conn: &mut Conn,
    actor: &Actor,
    company: &Company,
    today: Date,
    req: &IssueInvoice,
) -> Result<Invoice, Refusal> {
    actor.must_be_company()?;
    if company.id != actor.company_id() {
        return Err(Refusal::NotFound);
    }
    let issue_date = req.issue_date.unwrap_or(today);
    check_dates(issue_date, req.due_date)?;
    let number = match &req.number {
        Some(n) => check_number("number", n)?,
        None => None,
    };
    let (amounts, total) = priced(&req.lines)?;
    let property = customers::get_property(conn, &company.id, &req.property_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    let new = NewInvoice {
        company_id: &company.id,
        number: number.as_deref(),
        property_id: &property.id,
        bill_to_customer_id: &property.bill_to_customer_id,
        issue_date,
        due_date: req.due_date,
        currency: company.currency,
        lines: &req.lines,
        amounts: &amounts,
        total,
    };
    let invoice = match invoices::create(conn, &new).await {
        Err(StoreError::Conflict) => {
            return Err(Refusal::conflict(
                "invoice_number_taken",
                format!(
                    "Invoice number {} is already used. Leave it empty to take the next number.",
                    number.as_deref().unwrap_or("")
                ),
            ));
        }
        other => other?,
    };
    audit::record(
        conn,
        &company.id,
        &actor.audit_name(),
        "invoice.created",
        &invoice.id,
        serde_json::json!({"number": invoice.number, "total": invoice.total, "lines": req.lines.len()}),
    )
    .await?;
    crate::app::webhooks::events::invoice_created(conn, &company.id, &invoice).await?;
    Ok(invoice)
}

/// Changes an invoice's dates or lines, only while it is open, nothing has
/// been applied to it and no payment is charging it.
pub async fn edit(
    app: &App,
    actor: &Actor,
    invoice_id: &InvoiceId,
    req: &EditInvoice,
) -> Result<Invoice, Refusal> {
    actor.must_be_company()?;
    let c = actor.company_id();
    let mut tx = app.db.begin_write_for(c).await?;
    let current = invoices::get_on(&mut tx, c, invoice_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    let issue_date = req.issue_date.unwrap_or(current.issue_date);
    let due_date = req.due_date.unwrap_or(current.due_date);
    let lines: Vec<LineInput> = match &req.lines {
        Some(lines) => lines.clone(),
        None => current
            .lines
            .iter()
            .map(|l| LineInput {
                description: l.description.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
            })
            .collect(),
    };
    // An invoice that cannot change says so before its new values are judged.
    if let Some((state, _)) = invoices::change_state(&mut tx, c, invoice_id).await?
        && let Some(why) = invoices::edit_refusal(&state)
    {
        return Err(refusal(why, &current.number, "edited"));
    }
    check_dates(issue_date, due_date)?;
    let (amounts, total) = priced(&lines)?;
    let replacement = Replacement {
        issue_date,
        due_date,
        lines: &lines,
        amounts: &amounts,
        total,
    };
    let old_total = invoices::replace(&mut tx, c, invoice_id, &replacement)
        .await?
        .map_err(|why| refusal(why, &current.number, "edited"))?;
    audit::record(
        &mut tx,
        c,
        &actor.audit_name(),
        "invoice.edited",
        invoice_id,
        serde_json::json!({
            "number": current.number,
            "old_total": old_total,
            "new_total": total,
            "lines": lines.len(),
        }),
    )
    .await?;
    let edited = invoices::get_on(&mut tx, c, invoice_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(edited)
}

/// Voids an invoice nothing has been applied to: it is no longer payable
/// nor owed, and stays on record.
pub async fn void(app: &App, actor: &Actor, invoice_id: &InvoiceId) -> Result<Invoice, Refusal> {
    actor.must_be_company()?;
    let c = actor.company_id();
    let mut tx = app.db.begin_write_for(c).await?;
    let current = invoices::get_on(&mut tx, c, invoice_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    invoices::void(&mut tx, c, invoice_id)
        .await?
        .map_err(|why| refusal(why, &current.number, "voided"))?;
    audit::record(
        &mut tx,
        c,
        &actor.audit_name(),
        "invoice.voided",
        invoice_id,
        serde_json::json!({
            "number": current.number,
            "total": current.total,
            "balance": current.balance,
        }),
    )
    .await?;
    let voided = invoices::get_on(&mut tx, c, invoice_id)
        .await?
        .ok_or(Refusal::NotFound)?;
    crate::app::webhooks::events::invoice_voided(&mut tx, c, &voided).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(voided)
}

/// Why an invoice cannot be `action` ("edited", "voided"), as a refusal
/// with a stable code and words for the office.
pub fn refusal(why: invoices::Refusal, number: &str, action: &str) -> Refusal {
    let code = match why {
        invoices::Refusal::NotFound => return Refusal::NotFound,
        invoices::Refusal::Locked => "invoice_being_paid",
        invoices::Refusal::PaymentApplied => "invoice_has_payments",
        invoices::Refusal::Void => "invoice_void",
        invoices::Refusal::Paid => "invoice_paid",
    };
    Refusal::conflict(code, refusal_message(why, number, action))
}

/// What the office sees when an edit or void is refused.
pub fn refusal_message(why: invoices::Refusal, number: &str, action: &str) -> String {
    use invoices::Refusal as Why;
    match why {
        Why::NotFound => "No such invoice.".into(),
        Why::Locked => format!(
            "A payment for invoice {number} is being processed right now, so it cannot be {action} at the moment. Try again in a minute."
        ),
        Why::PaymentApplied => {
            let next = if action == "voided" {
                "Refund the payment first if it was taken in error; the invoice then stays on record."
            } else {
                "To bill more, issue a new invoice for the difference."
            };
            format!(
                "A payment has been applied to invoice {number}, so it can no longer be {action}. {next}"
            )
        }
        Why::Void if action == "voided" => format!("Invoice {number} is already void."),
        Why::Void => format!("Invoice {number} is void, so it cannot be {action}."),
        Why::Paid => format!("Invoice {number} is paid, so it cannot be {action}."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::invoices::Refusal as Why;

    #[test]
    fn refusals_say_why() {
        assert!(refusal_message(Why::Locked, "1001", "voided").contains("being processed"));
        assert!(
            refusal_message(Why::PaymentApplied, "1001", "edited")
                .contains("can no longer be edited")
        );
        assert_eq!(
            refusal_message(Why::Void, "1001", "voided"),
            "Invoice 1001 is already void."
        );
        assert!(matches!(
            refusal(Why::PaymentApplied, "1001", "voided"),
            Refusal::Conflict {
                code: "invoice_has_payments",
                ..
            }
        ));
        assert!(matches!(
            refusal(Why::NotFound, "1001", "voided"),
            Refusal::NotFound
        ));
    }

    #[test]
    fn due_dates_not_before_issue_dates() {
        let d = |day| Date::from_calendar_date(2026, time::Month::December, day).unwrap();
        assert!(check_dates(d(1), d(1)).is_ok());
        assert!(matches!(
            check_dates(d(2), d(1)),
            Err(Refusal::Invalid {
                field: "due_date",
                ..
            })
        ));
    }
}
