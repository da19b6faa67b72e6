//! Companies (tenants), their API keys and office users.

use serde::Serialize;

use super::{Conn, Db, StoreResult};
use crate::crypto::{new_id, random_token, sha256_hex};
use crate::domain::ids::{CompanyId, UserId};
use crate::domain::money::Currency;

#[derive(Debug, Clone, Serialize)]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub currency: Currency,
    pub time_zone: String,
    pub base_url: Option<String>,
    pub accent_color: String,
    /// ISO 3166 alpha-2: the region of phone numbers without a country code.
    pub country: String,
    /// The language of customer pages, messages and PDFs when neither the
    /// customer nor the browser names one.
    pub language: crate::domain::i18n::Lang,
}

#[derive(Debug, Clone)]
pub struct NewCompany {
    pub name: String,
    pub phone: String,
    pub email: String,
    pub address: String,
    pub currency: Currency,
    pub time_zone: String,
    pub country: String,
}

/// Whether any company exists (read in the caller's transaction).
pub async fn any(conn: &mut Conn) -> StoreResult<bool> {
    let found: Option<i64> =
        crate::store::sql::query_scalar("SELECT CAST(1 AS BIGINT) FROM companies LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.is_some())
}

/// Whether any company exists.
pub async fn exist(db: &Db) -> StoreResult<bool> {
    let found: Option<i64> =
        crate::store::sql::query_scalar("SELECT CAST(1 AS BIGINT) FROM companies LIMIT 1")
            .fetch_optional(db.reader())
            .await?;
    Ok(found.is_some())
}

pub async fn create(tx: &mut Conn, c: &NewCompany) -> StoreResult<CompanyId> {
    let id = CompanyId::new();
    crate::store::sql::query(
        "INSERT INTO companies (id, name, phone, email, address, currency, time_zone, country, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(&c.name)
    .bind(&c.phone)
    .bind(&c.email)
    .bind(&c.address)
    .bind(c.currency.code())
    .bind(&c.time_zone)
    .bind(&c.country)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

fn company_from_row(row: &crate::store::sql::Row) -> StoreResult<Company> {
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
        country: row.try_get("country")?,
        language: crate::store::customers::language_of(row.try_get("language")?)
            .unwrap_or_default(),
    })
}

pub async fn get(db: &Db, id: &CompanyId) -> StoreResult<Option<Company>> {
    let row = crate::store::sql::query(
        "SELECT id, name, phone, email, address, currency, time_zone, base_url, accent_color, country,
                language
         FROM companies WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(company_from_row).transpose()
}

/// A signed-in office user as the pages need them.
#[derive(Debug, Clone)]
pub struct ActiveOfficeUser {
    pub email: String,
    pub role: String,
    pub company_name: String,
    pub country: String,
}

/// The office user of a session, unless disabled since.
pub async fn active_office_user(
    db: &Db,
    company_id: &CompanyId,
    user_id: &UserId,
) -> StoreResult<Option<ActiveOfficeUser>> {
    let row: Option<(String, String, String, String)> = crate::store::sql::query_as(
        "SELECT u.email, u.role, c.name, c.country FROM office_users u
         JOIN companies c ON c.id = u.company_id
         WHERE u.id = $1 AND u.company_id = $2 AND u.disabled_at IS NULL",
    )
    .bind(user_id)
    .bind(company_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(
        row.map(|(email, role, company_name, country)| ActiveOfficeUser {
            email,
            role,
            company_name,
            country,
        }),
    )
}

pub async fn find_by_name(db: &Db, name: &str) -> StoreResult<Option<CompanyId>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT id FROM companies WHERE name = $1 ORDER BY created_at LIMIT 1",
    )
    .bind(name)
    .fetch_optional(db.reader())
    .await?)
}

/// Issues a new API key; only its hash is kept. Returns the key itself.
pub async fn issue_api_key(
    tx: &mut Conn,
    company_id: &CompanyId,
    label: &str,
) -> StoreResult<String> {
    let key = format!("fpk_{}", random_token(32));
    crate::store::sql::query(
        "INSERT INTO api_keys (id, company_id, key_hash, label, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(new_id("key"))
    .bind(company_id)
    .bind(sha256_hex(key.as_bytes()))
    .bind(label)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(key)
}

pub async fn revoke_api_keys_labelled(
    tx: &mut Conn,
    company_id: &CompanyId,
    label: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE company_id = $2 AND label = $3 AND revoked_at IS NULL",
    )
    .bind(tx.now())
    .bind(company_id)
    .bind(label)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The company an API key belongs to, if the key is live.
pub async fn company_for_api_key(db: &Db, key: &str) -> StoreResult<Option<CompanyId>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT company_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
    )
    .bind(sha256_hex(key.as_bytes()))
    .fetch_optional(db.reader())
    .await?)
}

