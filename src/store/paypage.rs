//! Everything the quick payment page shows, read by token hash in one query
//! (link, company, customer, open invoices, properties and lines), plus one for
//! saved cards and autopay when the customer has any.

use serde::Serialize;
use time::Date;

use super::{Db, StoreError, StoreResult};
use crate::domain::ids::CompanyId;
use crate::domain::money::Currency;
use crate::store::invoices::Line;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageCompany {
    pub id: CompanyId,
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
    /// A logo is set (served at `/logo/{id}`).
    #[serde(skip)]
    pub has_logo: bool,
    /// Which card fields the page shows (read in the page's one query).
    #[serde(skip)]
    pub processor: crate::domain::processor::PageProcessor,
    /// The company's default language for customer pages.
    #[serde(skip)]
    pub language: crate::domain::i18n::Lang,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageCustomer {
    #[schema(value_type = String)]
    pub id: crate::domain::ids::CustomerId,
    pub name: String,
    /// The language the customer reads, if set.
    #[serde(skip)]
    pub language: Option<crate::domain::i18n::Lang>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageInvoice {
    pub id: String,
    pub number: String,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub issue_date: Date,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub due_date: Date,
    pub total: i64,
    pub balance: i64,
    pub currency: Currency,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageProperty {
    pub id: String,
    pub address: String,
    pub billed_on_behalf_of_resident: bool,
    pub invoices: Vec<PageInvoice>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageMethod {
    pub id: String,
    pub brand: String,
    pub last4: String,
    pub exp_month: i64,
    pub exp_year: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PageAutopay {
    pub enrolled: bool,
    pub method_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PayPage {
    #[serde(skip)]
    pub link_id: crate::domain::ids::LinkId,
    pub company: PageCompany,
    pub customer: PageCustomer,
    pub properties: Vec<PageProperty>,
    pub saved_methods: Vec<PageMethod>,
    pub autopay: PageAutopay,
    /// The customer has an autopay enrollment that is not cancelled (on a
    /// saved card or not): only then does the page need to read what
    /// autopay will charge next.
    #[serde(skip)]
    pub has_enrollment: bool,
    /// `test` while the company's processor moves no money (the sandbox or
    /// Stripe test keys), else `live`.
    pub mode: crate::domain::processor::Mode,
}

impl PayPage {
    pub fn open_invoices(&self) -> impl Iterator<Item = &PageInvoice> {
        self.properties.iter().flat_map(|p| p.invoices.iter())
    }
}

/// An open invoice as the page query's JSON carries it: an array of these
/// fields in this order (serde reads a struct from an array by position),
/// which SQLite builds and serde reads for less than an object's keys.
#[derive(serde::Deserialize)]
struct InvoiceRow {
    id: String,
    number: String,
    issue_date: String,
    due_date: String,
    total: i64,
    balance: i64,
    currency: String,
    property_id: String,
    address: String,
    resident: String,
    /// `[position, description, quantity, unit_price, amount]`, in any
    /// order: sorted here, which costs less than either database's sort for
    /// an aggregate's `ORDER BY`.
    lines: Vec<(i64, String, i64, i64, i64)>,
}

/// The page query around its invoices column, which each dialect builds
/// with its own JSON functions. Whether the customer has saved cards or an
/// enrollment is an `EXISTS`: a count needed an aggregate, which
/// PostgreSQL sets up anew on every execution.
macro_rules! page_sql {
    ($invoices:literal) => {
        concat!(
            "SELECT l.id AS link_id, l.company_id, l.customer_id, c.name AS customer_name,
                c.language AS customer_language, co.language AS company_language,
                co.name AS company_name, co.phone, co.accent_color, co.currency AS company_currency,
                co.time_zone, co.base_url, ps.kind AS processor_kind,
                CAST(CASE WHEN co.logo_type IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_logo,
                ps.publishable_key AS processor_publishable_key,
                CAST(CASE WHEN EXISTS (SELECT 1 FROM payment_methods pm
                  WHERE pm.customer_id = l.customer_id AND pm.removed_at IS NULL)
                  THEN 1 ELSE 0 END AS BIGINT) AS has_methods,
                CAST(CASE WHEN EXISTS (SELECT 1 FROM autopay_enrollments ae
                  WHERE ae.company_id = l.company_id AND ae.customer_id = l.customer_id
                    AND ae.cancelled_at IS NULL)
                  THEN 1 ELSE 0 END AS BIGINT) AS has_enrollment, ",
            $invoices,
            " AS invoices
         FROM payment_links l
         JOIN customers c ON c.id = l.customer_id
         JOIN companies co ON co.id = l.company_id
         LEFT JOIN processor_settings ps ON ps.company_id = l.company_id
         WHERE l.token_hash = $1 AND l.revoked_at IS NULL AND (l.expires_at IS NULL OR l.expires_at > $2)"
        )
    };
}

/// The page query: `$1` token hash, `$2` now.
pub const PAGE_SQL: &str = page_sql!(
    "(SELECT json_group_array(json_array(
                        i.id, i.number, i.issue_date, i.due_date, i.total, i.balance,
                        i.currency, p.id, p.address, p.resident_customer_id,
                        (SELECT json_group_array(
                                    json_array(li.position, li.description, li.quantity, li.unit_price, li.amount))
                                  FROM invoice_lines li WHERE li.invoice_id = i.id)))
                   FROM invoices i JOIN properties p ON p.id = i.property_id
                  WHERE i.bill_to_customer_id = l.customer_id AND i.company_id = l.company_id
                    AND i.status = 'open')"
);

/// `PAGE_SQL` for PostgreSQL. Lines come in any order, as on SQLite (a
/// sort per invoice cost PostgreSQL more than sorting them here).
const PAGE_SQL_PG: &str = page_sql!(
    "(SELECT coalesce(json_agg(json_build_array(
                        i.id, i.number, i.issue_date, i.due_date, i.total, i.balance,
                        i.currency, p.id, p.address, p.resident_customer_id,
                        (SELECT coalesce(json_agg(
                                    json_build_array(li.position, li.description, li.quantity, li.unit_price, li.amount)), '[]'::json)
                                  FROM invoice_lines li WHERE li.invoice_id = i.id))), '[]'::json)::text
                   FROM invoices i JOIN properties p ON p.id = i.property_id
                  WHERE i.bill_to_customer_id = l.customer_id AND i.company_id = l.company_id
                    AND i.status = 'open')"
);

