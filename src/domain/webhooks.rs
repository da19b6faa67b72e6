//! Outbound webhooks as rules, without I/O: the event types a company can
//! subscribe to, the retry schedule, when a failing endpoint is turned off,
//! the Standard Webhooks signature, the endpoint secret's form, and which
//! addresses a webhook may never be sent to (SECURITY.md 26).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use time::Duration;

/// What happened, as the `type` of an event. The names are the contract's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    CustomerCreated,
    InvoiceCreated,
    InvoicePaid,
    InvoiceVoided,
    PaymentSucceeded,
    PaymentRefunded,
    AutopayPaymentFailed,
    /// Sent to one endpoint when someone asks for a test; nobody subscribes to it.
    Test,
}

impl EventType {
    /// The types an endpoint can subscribe to, in the order pages list them.
    pub const SUBSCRIBABLE: [EventType; 7] = [
        EventType::CustomerCreated,
        EventType::InvoiceCreated,
        EventType::InvoicePaid,
        EventType::InvoiceVoided,
        EventType::PaymentSucceeded,
        EventType::PaymentRefunded,
        EventType::AutopayPaymentFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CustomerCreated => "customer.created",
            EventType::InvoiceCreated => "invoice.created",
            EventType::InvoicePaid => "invoice.paid",
            EventType::InvoiceVoided => "invoice.voided",
            EventType::PaymentSucceeded => "payment.succeeded",
            EventType::PaymentRefunded => "payment.refunded",
            EventType::AutopayPaymentFailed => "autopay.payment_failed",
            EventType::Test => "webhook.test",
        }
    }

    /// A type an endpoint can subscribe to, by its name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::SUBSCRIBABLE
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// The event types an endpoint asks for: known names, at least one, each
/// once, in the contract's order. The error names the first unknown one.
pub fn parse_event_list<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<EventType>, String> {
    let mut chosen = Vec::new();
    for name in names {
        let name = name.trim();
        let t = EventType::parse(name).ok_or_else(|| {
            format!(
                "'{}' is not an event type; use {}.",
                name.chars().take(60).collect::<String>(),
                type_names()
            )
        })?;
        chosen.push(t);
    }
    if chosen.is_empty() {
        return Err(format!("Choose at least one event type: {}.", type_names()));
    }
    Ok(EventType::SUBSCRIBABLE
        .into_iter()
        .filter(|t| chosen.contains(t))
        .collect())
}

fn type_names() -> String {
    EventType::SUBSCRIBABLE
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------- schedule

/// How long to wait after the n-th failed try (index n - 1) before the next
/// one: 7 tries in all over about 34.6 hours. After the last, the delivery
/// is abandoned (the office can still retry it by hand).
pub const RETRY_DELAYS: [Duration; 6] = [
    Duration::minutes(1),
    Duration::minutes(5),
    Duration::minutes(30),
    Duration::hours(2),
    Duration::hours(8),
    Duration::hours(24),
];

/// Tries a delivery gets before it is abandoned.
pub const MAX_ATTEMPTS: i64 = RETRY_DELAYS.len() as i64 + 1;

/// The wait before the next try once `attempts` tries have failed; `None`
/// when that was the last try.
pub fn retry_delay(attempts: i64) -> Option<Duration> {
    let i = usize::try_from(attempts.checked_sub(1)?).ok()?;
    RETRY_DELAYS.get(i).copied()
}

/// An endpoint whose every try has failed for this long (no 2xx since its
/// first failure) is turned off and its owner told.
pub const DISABLE_AFTER: Duration = Duration::days(3);

/// Whether an endpoint failing since `failing_since` is to be turned off at `now`.
pub fn should_disable(failing_since: time::OffsetDateTime, now: time::OffsetDateTime) -> bool {
    now - failing_since >= DISABLE_AFTER
}

/// A receiver's answer that counts as delivered: any 2xx.
pub fn delivered(status: u16) -> bool {
    (200..300).contains(&status)
}

// ---------------------------------------------------------------- signing

/// The prefix of an endpoint's signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// An endpoint's signing secret as shown once: `whsec_` + base64 of the key.
pub fn secret_text(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The key of a `whsec_…` secret (the base64-decoded part after the prefix).
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// The `webhook-signature` header of Standard Webhooks:
/// `v1,` + base64 of HMAC-SHA256(key, "{id}.{timestamp}.{body}").
pub fn signature(key: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

// ---------------------------------------------------------------- addresses

/// Why a webhook may not go to `ip` (unless the operator allows private
/// targets), or `None` for a public address: loopback, private, link-local
/// (cloud metadata at 169.254.169.254 included), unspecified, multicast,
/// broadcast, shared (CGNAT), reserved and documentation ranges, IPv6 unique
/// local and site-local; an IPv4 address carried inside IPv6 (mapped,
/// compatible, NAT64, 6to4) is judged as itself.
pub fn refused_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        _ if ip.is_private() => "a private address",
        _ if ip.is_link_local() => "a link-local address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        _ if ip.is_multicast() => "a multicast address",
        _ if ip.is_broadcast() => "the broadcast address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (192, 0, 0) | (192, 88, 99) | (198, 18..=19, _) => "a reserved address",
        _ if a >= 240 => "a reserved address",
        _ => return None,
    })
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if let Some(v4) = embedded_v4(ip) {
        return refused_v4(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        x if x & 0xfe00 == 0xfc00 => "a unique local address",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        // Teredo tunnels, the discard prefix, local-use NAT64.
        0x2001 if s[1] == 0 => "a reserved address",
        0x0100 if s[1..4] == [0, 0, 0] => "a reserved address",
        0x0064 if s[1] == 0xff9b && s[2] == 1 => "a private address",
        // Nothing outside the global unicast range 2000::/3 is reachable.
        x if x & 0xe000 != 0x2000 => "a reserved address",
        _ => return None,
    })
}

/// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let last =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0; 6] {
        return Some(last(s[6], s[7]));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(last(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return Some(last(s[1], s[2]));
    }
    None
}

// ---------------------------------------------------------------- URLs

/// Longest endpoint URL taken.
pub const MAX_URL_LEN: usize = 2048;

/// An endpoint URL that passed the checks that need no network: its host
/// and port are what gets resolved and checked (at creation and at every send).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    pub url: String,
    pub host: String,
    pub port: u16,
    /// The host is an IP address written in the URL.
    pub ip: Option<IpAddr>,
}

/// Checks an endpoint URL's form: http or https, a host, no user name or
/// password, no fragment, not too long. Says what to fix.
pub fn parse_endpoint_url(text: &str) -> Result<EndpointUrl, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter the URL that receives the events, such as https://example.com/webhooks/fieldpay.".into());
    }
    if text.len() > MAX_URL_LEN {
        return Err(format!("The URL is longer than {MAX_URL_LEN} characters."));
    }
    if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("The URL may not hold spaces or control characters.".into());
    }
    let url = url::Url::parse(text).map_err(|e| {
        format!("This is not a URL ({e}); write it in full, such as https://example.com/webhooks/fieldpay.")
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err("The URL must start with https:// (or http://).".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Put no user name or password in the URL: receivers check the webhook-signature header instead.".into());
    }
    if url.fragment().is_some() {
        return Err("Remove the #fragment from the URL: it is never sent.".into());
    }
    let (host, ip) = match url.host() {
        Some(url::Host::Domain(d)) => (d.to_string(), None),
        Some(url::Host::Ipv4(v4)) => (v4.to_string(), Some(IpAddr::V4(v4))),
        Some(url::Host::Ipv6(v6)) => (v6.to_string(), Some(IpAddr::V6(v6))),
        None => return Err("The URL has no host name.".into()),
    };
    let port = url.port_or_known_default().ok_or("The URL has no port.")?;
    Ok(EndpointUrl {
        url: url.to_string(),
        host,
        port,
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_the_contracts() {
        let names: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "customer.created",
                "invoice.created",
                "invoice.paid",
                "invoice.voided",
                "payment.succeeded",
                "payment.refunded",
                "autopay.payment_failed"
            ]
        );
        for t in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("webhook.test"), None);
        assert_eq!(EventType::parse("Invoice.Paid"), None);
    }

    #[test]
    fn event_lists_are_checked_and_ordered() {
        assert_eq!(
            parse_event_list(["invoice.paid", "customer.created", "invoice.paid"]).unwrap(),
            [EventType::CustomerCreated, EventType::InvoicePaid]
        );
        let e = parse_event_list(["invoice.paied"]).unwrap_err();
        assert!(e.contains("'invoice.paied' is not an event type"), "{e}");
        assert!(e.contains("invoice.paid"), "{e}");
        assert!(
            parse_event_list(Vec::<&str>::new())
                .unwrap_err()
                .contains("at least one")
        );
    }

    #[test]
    fn retries_grow_and_end() {
        let mut total = Duration::ZERO;
        let mut last = Duration::ZERO;
        for attempts in 1..MAX_ATTEMPTS {
            let d = retry_delay(attempts).unwrap();
            assert!(d > last, "delays grow");
            last = d;
            total += d;
        }
        assert_eq!(retry_delay(MAX_ATTEMPTS), None);
        assert_eq!(retry_delay(0), None);
        const { assert!(MAX_ATTEMPTS >= 5) };
        assert!(total >= Duration::hours(24), "tries span a day: {total}");
        assert_eq!(retry_delay(1), Some(Duration::minutes(1)));
    }

    #[test]
    fn endpoints_are_turned_off_after_three_days_of_failures() {
        let t = time::macros::datetime!(2026-12-01 12:00 UTC);
        assert!(!should_disable(
            t,
            t + Duration::days(3) - Duration::seconds(1)
        ));
        assert!(should_disable(t, t + Duration::days(3)));
        assert!(delivered(200) && delivered(204) && delivered(299));
        assert!(!delivered(199) && !delivered(301) && !delivered(500));
    }

    #[test]
    fn signature_matches_the_standard_webhooks_library() {
        // Computed with the `standardwebhooks` Python library (1.3.0):
        // Webhook(secret).sign("msg_p5jXN8AQM9LWM0D4loKWxJek",
        //   datetime.fromtimestamp(1614265330, tz=timezone.utc), '{"test": 2432232314}')
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            signature(
                &key,
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                r#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_round_trip() {
        let key = [7u8; 32];
        let text = secret_text(&key);
        assert!(text.starts_with("whsec_"));
        assert_eq!(secret_key(&text).unwrap(), key);
        assert_eq!(secret_key("sk_abc"), None);
        assert_eq!(secret_key("whsec_"), None);
        assert_eq!(secret_key("whsec_!!"), None);
    }

    fn refused(text: &str) -> Option<&'static str> {
        refused_address(text.parse().unwrap())
    }

    #[test]
    fn private_addresses_are_refused() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.1.2.3", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("10.0.0.8", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "carrier-grade"),
            ("100.127.255.255", "carrier-grade"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.0.8", "reserved"),
            ("198.18.0.1", "reserved"),
            ("192.0.2.10", "documentation"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::127.0.0.1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "link-local"),
            ("64:ff9b:1::1", "private"),
            ("2002:7f00:0001::1", "loopback"),
            ("2002:c0a8:0101::1", "private"),
            ("2001:0:4136:e378::1", "reserved"),
            ("100::1", "reserved"),
        ] {
            let got = refused(ip).unwrap_or_else(|| panic!("{ip} was allowed"));
            assert!(got.contains(why), "{ip}: {got}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "169.253.1.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81c::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:0808:0808::1",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_for_form() {
        let u = parse_endpoint_url(" https://Example.com/hooks?x=1 ").unwrap();
        assert_eq!(u.url, "https://example.com/hooks?x=1");
        assert_eq!((u.host.as_str(), u.port, u.ip), ("example.com", 443, None));
        let u = parse_endpoint_url("http://127.0.0.1:8080/h").unwrap();
        assert_eq!(u.port, 8080);
        assert_eq!(u.ip, Some("127.0.0.1".parse().unwrap()));
        let u = parse_endpoint_url("http://[::ffff:127.0.0.1]/h").unwrap();
        assert_eq!(u.ip, Some("::ffff:7f00:1".parse().unwrap()));
        for (bad, words) in [
            ("", "Enter the URL"),
            ("ftp://example.com/", "https://"),
            ("example.com/hook", "not a URL"),
            ("https://user:pw@example.com/", "no user name"),
            ("https://example.com/#x", "fragment"),
            ("https://exa mple.com/", "spaces"),
        ] {
            let e = parse_endpoint_url(bad).unwrap_err();
            assert!(e.contains(words), "{bad}: {e}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(parse_endpoint_url(&long).unwrap_err().contains("longer"));
    }
}
