//! The autopay authorization a customer reads and accepts. The exact text
//! shown, in the language shown, is the text stored with the enrollment.

use crate::domain::i18n::{Lang, tr};

pub fn autopay_consent_text(lang: Lang, company_name: &str, company_phone: &str) -> String {
    if company_phone.trim().is_empty() {
        tr(
            lang,
            "autopay-consent-contact",
            &[("company", company_name.into())],
        )
    } else {
        tr(
            lang,
            "autopay-consent-call",
            &[
                ("company", company_name.into()),
                ("phone", company_phone.into()),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_company_and_phone() {
        let t = autopay_consent_text(Lang::En, "Acme Pest", "(512) 555-0100");
        assert!(t.starts_with("I authorize Acme Pest to charge this card"));
        assert!(t.ends_with("from this page or by calling (512) 555-0100."));
        assert!(
            autopay_consent_text(Lang::En, "Acme Pest", "").ends_with("by contacting Acme Pest.")
        );
    }

    #[test]
    fn in_spanish() {
        let t = autopay_consent_text(Lang::Es, "Acme Pest", "(512) 555-0100");
        assert!(
            t.starts_with("Autorizo a Acme Pest a cobrar en esta tarjeta"),
            "{t}"
        );
        assert!(t.ends_with("llamando al (512) 555-0100."), "{t}");
    }
}
