//! Payment links: capability URLs for a customer's quick payment page.
//!
//! A token is the HMAC of the link's id and generation under the server
//! secret, so the URL can be shown again without being stored; only its
//! SHA-256 is kept, for lookup. Rotation bumps the generation.

use crate::crypto::{Secret, sha256_hex};

pub fn token(secret: &Secret, link_id: &str, generation: i64) -> String {
    secret.derive(format!("paylink:{link_id}:{generation}").as_bytes())
}

pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// What the audit log names a token by: a prefix of its hash.
pub fn audit_ref(token_hash: &str) -> String {
    format!("link:{}", &token_hash[..token_hash.len().min(12)])
}

/// A well-formed token: 43 base64url characters (256 bits). Anything else is
/// a miss without touching the database.
pub fn looks_like_token(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub fn url(base_url: &str, token: &str) -> String {
    format!("{base_url}/pay/{token}")
}

/// Whether a rendered message holds a payment link (what the collections
/// funnel counts).
pub fn carries_link(text: &str) -> bool {
    text.match_indices("/pay/").any(|(at, _)| {
        let rest = &text[at + "/pay/".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        looks_like_token(&rest[..end])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carries_a_link_when_it_holds_a_token_url() {
        let s = Secret::new(vec![1; 32]);
        let link = url("https://pay.example", &token(&s, "lnk_x", 1));
        assert!(carries_link(&format!("Pay here: {link}. Thanks")));
        assert!(carries_link(&format!("<a href=\"{link}\">Pay</a>")));
        assert!(!carries_link("Visit https://pay.example/pay/ later"));
        assert!(!carries_link("Your receipt for invoice 1001"));
    }

    #[test]
    fn tokens_are_256_bits_and_change_with_generation() {
        let s = Secret::new(vec![1; 32]);
        let a = token(&s, "lnk_x", 1);
        let b = token(&s, "lnk_x", 2);
        assert!(looks_like_token(&a));
        assert_ne!(a, b);
        assert_eq!(a, token(&s, "lnk_x", 1));
        assert_eq!(token_hash(&a).len(), 64);
        assert!(!looks_like_token("short"));
        assert!(!looks_like_token(&format!("{}!", &a[..42])));
        assert_eq!(audit_ref(&token_hash(&a)).len(), "link:".len() + 12);
    }
}
