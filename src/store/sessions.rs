//! Sign-in sessions for the office and the portal. The cookie holds a random
//! value; only its SHA-256 is stored. Each session has its own CSRF token.

use time::{Duration, OffsetDateTime};

use super::{Conn, Db, StoreResult};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::ids::CompanyId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Office,
    Portal,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Office => "office",
            Kind::Portal => "portal",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub principal_id: String,
    pub company_id: CompanyId,
    pub csrf_token: String,
}

/// Starts a session; returns the cookie value (never stored as such).
pub async fn create(
    conn: &mut Conn,
    kind: Kind,
    principal_id: &str,
    company_id: &CompanyId,
    ttl: Duration,
) -> StoreResult<String> {
    let cookie = random_token(32);
    let t = conn.now();
    crate::store::sql::query(
        "INSERT INTO sessions (id_hash, kind, principal_id, company_id, csrf_token, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(sha256_hex(cookie.as_bytes()))
    .bind(kind.as_str())
    .bind(principal_id)
    .bind(company_id)
    .bind(random_token(24))
    .bind(t)
    .bind(t + ttl)
    .execute(&mut *conn)
    .await?;
    Ok(cookie)
}

/// The live session a cookie value names.
pub async fn find(db: &Db, kind: Kind, cookie: &str) -> StoreResult<Option<Session>> {
    let row: Option<(String, CompanyId, String, OffsetDateTime)> = crate::store::sql::query_as(
        "SELECT principal_id, company_id, csrf_token, expires_at FROM sessions
         WHERE id_hash = $1 AND kind = $2",
    )
    .bind(sha256_hex(cookie.as_bytes()))
    .bind(kind.as_str())
    .fetch_optional(db.reader())
    .await?;
    Ok(row.filter(|(_, _, _, expires)| *expires > db.now()).map(
        |(principal_id, company_id, csrf_token, _)| Session {
            principal_id,
            company_id,
            csrf_token,
        },
    ))
}

pub async fn delete(conn: &mut Conn, cookie: &str) -> StoreResult<()> {
    crate::store::sql::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(sha256_hex(cookie.as_bytes()))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Ends every session of a principal (after a password change), but `keep`.
pub async fn delete_all_for(
    conn: &mut Conn,
    kind: Kind,
    principal_id: &str,
    keep: Option<&str>,
) -> StoreResult<()> {
    crate::store::sql::query(
        "DELETE FROM sessions WHERE kind = $1 AND principal_id = $2 AND id_hash <> $3",
    )
    .bind(kind.as_str())
    .bind(principal_id)
    .bind(keep.map(|k| sha256_hex(k.as_bytes())).unwrap_or_default())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
