//! Saved payment methods and the autopay enrollments made with a payment.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::ids::{CardId, CompanyId, CustomerId};
use crate::store::{Conn, Db, StoreResult};

/// The consent a customer gave to autopay, as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Consent {
    pub text: String,
    pub ip: String,
    pub user_agent: String,
    pub channel: String,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub starts_on: Date,
}

#[derive(Debug, Clone, Serialize)]
pub struct SavedMethod {
    pub id: CardId,
    #[serde(skip)]
    pub processor_method_id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

pub async fn saved_method(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    id: &CardId,
) -> StoreResult<Option<SavedMethod>> {
    let row: Option<(CardId, String, String, String, i64, i64)> = crate::store::sql::query_as(
        "SELECT id, processor_method_id, brand, last4, exp_month, exp_year FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND id = $3 AND removed_at IS NULL",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(
        |(id, processor_method_id, brand, last4, exp_month, exp_year)| SavedMethod {
            id,
            processor_method_id,
            brand,
            last4,
            exp_month,
            exp_year,
        },
    ))
}

/// The customer's saved cards, newest first.
pub async fn saved_methods(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<SavedMethod>> {
    let rows: Vec<(CardId, String, String, String, i64, i64)> = crate::store::sql::query_as(
        "SELECT id, processor_method_id, brand, last4, exp_month, exp_year FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND removed_at IS NULL
         ORDER BY created_at DESC, id",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, processor_method_id, brand, last4, exp_month, exp_year)| SavedMethod {
                id,
                processor_method_id,
                brand,
                last4,
                exp_month,
                exp_year,
            },
        )
        .collect())
}

pub async fn insert_method(
    tx: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    processor_method_id: &str,
    card: &crate::domain::processor::CardSummary,
) -> StoreResult<CardId> {
    let id = CardId::new();
    crate::store::sql::query(
        "INSERT INTO payment_methods (id, company_id, customer_id, processor_method_id, brand, last4,
            exp_month, exp_year, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(customer_id)
    .bind(processor_method_id)
    .bind(&card.brand)
    .bind(&card.last4)
    .bind(card.exp_month)
    .bind(card.exp_year)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// Replaces the customer's autopay enrollment with one for `method_id`.
pub async fn enroll_autopay(
    tx: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    method_id: &CardId,
    consent: &Consent,
) -> StoreResult<crate::domain::ids::AutopayEnrollmentId> {
    let t = tx.now();
    crate::store::sql::query(
        "UPDATE autopay_enrollments SET cancelled_at = $1 WHERE customer_id = $2 AND cancelled_at IS NULL",
    )
    .bind(t)
    .bind(customer_id)
    .execute(&mut *tx)
    .await?;
    let id = crate::domain::ids::AutopayEnrollmentId::new();
    crate::store::sql::query(
        "INSERT INTO autopay_enrollments (id, company_id, customer_id, payment_method_id, consent_text,
            consent_at, consent_ip, consent_user_agent, channel, starts_on)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(customer_id)
    .bind(method_id)
    .bind(&consent.text)
    .bind(t)
    .bind(&consent.ip)
    .bind(&consent.user_agent)
    .bind(&consent.channel)
    .bind(consent.starts_on)
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

/// The card autopay charges for a customer, if enrolled.
pub async fn active_autopay(db: &Db, customer_id: &CustomerId) -> StoreResult<Option<SavedMethod>> {
    let row: Option<(CardId, String, String, String, i64, i64)> = crate::store::sql::query_as(
        "SELECT m.id, m.processor_method_id, m.brand, m.last4, m.exp_month, m.exp_year
         FROM autopay_enrollments e JOIN payment_methods m ON m.id = e.payment_method_id
         WHERE e.customer_id = $1 AND e.cancelled_at IS NULL",
    )
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(
        |(id, processor_method_id, brand, last4, exp_month, exp_year)| SavedMethod {
            id,
            processor_method_id,
            brand,
            last4,
            exp_month,
            exp_year,
        },
    ))
}
