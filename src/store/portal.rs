//! Portal accounts, sign-in tokens, saved cards and autopay from the portal.
//!
//! Invitation and sign-in tokens are random; only their SHA-256 is stored.
//! A token is used at most once and only before it expires.

use time::Duration;

use super::{Conn, Db, StoreResult};
use crate::crypto::{random_token, sha256_hex};
use crate::domain::ids::{CardId, CompanyId, CustomerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    SignIn,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::SignIn => "sign_in",
        }
    }

    /// How long a token of this kind stays usable.
    pub fn lifetime(self) -> Duration {
        match self {
            Purpose::Invite => Duration::days(7),
            Purpose::SignIn => Duration::minutes(20),
        }
    }
}

/// Whom a token or an account signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
}

/// Writes a new token; returns the token itself (never stored).
pub async fn insert_token(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    purpose: Purpose,
) -> StoreResult<String> {
    let token = random_token(32);
    crate::store::sql::query(
        "INSERT INTO portal_tokens (token_hash, customer_id, company_id, purpose, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(customer_id)
    .bind(company_id)
    .bind(purpose.as_str())
    .bind(conn.now() + purpose.lifetime())
    .execute(&mut *conn)
    .await?;
    Ok(token)
}

/// Whom a live (unused, unexpired) token names, without using it.
pub async fn peek_token(db: &Db, token: &str, purpose: Purpose) -> StoreResult<Option<Principal>> {
    let row: Option<(CompanyId, CustomerId)> = crate::store::sql::query_as(
        "SELECT company_id, customer_id FROM portal_tokens
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(sha256_hex(token.as_bytes()))
    .bind(purpose.as_str())
    .bind(db.now())
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(|(company_id, customer_id)| Principal {
        company_id,
        customer_id,
    }))
}

/// Uses a live token: whom it names, or `None` when unknown, used or expired.
pub async fn consume_token(
    conn: &mut Conn,
    token: &str,
    purpose: Purpose,
) -> StoreResult<Option<Principal>> {
    let t = conn.now();
    let row: Option<(CompanyId, CustomerId)> = crate::store::sql::query_as(
        "UPDATE portal_tokens SET used_at = $1
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1
         RETURNING company_id, customer_id",
    )
    .bind(t)
    .bind(sha256_hex(token.as_bytes()))
    .bind(purpose.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(company_id, customer_id)| Principal {
        company_id,
        customer_id,
    }))
}

#[derive(Debug, Clone)]
pub struct Account {
    pub company_id: CompanyId,
    pub customer_id: CustomerId,
    pub password_hash: Option<String>,
}

/// Accounts with this email (one per company at most), newest first.
pub async fn accounts_by_email(db: &Db, email: &str, limit: i64) -> StoreResult<Vec<Account>> {
    let rows = crate::store::sql::query(
        "SELECT a.company_id, a.customer_id, a.password_hash FROM portal_accounts a
         WHERE lower(a.email) = lower($1) ORDER BY a.created_at DESC LIMIT $2",
    )
    .bind(email)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Account {
                company_id: r.try_get("company_id")?,
                customer_id: r.try_get("customer_id")?,
                password_hash: r.try_get("password_hash")?,
            })
        })
        .collect()
}

/// Customers a sign-in link may go to: those with a portal account under this
/// email, and those whose email on file it is.
pub async fn principals_by_email(db: &Db, email: &str, limit: i64) -> StoreResult<Vec<Principal>> {
    let rows: Vec<(CompanyId, CustomerId)> = crate::store::sql::query_as(
        "SELECT company_id, customer_id FROM portal_accounts WHERE lower(email) = lower($1)
         UNION
         SELECT company_id, id FROM customers WHERE lower(email) = lower($1)
         LIMIT $2",
    )
    .bind(email)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(company_id, customer_id)| Principal {
            company_id,
            customer_id,
        })
        .collect())
}

/// Where email for this customer goes: the portal account's address, else the one on file.
pub async fn email_for(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<String>> {
    let email: Option<Option<String>> = crate::store::sql::query_scalar(
        "SELECT coalesce((SELECT a.email FROM portal_accounts a
                           WHERE a.company_id = c.company_id AND a.customer_id = c.id), c.email)
         FROM customers c WHERE c.company_id = $1 AND c.id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(email.flatten().filter(|e| !e.trim().is_empty()))
}

