//! The sandbox processor's test cards: the fields checked as a processor's
//! card form checks them, and the behaviour each test number stands for.

use serde::Deserialize;

/// What a test card does when charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Behaviour {
    Succeed,
    Decline(&'static str),
    /// Saves fine; every charge is declined.
    SaveThenDecline,
    /// Every charge asks the customer to authenticate (3-D Secure) first;
    /// one made without the customer (off-session) is declined.
    Authenticate,
}

/// The card numbers that succeed: Stripe's test cards of each brand. Any
/// number outside the table is refused (`test_mode_live_card`): a test page
/// never reports a real card as paid.
const SUCCEEDING: &[&str] = &[
    "4242424242424242",
    "4000056655665556",
    "5555555555554444",
    "2223003122003222",
    "5200828282828210",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "6011000990139424",
    "3056930009020004",
    "36227206271667",
    "3566002020360505",
    "6200000000000005",
];

impl Behaviour {
    /// What a test card does; `None` for a number outside the table.
    pub(super) fn for_number(number: &str) -> Option<Behaviour> {
        Some(match number {
            "4000000000000002" => Behaviour::Decline("card_declined"),
            "4000000000009995" => Behaviour::Decline("insufficient_funds"),
            "4000000000000069" => Behaviour::Decline("expired_card"),
            "4000000000000127" => Behaviour::Decline("incorrect_cvc"),
            "4000000000000341" => Behaviour::SaveThenDecline,
            "4000002760003184" | "4000002500003155" => Behaviour::Authenticate,
            n if SUCCEEDING.contains(&n) => Behaviour::Succeed,
            _ => return None,
        })
    }

    pub(super) fn encode(self) -> String {
        match self {
            Behaviour::Succeed => "succeed".into(),
            Behaviour::Decline(code) => format!("decline:{code}"),
            Behaviour::SaveThenDecline => "save_then_decline".into(),
            Behaviour::Authenticate => "authenticate".into(),
        }
    }

    pub(super) fn decode(text: &str) -> Behaviour {
        match text {
            "succeed" => Behaviour::Succeed,
            "save_then_decline" => Behaviour::SaveThenDecline,
            "authenticate" => Behaviour::Authenticate,
            other => match other.strip_prefix("decline:") {
                Some("insufficient_funds") => Behaviour::Decline("insufficient_funds"),
                Some("expired_card") => Behaviour::Decline("expired_card"),
                Some("incorrect_cvc") => Behaviour::Decline("incorrect_cvc"),
                _ => Behaviour::Decline("card_declined"),
            },
        }
    }

    pub(super) fn decline_code(self) -> Option<&'static str> {
        match self {
            Behaviour::Succeed | Behaviour::Authenticate => None,
            Behaviour::Decline(code) => Some(code),
            Behaviour::SaveThenDecline => Some("card_declined"),
        }
    }
}

