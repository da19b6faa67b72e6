//! What a new company has set up so far, read from its own data: the setup
//! checklist on the dashboard ticks each item from these facts.

use super::{Db, StoreResult};
use crate::domain::ids::CompanyId;

/// The facts behind each checklist item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupFacts {
    pub has_address: bool,
    pub has_phone: bool,
    pub has_logo: bool,
    /// Stripe keys saved (test or live).
    pub stripe: bool,
    /// A template or alert rule saved, changed or deleted by someone, or
    /// the review confirmed (audit entries `setup.reviewed`).
    pub messages_reviewed: bool,
    pub customers: i64,
    /// A message carrying a payment link queued by the office (a one-click
    /// send) or by an alert.
    pub link_sent: bool,
}

pub async fn facts(db: &Db, company_id: &CompanyId) -> StoreResult<SetupFacts> {
    let row = crate::store::sql::query(
        "SELECT
            (SELECT address FROM companies WHERE id = $1) AS address,
            (SELECT phone FROM companies WHERE id = $1) AS phone,
            (SELECT COUNT(*) FROM companies WHERE id = $1 AND logo IS NOT NULL) AS logo,
            (SELECT COUNT(*) FROM processor_settings WHERE company_id = $1 AND kind = 'stripe') AS stripe,
            (SELECT COUNT(*) FROM audit_log WHERE company_id = $1
                AND (action = 'setup.reviewed'
                     OR action LIKE 'email_template.%'
                     OR action LIKE 'sms_template.%'
                     OR action LIKE 'invoice_alert.%'
                     OR action = 'receipt_settings.update')) AS reviewed,
            (SELECT COUNT(*) FROM customers WHERE company_id = $1) AS customers,
            (SELECT COUNT(*) FROM outbox WHERE company_id = $1
                AND (cause LIKE 'send_now:%' OR cause LIKE 'alert:%')) AS sent",
    )
    .bind(company_id)
    .fetch_one(db.reader())
    .await?;
    let text = |name: &str| -> StoreResult<bool> {
        Ok(row
            .try_get::<Option<String>, _>(name)?
            .is_some_and(|s| !s.trim().is_empty()))
    };
    let count = |name: &str| -> StoreResult<i64> { Ok(row.try_get::<i64, _>(name)?) };
    Ok(SetupFacts {
        has_address: text("address")?,
        has_phone: text("phone")?,
        has_logo: count("logo")? > 0,
        stripe: count("stripe")? > 0,
        messages_reviewed: count("reviewed")? > 0,
        customers: count("customers")?,
        link_sent: count("sent")? > 0,
    })
}
