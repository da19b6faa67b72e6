//! A message's channel and an email template's sources, as stored.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// An email template's sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateEmail {
    pub subject: String,
    pub html_body: String,
    pub text_body: Option<String>,
}

/// A template's text in the languages other than its main one, as stored
/// (JSON): `{"es": {...}}`. A message goes out in the customer's language
/// where the template has it, else in the main text.
pub type EmailTranslations = std::collections::BTreeMap<crate::domain::i18n::Lang, TemplateEmail>;

/// An SMS template's body in another language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsTranslation {
    pub body: String,
}

/// As `EmailTranslations`, for SMS.
pub type SmsTranslations = std::collections::BTreeMap<crate::domain::i18n::Lang, SmsTranslation>;
