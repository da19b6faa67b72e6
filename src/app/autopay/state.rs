//! What a customer is shown about their autopay: the card it charges and
//! the next charge (which invoices, how much, which day), by the same rules
//! the autopay run follows.

use time::Date;

use crate::app::App;
use crate::domain::autopay::charged_on;
use crate::domain::ids::{CompanyId, CustomerId};
use crate::store::autopay as store;
use crate::store::{StoreResult, companies};

use super::scheduled_day;

/// The next charge autopay will make for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextCharge {
    pub date: Date,
    /// The invoices' numbers, in due-date order.
    pub numbers: Vec<String>,
    /// Their balances together, in minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// The card charged (a property's own card, or the enrollment's).
    pub brand: String,
    pub last4: String,
}

/// A customer's autopay while it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutopayState {
    pub brand: String,
    pub last4: String,
    /// `None` when no open invoice is waiting for a charge.
    pub next: Option<NextCharge>,
}

/// The customer's autopay, or `None` when it is off.
pub async fn state(
    app: &App,
    company_id: &CompanyId,
    customer_id: &CustomerId,
) -> StoreResult<Option<AutopayState>> {
    let Some(enrollment) = store::enrollment(app.db.reader(), company_id, customer_id).await?
    else {
        return Ok(None);
    };
    let Some(company) = companies::get(&app.db, company_id).await? else {
        return Ok(None);
    };
    let today = app.clock.today_in(&company.time_zone);
    let settings = store::settings(app.db.reader(), company_id).await?;
    let open = store::customer_open_enrolled(&app.db, company_id, customer_id).await?;
    let next = open
        .iter()
        .map(|inv| (charged_on(scheduled_day(inv, settings.timing), today), inv))
        .min_by_key(|(day, inv)| (*day, inv.due_date))
        .map(|(day, first)| {
            let same: Vec<&store::OpenInvoice> = open
                .iter()
                .filter(|inv| {
                    charged_on(scheduled_day(inv, settings.timing), today) == day
                        && inv.method_id == first.method_id
                        && inv.currency == first.currency
                })
                .collect();
            NextCharge {
                date: day,
                numbers: same.iter().map(|i| i.number.clone()).collect(),
                amount: same.iter().map(|i| i.balance).sum(),
                currency: first.currency.clone(),
                brand: first.brand.clone(),
                last4: first.last4.clone(),
            }
        });
    Ok(Some(AutopayState {
        brand: enrollment.brand,
        last4: enrollment.last4,
        next,
    }))
}
