//! Randomness, hashing and the server secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::TryRngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

use crate::domain::ids::CompanyId;

/// The server secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Secret {
    bytes: Vec<u8>,
    /// HMAC-SHA256 keyed with `bytes`: the key's two blocks hashed once, not
    /// on every form token a page signs.
    mac: Hmac<Sha256>,
}

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Secret {
        let mac = Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC takes keys of any length");
        Secret { bytes, mac }
    }

    pub fn generate() -> Secret {
        Secret::new(random_bytes(32))
    }

    /// HMAC-SHA256 of `message` under this secret, base64url without padding.
    pub fn derive(&self, message: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_of(message))
    }

    fn mac_of(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(&self.bytes)
    }

    pub fn decode(text: &str) -> Option<Secret> {
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        (bytes.len() >= 32).then(|| Secret::new(bytes))
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

/// An opaque, unguessable id such as `cus_4f9k2m...` (20 characters, ~103
/// bits). The bytes come from the thread's generator (ChaCha, seeded and
/// reseeded from the operating system), not a system call per id: ids are
/// made by the thousand when alerts are queued. Secrets and tokens still
/// take theirs from the operating system (`random_bytes`).
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill_bytes(&mut bytes);
    let mut id = String::with_capacity(prefix.len() + 21);
    id.push_str(prefix);
    id.push('_');
    push_id_chars(&mut id, &bytes);
    id
}

fn push_id_chars(id: &mut String, bytes: &[u8]) {
    for b in bytes {
        id.push(ID_ALPHABET[(*b as usize) % ID_ALPHABET.len()] as char);
    }
}

/// `n` new ids that sort in the order given, and after the ids this
/// process made before at the same `at` or earlier: the prefix, `_`, 8
/// characters of `at` in milliseconds, 6 of a counter of the process, 10
/// random (~51 bits). Rows inserted in that order append to the id's index
/// instead of touching its pages all over, which is what queueing 100,000
/// messages at once spent much of its time on.
pub fn new_ids_in_order(prefix: &str, at: time::OffsetDateTime, n: usize) -> Vec<String> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let first = COUNTER.fetch_add(n as u64, Ordering::Relaxed);
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut stem = String::with_capacity(prefix.len() + 9);
    stem.push_str(prefix);
    stem.push('_');
    push_base36(&mut stem, millis, 8);
    let mut rng = rand::rng();
    (0..n as u64)
        .map(|i| {
            let mut id = String::with_capacity(stem.len() + 16);
            id.push_str(&stem);
            push_base36(&mut id, first + i, 6);
            let mut bytes = [0u8; 10];
            rng.fill_bytes(&mut bytes);
            push_id_chars(&mut id, &bytes);
            id
        })
        .collect()
}

/// One id as `new_ids_in_order` makes them: for rows a request inserts one
/// at a time (a payment's attempt, payment, audit record), so that the
/// inserts of one commit land on the last page of the id's index.
pub fn new_id_in_order(prefix: &str, at: time::OffsetDateTime) -> String {
    new_ids_in_order(prefix, at, 1)
        .pop()
        .unwrap_or_else(|| new_id(prefix))
}

/// `value` in `width` base-36 digits, most significant first (its lowest
/// digits only, if it needs more).
fn push_base36(out: &mut String, mut value: u64, width: usize) {
    let mut digits = vec![b'0'; width];
    for d in digits.iter_mut().rev() {
        *d = ID_ALPHABET[(value % 36) as usize];
        value /= 36;
    }
    out.extend(digits.into_iter().map(char::from));
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
    hex::encode(Sha256::digest(data))
}

/// Seals processor keys (Stripe secret key, webhook secret) at rest with
/// AES-256-GCM under a key derived from the server secret. Sealed text is
/// `v1.` + base64url(nonce || ciphertext || tag); the company id is bound as
/// associated data, so a sealed key cannot be moved to another company.
/// Its `Debug` shows nothing.
#[derive(Clone)]
pub struct KeyBox(ring::aead::LessSafeKey);

