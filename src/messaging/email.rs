//! Outgoing email: one small trait, the built-in transport that writes each
//! message as an RFC 5322 `.eml` file into the spool folder, and SMTP.
//!
//! `FIELDPAY_SMTP_URL`: `smtp://[user:pass@]host[:port]` speaks plain SMTP and
//! upgrades with STARTTLS whenever the server offers it (port 587 by default);
//! `smtps://[user:pass@]host[:port]` opens TLS at once (port 465 by default).
//! A user name and password in the URL are percent-decoded and sent with AUTH.
//! The server's certificate is checked against the public (web PKI) roots,
//! and also against the CA certificates of `FIELDPAY_SMTP_CA_FILE` if given.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream};
use lettre::transport::smtp::extension::ClientId;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::crypto::random_token;
use crate::domain::Clock;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A plain-text email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// `Name <address>` or a bare address.
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    /// Files sent with it (an invoice's PDF).
    pub attachments: Vec<super::Attachment>,
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
    /// A plain-text email.
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Result<String, EmailError>> {
        self.send_alternative(email, None)
    }

    /// An email with an HTML part beside its text (`multipart/alternative`)
    /// when `html` is given.
    fn send_alternative<'a>(
        &'a self,
        email: &'a Email,
        html: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, EmailError>>;
}

/// The default transport: `{spool_dir}/{message id}.eml`, one file per message.
#[derive(Debug, Clone)]
pub struct SpoolTransport {
    pub dir: PathBuf,
    clock: Clock,
}

impl SpoolTransport {
    /// Stamps each message's `Date:` from `clock`.
    pub fn new(dir: impl Into<PathBuf>, clock: Clock) -> SpoolTransport {
        SpoolTransport {
            dir: dir.into(),
            clock,
        }
    }
}

