//! Randomness, hashing and the server secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// The server secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    pub fn generate() -> Secret {
        Secret(random_bytes(32))
    }

    /// HMAC-SHA256 of `message` under this secret, base64url without padding.
    pub fn derive(&self, message: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(message);
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.0)
    }

    pub fn decode(text: &str) -> Option<Secret> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        (bytes.len() >= 32).then_some(Secret(bytes))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Bytes from the operating system's random generator.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let mut rng = OsRng.unwrap_err();
    rng.fill_bytes(&mut buf);
    buf
}

const ID_ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

/// An opaque, unguessable id such as `cus_4f9k2m...` (20 characters, ~103 bits).
pub fn new_id(prefix: &str) -> String {
    let bytes = random_bytes(20);
    let mut id = String::with_capacity(prefix.len() + 21);
    id.push_str(prefix);
    id.push('_');
    for b in bytes {
        id.push(ID_ALPHABET[(b as usize) % ID_ALPHABET.len()] as char);
    }
    id
}

/// A random url-safe token of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(bytes))
}

/// Compares two secrets (CSRF tokens, signatures) in time that does not
/// depend on where they differ. Empty never matches.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Hex SHA-256, the form in which tokens and keys are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_distinct() {
        let a = new_id("cus");
        let b = new_id("cus");
        assert!(a.starts_with("cus_"));
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }

    #[test]
    fn derive_is_stable_and_keyed() {
        let s = Secret::new(vec![7; 32]);
        let t = Secret::new(vec![8; 32]);
        assert_eq!(s.derive(b"x"), s.derive(b"x"));
        assert_ne!(s.derive(b"x"), t.derive(b"x"));
        // 256 bits in base64url without padding.
        assert_eq!(s.derive(b"x").len(), 43);
        assert_eq!(format!("{s:?}"), "Secret(redacted)");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", ""));
        assert!(!same_secret("ab", "abc"));
    }

    #[test]
    fn secret_round_trips() {
        let s = Secret::generate();
        let back = Secret::decode(&s.encoded()).unwrap();
        assert_eq!(s.derive(b"a"), back.derive(b"a"));
        assert!(Secret::decode("short").is_none());
    }
}
