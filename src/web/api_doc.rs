//! The OpenAPI document of `/api/v1`, generated from the code: every API
//! route is registered through `routes!(handler)`, which takes its path,
//! parameters, body and answers from the handler's `#[utoipa::path]` and
//! the request and response types' `ToSchema`. The answers every route
//! shares (the key's 401, a JSON body's 400/413/415/422, 500 and 503) are
//! added here, where the extractors that give them are known. The document
//! is built once, when the router is, and served at
//! `GET /api/v1/openapi.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{OpenApi as _, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;

/// Every refusal: a stable code, a message that says what to fix, and the
/// field it is about when there is one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `not_found`, `invalid_field`, `unauthorized`, …
    pub code: String,
    /// For people: what to fix.
    pub message: String,
    /// The request field the refusal is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A list answer: the records under `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// The name of the bearer scheme operations that take the API key list.
pub const BEARER: &str = "api_key";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "fieldpay API",
        description = "The office JSON API (authenticated by the company's API key, \
                       `Authorization: Bearer <key>`) and the quick payment page's JSON twin \
                       (authenticated by the payment link's token in the path). Amounts are \
                       integers in minor units (cents); dates are `YYYY-MM-DD`; times RFC 3339.",
        license(name = "Proprietary")
    ),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

/// Every `/api/v1` route with its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi))
        .merge(super::api::routes())
        .merge(super::api_invoices::routes())
        .merge(super::api_payments::routes())
        .merge(super::api_templates::routes())
        .merge(super::api_messages::api_routes())
        .merge(super::api_alerts::routes())
        .merge(super::api_customers::routes())
        .merge(super::api_sending::routes())
        .merge(super::api_processor::routes())
        .merge(super::office::settings::api_routes())
        .merge(super::pdf::api_routes())
        .merge(super::pay::api_routes())
        .merge(super::api_reports::routes())
        .merge(super::api_webhooks::routes())
}

/// The document as served: the generated one with the shared answers.
pub fn document(mut doc: OpenApi) -> OpenApi {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "The company's API key: `Authorization: Bearer <key>` (`fieldpay api-key`).",
                ))
                .build(),
        ),
    );
    let targets = record_operations(&doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        let served_document = path == "/api/v1/openapi.json";
        for op in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ] {
            let Some(op) = op.as_mut() else { continue };
            if !served_document {
                shared_answers(op);
            }
        }
        if let Some(create) = item.post.as_mut() {
            link_created(create, path, &targets);
        }
    }
    doc
}

/// `(path, operation id)` of every operation on one record (`…/{id}…`).
fn record_operations(doc: &OpenApi) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        if !path.contains("/{id}") {
            continue;
        }
        for op in [&item.get, &item.post, &item.put, &item.patch, &item.delete] {
            if let Some(id) = op.as_ref().and_then(|op| op.operation_id.clone()) {
                out.push((path.clone(), id));
            }
        }
    }
    out
}

/// A record created by `POST <collection>` is the `{id}` of every
/// operation under `<collection>/{id}`: the links say so, so a client (and
/// schemathesis's stateful phase) can follow them.
fn link_created(create: &mut Operation, collection: &str, targets: &[(String, String)]) {
    let Some(RefOr::T(created)) = create.responses.responses.get_mut("201") else {
        return;
    };
    let under = format!("{collection}/{{id}}");
    for (path, operation_id) in targets {
        if path.starts_with(&under) {
            let link = LinkBuilder::new()
                .operation_id(operation_id.clone())
                .parameter("id", "$response.body#/id")
                .build();
            created.links.insert(operation_id.clone(), RefOr::T(link));
        }
    }
}

fn add(op: &mut Operation, status: &str, description: &str) {
    if op.responses.responses.contains_key(status) {
        return;
    }
    let response = ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        )
        .build();
    op.responses
        .responses
        .insert(status.to_string(), response.into());
}

