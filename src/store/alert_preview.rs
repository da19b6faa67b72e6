//! What an alert rule will reach: the company's open invoices on either side
//! of the rule's catch-up window (`crate::domain::alerts::column_window`)
//! that the rule has not messaged yet. Read by the rule page's preview and
//! by the catch-up of a new or edited rule; the jobs loop's own queueing
//! reads `super::alerts::due_invoices`.

use time::Date;

use super::{Conn, StoreResult};

use crate::domain::ids::{AlertRuleId, CompanyId};

/// An open invoice with its bill-to customer, as a rule reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReachedInvoice {
    pub invoice_id: String,
    pub number: String,
    pub customer_id: String,
    pub customer_name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub issue_date: Date,
    pub due_date: Date,
    pub balance: i64,
}

/// Which side of the window to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Date column after the bound, soonest first, at most this many.
    After { limit: i64 },
    /// Date column at or before the bound, oldest first, all of them.
    AtOrBefore,
}

/// The company's open invoices (balance > 0) whose date column (issue date
/// when `by_issue_date`, else due date) lies on `side` of `bound`, and that
/// rule `rule_id` (none for a rule not yet saved) has not queued a message for (its outbox cause
/// `alert:{rule_id}:{invoice_id}`, looked up by the customer's messages).
pub async fn open_invoices(
    conn: &mut Conn,
    company_id: &CompanyId,
    rule_id: Option<&AlertRuleId>,
    by_issue_date: bool,
    bound: Date,
    side: Side,
) -> StoreResult<Vec<ReachedInvoice>> {
    let column = if by_issue_date {
        "issue_date"
    } else {
        "due_date"
    };
    let (compare, limit) = match side {
        Side::After { limit } => (">", limit),
        Side::AtOrBefore => ("<=", i64::MAX),
    };
    let sql = format!(
        "SELECT i.id, i.number, i.bill_to_customer_id, c.name, c.email, c.phone,
                i.issue_date, i.due_date, i.balance
         FROM invoices i
         JOIN customers c ON c.id = i.bill_to_customer_id AND c.company_id = i.company_id
         WHERE i.company_id = $1 AND i.status = 'open' AND i.balance > 0
           AND i.{column} {compare} $3
           AND NOT EXISTS (
               SELECT 1 FROM outbox o
               WHERE o.company_id = i.company_id AND o.customer_id = i.bill_to_customer_id
                 AND o.cause = 'alert:' || CAST($2 AS TEXT) || ':' || i.id)
         ORDER BY i.{column}, i.number
         LIMIT $4"
    );
    let rows = crate::store::sql::query(super::dynamic_sql(sql))
        .bind(company_id)
        .bind(rule_id.map_or("", |id| id.as_str()))
        .bind(bound)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ReachedInvoice {
                invoice_id: r.try_get("id")?,
                number: r.try_get("number")?,
                customer_id: r.try_get("bill_to_customer_id")?,
                customer_name: r.try_get("name")?,
                email: r.try_get("email")?,
                phone: r.try_get("phone")?,
                issue_date: r.try_get("issue_date")?,
                due_date: r.try_get("due_date")?,
                balance: r.try_get("balance")?,
            })
        })
        .collect()
}
