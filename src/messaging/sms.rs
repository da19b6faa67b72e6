//! Outgoing SMS: one small trait, the spool transport (one `.txt` file per
//! message: a `To:` line, a blank line, the body) and a client of a
//! Twilio-compatible Messages API. Also the opt-out keywords (SECURITY.md 20).

use std::path::PathBuf;

use crate::crypto::random_token;
use crate::messaging::email::BoxFuture;

/// One text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// E.164, e.g. `+15125550142`.
    pub to: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsError {
    /// Worth trying again later (HTTP 5xx or 429, no connection, a timeout).
    Temporary(String),
    /// Will fail again (HTTP 4xx: a bad number, a refused sender).
    Permanent(String),
}

impl std::fmt::Display for SmsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsError::Temporary(m) => write!(f, "temporary SMS failure: {m}"),
            SmsError::Permanent(m) => write!(f, "permanent SMS failure: {m}"),
        }
    }
}

impl std::error::Error for SmsError {}

/// Sends one SMS; answers the provider's id for it.
pub trait SmsTransport: Send + Sync + 'static {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<String, SmsError>>;
}

/// The default transport: `{spool_dir}/{id}.txt`.
#[derive(Debug, Clone)]
pub struct SpoolSms {
    pub dir: PathBuf,
}

impl SpoolSms {
    pub fn new(dir: impl Into<PathBuf>) -> SpoolSms {
        SpoolSms { dir: dir.into() }
    }
}

/// The spool file's text.
pub fn spool_text(sms: &Sms) -> String {
    let to: String = sms
        .to
        .chars()
        .filter(|c| *c != '\r' && *c != '\n')
        .collect();
    format!("To: {to}\n\n{}\n", sms.body.trim_end_matches('\n'))
}

impl SmsTransport for SpoolSms {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<String, SmsError>> {
        Box::pin(async move {
            let id = format!("sms_{}", random_token(18));
            let io =
                |e: std::io::Error| SmsError::Temporary(format!("cannot write to the spool: {e}"));
            crate::private_files::spool(
                &self.dir,
                &format!("{id}.txt"),
                spool_text(sms).into_bytes(),
            )
            .await
            .map_err(io)?;
            Ok(id)
        })
    }
}

/// A Twilio-compatible client: `POST {base}/2010-04-01/Accounts/{account}/Messages.json`
/// with form fields `To`, `From`, `Body` and basic auth `account:token`.
#[derive(Clone)]
pub struct TwilioSms {
    client: reqwest::Client,
    base_url: String,
    account: String,
    token: String,
    from: String,
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSms")
            .field("base_url", &self.base_url)
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl TwilioSms {
    pub fn new(
        base_url: &str,
        account: &str,
        token: &str,
        from: &str,
    ) -> Result<TwilioSms, String> {
        // reqwest is built without a crypto provider: use ring (no aws-lc).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("cannot set up the SMS client: {e}"))?;
        Ok(TwilioSms {
            client,
            base_url: base_url.trim_end_matches('/').to_string(),
            account: account.to_string(),
            token: token.to_string(),
            from: from.to_string(),
        })
    }

    fn url(&self) -> String {
        let account: String = form_urlencoded::byte_serialize(self.account.as_bytes()).collect();
        format!(
            "{}/2010-04-01/Accounts/{account}/Messages.json",
            self.base_url
        )
    }
}

/// Temporary or permanent, by HTTP status: 429 and 5xx are worth a retry.
pub fn classify_status(status: u16, detail: &str) -> SmsError {
    let text = format!("HTTP {status}: {detail}");
    if status == 429 || status >= 500 || status == 408 {
        SmsError::Temporary(text)
    } else {
        SmsError::Permanent(text)
    }
}

impl SmsTransport for TwilioSms {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Result<String, SmsError>> {
        Box::pin(async move {
            let resp = self
                .client
                .post(self.url())
                .basic_auth(&self.account, Some(&self.token))
                .form(&[
                    ("To", sms.to.as_str()),
                    ("From", self.from.as_str()),
                    ("Body", sms.body.as_str()),
                ])
                .send()
                .await
                .map_err(|e| SmsError::Temporary(format!("SMS API unreachable: {e}")))?;
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
            if !(200..300).contains(&status) {
                let detail = body
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("no detail")
                    .chars()
                    .take(300)
                    .collect::<String>();
                return Err(classify_status(status, &detail));
            }
            body.get("sid")
                .and_then(|s| s.as_str())
                .map(str::to_string)
                .ok_or_else(|| SmsError::Temporary("the SMS API answered without a sid".into()))
        })
    }
}

/// What an inbound SMS asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

/// STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT opt out; START and UNSTOP
/// opt back in (any case, surrounding space ignored). Anything else: `None`.
pub fn keyword(body: &str) -> Option<Keyword> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::OptOut),
        "START" | "UNSTOP" => Some(Keyword::OptIn),
        _ => None,
    }
}

/// A phone number as the outbox and opt-out list keep it: `+` and digits.
/// Ten digits are taken as a North American number (`+1`). `None` when it
/// cannot be a phone number.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let plus = raw.starts_with('+');
    if raw
        .chars()
        .any(|c| !(c.is_ascii_digit() || " +-().".contains(c)))
    {
        return None;
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let full = match (plus, digits.len()) {
        (true, 8..=15) => digits,
        (false, 10) => format!("1{digits}"),
        (false, 11) if digits.starts_with('1') => digits,
        _ => return None,
    };
    Some(format!("+{full}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords() {
        for k in [
            "STOP",
            " stop ",
            "StopAll",
            "unsubscribe",
            "CANCEL",
            "end",
            "Quit\n",
        ] {
            assert_eq!(keyword(k), Some(Keyword::OptOut), "{k}");
        }
        for k in ["START", "unstop", " Start"] {
            assert_eq!(keyword(k), Some(Keyword::OptIn), "{k}");
        }
        for k in ["stop please", "hello", "", "STOPP"] {
            assert_eq!(keyword(k), None, "{k}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(
            normalize_phone("(512) 555-0142").as_deref(),
            Some("+15125550142")
        );
        assert_eq!(
            normalize_phone("+1 512 555 0142").as_deref(),
            Some("+15125550142")
        );
        assert_eq!(
            normalize_phone("15125550142").as_deref(),
            Some("+15125550142")
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0958").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(normalize_phone("555-0142"), None);
        assert_eq!(normalize_phone("call me"), None);
        assert_eq!(normalize_phone("+1512555014\n2"), None);
    }

    #[test]
    fn http_status_classes() {
        assert!(matches!(classify_status(500, "x"), SmsError::Temporary(_)));
        assert!(matches!(classify_status(503, "x"), SmsError::Temporary(_)));
        assert!(matches!(classify_status(429, "x"), SmsError::Temporary(_)));
        assert!(matches!(classify_status(400, "x"), SmsError::Permanent(_)));
        assert!(matches!(classify_status(401, "x"), SmsError::Permanent(_)));
    }

    #[test]
    fn https_client_builds_with_ring() {
        let t = TwilioSms::new("https://api.twilio.com/", "AC1/x", "t", "+15125550100").unwrap();
        assert_eq!(
            t.url(),
            "https://api.twilio.com/2010-04-01/Accounts/AC1%2Fx/Messages.json"
        );
    }

    #[test]
    fn spool_file_shape() {
        let t = spool_text(&Sms {
            to: "+15125550142".into(),
            body: "Your invoice is ready".into(),
        });
        assert_eq!(t, "To: +15125550142\n\nYour invoice is ready\n");
    }
}
