//! Money: integer minor units plus an ISO currency. No floats anywhere.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A lowercase ISO 4217 code that fieldpay knows how to format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(&'static str);

impl Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Currency::try_from(text).map_err(serde::de::Error::custom)
    }
}

/// In the API's schema: one of the codes fieldpay knows.
impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A lowercase ISO 4217 currency code."))
            .enum_values(Some(CURRENCIES.iter().map(|(code, _, _)| *code)))
            .into()
    }
}

impl utoipa::ToSchema for Currency {}

/// (code, symbol, minor digits)
const CURRENCIES: &[(&str, &str, u32)] = &[
    ("usd", "$", 2),
    ("cad", "CA$", 2),
    ("aud", "A$", 2),
    ("eur", "€", 2),
    ("gbp", "£", 2),
    ("mxn", "MX$", 2),
    ("jpy", "¥", 0),
];

impl Currency {
    pub const USD: Currency = Currency("usd");

    pub fn parse(code: &str) -> Option<Currency> {
        let lower = code.to_ascii_lowercase();
        CURRENCIES
            .iter()
            .find(|(c, _, _)| *c == lower)
            .map(|(c, _, _)| Currency(c))
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    /// Digits after the decimal point (2 for dollars, 0 for yen).
    pub fn minor_digits(self) -> u32 {
        self.info().1
    }

    fn info(self) -> (&'static str, u32) {
        CURRENCIES
            .iter()
            .find(|(c, _, _)| *c == self.0)
            .map(|(_, s, d)| (*s, *d))
            .unwrap_or(("", 2))
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Currency::parse(&value).ok_or_else(|| format!("unsupported currency '{value}'"))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An amount in minor units (cents) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn new(minor: i64, currency: Currency) -> Money {
        Money { minor, currency }
    }

    /// Adds two amounts of one currency; `None` on overflow or mixed currencies.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        if self.currency != other.currency {
            return None;
        }
        Some(Money::new(
            self.minor.checked_add(other.minor)?,
            self.currency,
        ))
    }

    /// "$1,234.56", "-$3.00", "¥500".
    pub fn format(self) -> String {
        let (symbol, digits) = self.currency.info();
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let scale = 10u64.pow(digits);
        let whole = group_thousands(abs / scale);
        if digits == 0 {
            format!("{sign}{symbol}{whole}")
        } else {
            let frac = abs % scale;
            format!(
                "{sign}{symbol}{whole}.{frac:0width$}",
                width = digits as usize
            )
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.format())
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Parses an amount typed by a person ("125.00", "$1,250.5", "80", ".07") into
/// minor units exactly, without floats. `digits` is the currency's
/// `minor_digits()`. The error is a sentence that says what to fix.
pub fn parse_amount(text: &str, digits: u32) -> Result<i64, &'static str> {
    const NOT_A_NUMBER: &str = "Write the amount as a number such as 125.00.";
    let t = text.trim();
    let t = t.strip_prefix('$').unwrap_or(t).trim();
    if t.is_empty() {
        return Err("Enter an amount.");
    }
    if t.starts_with('-') || (t.starts_with('(') && t.ends_with(')')) {
        return Err("The amount must not be negative.");
    }
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let whole: String = if whole.contains(',') {
        // Thousands separators only where they belong: 1,250 not 12,50.
        let groups: Vec<&str> = whole.split(',').collect();
        let grouped = groups.first().is_some_and(|g| (1..=3).contains(&g.len()))
            && groups[1..].iter().all(|g| g.len() == 3);
        if !grouped {
            return Err(NOT_A_NUMBER);
        }
        groups.concat()
    } else {
        whole.to_string()
    };
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(&whole) || !digits_only(frac) || (whole.is_empty() && frac.is_empty()) {
        return Err(NOT_A_NUMBER);
    }
    if frac.len() > digits as usize {
        return Err(if digits == 0 {
            "This currency has no cents: enter a whole amount."
        } else {
            "Enter at most two decimals (cents), like 12.35."
        });
    }
    if whole.len() > 12 {
        return Err("The amount is too large.");
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| "The amount is too large.")?
    };
    let mut frac_minor: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| NOT_A_NUMBER)?
    };
    for _ in frac.len()..digits as usize {
        frac_minor *= 10;
    }
    whole
        .checked_mul(10i64.pow(digits))
        .and_then(|w| w.checked_add(frac_minor))
        .ok_or("The amount is too large.")
}