impl EmailTransport for SpoolTransport {
    fn send_alternative<'a>(
        &'a self,
        email: &'a Email,
        html: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, EmailError>> {
        Box::pin(async move {
            let id = format!("{}@fieldpay", random_token(18));
            let text = render_message(email, html, &id, self.clock.now());
            crate::private_files::spool(&self.dir, &format!("{id}.eml"), text.into_bytes())
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

fn headers(out: &mut String, email: &Email, message_id: &str, at: OffsetDateTime) {
    let date = at.format(&Rfc2822).unwrap_or_default();
    for (name, value) in [
        ("From", mailbox(&email.from)),
        ("To", mailbox(&email.to)),
        ("Subject", encode_word(&email.subject)),
        ("Date", date),
        ("Message-ID", format!("<{}>", one_line(message_id))),
        ("MIME-Version", "1.0".into()),
    ] {
        out.push_str(name);
        out.push_str(": ");
        out.push_str(&value);
        out.push_str("\r\n");
    }
}

fn body_lines(out: &mut String, text: &str) {
    for line in text.lines() {
        // A lone "." line ends an SMTP DATA section; never send one.
        if line == "." {
            out.push_str("..");
        } else {
            out.push_str(line);
        }
        out.push_str("\r\n");
    }
}

/// The message as RFC 5322 text with CRLF line ends.
pub fn render(email: &Email, message_id: &str, at: OffsetDateTime) -> String {
    render_message(email, None, message_id, at)
}

/// The message with a text and an HTML part (`multipart/alternative`).
pub fn render_alternative(
    email: &Email,
    html: &str,
    message_id: &str,
    at: OffsetDateTime,
) -> String {
    render_message(email, Some(html), message_id, at)
}

/// The message: its text (and HTML beside it, `multipart/alternative`),
/// wrapped with its attachments in `multipart/mixed` when it has any.
pub fn render_message(
    email: &Email,
    html: Option<&str>,
    message_id: &str,
    at: OffsetDateTime,
) -> String {
    let mut out = String::new();
    headers(&mut out, email, message_id, at);
    if email.attachments.is_empty() {
        content(&mut out, email, html);
        return out;
    }
    let boundary = format!("=_fieldpay_mixed_{}", random_token(12));
    out.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n"
    ));
    out.push_str(&format!("--{boundary}\r\n"));
    content(&mut out, email, html);
    for a in &email.attachments {
        let name = a.filename.replace(['"', '\\', '\r', '\n'], "_");
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&format!(
            "Content-Type: {}; name=\"{name}\"\r\n",
            one_line(&a.content_type)
        ));
        out.push_str(&format!(
            "Content-Disposition: attachment; filename=\"{name}\"\r\n"
        ));
        out.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
        let encoded = STANDARD.encode(&a.content);
        for line in encoded.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(line).unwrap_or_default());
            out.push_str("\r\n");
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    out
}

/// The text part, or the text and HTML parts side by side, with their own
/// `Content-Type` header.
fn content(out: &mut String, email: &Email, html: Option<&str>) {
    let Some(html) = html else {
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
        out.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
        body_lines(out, &email.text);
        return;
    };
    let boundary = format!("=_fieldpay_{}", random_token(12));
    out.push_str(&format!(
        "Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
    ));
    for (kind, body) in [("text/plain", email.text.as_str()), ("text/html", html)] {
        out.push_str(&format!("--{boundary}\r\n"));
        out.push_str(&format!("Content-Type: {kind}; charset=utf-8\r\n"));
        out.push_str("Content-Transfer-Encoding: 8bit\r\n\r\n");
        body_lines(out, body);
    }
    out.push_str(&format!("--{boundary}--\r\n"));
}

/// Email over SMTP (lettre's connection, our pool), from `FIELDPAY_SMTP_URL`.
///
/// The pool is ours rather than lettre's so that every socket has
/// `TCP_NODELAY`: lettre writes a message's body and its final `.` in two
/// writes, and with Nagle's algorithm the second waits for the server's
/// delayed ACK — 40 ms per message, whatever the server's speed.
#[derive(Clone)]
pub struct SmtpTransport {
    pool: Arc<SmtpPool>,
}

struct SmtpPool {
    url: SmtpUrl,
    /// CA certificates (DER) trusted besides the web PKI roots.
    extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    hello: ClientId,
    /// Connections in use at most; a sender beyond waits for one.
    slots: tokio::sync::Semaphore,
    idle: std::sync::Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

/// Connections open at once to the SMTP server.
pub const SMTP_CONNECTIONS: usize = 8;
/// An idle connection older than this is checked with `NOOP` before reuse.
const SMTP_IDLE_CHECK: Duration = Duration::from_secs(30);
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmtpTransport")
    }
}

impl SmtpTransport {
    /// `smtp://[user:pass@]host[:port]` (STARTTLS when offered) or
    /// `smtps://[user:pass@]host[:port]` (implicit TLS).
    pub fn from_url(url: &str) -> Result<SmtpTransport, String> {
        SmtpTransport::from_url_trusting(url, None)
    }

