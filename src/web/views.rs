//! Page templates, compiled once at start, and the static assets.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{Enumerator, Kwargs, Object, ObjectExt, Value};
use minijinja::{Environment, State};

use crate::domain::i18n::{self, Arg, Lang};
use serde::Serialize;

#[derive(Clone)]
pub struct Views {
    env: Arc<Environment<'static>>,
    /// `js_words` of each language (in `Lang::ALL`'s order): the same on
    /// every page of a language, so made once, and escaped once for the
    /// HTML attribute it goes in (`layout.html`, the one place it is used).
    js_words: Arc<[Value; Lang::ALL.len()]>,
}

impl Views {
    pub fn new() -> Views {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        // Every file under templates/, embedded at build time (build.rs).
        minijinja_embed::load_templates!(&mut env);
        // `{{ customer.phone|phone(user.country) }}`: a stored E.164 number as
        // people in the company's country write it.
        env.add_filter("phone", |value: String, region: Option<String>| {
            crate::domain::contact::display_phone(
                &value,
                region
                    .as_deref()
                    .unwrap_or(crate::domain::contact::DEFAULT_REGION),
            )
        });
        // `{{ t("pay-invoice", number=inv.number) }}`: a customer-facing
        // message in the page's `lang` (src/domain/i18n.rs, locales/).
        env.add_function("t", translate);
        Views {
            env: Arc::new(env),
            js_words: Arc::new(
                Lang::ALL.map(|l| {
                    Value::from_safe_string(minijinja::HtmlEscape(&js_words(l)).to_string())
                }),
            ),
        }
    }

    /// Renders a page. A context without `lang` gets the request's guess
    /// (`web::lang`); every page also gets the language switch's links.
    pub fn render(&self, name: &str, ctx: impl Serialize) -> Result<String, minijinja::Error> {
        let ctx = Value::from(minijinja::value::Serde(&ctx));
        let lang = ctx
            .get_attr("lang")
            .ok()
            .and_then(|v| v.as_str().and_then(Lang::parse))
            .unwrap_or_else(crate::web::lang::guess);
        // One flat map: every variable the template reads is then one
        // lookup, not one per merged map (the page's values win, as a
        // merge would have it).
        let mut vars = Vars(HashMap::with_capacity_and_hasher(48, Default::default()));
        vars.0.insert("lang".into(), Value::from(lang.code()));
        vars.0.insert(
            "lang_links".into(),
            Value::from(crate::web::lang::switch_links(lang)),
        );
        vars.0
            .insert("js_words".into(), self.js_words[lang as usize].clone());
        if let Ok(keys) = ctx.try_iter() {
            for key in keys {
                let (Some(name), Ok(value)) = (key.as_str(), ctx.get_item(&key)) else {
                    continue;
                };
                if !value.is_undefined() {
                    vars.0.insert(name.into(), value);
                }
            }
        }
        self.env
            .get_template(name)?
            .render(Value::from_object(vars))
    }

    /// A rendered page with a status; a template failure is logged and shown as a plain 500.
    pub fn page(&self, status: StatusCode, name: &str, ctx: impl Serialize) -> Response {
        match self.render(name, ctx) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, template = name, "page template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong on our side.",
                )
                    .into_response()
            }
        }
    }

    /// The one 404 page: unknown paths and unknown, revoked or expired links alike.
    pub fn not_found(&self) -> Response {
        self.page(
            StatusCode::NOT_FOUND,
            "not_found.html",
            // One page for every miss, whatever the path: no switch to it.
            minijinja::context! { hide_switch => true },
        )
    }
}

/// A page's variables, which the template looks up by name on every use:
/// hashed with FxHash rather than SipHash (the names are the code's own,
/// not a client's, so there is no flooding to resist).
#[derive(Debug)]
struct Vars(HashMap<Arc<str>, Value, rustc_hash::FxBuildHasher>);

impl Object for Vars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        key.as_str().and_then(|k| self.0.get(k).cloned())
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        self.0.get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_key_value_enumerator(|this| {
            Box::new(
                this.0
                    .iter()
                    .map(|(k, v)| (Value::from(k.clone()), v.clone())),
            )
        })
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