/// Minor units as a person types them back into a form: "12.50", "700".
pub fn plain_amount(minor: i64, digits: u32) -> String {
    if digits == 0 {
        return minor.to_string();
    }
    let scale = 10i64.pow(digits);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let scale = scale as u64;
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = digits as usize
    )
}

/// Parses an amount given as a JSON value: a non-negative integer of minor
/// units. Floats, strings and negative numbers are refused with a reason.
pub fn minor_units_from_json(value: &serde_json::Value) -> Result<i64, &'static str> {
    match value {
        serde_json::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i < 0 {
                    Err("must not be negative")
                } else {
                    Ok(i)
                }
            } else if n.is_u64() {
                Err("is too large")
            } else {
                Err("must be an integer number of minor units (cents), not a decimal")
            }
        }
        _ => Err("must be an integer number of minor units (cents)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_usd_with_grouping() {
        let c = Currency::USD;
        assert_eq!(Money::new(12500, c).format(), "$125.00");
        assert_eq!(Money::new(5, c).format(), "$0.05");
        assert_eq!(Money::new(123456789, c).format(), "$1,234,567.89");
        assert_eq!(Money::new(-300, c).format(), "-$3.00");
        assert_eq!(Money::new(0, c).format(), "$0.00");
    }

    #[test]
    fn formats_zero_decimal_currency() {
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(1500, jpy).format(), "¥1,500");
    }

    #[test]
    fn refuses_mixed_currency_and_overflow() {
        let usd = Money::new(1, Currency::USD);
        let eur = Money::new(1, Currency::parse("eur").unwrap());
        assert_eq!(usd.checked_add(eur), None);
        assert_eq!(Money::new(i64::MAX, Currency::USD).checked_add(usd), None);
    }

    #[test]
    fn json_amounts_must_be_non_negative_integers() {
        use serde_json::json;
        assert_eq!(minor_units_from_json(&json!(125)), Ok(125));
        assert!(minor_units_from_json(&json!(1.5)).is_err());
        assert!(minor_units_from_json(&json!(-1)).is_err());
        assert!(minor_units_from_json(&json!("12")).is_err());
        assert!(minor_units_from_json(&json!(u64::MAX)).is_err());
    }

    #[test]
    fn typed_amounts_parse_exactly() {
        assert_eq!(parse_amount("125.00", 2), Ok(12500));
        assert_eq!(parse_amount(" $1,250.5 ", 2), Ok(125050));
        assert_eq!(parse_amount("80", 2), Ok(8000));
        assert_eq!(parse_amount(".07", 2), Ok(7));
        assert_eq!(parse_amount("0", 2), Ok(0));
        assert_eq!(parse_amount("500", 0), Ok(500));
        for bad in [
            "12.345",
            "-5",
            "(5)",
            "12,34.00",
            "1e3",
            "",
            "9999999999999",
            "1.2.3",
            "abc",
        ] {
            assert!(parse_amount(bad, 2).is_err(), "{bad}");
        }
        assert!(parse_amount("5.5", 0).is_err());
        assert_eq!(Currency::USD.minor_digits(), 2);
        assert_eq!(Currency::parse("jpy").unwrap().minor_digits(), 0);
    }

    #[test]
    fn plain_amounts_round_trip() {
        assert_eq!(plain_amount(1250, 2), "12.50");
        assert_eq!(plain_amount(5, 2), "0.05");
        assert_eq!(plain_amount(700, 0), "700");
        for minor in [0i64, 1, 99, 100, 123456] {
            assert_eq!(parse_amount(&plain_amount(minor, 2), 2), Ok(minor));
        }
    }

    #[test]
    fn unknown_currency_is_refused() {
        assert!(Currency::parse("xyz").is_none());
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_ok());
        assert!(serde_json::from_str::<Currency>("\"zzz\"").is_err());
    }
}
