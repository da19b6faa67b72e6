//! The variables a message may use, and the plain data they come from.

use minijinja::Value;
use serde::{Deserialize, Serialize};

use super::*;
use crate::domain::i18n::{self, Lang};

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "email_payment_link",
    "sms_payment_link",
    "portal_link",
    "customer_name",
    "customer_first_name",
    "customer_balance",
    "company_name",
    "company_phone",
    "invoice_number",
    "invoice_date",
    "invoice_due_date",
    "invoice_total",
    "invoice_balance",
    "payment_amount",
    "card_brand",
    "card_last4",
    "card_expiry",
    "autopay_amount",
    "autopay_date",
    "decline_reason",
    "autopay_cancel_link",
    "update_card_link",
    "company_logo_url",
    "company_accent_color",
];

/// Every template variable with a one-line meaning, in the order of
/// [`VARIABLES`]: the help the office shows beside the template editors.
pub const VARIABLE_HELP: &[(&str, &str)] = &[
    (
        "email_payment_link",
        "In email: a \"Click Here to Make Payment\" link to the customer's payment page",
    ),
    (
        "sms_payment_link",
        "The address of the customer's payment page (for SMS)",
    ),
    ("portal_link", "The address of the customer portal"),
    ("customer_name", "The customer's full name"),
    (
        "customer_first_name",
        "The first word of the customer's name",
    ),
    (
        "customer_balance",
        "Everything the customer owes now, e.g. $125.00",
    ),
    ("company_name", "Your company's name"),
    ("company_phone", "Your company's phone number"),
    (
        "invoice_number",
        "The invoice's number (when one is chosen)",
    ),
    ("invoice_date", "The invoice's issue date"),
    ("invoice_due_date", "The invoice's due date"),
    ("invoice_total", "The invoice's total"),
    ("invoice_balance", "What is still owed on the invoice"),
    ("payment_amount", "The amount paid (in payment receipts)"),
    (
        "card_brand",
        "The card's brand, e.g. Visa (autopay messages and receipts)",
    ),
    (
        "card_last4",
        "The last 4 digits of the card (autopay messages and receipts)",
    ),
    (
        "card_expiry",
        "The card's expiry, e.g. 12/26 (autopay messages)",
    ),
    (
        "autopay_amount",
        "The amount autopay charges or tried to charge (autopay messages and receipts)",
    ),
    (
        "autopay_date",
        "The day of the autopay charge (in notices), or of the next try (after a decline)",
    ),
    (
        "decline_reason",
        "Why the bank declined the card, in plain words (autopay decline messages)",
    ),
    (
        "autopay_cancel_link",
        "The address where the customer turns autopay off",
    ),
    (
        "update_card_link",
        "The address where the customer updates the saved card",
    ),
    (
        "company_logo_url",
        "The address of your logo (empty until you upload one)",
    ),
    (
        "company_accent_color",
        "Your accent colour, e.g. #1d5fbf (Settings › Company)",
    ),
];

/// The filters a template may use.
pub const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "default",
    "length",
];

/// Global functions a template may call (checked like variables).
pub(super) const FUNCTIONS: &[&str] = &["range"];

/// Which part of a message a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Email subject: plain text, one line.
    Subject,
    /// Email HTML body: autoescaped.
    Html,
    /// Email plain-text body.
    Text,
    /// SMS body: plain text.
    Sms,
}

impl Part {
    pub(super) fn template_name(self) -> &'static str {
        match self {
            Part::Subject => "subject.txt",
            Part::Html => "body.html",
            Part::Text => "body.txt",
            Part::Sms => "sms.txt",
        }
    }

    /// Largest output, in bytes (characters are checked after).
    pub(super) fn max_bytes(self) -> usize {
        match self {
            Part::Subject => SUBJECT_MAX_CHARS * 4,
            Part::Html | Part::Text => EMAIL_MAX_BYTES,
            Part::Sms => SMS_MAX_CHARS * 4,
        }
    }

    pub(super) fn max_chars(self) -> Option<usize> {
        match self {
            Part::Subject => Some(SUBJECT_MAX_CHARS),
            Part::Sms => Some(SMS_MAX_CHARS),
            Part::Html | Part::Text => None,
        }
    }
}

/// The data a message is rendered with. `payment_url` is what
/// `email_payment_link` and `sms_payment_link` point at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageVars {
    /// The language the message is written in: its dates, the payment
    /// link's words.
    pub lang: Lang,
    pub payment_url: String,
    pub portal_link: String,
    pub customer_name: String,
    pub customer_first_name: String,
    pub customer_balance: String,
    pub company_name: String,
    pub company_phone: String,
    pub invoice_number: String,
    pub invoice_date: String,
    pub invoice_due_date: String,
    pub invoice_total: String,
    pub invoice_balance: String,
    /// The amount of the payment a receipt is about; empty otherwise.
    pub payment_amount: String,
    /// The card of an autopay message or a receipt; empty otherwise.
    pub card_brand: String,
    pub card_last4: String,
    /// "MM/YY".
    pub card_expiry: String,
    /// What autopay charges (notice), charged (receipt) or tried to charge
    /// (decline).
    pub autopay_amount: String,
    /// The charge day (notice) or the next try (decline).
    pub autopay_date: String,
    /// The decline in words a customer understands.
    pub decline_reason: String,
    /// Where autopay is turned off: the payment link's autopay page, or the
    /// portal's cards page when links are off.
    pub autopay_cancel_link: String,
    /// Where the saved card is updated (the portal's cards page).
    pub update_card_link: String,
    /// The company's public logo address; empty without a logo.
    pub company_logo_url: String,
    /// The company's accent colour (`#rrggbb`): the payment button's colour.
    pub company_accent_color: String,
}

