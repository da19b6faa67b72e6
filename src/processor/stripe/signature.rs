//! Stripe's webhook signature (`Stripe-Signature: t=…,v1=…`): checking one
//! that arrives and making one (tests and tools).

/// Why a webhook's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

/// Checks `Stripe-Signature: t=…,v1=…[,v1=…]` over `t.payload` with the
/// endpoint's secret: any v1 may match; `t` within `tolerance` seconds of now.
pub fn verify_signature(
    header: Option<&str>,
    payload: &[u8],
    secret: &str,
    now_unix: i64,
    tolerance: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut t: Option<i64> = None;
    let mut v1: Vec<&str> = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => t = v.parse().ok(),
            "v1" => v1.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // abs_diff: a forged `t=-9223372036854775808` must not overflow.
    if now_unix.abs_diff(t) > tolerance.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let mut signed = Vec::with_capacity(payload.len() + 12);
    signed.extend_from_slice(t.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(payload);
    let expected = crate::crypto::hmac_sha256_hex(secret.as_bytes(), &signed);
    if v1
        .iter()
        .any(|sig| crate::crypto::same_secret(&sig.to_ascii_lowercase(), &expected))
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header Stripe would send for `payload` at `t` (tests and tools).
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let mut signed = t.to_string().into_bytes();
    signed.push(b'.');
    signed.extend_from_slice(payload);
    format!(
        "t={t},v1={}",
        crate::crypto::hmac_sha256_hex(secret.as_bytes(), &signed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let payload = br#"{"id":"evt_1"}"#;
        let header = sign(payload, "whsec_x", 1_000_000);
        let ok = |h: &str, now| verify_signature(Some(h), payload, "whsec_x", now, 300);
        assert_eq!(ok(&header, 1_000_100), Ok(()));
        assert_eq!(ok(&header, 1_000_301), Err(SignatureError::Stale));
        assert_eq!(ok(&header, 999_600), Err(SignatureError::Stale));
        // Extreme timestamps are stale, not an overflow.
        let extreme = format!("t={},v1=00", i64::MIN);
        assert_eq!(ok(&extreme, 1_000_000), Err(SignatureError::Stale));
        assert_eq!(ok(&extreme, i64::MAX), Err(SignatureError::Stale));
        assert_eq!(
            verify_signature(Some(&header), payload, "whsec_y", 1_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(Some(&header), b"{}", "whsec_x", 1_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        // Several v1 (secret rotation): any one may match.
        let v1 = header.split_once(",v1=").unwrap().1;
        let multi = format!("t=1000000,v1={},v0=abc,v1={v1}", "0".repeat(64));
        assert_eq!(ok(&multi, 1_000_000), Ok(()));
        assert_eq!(
            verify_signature(None, payload, "whsec_x", 0, 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(ok("v1=abc", 1_000_000), Err(SignatureError::Malformed));
        assert_eq!(ok("t=1000000", 1_000_000), Err(SignatureError::Malformed));
    }
}
