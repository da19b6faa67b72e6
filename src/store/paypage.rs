//! Everything the quick payment page shows, read by token hash in one query
//! (link, company, customer, open invoices, properties and lines), plus one for
//! saved cards and autopay when the customer has any.

use serde::Serialize;
use sqlx::Row;
use time::Date;

use super::{Db, StoreResult, now};
use crate::money::Currency;
use crate::store::invoices::Line;

#[derive(Debug, Clone, Serialize)]
pub struct PageCompany {
    pub id: String,
    pub name: String,
    pub phone: String,
    #[serde(skip)]
    pub accent_color: String,
    #[serde(skip)]
    pub currency: Currency,
    #[serde(skip)]
    pub time_zone: String,
    #[serde(skip)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageCustomer {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageInvoice {
    pub id: String,
    pub number: String,
    #[serde(with = "crate::dates::serde_iso")]
    pub issue_date: Date,
    #[serde(with = "crate::dates::serde_iso")]
    pub due_date: Date,
    pub total: i64,
    pub balance: i64,
    pub currency: Currency,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageProperty {
    pub id: String,
    pub address: String,
    pub billed_on_behalf_of_resident: bool,
    pub invoices: Vec<PageInvoice>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageMethod {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageAutopay {
    pub enrolled: bool,
    pub method_id: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PayPage {
    #[serde(skip)]
    pub link_id: String,
    pub company: PageCompany,
    pub customer: PageCustomer,
    pub properties: Vec<PageProperty>,
    pub saved_methods: Vec<PageMethod>,
    pub autopay: PageAutopay,
}

impl PayPage {
    pub fn open_invoices(&self) -> impl Iterator<Item = &PageInvoice> {
        self.properties.iter().flat_map(|p| p.invoices.iter())
    }
}

/// The page a live token hash opens, or `None` (unknown, revoked, expired).
pub async fn load(db: &Db, token_hash: &str) -> StoreResult<Option<PayPage>> {
    let rows = sqlx::query(
        "SELECT l.id AS link_id, l.company_id, l.customer_id, c.name AS customer_name,
                co.name AS company_name, co.phone, co.accent_color, co.currency AS company_currency,
                co.time_zone, co.base_url,
                (SELECT COUNT(*) FROM payment_methods pm
                  WHERE pm.customer_id = l.customer_id AND pm.removed_at IS NULL) AS method_count,
                i.id AS invoice_id, i.number, i.issue_date, i.due_date, i.total, i.balance, i.currency,
                p.id AS property_id, p.address, p.resident_customer_id,
                li.description, li.quantity, li.unit_price, li.amount
         FROM payment_links l
         JOIN customers c ON c.id = l.customer_id
         JOIN companies co ON co.id = l.company_id
         LEFT JOIN invoices i ON i.bill_to_customer_id = l.customer_id AND i.company_id = l.company_id
                              AND i.status = 'open'
         LEFT JOIN properties p ON p.id = i.property_id
         LEFT JOIN invoice_lines li ON li.invoice_id = i.id
         WHERE l.token_hash = $1 AND l.revoked_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $2)
         ORDER BY p.address, p.id, i.due_date, i.number, i.id, li.position",
    )
    .bind(token_hash)
    .bind(now())
    .fetch_all(db.reader())
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let customer_id: String = first.try_get("customer_id")?;
    let currency: String = first.try_get("company_currency")?;
    let mut page = PayPage {
        link_id: first.try_get("link_id")?,
        company: PageCompany {
            id: first.try_get("company_id")?,
            name: first.try_get("company_name")?,
            phone: first.try_get("phone")?,
            accent_color: first.try_get("accent_color")?,
            currency: Currency::parse(&currency).unwrap_or(Currency::USD),
            time_zone: first.try_get("time_zone")?,
            base_url: first.try_get("base_url")?,
        },
        customer: PageCustomer {
            id: customer_id.clone(),
            name: first.try_get("customer_name")?,
        },
        properties: Vec::new(),
        saved_methods: Vec::new(),
        autopay: PageAutopay {
            enrolled: false,
            method_id: None,
        },
    };
    for row in &rows {
        let Some(invoice_id) = row.try_get::<Option<String>, _>("invoice_id")? else {
            continue;
        };
        let property_id: String = row.try_get("property_id")?;
        if page
            .properties
            .last()
            .map(|p| p.id != property_id)
            .unwrap_or(true)
        {
            let resident: String = row.try_get("resident_customer_id")?;
            page.properties.push(PageProperty {
                id: property_id,
                address: row.try_get("address")?,
                billed_on_behalf_of_resident: resident != customer_id,
                invoices: Vec::new(),
            });
        }
        let Some(property) = page.properties.last_mut() else {
            continue;
        };
        if property
            .invoices
            .last()
            .map(|i| i.id != invoice_id)
            .unwrap_or(true)
        {
            let currency: String = row.try_get("currency")?;
            property.invoices.push(PageInvoice {
                id: invoice_id,
                number: row.try_get("number")?,
                issue_date: row.try_get("issue_date")?,
                due_date: row.try_get("due_date")?,
                total: row.try_get("total")?,
                balance: row.try_get("balance")?,
                currency: Currency::parse(&currency).unwrap_or(Currency::USD),
                lines: Vec::new(),
            });
        }
        if let Some(description) = row.try_get::<Option<String>, _>("description")?
            && let Some(invoice) = property.invoices.last_mut()
        {
            invoice.lines.push(Line {
                description,
                quantity: row.try_get("quantity")?,
                unit_price: row.try_get("unit_price")?,
                amount: row.try_get("amount")?,
            });
        }
    }
    let method_count: i64 = first.try_get("method_count")?;
    if method_count == 0 {
        return Ok(Some(page));
    }
    let methods = sqlx::query(
        "SELECT m.id, m.brand, m.last4, m.exp_month, m.exp_year, e.id AS enrollment
         FROM payment_methods m
         LEFT JOIN autopay_enrollments e ON e.payment_method_id = m.id AND e.cancelled_at IS NULL
         WHERE m.customer_id = $1 AND m.removed_at IS NULL
         ORDER BY m.created_at DESC",
    )
    .bind(&customer_id)
    .fetch_all(db.reader())
    .await?;
    for row in &methods {
        let id: String = row.try_get("id")?;
        if row.try_get::<Option<String>, _>("enrollment")?.is_some() {
            page.autopay = PageAutopay {
                enrolled: true,
                method_id: Some(id.clone()),
            };
        }
        page.saved_methods.push(PageMethod {
            id,
            brand: row.try_get("brand")?,
            last4: row.try_get("last4")?,
            exp_month: row.try_get("exp_month")?,
            exp_year: row.try_get("exp_year")?,
        });
    }
    Ok(Some(page))
}