pub async fn create_office_user(
    tx: &mut Conn,
    company_id: &CompanyId,
    email: &str,
    password_hash: &str,
    role: &str,
) -> StoreResult<UserId> {
    let id = UserId::new();
    crate::store::sql::query(
        "INSERT INTO office_users (id, company_id, email, password_hash, role, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(email.to_ascii_lowercase())
    .bind(password_hash)
    .bind(role)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(id)
}

// ---------------------------------------------------------------- settings

/// Settings › Configuration › Invoice Settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceSettings {
    pub payment_link_enabled: bool,
    /// `portal` or `public`.
    pub payment_link_target: String,
}

pub async fn invoice_settings(
    db: &Db,
    company_id: &CompanyId,
) -> StoreResult<Option<InvoiceSettings>> {
    let row: Option<(i64, String)> = crate::store::sql::query_as(
        "SELECT payment_link_enabled, payment_link_target FROM companies WHERE id = $1",
    )
    .bind(company_id)
    .fetch_optional(db.reader())
    .await?;
    Ok(row.map(|(enabled, target)| InvoiceSettings {
        payment_link_enabled: enabled != 0,
        payment_link_target: target,
    }))
}

pub async fn set_invoice_settings(
    conn: &mut Conn,
    company_id: &CompanyId,
    s: &InvoiceSettings,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE companies SET payment_link_enabled = $1, payment_link_target = $2 WHERE id = $3",
    )
    .bind(i64::from(s.payment_link_enabled))
    .bind(&s.payment_link_target)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What the Company settings page edits.
#[derive(Debug, Clone)]
pub struct CompanyProfile {
    pub name: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub currency: Currency,
    pub time_zone: String,
    pub accent_color: String,
    pub country: String,
    pub language: crate::domain::i18n::Lang,
}

