//! Sending a signed webhook: one trait (`WebhookSender`) with the real HTTP
//! adapter and a built-in recorder. The HTTP adapter resolves the host
//! itself at every send and connects only to addresses it checked
//! (SECURITY.md 26): a name that resolves to a loopback, private or
//! link-local address is refused unless the operator allows private targets,
//! so a DNS change after the endpoint was saved cannot reach inside. No
//! redirect is followed, the whole exchange is cut at 10 s, and at most
//! 4 KiB of the answer is read.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use crate::domain::webhooks::{EndpointUrl, parse_endpoint_url, refused_address};
use crate::processor::BoxFuture;

/// How long a receiver has to answer, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an answer is read (the status is what counts).
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// How long a name may take to resolve when an endpoint is saved.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// One signed POST of an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    pub url: String,
    /// `webhook-id`: the event's id, the same on every try.
    pub id: String,
    /// `webhook-timestamp`: Unix seconds of this try.
    pub timestamp: i64,
    /// `webhook-signature`: `v1,<base64>`.
    pub signature: String,
    /// The JSON body, exactly as signed.
    pub body: String,
    /// Loopback, private and link-local targets are allowed
    /// (`FIELDPAY_WEBHOOKS_ALLOW_PRIVATE`).
    pub allow_private: bool,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The receiver answered with this status; `excerpt` is the start of
    /// its body (at most `MAX_RESPONSE_BYTES` read).
    Status { status: u16, excerpt: String },
    /// No answer: refused address, no such host, connection refused, TLS
    /// failure, or nothing within `TIMEOUT`. In words.
    NoAnswer(String),
}

/// Where webhooks go out.
pub trait WebhookSender: Send + Sync {
    fn send<'a>(&'a self, req: &'a WebhookRequest) -> BoxFuture<'a, Answer>;
}

// ---------------------------------------------------------------- checks

/// Why an address may not be sent to, in words, or `None` when it may.
fn refusal(host: &str, addr: std::net::IpAddr, allow_private: bool) -> Option<String> {
    if allow_private {
        return None;
    }
    let what = refused_address(addr)?;
    let named = if host == addr.to_string() {
        format!("{addr} is {what}")
    } else {
        format!("{host} resolves to {addr}, {what}")
    };
    Some(format!(
        "{named}: webhooks go only to public addresses (an operator can allow private ones with FIELDPAY_WEBHOOKS_ALLOW_PRIVATE)"
    ))
}

/// Resolves a host now and checks every address it gives; the addresses
/// when all may be sent to, else why not.
pub async fn resolve_checked(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, String> {
    let looked_up = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
        .await
        .map_err(|_| {
            format!(
                "{host} did not resolve within {} s",
                RESOLVE_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| format!("{host} does not resolve ({e})"))?;
    let addrs: Vec<SocketAddr> = looked_up.collect();
    if addrs.is_empty() {
        return Err(format!("{host} does not resolve to any address"));
    }
    for a in &addrs {
        if let Some(why) = refusal(host, a.ip(), allow_private) {
            return Err(why);
        }
    }
    Ok(addrs)
}

/// Checks an endpoint URL as a send would: its form, then its address (the
/// IP written in it, or every address its name resolves to now).
pub async fn check_target(url: &str, allow_private: bool) -> Result<EndpointUrl, String> {
    let parsed = parse_endpoint_url(url)?;
    match parsed.ip {
        Some(ip) => {
            if let Some(why) = refusal(&parsed.host, ip, allow_private) {
                return Err(why);
            }
        }
        None => {
            resolve_checked(&parsed.host, parsed.port, allow_private).await?;
        }
    }
    Ok(parsed)
}

/// The resolver the HTTP client connects through: the checks of
/// `resolve_checked` on every connection it opens.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            // Port 0: the client puts the URL's port in.
            let addrs = resolve_checked(&host, 0, allow_private)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

// ---------------------------------------------------------------- HTTP

/// The real sender: HTTP(S) with rustls, through `CheckedResolver`.
pub struct HttpWebhookSender {
    /// Public addresses only.
    strict: reqwest::Client,
    /// Any address (the operator allowed private targets).
    open: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for HttpWebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWebhookSender")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpWebhookSender {
    pub fn new() -> Result<HttpWebhookSender, String> {
        HttpWebhookSender::with_timeout(TIMEOUT)
    }

    /// A sender that waits `timeout` for an answer.
    pub fn with_timeout(timeout: Duration) -> Result<HttpWebhookSender, String> {
        Ok(HttpWebhookSender {
            strict: client(false, timeout)?,
            open: client(true, timeout)?,
            timeout,
        })
    }
}

fn client(allow_private: bool, timeout: Duration) -> Result<reqwest::Client, String> {
    // reqwest is built without a crypto provider: use ring (no aws-lc).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        // Every send resolves and checks again, and a pooled connection
        // would outlive the runtime that opened it (each test has its own).
        .pool_max_idle_per_host(0)
        .dns_resolver(CheckedResolver { allow_private })
        .user_agent(concat!("fieldpay-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the webhook client: {e}"))
}

/// An error and its causes in one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut words = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !words.contains(&more) {
            words.push_str(": ");
            words.push_str(&more);
        }
        source = s.source();
    }
    words
}

