//! Settings › Company › Logo: upload (PNG or JPEG, at most 200 KB), remove,
//! and serve it (to the office, and to public pages and emails).

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::company::company_stored;
use super::{internal, owners_only};
use crate::domain::ids::CompanyId;
use crate::store::{StoreError, audit, companies};
use crate::web::AppState;
use crate::web::office::OfficeUser;

/// Largest logo accepted, in bytes.
pub const LOGO_MAX_BYTES: usize = 200 * 1024;

/// The media type of a logo, from its first bytes: PNG or JPEG only.
pub fn logo_media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

// ---------------------------------------------------------------- logo

fn logo_response(kind: String, bytes: Vec<u8>, cache: &'static str) -> Response {
    let kind = HeaderValue::from_str(&kind)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes,
    )
        .into_response()
}

pub(super) async fn office_logo(State(state): State<AppState>, user: OfficeUser) -> Response {
    match companies::logo(&state.app.db, &user.company_id).await {
        Ok(Some((kind, bytes))) => logo_response(kind, bytes, "private, no-cache"),
        Ok(None) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

/// The logo for public pages (pay page, emails): cacheable for a long time.
pub(super) async fn public_logo(
    State(state): State<AppState>,
    Path(company_id): Path<CompanyId>,
) -> Response {
    if company_id.len() > 100 {
        return state.views.not_found();
    }
    match companies::logo(&state.app.db, &company_id).await {
        Ok(Some((kind, bytes))) => logo_response(kind, bytes, "public, max-age=604800"),
        Ok(None) => state.views.not_found(),
        Err(e) => internal(e),
    }
}

pub(super) async fn upload_logo(
    State(state): State<AppState>,
    user: OfficeUser,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let refuse = |why: &str| {
        let why = why.to_string();
        let state = state.clone();
        let user = user.clone();
        async move {
            company_stored(
                &state,
                &user,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                Some(&why),
            )
            .await
        }
    };
    let too_big = format!(
        "The logo must be at most {} KB. Save it smaller and try again.",
        LOGO_MAX_BYTES / 1024
    );
    let Ok(mut multipart) = multipart else {
        return refuse("Choose a PNG or JPEG file to upload.").await;
    };
    let mut csrf = String::new();
    let mut file: Option<Vec<u8>> = None;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => match field.name() {
                Some("csrf") => csrf = field.text().await.unwrap_or_default(),
                Some("logo") => match field.bytes().await {
                    Ok(b) => file = Some(b.to_vec()),
                    Err(_) => {
                        if let Some(r) = user.csrf_refusal(&csrf) {
                            return r;
                        }
                        return refuse(&too_big).await;
                    }
                },
                _ => {}
            },
            Ok(None) => break,
            Err(_) => {
                if let Some(r) = user.csrf_refusal(&csrf) {
                    return r;
                }
                return refuse(&too_big).await;
            }
        }
    }
    if let Some(r) = user.csrf_refusal(&csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the company logo");
    }
    let bytes = match file {
        Some(b) if !b.is_empty() => b,
        _ => return refuse("Choose a PNG or JPEG file to upload.").await,
    };
    if bytes.len() > LOGO_MAX_BYTES {
        return refuse(&too_big).await;
    }
    let Some(kind) = logo_media_type(&bytes) else {
        return refuse("The logo must be a PNG or JPEG image.").await;
    };
    let result: Result<(), StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        companies::set_logo(&mut tx, &user.company_id, Some((kind, &bytes))).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "settings.logo_updated",
            &user.company_id,
            serde_json::json!({"type": kind, "bytes": bytes.len()}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/office/settings/company?notice=logo").into_response(),
        Err(e) => internal(e),
    }
}

pub(super) async fn remove_logo(
    State(state): State<AppState>,
    user: OfficeUser,
    Form(f): Form<crate::web::office::CsrfForm>,
) -> Response {
    if let Some(r) = user.csrf_refusal(&f.csrf) {
        return r;
    }
    if !user.is_owner() {
        return owners_only(&state, &user, "change the company logo");
    }
    let result: Result<(), StoreError> = async {
        let mut tx = state.app.db.begin_write().await?;
        companies::set_logo(&mut tx, &user.company_id, None).await?;
        audit::record(
            &mut tx,
            &user.company_id,
            &user.actor(),
            "settings.logo_removed",
            &user.company_id,
            serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/office/settings/company?notice=logo_removed").into_response(),
        Err(e) => internal(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logo_types_by_magic_bytes() {
        assert_eq!(logo_media_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(logo_media_type(b"\xff\xd8\xff\xe0rest"), Some("image/jpeg"));
        assert_eq!(logo_media_type(b"GIF89a"), None);
        assert_eq!(logo_media_type(b"<svg></svg>"), None);
        assert_eq!(logo_media_type(b""), None);
    }
}