    /// As `from_url`, also trusting the CA certificates of the PEM file
    /// `ca_file` (`FIELDPAY_SMTP_CA_FILE`) for the server's certificate.
    pub fn from_url_trusting(
        url: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<SmtpTransport, String> {
        let url = parse_smtp_url(url)?;
        let extra_roots = match ca_file {
            Some(path) => read_ca_file(path)?,
            None => Vec::new(),
        };
        Ok(SmtpTransport {
            pool: Arc::new(SmtpPool {
                url,
                extra_roots,
                hello: ClientId::default(),
                slots: tokio::sync::Semaphore::new(SMTP_CONNECTIONS),
                idle: std::sync::Mutex::new(Vec::new()),
            }),
        })
    }

    /// An idle connection that still answers, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, EmailError> {
        loop {
            let taken = self
                .pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            let Some((mut conn, since)) = taken else {
                return self.connect().await;
            };
            if conn.has_broken() {
                continue;
            }
            if since.elapsed() < SMTP_IDLE_CHECK || conn.test_connected().await {
                return Ok(conn);
            }
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, EmailError> {
        use lettre::transport::smtp::authentication::Mechanism;
        use lettre::transport::smtp::client::TlsParameters;
        let u = &self.pool.url;
        // Refused, timed out, a failed TLS handshake: worth trying again.
        let network = |e: std::io::Error| {
            EmailError::Temporary(format!("cannot connect to the SMTP server: {e}"))
        };
        let smtp = |e: lettre::transport::smtp::Error| classify_smtp(&e);
        let tcp = tokio::time::timeout(
            SMTP_TIMEOUT,
            tokio::net::TcpStream::connect((u.host.as_str(), u.port)),
        )
        .await
        .map_err(|_| network(std::io::Error::other("connection timed out")))?
        .map_err(network)?;
        tcp.set_nodelay(true).map_err(network)?;
        // A TLS handshake that fails (an untrusted or wrong certificate, no
        // common protocol) says so; it is retried like other connection
        // trouble, since the fix is on a server or in the settings.
        let tls_failed = |e: &dyn std::fmt::Display| {
            let e = e.to_string();
            let hint = if e.contains("certificate") {
                " (a server certificate from a private CA needs FIELDPAY_SMTP_CA_FILE)"
            } else if u.implicit_tls {
                " (smtps:// speaks TLS from the first byte; a server that starts in plain text and offers STARTTLS needs smtp://)"
            } else {
                ""
            };
            EmailError::Temporary(format!(
                "TLS with the SMTP server {}:{} failed: {e}{hint}",
                u.host, u.port
            ))
        };
        let stream: Box<dyn AsyncTokioStream> = if u.implicit_tls {
            Box::new(
                implicit_tls(tcp, &u.host, &self.pool.extra_roots)
                    .await
                    .map_err(|e| tls_failed(&e))?,
            )
        } else {
            Box::new(tcp)
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.pool.hello)
            .await
            .map_err(smtp)?;
        if !u.implicit_tls && conn.can_starttls() {
            let mut tls = TlsParameters::builder(u.host.clone());
            for der in &self.pool.extra_roots {
                tls = tls.add_root_certificate(
                    lettre::transport::smtp::client::Certificate::from_der(der.to_vec())
                        .map_err(smtp)?,
                );
            }
            let tls = tls.build().map_err(smtp)?;
            conn.starttls(tls, &self.pool.hello)
                .await
                .map_err(|e| tls_failed(&e))?;
        }
        if let Some((user, pass)) = &u.credentials {
            let creds = lettre::transport::smtp::authentication::Credentials::new(
                user.clone(),
                pass.clone(),
            );
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
                .await
                .map_err(smtp)?;
        }
        Ok(conn)
    }

    async fn send_message(&self, message: &lettre::Message) -> Result<(), EmailError> {
        let _slot = self
            .pool
            .slots
            .acquire()
            .await
            .map_err(|e| EmailError::Temporary(e.to_string()))?;
        // Every step is bounded: a server that accepts and then stalls must
        // not hold the jobs loop (reconciliation, autopay) behind it. A
        // connection that timed out is dropped, never pooled again.
        let stalled = |what: &str| {
            EmailError::Temporary(format!(
                "the SMTP server did not answer within {} s while {what}",
                SMTP_TIMEOUT.as_secs()
            ))
        };
        let mut conn = tokio::time::timeout(SMTP_TIMEOUT, self.connection())
            .await
            .map_err(|_| stalled("connecting"))??;
        let sent = tokio::time::timeout(
            SMTP_TIMEOUT,
            conn.send(message.envelope(), &message.formatted()),
        )
        .await
        .map_err(|_| stalled("sending"))?;
        if !conn.has_broken() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((conn, Instant::now()));
        }
        sent.map(|_| ()).map_err(|e| classify_smtp(&e))
    }
}

/// The CA certificates of a PEM file (`FIELDPAY_SMTP_CA_FILE`); at least one.
pub fn read_ca_file(
    path: &std::path::Path,
) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let bad = |e: &dyn std::fmt::Display| {
        format!(
            "FIELDPAY_SMTP_CA_FILE {}: cannot read CA certificates: {e}",
            path.display()
        )
    };
    let pem = std::fs::read(path).map_err(|e| bad(&e))?;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(&e))?;
    if certs.is_empty() {
        return Err(bad(&"no PEM certificate in it"));
    }
    let mut store = rustls::RootCertStore::empty();
    for cert in &certs {
        store.add(cert.clone()).map_err(|e| bad(&e))?;
    }
    Ok(certs)
}

