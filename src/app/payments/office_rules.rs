//! The pure rules of payments the company records: spreading a payment
//! over invoices in order and checking shares given one by one.

use super::MAX_INVOICES_PER_PAYMENT;
use crate::app::Refusal;
use crate::domain::{Allocation, allocate};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    NothingSelected,
    ZeroAmount,
    /// The amount exceeds the selected balances (`total`).
    Overpayment {
        total: i64,
    },
}

/// Spreads a cash or check payment over the selected balances in the order
/// shown. `None` pays them in full; a smaller amount pays them in order; more
/// than their total is refused.
pub fn plan_office_payment(
    amount: Option<i64>,
    balances: &[(String, i64)],
) -> Result<Vec<Allocation>, PlanError> {
    if balances.is_empty() {
        return Err(PlanError::NothingSelected);
    }
    let total: i64 = balances.iter().map(|(_, b)| (*b).max(0)).sum();
    let amount = amount.unwrap_or(total);
    if amount <= 0 {
        return Err(PlanError::ZeroAmount);
    }
    if amount > total {
        return Err(PlanError::Overpayment { total });
    }
    let (shares, left) = allocate(amount, balances);
    debug_assert_eq!(left, 0);
    Ok(shares)
}

/// Checks shares given one by one: at least one, each more than zero, one
/// per invoice, adding up to `amount`.
pub fn check_exact_shares(amount: i64, shares: &[Allocation]) -> Result<(), Refusal> {
    if shares.is_empty() {
        return Err(Refusal::invalid(
            "allocations",
            "Allocate the payment to at least one invoice.",
        ));
    }
    if shares.len() > MAX_INVOICES_PER_PAYMENT {
        return Err(Refusal::invalid(
            "allocations",
            "At most 100 invoices can be paid at once.",
        ));
    }
    for (i, s) in shares.iter().enumerate() {
        if s.invoice_id.is_empty() || s.invoice_id.len() > 64 {
            return Err(Refusal::invalid(
                "allocations",
                format!("allocations[{i}]: invoice_id must name one of the customer's invoices."),
            ));
        }
        if s.amount <= 0 {
            return Err(Refusal::invalid(
                "allocations",
                format!("allocations[{i}]: the amount must be more than zero."),
            ));
        }
        if shares[..i].iter().any(|t| t.invoice_id == s.invoice_id) {
            return Err(Refusal::invalid(
                "allocations",
                format!(
                    "allocations[{i}]: invoice {} is listed twice; give each invoice one allocation.",
                    s.invoice_id
                ),
            ));
        }
    }
    let sum = shares
        .iter()
        .try_fold(0i64, |sum, s| sum.checked_add(s.amount));
    if amount <= 0 {
        return Err(Refusal::invalid(
            "amount",
            "The amount must be more than zero.",
        ));
    }
    if sum != Some(amount) {
        return Err(Refusal::invalid(
            "amount",
            format!(
                "amount is {amount} but the allocations add up to {}: they must add up to the amount.",
                sum.map_or_else(
                    || "more than can be paid at once".to_string(),
                    |s| s.to_string()
                )
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn office_payment_plans() {
        let b = vec![("a".to_string(), 10000), ("b".to_string(), 5000)];
        let full = plan_office_payment(None, &b).unwrap();
        assert_eq!(
            full.iter().map(|s| s.amount).collect::<Vec<_>>(),
            [10000, 5000]
        );
        let part = plan_office_payment(Some(12000), &b).unwrap();
        assert_eq!(
            part,
            vec![
                Allocation {
                    invoice_id: "a".into(),
                    amount: 10000
                },
                Allocation {
                    invoice_id: "b".into(),
                    amount: 2000
                }
            ]
        );
        assert_eq!(
            plan_office_payment(Some(15001), &b),
            Err(PlanError::Overpayment { total: 15000 })
        );
        assert_eq!(plan_office_payment(Some(0), &b), Err(PlanError::ZeroAmount));
        assert_eq!(
            plan_office_payment(None, &[]),
            Err(PlanError::NothingSelected)
        );
    }

    fn share(id: &str, amount: i64) -> Allocation {
        Allocation {
            invoice_id: id.into(),
            amount,
        }
    }

    #[test]
    fn exact_shares_add_up_and_name_each_invoice_once() {
        assert!(check_exact_shares(300, &[share("a", 100), share("b", 200)]).is_ok());
        let field = |r: Result<(), Refusal>| match r {
            Err(Refusal::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(check_exact_shares(300, &[])), "allocations");
        assert_eq!(
            field(check_exact_shares(300, &[share("a", 100), share("b", 100)])),
            "amount"
        );
        assert_eq!(
            field(check_exact_shares(200, &[share("a", 100), share("a", 100)])),
            "allocations"
        );
        assert_eq!(
            field(check_exact_shares(100, &[share("a", 0), share("b", 100)])),
            "allocations"
        );
        assert_eq!(
            field(check_exact_shares(
                1,
                &[share("a", i64::MAX), share("b", i64::MAX)]
            )),
            "amount"
        );
    }

    proptest! {
        #[test]
        fn office_plans_pay_in_order_and_never_overpay(
            amount in proptest::option::of(0i64..2_000_000),
            balances in proptest::collection::vec(1i64..500_000, 1..8),
        ) {
            let b: Vec<(String, i64)> = balances.iter().enumerate().map(|(i, v)| (format!("inv{i}"), *v)).collect();
            let total: i64 = balances.iter().sum();
            match plan_office_payment(amount, &b) {
                Ok(shares) => {
                    let sum: i64 = shares.iter().map(|s| s.amount).sum();
                    prop_assert_eq!(sum, amount.unwrap_or(total));
                    prop_assert!(sum <= total);
                }
                Err(PlanError::Overpayment { total: t }) => {
                    prop_assert_eq!(t, total);
                    prop_assert!(amount.unwrap_or(0) > total);
                }
                Err(PlanError::ZeroAmount) => prop_assert_eq!(amount, Some(0)),
                Err(PlanError::NothingSelected) => prop_assert!(false),
            }
        }
    }
}
