//! Outgoing email: one small trait, and the built-in transport that writes
//! each message as an RFC 5322 `.eml` file into the spool folder. SMTP is a
//! second implementation of the same trait.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::crypto::random_token;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `Name <address>` or a bare address.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
}

#[derive(Debug)]
pub enum EmailError {
    /// Worth trying again later (a full disk, an SMTP 4xx).
    Temporary(String),
    /// Will fail again (a refused recipient, an SMTP 5xx).
    Permanent(String),
}

impl std::fmt::Display for EmailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EmailError::Temporary(m) => write!(f, "temporary email failure: {m}"),
            EmailError::Permanent(m) => write!(f, "permanent email failure: {m}"),
        }
    }
}

impl std::error::Error for EmailError {}

/// Sends one email; answers its `Message-ID` (without angle brackets).
pub trait EmailTransport: Send + Sync + 'static {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Result<String, EmailError>>;
}

/// The default transport: `{spool_dir}/{message id}.eml`, one file per message.
#[derive(Debug, Clone)]
pub struct SpoolTransport {
    pub dir: PathBuf,
}

impl SpoolTransport {
    pub fn new(dir: impl Into<PathBuf>) -> SpoolTransport {
        SpoolTransport { dir: dir.into() }
    }
}

impl EmailTransport for SpoolTransport {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Result<String, EmailError>> {
        Box::pin(async move {
            let id = format!("{}@fieldpay", random_token(18));
            let text = render(email, &id, OffsetDateTime::now_utc());
            tokio::fs::create_dir_all(&self.dir).await.map_err(|e| {
                EmailError::Temporary(format!("cannot create the spool folder: {e}"))
            })?;
            // Written under a temporary name and renamed: a reader never sees half a message.
            let tmp = self.dir.join(format!(".{id}.tmp"));
            let path = self.dir.join(format!("{id}.eml"));
            tokio::fs::write(&tmp, text.as_bytes())
                .await
                .map_err(|e| EmailError::Temporary(format!("cannot write to the spool: {e}")))?;
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| EmailError::Temporary(format!("cannot write to the spool: {e}")))?;
            Ok(id)
        })
    }
}

/// A header value on one line: line breaks would start a header of their own.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
        .collect()
}

/// RFC 2047 encoded word for text that is not plain ASCII.
fn encode_word(value: &str) -> String {
    let value = one_line(value);
    if value.is_ascii() {
        value
    } else {
        format!("=?utf-8?B?{}?=", STANDARD.encode(value.as_bytes()))
    }
}

/// `Name <addr>` with the name quoted or encoded; a bare address as is.
fn mailbox(value: &str) -> String {
    let value = one_line(value);
    match value.rsplit_once('<') {
        Some((name, addr)) if !name.trim().is_empty() => {
            let name = name.trim().trim_matches('"');
            let name = if name.is_ascii() {
                format!("\"{}\"", name.replace(['\\', '"'], ""))
            } else {
                encode_word(name)
            };
            format!("{name} <{}", addr.trim())
        }
        _ => value.trim().to_string(),
    }
}

/// The message as RFC 5322 text with CRLF line ends.
pub fn render(email: &Email, message_id: &str, at: OffsetDateTime) -> String {
    let date = at.format(&Rfc2822).unwrap_or_default();
    let mut out = String::new();
    for (name, value) in [
        ("From", mailbox(&email.from)),
        ("To", mailbox(&email.to)),
        ("Subject", encode_word(&email.subject)),
        ("Date", date),
        ("Message-ID", format!("<{}>", one_line(message_id))),
        ("MIME-Version", "1.0".into()),
        ("Content-Type", "text/plain; charset=utf-8".into()),
        ("Content-Transfer-Encoding", "8bit".into()),
    ] {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&value);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    for line in email.text.lines() {
        // A lone "." line ends an SMTP DATA section; never send one.
        if line == "." {
            out.push_str("..");
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn sample() -> Email {
        Email {
            from: "Greenleaf Pest <office@greenleaf.test>".into(),
            to: "lena@example.com".into(),
            subject: "Your sign-in link".into(),
            text: "Hello\nOpen this: https://x.test/portal/link/abc\n".into(),
        }
    }

    #[test]
    fn renders_headers_and_body() {
        let text = render(&sample(), "m1@fieldpay", datetime!(2026-11-28 05:00 UTC));
        assert!(text.starts_with("From: \"Greenleaf Pest\" <office@greenleaf.test>\r\n"));
        assert!(text.contains("\r\nTo: lena@example.com\r\n"));
        assert!(text.contains("\r\nSubject: Your sign-in link\r\n"));
        assert!(text.contains("\r\nDate: Sat, 28 Nov 2026 05:00:00 +0000\r\n"));
        assert!(text.contains("\r\nMessage-ID: <m1@fieldpay>\r\n"));
        assert!(text.contains("\r\nMIME-Version: 1.0\r\n"));
        assert!(text.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.ends_with("\r\n\r\nHello\r\nOpen this: https://x.test/portal/link/abc\r\n"));
    }

    #[test]
    fn header_injection_and_non_ascii() {
        let mut e = sample();
        e.subject = "Hi\r\nBcc: evil@example.com".into();
        let text = render(&e, "m2@fieldpay", datetime!(2026-11-28 05:00 UTC));
        assert!(!text.contains("\r\nBcc:"));
        e.subject = "Café receipt".into();
        let text = render(&e, "m3@fieldpay", datetime!(2026-11-28 05:00 UTC));
        assert!(text.contains("Subject: =?utf-8?B?"));
    }

    #[tokio::test]
    async fn spool_writes_one_file_named_by_message_id() {
        let dir = std::env::temp_dir().join(format!("fieldpay-spool-{}", random_token(8)));
        let t = SpoolTransport::new(&dir);
        let id = t.send(&sample()).await.unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{id}.eml"))).unwrap();
        assert!(text.contains(&format!("Message-ID: <{id}>")));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