/// `smtps://`: TLS from the first byte, verified against the web PKI roots
/// and `extra_roots`.
async fn implicit_tls(
    tcp: tokio::net::TcpStream,
    host: &str,
    extra_roots: &[rustls::pki_types::CertificateDer<'static>],
) -> std::io::Result<TlsSocket> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in extra_roots {
        roots.add(cert.clone()).map_err(std::io::Error::other)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name =
        rustls::pki_types::ServerName::try_from(host.to_string()).map_err(std::io::Error::other)?;
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await?;
    Ok(TlsSocket(stream))
}

/// A TLS stream lettre can drive.
struct TlsSocket(tokio_rustls::client::TlsStream<tokio::net::TcpStream>);

impl std::fmt::Debug for TlsSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSocket")
    }
}

impl AsyncTokioStream for TlsSocket {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

impl tokio::io::AsyncRead for TlsSocket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for TlsSocket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The parts of `FIELDPAY_SMTP_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub implicit_tls: bool,
    pub credentials: Option<(String, String)>,
}

/// Checks and splits `smtp://[user:pass@]host[:port]` / `smtps://…`.
pub fn parse_smtp_url(url: &str) -> Result<SmtpUrl, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("bad FIELDPAY_SMTP_URL: {e}"))?;
    let implicit_tls = match parsed.scheme() {
        "smtp" => false,
        "smtps" => true,
        other => {
            return Err(format!(
                "FIELDPAY_SMTP_URL must start with smtp:// or smtps://, not {other}://"
            ));
        }
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or("FIELDPAY_SMTP_URL names no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let port = parsed
        .port()
        .unwrap_or(if implicit_tls { 465 } else { 587 });
    let credentials = if parsed.username().is_empty() {
        None
    } else {
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| "FIELDPAY_SMTP_URL: bad percent-encoding".to_string())
        };
        Some((
            decode(parsed.username())?,
            decode(parsed.password().unwrap_or(""))?,
        ))
    };
    Ok(SmtpUrl {
        host,
        port,
        implicit_tls,
        credentials,
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether an SMTP failure is worth retrying: 4xx and connection trouble
/// are; a 5xx answer is not.
pub fn classify_smtp(e: &lettre::transport::smtp::Error) -> EmailError {
    let text = e.to_string();
    if e.is_permanent() {
        EmailError::Permanent(text)
    } else {
        EmailError::Temporary(text)
    }
}

impl EmailTransport for SmtpTransport {
    fn send_alternative<'a>(
        &'a self,
        email: &'a Email,
        html: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, EmailError>> {
        use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
        Box::pin(async move {
            let bad = |what: &str, e: &dyn std::fmt::Display| {
                EmailError::Permanent(format!("{what} is not a valid address: {e}"))
            };
            let from: Mailbox = one_line(&email.from)
                .parse()
                .map_err(|e| bad("the sender", &e))?;
            let to: Mailbox = one_line(&email.to)
                .parse()
                .map_err(|e| bad("the recipient", &e))?;
            let id = format!("{}@fieldpay", random_token(18));
            let builder = lettre::Message::builder()
                .from(from)
                .to(to)
                .subject(one_line(&email.subject))
                .message_id(Some(format!("<{id}>")));
            let built = match (html, email.attachments.is_empty()) {
                (Some(html), true) => builder.multipart(MultiPart::alternative_plain_html(
                    email.text.clone(),
                    html.to_string(),
                )),
                (None, true) => builder
                    .header(ContentType::TEXT_PLAIN)
                    .body(email.text.clone()),
                (html, false) => {
                    let mut mixed = match html {
                        Some(html) => MultiPart::mixed().multipart(
                            MultiPart::alternative_plain_html(email.text.clone(), html.to_string()),
                        ),
                        None => {
                            MultiPart::mixed().singlepart(SinglePart::plain(email.text.clone()))
                        }
                    };
                    for a in &email.attachments {
                        let kind = ContentType::parse(&a.content_type).map_err(|e| {
                            EmailError::Permanent(format!("bad attachment type: {e}"))
                        })?;
                        mixed = mixed.singlepart(
                            lettre::message::Attachment::new(a.filename.clone())
                                .body(a.content.clone(), kind),
                        );
                    }
                    builder.multipart(mixed)
                }
            };
            let message = built
                .map_err(|e| EmailError::Permanent(format!("cannot build the message: {e}")))?;
            self.send_message(&message).await?;
            Ok(id)
        })
    }
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
            attachments: Vec::new(),
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

    #[test]
    fn alternative_has_both_parts() {
        let text = render_alternative(
            &sample(),
            "<p>Hello</p>",
            "m4@fieldpay",
            datetime!(2026-11-28 05:00 UTC),
        );
        assert!(text.contains("Content-Type: multipart/alternative; boundary="));
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(text.contains("Content-Type: text/html; charset=utf-8\r\n"));
        assert!(text.contains("<p>Hello</p>\r\n"));
    }

    #[test]
    fn smtp_urls() {
        let u = parse_smtp_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.implicit_tls),
            ("127.0.0.1", 2525, false)
        );
        assert_eq!(u.credentials, None);
        let u = parse_smtp_url("smtps://u%40x:p%2Fw@mail.example.com").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.implicit_tls),
            ("mail.example.com", 465, true)
        );
        assert_eq!(u.credentials, Some(("u@x".into(), "p/w".into())));
        assert_eq!(parse_smtp_url("smtp://mail.example.com").unwrap().port, 587);
        assert!(parse_smtp_url("http://mail.example.com").is_err());
        assert!(parse_smtp_url("smtp://").is_err());
        assert_eq!(percent_decode("u%40x").as_deref(), Some("u@x"));
        assert_eq!(percent_decode("bad%zz"), None);
    }

    #[test]
    fn ca_files_must_hold_certificates() {
        let dir = std::env::temp_dir().join(format!("fieldpay-ca-{}", random_token(8)));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = read_ca_file(&dir.join("none.pem")).unwrap_err();
        assert!(missing.contains("FIELDPAY_SMTP_CA_FILE"), "{missing}");
        let not_pem = dir.join("key.txt");
        std::fs::write(&not_pem, "not a certificate\n").unwrap();
        let empty = read_ca_file(&not_pem).unwrap_err();
        assert!(empty.contains("no PEM certificate"), "{empty}");
        let garbled = dir.join("garbled.pem");
        std::fs::write(
            &garbled,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(read_ca_file(&garbled).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[tokio::test]
    async fn spool_writes_one_file_named_by_message_id() {
        let dir = std::env::temp_dir().join(format!("fieldpay-spool-{}", random_token(8)));
        let t = SpoolTransport::new(&dir, Clock::system());
        let id = t.send(&sample()).await.unwrap();
        let text = std::fs::read_to_string(dir.join(format!("{id}.eml"))).unwrap();
        assert!(text.contains(&format!("Message-ID: <{id}>")));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }
}
