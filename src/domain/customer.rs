//! A customer as written by any face (API, office, import): checked once.

use super::contact::{EmailAddress, PhoneNumber};
use super::i18n::Lang;
use super::text::{FieldError, optional_multi_line, single_line};

/// A customer's fields, checked: a one-line name, an email address and a
/// phone number in E.164 (or none), a billing address of several lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCustomer {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub billing_address: Option<String>,
    /// The language the customer reads (pages, messages, PDFs); `None`: the
    /// browser's, then the company's.
    pub language: Option<Lang>,
}

/// The fields as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct CustomerInput<'a> {
    pub name: &'a str,
    pub email: Option<&'a str>,
    pub phone: Option<&'a str>,
    pub billing_address: Option<&'a str>,
    /// `en`, `es`, or empty/`None` for none.
    pub language: Option<&'a str>,
}

pub const NAME_MAX: usize = 200;
pub const ADDRESS_MAX: usize = 500;

impl CustomerInput<'_> {
    /// Checks every field; `region` (the company's country) is where a phone
    /// number without a country code is from. Every field's error, in order.
    pub fn check(&self, region: &str) -> Result<NewCustomer, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = single_line("name", self.name, NAME_MAX)
            .map_err(|e| {
                if self.name.trim().is_empty() {
                    FieldError::new("name", "Enter the customer's name.")
                } else {
                    e
                }
            })
            .map_err(|e| errors.push(e))
            .ok();
        let email = optional(self.email)
            .map(|e| {
                EmailAddress::parse("email", e).map_err(|_| {
                    FieldError::new(
                        "email",
                        "Enter an email address like name@example.com, or leave it empty.",
                    )
                })
            })
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let phone = optional(self.phone)
            .map(|p| {
                PhoneNumber::parse("phone", p, region).map_err(|e| {
                    FieldError::new(
                        "phone",
                        format!("{} (or leave it empty).", e.message.trim_end_matches('.')),
                    )
                })
            })
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let billing_address =
            optional_multi_line("billing_address", self.billing_address, ADDRESS_MAX)
                .map_err(|e| errors.push(e))
                .ok()
                .flatten();
        let language = optional(self.language)
            .map(|l| match l {
                "en" => Ok(Lang::En),
                "es" => Ok(Lang::Es),
                _ => Err(FieldError::new("language", LANGUAGE_MESSAGE)),
            })
            .transpose()
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        match name {
            Some(name) if errors.is_empty() => Ok(NewCustomer {
                name,
                email: email.map(EmailAddress::into_string),
                phone: phone.map(PhoneNumber::into_string),
                billing_address,
                language,
            }),
            _ => Err(errors),
        }
    }
}

/// What a language other than the two is told.
pub const LANGUAGE_MESSAGE: &str = "Choose the customer's language: \"en\" (English), \"es\" (Spanish), or none (null) to follow the browser and then the company's default.";

fn optional(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// A service address: several lines allowed, at most 500 characters.
pub fn check_address(field: &'static str, address: &str) -> Result<String, FieldError> {
    optional_multi_line(field, Some(address), ADDRESS_MAX)?
        .ok_or_else(|| FieldError::new(field, "Enter the service address."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_customer_is_checked_field_by_field() {
        let ok = CustomerInput {
            name: " Lena Landlord ",
            email: Some(" lena@example.com "),
            phone: Some("(512) 555-0142"),
            billing_address: Some("1 Main St\nAustin, TX"),
            language: Some("es"),
        }
        .check("US")
        .unwrap();
        assert_eq!(ok.language, Some(Lang::Es));
        assert_eq!(ok.name, "Lena Landlord");
        assert_eq!(ok.email.as_deref(), Some("lena@example.com"));
        assert_eq!(ok.phone.as_deref(), Some("+15125550142"));
        assert_eq!(ok.billing_address.as_deref(), Some("1 Main St\nAustin, TX"));

        let errors = CustomerInput {
            name: "Lena\r\nBcc: x",
            email: Some("lena@"),
            phone: Some("call me maybe"),
            billing_address: Some("1 Main\0St"),
            language: Some("fr"),
        }
        .check("US")
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            ["name", "email", "phone", "billing_address", "language"]
        );
        assert!(errors[4].message.contains("\"es\""));
        assert!(errors[2].message.contains("phone number"));
    }

    #[test]
    fn empty_optional_fields_are_none() {
        let c = CustomerInput {
            name: "A",
            email: Some(" "),
            phone: None,
            billing_address: Some(""),
            language: Some(""),
        }
        .check("US")
        .unwrap();
        assert_eq!(
            c,
            NewCustomer {
                name: "A".into(),
                ..Default::default()
            }
        );
        let e = CustomerInput::default().check("US").unwrap_err();
        assert_eq!(e[0].message, "Enter the customer's name.");
    }
}