/// The token of sample payment links: as long as a real one (256 bits in
/// base64url, 43 characters), so a count made with sample data is a real count.
pub const SAMPLE_TOKEN: &str = "SAMPLE-payment-link-as-long-as-a-real-one00";

/// The payment button's colour when a company has none.
pub const DEFAULT_ACCENT: &str = "#1d5fbf";

impl MessageVars {
    /// Plausible data for previews and for the trial render at save time.
    pub fn sample(base_url: &str) -> MessageVars {
        MessageVars::sample_in(base_url, Lang::En)
    }

    /// `sample` written in `lang`: its dates and the decline in that
    /// language's words. The sample dates are fixed, so a count made from
    /// the sample does not change from day to day.
    pub fn sample_in(base_url: &str, lang: Lang) -> MessageVars {
        let issued = i18n::date(lang, time::macros::date!(2026 - 12 - 01));
        let due = i18n::date(lang, time::macros::date!(2026 - 12 - 15));
        MessageVars {
            lang,
            payment_url: format!("{base_url}/pay/{SAMPLE_TOKEN}"),
            portal_link: format!("{base_url}/portal"),
            customer_name: "Jane Doe".into(),
            customer_first_name: "Jane".into(),
            customer_balance: "$125.00".into(),
            company_name: "Your Company".into(),
            company_phone: "(555) 555-0100".into(),
            invoice_number: "1001".into(),
            invoice_date: issued,
            invoice_due_date: due.clone(),
            invoice_total: "$125.00".into(),
            invoice_balance: "$125.00".into(),
            payment_amount: "$125.00".into(),
            card_brand: "Visa".into(),
            card_last4: "4242".into(),
            card_expiry: "12/28".into(),
            autopay_amount: "$125.00".into(),
            autopay_date: due,
            decline_reason: i18n::t(lang, "decline-insufficient-funds"),
            autopay_cancel_link: format!("{base_url}/pay/{SAMPLE_TOKEN}/autopay"),
            update_card_link: format!("{base_url}/portal/cards"),
            company_logo_url: String::new(),
            company_accent_color: DEFAULT_ACCENT.into(),
        }
    }

    /// The template context for one part: in HTML the payment link is a safe
    /// anchor; elsewhere it is "Click Here to Make Payment: URL".
    pub fn context(&self, part: Part) -> Value {
        let words = payment_link_text(self.lang);
        let email_link = if part == Part::Html {
            Value::from_safe_string(payment_button_anchor(
                &self.payment_url,
                &self.company_accent_color,
                &words,
            ))
        } else {
            Value::from(format!("{words}: {}", self.payment_url))
        };
        let s = |v: &String| Value::from(v.as_str());
        let pairs = [
            ("email_payment_link", email_link),
            ("sms_payment_link", s(&self.payment_url)),
            ("portal_link", s(&self.portal_link)),
            ("customer_name", s(&self.customer_name)),
            ("customer_first_name", s(&self.customer_first_name)),
            ("customer_balance", s(&self.customer_balance)),
            ("company_name", s(&self.company_name)),
            ("company_phone", s(&self.company_phone)),
            ("invoice_number", s(&self.invoice_number)),
            ("invoice_date", s(&self.invoice_date)),
            ("invoice_due_date", s(&self.invoice_due_date)),
            ("invoice_total", s(&self.invoice_total)),
            ("invoice_balance", s(&self.invoice_balance)),
            ("payment_amount", s(&self.payment_amount)),
            ("card_brand", s(&self.card_brand)),
            ("card_last4", s(&self.card_last4)),
            ("card_expiry", s(&self.card_expiry)),
            ("autopay_amount", s(&self.autopay_amount)),
            ("autopay_date", s(&self.autopay_date)),
            ("decline_reason", s(&self.decline_reason)),
            ("autopay_cancel_link", s(&self.autopay_cancel_link)),
            ("update_card_link", s(&self.update_card_link)),
            ("company_logo_url", s(&self.company_logo_url)),
            ("company_accent_color", s(&self.company_accent_color)),
        ];
        Value::from(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<std::collections::BTreeMap<String, Value>>(),
        )
    }
}

/// `email_payment_link` in HTML: an anchor styled as a button (white on the
/// accent colour, inline styles only, as Gmail keeps them). A colour that is
/// not `#rrggbb` falls back to the default.
pub fn payment_button_anchor(url: &str, accent: &str, words: &str) -> String {
    let accent = if accent.len() == 7
        && accent.starts_with('#')
        && accent[1..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        accent
    } else {
        DEFAULT_ACCENT
    };
    format!(
        "<a href=\"{}\" style=\"display:inline-block;padding:14px 28px;background:{accent};color:#ffffff;border-radius:6px;font:bold 17px/1.2 Arial,Helvetica,sans-serif;text-decoration:none\">{}</a>",
        escape_html(url),
        escape_html(words)
    )
}

/// The payment link's words in `lang` ("Click Here to Make Payment").
pub fn payment_link_text(lang: Lang) -> String {
    i18n::t(lang, "message-pay-link")
}

/// The first word of a name ("Jane" of "Jane Q. Doe").
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("").to_string()
}
