//! What an autopay message's cause adds to the template variables: the
//! card, the amount, the date, the decline reason.

use crate::app::App;
use crate::domain::dates;
use crate::domain::ids::{AttemptId, CardId, CompanyId, InvoiceId};
use crate::domain::money::{Currency, Money};
use crate::store::StoreResult;
use crate::store::autopay as store;

/// What an autopay message's cause adds to the template variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CauseVars {
    pub card_brand: String,
    pub card_last4: String,
    pub card_expiry: String,
    pub autopay_amount: String,
    pub autopay_date: String,
    pub decline_reason: String,
}

fn fill_card(v: &mut CauseVars, card: Option<(String, String, i64, i64)>) {
    if let Some((brand, last4, m, y)) = card {
        v.card_brand = brand;
        v.card_last4 = last4;
        v.card_expiry = expiry_text(m, y);
    }
}

fn expiry_text(exp_month: i64, exp_year: i64) -> String {
    format!("{exp_month:02}/{:02}", exp_year.rem_euclid(100))
}

/// The variables an autopay cause fills: `autopay_notice:{invoice}:{date}`,
/// `autopay_declined:{attempt}`, `card_expiring:{method}:{yyyy-mm}`;
/// `None` for other causes.
pub async fn vars_for_cause(
    app: &App,
    company_id: &CompanyId,
    cause: &str,
) -> StoreResult<Option<CauseVars>> {
    let db = &app.db;
    let (kind, rest) = cause.split_once(':').unwrap_or((cause, ""));
    let mut v = CauseVars::default();
    match kind {
        "autopay_notice" => {
            let Some((invoice_id, day)) = rest.rsplit_once(':') else {
                return Ok(None);
            };
            let invoice_id = InvoiceId::from(invoice_id);
            fill_card(
                &mut v,
                store::card_for_invoice(db, company_id, &invoice_id).await?,
            );
            if let Some(inv) = crate::store::invoices::get(db, company_id, &invoice_id).await? {
                v.autopay_amount = Money::new(inv.balance, inv.currency).format();
            }
            v.autopay_date = dates::parse(day).map(dates::display).unwrap_or_default();
        }
        "autopay_declined" => {
            let Some(info) = store::decline_info(db, company_id, &AttemptId::from(rest)).await?
            else {
                return Ok(None);
            };
            fill_card(&mut v, store::card(db, company_id, &info.method_id).await?);
            let currency = Currency::parse(&info.currency).unwrap_or(Currency::USD);
            v.autopay_amount = Money::new(info.amount, currency).format();
            v.autopay_date = info.next_try_on.map(dates::display).unwrap_or_default();
            v.decline_reason = crate::processor::decline_message(
                info.decline_code.as_deref().unwrap_or("card_declined"),
            );
        }
        "card_expiring" => {
            let method_id = CardId::from(rest.split(':').next().unwrap_or(""));
            fill_card(&mut v, store::card(db, company_id, &method_id).await?);
        }
        _ => return Ok(None),
    }
    Ok(Some(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_texts() {
        assert_eq!(expiry_text(3, 2027), "03/27");
        assert_eq!(expiry_text(12, 2030), "12/30");
    }
}
