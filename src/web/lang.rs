//! Which language a customer page speaks. In order: `?lang=` (kept in the
//! `fp_lang` cookie, so the language switch's choice holds on the pages
//! after it), else the customer's `language`, else the browser's
//! `Accept-Language`, else the company's default. The office stays English.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::i18n::Lang;

/// The cookie that keeps a language chosen with the switch.
pub const COOKIE: &str = "fp_lang";

/// What the request says about language before any customer is known.
#[derive(Debug, Clone, Default)]
pub struct Hint {
    /// `?lang=`, else the switch's cookie.
    pub chosen: Option<Lang>,
    /// The browser's preference.
    pub accept: Option<Lang>,
    /// The path (and the portal sign-in's `company`), for the switch's links.
    pub here: String,
}

tokio::task_local! {
    static HINT: Hint;
}

fn query_lang(query: &str) -> Option<Lang> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::parse(&v))
}

/// The page's address for the switch: its path, and of the query only the
/// portal sign-in's `company` (anything else a link carried stays out of the
/// page).
fn here(path: &str, query: Option<&str>) -> String {
    let kept: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "company")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        return path.to_string();
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &kept {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// Reads the request's hint for the pages it renders, and keeps a `?lang=`
/// choice in a cookie (`Secure` when the server is reached over https).
pub async fn middleware(secure: bool, req: Request, next: Next) -> Response {
    let asked = req.uri().query().and_then(query_lang);
    let hint = hint_from(req.headers(), asked, req.uri().path(), req.uri().query());
    // The JSON API reads `?lang=` as its own parameter: no cookie there.
    let page = !req.uri().path().starts_with("/api/");
    let mut resp = HINT.scope(hint, next.run(req)).await;
    if let (Some(lang), true) = (asked, page) {
        let cookie = format!(
            "{COOKIE}={}; Path=/; SameSite=Lax; HttpOnly; Max-Age=31536000{}",
            lang.code(),
            if secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn hint_from(headers: &HeaderMap, asked: Option<Lang>, path: &str, query: Option<&str>) -> Hint {
    let cookie = crate::web::office::cookie_value(headers, COOKIE).and_then(Lang::parse);
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(Lang::from_accept_language);
    Hint {
        chosen: asked.or(cookie),
        accept,
        here: here(path, query),
    }
}

/// The request's hint (empty outside a request).
pub fn hint() -> Hint {
    HINT.try_with(Hint::clone).unwrap_or_default()
}

/// A language asked for by code in an API request (a preview's `lang`):
/// `en`, `es`, or absent; anything else is a 422 that names the codes.
pub fn asked(code: Option<&str>) -> Result<Option<Lang>, crate::web::error::ApiError> {
    let Some(code) = code.map(str::trim) else {
        return Ok(None);
    };
    Lang::ALL
        .iter()
        .copied()
        .find(|l| l.code() == code)
        .map(Some)
        .ok_or_else(|| {
            let codes: Vec<String> = Lang::ALL
                .iter()
                .map(|l| format!("\"{}\"", l.code()))
                .collect();
            crate::web::error::ApiError::unprocessable(
                "invalid_field",
                format!("lang must be {}.", codes.join(" or ")),
                "lang",
            )
        })
}

/// The language of a page for a known customer of a company.
pub fn choose(customer: Option<Lang>, company: Lang) -> Lang {
    let h = hint();
    h.chosen.or(customer).or(h.accept).unwrap_or(company)
}

/// The language of a page before any customer or company is known (a 404,
/// the portal's sign-in without a company).
pub fn guess() -> Lang {
    let h = hint();
    h.chosen.or(h.accept).unwrap_or_default()
}

/// The switch's links: each language with the current page's address in it.
pub fn switch_links(current: Lang) -> Vec<minijinja::Value> {
    let here = hint().here;
    let sep = if here.contains('?') { '&' } else { '?' };
    Lang::ALL
        .iter()
        .map(|l| {
            minijinja::context! {
                code => l.code(),
                name => l.name(),
                href => minijinja::Value::from_safe_string(attribute(&format!(
                    "{here}{sep}lang={}",
                    l.code()
                ))),
                current => *l == current,
            }
        })
        .collect()
}

/// Text for a double-quoted HTML attribute (slashes kept, so the link reads
/// as the same-site path it is).
fn attribute(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_switch_keeps_the_rest_of_the_query() {
        assert_eq!(here("/pay/abc", Some("lang=es")), "/pay/abc");
        assert_eq!(
            here("/portal/login", Some("company=co_1&lang=es")),
            "/portal/login?company=co_1"
        );
        assert_eq!(
            here("/portal/login", Some("next=https://evil.example")),
            "/portal/login"
        );
        assert_eq!(here("/portal", None), "/portal");
        assert_eq!(query_lang("a=b&lang=es-MX"), Some(Lang::Es));
        assert_eq!(query_lang("lang=fr"), None);
    }

    #[test]
    fn the_choice_comes_first_then_the_customer_then_the_browser() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("es-US,es;q=0.9"),
        );
        let h = hint_from(&headers, None, "/pay/x", None);
        assert_eq!((h.chosen, h.accept), (None, Some(Lang::Es)));
        headers.insert(header::COOKIE, HeaderValue::from_static("fp_lang=en"));
        assert_eq!(hint_from(&headers, None, "/", None).chosen, Some(Lang::En));
        assert_eq!(
            hint_from(&headers, Some(Lang::Es), "/", None).chosen,
            Some(Lang::Es)
        );
    }
}