/// The page a live token hash opens, or `None` (unknown, revoked, expired).
///
/// One row: the open invoices with their lines come back as one JSON array.
/// Each row sqlx hands over crosses threads, so one row instead of one per
/// line is most of this page's speed.
pub async fn load(db: &Db, token_hash: &str) -> StoreResult<Option<PayPage>> {
    let row = crate::store::sql::query(PAGE_SQL)
        .pg(PAGE_SQL_PG)
        .bind(token_hash)
        .bind(db.now())
        .fetch_optional(db.point_reader())
        .await?;
    let Some(first) = row else {
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
            has_logo: first.try_get::<i64, _>("has_logo")? == 1,
            processor: crate::domain::processor::PageProcessor::from_settings(
                first
                    .try_get::<Option<String>, _>("processor_kind")?
                    .as_deref()
                    .and_then(crate::domain::processor::ProcessorKind::parse),
                first.try_get("processor_publishable_key")?,
            ),
            language: crate::store::customers::language_of(first.try_get("company_language")?)
                .unwrap_or_default(),
        },
        customer: PageCustomer {
            id: customer_id.clone().into(),
            name: first.try_get("customer_name")?,
            language: crate::store::customers::language_of(first.try_get("customer_language")?),
        },
        properties: Vec::new(),
        saved_methods: Vec::new(),
        autopay: PageAutopay {
            enrolled: false,
            method_id: None,
        },
        has_enrollment: first.try_get::<i64, _>("has_enrollment")? == 1,
        mode: crate::domain::processor::Mode::Test,
    };
    page.mode = page.company.processor.mode();
    let json: String = first.try_get("invoices")?;
    let mut rows: Vec<InvoiceRow> = serde_json::from_str(&json).map_err(|_| StoreError::Invalid)?;
    // Properties by address, invoices by due date then number.
    rows.sort_by(|a, b| {
        (&a.address, &a.property_id, &a.due_date, &a.number).cmp(&(
            &b.address,
            &b.property_id,
            &b.due_date,
            &b.number,
        ))
    });
    for mut inv in rows {
        inv.lines.sort_unstable_by_key(|line| line.0);
        if page
            .properties
            .last()
            .map(|p| p.id != inv.property_id)
            .unwrap_or(true)
        {
            page.properties.push(PageProperty {
                id: inv.property_id.clone(),
                address: inv.address.clone(),
                billed_on_behalf_of_resident: inv.resident != customer_id,
                invoices: Vec::new(),
            });
        }
        let (Some(issue_date), Some(due_date), Some(currency)) = (
            crate::domain::dates::parse(&inv.issue_date),
            crate::domain::dates::parse(&inv.due_date),
            Currency::parse(&inv.currency),
        ) else {
            return Err(StoreError::Invalid);
        };
        if let Some(property) = page.properties.last_mut() {
            property.invoices.push(PageInvoice {
                id: inv.id,
                number: inv.number,
                issue_date,
                due_date,
                total: inv.total,
                balance: inv.balance,
                currency,
                lines: inv
                    .lines
                    .into_iter()
                    .map(|(_, description, quantity, unit_price, amount)| Line {
                        description,
                        quantity,
                        unit_price,
                        amount,
                    })
                    .collect(),
            });
        }
    }
    if first.try_get::<i64, _>("has_methods")? == 0 {
        return Ok(Some(page));
    }
    let methods = crate::store::sql::query(
        "SELECT m.id, m.brand, m.last4, m.exp_month, m.exp_year, e.id AS enrollment
         FROM payment_methods m
         LEFT JOIN autopay_enrollments e ON e.payment_method_id = m.id AND e.cancelled_at IS NULL
         WHERE m.customer_id = $1 AND m.removed_at IS NULL
         ORDER BY m.created_at DESC",
    )
    .bind(&customer_id)
    .fetch_all(db.point_reader())
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
