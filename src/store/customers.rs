//! Customers and their properties.

use serde::Serialize;
use sqlx::Row;

use super::{Conn, Db, StoreResult, now};
use crate::crypto::new_id;

#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NewCustomer {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Property {
    pub id: String,
    pub address: String,
    pub resident_customer_id: String,
    pub bill_to_customer_id: String,
}

pub async fn create(tx: &mut Conn, company_id: &str, c: &NewCustomer) -> StoreResult<Customer> {
    let id = new_id("cus");
    sqlx::query(
        "INSERT INTO customers (id, company_id, name, email, phone, billing_address, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.billing_address)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(Customer {
        id,
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        billing_address: c.billing_address.clone(),
    })
}

fn from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Customer> {
    Ok(Customer {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        billing_address: row.try_get("billing_address")?,
    })
}

pub async fn get(db: &Db, company_id: &str, id: &str) -> StoreResult<Option<Customer>> {
    let row = sqlx::query(
        "SELECT id, name, email, phone, billing_address FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Customers whose name, email, phone, billing or service address contains `q`.
pub async fn search(db: &Db, company_id: &str, q: &str, limit: i64) -> StoreResult<Vec<Customer>> {
    let pattern = format!("%{}%", q.trim().to_lowercase());
    let rows = sqlx::query(
        "SELECT id, name, email, phone, billing_address FROM customers c
         WHERE company_id = $1 AND (
            $2 = '%%'
            OR lower(name) LIKE $2 OR lower(coalesce(email, '')) LIKE $2
            OR coalesce(phone, '') LIKE $2 OR lower(coalesce(billing_address, '')) LIKE $2
            OR EXISTS (SELECT 1 FROM properties p WHERE p.company_id = c.company_id
                       AND (p.resident_customer_id = c.id OR p.bill_to_customer_id = c.id)
                       AND lower(p.address) LIKE $2))
         ORDER BY name, id LIMIT $3",
    )
    .bind(company_id)
    .bind(pattern)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn create_property(
    tx: &mut Conn,
    company_id: &str,
    address: &str,
    resident_customer_id: &str,
    bill_to_customer_id: &str,
) -> StoreResult<Property> {
    let id = new_id("prop");
    sqlx::query(
        "INSERT INTO properties (id, company_id, address, resident_customer_id, bill_to_customer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(address)
    .bind(resident_customer_id)
    .bind(bill_to_customer_id)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    Ok(Property {
        id,
        address: address.to_string(),
        resident_customer_id: resident_customer_id.to_string(),
        bill_to_customer_id: bill_to_customer_id.to_string(),
    })
}

/// Whether every id names a customer of the company.
pub async fn all_belong(tx: &mut Conn, company_id: &str, ids: &[&str]) -> StoreResult<bool> {
    for id in ids {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM customers WHERE company_id = $1 AND id = $2")
                .bind(company_id)
                .bind(*id)
                .fetch_optional(&mut *tx)
                .await?;
        if found.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn get_property(
    tx: &mut Conn,
    company_id: &str,
    id: &str,
) -> StoreResult<Option<Property>> {
    let row = sqlx::query(
        "SELECT id, address, resident_customer_id, bill_to_customer_id FROM properties
         WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| {
        Ok(Property {
            id: r.try_get("id")?,
            address: r.try_get("address")?,
            resident_customer_id: r.try_get("resident_customer_id")?,
            bill_to_customer_id: r.try_get("bill_to_customer_id")?,
        })
    })
    .transpose()
}

pub async fn set_processor_customer(
    tx: &mut Conn,
    customer_id: &str,
    processor_customer_id: &str,
) -> StoreResult<()> {
    sqlx::query("UPDATE customers SET processor_customer_id = $1 WHERE id = $2")
        .bind(processor_customer_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
