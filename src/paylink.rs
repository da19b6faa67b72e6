//! Payment links: capability URLs for a customer's quick payment page.
//!
//! A token is the HMAC of the link's id and generation under the server
//! secret, so the URL can be shown again without being stored; only its
//! SHA-256 is kept, for lookup. Rotation bumps the generation.

use crate::crypto::{Secret, new_id, sha256_hex};
use crate::store::{Conn, StoreResult, audit, links};

pub fn token(secret: &Secret, link_id: &str, generation: i64) -> String {
    secret.derive(format!("paylink:{link_id}:{generation}").as_bytes())
}

pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// What the audit log names a token by: a prefix of its hash.
pub fn audit_ref(token_hash: &str) -> String {
    format!("link:{}", &token_hash[..token_hash.len().min(12)])
}

/// A well-formed token: 43 base64url characters (256 bits). Anything else is
/// a miss without touching the database.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn url(base_url: &str, token: &str) -> String {
    format!("{base_url}/pay/{token}")
}

/// Gives a new customer its link, in the transaction that creates the customer.
pub async fn issue(
    tx: &mut Conn,
    secret: &Secret,
    company_id: &str,
    customer_id: &str,
) -> StoreResult<CurrentLink> {
    if let Some(existing) = shown(&mut *tx, secret, company_id, customer_id).await? {
        return Ok(existing);
    }
    let id = new_id("lnk");
    let t = token(secret, &id, 1);
    links::insert(tx, &id, company_id, customer_id, &token_hash(&t)).await?;
    Ok(CurrentLink {
        token: t,
        revoked: false,
        link_id: id,
        generation: 1,
    })
}

/// The customer's link and current token, read without changing anything.
pub async fn shown(
    executor: impl crate::store::sql::Executor<'_>,
    secret: &Secret,
    company_id: &str,
    customer_id: &str,
) -> StoreResult<Option<CurrentLink>> {
    Ok(links::for_customer(executor, company_id, customer_id)
        .await?
        .map(|row| CurrentLink {
            token: token(secret, &row.id, row.generation),
            revoked: row.revoked,
            link_id: row.id,
            generation: row.generation,
        }))
}

#[derive(Debug, Clone)]
pub struct CurrentLink {
    pub link_id: String,
    pub token: String,
    pub revoked: bool,
    pub generation: i64,
}

/// Issues a new token for the customer; the old one stops working at once.
pub async fn rotate(
    tx: &mut Conn,
    secret: &Secret,
    company_id: &str,
    customer_id: &str,
    actor: &str,
) -> StoreResult<String> {
    let existing = issue(tx, secret, company_id, customer_id).await?;
    let generation = existing.generation + 1;
    let t = token(secret, &existing.link_id, generation);
    let hash = token_hash(&t);
    links::rotate(tx, &existing.link_id, generation, &hash).await?;
    audit::record(
        tx,
        company_id,
        actor,
        "payment_link.rotated",
        customer_id,
        serde_json::json!({
            "old": audit_ref(&token_hash(&existing.token)),
            "new": audit_ref(&hash),
        }),
    )
    .await?;
    Ok(t)
}

/// Revokes the customer's link: its URL becomes a 404 until rotated.
pub async fn revoke(
    tx: &mut Conn,
    secret: &Secret,
    company_id: &str,
    customer_id: &str,
    actor: &str,
) -> StoreResult<()> {
    let existing = issue(tx, secret, company_id, customer_id).await?;
    links::revoke(tx, &existing.link_id).await?;
    audit::record(
        tx,
        company_id,
        actor,
        "payment_link.revoked",
        customer_id,
        serde_json::json!({ "link": audit_ref(&token_hash(&existing.token)) }),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bits_and_change_with_generation() {
        let s = Secret::new(vec![1; 32]);
        let a = token(&s, "lnk_x", 1);
        let b = token(&s, "lnk_x", 2);
        assert!(looks_like_token(&a));
        assert_ne!(a, b);
        assert_eq!(a, token(&s, "lnk_x", 1));
        assert_eq!(token_hash(&a).len(), 64);
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}!", &a[..42])));
        assert_eq!(audit_ref(&token_hash(&a)).len(), "link:".len() + 12);
    }
}
