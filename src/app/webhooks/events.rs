//! The events the use cases emit, each with the object it reports as the
//! API shows it (CONTRACT.md "Outbound webhooks"). Every function here is
//! called inside the transaction of the change, on its connection, and
//! writes nothing when no endpoint of the company takes the event's type.

use serde_json::json;

use super::{Subscribers, emit, emit_to};
use crate::app::payments::view::payment_on;
use crate::domain::ids::{CompanyId, InvoiceId, PaymentId, RefundId};
use crate::domain::webhooks::EventType;
use crate::store::customers::Customer;
use crate::store::invoices::{self, Invoice};
use crate::store::payments::Attempt;
use crate::store::{Conn, StoreResult};

/// `customer.created`: the customer as `GET /api/v1/customers/{id}` shows it.
pub async fn customer_created(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer: &Customer,
) -> StoreResult<()> {
    emit(
        conn,
        company_id,
        EventType::CustomerCreated,
        json!(customer),
    )
    .await?;
    Ok(())
}

/// `invoice.created`: the invoice as `GET /api/v1/invoices/{id}` shows it.
pub async fn invoice_created(
    conn: &mut Conn,
    company_id: &CompanyId,
    invoice: &Invoice,
) -> StoreResult<()> {
    emit(conn, company_id, EventType::InvoiceCreated, json!(invoice)).await?;
    Ok(())
}

/// `invoice.voided`: the invoice, now void.
pub async fn invoice_voided(
    conn: &mut Conn,
    company_id: &CompanyId,
    invoice: &Invoice,
) -> StoreResult<()> {
    emit(conn, company_id, EventType::InvoiceVoided, json!(invoice)).await?;
    Ok(())
}

/// A payment was recorded (any channel: the pay page, the portal, autopay,
/// the office, the API; a card charge found later by reconciliation or a
/// processor's webhook): `payment.succeeded` with the payment as
/// `GET /api/v1/payments/{id}` shows it, then `invoice.paid` for each
/// invoice it brought to a zero balance.
pub async fn payment_recorded(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<()> {
    // One read when no endpoint listens (the usual case on the payment
    // path): the payment and its invoices are read only for a subscriber.
    let subscribers = Subscribers::of(conn, company_id).await?;
    if !subscribers.take(EventType::PaymentSucceeded) && !subscribers.take(EventType::InvoicePaid) {
        return Ok(());
    }
    let Some(payment) = payment_on(conn, company_id, payment_id).await? else {
        return Ok(());
    };
    emit_to(
        conn,
        company_id,
        &subscribers,
        EventType::PaymentSucceeded,
        json!(payment),
    )
    .await?;
    if !subscribers.take(EventType::InvoicePaid) {
        return Ok(());
    }
    for a in &payment.allocations {
        if let Some(invoice) =
            invoices::get_on(conn, company_id, &InvoiceId::from(a.invoice_id.as_str())).await?
            && invoice.status == "paid"
        {
            emit_to(
                conn,
                company_id,
                &subscribers,
                EventType::InvoicePaid,
                json!(invoice),
            )
            .await?;
        }
    }
    Ok(())
}

/// A refund of a payment went through (at once for cash and check, when the
/// processor confirms it for a card, or made in the processor's dashboard):
/// `payment.refunded` with the payment, its `refunded` total and its
/// `refunds`; `refund_id` names the one that went through.
pub async fn payment_refunded(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
    refund_id: &RefundId,
) -> StoreResult<()> {
    let Some(payment) = payment_on(conn, company_id, payment_id).await? else {
        return Ok(());
    };
    let mut data = json!(payment);
    data["refund_id"] = json!(refund_id);
    emit(conn, company_id, EventType::PaymentRefunded, data).await?;
    Ok(())
}

/// What a failed autopay charge tried to pay and what happens next.
pub struct AutopayFailure<'a> {
    pub attempt: &'a Attempt,
    pub decline_code: &'a str,
    /// `retry` (another try on `next_try_on`), `dropped` (no more tries:
    /// the customer pays these invoices themselves) or `not_charged`.
    pub outcome: &'a str,
    pub next_try_on: Option<time::Date>,
    /// The invoices it was for: id and number.
    pub invoices: Vec<(String, String)>,
}

/// `autopay.payment_failed`: the customer, the amount, the decline code, the
/// invoices, and whether autopay tries again (`next_try_on`).
pub async fn autopay_payment_failed(conn: &mut Conn, f: &AutopayFailure<'_>) -> StoreResult<()> {
    let a = f.attempt;
    let data = json!({
        "attempt_id": a.id,
        "customer_id": a.customer_id,
        "amount": a.amount,
        "currency": a.currency,
        "decline_code": f.decline_code,
        "outcome": f.outcome,
        "next_try_on": f.next_try_on.map(crate::domain::dates::iso),
        "invoices": f.invoices.iter().map(|(id, number)| json!({"id": id, "number": number})).collect::<Vec<_>>(),
    });
    emit(conn, &a.company_id, EventType::AutopayPaymentFailed, data).await?;
    Ok(())
}