impl KeyBox {
    /// The box for a server secret (its own derived key, never the secret itself).
    pub fn from_secret(secret: &Secret) -> KeyBox {
        let key = secret.mac_of(b"fieldpay/processor-keys/aes-256-gcm/v1");
        let unbound = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &key)
            .expect("AES-256-GCM takes 32-byte keys");
        KeyBox(ring::aead::LessSafeKey::new(unbound))
    }

    pub fn seal(&self, company_id: &CompanyId, plaintext: &str) -> String {
        let nonce_bytes: [u8; 12] = random_bytes(12).try_into().expect("12 random bytes");
        let nonce = ring::aead::Nonce::assume_unique_for_key(nonce_bytes);
        let mut data = plaintext.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(
                nonce,
                ring::aead::Aad::from(company_id.as_bytes()),
                &mut data,
            )
            .expect("sealing fits in memory");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        format!("v1.{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// The plaintext, or `None` when the text was not sealed by this server
    /// secret for this company (or was altered).
    pub fn open(&self, company_id: &CompanyId, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix("v1.")?).ok()?;
        if bytes.len() < 12 + 16 {
            return None;
        }
        let (nonce, rest) = bytes.split_at(12);
        let nonce = ring::aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .0
            .open_in_place(
                nonce,
                ring::aead::Aad::from(company_id.as_bytes()),
                &mut data,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

impl fmt::Debug for KeyBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyBox(redacted)")
    }
}

/// A key shown back masked: its prefix (`sk_test_`, `whsec_`) and last 4,
/// e.g. `sk_test_…4242`. Short keys show only the prefix.
pub fn mask_key(key: &str) -> String {
    let prefix_end = key
        .rfind('_')
        .map(|i| i + 1)
        .filter(|&i| i <= 16)
        .unwrap_or(0);
    let (prefix, rest) = key.split_at(prefix_end);
    let n = rest.chars().count();
    if n >= 12 {
        let last4: String = rest.chars().skip(n - 4).collect();
        format!("{prefix}\u{2026}{last4}")
    } else {
        format!("{prefix}\u{2026}")
    }
}

/// Hex HMAC-SHA256 of `message` under `key` (webhook signatures).
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
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
    fn ids_in_order_sort_as_made() {
        let at = time::macros::datetime!(2026-12-06 12:00 UTC);
        let mut ids = new_ids_in_order("msg", at, 500);
        ids.extend(new_ids_in_order("msg", at, 500));
        ids.extend(new_ids_in_order(
            "msg",
            at + time::Duration::milliseconds(1),
            3,
        ));
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in the order made");
        assert!(
            ids.iter()
                .all(|id| id.starts_with("msg_") && id.len() == 28)
        );
    }

    #[test]
    fn derive_is_hmac_sha256() {
        // RFC 4231, test case 1, in base64url: the key's blocks hashed once
        // at `new` give the same MAC as keying afresh.
        let s = Secret::new(vec![0x0b; 20]);
        let expected = URL_SAFE_NO_PAD.encode(
            hex::decode("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
                .unwrap(),
        );
        assert_eq!(s.derive(b"Hi There"), expected);
        assert_eq!(s.clone().derive(b"Hi There"), expected);
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

    #[test]
    fn key_box_round_trips_and_binds_the_company() {
        let b = KeyBox::from_secret(&Secret::new(vec![9; 32]));
        let (co_a, co_b) = (CompanyId::from("co_a"), CompanyId::from("co_b"));
        let sealed = b.seal(&co_a, "sk_test_4eC39HqLyjWDarjtT1zdp7dc");
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("sk_test"));
        assert_ne!(sealed, b.seal(&co_a, "sk_test_4eC39HqLyjWDarjtT1zdp7dc"));
        assert_eq!(
            b.open(&co_a, &sealed).as_deref(),
            Some("sk_test_4eC39HqLyjWDarjtT1zdp7dc")
        );
        assert_eq!(b.open(&co_b, &sealed), None);
        let other = KeyBox::from_secret(&Secret::new(vec![8; 32]));
        assert_eq!(other.open(&co_a, &sealed), None);
        let mut raw = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        raw[14] ^= 1;
        let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(b.open(&co_a, &tampered), None);
        assert_eq!(format!("{b:?}"), "KeyBox(redacted)");
    }

    #[test]
    fn keys_are_masked() {
        assert_eq!(
            mask_key("sk_test_4eC39HqLyjWDarjtT1zd4242"),
            "sk_test_\u{2026}4242"
        );
        assert_eq!(mask_key("whsec_abcdefghijklmnop1234"), "whsec_\u{2026}1234");
        assert_eq!(mask_key("sk_test_short"), "sk_test_\u{2026}");
        assert_eq!(mask_key("abc"), "\u{2026}");
    }

    #[test]
    fn hmac_hex_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sha256_hex_matches_a_known_vector() {
        // FIPS 180-2, "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
