//! Outgoing messages: templates and their variables, the outbox, the
//! email and SMS transports, and the webhook sender.

pub mod email;
pub mod outbox;
pub mod sms;
pub mod template;
pub mod webhook;

pub use crate::domain::message::{Channel, TemplateEmail};

/// A message ready for a transport. For SMS only `text` is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: Option<String>,
    pub text: String,
    /// Files sent with an email (an invoice's PDF).
    pub attachments: Vec<Attachment>,
}

/// A file attached to an email.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Attachment({}, {}, {} bytes)",
            self.filename,
            self.content_type,
            self.content.len()
        )
    }
}
