//! How a charge is spread over the invoices it pays.

use crate::domain::ids::InvoiceId;

/// One invoice's share of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub invoice_id: InvoiceId,
    pub amount: i64,
}

/// Spreads `amount` over invoices in the order given, each receiving at most
/// its balance. Returns the allocations (zero shares left out) and what was
/// left over when the balances were smaller than the amount.
///
/// Balances below zero are treated as zero; the amount must be non-negative.
pub fn allocate(amount: i64, balances: &[(String, i64)]) -> (Vec<Allocation>, i64) {
    let mut remaining = amount.max(0);
    let mut out = Vec::with_capacity(balances.len());
    for (invoice_id, balance) in balances {
        if remaining == 0 {
            break;
        }
        let share = remaining.min((*balance).max(0));
        if share > 0 {
            out.push(Allocation {
                invoice_id: invoice_id.as_str().into(),
                amount: share,
            });
            remaining -= share;
        }
    }
    (out, remaining)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pays_in_order_and_reports_leftover() {
        let b = vec![("a".to_string(), 500), ("b".to_string(), 300)];
        let (allocs, left) = allocate(600, &b);
        assert_eq!(
            allocs,
            vec![
                Allocation {
                    invoice_id: "a".into(),
                    amount: 500
                },
                Allocation {
                    invoice_id: "b".into(),
                    amount: 100
                },
            ]
        );
        assert_eq!(left, 0);
        let (allocs, left) = allocate(1000, &b);
        assert_eq!(allocs.iter().map(|a| a.amount).sum::<i64>(), 800);
        assert_eq!(left, 200);
    }

    #[test]
    fn zero_balances_get_nothing() {
        let b = vec![("a".to_string(), 0), ("b".to_string(), 300)];
        let (allocs, _) = allocate(300, &b);
        assert_eq!(allocs.len(), 1);
        assert_eq!(allocs[0].invoice_id, "b");
    }

    proptest! {
        #[test]
        fn allocations_account_for_every_cent(
            amount in 0i64..10_000_000,
            balances in proptest::collection::vec(-100i64..5_000_000, 0..12),
        ) {
            let b: Vec<(String, i64)> = balances.iter().enumerate()
                .map(|(i, v)| (format!("inv{i}"), *v)).collect();
            let (allocs, left) = allocate(amount, &b);
            let sum: i64 = allocs.iter().map(|a| a.amount).sum();
            // Nothing lost, nothing invented.
            prop_assert_eq!(sum + left, amount);
            prop_assert!(left >= 0);
            for a in &allocs {
                let bal = b.iter().find(|(id, _)| *id == a.invoice_id).unwrap().1;
                prop_assert!(a.amount > 0);
                // No balance goes below zero.
                prop_assert!(bal - a.amount >= 0);
            }
            // A leftover only when every balance is used up.
            let payable: i64 = b.iter().map(|(_, v)| (*v).max(0)).sum();
            if left > 0 {
                prop_assert_eq!(sum, payable);
            } else {
                prop_assert!(sum <= payable);
            }
        }
    }
}
