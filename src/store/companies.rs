//! Companies (tenants), their API keys and office users.

use serde::Serialize;
use sqlx::Row;

use super::{Conn, Db, StoreResult, now};
use crate::crypto::{new_id, random_token, sha256_hex};
use crate::money::Currency;

#[derive(Debug, Clone, Serialize)]
pub struct Company {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub currency: Currency,
    pub time_zone: String,
    pub base_url: Option<String>,
    pub accent_color: String,
}

#[derive(Debug, Clone)]
pub struct NewCompany {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub currency: Currency,
    pub time_zone: String,
}

pub async fn create(tx: &mut Conn, c: &NewCompany) -> StoreResult<String> {
    let id = new_id("co");
    sqlx::query(
        "INSERT INTO companies (id, name, phone, email, address, currency, time_zone, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(&c.name)
    .bind(&c.phone)
    .bind(&c.email)
    .bind(&c.address)
    .bind(c.currency.code())
    .bind(&c.time_zone)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

fn company_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Company> {
    let currency: String = row.try_get("currency")?;
    Ok(Company {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
        address: row.try_get("address")?,
        currency: Currency::parse(&currency).unwrap_or(Currency::USD),
        time_zone: row.try_get("time_zone")?,
        base_url: row.try_get("base_url")?,
        accent_color: row.try_get("accent_color")?,
    })
}

pub async fn get(db: &Db, id: &str) -> StoreResult<Option<Company>> {
    let row = sqlx::query(
        "SELECT id, name, phone, email, address, currency, time_zone, base_url, accent_color
         FROM companies WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(company_from_row).transpose()
}

pub async fn find_by_name(db: &Db, name: &str) -> StoreResult<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM companies WHERE name = $1 ORDER BY created_at LIMIT 1")
            .bind(name)
            .fetch_optional(db.reader())
            .await?,
    )
}

/// Issues a new API key; only its hash is kept. Returns the key itself.
pub async fn issue_api_key(tx: &mut Conn, company_id: &str, label: &str) -> StoreResult<String> {
    let key = format!("fpk_{}", random_token(32));
    sqlx::query(
        "INSERT INTO api_keys (id, company_id, key_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id("key"))
    .bind(company_id)
    .bind(sha256_hex(key.as_bytes()))
    .bind(label)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(key)
}

pub async fn revoke_api_keys_labelled(
    tx: &mut Conn,
    company_id: &str,
    label: &str,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE company_id = $2 AND label = $3 AND revoked_at IS NULL",
    )
    .bind(now())
    .bind(company_id)
    .bind(label)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The company an API key belongs to, if the key is live.
pub async fn company_for_api_key(db: &Db, key: &str) -> StoreResult<Option<String>> {
    Ok(sqlx::query_scalar(
        "SELECT company_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(sha256_hex(key.as_bytes()))
    .fetch_optional(db.reader())
    .await?)
}

pub async fn create_office_user(
    tx: &mut Conn,
    company_id: &str,
    email: &str,
    password_hash: &str,
    role: &str,
) -> StoreResult<String> {
    let id = new_id("usr");
    sqlx::query(
        "INSERT INTO office_users (id, company_id, email, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(email.to_ascii_lowercase())
    .bind(password_hash)
    .bind(role)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

pub async fn set_office_password(
    tx: &mut Conn,
    email: &str,
    password_hash: &str,
) -> StoreResult<bool> {
    let done = sqlx::query("UPDATE office_users SET password_hash = $1 WHERE email = $2")
        .bind(password_hash)
        .bind(email.to_ascii_lowercase())
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected() > 0)
}
