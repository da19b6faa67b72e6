//! The office's reads of invoices: the filtered list with its totals, the
//! properties an invoice can be issued for, and an invoice's page.

use super::*;

use crate::domain::ids::{CompanyId, CustomerId, InvoiceId, PaymentId, PropertyId, RefundId};

/// Which invoices the office list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    All,
    Open,
    /// Open and due before today (in the company's time zone).
    Overdue,
    Paid,
    Void,
}

impl StatusFilter {
    pub fn parse(text: &str) -> Option<StatusFilter> {
        Some(match text {
            "" | "all" => StatusFilter::All,
            "open" => StatusFilter::Open,
            "overdue" => StatusFilter::Overdue,
            "paid" => StatusFilter::Paid,
            "void" => StatusFilter::Void,
            _ => return None,
        })
    }

    pub fn key(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Open => "open",
            StatusFilter::Overdue => "overdue",
            StatusFilter::Paid => "paid",
            StatusFilter::Void => "void",
        }
    }

    /// The status column value it needs, if one.
    fn status(self) -> Option<&'static str> {
        match self {
            StatusFilter::All => None,
            StatusFilter::Open | StatusFilter::Overdue => Some("open"),
            StatusFilter::Paid => Some("paid"),
            StatusFilter::Void => Some("void"),
        }
    }
}

pub struct ListFilter<'a> {
    pub status: StatusFilter,
    /// Today where the company is: "overdue" means due before it.
    pub today: Date,
    /// Issue dates from and to, both inclusive.
    pub from: Option<Date>,
    pub to: Option<Date>,
    /// Invoices billed to this customer.
    pub customer_id: Option<&'a str>,
}

/// One row of the office list.
#[derive(Debug, Clone, Serialize)]
pub struct ListRow {
    pub id: InvoiceId,
    pub number: String,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub property_address: String,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub issue_date: Date,
    #[serde(with = "crate::domain::dates::serde_iso")]
    pub due_date: Date,
    pub currency: Currency,
    pub total: i64,
    pub balance: i64,
    pub status: String,
}

/// Totals over every invoice the filter matches, not only the rows shown.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ListTotals {
    pub count: i64,
    /// Sum of totals, void invoices left out: they are not owed.
    pub total: i64,
    /// Sum of the balances of open invoices.
    pub open_balance: i64,
}

/// Newest first (issue date, then creation), at most `limit` rows, with the
/// totals of everything that matched (one query: window aggregates).
pub async fn office_list(
    db: &Db,
    company_id: &CompanyId,
    filter: &ListFilter<'_>,
    limit: i64,
) -> StoreResult<(Vec<ListRow>, ListTotals)> {
    let rows = crate::store::sql::query(
        "SELECT i.id, i.number, i.bill_to_customer_id, c.name AS customer_name, p.address,
                i.issue_date, i.due_date, i.currency, i.total, i.balance, i.status,
                COUNT(*) OVER () AS n_all,
                CAST(SUM(CASE WHEN i.status <> 'void' THEN i.total ELSE 0 END) OVER () AS BIGINT) AS sum_total,
                CAST(SUM(CASE WHEN i.status = 'open' THEN i.balance ELSE 0 END) OVER () AS BIGINT) AS sum_open
         FROM invoices i
         JOIN customers c ON c.id = i.bill_to_customer_id
         JOIN properties p ON p.id = i.property_id
         WHERE i.company_id = $1
           AND ($2 IS NULL OR i.status = $2)
           AND ($3 = 0 OR i.due_date < $4)
           AND ($5 IS NULL OR i.issue_date >= $5)
           AND ($6 IS NULL OR i.issue_date <= $6)
           AND ($7 IS NULL OR i.bill_to_customer_id = $7)
         ORDER BY i.issue_date DESC, i.created_at DESC, i.id DESC
         LIMIT $8",
    )
    .bind(company_id)
    .bind(filter.status.status())
    .bind(i64::from(filter.status == StatusFilter::Overdue))
    .bind(filter.today)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.customer_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    let mut totals = ListTotals::default();
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if out.is_empty() {
            totals = ListTotals {
                count: row.try_get("n_all")?,
                total: row.try_get::<Option<i64>, _>("sum_total")?.unwrap_or(0),
                open_balance: row.try_get::<Option<i64>, _>("sum_open")?.unwrap_or(0),
            };
        }
        let currency: String = row.try_get("currency")?;
        out.push(ListRow {
            id: row.try_get("id")?,
            number: row.try_get("number")?,
            customer_id: row.try_get("bill_to_customer_id")?,
            customer_name: row.try_get("customer_name")?,
            property_address: row.try_get("address")?,
            issue_date: row.try_get("issue_date")?,
            due_date: row.try_get("due_date")?,
            currency: Currency::parse(&currency).ok_or(StoreError::Invalid)?,
            total: row.try_get("total")?,
            balance: row.try_get("balance")?,
            status: row.try_get("status")?,
        });
    }
    Ok((out, totals))
}

/// A property an invoice can be issued for, with who lives there and who pays.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyChoice {
    pub id: PropertyId,
    pub address: String,
    pub bill_to_customer_id: CustomerId,
    pub bill_to_name: String,
    pub resident_name: String,
}

