//! How customers are reached: an email address and a phone number, each
//! checked when written, so a bad one is refused at the form, not found
//! when a message is sent.

use std::fmt;

use serde::Serialize;

use super::text::{FieldError, single_line};

/// An email address: one `@` with text on both sides, a dot in the domain,
/// no spaces or control characters, at most 254 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(field: &'static str, text: &str) -> Result<EmailAddress, FieldError> {
        let v = single_line(field, text, 254)?;
        let plausible = v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }) && !v.contains(char::is_whitespace);
        if !plausible {
            return Err(FieldError::new(
                field,
                format!("{field} must be an email address like name@example.com"),
            ));
        }
        Ok(EmailAddress(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A phone number in E.164 (`+15125550142`), parsed with the company's
/// country as the region of numbers written without a country code.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PhoneNumber(String);

/// The region a company is in when none is set: the product's first market.
pub const DEFAULT_REGION: &str = "US";

impl PhoneNumber {
    pub fn parse(field: &'static str, text: &str, region: &str) -> Result<PhoneNumber, FieldError> {
        let v = single_line(field, text, 40)?;
        let refuse = || {
            FieldError::new(
                field,
                format!("{field} must be a phone number, like (512) 555-0142 or +44 20 7946 0958"),
            )
        };
        let country = region_id(region);
        let parsed = phonenumber::parse(Some(country), &v).map_err(|_| refuse())?;
        if !phonenumber::is_viable(&v) || parsed.national().value() == 0 {
            return Err(refuse());
        }
        // Letters are not digits: "call me maybe" parses to nothing useful,
        // and vanity numbers (1-800-FLOWERS) are not what an SMS goes to.
        if v.chars().any(|c| c.is_alphabetic()) && !v.to_ascii_lowercase().contains("ext") {
            return Err(refuse());
        }
        let digits = parsed.national().value().to_string();
        if digits.len() < 4 || !plausible_length(&parsed) {
            return Err(refuse());
        }
        Ok(PhoneNumber(
            parsed.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }

    /// A number already stored in E.164 (read back from the database).
    pub fn from_stored(e164: String) -> PhoneNumber {
        PhoneNumber(e164)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether the number has a length its country uses: libphonenumber's
/// validity where it knows the country's plan. Fictional numbers such as
/// 555-01xx pass, since the plan allows their length.
fn plausible_length(number: &phonenumber::PhoneNumber) -> bool {
    let national = number.national().value().to_string();
    match number.code().value() {
        1 => national.len() == 10,
        _ => (4..=14).contains(&national.len()),
    }
}

fn region_id(region: &str) -> phonenumber::country::Id {
    region
        .to_ascii_uppercase()
        .parse()
        .unwrap_or(phonenumber::country::Id::US)
}

/// Whether a two-letter code names a country phone numbers are known for.
pub fn is_known_region(region: &str) -> bool {
    region.len() == 2
        && region
            .to_ascii_uppercase()
            .parse::<phonenumber::country::Id>()
            .is_ok()
}

/// A stored E.164 number as people in `region` write it: "(512) 555-0142"
/// at home, "+44 20 7946 0958" from abroad. Text that does not parse (rows
/// written before numbers were checked) is shown as it is.
pub fn display_phone(stored: &str, region: &str) -> String {
    let Ok(parsed) = phonenumber::parse(Some(region_id(region)), stored) else {
        return stored.to_string();
    };
    let home = parsed.country().id() == Some(region_id(region));
    let mode = if home {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    parsed.format().mode(mode).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_stored_in_e164_with_the_company_region() {
        let us = |t: &str| PhoneNumber::parse("phone", t, "US").map(PhoneNumber::into_string);
        assert_eq!(us("(512) 555-0142").unwrap(), "+15125550142");
        assert_eq!(us("512.555.0142").unwrap(), "+15125550142");
        assert_eq!(us("+1 512 555 0142").unwrap(), "+15125550142");
        assert_eq!(us("1-512-555-0142").unwrap(), "+15125550142");
        assert_eq!(us("+44 20 7946 0958").unwrap(), "+442079460958");
        let gb = PhoneNumber::parse("phone", "020 7946 0958", "GB").unwrap();
        assert_eq!(gb.as_str(), "+442079460958");
        let mx = PhoneNumber::parse("phone", "55 1234 5678", "MX").unwrap();
        assert_eq!(mx.as_str(), "+525512345678");
    }

    #[test]
    fn what_is_not_a_phone_number_is_refused() {
        for bad in [
            "call me maybe",
            "555",
            "12",
            "+",
            "512-555-014",
            "1-800-FLOWERS",
            "(512) 555-\n0142",
            "512\u{0}5550142",
        ] {
            let e = PhoneNumber::parse("phone", bad, "US").unwrap_err();
            assert_eq!(e.field, "phone", "{bad:?}");
        }
    }

    #[test]
    fn phones_display_as_people_write_them() {
        assert_eq!(display_phone("+15125550142", "US"), "(512) 555-0142");
        assert_eq!(display_phone("+442079460958", "US"), "+44 20 7946 0958");
        assert_eq!(display_phone("call me", "US"), "call me");
        assert!(is_known_region("us") && is_known_region("MX"));
        assert!(!is_known_region("XX") && !is_known_region("USA"));
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(
            EmailAddress::parse("email", " a@b.co ").unwrap().as_str(),
            "a@b.co"
        );
        for bad in [
            "a",
            "a@b",
            "@b.co",
            "a@.co",
            "a b@c.co",
            "a@b.co\r\nBcc: x@y.z",
        ] {
            assert!(EmailAddress::parse("email", bad).is_err(), "{bad:?}");
        }
    }
}
