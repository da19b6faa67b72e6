//! A payment as the API shows it (`GET /api/v1/payments/{id}`) and as the
//! webhook events about it carry it: its allocations and its refunds.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::domain::ids::{CompanyId, PaymentId};
use crate::domain::money::Currency;
use crate::store::payments::{self as store, PaymentRecord};
use crate::store::refunds::{self as refund_store, RefundRecord};
use crate::store::{Conn, StoreResult};

/// What a payment paid on one invoice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct AllocationView {
    pub invoice_id: String,
    pub invoice_number: String,
    pub amount: i64,
}

/// A refund of a payment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct RefundView {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    /// `pending` (at the processor), `succeeded` or `failed`.
    pub status: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A payment with its allocations and refunds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct PaymentView {
    pub id: String,
    pub customer_id: String,
    /// Where it was taken: `office`, `api`, `quick_pay`, `portal`, `autopay`.
    pub channel: String,
    /// `card`, `cash` or `check`.
    pub method: String,
    pub amount: i64,
    pub currency: Currency,
    /// `succeeded`, `partially_refunded` or `refunded`.
    pub status: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub check_number: Option<String>,
    pub refunded: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub allocations: Vec<AllocationView>,
    pub refunds: Vec<RefundView>,
}

impl PaymentView {
    pub fn of(p: PaymentRecord, refunds: &[RefundRecord]) -> PaymentView {
        PaymentView {
            allocations: p
                .allocations
                .iter()
                .map(|a| AllocationView {
                    invoice_id: a.invoice_id.to_string(),
                    invoice_number: a.invoice_number.clone(),
                    amount: a.amount,
                })
                .collect(),
            refunds: refunds
                .iter()
                .map(|r| RefundView {
                    id: r.id.to_string(),
                    payment_id: p.id.to_string(),
                    amount: r.amount,
                    status: r.status.clone(),
                    reason: r.reason.clone(),
                    created_at: r.created_at,
                })
                .collect(),
            id: p.id.into(),
            customer_id: p.customer_id.into(),
            channel: p.channel,
            method: p.method,
            amount: p.amount,
            currency: p.currency,
            status: p.status.to_string(),
            card_brand: p.card_brand,
            card_last4: p.card_last4,
            check_number: p.check_number,
            refunded: p.refunded,
            created_at: p.created_at,
        }
    }

    /// The payment as it was recorded, before any refund: what creating it
    /// answered, so a repeat of the request answers the same.
    pub fn as_recorded(p: PaymentRecord) -> PaymentView {
        PaymentView {
            status: "succeeded".into(),
            refunded: 0,
            ..PaymentView::of(p, &[])
        }
    }
}

/// One payment of the company as the API shows it, read on the caller's
/// connection (inside the transaction that changed it).
pub async fn payment_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<Option<PaymentView>> {
    let Some(p) = store::get_on(conn, company_id, payment_id).await? else {
        return Ok(None);
    };
    let refunds = refund_store::for_payment_on(conn, company_id, payment_id).await?;
    Ok(Some(PaymentView::of(p, &refunds)))
}
