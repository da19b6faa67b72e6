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
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, ResponseBuilder};
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
    for (path, item) in doc.paths.paths.iter_mut() {
        let served_document = path == "/api/v1/openapi.json";
        for (method, op) in [
            (HttpMethod::Get, &mut item.get),
            (HttpMethod::Post, &mut item.post),
            (HttpMethod::Put, &mut item.put),
            (HttpMethod::Patch, &mut item.patch),
            (HttpMethod::Delete, &mut item.delete),
        ] {
            let Some(op) = op.as_mut() else { continue };
            if !served_document {
                shared_answers(op, method);
            }
        }
    }
    doc
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
fn shared_answers(op: &mut Operation, method: HttpMethod) {
    let keyed = op
        .security
        .as_ref()
        .is_some_and(|s| !s.is_empty() && s.iter().any(|r| *r != Default::default()));
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
    let _ = method;
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