/// What the shared extractors and the store can answer on any route.
fn shared_answers(op: &mut Operation) {
    let keyed = op.security.as_ref().is_some_and(|s| !s.is_empty());
    if keyed {
        add(
            op,
            "401",
            "No API key, or one that is unknown or revoked (`unauthorized`).",
        );
    }
    if op.request_body.is_some() {
        add(op, "400", "The body is not JSON (`malformed_json`).");
        add(op, "413", "The body is over 64 KiB (`body_too_large`).");
        add(
            op,
            "415",
            "The body is not sent as `Content-Type: application/json`.",
        );
        add(
            op,
            "422",
            "A field is missing, of the wrong type or breaks a rule; `field` names it.",
        );
    }
    add(
        op,
        "500",
        "Something failed on the server's side; nothing was applied twice.",
    );
    add(
        op,
        "503",
        "The database is busy or out of space; retry after `Retry-After` seconds.",
    );
}

/// Schemas of typed text that state the rules of `domain::text` (and of
/// `domain::contact`'s email address) as JSON Schema patterns, so a client
/// knows exactly what is refused: trimmed at both ends by `char::is_whitespace`,
/// no control characters (`char::is_control`, U+2028, U+2029; a multi-line
/// text keeps tab, CR and LF), and at most `max` characters once trimmed.
pub mod text {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

    /// `char::is_whitespace`, as a class body.
    const SPACE: &str =
        "\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
    /// The whitespace that is not a control character or a line separator.
    const PLAIN_SPACE: &str = " \\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000";
    /// What one line never holds.
    const LINE_BREAKING: &str = "\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029";
    /// What several lines never hold (tab, LF and CR stay).
    const CONTROL: &str =
        "\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f\\u2028\\u2029";

    /// Text of 1 to `max` characters between optional whitespace, each
    /// character in `inner`, the first and last also in `edge`.
    fn trimmed(inner: &str, edge: &str, max: usize) -> String {
        format!(
            "[{SPACE}]*[^{edge}](?:[^{inner}]{{0,{}}}[^{edge}])?[{SPACE}]*",
            max - 2
        )
    }

    fn string(pattern: String, optional: bool, description: &str) -> RefOr<Schema> {
        let kind = if optional {
            SchemaType::from_iter([Type::String, Type::Null])
        } else {
            SchemaType::Type(Type::String)
        };
        ObjectBuilder::new()
            .schema_type(kind)
            .pattern(Some(pattern))
            .description(Some(description))
            .into()
    }

    fn one_line(max: usize) -> String {
        trimmed(LINE_BREAKING, &format!("{LINE_BREAKING}{PLAIN_SPACE}"), max)
    }

    fn lines(max: usize) -> String {
        trimmed(CONTROL, &format!("{CONTROL}\\t\\n\\r{PLAIN_SPACE}"), max)
    }

    /// A name: one line, 1 to 200 characters.
    pub fn name() -> RefOr<Schema> {
        string(
            format!("^{}$", one_line(200)),
            false,
            "One line, 1 to 200 characters once trimmed.",
        )
    }

    /// A name that may be left out (`null`: as it is).
    pub fn name_or_null() -> RefOr<Schema> {
        string(
            format!("^{}$", one_line(200)),
            true,
            "One line, 1 to 200 characters once trimmed; `null` or absent: as it is.",
        )
    }

    /// An invoice line's description: one line, 1 to 500 characters.
    pub fn description() -> RefOr<Schema> {
        string(
            format!("^{}$", one_line(500)),
            false,
            "One line, 1 to 500 characters once trimmed.",
        )
    }

    /// An invoice number: one line of at most 40 characters; empty: the next one.
    pub fn invoice_number() -> RefOr<Schema> {
        string(
            format!("^[{SPACE}]*(?:{})?$", one_line(40)),
            true,
            "One line of at most 40 characters; empty, `null` or absent: the company's next number.",
        )
    }

    /// A service address: lines, 1 to 500 characters.
    pub fn address() -> RefOr<Schema> {
        string(
            format!("^{}$", lines(500)),
            false,
            "Several lines allowed, 1 to 500 characters once trimmed.",
        )
    }

    /// An address that may be left out (`null`: as it is).
    pub fn address_or_null() -> RefOr<Schema> {
        string(
            format!("^{}$", lines(500)),
            true,
            "Several lines allowed, 1 to 500 characters once trimmed; `null` or absent: as it is.",
        )
    }

    /// An address that may be empty (none).
    pub fn address_or_empty() -> RefOr<Schema> {
        string(
            format!("^[{SPACE}]*(?:{})?$", lines(500)),
            true,
            "Several lines allowed, at most 500 characters once trimmed; empty or `null`: none.",
        )
    }

