//! The sandboxed environment: checking and rendering a template.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};

use super::*;
use crate::domain::message::TemplateEmail;
use crate::messaging::Rendered;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// The source does not parse.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// A name that is not one of [`VARIABLES`].
    UnknownVariable(String),
    /// `include`, `import`, `from`, `extends` or `autoescape`.
    Forbidden(String),
    /// The render ran out of fuel.
    TooExpensive,
    /// The output passed its limit.
    TooLong(String),
    /// Anything else that failed while rendering (unknown filter, bad operation).
    Render(String),
}

impl TemplateError {
    /// The API error code.
    pub fn code(&self) -> &'static str {
        match self {
            TemplateError::Syntax { .. } => "template_syntax",
            TemplateError::UnknownVariable(_) => "unknown_variable",
            TemplateError::Forbidden(_) => "template_forbidden",
            TemplateError::TooExpensive => "template_too_expensive",
            TemplateError::TooLong(_) => "template_too_long",
            TemplateError::Render(_) => "template_error",
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Syntax {
                line,
                column,
                message,
            } => write!(f, "line {line}, column {column}: {message}"),
            TemplateError::UnknownVariable(name) => write!(
                f,
                "unknown variable '{name}'; the variables are: {}",
                VARIABLES.join(", ")
            ),
            TemplateError::Forbidden(tag) => {
                write!(f, "'{tag}' is not allowed in message templates")
            }
            TemplateError::TooExpensive => {
                f.write_str("the template does too much work (a loop is too long); it was stopped")
            }
            TemplateError::TooLong(limit) => write!(f, "the rendered text is longer than {limit}"),
            TemplateError::Render(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for TemplateError {}

/// The sandboxed environment, built once per process.
pub fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        use minijinja::filters;
        let mut env = Environment::empty();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(20);
        env.set_debug(false);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        // HTML escaping of & < > " ' only (minijinja's default also escapes
        // '/', which makes URLs in text hard to read).
        env.set_formatter(|out, state, value| {
            if *state.auto_escape() == AutoEscape::Html
                && !value.is_safe()
                && !value.is_undefined()
                && !value.is_none()
            {
                out.write_str(&escape_html(&value.to_string()))
                    .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "write failed"))
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.add_filter("upper", filters::upper);
        env.add_filter("lower", filters::lower);
        env.add_filter("title", filters::title);
        env.add_filter("capitalize", filters::capitalize);
        env.add_filter("trim", filters::trim);
        env.add_filter("default", filters::default);
        env.add_filter("length", filters::length);
        env.add_function("range", range);
        env
    })
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut cut = offset;
    while !source.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &source[..cut];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    (line, before[line_start..].chars().count() + 1)
}

fn syntax_error(source: &str, e: &minijinja::Error) -> TemplateError {
    let (line, column) = match e.range() {
        Some(r) => line_column(source, r.start),
        None => (e.line().unwrap_or(1), 1),
    };
    TemplateError::Syntax {
        line,
        column,
        message: e.detail().unwrap_or("syntax error").to_string(),
    }
}

/// The statements a template may use. Everything else (`include`,
/// `import`, `from`, `extends`, `autoescape`, `set`, `with`, `macro`,
/// `call`, `filter`, `block`) is refused.
pub const TAGS: &[&str] = &["if", "elif", "else", "endif", "for", "endfor"];

/// Largest `range`.
pub const RANGE_MAX: u32 = 1000;

/// Checks the template's tokens (minijinja's own lexer) against the sandbox's
/// grammar: only [`TAGS`]; no `~`, `+`, `*`, `**`, `%` operators; no list,
/// dict or tuple literals and no subscripts (`[`, `{`, a comma outside call
/// arguments). With no way to build or bind growing values, memory stays
/// linear in the template, and fuel and the output cap bound the rest.
/// Lexer errors are left to the parser, which reports them with a position.
fn check_tokens(source: &str) -> Result<(), TemplateError> {
    use minijinja::machinery::{Token, tokenize};
    let refuse = |source: &str, offset: u32, what: &str| {
        let (line, column) = line_column(source, offset as usize);
        TemplateError::Syntax {
            line,
            column,
            message: format!("{what} is not allowed in message templates"),
        }
    };
    // Per tag or expression: whether each open paren is a call, the tag's
    // name, and whether a `for` has reached its `in`.
    let mut parens: Vec<bool> = Vec::new();
    let mut tag: Option<String> = None;
    let mut first_in_block = false;
    let mut for_in = false;
    let mut prev_callable = false;
    for token in tokenize(source, false, Default::default()) {
        let Ok((token, span)) = token else {
            return Ok(());
        };
        let callable = matches!(
            token,
            Token::Ident(_) | Token::ParenClose | Token::Str(_) | Token::String(_)
        ) && !matches!(
            token,
            Token::Ident("in" | "and" | "or" | "not" | "if" | "else" | "is")
        );
        match &token {
            Token::BlockStart => {
                parens.clear();
                first_in_block = true;
                for_in = false;
                tag = None;
            }
            Token::VariableStart => {
                parens.clear();
                tag = None;
            }
            Token::BlockEnd | Token::VariableEnd => {
                parens.clear();
            }
            Token::Ident(name) if first_in_block => {
                first_in_block = false;
                if !TAGS.contains(name) {
                    return Err(TemplateError::Forbidden((*name).to_string()));
                }
                tag = Some((*name).to_string());
            }
            Token::Ident("in") if tag.as_deref() == Some("for") && parens.is_empty() => {
                for_in = true;
            }
            Token::Tilde | Token::Plus | Token::Mul | Token::Pow | Token::Mod => {
                return Err(refuse(
                    source,
                    span.start_offset,
                    &format!("the {token} operator"),
                ));
            }
            Token::BracketOpen | Token::BraceOpen => {
                return Err(refuse(
                    source,
                    span.start_offset,
                    "a list, a dict or a subscript (`[`, `{`)",
                ));
            }
            Token::ParenOpen => parens.push(prev_callable),
            Token::ParenClose => {
                parens.pop();
            }
            Token::Comma => {
                let in_call = parens.last().copied().unwrap_or(false);
                let for_targets = parens.is_empty() && tag.as_deref() == Some("for") && !for_in;
                if !in_call && !for_targets {
                    return Err(refuse(
                        source,
                        span.start_offset,
                        "a tuple (a comma outside call arguments)",
                    ));
                }
            }
            _ => {}
        }
        if !matches!(token, Token::BlockStart) {
            first_in_block = false;
        }
        prev_callable = callable;
    }
    Ok(())
}

fn range(upper: u32) -> Result<Value, minijinja::Error> {
    if upper > RANGE_MAX {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("range has too many elements (at most {RANGE_MAX})"),
        ));
    }
    Ok(Value::from((0..upper).collect::<Vec<u32>>()))
}

