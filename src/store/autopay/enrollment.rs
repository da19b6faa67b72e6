//! Autopay enrollments: the active one of a customer, enrolling (with the
//! consent given), cancelling, and the card chosen for each property.

use serde::Serialize;
use time::{Date, OffsetDateTime};

use crate::domain::ids::{AutopayEnrollmentId, CardId, CompanyId, CustomerId, PropertyId};
use crate::store::payments::Consent;
use crate::store::{Conn, Db, StoreResult};

/// A customer's active enrollment as the office sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Enrollment {
    pub id: AutopayEnrollmentId,
    pub method_id: CardId,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub channel: String,
    pub consent_text: String,
    pub consent_at: OffsetDateTime,
    pub consent_note: Option<String>,
    /// The office user's email, for office enrollments.
    pub enrolled_by: Option<String>,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub starts_on: Date,
}

pub async fn enrollment(
    executor: impl crate::store::sql::Executor<'_>,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<Enrollment>> {
    let row = crate::store::sql::query(
        "SELECT e.id, e.payment_method_id, m.brand, m.last4, m.exp_month, m.exp_year, e.channel,
                e.consent_text, e.consent_at, e.consent_note,
                coalesce(u.email, e.enrolled_by) AS enrolled_by, e.starts_on
         FROM autopay_enrollments e
         JOIN payment_methods m ON m.id = e.payment_method_id
         LEFT JOIN office_users u ON u.id = e.enrolled_by
         WHERE e.company_id = $1 AND e.customer_id = $2 AND e.cancelled_at IS NULL
         ORDER BY e.consent_at DESC LIMIT 1",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(executor)
    .await?;
    row.map(|r| {
        Ok(Enrollment {
            id: r.try_get("id")?,
            method_id: r.try_get("payment_method_id")?,
            brand: r.try_get("brand")?,
            last4: r.try_get("last4")?,
            exp_month: r.try_get("exp_month")?,
            exp_year: r.try_get("exp_year")?,
            channel: r.try_get("channel")?,
            consent_text: r.try_get("consent_text")?,
            consent_at: r.try_get("consent_at")?,
            consent_note: r.try_get("consent_note")?,
            enrolled_by: r.try_get("enrolled_by")?,
            starts_on: r.try_get("starts_on")?,
        })
    })
    .transpose()
}

/// Enrolls a customer, replacing any enrollment: the consent given (its
/// text, time, client address, user agent, channel), and for an office
/// enrollment who recorded it and how the customer gave it.
pub async fn enroll(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    method_id: &CardId,
    consent: &Consent,
    enrolled_by: Option<&str>,
    note: Option<&str>,
) -> StoreResult<AutopayEnrollmentId> {
    let t = conn.now();
    cancel(conn, company_id, customer_id, None).await?;
    let id = AutopayEnrollmentId::new();
    crate::store::sql::query(
        "INSERT INTO autopay_enrollments (id, company_id, customer_id, payment_method_id, consent_text,
            consent_at, consent_ip, consent_user_agent, channel, starts_on, enrolled_by, consent_note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
    .bind(enrolled_by)
    .bind(note)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Turns the customer's autopay off — only if it charges `on_method`, when
/// given (the card is being removed); `true` when it was on.
pub async fn cancel(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    on_method: Option<&CardId>,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE autopay_enrollments SET cancelled_at = $1
         WHERE company_id = $2 AND customer_id = $3 AND cancelled_at IS NULL
           AND ($4 IS NULL OR payment_method_id = $4)",
    )
    .bind(conn.now())
    .bind(company_id)
    .bind(customer_id)
    .bind(on_method)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A property billed to the customer, with the card chosen for it (if any).
#[derive(Debug, Clone, Serialize)]
pub struct PropertyCard {
    pub property_id: PropertyId,
    pub address: String,
    pub method_id: Option<CardId>,
}

pub async fn property_cards(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    enrollment_id: Option<&AutopayEnrollmentId>,
) -> StoreResult<Vec<PropertyCard>> {
    let rows = crate::store::sql::query(
        "SELECT p.id, p.address, pm.payment_method_id
         FROM properties p
         LEFT JOIN autopay_property_methods pm ON pm.property_id = p.id AND pm.enrollment_id = $3
         WHERE p.company_id = $1 AND p.bill_to_customer_id = $2
         ORDER BY p.address, p.id",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(enrollment_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PropertyCard {
                property_id: r.try_get("id")?,
                address: r.try_get("address")?,
                method_id: r.try_get("payment_method_id")?,
            })
        })
        .collect()
}

/// Chooses the card for one property of an enrollment (`None`: the
/// enrollment's own card). The property must be billed to the customer.
pub async fn set_property_card(
    conn: &mut Conn,
    company_id: &CompanyId,
    enrollment_id: &AutopayEnrollmentId,
    property_id: &PropertyId,
    method_id: Option<&CardId>,
    set_by: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "DELETE FROM autopay_property_methods
         WHERE company_id = $1 AND enrollment_id = $2 AND property_id = $3",
    )
    .bind(company_id)
    .bind(enrollment_id)
    .bind(property_id)
    .execute(&mut *conn)
    .await?;
    if let Some(method_id) = method_id {
        crate::store::sql::query(
            "INSERT INTO autopay_property_methods (enrollment_id, property_id, company_id,
                payment_method_id, set_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(enrollment_id)
        .bind(property_id)
        .bind(company_id)
        .bind(method_id)
        .bind(set_by)
        .bind(conn.now())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
