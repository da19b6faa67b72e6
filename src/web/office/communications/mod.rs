//! Office: Settings › Communications — email and SMS templates (`templates`:
//! list, create, edit, duplicate, delete, preview) — the Messages list
//! (`messages`), and "Send now" for one customer (`send`). Templates are
//! checked exactly as the JSON API checks them: nothing broken is saved.

mod messages;
mod send;
mod templates;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Form, Router};
use serde::Serialize;

use super::OfficeUser;
use crate::app::templates::TemplateId;
use crate::domain::ids::CompanyId;
use crate::messaging::Channel;
use crate::messaging::template::{self, sms_segments};
use crate::store::companies;
use crate::web::AppState;
use crate::web::error::ApiError;
use axum::response::Response;

use messages::messages_page;
use send::{send_now, send_page};
use templates::{
    SavedQuery, TemplateForm, delete, delete_confirm, duplicate, edit_form, list, new_form, save,
};

type Page = Result<Response, ApiError>;

/// Every template variable with a one-line meaning (kept beside the
/// variables themselves).
pub use crate::messaging::template::VARIABLE_HELP as VARIABLE_MEANINGS;

/// The company's time zone, for showing instants.
pub(super) async fn time_zone(
    state: &AppState,
    company_id: &CompanyId,
) -> Result<String, ApiError> {
    Ok(companies::get(&state.app.db, company_id)
        .await?
        .map(|c| c.time_zone)
        .unwrap_or_else(|| "UTC".to_string()))
}

// ---------------------------------------------------------------- checks

/// A send-now nonce: letters, digits, `-` and `_`, 8 to 100 of them.
pub fn valid_nonce(nonce: &str) -> bool {
    (8..=100).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `email:ID` or `sms:ID` from the template select.
pub fn parse_template_choice(value: &str) -> Option<(Channel, &str)> {
    let (kind, id) = value.split_once(':')?;
    let channel = match kind {
        "email" => Channel::Email,
        "sms" => Channel::Sms,
        _ => return None,
    };
    (!id.is_empty()).then_some((channel, id))
}

/// The SMS count shown beside the editor.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SmsCount {
    pub characters: usize,
    pub segments: usize,
    pub encoding: &'static str,
    /// More than two segments: the message costs more and may arrive split.
    pub warn: bool,
}

pub fn sms_count(text: &str) -> SmsCount {
    sms_count_of(sms_segments(text))
}

/// `sms_count` of segments already counted.
pub fn sms_count_of(c: template::SmsSegments) -> SmsCount {
    SmsCount {
        characters: c.units,
        segments: c.segments,
        encoding: match c.encoding {
            template::SmsEncoding::Gsm7 => "GSM-7",
            template::SmsEncoding::Ucs2 => "Unicode (UCS-2)",
        },
        warn: c.segments > 1,
    }
}

// ---------------------------------------------------------------- routes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Email,
    Sms,
}

impl Kind {
    /// A path's id as this kind's template id.
    pub(super) fn id(self, id: &str) -> TemplateId {
        match self {
            Kind::Email => TemplateId::Email(id.into()),
            Kind::Sms => TemplateId::Sms(id.into()),
        }
    }

    pub(super) fn slug(self) -> &'static str {
        match self {
            Kind::Email => "email-templates",
            Kind::Sms => "sms-templates",
        }
    }

    pub(super) fn base(self) -> String {
        format!("/office/settings/{}", self.slug())
    }

    /// What one is called in a sentence.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Kind::Email => "email template",
            Kind::Sms => "SMS template",
        }
    }

    pub(super) fn info(self) -> minijinja::Value {
        let title = match self {
            Kind::Email => "Email Templates",
            Kind::Sms => "SMS Templates",
        };
        minijinja::context! {
            title => title, noun => self.noun(), base => self.base(), is_email => self == Kind::Email,
        }
    }
}

/// An email as the customer's mail program shows it: the rendered HTML as a
/// document of its own, under `EMAIL_DOCUMENT_CSP` (nothing runs, only
/// inline styles and images apply).
pub fn email_document(html: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut resp = axum::response::Html(html).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static(crate::web::EMAIL_DOCUMENT_CSP),
    );
    resp
}

/// Why no email can be shown, as a plain page under the same policy.
pub fn email_document_refused(message: &str) -> axum::response::Response {
    let mut resp = email_document(format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>No preview</title><p>The preview could not be made: {}</p></html>",
        template::escape_text(message)
    ));
    *resp.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
    resp
}

pub fn routes() -> Router<AppState> {
    let mut r = Router::new()
        .route(
            "/office/settings/email-templates/preview-email",
            axum::routing::post(templates::email_document),
        )
        .route("/office/messages", get(messages_page))
        .route("/office/messages/{id}", get(messages::message_page))
        .route("/office/customers/{id}/send", get(send_page).post(send_now));
    for kind in [Kind::Email, Kind::Sms] {
        let base = kind.base();
        r = r
            .route(
                &base,
                get(move |s: State<AppState>, u: OfficeUser| list(s, u, kind)),
            )
            .route(
                &format!("{base}/new"),
                get(move |s: State<AppState>, u: OfficeUser| new_form(s, u, kind)).post(
                    move |s: State<AppState>, u: OfficeUser, f: Form<TemplateForm>| {
                        save(s, u, kind, None, f)
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}"),
                get(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          p: Path<String>,
                          q: Query<SavedQuery>| { edit_form(s, u, kind, p, q) },
                )
                .post(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          Path(id): Path<String>,
                          f: Form<TemplateForm>| {
                        save(s, u, kind, Some(id), f)
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}/duplicate"),
                axum::routing::post(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          p: Path<String>,
                          f: Form<super::CsrfForm>| {
                        duplicate(s, u, kind, p, f)
                    },
                ),
            )
            .route(
                &format!("{base}/{{id}}/delete"),
                get(move |s: State<AppState>, u: OfficeUser, p: Path<String>| {
                    delete_confirm(s, u, kind, p)
                })
                .post(
                    move |s: State<AppState>,
                          u: OfficeUser,
                          p: Path<String>,
                          f: Form<super::CsrfForm>| {
                        delete(s, u, kind, p, f)
                    },
                ),
            );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sms_count_warns_when_a_message_crosses_a_segment() {
        assert_eq!(sms_count(&"a".repeat(160)).segments, 1);
        let two = sms_count(&"a".repeat(161));
        assert_eq!((two.segments, two.warn), (2, true));
        assert!(!sms_count(&"a".repeat(160)).warn);
        assert_eq!(sms_count("é😀").encoding, "Unicode (UCS-2)");
    }

    #[test]
    fn nonces_and_choices() {
        assert!(valid_nonce("abcDEF12_-"));
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce("has space in it"));
        assert_eq!(
            parse_template_choice("sms:stpl_1"),
            Some((Channel::Sms, "stpl_1"))
        );
        assert_eq!(parse_template_choice("email:"), None);
        assert_eq!(parse_template_choice("fax:1"), None);
    }
}