/// What the pages' scripts say (static/*.js), in the page's language, as
/// JSON for `<body data-words>`.
fn js_words(lang: Lang) -> String {
    let words: serde_json::Map<String, serde_json::Value> = [
        ("select", "js-select-invoice"),
        ("processing", "js-processing"),
        ("consent", "pay-consent-needed"),
        ("number", "js-enter-number"),
        ("expiry", "js-enter-expiry"),
        ("cvc", "js-enter-cvc"),
        ("unreadable", "js-card-unreadable"),
        ("unreachable", "js-processor-unreachable"),
        ("unavailable", "js-card-unavailable"),
        ("finishing", "js-finishing"),
        // The sandbox's card refusals by their code (static/card.js).
        ("incorrect_number", "js-card-incorrect-number"),
        ("invalid_expiry_month", "js-card-expiry-month"),
        ("invalid_expiry_year", "js-card-expired"),
        ("invalid_cvc", "js-card-cvc"),
        ("invalid_postal_code", "js-card-postal-code"),
        ("test_mode_live_card", "js-card-test-mode"),
    ]
    .into_iter()
    .map(|(name, key)| (name.to_string(), i18n::t(lang, key).into()))
    .chain([(
        "pay".to_string(),
        i18n::tr(lang, "js-pay-amount", &[("amount", "{amount}".into())]).into(),
    )])
    .collect();
    serde_json::Value::Object(words).to_string()
}

/// Each language's messages without values, ready for an HTML page (in
/// `Lang::ALL`'s order): they read the same on every page, so `t()` hands
/// out the one value instead of writing the text again (about forty a pay
/// page).
static FIXED_HTML: LazyLock<
    [HashMap<&'static str, Value, rustc_hash::FxBuildHasher>; Lang::ALL.len()],
> = LazyLock::new(|| {
    Lang::ALL.map(|lang| {
        i18n::fixed_messages(lang)
            .into_iter()
            .map(|(id, text)| (id, Value::from_safe_string(text)))
            .collect()
    })
});

/// The page's language as `t()` reads it: looked up in the context by the
/// first `t()` of a render and kept for the render's others (the templates
/// never set `lang`), rather than looked up through the template's frames
/// on every message.
struct PageLang(Lang);

/// The template function `t(key, name=value, …)`: numbers choose plural
/// forms, everything else is put in as text. In an HTML page the values are
/// escaped and the message (ours, from `locales/`) is not; a `key` that is
/// no message is shown as text, escaped.
fn translate(state: &mut State, key: &str, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let lang = match state.get_extension::<PageLang>() {
        Some(l) => l.0,
        None => {
            let lang = state
                .lookup("lang")
                .and_then(|v| v.as_str().and_then(Lang::parse))
                .unwrap_or_default();
            state.get_or_insert_extension(PageLang(lang));
            lang
        }
    };
    let html = !matches!(state.auto_escape(), minijinja::AutoEscape::None);
    if html
        && kwargs.args().next().is_none()
        && let Some(text) = FIXED_HTML[lang as usize].get(key)
    {
        return Ok(text.clone());
    }
    let escape = |s: &str| {
        if html {
            minijinja::HtmlEscape(s).to_string()
        } else {
            s.to_string()
        }
    };
    let mut args = Vec::new();
    for name in kwargs.args() {
        // `peek`, not `get`: every value is read, so there is nothing for
        // `get`'s bookkeeping of unused arguments to find.
        let v: Value = kwargs.peek(name)?;
        // Only numbers are asked for an `i64`: asking a string makes (and
        // drops) an error.
        let number = if v.is_number() { v.as_i64() } else { None };
        let arg = match (number, v.as_str()) {
            (Some(n), _) => Arg::Number(n),
            (_, Some(s)) => Arg::Text(escape(s)),
            _ => Arg::Text(escape(&v.to_string())),
        };
        args.push((name, arg));
    }
    let Some(text) = i18n::lookup(lang, key, &args) else {
        return Ok(Value::from(key));
    };
    Ok(if html {
        Value::from_safe_string(text)
    } else {
        Value::from(text)
    })
}

impl Default for Views {
    fn default() -> Self {
        Views::new()
    }
}

pub fn static_asset(name: &str) -> Option<Response> {
    let (body, kind): (&'static str, &'static str) = match name {
        "pay.css" => (
            include_str!("../../static/pay.css"),
            "text/css; charset=utf-8",
        ),
        "card.js" => (
            include_str!("../../static/card.js"),
            "text/javascript; charset=utf-8",
        ),
        "office.js" => (
            include_str!("../../static/office.js"),
            "text/javascript; charset=utf-8",
        ),
        "office.css" => (
            include_str!("../../static/office.css"),
            "text/css; charset=utf-8",
        ),
        "pay.js" => (
            include_str!("../../static/pay.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return None,
    };
    let mut resp = body.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Some(resp)
}

#[cfg(test)]
mod render_tests {
    #[test]
    fn the_not_found_page_renders() {
        let v = super::Views::new();
        let r = v.render("not_found.html", minijinja::context! {});
        assert!(r.is_ok(), "{r:?}");
    }
}
