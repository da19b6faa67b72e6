//! Refunds and what they gave back to invoices.
//!
//! A refund is a small state machine (docs/PAYMENT_STATES.md): a card
//! refund is written `pending` (and its invoices reopened and held) before
//! the processor is called, and becomes `succeeded` (invoices freed) or
//! `failed` (its bookkeeping undone, the row and its allocations kept for
//! history). Cash and check refunds never reach a processor: `succeeded` at
//! once. Anything that sums refunds or `refund_allocations` leaves failed
//! refunds out.

use serde::Serialize;
use time::OffsetDateTime;

use super::{Conn, Db, StoreResult, dynamic_sql, placeholders};
use crate::domain::Allocation;
use crate::domain::ids::{CompanyId, InvoiceId, PaymentId, RefundId};
use crate::domain::money::Currency;

pub const PENDING: &str = "pending";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";

/// What one invoice received from a payment and what refunds of that
/// payment have given back to it so far, in allocation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Received {
    pub invoice_id: InvoiceId,
    pub invoice_number: String,
    pub invoice_status: String,
    pub invoice_balance: i64,
    pub received: i64,
    pub given_back: i64,
}

/// The allocations of a payment (in the order they were written) with the
/// refunds already given back to each invoice (failed refunds gave nothing).
pub async fn received_by_invoice(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<Vec<Received>> {
    let rows = crate::store::sql::query(
        "SELECT a.invoice_id, i.number, i.status, i.balance, a.amount,
                coalesce((SELECT CAST(sum(ra.amount) AS BIGINT) FROM refund_allocations ra
                          JOIN refunds r ON r.id = ra.refund_id
                          WHERE r.payment_id = a.payment_id AND ra.invoice_id = a.invoice_id
                            AND r.status <> 'failed'), 0) AS given_back
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

/// A refund already written under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyed {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: i64,
    pub status: String,
    pub last_error: Option<String>,
    pub processor_refund_id: Option<String>,
    /// A pending refund's next try (or the end of the send in progress).
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// The refund written under this idempotency key, if any.
pub async fn find_by_key(
    conn: &mut Conn,
    company_id: &CompanyId,
    key: &str,
) -> StoreResult<Option<Keyed>> {
    type KeyedRow = (
        RefundId,
        PaymentId,
        i64,
        String,
        Option<String>,
        Option<String>,
        Option<OffsetDateTime>,
    );
    let row: Option<KeyedRow> = crate::store::sql::query_as(
        "SELECT id, payment_id, amount, status, last_error, processor_refund_id, next_attempt_at
         FROM refunds WHERE company_id = $1 AND idempotency_key = $2",
    )
    .bind(company_id)
    .bind(key)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(id, payment_id, amount, status, last_error, processor_refund_id, next_attempt_at)| {
            Keyed {
                id,
                payment_id,
                amount,
                status,
                last_error,
                processor_refund_id,
                next_attempt_at,
            }
        },
    ))
}

/// Which processor account took a payment (`None`s: recorded before
/// payments carried it; the company's current processor).
pub async fn payment_processor(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<(Option<String>, Option<String>)> {
    let row: Option<(Option<String>, Option<String>)> = crate::store::sql::query_as(
        "SELECT processor_kind, processor_account FROM payments WHERE id = $1 AND company_id = $2",
    )
    .bind(payment_id)
    .bind(company_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.unwrap_or((None, None)))
}

pub struct NewRefund<'a> {
    pub id: &'a RefundId,
    pub company_id: &'a CompanyId,
    pub payment_id: &'a PaymentId,
    pub amount: i64,
    pub idempotency_key: &'a str,
    pub reason: &'a str,
    pub created_by: &'a str,
    /// `PENDING` for a card refund not yet confirmed, else `SUCCEEDED`.
    pub status: &'a str,
    /// Set when the processor already reported the refund (one made at the
    /// processor and recorded from its notice).
    pub processor_refund_id: Option<&'a str>,
    pub processor_kind: Option<&'a str>,
    pub processor_account: Option<&'a str>,
    /// When the jobs may send it (pending refunds): after the send that
    /// follows the recording has had its chance.
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// Counts the refund against its payment: `false` (nothing changed) when it
/// would exceed what is left of the payment.
pub async fn add_to_payment(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
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
    let now = conn.now();
    let settled = (r.status != PENDING).then_some(now);
    crate::store::sql::query(
        "INSERT INTO refunds (id, company_id, payment_id, amount, processor_refund_id, idempotency_key,
            reason, created_by, created_at, status, processor_kind, processor_account, attempts,
            next_attempt_at, settled_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14)",
    )
    .bind(r.id)
    .bind(r.company_id)
    .bind(r.payment_id)
    .bind(r.amount)
    .bind(r.processor_refund_id)
    .bind(r.idempotency_key)
    .bind(r.reason)
    .bind(r.created_by)
    .bind(now)
    .bind(r.status)
    .bind(r.processor_kind)
    .bind(r.processor_account)
    .bind(r.next_attempt_at)
    .bind(settled)
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
    company_id: &CompanyId,
    refund_id: &RefundId,
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

/// A refund's state, by our id or by the processor's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub amount: i64,
    pub status: String,
    pub processor_refund_id: Option<String>,
    pub last_error: Option<String>,
}

type StateRow = (
    RefundId,
    PaymentId,
    i64,
    String,
    Option<String>,
    Option<String>,
);

const STATE_SELECT: &str =
    "SELECT id, payment_id, amount, status, processor_refund_id, last_error FROM refunds";

fn state_from(row: StateRow) -> State {
    State {
        id: row.0,
        payment_id: row.1,
        amount: row.2,
        status: row.3,
        processor_refund_id: row.4,
        last_error: row.5,
    }
}

pub async fn state(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
) -> StoreResult<Option<State>> {
    let row: Option<StateRow> = crate::store::sql::query_as(dynamic_sql(format!(
        "{STATE_SELECT} WHERE company_id = $1 AND id = $2"
    )))
    .bind(company_id)
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(state_from))
}