    /// An email address, or empty (none).
    pub fn email_or_empty() -> RefOr<Schema> {
        let c = format!("[^{LINE_BREAKING}{PLAIN_SPACE}@]");
        let d = format!("[^{LINE_BREAKING}{PLAIN_SPACE}@.]");
        string(
            format!("^[{SPACE}]*(?:{c}+@{d}{c}*\\.{c}*{d}[{SPACE}]*)?$"),
            true,
            "An email address like name@example.com (at most 254 characters); empty or `null`: none.",
        )
    }
}

/// The generated document, serialized once.
#[derive(Clone)]
pub struct Served(pub Arc<str>);

impl Served {
    pub fn new(doc: &OpenApi) -> Served {
        Served(
            serde_json::to_string_pretty(doc)
                .expect("the OpenAPI document serializes")
                .into(),
        )
    }
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of `/api/v1`.", content_type = "application/json"))
)]
async fn openapi(State(state): State<AppState>) -> Response {
    let mut resp = state.openapi.0.to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::text;
    use crate::domain::EmailAddress;
    use crate::domain::text::{multi_line, optional_multi_line, optional_single_line, single_line};
    use proptest::prelude::*;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::Schema;

    fn pattern(schema: RefOr<Schema>) -> regex::Regex {
        let RefOr::T(Schema::Object(o)) = schema else {
            panic!("a text schema is an object schema")
        };
        regex::Regex::new(&o.pattern.expect("a text schema has a pattern")).unwrap()
    }

    /// Letters, the characters `char::is_whitespace` trims, control
    /// characters a line or a text refuses, and the characters of an address.
    fn texts() -> impl Strategy<Value = String> {
        let chars = prop::sample::select(vec![
            'a', 'Z', 'é', '😀', '@', '.', ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}',
            '\u{a0}', '\u{2003}', '\u{2028}', '\u{2029}', '\u{3000}', '\u{0}', '\u{1c}', '\u{7f}',
            '\u{9f}', '\u{200b}', '\u{feff}',
        ]);
        prop_oneof![
            prop::collection::vec(chars.clone(), 0..12).prop_map(String::from_iter),
            // Around the length limits, with and without spaces around.
            (
                prop::sample::select(vec![38, 39, 40, 41, 198, 199, 200, 201, 499, 500, 501]),
                chars
            )
                .prop_map(|(n, c)| format!(" {}{c}", "x".repeat(n))),
        ]
    }

    /// Each pattern, compiled once for all the cases.
    static PATTERNS: std::sync::LazyLock<[regex::Regex; 6]> = std::sync::LazyLock::new(|| {
        [
            pattern(text::name()),
            pattern(text::description()),
            pattern(text::invoice_number()),
            pattern(text::address()),
            pattern(text::address_or_empty()),
            pattern(text::email_or_empty()),
        ]
    });

    proptest! {
        /// The document's patterns take exactly what `domain::text` takes.
        #[test]
        fn text_patterns_state_the_domain_rules(v in texts()) {
            let [name, description, number, address, address_or_empty, email] = &*PATTERNS;
            prop_assert_eq!(name.is_match(&v), single_line("name", &v, 200).is_ok());
            prop_assert_eq!(description.is_match(&v), single_line("description", &v, 500).is_ok());
            prop_assert_eq!(
                number.is_match(&v),
                optional_single_line("number", Some(&v), 40).is_ok()
            );
            prop_assert_eq!(address.is_match(&v), multi_line("address", &v, 500).is_ok());
            prop_assert_eq!(
                address_or_empty.is_match(&v),
                optional_multi_line("address", Some(&v), 500).is_ok()
            );
            let valid = v.trim().is_empty() || EmailAddress::parse("email", &v).is_ok();
            prop_assert_eq!(email.is_match(&v), valid);
        }
    }

    #[test]
    fn email_pattern_examples() {
        let p = pattern(text::email_or_empty());
        for ok in [
            "a@b.c",
            " lena@example.com ",
            "",
            "  ",
            "x.y+z@mail.example.org",
        ] {
            assert!(p.is_match(ok), "{ok:?}");
        }
        for bad in [
            "a@b",
            "a@.b",
            "a@b.",
            "@b.c",
            "a b@c.d",
            "a@b@c.d",
            "a@b.c\u{0}",
        ] {
            assert!(!p.is_match(bad), "{bad:?}");
        }
    }
}