/// Checks a source for `part`: syntax (with line and column), forbidden tags,
/// unknown variables, then a trial render with sample data (fuel and output
/// limits, unknown filters, bad operations).
pub fn validate(source: &str, part: Part) -> Result<(), TemplateError> {
    let env = environment();
    let tmpl = env
        .template_from_named_str(part.template_name(), source)
        .map_err(|e| syntax_error(source, &e))?;
    check_tokens(source)?;
    let known: HashSet<&str> = VARIABLES.iter().chain(FUNCTIONS).copied().collect();
    let mut unknown: Vec<String> = tmpl
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !known.contains(v.as_str()))
        .collect();
    unknown.sort();
    if let Some(name) = unknown.into_iter().next() {
        return Err(TemplateError::UnknownVariable(name));
    }
    render_part(source, part, &MessageVars::sample("https://example.com")).map(|_| ())
}

/// A writer that refuses to grow past its limit.
struct Capped {
    buf: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + b.len() > self.limit {
            self.overflowed = true;
            return Err(std::io::Error::other("output limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn too_long(part: Part) -> TemplateError {
    TemplateError::TooLong(match part {
        Part::Subject => format!("{SUBJECT_MAX_CHARS} characters"),
        Part::Sms => format!("{SMS_MAX_CHARS} characters"),
        Part::Html | Part::Text => format!("{} KB", EMAIL_MAX_BYTES / 1024),
    })
}

/// Renders one source with the sandbox's limits.
pub fn render_part(source: &str, part: Part, vars: &MessageVars) -> Result<String, TemplateError> {
    let env = environment();
    let tmpl = env
        .template_from_named_str(part.template_name(), source)
        .map_err(|e| syntax_error(source, &e))?;
    check_tokens(source)?;
    let mut out = Capped {
        buf: Vec::new(),
        limit: part.max_bytes(),
        overflowed: false,
    };
    if let Err(e) = tmpl
        .render_captured_to(vars.context(part), &mut out)
        .map(|_| ())
    {
        if out.overflowed {
            return Err(too_long(part));
        }
        return Err(match e.kind() {
            ErrorKind::OutOfFuel => TemplateError::TooExpensive,
            ErrorKind::SyntaxError => syntax_error(source, &e),
            ErrorKind::UndefinedError => TemplateError::UnknownVariable(
                e.range()
                    .and_then(|r| source.get(r))
                    .unwrap_or("?")
                    .to_string(),
            ),
            ErrorKind::InvalidOperation
                if e.detail().is_some_and(|d| d.contains("range has too many")) =>
            {
                TemplateError::TooExpensive
            }
            ErrorKind::UnknownFilter => TemplateError::Render(format!(
                "line {}: {}; the filters are: {}",
                e.line().unwrap_or(1),
                e.detail().unwrap_or("unknown filter"),
                FILTERS.join(", ")
            )),
            ErrorKind::TemplateNotFound => {
                TemplateError::Forbidden("include, import and extends".into())
            }
            _ => {
                let (line, _) = e
                    .range()
                    .map(|r| line_column(source, r.start))
                    .unwrap_or((e.line().unwrap_or(1), 1));
                TemplateError::Render(format!(
                    "line {line}: {}",
                    e.detail().unwrap_or("the template could not be rendered")
                ))
            }
        });
    }
    let text =
        String::from_utf8(out.buf).map_err(|_| TemplateError::Render("bad output".into()))?;
    if let Some(max) = part.max_chars()
        && text.chars().count() > max
    {
        return Err(too_long(part));
    }
    Ok(text)
}

/// Renders an email. Without a text body, the text part is derived from the
/// rendered HTML ([`html_to_text`]). Line breaks in the subject become spaces.
pub fn render_email(t: &TemplateEmail, vars: &MessageVars) -> Result<Rendered, TemplateError> {
    let subject = render_part(&t.subject, Part::Subject, vars)?;
    let subject = subject
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let html = render_part(&t.html_body, Part::Html, vars)?;
    let text = match &t.text_body {
        Some(body) if !body.trim().is_empty() => render_part(body, Part::Text, vars)?,
        _ => html_to_text(&html),
    };
    Ok(Rendered {
        attachments: Vec::new(),
        subject,
        html: Some(html),
        text,
    })
}

/// Renders an SMS body (plain text, no escaping).
pub fn render_sms(body: &str, vars: &MessageVars) -> Result<Rendered, TemplateError> {
    let text = render_part(body, Part::Sms, vars)?;
    Ok(Rendered {
        attachments: Vec::new(),
        subject: String::new(),
        html: None,
        text: text.trim().to_string(),
    })
}

/// Plain text made safe inside HTML.
pub fn escape_text(s: &str) -> String {
    escape_html(s)
}

pub(super) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            _ => out.push(c),
        }
    }
    out
}