pub async fn state_by_processor_id(
    conn: &mut Conn,
    company_id: &CompanyId,
    processor_refund_id: &str,
) -> StoreResult<Option<State>> {
    let row: Option<StateRow> = crate::store::sql::query_as(dynamic_sql(format!(
        "{STATE_SELECT} WHERE company_id = $1 AND processor_refund_id = $2"
    )))
    .bind(company_id)
    .bind(processor_refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(state_from))
}

/// A pending refund with what it takes to send it or ask about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: RefundId,
    pub company_id: CompanyId,
    pub payment_id: PaymentId,
    pub amount: i64,
    pub currency: Currency,
    /// The payment's charge at the processor (`None`: not a card payment).
    pub charge_id: Option<String>,
    pub processor_kind: Option<String>,
    pub processor_account: Option<String>,
    /// Set once the processor reported the refund (still not final).
    pub processor_refund_id: Option<String>,
    pub attempts: i64,
    pub created_at: OffsetDateTime,
}

const PENDING_SELECT: &str = "SELECT r.id, r.company_id, r.payment_id, r.amount, p.currency,
        CASE WHEN p.method = 'card' THEN p.processor_charge_id ELSE NULL END AS charge_id,
        r.processor_kind, r.processor_account, r.processor_refund_id, r.attempts, r.created_at
     FROM refunds r JOIN payments p ON p.id = r.payment_id";

fn pending_from(r: &crate::store::sql::Row) -> StoreResult<Pending> {
    let currency: String = r.try_get("currency")?;
    Ok(Pending {
        id: r.try_get("id")?,
        company_id: r.try_get("company_id")?,
        payment_id: r.try_get("payment_id")?,
        amount: r.try_get("amount")?,
        currency: Currency::parse(&currency).unwrap_or(Currency::USD),
        charge_id: r.try_get("charge_id")?,
        processor_kind: r.try_get("processor_kind")?,
        processor_account: r.try_get("processor_account")?,
        processor_refund_id: r.try_get("processor_refund_id")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
    })
}

