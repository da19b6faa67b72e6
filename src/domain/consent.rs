//! The autopay authorization a customer reads and accepts. The exact text
//! shown is the text stored with the enrollment.

pub fn autopay_consent_text(company_name: &str, company_phone: &str) -> String {
    let contact = if company_phone.trim().is_empty() {
        format!("by contacting {company_name}")
    } else {
        format!("by calling {company_phone}")
    };
    format!(
        "I authorize {company_name} to charge this card for invoices on my account when they are due, \
         until I cancel. I can cancel at any time from this page or {contact}."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_company_and_phone() {
        let t = autopay_consent_text("Acme Pest", "(512) 555-0100");
        assert!(t.starts_with("I authorize Acme Pest to charge this card"));
        assert!(t.ends_with("from this page or by calling (512) 555-0100."));
        assert!(autopay_consent_text("Acme Pest", "").ends_with("by contacting Acme Pest."));
    }
}
