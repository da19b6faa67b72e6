//! Invoice lines and totals.

use super::text::{FieldError, optional_single_line, single_line};

/// A line as entered: quantity is a whole number of units, price in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    pub description: String,
    pub quantity: i64,
    pub unit_price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    NoLines,
    TooManyLines,
    EmptyDescription(usize),
    /// A line break or other control character, or more than 500 characters.
    BadDescription(usize, String),
    NonPositiveQuantity(usize),
    NegativePrice(usize),
    TooLarge(usize),
}

impl LineError {
    /// The JSON field the error is about, and a message that says what to fix.
    pub fn describe(&self) -> (String, String) {
        match self {
            LineError::NoLines => ("lines".into(), "an invoice needs at least one line".into()),
            LineError::TooManyLines => ("lines".into(), "an invoice has at most 500 lines".into()),
            LineError::EmptyDescription(i) => (
                format!("lines[{i}].description"),
                "each line needs a description".into(),
            ),
            LineError::BadDescription(i, why) => (format!("lines[{i}].description"), why.clone()),
            LineError::NonPositiveQuantity(i) => (
                format!("lines[{i}].quantity"),
                "quantity must be a whole number of at least 1".into(),
            ),
            LineError::NegativePrice(i) => (
                format!("lines[{i}].unit_price"),
                "unit_price must not be negative".into(),
            ),
            LineError::TooLarge(i) => (format!("lines[{i}]"), "the amounts are too large".into()),
        }
    }
}

pub const DESCRIPTION_MAX: usize = 500;
pub const NUMBER_MAX: usize = 40;

/// An invoice number as written: one line of at most 40 characters; empty
/// means "the next number".
pub fn check_number(field: &'static str, text: &str) -> Result<Option<String>, FieldError> {
    optional_single_line(field, Some(text), NUMBER_MAX)
}

/// Computes each line's amount and the invoice total, refusing any overflow.
pub fn price_lines(lines: &[LineInput]) -> Result<(Vec<i64>, i64), LineError> {
    if lines.is_empty() {
        return Err(LineError::NoLines);
    }
    if lines.len() > 500 {
        return Err(LineError::TooManyLines);
    }
    let mut amounts = Vec::with_capacity(lines.len());
    let mut total: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        if line.description.trim().is_empty() {
            return Err(LineError::EmptyDescription(i));
        }
        if let Err(e) = single_line("description", &line.description, DESCRIPTION_MAX) {
            return Err(LineError::BadDescription(i, e.message));
        }
        if line.quantity <= 0 {
            return Err(LineError::NonPositiveQuantity(i));
        }
        if line.unit_price < 0 {
            return Err(LineError::NegativePrice(i));
        }
        // Keep totals far below i64::MAX so sums of many invoices stay exact.
        const LIMIT: i64 = 1_000_000_000_000;
        let amount = line
            .quantity
            .checked_mul(line.unit_price)
            .filter(|a| *a <= LIMIT)
            .ok_or(LineError::TooLarge(i))?;
        total = total
            .checked_add(amount)
            .filter(|t| *t <= LIMIT)
            .ok_or(LineError::TooLarge(i))?;
        amounts.push(amount);
    }
    Ok((amounts, total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn line(q: i64, p: i64) -> LineInput {
        LineInput {
            description: "Quarterly pest control".into(),
            quantity: q,
            unit_price: p,
        }
    }

    #[test]
    fn totals_lines() {
        let (amounts, total) = price_lines(&[line(2, 4500), line(1, 12500)]).unwrap();
        assert_eq!(amounts, vec![9000, 12500]);
        assert_eq!(total, 21500);
    }

    #[test]
    fn descriptions_and_numbers_are_one_line() {
        let broken = LineInput {
            description: "Spray\r\nBcc: x".into(),
            ..line(1, 1)
        };
        match price_lines(&[line(1, 1), broken]) {
            Err(LineError::BadDescription(1, why)) => assert!(why.contains("one line"), "{why}"),
            other => panic!("{other:?}"),
        }
        let long = LineInput {
            description: "x".repeat(501),
            ..line(1, 1)
        };
        assert!(matches!(
            price_lines(&[long]),
            Err(LineError::BadDescription(0, _))
        ));
        assert_eq!(
            check_number("number", " A-7 ").unwrap().as_deref(),
            Some("A-7")
        );
        assert_eq!(check_number("number", "").unwrap(), None);
        assert!(check_number("number", "A\u{0}7").is_err());
        assert!(check_number("number", &"9".repeat(41)).is_err());
    }

    #[test]
    fn refuses_bad_lines() {
        assert_eq!(price_lines(&[]), Err(LineError::NoLines));
        assert_eq!(
            price_lines(&[line(0, 1)]),
            Err(LineError::NonPositiveQuantity(0))
        );
        assert_eq!(
            price_lines(&[line(1, 1), line(1, -1)]),
            Err(LineError::NegativePrice(1))
        );
        assert_eq!(
            price_lines(&[line(i64::MAX, 2)]),
            Err(LineError::TooLarge(0))
        );
        let blank = LineInput {
            description: "  ".into(),
            quantity: 1,
            unit_price: 1,
        };
        assert_eq!(price_lines(&[blank]), Err(LineError::EmptyDescription(0)));
    }

    proptest! {
        #[test]
        fn total_is_exact_sum(lines in proptest::collection::vec((1i64..1000, 0i64..1_000_000), 1..50)) {
            let input: Vec<LineInput> = lines.iter().map(|(q, p)| line(*q, *p)).collect();
            let (amounts, total) = price_lines(&input).unwrap();
            let expected: i64 = lines.iter().map(|(q, p)| q * p).sum();
            prop_assert_eq!(total, expected);
            prop_assert_eq!(amounts.iter().sum::<i64>(), total);
        }
    }
}