/// One pending refund of the company.
pub async fn pending(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
) -> StoreResult<Option<Pending>> {
    let row = crate::store::sql::query(dynamic_sql(format!(
        "{PENDING_SELECT} WHERE r.company_id = $1 AND r.id = $2 AND r.status = 'pending'"
    )))
    .bind(company_id)
    .bind(refund_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(pending_from).transpose()
}

/// Pending refunds of every company due to be sent or asked about at `now`,
/// the longest waiting first.
pub async fn due(db: &Db, now: OffsetDateTime, limit: i64) -> StoreResult<Vec<Pending>> {
    let rows = crate::store::sql::query(dynamic_sql(format!(
        "{PENDING_SELECT} WHERE r.status = 'pending' AND r.next_attempt_at <= $1
         ORDER BY r.next_attempt_at, r.id LIMIT $2"
    )))
    .bind(now)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(pending_from).collect()
}

/// Takes a pending refund for one try at the processor: counts the try and
/// moves its next time to `until`, so no other worker takes it meanwhile.
/// Unless `force` (the office asked), only when it is due at `now`. `false`
/// when it is not pending (settled meanwhile) or not due.
pub async fn claim(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    now: OffsetDateTime,
    until: OffsetDateTime,
    force: bool,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE refunds SET attempts = attempts + 1, next_attempt_at = $1
         WHERE company_id = $2 AND id = $3 AND status = 'pending'
           AND ($4 OR next_attempt_at IS NULL OR next_attempt_at <= $5)",
    )
    .bind(until)
    .bind(company_id)
    .bind(refund_id)
    .bind(force)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A try that did not settle a pending refund: why, and when to try again
/// (`None`s keep what was stored). The processor's refund id is kept once
/// known (a refund it accepted but has not finished). `false` when it is no
/// longer pending.
pub async fn still_pending(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    processor_refund_id: Option<&str>,
    error: Option<&str>,
    next_attempt_at: Option<OffsetDateTime>,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE refunds SET processor_refund_id = coalesce($1, processor_refund_id),
            last_error = coalesce($2, last_error), next_attempt_at = coalesce($3, next_attempt_at)
         WHERE company_id = $4 AND id = $5 AND status = 'pending'",
    )
    .bind(processor_refund_id)
    .bind(error)
    .bind(next_attempt_at)
    .bind(company_id)
    .bind(refund_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The processor confirmed a pending refund: store its id and free the
/// invoices. `false` when it was not pending (settled before).
pub async fn mark_succeeded(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    processor_refund_id: &str,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE refunds SET processor_refund_id = $1, status = 'succeeded', settled_at = $2,
            next_attempt_at = NULL, last_error = NULL
         WHERE id = $3 AND company_id = $4 AND status = 'pending'",
    )
    .bind(processor_refund_id)
    .bind(conn.now())
    .bind(refund_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    release(conn, refund_id).await?;
    Ok(done.rows_affected() == 1)
}

/// Frees the invoices a refund held.
pub async fn release(conn: &mut Conn, refund_id: &RefundId) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE invoices SET locked_by_attempt = NULL WHERE locked_by_attempt = $1",
    )
    .bind(refund_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What `fail` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undone {
    /// Failed, and balances, the payment's refunded total and the invoices'
    /// refunded totals are as they were before the refund.
    Failed,
    /// Already failed, or unknown: nothing changed.
    Nothing,
    /// A succeeded refund whose invoices were paid (or taken by a payment in
    /// progress) since: its bookkeeping cannot be taken back without making
    /// a balance wrong, so nothing changed and the office must look.
    InvoicesMovedOn(Vec<String>),
}

/// Fails a refund the processor refused or failed: its bookkeeping is undone
/// and the row kept, `failed`, with the reason. A pending refund's invoices
/// are held by it, so nothing else changed them and the undo always fits;
/// a refund that succeeded first (the processor failed it later) is undone
/// only when every invoice can still take its share back.
pub async fn fail(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    reason: &str,
) -> StoreResult<Undone> {
    let refund: Option<(PaymentId, i64, String)> = crate::store::sql::query_as(
        "SELECT payment_id, amount, status FROM refunds
         WHERE id = $1 AND company_id = $2 AND status <> 'failed'",
    )
    .bind(refund_id)
    .bind(company_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((payment_id, amount, _status)) = refund else {
        return Ok(Undone::Nothing);
    };
    let shares: Vec<(InvoiceId, i64, i64, Option<String>, String)> = crate::store::sql::query_as(
        "SELECT ra.invoice_id, ra.amount, i.balance, i.locked_by_attempt, i.number
         FROM refund_allocations ra JOIN invoices i ON i.id = ra.invoice_id
         WHERE ra.refund_id = $1 ORDER BY i.number",
    )
    .bind(refund_id)
    .fetch_all(&mut *conn)
    .await?;
    let moved_on: Vec<String> = shares
        .iter()
        .filter(|(_, x, balance, held, _)| match held.as_deref() {
            Some(h) => h != refund_id.as_str(),
            None => balance < x,
        })
        .map(|(_, _, _, _, number)| number.clone())
        .collect();
    if !moved_on.is_empty() {
        return Ok(Undone::InvoicesMovedOn(moved_on));
    }
    for (invoice_id, x, _, _, _) in &shares {
        crate::store::sql::query(
            "UPDATE invoices SET refunded = refunded - $1, balance = balance - $1,
                status = CASE WHEN status = 'open' AND balance - $1 = 0 THEN 'paid' ELSE status END,
                locked_by_attempt = NULL
             WHERE id = $2 AND company_id = $3
               AND (locked_by_attempt = $4 OR (locked_by_attempt IS NULL AND balance >= $1))",
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
    crate::store::sql::query(
        "UPDATE refunds SET status = 'failed', last_error = $1, settled_at = $2, next_attempt_at = NULL
         WHERE id = $3 AND company_id = $4",
    )
    .bind(reason)
    .bind(conn.now())
    .bind(refund_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(Undone::Failed)
}

/// Notes on a succeeded refund that the processor reported it failed but
/// its bookkeeping could not be undone (the office must look).
pub async fn note_problem(
    conn: &mut Conn,
    company_id: &CompanyId,
    refund_id: &RefundId,
    problem: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE refunds SET last_error = $1 WHERE id = $2 AND company_id = $3",
    )
    .bind(problem)
    .bind(refund_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Pending refunds of one payment.
pub async fn pending_of_payment(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT count(*) FROM refunds WHERE company_id = $1 AND payment_id = $2 AND status = 'pending'",
    )
    .bind(company_id)
    .bind(payment_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Card refunds of the company still waiting for their processor.
pub async fn pending_count(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT count(*) FROM refunds WHERE company_id = $1 AND status = 'pending'",
    )
    .bind(company_id)
    .fetch_one(&mut *conn)
    .await?)
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundShare {
    pub invoice_number: String,
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RefundRecord {
    pub id: RefundId,
    pub amount: i64,
    pub status: String,
    pub processor_refund_id: Option<String>,
    pub idempotency_key: String,
    pub reason: String,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub attempts: i64,
    pub next_attempt_at: Option<OffsetDateTime>,
    pub last_error: Option<String>,
    /// What it gave back (or, failed, would have given back).
    pub shares: Vec<RefundShare>,
}

/// The refunds of one payment, oldest first, with what each gave back.
pub async fn for_payment(
    db: &Db,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<Vec<RefundRecord>> {
    let mut conn = db.reader().acquire().await?;
    for_payment_on(&mut conn, company_id, payment_id).await
}

/// `for_payment` on a connection of the caller's.
pub async fn for_payment_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    payment_id: &PaymentId,
) -> StoreResult<Vec<RefundRecord>> {
    let rows = crate::store::sql::query(
        "SELECT r.id, r.amount, r.status, r.processor_refund_id, r.idempotency_key, r.reason,
                coalesce(u.email, r.created_by) AS created_by, r.created_at, r.attempts,
                r.next_attempt_at, r.last_error, i.number, ra.amount AS share
         FROM refunds r
         LEFT JOIN office_users u ON u.id = r.created_by
         LEFT JOIN refund_allocations ra ON ra.refund_id = r.id
         LEFT JOIN invoices i ON i.id = ra.invoice_id
         WHERE r.company_id = $1 AND r.payment_id = $2
         ORDER BY r.created_at, r.id, i.number",
    )
    .bind(company_id)
    .bind(payment_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<RefundRecord> = Vec::new();
    for r in &rows {
        let id: RefundId = r.try_get("id")?;
        if out.last().map(|x| x.id != id).unwrap_or(true) {
            out.push(RefundRecord {
                id,
                amount: r.try_get("amount")?,
                status: r.try_get("status")?,
                processor_refund_id: r.try_get("processor_refund_id")?,
                idempotency_key: r.try_get("idempotency_key")?,
                reason: r.try_get("reason")?,
                created_by: r.try_get("created_by")?,
                created_at: r.try_get("created_at")?,
                attempts: r.try_get("attempts")?,
                next_attempt_at: r.try_get("next_attempt_at")?,
                last_error: r.try_get("last_error")?,
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

/// A refund the office should look at: failed, pending for a while, or
/// failed at the processor after it succeeded.
#[derive(Debug, Clone, Serialize)]
pub struct Attention {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub amount: i64,
    pub currency: Currency,
    pub status: String,
    pub reason: Option<String>,
    pub created_at: OffsetDateTime,
}

/// Of these payments, the refunds that are not simply done: failed ones (and
/// a succeeded one the processor failed later), and pending ones, newest
/// first per payment.
pub async fn unsettled_of_payments(
    db: &Db,
    company_id: &CompanyId,
    payment_ids: &[PaymentId],
) -> StoreResult<Vec<Attention>> {
    if payment_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{ATTENTION_SELECT} WHERE r.company_id = $1 AND r.payment_id IN ({})
           AND (r.status <> 'succeeded' OR r.last_error IS NOT NULL)
         ORDER BY r.created_at DESC, r.id",
        placeholders(2, payment_ids.len())
    );
    let mut q = crate::store::sql::query(dynamic_sql(sql)).bind(company_id);
    for id in payment_ids {
        q = q.bind(id);
    }
    let rows = q.fetch_all(db.reader()).await?;
    rows.iter().map(attention_from).collect()
}

/// The company's refunds that need the office, newest first: failed (or
/// failed after succeeding) since `since`, and pending since before
/// `pending_before`.
pub async fn needing_attention(
    db: &Db,
    company_id: &CompanyId,
    since: OffsetDateTime,
    pending_before: OffsetDateTime,
    limit: i64,
) -> StoreResult<Vec<Attention>> {
    let sql = format!(
        "{ATTENTION_SELECT} WHERE r.company_id = $1
           AND ((r.status = 'failed' AND r.settled_at >= $2)
             OR (r.status = 'succeeded' AND r.last_error IS NOT NULL AND r.created_at >= $2)
             OR (r.status = 'pending' AND r.created_at < $3))
         ORDER BY r.created_at DESC, r.id LIMIT $4"
    );
    let rows = crate::store::sql::query(dynamic_sql(sql))
        .bind(company_id)
        .bind(since)
        .bind(pending_before)
        .bind(limit)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(attention_from).collect()
}

const ATTENTION_SELECT: &str =
    "SELECT r.id, r.payment_id, r.amount, p.currency, r.status, r.last_error, r.created_at
     FROM refunds r JOIN payments p ON p.id = r.payment_id";

fn attention_from(r: &crate::store::sql::Row) -> StoreResult<Attention> {
    let currency: String = r.try_get("currency")?;
    Ok(Attention {
        refund_id: r.try_get("id")?,
        payment_id: r.try_get("payment_id")?,
        amount: r.try_get("amount")?,
        currency: Currency::parse(&currency).unwrap_or(Currency::USD),
        status: r.try_get("status")?,
        reason: r.try_get("last_error")?,
        created_at: r.try_get("created_at")?,
    })
}