pub async fn update_profile(
    conn: &mut Conn,
    company_id: &CompanyId,
    p: &CompanyProfile,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE companies SET name = $1, address = $2, phone = $3, email = $4, currency = $5,
                time_zone = $6, accent_color = $7, country = $8, language = $9
         WHERE id = $10",
    )
    .bind(&p.name)
    .bind(&p.address)
    .bind(&p.phone)
    .bind(&p.email)
    .bind(p.currency.code())
    .bind(&p.time_zone)
    .bind(&p.accent_color)
    .bind(&p.country)
    .bind(p.language.code())
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Whether the company has issued any invoice (its currency is then fixed).
pub async fn has_invoices(conn: &mut Conn, company_id: &CompanyId) -> StoreResult<bool> {
    let found: Option<i64> = crate::store::sql::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM invoices WHERE company_id = $1 LIMIT 1",
    )
    .bind(company_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

pub async fn set_logo(
    conn: &mut Conn,
    company_id: &CompanyId,
    logo: Option<(&str, &[u8])>,
) -> StoreResult<()> {
    crate::store::sql::query("UPDATE companies SET logo_type = $1, logo = $2 WHERE id = $3")
        .bind(logo.map(|l| l.0))
        .bind(logo.map(|l| l.1))
        .bind(company_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether the company uploaded a logo (without reading it).
pub async fn has_logo(db: &Db, company_id: &CompanyId) -> StoreResult<bool> {
    let n: i64 = crate::store::sql::query_scalar(
        "SELECT COUNT(*) FROM companies WHERE id = $1 AND logo IS NOT NULL",
    )
    .bind(company_id)
    .fetch_one(db.reader())
    .await?;
    Ok(n > 0)
}

/// The company's logo: its media type and bytes, when one is set.
pub async fn logo(db: &Db, company_id: &CompanyId) -> StoreResult<Option<(String, Vec<u8>)>> {
    let row: Option<(Option<String>, Option<Vec<u8>>)> =
        crate::store::sql::query_as("SELECT logo_type, logo FROM companies WHERE id = $1")
            .bind(company_id)
            .fetch_optional(db.reader())
            .await?;
    Ok(row.and_then(|(kind, bytes)| Some((kind?, bytes?))))
}

// ---------------------------------------------------------------- office users

#[derive(Debug, Clone, Serialize)]
pub struct OfficeUserRow {
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub role: String,
    pub disabled: bool,
}

pub async fn list_office_users(db: &Db, company_id: &CompanyId) -> StoreResult<Vec<OfficeUserRow>> {
    let rows = crate::store::sql::query(
        "SELECT id, email, name, role, disabled_at IS NOT NULL AS disabled
         FROM office_users WHERE company_id = $1 ORDER BY disabled, lower(name), email",
    )
    .bind(company_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(OfficeUserRow {
                id: r.try_get("id")?,
                email: r.try_get("email")?,
                name: r.try_get("name")?,
                role: r.try_get("role")?,
                disabled: r.try_get::<bool, _>("disabled")?,
            })
        })
        .collect()
}

pub async fn office_user(
    db: &Db,
    company_id: &CompanyId,
    user_id: &UserId,
) -> StoreResult<Option<OfficeUserRow>> {
    Ok(list_office_users(db, company_id)
        .await?
        .into_iter()
        .find(|u| u.id == user_id))
}

/// A new office user with a display name. A taken email is `StoreError::Conflict`.
pub async fn create_named_office_user(
    tx: &mut Conn,
    company_id: &CompanyId,
    email: &str,
    name: &str,
    password_hash: &str,
    role: &str,
) -> StoreResult<UserId> {
    let id = create_office_user(tx, company_id, email, password_hash, role).await?;
    crate::store::sql::query("UPDATE office_users SET name = $1 WHERE id = $2 AND company_id = $3")
        .bind(name)
        .bind(&id)
        .bind(company_id)
        .execute(&mut *tx)
        .await?;
    Ok(id)
}

/// Disables a user of this company and ends their sessions. False when there
/// is no such (enabled) user in the company.
pub async fn disable_office_user(
    conn: &mut Conn,
    company_id: &CompanyId,
    user_id: &UserId,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE office_users SET disabled_at = $1
         WHERE id = $2 AND company_id = $3 AND disabled_at IS NULL",
    )
    .bind(conn.now())
    .bind(user_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::store::sql::query(
        "DELETE FROM sessions WHERE kind = 'office' AND principal_id = $1 AND company_id = $2",
    )
    .bind(user_id)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

// ---------------------------------------------------------------- dashboard

/// Open balances grouped by due date: (due date, invoice count, balance sum).
/// Void and paid invoices are left out.
pub async fn open_balances_by_due_date(
    db: &Db,
    company_id: &CompanyId,
) -> StoreResult<Vec<(time::Date, i64, i64)>> {
    Ok(crate::store::sql::query_as(
        "SELECT due_date, count(*), CAST(coalesce(sum(balance), 0) AS BIGINT) FROM invoices
         WHERE company_id = $1 AND status = 'open' AND balance > 0
         GROUP BY due_date ORDER BY due_date",
    )
    .bind(company_id)
    .fetch_all(db.reader())
    .await?)
}

/// Payments received since an instant, by channel: (channel, count, amount sum).
pub async fn payments_by_channel_since(
    db: &Db,
    company_id: &CompanyId,
    since: time::OffsetDateTime,
) -> StoreResult<Vec<(String, i64, i64)>> {
    Ok(crate::store::sql::query_as(
        "SELECT channel, count(*), CAST(coalesce(sum(amount), 0) AS BIGINT) FROM payments
         WHERE company_id = $1 AND created_at >= $2
         GROUP BY channel",
    )
    .bind(company_id)
    .bind(since)
    .fetch_all(db.reader())
    .await?)
}

/// An active office user by email, for signing in: `(id, company_id,
/// password_hash)`.
pub async fn office_login(
    db: &Db,
    email: &str,
) -> StoreResult<Option<(UserId, CompanyId, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT id, company_id, password_hash FROM office_users WHERE email = $1 AND disabled_at IS NULL",
    )
    .bind(email)
    .fetch_optional(db.reader())
    .await?)
}

pub async fn office_password_hash(db: &Db, user_id: &UserId) -> StoreResult<Option<String>> {
    Ok(
        crate::store::sql::query_scalar("SELECT password_hash FROM office_users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(db.reader())
            .await?,
    )
}

pub async fn set_office_password(conn: &mut Conn, user_id: &UserId, hash: &str) -> StoreResult<()> {
    crate::store::sql::query("UPDATE office_users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The company's paper size key (Invoice Settings), if set.
pub async fn paper_size(db: &Db, company_id: &CompanyId) -> StoreResult<Option<String>> {
    Ok(
        crate::store::sql::query_scalar("SELECT paper_size FROM companies WHERE id = $1")
            .bind(company_id)
            .fetch_optional(db.reader())
            .await?,
    )
}

pub async fn set_paper_size(conn: &mut Conn, company_id: &CompanyId, key: &str) -> StoreResult<()> {
    crate::store::sql::query("UPDATE companies SET paper_size = $1 WHERE id = $2")
        .bind(key)
        .bind(company_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The one company of a single-company installation (`None` when there are
/// none or several): whom a page without a token or session is for.
pub async fn sole(db: &Db) -> StoreResult<Option<Company>> {
    let ids: Vec<CompanyId> = crate::store::sql::query_scalar("SELECT id FROM companies LIMIT 2")
        .fetch_all(db.reader())
        .await?;
    match ids.as_slice() {
        [only] => get(db, only).await,
        _ => Ok(None),
    }
}