impl WebhookSender for HttpWebhookSender {
    fn send<'a>(&'a self, req: &'a WebhookRequest) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            // A URL naming an IP address is never resolved: checked here.
            let target = match parse_endpoint_url(&req.url) {
                Ok(t) => t,
                Err(e) => return Answer::NoAnswer(e),
            };
            if let Some(ip) = target.ip
                && let Some(why) = refusal(&target.host, ip, req.allow_private)
            {
                return Answer::NoAnswer(why);
            }
            let client = if req.allow_private {
                &self.open
            } else {
                &self.strict
            };
            let sent = client
                .post(&target.url)
                .header("content-type", "application/json")
                .header("webhook-id", &req.id)
                .header("webhook-timestamp", req.timestamp.to_string())
                .header("webhook-signature", &req.signature)
                .body(req.body.clone())
                .send()
                .await;
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Answer::NoAnswer(format!(
                        "no answer within {} s",
                        self.timeout.as_secs()
                    ));
                }
                Err(e) => return Answer::NoAnswer(chain(&e)),
            };
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            while body.len() < MAX_RESPONSE_BYTES {
                match resp.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    // The status came: what is left of the body does not matter.
                    Ok(None) | Err(_) => break,
                }
            }
            body.truncate(MAX_RESPONSE_BYTES);
            Answer::Status {
                status,
                excerpt: String::from_utf8_lossy(&body).into_owned(),
            }
        })
    }
}

// ---------------------------------------------------------------- built-in

/// The built-in sender: keeps every request and answers each with one
/// status (200 unless told otherwise). Nothing leaves the process.
#[derive(Debug)]
pub struct RecordingSender {
    sent: Mutex<Vec<WebhookRequest>>,
    status: std::sync::atomic::AtomicU16,
}

impl Default for RecordingSender {
    fn default() -> Self {
        RecordingSender {
            sent: Mutex::new(Vec::new()),
            status: std::sync::atomic::AtomicU16::new(200),
        }
    }
}

impl RecordingSender {
    /// Answers every later request with `status`.
    pub fn answer_with(&self, status: u16) {
        self.status
            .store(status, std::sync::atomic::Ordering::Relaxed);
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<WebhookRequest> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl WebhookSender for RecordingSender {
    fn send<'a>(&'a self, req: &'a WebhookRequest) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            if let Ok(mut sent) = self.sent.lock() {
                sent.push(req.clone());
            }
            Answer::Status {
                status: self.status.load(std::sync::atomic::Ordering::Relaxed),
                excerpt: String::new(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str, allow_private: bool) -> WebhookRequest {
        WebhookRequest {
            url: url.into(),
            id: "evt_1".into(),
            timestamp: 1,
            signature: "v1,x".into(),
            body: "{}".into(),
            allow_private,
        }
    }

    #[tokio::test]
    async fn private_targets_are_refused_before_connecting() {
        let sender = HttpWebhookSender::new().unwrap();
        for url in [
            "http://127.0.0.1:9/hook",
            "http://[::1]:9/hook",
            "http://[::ffff:127.0.0.1]:9/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://2130706433:9/hook",
            "http://localhost:9/hook",
        ] {
            let Answer::NoAnswer(why) = sender.send(&request(url, false)).await else {
                panic!("{url} was sent to");
            };
            assert!(
                why.contains("webhooks go only to public addresses"),
                "{url}: {why}"
            );
        }
    }

    #[tokio::test]
    async fn checks_name_the_address_and_the_setting() {
        let e = check_target("http://10.1.2.3/x", false).await.unwrap_err();
        assert!(e.contains("10.1.2.3 is a private address"), "{e}");
        assert!(e.contains("FIELDPAY_WEBHOOKS_ALLOW_PRIVATE"), "{e}");
        let e = check_target("http://localhost:8080/x", false)
            .await
            .unwrap_err();
        assert!(e.contains("localhost resolves to"), "{e}");
        assert!(check_target("http://localhost:8080/x", true).await.is_ok());
        assert!(check_target("https://93.184.215.14/x", false).await.is_ok());
        let e = check_target("https://nothing.invalid/x", false)
            .await
            .unwrap_err();
        assert!(e.contains("nothing.invalid"), "{e}");
    }

    #[tokio::test]
    async fn the_recorder_keeps_what_it_was_sent() {
        let r = RecordingSender::default();
        r.answer_with(503);
        let answer = r.send(&request("https://example.com/", false)).await;
        assert!(matches!(answer, Answer::Status { status: 503, .. }));
        assert_eq!(r.requests().len(), 1);
    }
}
