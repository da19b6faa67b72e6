//! Passwords: argon2id hashing and verification, off the async threads.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// argon2id with the crate's default parameters.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("cannot hash password: {e}"))
}

/// `hash_password` off the async threads (argon2 takes a while on purpose).
pub async fn hash_password_async(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| anyhow::anyhow!("hashing stopped: {e}"))?
}

/// Checks a password against a stored hash (or, when there is none, against a
/// dummy so an unknown account costs the same time).
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    tokio::task::spawn_blocking(move || {
        let dummy = DUMMY.get_or_init(|| hash_password("no such account").unwrap_or_default());
        let stored = hash.as_deref().unwrap_or(dummy);
        let ok = PasswordHash::new(stored)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        ok && hash.is_some()
    })
    .await
    .unwrap_or(false)
}

/// What a new password must be.
pub fn check_new_password(password: &str) -> Result<(), &'static str> {
    if password.chars().count() < 10 {
        return Err("Use at least 10 characters.");
    }
    if password.len() > 200 {
        return Err("Use at most 200 characters.");
    }
    Ok(())
}

/// The credentials of `Authorization: Bearer <token>`; the scheme's name is
/// case-insensitive (RFC 9110 §11.1), so `bearer` and `BEARER` work too.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer k1", "bearer k1", "BEARER  k1 ", " bEaReR k1"] {
            assert_eq!(super::bearer_token(v), Some("k1"), "{v:?}");
        }
        assert_eq!(super::bearer_token("Basic k1"), None);
        assert_eq!(super::bearer_token("Bearerk1"), None);
    }

    use super::*;

    #[tokio::test]
    async fn hashes_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough!").is_ok());
    }
}
