//! What the collections funnel reads: messages sent with a link, link opens,
//! and payments' shares of invoices. The attribution itself is
//! `domain::funnel`.

use time::OffsetDateTime;

use super::{Conn, Db, StoreResult};
use crate::crypto::new_id;
use crate::domain::funnel::{LinkOpen, PaidShare, SentMessage};
use crate::domain::ids::{CompanyId, CustomerId};

/// Notes that a customer opened their payment link (never the token).
pub async fn record_open(
    tx: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    at: OffsetDateTime,
) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO link_opens (id, company_id, customer_id, opened_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id("opn"))
    .bind(company_id)
    .bind(customer_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Messages with a payment link sent from `from` on.
pub async fn messages_since(
    db: &Db,
    company_id: &CompanyId,
    from: OffsetDateTime,
) -> StoreResult<Vec<SentMessage>> {
    let rows: Vec<(String, Option<String>, String, String, OffsetDateTime)> =
        crate::store::sql::query_as(
            "SELECT customer_id, invoice_id, channel, template_id, sent_at FROM outbox
             WHERE company_id = $1 AND carries_link = 1 AND status = 'sent' AND sent_at >= $2",
        )
        .bind(company_id)
        .bind(from)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(customer_id, invoice_id, channel, template_id, sent_at)| SentMessage {
                customer_id,
                invoice_id,
                channel,
                template_id,
                sent_at,
            },
        )
        .collect())
}

/// Link opens from `from` on.
pub async fn opens_since(
    db: &Db,
    company_id: &CompanyId,
    from: OffsetDateTime,
) -> StoreResult<Vec<LinkOpen>> {
    let rows: Vec<(String, OffsetDateTime)> = crate::store::sql::query_as(
        "SELECT customer_id, opened_at FROM link_opens WHERE company_id = $1 AND opened_at >= $2",
    )
    .bind(company_id)
    .bind(from)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(customer_id, opened_at)| LinkOpen {
            customer_id,
            opened_at,
        })
        .collect())
}

/// Each payment's share of each invoice, for payments made in `[from, until)`.
pub async fn paid_shares(
    db: &Db,
    company_id: &CompanyId,
    from: OffsetDateTime,
    until: OffsetDateTime,
) -> StoreResult<Vec<PaidShare>> {
    let rows: Vec<(String, String, String, OffsetDateTime, OffsetDateTime, i64)> =
        crate::store::sql::query_as(
            "SELECT a.invoice_id, i.bill_to_customer_id, p.customer_id, i.created_at,
                    p.created_at, a.amount
             FROM payments p
             JOIN payment_allocations a ON a.payment_id = p.id
             JOIN invoices i ON i.id = a.invoice_id
             WHERE p.company_id = $1 AND p.created_at >= $2 AND p.created_at < $3",
        )
        .bind(company_id)
        .bind(from)
        .bind(until)
        .fetch_all(db.reader())
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(invoice_id, billed_to, payer, invoice_created_at, paid_at, amount)| PaidShare {
                invoice_id,
                billed_to,
                payer,
                invoice_created_at,
                paid_at,
                amount,
            },
        )
        .collect())
}
