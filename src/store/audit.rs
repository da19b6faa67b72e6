//! The audit log: who did what to which subject, never a secret.

use super::{Conn, StoreResult};
use crate::crypto::new_id_in_order;
use crate::domain::ids::CompanyId;

pub async fn record(
    tx: &mut Conn,
    company_id: &CompanyId,
    actor: &str,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO audit_log (id, company_id, at, actor, action, subject, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new_id_in_order("aud", tx.now()))
    .bind(company_id)
    .bind(tx.now())
    .bind(actor)
    .bind(action)
    .bind(subject)
    .bind(detail.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(())
}
