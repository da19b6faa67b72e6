//! Text that people type: one line (names, numbers, subjects) or several
//! (addresses, template bodies). Checked once here for every face: the API,
//! the office and portal forms and CSV import.

use std::fmt;

/// What is wrong with one field, in words that say what to fix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> FieldError {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

/// A control character a single line never holds: C0 (NUL, TAB, CR, LF, …),
/// DEL, C1, and the Unicode line and paragraph separators.
fn breaks_a_line(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// The first character of `value` that no field may hold (newlines and tabs
/// aside, which `multi_line` keeps).
fn control_outside_lines(value: &str) -> Option<char> {
    value
        .chars()
        .find(|&c| breaks_a_line(c) && !matches!(c, '\n' | '\r' | '\t'))
}

fn describe(c: char) -> String {
    match c {
        '\0' => "a NUL character".into(),
        '\n' => "a line break".into(),
        '\r' => "a carriage return".into(),
        '\t' => "a tab".into(),
        '\u{2028}' | '\u{2029}' => "a line break".into(),
        c => format!("a control character (U+{:04X})", c as u32),
    }
}

/// A required one-line value, trimmed: not empty, at most `max` characters,
/// no control characters (a line break in a name would split an email
/// header or a CSV row).
pub fn single_line(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldError::new(field, format!("{field} must not be empty")));
    }
    check_single_line(field, v, max)?;
    Ok(v.to_string())
}

/// An optional one-line value: empty (or only spaces) is `None`.
pub fn optional_single_line(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => check_single_line(field, v, max).map(|()| Some(v.to_string())),
    }
}

fn check_single_line(field: &'static str, v: &str, max: usize) -> Result<(), FieldError> {
    if let Some(c) = v.chars().find(|&c| breaks_a_line(c)) {
        return Err(FieldError::new(
            field,
            format!("{field} must be one line of text: remove {}", describe(c)),
        ));
    }
    check_length(field, v, max)
}

/// Text of several lines (an address, a template body): newlines and tabs
/// stay, other control characters are refused. Trimmed; `None` when empty.
pub fn optional_multi_line(
    field: &'static str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => check_multi_line(field, v, max).map(|()| Some(v.to_string())),
    }
}

/// A required multi-line value, trimmed.
pub fn multi_line(field: &'static str, value: &str, max: usize) -> Result<String, FieldError> {
    optional_multi_line(field, Some(value), max)?
        .ok_or_else(|| FieldError::new(field, format!("{field} must not be empty")))
}

/// Checks multi-line text as it is (template bodies keep their spacing).
pub fn check_multi_line(field: &'static str, v: &str, max: usize) -> Result<(), FieldError> {
    if let Some(c) = control_outside_lines(v) {
        return Err(FieldError::new(
            field,
            format!("{field} must not contain {}", describe(c)),
        ));
    }
    check_length(field, v, max)
}

fn check_length(field: &'static str, v: &str, max: usize) -> Result<(), FieldError> {
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn one_line_is_trimmed_and_bounded() {
        assert_eq!(single_line("name", "  Lena  ", 10).unwrap(), "Lena");
        assert_eq!(
            single_line("name", "   ", 10).unwrap_err().message,
            "name must not be empty"
        );
        assert!(single_line("name", "abcdefghijk", 10).is_err());
        assert_eq!(single_line("name", "Peña €", 6).unwrap(), "Peña €");
    }

    #[test]
    fn control_characters_are_refused_in_one_line() {
        for bad in [
            "a\0b",
            "a\nb",
            "a\rb",
            "a\tb",
            "a\u{7}b",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{9b}b",
            "a\u{2028}b",
        ] {
            let e = single_line("name", bad, 100).unwrap_err();
            assert_eq!(e.field, "name");
            assert!(e.message.contains("one line"), "{bad:?}: {}", e.message);
        }
        assert!(
            single_line("name", "a\nb", 100)
                .unwrap_err()
                .message
                .contains("line break")
        );
        assert_eq!(optional_single_line("phone", Some(" "), 5).unwrap(), None);
        assert!(optional_single_line("phone", Some("1\r\n2"), 5).is_err());
    }

    #[test]
    fn several_lines_keep_newlines_and_refuse_the_rest() {
        assert_eq!(
            multi_line("address", "1 Main St\r\nAustin\tTX\n", 100).unwrap(),
            "1 Main St\r\nAustin\tTX"
        );
        assert!(multi_line("address", "1 Main\0St", 100).is_err());
        assert!(multi_line("address", "1 Main\u{1b}[31mSt", 100).is_err());
        assert!(check_multi_line("html_body", "<p>\u{85}</p>", 100).is_err());
        assert_eq!(
            optional_multi_line("address", Some("\n \n"), 10).unwrap(),
            None
        );
    }

    proptest! {
        #[test]
        fn accepted_single_lines_hold_no_control_characters(s in "\\PC*|[\\x00-\\x1f\\x7f-\\x9f a-z]*") {
            if let Ok(v) = single_line("f", &s, 1000) {
                prop_assert!(!v.chars().any(|c| c.is_control()));
                prop_assert_eq!(v.as_str(), s.trim());
            }
        }
    }
}
