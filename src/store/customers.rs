//! Customers and their properties.

use serde::Serialize;

use super::{Conn, Db, StoreResult};
use crate::domain::ids::{CardId, CompanyId, CustomerId, PropertyId};

/// A customer `c` matches the search: `$2` the lowercased text, `$3` its
/// `LIKE` pattern, `$4` the digits of a phone-like text (or NULL).
macro_rules! matches_search {
    () => {
        "(lower(c.name) LIKE $3 ESCAPE '\\'
            OR lower(coalesce(c.email, '')) LIKE $3 ESCAPE '\\'
            OR lower(coalesce(c.phone, '')) LIKE $3 ESCAPE '\\'
            OR replace(replace(replace(replace(replace(replace(coalesce(c.phone, ''),
                 ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', '') LIKE $4
            OR lower(coalesce(c.billing_address, '')) LIKE $3 ESCAPE '\\'
            OR EXISTS (SELECT 1 FROM properties p WHERE p.company_id = c.company_id
                       AND (p.resident_customer_id = c.id OR p.bill_to_customer_id = c.id)
                       AND lower(p.address) LIKE $3 ESCAPE '\\')
            OR EXISTS (SELECT 1 FROM invoices i WHERE i.company_id = c.company_id
                       AND i.bill_to_customer_id = c.id AND lower(i.number) = $2))"
    };
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Customer {
    #[schema(value_type = String)]
    pub id: CustomerId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
    /// `"en"`, `"es"`, or `null`: the browser's language, then the company's.
    pub language: Option<Lang>,
}

pub use crate::domain::customer::NewCustomer;
use crate::domain::i18n::Lang;

/// A stored language code as a `Lang` (an unknown code reads as none).
pub fn language_of(code: Option<String>) -> Option<Lang> {
    code.as_deref().and_then(Lang::parse)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Property {
    #[schema(value_type = String)]
    pub id: PropertyId,
    pub address: String,
    #[schema(value_type = String)]
    pub resident_customer_id: CustomerId,
    #[schema(value_type = String)]
    pub bill_to_customer_id: CustomerId,
}

pub async fn create(
    tx: &mut Conn,
    company_id: &CompanyId,
    c: &NewCustomer,
) -> StoreResult<Customer> {
    let id = CustomerId::new();
    crate::store::sql::query(
        "INSERT INTO customers (id, company_id, name, email, phone, billing_address, language, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.billing_address)
    .bind(c.language.map(Lang::code))
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(Customer {
        id,
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        billing_address: c.billing_address.clone(),
        language: c.language,
    })
}

fn from_row(row: &crate::store::sql::Row) -> StoreResult<Customer> {
    Ok(Customer {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
        billing_address: row.try_get("billing_address")?,
        language: language_of(row.try_get("language")?),
    })
}

pub async fn get(
    db: &Db,
    company_id: &CompanyId,
    id: &CustomerId,
) -> StoreResult<Option<Customer>> {
    let mut conn = db.reader().acquire().await?;
    get_on(&mut conn, company_id, id).await
}

/// `get` on a connection of the caller's.
pub async fn get_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    id: &CustomerId,
) -> StoreResult<Option<Customer>> {
    let row = crate::store::sql::query(
        "SELECT id, name, email, phone, billing_address, language FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Customers whose name, email, phone, billing or service address contains `q`.
pub async fn search(
    db: &Db,
    company_id: &CompanyId,
    q: &str,
    limit: i64,
) -> StoreResult<Vec<Customer>> {
    let text = q.trim().to_lowercase();
    let rows = crate::store::sql::query(concat!(
        "SELECT id, name, email, phone, billing_address, language FROM customers c
         WHERE c.company_id = $1 AND ($2 = '' OR ",
        matches_search!(),
        ") ORDER BY c.name, c.id LIMIT $5"
    ))
    .bind(company_id)
    .bind(&text)
    .bind(like_pattern(&text))
    .bind(phone_digits_pattern(&text))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The office's search box: customers matching `q`, each with the invoice
/// number it matched by (if it did). Nothing for an empty `q`.
pub async fn quick_search(db: &Db, company_id: &CompanyId, q: &str) -> StoreResult<Vec<SearchHit>> {
    let text = q.trim().to_lowercase();
    let rows = crate::store::sql::query(concat!(
        "SELECT c.id, c.name, coalesce(c.email, '') AS email, coalesce(c.phone, '') AS phone,
                coalesce((SELECT 'Invoice ' || i.number FROM invoices i
                          WHERE i.company_id = c.company_id AND i.bill_to_customer_id = c.id
                            AND lower(i.number) = $2 LIMIT 1), '') AS detail
         FROM customers c
         WHERE c.company_id = $1 AND $2 <> '' AND ",
        matches_search!(),
        " ORDER BY c.name, c.id LIMIT $5"
    ))
    .bind(company_id)
    .bind(&text)
    .bind(like_pattern(&text))
    .bind(phone_digits_pattern(&text))
    .bind(100_i64)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(SearchHit {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub id: CustomerId,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub detail: String,
}

pub async fn create_property(
    tx: &mut Conn,
    company_id: &CompanyId,
    address: &str,
    resident_customer_id: &CustomerId,
    bill_to_customer_id: &CustomerId,
) -> StoreResult<Property> {
    let id = PropertyId::new();
    crate::store::sql::query(
        "INSERT INTO properties (id, company_id, address, resident_customer_id, bill_to_customer_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(company_id)
    .bind(address)
    .bind(resident_customer_id)
    .bind(bill_to_customer_id)
    .bind(tx.now())
    .execute(&mut *tx)
    .await?;
    Ok(Property {
        id,
        address: address.to_string(),
        resident_customer_id: resident_customer_id.into(),
        bill_to_customer_id: bill_to_customer_id.into(),
    })
}

/// Whether every id names a customer of the company.
pub async fn all_belong(
    tx: &mut Conn,
    company_id: &CompanyId,
    ids: &[&CustomerId],
) -> StoreResult<bool> {
    for id in ids {
        let found: Option<i64> = crate::store::sql::query_scalar(
            "SELECT CAST(1 AS BIGINT) FROM customers WHERE company_id = $1 AND id = $2",
        )
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
    company_id: &CompanyId,
    id: &PropertyId,
) -> StoreResult<Option<Property>> {
    let row = crate::store::sql::query(
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

/// The customer's id at the processor (a Stripe Customer), kept when a card
/// was first saved there.
pub async fn processor_customer(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<String>> {
    processor_customer_from(db.reader(), company_id, customer_id).await
}

/// `processor_customer` on the caller's connection (a payment's write job).
pub async fn processor_customer_on(
    conn: &mut Conn,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<String>> {
    processor_customer_from(conn, company_id, customer_id).await
}

async fn processor_customer_from(
    on: impl crate::store::sql::Executor<'_>,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<String>> {
    let found: Option<Option<String>> = crate::store::sql::query_scalar(
        "SELECT processor_customer_id FROM customers WHERE company_id = $1 AND id = $2",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_optional(on)
    .await?;
    Ok(found.flatten().filter(|c| !c.is_empty()))
}

pub async fn set_processor_customer(
    tx: &mut Conn,
    customer_id: &CustomerId,
    processor_customer_id: &str,
) -> StoreResult<()> {
    crate::store::sql::query("UPDATE customers SET processor_customer_id = $1 WHERE id = $2")
        .bind(processor_customer_id)
        .bind(customer_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

// ------------------------------------------------------------ office pages

/// A customer in the office list, with what it owes.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
    /// Sum of the balances of open invoices billed to the customer (minor units).
    pub open_balance: i64,
    pub open_invoices: i64,
}

/// `%text%` for `LIKE … ESCAPE '\'`, lowercased, with `%`, `_` and `\` taken literally.
pub fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for ch in q.trim().to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out.push('%');
    out
}

/// For a query that looks like (part of) a phone number, `%digits%` to match
/// against the stored phone with its punctuation removed: "512-555-0142"
/// finds "(512) 555-0142".
pub fn phone_digits_pattern(q: &str) -> Option<String> {
    let q = q.trim();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let phone_like = q
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    (phone_like && digits.len() >= 3).then(|| format!("%{digits}%"))
}

/// The company's customers matching `q` (name, email, phone, billing or
/// service address, or an exact invoice number), with open balances; every
/// customer when `q` is empty. Ordered by name.
pub async fn list_with_balances(
    db: &Db,
    company_id: &CompanyId,
    q: &str,
    limit: i64,
) -> StoreResult<Vec<CustomerSummary>> {
    let text = q.trim().to_lowercase();
    let rows = crate::store::sql::query(concat!(
        "SELECT c.id, c.name, c.email, c.phone, c.billing_address,
                (SELECT CAST(coalesce(sum(i.balance), 0) AS BIGINT) FROM invoices i
                 WHERE i.bill_to_customer_id = c.id AND i.company_id = c.company_id
                   AND i.status = 'open') AS open_balance,
                (SELECT count(*) FROM invoices i
                 WHERE i.bill_to_customer_id = c.id AND i.company_id = c.company_id
                   AND i.status = 'open') AS open_invoices
         FROM customers c
         WHERE c.company_id = $1 AND ($2 = '' OR ",
        matches_search!(),
        ") ORDER BY c.name, c.id LIMIT $5"
    ))
    .bind(company_id)
    .bind(&text)
    .bind(like_pattern(&text))
    .bind(phone_digits_pattern(&text))
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CustomerSummary {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                billing_address: r.try_get("billing_address")?,
                open_balance: r.try_get("open_balance")?,
                open_invoices: r.try_get("open_invoices")?,
            })
        })
        .collect()
}

/// What the customer owes: the balances of open invoices billed to it.
pub async fn open_balance(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<i64> {
    Ok(crate::store::sql::query_scalar(
        "SELECT CAST(coalesce(sum(balance), 0) AS BIGINT) FROM invoices
         WHERE bill_to_customer_id = $1 AND company_id = $2 AND status = 'open'",
    )
    .bind(customer_id)
    .bind(company_id)
    .fetch_one(db.reader())
    .await?)
}

/// Changes a customer's contact details; `false` when no such customer.
pub async fn update(
    tx: &mut Conn,
    company_id: &CompanyId,
    id: &CustomerId,
    c: &NewCustomer,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE customers SET name = $1, email = $2, phone = $3, billing_address = $4,
                language = $5
         WHERE company_id = $6 AND id = $7",
    )
    .bind(&c.name)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.billing_address)
    .bind(c.language.map(Lang::code))
    .bind(company_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Phone numbers not (yet) in E.164, with the country of their company:
/// rows written before numbers were checked when written.
pub async fn phones_not_in_e164(
    db: &Db,
) -> StoreResult<Vec<(CompanyId, String, CustomerId, String)>> {
    Ok(crate::store::sql::query_as(
        "SELECT c.company_id, co.country, c.id, c.phone FROM customers c
         JOIN companies co ON co.id = c.company_id
         WHERE c.phone IS NOT NULL AND c.phone <> ''
           AND (substr(c.phone, 1, 1) <> '+' OR c.phone LIKE '% %' OR c.phone LIKE '%-%'
                OR c.phone LIKE '%(%' OR c.phone LIKE '%.%')
         ORDER BY c.company_id, c.id",
    )
    .fetch_all(db.reader())
    .await?)
}

/// Rewrites one customer's phone as parsed (E.164), if it is still `old`.
pub async fn set_phone(tx: &mut Conn, id: &CustomerId, old: &str, new: &str) -> StoreResult<()> {
    crate::store::sql::query("UPDATE customers SET phone = $1 WHERE id = $2 AND phone = $3")
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// A customer's id and name, for choosing one from a list.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerChoice {
    pub id: CustomerId,
    pub name: String,
}

/// The company's customers by name, for a select.
pub async fn choices(
    db: &Db,
    company_id: &CompanyId,
    limit: i64,
) -> StoreResult<Vec<CustomerChoice>> {
    let rows: Vec<(String, String)> = crate::store::sql::query_as(
        "SELECT id, name FROM customers WHERE company_id = $1 ORDER BY name, id LIMIT $2",
    )
    .bind(company_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name)| CustomerChoice {
            id: id.into(),
            name,
        })
        .collect())
}

/// A property with the names of its resident and of the customer responsible
/// for billing it.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyView {
    pub id: PropertyId,
    pub address: String,
    pub resident_customer_id: CustomerId,
    pub resident_name: String,
    pub bill_to_customer_id: CustomerId,
    pub bill_to_name: String,
}

const PROPERTY_VIEW: &str =
    "SELECT p.id, p.address, p.resident_customer_id, r.name AS resident_name,
        p.bill_to_customer_id, b.name AS bill_to_name
     FROM properties p
     JOIN customers r ON r.id = p.resident_customer_id AND r.company_id = p.company_id
     JOIN customers b ON b.id = p.bill_to_customer_id AND b.company_id = p.company_id";

fn property_view_from_row(r: &crate::store::sql::Row) -> StoreResult<PropertyView> {
    Ok(PropertyView {
        id: r.try_get("id")?,
        address: r.try_get("address")?,
        resident_customer_id: r.try_get("resident_customer_id")?,
        resident_name: r.try_get("resident_name")?,
        bill_to_customer_id: r.try_get("bill_to_customer_id")?,
        bill_to_name: r.try_get("bill_to_name")?,
    })
}

/// Properties where the customer lives or which it pays for.
pub async fn properties_of(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<PropertyView>> {
    let sql = format!(
        "{PROPERTY_VIEW}
         WHERE p.company_id = $1 AND (p.resident_customer_id = $2 OR p.bill_to_customer_id = $2)
         ORDER BY p.address, p.id"
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(customer_id)
        .fetch_all(db.reader())
        .await?;
    rows.iter().map(property_view_from_row).collect()
}

pub async fn property_view(
    db: &Db,
    company_id: &CompanyId,
    id: &PropertyId,
) -> StoreResult<Option<PropertyView>> {
    let sql = format!("{PROPERTY_VIEW} WHERE p.company_id = $1 AND p.id = $2");
    let row = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(id)
        .fetch_optional(db.reader())
        .await?;
    row.as_ref().map(property_view_from_row).transpose()
}

/// Changes a property's address and the customer responsible for billing it.
/// Invoices already issued keep the bill-to they were issued with.
pub async fn update_property(
    tx: &mut Conn,
    company_id: &CompanyId,
    id: &PropertyId,
    address: &str,
    bill_to_customer_id: &CustomerId,
) -> StoreResult<bool> {
    let done = crate::store::sql::query(
        "UPDATE properties SET address = $1, bill_to_customer_id = $2
         WHERE company_id = $3 AND id = $4
           AND EXISTS (SELECT 1 FROM customers WHERE company_id = $3 AND id = $2)",
    )
    .bind(address)
    .bind(bill_to_customer_id)
    .bind(company_id)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// A saved card as the office sees it: never more than brand, last 4 and expiry.
#[derive(Debug, Clone, Serialize)]
pub struct CardOnFile {
    pub id: CardId,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
    pub is_default: bool,
}

pub async fn saved_cards(
    db: &Db,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Vec<CardOnFile>> {
    let rows: Vec<(CardId, String, String, i64, i64, i64)> = crate::store::sql::query_as(
        "SELECT id, brand, last4, exp_month, exp_year, is_default FROM payment_methods
         WHERE company_id = $1 AND customer_id = $2 AND removed_at IS NULL
         ORDER BY is_default DESC, created_at DESC",
    )
    .bind(company_id)
    .bind(customer_id)
    .fetch_all(db.reader())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, brand, last4, exp_month, exp_year, is_default)| CardOnFile {
                id,
                brand,
                last4,
                exp_month,
                exp_year,
                is_default: is_default != 0,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_pattern("  Lena "), "%lena%");
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(like_pattern(""), "%%");
    }

    #[test]
    fn phone_queries_match_on_digits() {
        assert_eq!(
            phone_digits_pattern("512-555-0142"),
            Some("%5125550142%".into())
        );
        assert_eq!(phone_digits_pattern("(512) 555"), Some("%512555%".into()));
        assert_eq!(phone_digits_pattern("12"), None);
        assert_eq!(phone_digits_pattern("Suite 100"), None);
        assert_eq!(phone_digits_pattern("1001"), Some("%1001%".into()));
    }
}
