//! Refunds and what they gave back to invoices.
//!
//! A card refund is written (and its invoices reopened and held) before the
//! processor is called; `processor_refund_id` stays NULL until the processor
//! confirms it. Cash and check refunds never reach a processor.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Conn, Db, StoreResult};
use crate::domain::Allocation;

/// What one invoice received from a payment and what refunds of that
/// payment have given back to it so far, in allocation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    pub invoice_id: String,
    pub invoice_number: String,
    pub invoice_status: String,
    pub invoice_balance: i64,
    pub received: i64,
    pub given_back: i64,
}

/// The allocations of a payment (in the order they were written) with the
/// refunds already given back to each invoice.
pub async fn received_by_invoice(
    conn: &mut Conn,
    company_id: &str,
    payment_id: &str,
) -> StoreResult<Vec<Received>> {
    let rows = crate::store::sql::query(
        "SELECT a.invoice_id, i.number, i.status, i.balance, a.amount,
                coalesce((SELECT CAST(sum(ra.amount) AS BIGINT) FROM refund_allocations ra
                          JOIN refunds r ON r.id = ra.refund_id
                          WHERE r.payment_id = a.payment_id AND ra.invoice_id = a.invoice_id), 0) AS given_back
         FROM payment_allocations a
         JOIN payments p ON p.id = a.payment_id
         JOIN invoices i ON i.id = a.invoice_id
         WHERE p.company_id = $1 AND a.payment_id = $2
         ORDER BY a.position",
    )
    .bind(company_id)
    .bind(payment_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Received {
                invoice_id: r.try_get("invoice_id")?,
                invoice_number: r.try_get("number")?,
                invoice_status: r.try_get("status")?,
                invoice_balance: r.try_get("balance")?,
                received: r.try_get("amount")?,
                given_back: r.try_get("given_back")?,
            })
        })
        .collect()
}

/// A refund already written under this idempotency key: `(id, payment_id)`.
pub async fn find_by_key(
    conn: &mut Conn,
    company_id: &str,
    key: &str,
) -> StoreResult<Option<(String, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT id, payment_id FROM refunds WHERE company_id = $1 AND idempotency_key = $2",
    )
    .bind(company_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?)
}

pub struct NewRefund<'a> {
    pub id: &'a str,
    pub company_id: &'a str,
    pub payment_id: &'a str,
    pub amount: i64,
    pub idempotency_key: &'a str,
    pub reason: &'a str,
    pub created_by: &'a str,
}

/// Counts the refund against its payment: `false` (nothing changed) when it
/// would exceed what is left of the payment.
pub async fn add_to_payment(
    conn: &mut Conn,
    company_id: &str,
    payment_id: &str,
    amount: i64,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE payments SET refunded = refunded + $1
         WHERE id = $2 AND company_id = $3 AND $1 > 0 AND refunded + $1 <= amount",
    )
    .bind(amount)
    .bind(payment_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn insert(conn: &mut Conn, r: &NewRefund<'_>) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO refunds (id, company_id, payment_id, amount, processor_refund_id, idempotency_key,
            reason, created_by, created_at)
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8)",
    )
    .bind(r.id)
    .bind(r.company_id)
    .bind(r.payment_id)
    .bind(r.amount)
    .bind(r.idempotency_key)
    .bind(r.reason)
    .bind(r.created_by)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives `amount` back to an invoice: its balance grows and it is open again
