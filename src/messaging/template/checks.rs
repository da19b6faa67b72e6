//! What a template must be when it is saved.

use super::*;
use crate::domain::text;

// ---------------------------------------------------------------- saving

/// Longest template name.
pub const NAME_MAX: usize = 200;
/// Longest subject source.
pub const SUBJECT_MAX: usize = 1000;
/// Longest email body source.
pub const BODY_MAX: usize = 100 * 1024;
/// Longest SMS body source.
pub const SMS_SOURCE_MAX: usize = 5000;
/// A field that failed its check, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    /// A stable error code: `invalid_field` or the template error's.
    pub code: &'static str,
    pub message: String,
}

fn field_error(field: &'static str, message: String) -> FieldError {
    FieldError {
        field,
        code: "invalid_field",
        message,
    }
}

/// A required one-line text field of at most `max` characters (a name, a
/// subject): no line breaks or other control characters.
pub fn check_text(
    value: &str,
    field: &'static str,
    label: &str,
    max: usize,
) -> Result<(), FieldError> {
    check_present(value, field, label, max)?;
    text::single_line(field, value, max)
        .map(drop)
        .map_err(|e| field_error(field, e.message.replacen(field, label, 1)))
}

fn check_present(
    value: &str,
    field: &'static str,
    label: &str,
    max: usize,
) -> Result<(), FieldError> {
    if value.trim().is_empty() {
        return Err(field_error(field, format!("{label} must not be empty")));
    }
    if value.chars().count() > max {
        return Err(field_error(
            field,
            format!("{label} must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// A template source: one line for a subject, several for a body (newlines
/// and tabs kept, other control characters refused), then its syntax.
fn check_source(
    source: &str,
    part: Part,
    field: &'static str,
    label: &str,
    max: usize,
) -> Result<(), FieldError> {
    if part == Part::Subject {
        check_text(source, field, label, max)?;
    } else {
        check_present(source, field, label, max)?;
        text::check_multi_line(field, source, max)
            .map_err(|e| field_error(field, e.message.replacen(field, label, 1)))?;
    }
    validate(source, part).map_err(|e| FieldError {
        field,
        code: e.code(),
        message: e.to_string(),
    })
}

/// The field names of a translation's parts, as the API and the office
/// form name them (`translations.es.subject`); `None` for the main language.
fn translation_fields(lang: crate::domain::i18n::Lang) -> Option<[&'static str; 4]> {
    use crate::domain::i18n::Lang;
    match lang {
        Lang::En => None,
        Lang::Es => Some([
            "translations.es.subject",
            "translations.es.html_body",
            "translations.es.text_body",
            "translations.es.body",
        ]),
    }
}

fn not_a_translation(lang: crate::domain::i18n::Lang) -> FieldError {
    field_error(
        "translations",
        format!(
            "Translations are for languages other than the main text's ({}); remove \"{}\"",
            crate::domain::i18n::Lang::default().code(),
            lang.code()
        ),
    )
}

/// The checks of an email template's text in another language: those of
/// the main subject and bodies, each named by its language
/// (`translations.es.subject`).
pub fn check_email_translation(
    lang: crate::domain::i18n::Lang,
    subject: &str,
    html: &str,
    text: &str,
) -> Result<(), FieldError> {
    let [s, h, t, _] = translation_fields(lang).ok_or_else(|| not_a_translation(lang))?;
    let name = lang.name();
    check_source(
        subject,
        Part::Subject,
        s,
        &format!("Subject ({name})"),
        SUBJECT_MAX,
    )?;
    check_source(
        html,
        Part::Html,
        h,
        &format!("HTML body ({name})"),
        BODY_MAX,
    )?;
    if !text.trim().is_empty() {
        let label = format!("Plain-text body ({name})");
        check_source(text, Part::Text, t, &label, BODY_MAX)?;
    }
    Ok(())
}

/// The checks of an SMS template's body in another language.
pub fn check_sms_translation(
    lang: crate::domain::i18n::Lang,
    body: &str,
) -> Result<(), FieldError> {
    let [_, _, _, b] = translation_fields(lang).ok_or_else(|| not_a_translation(lang))?;
    let label = format!("Message ({})", lang.name());
    check_source(body, Part::Sms, b, &label, SMS_SOURCE_MAX)
}

/// The checks of an email template (an empty text body means "derive it
/// from the HTML").
pub fn check_email_fields(
    name: &str,
    subject: &str,
    html: &str,
    text: &str,
) -> Result<(), FieldError> {
    check_text(name, "name", "Name", NAME_MAX)?;
    check_source(subject, Part::Subject, "subject", "Subject", SUBJECT_MAX)?;
    check_source(html, Part::Html, "html_body", "HTML body", BODY_MAX)?;
    if !text.trim().is_empty() {
        check_source(text, Part::Text, "text_body", "Plain-text body", BODY_MAX)?;
    }
    Ok(())
}

/// The checks of an SMS template.
pub fn check_sms_fields(name: &str, body: &str) -> Result<(), FieldError> {
    check_text(name, "name", "Name", NAME_MAX)?;
    check_source(body, Part::Sms, "body", "Message", SMS_SOURCE_MAX)
}
