//! Office: import customers or invoices from a CSV file (`/office/import`).
//! The work is done by `crate::app::import`, shared with the `fieldpay import`
//! command; this handler reads the upload and shows the report.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{OfficeUser, page, page_with_status};
use crate::app::import::{self, ImportError};
use crate::web::AppState;
use crate::web::error::ApiError;

/// The largest file the form takes.
pub const MAX_FILE: usize = 2 * 1024 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/office/import",
        get(form)
            .post(upload)
            // The file plus the other fields and multipart framing.
            .layer(DefaultBodyLimit::max(MAX_FILE + 64 * 1024)),
    )
}

fn kind_of(text: &str) -> Option<&'static str> {
    match text {
        "customers" => Some("customers"),
        "invoices" => Some("invoices"),
        _ => None,
    }
}

fn show(
    state: &AppState,
    user: &OfficeUser,
    status: StatusCode,
    kind: &str,
    errors: minijinja::Value,
    report: Option<&import::ImportReport>,
    file_name: &str,
) -> Response {
    let problems = report.map(|r| r.problems()).unwrap_or_default();
    page_with_status(
        state,
        user,
        status,
        "office/import.html",
        "import",
        minijinja::context! {
            kind => kind,
            errors => errors,
            file_name => file_name,
            report => report.map(minijinja::value::Serde),
            problems => minijinja::value::Serde(&problems),
            customer_columns => import::CUSTOMER_COLUMNS.to_vec(),
            invoice_columns => import::INVOICE_COLUMNS.to_vec(),
            max_mb => MAX_FILE / (1024 * 1024),
        },
    )
}

async fn form(State(state): State<AppState>, user: OfficeUser) -> Response {
    page(
        &state,
        &user,
        "office/import.html",
        "import",
        minijinja::context! {
            kind => "customers",
            customer_columns => import::CUSTOMER_COLUMNS.to_vec(),
            invoice_columns => import::INVOICE_COLUMNS.to_vec(),
            max_mb => MAX_FILE / (1024 * 1024),
        },
    )
}

/// What the multipart form carried.
#[derive(Default)]
struct Upload {
    csrf: String,
    kind: String,
    file_name: String,
    file: Vec<u8>,
    too_large: bool,
}

/// Reads the form's fields into `up`; what was read before an error stays
/// (the CSRF token comes first in the form, before the file).
async fn read_upload(mut multipart: Multipart, up: &mut Upload) -> Result<(), String> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            String::from("too large")
        } else {
            format!("The upload could not be read ({e}). Choose the file again and retry.")
        }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(unreadable)? {
        match field.name().unwrap_or("") {
            "csrf" => {
                up.csrf = field
                    .text()
                    .await
                    .map_err(unreadable)?
                    .chars()
                    .take(200)
                    .collect()
            }
            "kind" => {
                up.kind = field
                    .text()
                    .await
                    .map_err(unreadable)?
                    .chars()
                    .take(40)
                    .collect()
            }
            "file" => {
                up.file_name = field.file_name().unwrap_or("").chars().take(200).collect();
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if up.file.len() + chunk.len() > MAX_FILE {
                        up.too_large = true;
                        up.file.clear();
                        break;
                    }
                    up.file.extend_from_slice(&chunk);
                }
                if up.too_large {
                    // Keep reading the other fields (the CSRF token may follow).
                    while field.chunk().await.map_err(unreadable)?.is_some() {}
                }
            }
            _ => {}
        }
    }
    Ok(())
}

async fn upload(State(state): State<AppState>, user: OfficeUser, multipart: Multipart) -> Response {
    let mut up = Upload::default();
    match read_upload(multipart, &mut up).await {
        Ok(()) => {}
        Err(m) if m == "too large" => {
            up.too_large = true;
            up.file.clear();
        }
        Err(m) => return (StatusCode::BAD_REQUEST, m).into_response(),
    }
    let kind = kind_of(&up.kind);
    let kind_word = kind.unwrap_or("");
    let fail = |status: StatusCode, field: &str, message: String| {
        let errors = minijinja::Value::from(std::collections::BTreeMap::from([(
            field.to_string(),
            message,
        )]));
        show(
            &state,
            &user,
            status,
            kind_word,
            errors,
            None,
            &up.file_name,
        )
    };
    // Refused before the CSRF check: a body over the limit may end before its
    // token can be read, and this answer changes nothing.
    if up.too_large {
        return fail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "file",
            format!(
                "The file is larger than {} MB. Split it into smaller files and import each.",
                MAX_FILE / (1024 * 1024)
            ),
        );
    }
    if let Some(refused) = user.csrf_refusal(&up.csrf) {
        return refused;
    }
    let Some(kind) = kind else {
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "kind",
            "Choose what the file holds: customers or invoices.".into(),
        );
    };
    if up.file.is_empty() {
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "file",
            "Choose a CSV file to import.".into(),
        );
    }
    let mut quiet = |_: usize, _: usize| {};
    let result = match kind {
        "customers" => {
            import::import_customers(
                &state.app,
                &user.company_id,
                up.file.as_slice(),
                &user.actor(),
                &mut quiet,
            )
            .await
        }
        _ => {
            import::import_invoices(
                &state.app,
                &user.company_id,
                up.file.as_slice(),
                &user.actor(),
                &mut quiet,
            )
            .await
        }
    };
    match result {
        Ok(report) => show(
            &state,
            &user,
            StatusCode::OK,
            kind,
            minijinja::Value::from(std::collections::BTreeMap::<String, String>::new()),
            Some(&report),
            &up.file_name,
        ),
        Err(ImportError::File(m)) => fail(StatusCode::UNPROCESSABLE_ENTITY, "file", m),
        Err(ImportError::UnknownCompany) => ApiError::not_found().into_response(),
        Err(ImportError::Store(e)) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(kind_of("customers"), Some("customers"));
        assert_eq!(kind_of("invoices"), Some("invoices"));
        assert_eq!(kind_of("payments"), None);
    }
}