/// Decodes the common named entities and numeric references.
pub fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[..rest.len().min(12)].find(';');
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => {
                    if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
                    } else if let Some(dec) = name.strip_prefix('#') {
                        dec.parse::<u32>().ok().and_then(char::from_u32)
                    } else {
                        None
                    }
                }
            };
            c.map(|c| (c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in a tag's inside (`a href="x"`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find(name) {
        let at = from + i;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let value = tag[value_start..].trim_start();
        let v = if let Some(q) = value.strip_prefix('"') {
            q.split('"').next().unwrap_or("")
        } else if let Some(q) = value.strip_prefix('\'') {
            q.split('\'').next().unwrap_or("")
        } else {
            value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or("")
        };
        return Some(decode_entities(v));
    }
    None
}

/// A plain-text version of an HTML body: tags removed (`script`/`style`
/// contents dropped), block elements and `<br>` as line breaks, a link as
/// "text: URL" (just the URL when the text is the URL), entities decoded,
/// runs of spaces collapsed and at most one blank line in a row.
pub fn html_to_text(html: &str) -> String {
    let mut raw = String::with_capacity(html.len());
    let mut rest = html;
    let mut link: Option<(String, usize)> = None;
    while let Some(i) = rest.find('<') {
        raw.push_str(&decode_entities(&rest[..i]));
        let after = &rest[i + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map(|e| &comment[e + 3..]).unwrap_or("");
            continue;
        }
        let Some(end) = after.find('>') else {
            rest = "";
            break;
        };
        let inside = &after[..end];
        rest = &after[end + 1..];
        let closing = inside.starts_with('/');
        let name: String = inside
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match name.as_str() {
            "script" | "style" if !closing => {
                let close = format!("</{name}");
                let lower = rest.to_ascii_lowercase();
                rest = match lower.find(&close) {
                    Some(e) => rest[e..]
                        .find('>')
                        .map(|g| &rest[e + g + 1..])
                        .unwrap_or(""),
                    None => "",
                };
            }
            "a" if !closing => {
                link = attribute(inside, "href").map(|h| (h, raw.len()));
            }
            "a" => {
                if let Some((href, start)) = link.take() {
                    let text = raw[start..].trim().to_string();
                    if !href.is_empty() && !href.starts_with('#') && text != href {
                        if text.is_empty() {
                            raw.push_str(&href);
                        } else {
                            raw.push_str(": ");
                            raw.push_str(&href);
                        }
                    }
                }
            }
            "br" => raw.push('\n'),
            "p" | "div" | "tr" | "li" | "ul" | "ol" | "table" | "h1" | "h2" | "h3" | "h4"
            | "h5" | "h6" | "blockquote" | "hr" | "section" | "header" | "footer" | "title" => {
                raw.push_str("\n\n")
            }
            "td" | "th" => raw.push(' '),
            _ => {}
        }
    }
    raw.push_str(&decode_entities(rest));
    // Collapse whitespace: spaces within lines, blank lines between them.
    let mut lines: Vec<String> = Vec::new();
    for line in raw.lines() {
        let l = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if l.is_empty() && lines.last().is_none_or(|p| p.is_empty()) {
            continue;
        }
        lines.push(l);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}
