//! CSRF tokens for the sign-in forms, which are posted before any session
//! exists (SECURITY.md 5, 28). A double-submit token: the page sets a
//! cookie holding a random nonce and puts `nonce.signature` in the form; a
//! sign-in counts only when the two agree and the signature is the server's.
//! A page on another site can neither read the cookie nor forge the
//! signature, so it cannot sign a browser in to an account of its choosing.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

use super::AppState;
use super::office::cookie_value;
use crate::crypto::{random_token, same_secret};

const COOKIE: &str = "fp_signin";
/// A sign-in page stays usable for a day.
const MAX_AGE_SECONDS: i64 = 24 * 3600;
/// The message key of what the form shows when its token does not match
/// (the portal shows it in the customer's language, the office in English).
pub const REFUSED: &str = "signin-form-expired";

/// `REFUSED` in `lang`.
pub fn refused(lang: crate::domain::i18n::Lang) -> String {
    crate::domain::i18n::t(lang, REFUSED)
}

/// The token a sign-in page puts in its form, and the cookie to set when
/// the browser has none yet.
pub struct SigninToken {
    pub token: String,
    set_cookie: Option<HeaderValue>,
}

impl SigninToken {
    /// The browser's nonce when it already has one (two tabs keep working),
    /// else a new one.
    pub fn for_page(state: &AppState, headers: &HeaderMap) -> SigninToken {
        if let Some(nonce) = cookie_value(headers, COOKIE).filter(|n| plausible(n)) {
            return SigninToken {
                token: sign(state, nonce),
                set_cookie: None,
            };
        }
        let nonce = random_token(18);
        let secure = if state.app.config.base_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{COOKIE}={nonce}; Path=/; HttpOnly; SameSite=Strict; Max-Age={MAX_AGE_SECONDS}{secure}"
        );
        SigninToken {
            token: sign(state, &nonce),
            set_cookie: HeaderValue::from_str(&cookie).ok(),
        }
    }

    /// Adds the cookie to the page's response.
    pub fn attach(self, mut resp: Response) -> Response {
        if let Some(c) = self.set_cookie {
            resp.headers_mut().append(header::SET_COOKIE, c);
        }
        resp
    }
}

/// Whether a posted sign-in form's token belongs to this browser.
pub fn check(state: &AppState, headers: &HeaderMap, token: &str) -> bool {
    let Some(nonce) = cookie_value(headers, COOKIE).filter(|n| plausible(n)) else {
        return false;
    };
    same_secret(token, &sign(state, nonce))
}

fn plausible(nonce: &str) -> bool {
    (16..=64).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn sign(state: &AppState, nonce: &str) -> String {
    let signature = state
        .app
        .config
        .secret
        .derive(format!("signin-csrf:{nonce}").as_bytes());
    format!("{nonce}.{signature}")
}
