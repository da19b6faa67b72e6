//! Payment-link rows. Only the SHA-256 of a token is ever stored.

use super::{Conn, Db, StoreResult};

use crate::domain::ids::{CompanyId, CustomerId, LinkId};

#[derive(Debug, Clone)]
pub struct LinkRow {
    pub id: LinkId,
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
    pub generation: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct LiveLink {
    pub id: LinkId,
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
}

pub async fn insert(
    tx: &mut Conn,
    id: &LinkId,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    token_hash: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO payment_links (id, company_id, customer_id, generation, token_hash, created_at)
         VALUES ($1, $2, $3, 1, $4, $5)",
    )
    .bind(id)
    .bind(company_id)
    .bind(customer_id)
    .bind(token_hash)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn for_customer(
    executor: impl crate::store::sql::Executor<'_>,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<LinkRow>> {
    let row: Option<(
        LinkId,
        CompanyId,
        CustomerId,
        i64,
        Option<time::OffsetDateTime>,
    )> = crate::store::sql::query_as(
        "SELECT id, company_id, customer_id, generation, revoked_at FROM payment_links
         WHERE company_id = $1 AND customer_id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(
        |(id, company_id, customer_id, generation, revoked)| LinkRow {
            id,
            company_id,
            customer_id,
            generation,
            revoked: revoked.is_some(),
        },
    ))
}

/// The live link a token hash opens: not revoked, not expired.
pub async fn find_live(db: &Db, token_hash: &str) -> StoreResult<Option<LiveLink>> {
    let row: Option<(String, CompanyId, String)> = crate::store::sql::query_as(
        "SELECT id, company_id, customer_id FROM payment_links
         WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(token_hash)
    .bind(db.now())
    .fetch_optional(db.point_reader())
    .await?;
    Ok(row.map(|(id, company_id, customer_id)| LiveLink {
        id: id.into(),
        company_id,
        customer_id: customer_id.into(),
    }))
}

/// Moves a link to a new generation and hash; a revoked link becomes live again.
pub async fn rotate(
    tx: &mut Conn,
    id: &LinkId,
    generation: i64,
    token_hash: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE payment_links SET generation = $1, token_hash = $2, rotated_at = $3, revoked_at = NULL
         WHERE id = $4",
    )
    .bind(generation)
    .bind(token_hash)
    .bind(tx.now())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn revoke(tx: &mut Conn, id: &LinkId) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE payment_links SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
    )
    .bind(tx.now())
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
