//! Page templates, compiled once at start, and the static assets.

use std::sync::Arc;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, State};

use crate::domain::i18n::{self, Arg, Lang};
use serde::Serialize;

#[derive(Clone)]
pub struct Views {
    env: Arc<Environment<'static>>,
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
        Views { env: Arc::new(env) }
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
        let extra = minijinja::context! {
            lang => lang.code(),
            lang_links => crate::web::lang::switch_links(lang),
        };
        self.env
            .get_template(name)?
            .render(minijinja::value::merge_maps([extra, ctx]))
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
            minijinja::context! {},
        )
    }
}

/// The template function `t(key, name=value, …)`: numbers choose plural
/// forms, everything else is put in as text (escaped like any value).
fn translate(state: &State, key: &str, kwargs: Kwargs) -> Result<String, minijinja::Error> {
    let lang = state
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or_default();
    let mut args = Vec::new();
    for name in kwargs.args() {
        let v: Value = kwargs.get(name)?;
        let arg = match v.as_i64() {
            Some(n) if v.is_number() => Arg::Number(n),
            _ => Arg::Text(v.to_string()),
        };
        args.push((name, arg));
    }
    Ok(i18n::tr(lang, key, &args))
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