pub(super) fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, ch) in digits.chars().rev().enumerate() {
        let Some(mut d) = ch.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

pub(super) fn brand_of(number: &str) -> &'static str {
    let two: u32 = number.get(..2).and_then(|p| p.parse().ok()).unwrap_or(0);
    let four: u32 = number.get(..4).and_then(|p| p.parse().ok()).unwrap_or(0);
    if number.starts_with('4') {
        "Visa"
    } else if (51..=55).contains(&two) || (2221..=2720).contains(&four) {
        "Mastercard"
    } else if two == 34 || two == 37 {
        "American Express"
    } else if four == 6011 || two == 65 {
        "Discover"
    } else {
        "Card"
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardInput {
    pub(super) number: String,
    pub(super) exp_month: i64,
    pub(super) exp_year: i64,
    pub(super) cvc: String,
    #[serde(default)]
    pub(super) postal_code: Option<String>,
}

/// Why card fields were refused: a stable code, words for the payer (in
/// English, as a processor answers; the pay page shows its own words for the
/// code in the page's language), the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardError {
    pub code: &'static str,
    pub message: String,
    pub field: &'static str,
}

/// The code of a card number outside the sandbox's table of test cards.
pub const TEST_MODE_LIVE_CARD: &str = "test_mode_live_card";

/// `words` is the key of the refusal's message in the customer locale files.
pub(super) fn card_error(code: &'static str, words: &str, field: &'static str) -> CardError {
    CardError {
        code,
        message: crate::domain::i18n::t(crate::domain::i18n::Lang::En, words),
        field,
    }
}

/// Checks card fields the way a processor's card form does.
pub(super) fn check_card(input: &CardInput, today: time::Date) -> Result<(String, i64), CardError> {
    let number: String = input
        .number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    if number.len() < 12
        || number.len() > 19
        || !number.bytes().all(|b| b.is_ascii_digit())
        || !luhn_valid(&number)
    {
        return Err(card_error(
            "incorrect_number",
            "js-card-incorrect-number",
            "number",
        ));
    }
    if !(1..=12).contains(&input.exp_month) {
        return Err(card_error(
            "invalid_expiry_month",
            "js-card-expiry-month",
            "exp_month",
        ));
    }
    let year = if input.exp_year < 100 {
        2000 + input.exp_year
    } else {
        input.exp_year
    };
    let this_year = i64::from(today.year());
    let this_month = i64::from(u8::from(today.month()));
    if year < this_year
        || (year == this_year && input.exp_month < this_month)
        || year > this_year + 50
    {
        return Err(card_error(
            "invalid_expiry_year",
            "js-card-expired",
            "exp_year",
        ));
    }
    let cvc_ok =
        (3..=4).contains(&input.cvc.len()) && input.cvc.bytes().all(|b| b.is_ascii_digit());
    if !cvc_ok {
        return Err(card_error("invalid_cvc", "js-card-cvc", "cvc"));
    }
    if let Some(zip) = &input.postal_code
        && zip.len() > 10
    {
        return Err(card_error(
            "invalid_postal_code",
            "js-card-postal-code",
            "postal_code",
        ));
    }
    Ok((number, year))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn card(number: &str, month: i64, year: i64, cvc: &str) -> CardInput {
        CardInput {
            number: number.into(),
            exp_month: month,
            exp_year: year,
            cvc: cvc.into(),
            postal_code: None,
        }
    }

    #[test]
    fn luhn_and_brands() {
        assert!(luhn_valid("4242424242424242"));
        assert!(!luhn_valid("4242424242424241"));
        assert_eq!(brand_of("4242424242424242"), "Visa");
        assert_eq!(brand_of("5555555555554444"), "Mastercard");
        assert_eq!(brand_of("378282246310005"), "American Express");
        assert_eq!(brand_of("6011111111111117"), "Discover");
    }

    #[test]
    fn test_cards_map_to_behaviours() {
        assert_eq!(
            Behaviour::for_number("4111111111111111"),
            None,
            "a real Visa"
        );
        assert_eq!(
            Behaviour::for_number("4242424242424242"),
            Some(Behaviour::Succeed)
        );
        assert_eq!(
            Behaviour::for_number("4000000000000002"),
            Some(Behaviour::Decline("card_declined"))
        );
        assert_eq!(
            Behaviour::for_number("4000000000009995"),
            Some(Behaviour::Decline("insufficient_funds"))
        );
        assert_eq!(
            Behaviour::for_number("4000000000000341"),
            Some(Behaviour::SaveThenDecline)
        );
        assert_eq!(
            Behaviour::for_number("4000002760003184"),
            Some(Behaviour::Authenticate)
        );
        for b in [
            Behaviour::Succeed,
            Behaviour::Authenticate,
            Behaviour::Decline("expired_card"),
            Behaviour::SaveThenDecline,
        ] {
            assert_eq!(Behaviour::decode(&b.encode()), b);
        }
    }

    #[test]
    fn card_checks() {
        let today = date!(2026 - 11 - 28);
        assert!(check_card(&card("4242 4242 4242 4242", 12, 30, "123"), today).is_ok());
        assert!(check_card(&card("4242424242424241", 12, 2030, "123"), today).is_err());
        assert!(check_card(&card("4242424242424242", 13, 2030, "123"), today).is_err());
        assert!(check_card(&card("4242424242424242", 10, 2026, "123"), today).is_err());
        assert!(check_card(&card("4242424242424242", 11, 2026, "123"), today).is_ok());
        assert!(check_card(&card("4242424242424242", 12, 2030, "12"), today).is_err());
    }
}