/// Creates the customer's account or sets its password.
pub async fn set_password(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    email: &str,
    password_hash: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "INSERT INTO portal_accounts (customer_id, company_id, email, password_hash, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (customer_id) DO UPDATE SET password_hash = excluded.password_hash",
    )
    .bind(customer_id)
    .bind(company_id)
    .bind(email)
    .bind(password_hash)
    .bind(conn.now())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A customer's name and email, scoped by company.
pub async fn customer_name(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<String>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT name FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(db.reader())
    .await?)
}

// ------------------------------------------------------------ saved cards

#[derive(Debug, Clone, serde::Serialize)]
pub struct Card {
    pub id: CardId,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub is_default: bool,
    pub autopay: bool,
}

/// The customer's saved cards, newest first, with which one autopay uses.
pub async fn cards(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<Card>> {
    let rows = crate::store::sql::query(
        "SELECT m.id, m.brand, m.last4, m.exp_month, m.exp_year, m.is_default,
                EXISTS (SELECT 1 FROM autopay_enrollments e WHERE e.payment_method_id = m.id
                          AND e.cancelled_at IS NULL) AS autopay
         FROM payment_methods m
         WHERE m.company_id = $1 AND m.customer_id = $2 AND m.removed_at IS NULL
         ORDER BY m.created_at DESC, m.id",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Card {
                id: r.try_get("id")?,
                brand: r.try_get("brand")?,
                last4: r.try_get("last4")?,
                exp_month: r.try_get("exp_month")?,
                exp_year: r.try_get("exp_year")?,
                is_default: r.try_get::<i64, _>("is_default")? != 0,
                autopay: r.try_get::<bool, _>("autopay")?,
            })
        })
        .collect()
}

/// Removes one of the customer's cards; `false` when it is not theirs or
/// gone. (Autopay on it is turned off by the caller: `store::autopay::cancel`.)
pub async fn remove_card(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    method_id: &CardId,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE payment_methods SET removed_at = $1, is_default = 0
         WHERE company_id = $2 AND customer_id = $3 AND id = $4 AND removed_at IS NULL",
    )
    .bind(conn.now())
    .bind(company_id)
    .bind(customer_id)
    .bind(method_id)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Makes one card the default; `false` when it is not the customer's.
pub async fn set_default_card(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
    method_id: &CardId,
) -> StoreResult<bool> {
    let exists: Option<i64> = crate::store::sql::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND id = $3 AND removed_at IS NULL",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(method_id)
    .fetch_optional(&mut *conn)
    .await?;
    if exists.is_none() {
        return Ok(false);
    }
    crate::store::sql::query(
        "UPDATE payment_methods SET is_default = CASE WHEN id = $3 THEN 1 ELSE 0 END
         WHERE company_id = $1 AND customer_id = $2 AND removed_at IS NULL",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(method_id)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// Whether the customer has a default among their live cards.
pub async fn has_default_card(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<bool> {
    let found: Option<i64> = crate::store::sql::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND removed_at IS NULL AND is_default = 1 LIMIT 1",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// The row `signed_in` reads: names, phone, accent, the two languages.
type SignedInRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// What every portal page shows of its customer and company.
pub async fn signed_in(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<SignedIn>> {
    let row: Option<SignedInRow> = crate::store::sql::query_as(
        "SELECT c.name, co.name, co.phone, co.accent_color, c.language, co.language
         FROM customers c JOIN companies co ON co.id = c.company_id
         WHERE c.id = $1 AND c.company_id = $2",
    )
    .bind(customer_id)
    .bind(company_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(|r| SignedIn {
        customer_name: r.0,
        company_name: r.1,
        company_phone: r.2,
        accent: r.3,
        customer_language: crate::store::customers::language_of(r.4),
        company_language: crate::store::customers::language_of(r.5).unwrap_or_default(),
    }))
}

/// What every portal page shows of the signed-in customer and their company.
pub struct SignedIn {
    pub customer_name: String,
    pub company_name: String,
    pub company_phone: String,
    pub accent: String,
    pub customer_language: Option<crate::domain::i18n::Lang>,
    pub company_language: crate::domain::i18n::Lang,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetimes() {
        assert_eq!(Purpose::Invite.lifetime(), Duration::days(7));
        assert_eq!(Purpose::SignIn.lifetime(), Duration::minutes(20));
        assert_eq!(Purpose::Invite.as_str(), "invite");
        assert_eq!(Purpose::SignIn.as_str(), "sign_in");
    }
}
