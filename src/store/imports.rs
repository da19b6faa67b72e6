//! What CSV import reads and writes beyond the shared store functions:
//! records by their external ids.

use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, PropertyId};
use crate::store::{Conn, StoreResult};

pub struct Existing {
    pub id: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
    pub language: Option<crate::domain::i18n::Lang>,
}

pub async fn customer_by_external(
    conn: &mut Conn,
    company_id: &CompanyId,
    external_id: &str,
) -> StoreResult<Option<Existing>> {
    let row = crate::store::sql::query(
        "SELECT id, name, email, phone, billing_address, language FROM customers
         WHERE company_id = $1 AND external_id = $2",
    )
    .bind(company_id)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Existing {
            id: r.try_get("id")?,
            name: r.try_get("name")?,
            email: r.try_get("email")?,
            phone: r.try_get("phone")?,
            billing_address: r.try_get("billing_address")?,
            language: crate::store::customers::language_of(r.try_get("language")?),
        })
    })
    .transpose()
}

pub async fn customer_id_by_external(
    conn: &mut Conn,
    company_id: &CompanyId,
    external_id: &str,
) -> StoreResult<Option<(String, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT id, name FROM customers WHERE company_id = $1 AND external_id = $2",
    )
    .bind(company_id)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn customer_name(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &CustomerId,
) -> StoreResult<String> {
    let name: Option<String> = crate::store::sql::query_scalar(
        "SELECT name FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(name.unwrap_or_default())
}

pub async fn set_customer_external(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &CustomerId,
    external_id: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE customers SET external_id = $1 WHERE company_id = $2 AND id = $3",
    )
    .bind(external_id)
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// (id, address, resident, bill_to)
pub async fn property_by_external(
    conn: &mut Conn,
    company_id: &CompanyId,
    external_id: &str,
) -> StoreResult<Option<(String, String, String, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT id, address, resident_customer_id, bill_to_customer_id FROM properties
         WHERE company_id = $1 AND external_id = $2",
    )
    .bind(company_id)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn set_property_external(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &PropertyId,
    external_id: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE properties SET external_id = $1 WHERE company_id = $2 AND id = $3",
    )
    .bind(external_id)
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Properties where the customer lives or which it pays for: (id, bill_to).
pub async fn properties_of(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<(String, String, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT id, resident_customer_id, bill_to_customer_id FROM properties
         WHERE company_id = $1 AND (resident_customer_id = $2 OR bill_to_customer_id = $2)
         ORDER BY id",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(&mut *conn)
    .await?)
}

pub async fn invoice_exists(
    conn: &mut Conn,
    company_id: &CompanyId,
    number: &str,
) -> StoreResult<bool> {
    let found: Option<i64> = crate::store::sql::query_scalar(
        "SELECT CAST(1 AS BIGINT) FROM invoices WHERE company_id = $1 AND number = $2",
    )
    .bind(company_id)
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

pub async fn invoice_external_taken(
    conn: &mut Conn,
    company_id: &CompanyId,
    external_id: &str,
) -> StoreResult<Option<String>> {
    Ok(crate::store::sql::query_scalar(
        "SELECT number FROM invoices WHERE company_id = $1 AND external_id = $2",
    )
    .bind(company_id)
    .bind(external_id)
    .fetch_optional(&mut *conn)
    .await?)
}

pub async fn set_invoice_external(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &InvoiceId,
    external_id: &str,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE invoices SET external_id = $1 WHERE company_id = $2 AND id = $3",
    )
    .bind(external_id)
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records what was paid elsewhere before the import.
pub async fn apply_paid_elsewhere(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &InvoiceId,
    amount: i64,
) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE invoices SET applied = applied + $1, balance = balance - $1,
            status = CASE WHEN balance - $1 = 0 THEN 'paid' ELSE status END
         WHERE company_id = $2 AND id = $3 AND status = 'open' AND balance >= $1",
    )
    .bind(amount)
    .bind(company_id)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Keeps the company's invoice counter past an imported numeric number.
pub async fn bump_counter(conn: &mut Conn, company_id: &CompanyId, next: i64) -> StoreResult<()> {
    crate::store::sql::query(
        "UPDATE companies SET next_invoice_number = $1
         WHERE id = $2 AND next_invoice_number < $1",
    )
    .bind(next)
    .bind(company_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