/// (a void invoice stays void). With `hold`, the invoice is held for the
/// refund (no payer can lock it) until the processor answers. `false` when
/// the invoice is held by a payment in progress.
pub async fn reopen_invoice(
    conn: &mut Conn,
    company_id: &str,
    refund_id: &str,
    a: &Allocation,
    hold: bool,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE invoices SET refunded = refunded + $1, balance = balance + $1,
            status = CASE WHEN status = 'void' THEN 'void' ELSE 'open' END,
            locked_by_attempt = CASE WHEN $4 THEN $5 ELSE NULL END
         WHERE id = $2 AND company_id = $3 AND locked_by_attempt IS NULL",
    )
    .bind(a.amount)
    .bind(&a.invoice_id)
    .bind(company_id)
    .bind(hold)
    .bind(refund_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    crate::store::sql::query(
        "INSERT INTO refund_allocations (refund_id, invoice_id, amount) VALUES ($1, $2, $3)",
    )
    .bind(refund_id)
    .bind(&a.invoice_id)
    .bind(a.amount)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// The processor confirmed the refund: store its id and free the invoices.
pub async fn mark_sent(
    conn: &mut Conn,
    company_id: &str,
    refund_id: &str,
    processor_refund_id: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE refunds SET processor_refund_id = $1 WHERE id = $2 AND company_id = $3",
    )
    .bind(processor_refund_id)
    .bind(refund_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    release(conn, refund_id).await
}

/// Frees the invoices a refund held.
pub async fn release(conn: &mut Conn, refund_id: &str) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE invoices SET locked_by_attempt = NULL WHERE locked_by_attempt = $1",
    )
    .bind(refund_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Undoes a refund the processor refused: balances, the payment's refunded
/// total and the rows go back to what they were. The invoices were held by
/// the refund, so nothing else changed them. `false` when there was nothing
/// to undo (already confirmed or undone).
pub async fn undo(conn: &mut Conn, company_id: &str, refund_id: &str) -> StoreResult<bool> {
    let refund: Option<(String, i64)> = crate::store::sql::query_as(
        "SELECT payment_id, amount FROM refunds
         WHERE id = $1 AND company_id = $2 AND processor_refund_id IS NULL",
    )
    .bind(refund_id)
    .bind(company_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((payment_id, amount)) = refund else {
        return Ok(false);
    };
    let shares: Vec<(String, i64)> = crate::store::sql::query_as(
        "SELECT invoice_id, amount FROM refund_allocations WHERE refund_id = $1",
    )
    .bind(refund_id)
    .fetch_all(&mut *conn)
    .await?;
    for (invoice_id, x) in &shares {
        crate::store::sql::query(
            "UPDATE invoices SET refunded = refunded - $1, balance = balance - $1,
                status = CASE WHEN status = 'open' AND balance - $1 = 0 THEN 'paid' ELSE status END,
                locked_by_attempt = NULL
             WHERE id = $2 AND company_id = $3 AND locked_by_attempt = $4",
        )
        .bind(x)
        .bind(invoice_id)
        .bind(company_id)
        .bind(refund_id)
        .execute(&mut *conn)
        .await?;
    }
    crate::store::sql::query(
        "UPDATE payments SET refunded = refunded - $1 WHERE id = $2 AND company_id = $3",
    )
    .bind(amount)
    .bind(&payment_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    crate::store::sql::query("DELETE FROM refund_allocations WHERE refund_id = $1")
        .bind(refund_id)
        .execute(&mut *conn)
        .await?;
    crate::store::sql::query("DELETE FROM refunds WHERE id = $1 AND company_id = $2")
        .bind(refund_id)
        .bind(company_id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundShare {
    pub invoice_number: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundRecord {
    pub id: String,
    pub amount: i64,
    pub processor_refund_id: Option<String>,
    pub idempotency_key: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub shares: Vec<RefundShare>,
}

/// The refunds of one payment, oldest first, with what each gave back.
pub async fn for_payment(
    db: &Db,
    company_id: &str,
    payment_id: &str,
) -> StoreResult<Vec<RefundRecord>> {
    let rows = crate::store::sql::query(
        "SELECT r.id, r.amount, r.processor_refund_id, r.idempotency_key, r.reason,
                coalesce(u.email, r.created_by) AS created_by, r.created_at,
                i.number, ra.amount AS share
         FROM refunds r
         LEFT JOIN office_users u ON u.id = r.created_by
         LEFT JOIN refund_allocations ra ON ra.refund_id = r.id
         LEFT JOIN invoices i ON i.id = ra.invoice_id
         WHERE r.company_id = $1 AND r.payment_id = $2
         ORDER BY r.created_at, r.id, i.number",
    )
    .bind(company_id)
    .bind(payment_id)
    .fetch_all(db.reader())
    .await?;
    let mut out: Vec<RefundRecord> = Vec::new();
    for r in &rows {
        let id: String = r.try_get("id")?;
        if out.last().map(|x| x.id != id).unwrap_or(true) {
            out.push(RefundRecord {
                id,
                amount: r.try_get("amount")?,
                processor_refund_id: r.try_get("processor_refund_id")?,
                idempotency_key: r.try_get("idempotency_key")?,
                reason: r.try_get("reason")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                shares: Vec::new(),
            });
        }
        if let Some(number) = r.try_get::<Option<String>, _>("number")?
            && let Some(last) = out.last_mut()
        {
            last.shares.push(RefundShare {
                invoice_number: number,
                amount: r.try_get("share")?,
            });
        }
    }
    Ok(out)
}