/// The company's properties by address; with `customer_id`, only those the
/// customer lives at or pays for.
pub async fn property_choices(
    db: &Db,
    company_id: &CompanyId,
    customer_id: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<PropertyChoice>> {
    let rows = crate::store::sql::query(
        "SELECT p.id, p.address, p.bill_to_customer_id, b.name AS bill_to_name, r.name AS resident_name
         FROM properties p
         JOIN customers b ON b.id = p.bill_to_customer_id
         JOIN customers r ON r.id = p.resident_customer_id
         WHERE p.company_id = $1
           AND ($2 IS NULL OR p.bill_to_customer_id = $2 OR p.resident_customer_id = $2)
         ORDER BY p.address, p.id LIMIT $3",
    )
    .bind(company_id)
    .bind(customer_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PropertyChoice {
                id: r.try_get("id")?,
                address: r.try_get("address")?,
                bill_to_customer_id: r.try_get("bill_to_customer_id")?,
                bill_to_name: r.try_get("bill_to_name")?,
                resident_name: r.try_get("resident_name")?,
            })
        })
        .collect()
}

/// A payment's share applied to one invoice.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedPayment {
    pub payment_id: PaymentId,
    pub created_at: time::OffsetDateTime,
    pub channel: String,
    pub method: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub check_number: Option<String>,
    /// What this payment applied to this invoice.
    pub amount: i64,
}

/// What a refund gave back to one invoice.
#[derive(Debug, Clone, Serialize)]
pub struct RefundGiven {
    pub refund_id: RefundId,
    pub payment_id: PaymentId,
    pub created_at: time::OffsetDateTime,
    pub reason: String,
    pub amount: i64,
}

/// An invoice with everything its office page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Detail {
    pub invoice: Invoice,
    pub applied: i64,
    pub refunded: i64,
    /// A payment attempt is charging it right now.
    pub locked: bool,
    pub voided_at: Option<time::OffsetDateTime>,
    pub created_at: time::OffsetDateTime,
    pub property_address: String,
    pub bill_to_name: String,
    pub resident_customer_id: CustomerId,
    pub resident_name: String,
    pub payments: Vec<AppliedPayment>,
    pub refunds: Vec<RefundGiven>,
}

impl Detail {
    pub fn change(&self) -> ChangeState {
        ChangeState {
            status: self.invoice.status.clone(),
            applied: self.applied,
            locked: self.locked,
        }
    }
}

pub async fn detail(
    db: &Db,
    company_id: &CompanyId,
    id: &InvoiceId,
) -> StoreResult<Option<Detail>> {
    let Some(invoice) = get(db, company_id, id).await? else {
        return Ok(None);
    };
    let Some(row) = crate::store::sql::query(
        "SELECT i.applied, i.refunded, i.locked_by_attempt IS NOT NULL AS locked, i.voided_at,
                i.created_at, p.address, b.name AS bill_to_name, p.resident_customer_id,
                r.name AS resident_name
         FROM invoices i
         JOIN properties p ON p.id = i.property_id
         JOIN customers b ON b.id = i.bill_to_customer_id
         JOIN customers r ON r.id = p.resident_customer_id
         WHERE i.company_id = $1 AND i.id = $2",
    )
    .bind(company_id)
    .bind(id)
    .fetch_optional(db.reader())
    .await?
    else {
        return Ok(None);
    };
    let payments = crate::store::sql::query(
        "SELECT pa.payment_id, pa.amount, pm.created_at, pm.channel, pm.method, pm.card_brand,
                pm.card_last4, pm.check_number
         FROM payment_allocations pa JOIN payments pm ON pm.id = pa.payment_id
         WHERE pa.invoice_id = $1 AND pm.company_id = $2
         ORDER BY pm.created_at, pm.id",
    )
    .bind(id)
    .bind(company_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok(AppliedPayment {
            payment_id: r.try_get("payment_id")?,
            created_at: r.try_get("created_at")?,
            channel: r.try_get("channel")?,
            method: r.try_get("method")?,
            card_brand: r.try_get("card_brand")?,
            card_last4: r.try_get("card_last4")?,
            check_number: r.try_get("check_number")?,
            amount: r.try_get("amount")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    let refunds = crate::store::sql::query(
        "SELECT ra.refund_id, ra.amount, rf.payment_id, rf.created_at, rf.reason
         FROM refund_allocations ra JOIN refunds rf ON rf.id = ra.refund_id
         WHERE ra.invoice_id = $1 AND rf.company_id = $2 AND rf.status <> 'failed'
         ORDER BY rf.created_at, rf.id",
    )
    .bind(id)
    .bind(company_id)
    .fetch_all(db.reader())
    .await?
    .iter()
    .map(|r| {
        Ok(RefundGiven {
            refund_id: r.try_get("refund_id")?,
            payment_id: r.try_get("payment_id")?,
            created_at: r.try_get("created_at")?,
            reason: r.try_get("reason")?,
            amount: r.try_get("amount")?,
        })
    })
    .collect::<StoreResult<Vec<_>>>()?;
    Ok(Some(Detail {
        invoice,
        applied: row.try_get("applied")?,
        refunded: row.try_get("refunded")?,
        locked: row.try_get("locked")?,
        voided_at: row.try_get("voided_at")?,
        created_at: row.try_get("created_at")?,
        property_address: row.try_get("address")?,
        bill_to_name: row.try_get("bill_to_name")?,
        resident_customer_id: row.try_get("resident_customer_id")?,
        resident_name: row.try_get("resident_name")?,
        payments,
        refunds,
    }))
}
