//! User-editable message templates: a sandboxed minijinja environment, the
//! variables a message may use, rendering, checking at save time and the SMS
//! segment counter.
//!
//! The sandbox (SECURITY.md 21):
//! - one `Environment` per process, built from `Environment::empty()`: no
//!   loader, so `include`/`import`/`extends` can never load anything;
//! - a restricted grammar checked on minijinja's own tokens ([`TAGS`]: only
//!   `if`/`elif`/`else`/`endif`/`for`/`endfor`; no `set`, `with`, `macro`,
//!   `call`, `filter`, `block`, `include`, `import`, `from`, `extends`,
//!   `autoescape`; no `~ + * ** %` operators; no list, dict or tuple literals
//!   or subscripts), so no value can grow beyond the template and its data;
//! - filters allowed ([`FILTERS`]): `upper`, `lower`, `title`, `capitalize`,
//!   `trim`, `default`, `length`; no tests; one function, `range(n)` with
//!   n at most [`RANGE_MAX`];
//! - strict undefined: an unknown name or attribute is an error, never text;
//! - fuel: [`FUEL`] instructions per render; recursion limit 20;
//! - output limits: [`EMAIL_MAX_BYTES`] per email part, [`SUBJECT_MAX_CHARS`],
//!   [`SMS_MAX_CHARS`]; past them rendering fails (nothing is truncated);
//! - HTML bodies are autoescaped; subjects, text bodies and SMS are plain text.
//!
//! The context is plain data ([`MessageVars`]): no secrets, no objects.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value};
use serde::{Deserialize, Serialize};

use super::{Channel, Rendered};
use crate::app::App;
use crate::domain::text;
use crate::money::Money;
use crate::store::{StoreError, companies, customers, invoices, templates};

/// Instructions one render may run.
pub const FUEL: u64 = 100_000;
/// Largest rendered HTML or text part of an email, in bytes.
pub const EMAIL_MAX_BYTES: usize = 100 * 1024;
/// Largest rendered subject.
pub const SUBJECT_MAX_CHARS: usize = 998;
/// Largest rendered SMS (10 GSM-7 segments).
pub const SMS_MAX_CHARS: usize = 1600;

/// The text of the email payment-link anchor.
pub const PAYMENT_LINK_TEXT: &str = "Click Here to Make Payment";

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "email_payment_link",
    "sms_payment_link",
    "portal_link",
    "customer_name",
    "customer_first_name",
    "customer_balance",
    "company_name",
    "company_phone",
    "invoice_number",
    "invoice_date",
    "invoice_due_date",
    "invoice_total",
    "invoice_balance",
    "payment_amount",
    "card_brand",
    "card_last4",
    "card_expiry",
    "autopay_amount",
    "autopay_date",
    "decline_reason",
    "autopay_cancel_link",
    "update_card_link",
];

/// Every template variable with a one-line meaning, in the order of
/// [`VARIABLES`]: the help the office shows beside the template editors.
pub const VARIABLE_HELP: &[(&str, &str)] = &[
    (
        "email_payment_link",
        "In email: a \"Click Here to Make Payment\" link to the customer's payment page",
    ),
    (
        "sms_payment_link",
        "The address of the customer's payment page (for SMS)",
    ),
    ("portal_link", "The address of the customer portal"),
    ("customer_name", "The customer's full name"),
    (
        "customer_first_name",
        "The first word of the customer's name",
    ),
    (
        "customer_balance",
        "Everything the customer owes now, e.g. $125.00",
    ),
    ("company_name", "Your company's name"),
    ("company_phone", "Your company's phone number"),
    (
        "invoice_number",
        "The invoice's number (when one is chosen)",
    ),
    ("invoice_date", "The invoice's issue date"),
    ("invoice_due_date", "The invoice's due date"),
    ("invoice_total", "The invoice's total"),
    ("invoice_balance", "What is still owed on the invoice"),
    ("payment_amount", "The amount paid (in payment receipts)"),
    (
        "card_brand",
        "The card's brand, e.g. Visa (autopay messages and receipts)",
    ),
    (
        "card_last4",
        "The last 4 digits of the card (autopay messages and receipts)",
    ),
    (
        "card_expiry",
        "The card's expiry, e.g. 12/26 (autopay messages)",
    ),
    (
        "autopay_amount",
        "The amount autopay charges or tried to charge (autopay messages and receipts)",
    ),
    (
        "autopay_date",
        "The day of the autopay charge (in notices), or of the next try (after a decline)",
    ),
    (
        "decline_reason",
        "Why the bank declined the card, in plain words (autopay decline messages)",
    ),
    (
        "autopay_cancel_link",
        "The address where the customer turns autopay off",
    ),
    (
        "update_card_link",
        "The address where the customer updates the saved card",
    ),
];

/// The filters a template may use.
pub const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "default",
    "length",
];

/// Global functions a template may call (checked like variables).
const FUNCTIONS: &[&str] = &["range"];

/// Which part of a message a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Email subject: plain text, one line.
    Subject,
    /// Email HTML body: autoescaped.
    Html,
    /// Email plain-text body.
    Text,
    /// SMS body: plain text.
    Sms,
}

impl Part {
    fn template_name(self) -> &'static str {
        match self {
            Part::Subject => "subject.txt",
            Part::Html => "body.html",
            Part::Text => "body.txt",
            Part::Sms => "sms.txt",
        }
    }

    /// Largest output, in bytes (characters are checked after).
    fn max_bytes(self) -> usize {
        match self {
            Part::Subject => SUBJECT_MAX_CHARS * 4,
            Part::Html | Part::Text => EMAIL_MAX_BYTES,
            Part::Sms => SMS_MAX_CHARS * 4,
        }
    }

    fn max_chars(self) -> Option<usize> {
        match self {
            Part::Subject => Some(SUBJECT_MAX_CHARS),
            Part::Sms => Some(SMS_MAX_CHARS),
            Part::Html | Part::Text => None,
        }
    }
}

/// An email template's sources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateEmail {
    pub subject: String,
    pub html_body: String,
    pub text_body: Option<String>,
}

/// The data a message is rendered with. `payment_url` is what
/// `email_payment_link` and `sms_payment_link` point at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageVars {
    pub payment_url: String,
    pub portal_link: String,
    pub customer_name: String,
    pub customer_first_name: String,
    pub customer_balance: String,
    pub company_name: String,
    pub company_phone: String,
    pub invoice_number: String,
    pub invoice_date: String,
    pub invoice_due_date: String,
    pub invoice_total: String,
    pub invoice_balance: String,
    /// The amount of the payment a receipt is about; empty otherwise.
    pub payment_amount: String,
    /// The card of an autopay message or a receipt; empty otherwise.
    pub card_brand: String,
    pub card_last4: String,
    /// "MM/YY".
    pub card_expiry: String,
    /// What autopay charges (notice), charged (receipt) or tried to charge
    /// (decline).
    pub autopay_amount: String,
    /// The charge day (notice) or the next try (decline).
    pub autopay_date: String,
    /// The decline in words a customer understands.
    pub decline_reason: String,
    /// Where autopay is turned off: the payment link's autopay page, or the
    /// portal's cards page when links are off.
    pub autopay_cancel_link: String,
    /// Where the saved card is updated (the portal's cards page).
    pub update_card_link: String,
}

impl MessageVars {
    /// Plausible data for previews and for the trial render at save time.
    pub fn sample(base_url: &str) -> MessageVars {
        MessageVars {
            payment_url: format!("{base_url}/pay/sample-payment-link"),
            portal_link: format!("{base_url}/portal"),
            customer_name: "Jane Doe".into(),
            customer_first_name: "Jane".into(),
            customer_balance: "$125.00".into(),
            company_name: "Your Company".into(),
            company_phone: "(555) 555-0100".into(),
            invoice_number: "1001".into(),
            invoice_date: "Dec 1, 2026".into(),
            invoice_due_date: "Dec 15, 2026".into(),
            invoice_total: "$125.00".into(),
            invoice_balance: "$125.00".into(),
            payment_amount: "$125.00".into(),
            card_brand: "Visa".into(),
            card_last4: "4242".into(),
            card_expiry: "12/28".into(),
            autopay_amount: "$125.00".into(),
            autopay_date: "Dec 15, 2026".into(),
            decline_reason: "The card has insufficient funds. Try another card or call your bank."
                .into(),
            autopay_cancel_link: format!("{base_url}/pay/sample-payment-link/autopay"),
            update_card_link: format!("{base_url}/portal/cards"),
        }
    }

    /// The template context for one part: in HTML the payment link is a safe
    /// anchor; elsewhere it is "Click Here to Make Payment: URL".
    pub fn context(&self, part: Part) -> Value {
        let email_link = if part == Part::Html {
            Value::from_safe_string(format!(
                "<a href=\"{}\">{PAYMENT_LINK_TEXT}</a>",
                escape_html(&self.payment_url)
            ))
        } else {
            Value::from(format!("{PAYMENT_LINK_TEXT}: {}", self.payment_url))
        };
        let s = |v: &String| Value::from(v.as_str());
        let pairs = [
            ("email_payment_link", email_link),
            ("sms_payment_link", s(&self.payment_url)),
            ("portal_link", s(&self.portal_link)),
            ("customer_name", s(&self.customer_name)),
            ("customer_first_name", s(&self.customer_first_name)),
            ("customer_balance", s(&self.customer_balance)),
            ("company_name", s(&self.company_name)),
            ("company_phone", s(&self.company_phone)),
            ("invoice_number", s(&self.invoice_number)),
            ("invoice_date", s(&self.invoice_date)),
            ("invoice_due_date", s(&self.invoice_due_date)),
            ("invoice_total", s(&self.invoice_total)),
            ("invoice_balance", s(&self.invoice_balance)),
            ("payment_amount", s(&self.payment_amount)),
            ("card_brand", s(&self.card_brand)),
            ("card_last4", s(&self.card_last4)),
            ("card_expiry", s(&self.card_expiry)),
            ("autopay_amount", s(&self.autopay_amount)),
            ("autopay_date", s(&self.autopay_date)),
            ("decline_reason", s(&self.decline_reason)),
            ("autopay_cancel_link", s(&self.autopay_cancel_link)),
            ("update_card_link", s(&self.update_card_link)),
        ];
        Value::from(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<std::collections::BTreeMap<String, Value>>(),
        )
    }
}

/// The first word of a name ("Jane" of "Jane Q. Doe").
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("").to_string()
}

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
fn line_column(source: &str, offset: usize) -> (usize, usize) {
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

fn escape_html(s: &str) -> String {
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

// ---------------------------------------------------------------- SMS segments

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsEncoding {
    Gsm7,
    Ucs2,
}

/// How an SMS is sent: its encoding, its length in that encoding's units
/// (GSM-7 septets, extension characters counting 2; UTF-16 units for UCS-2)
/// and its number of segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SmsSegments {
    pub encoding: SmsEncoding,
    pub units: usize,
    pub segments: usize,
}

const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Counts the segments of an SMS: GSM-7 (160 in one, 153 per part) unless
/// one character is outside it, then UCS-2 (70 in one, 67 per part).
pub fn sms_segments(text: &str) -> SmsSegments {
    let mut septets = 0;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_EXTENSION.contains(c) {
            septets += 2;
        } else if GSM7_BASIC.contains(c) {
            septets += 1;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, part) = if gsm {
        (SmsEncoding::Gsm7, septets, 160, 153)
    } else {
        (SmsEncoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let segments = if units == 0 {
        0
    } else if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    SmsSegments {
        encoding,
        units,
        segments,
    }
}

// ---------------------------------------------------------------- delivery

#[derive(Debug)]
pub enum RenderError {
    /// The template, customer or invoice is not the company's (or is gone).
    NotFound(&'static str),
    Template(TemplateError),
    Store(StoreError),
    /// The invoice's PDF could not be made.
    Attachment(String),
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::NotFound(what) => write!(f, "{what} not found"),
            RenderError::Template(e) => write!(f, "template: {e}"),
            RenderError::Store(e) => write!(f, "{e}"),
            RenderError::Attachment(e) => write!(f, "attachment: {e}"),
        }
    }
}

impl std::error::Error for RenderError {}

impl From<StoreError> for RenderError {
    fn from(e: StoreError) -> Self {
        RenderError::Store(e)
    }
}

impl From<TemplateError> for RenderError {
    fn from(e: TemplateError) -> Self {
        RenderError::Template(e)
    }
}

/// The variables for a customer (and optionally one of its invoices), read
/// now. The payment link is the customer's CURRENT link; when the link is
/// revoked (or was never issued), or the company turned payment links off
/// or points them at the portal, both payment-link variables render the
/// portal link instead.
pub async fn vars_for(
    app: &App,
    company_id: &str,
    customer_id: &str,
    invoice_id: Option<&str>,
) -> Result<MessageVars, RenderError> {
    let db = &app.db;
    let company = companies::get(db, company_id)
        .await?
        .ok_or(RenderError::NotFound("company"))?;
    let customer = customers::get(db, company_id, customer_id)
        .await?
        .ok_or(RenderError::NotFound("customer"))?;
    let invoice = match invoice_id {
        Some(id) => Some(
            invoices::get(db, company_id, id)
                .await?
                .ok_or(RenderError::NotFound("invoice"))?,
        ),
        None => None,
    };
    let balance = customers::open_balance(db, company_id, customer_id).await?;
    let base = app.base_url(company.base_url.as_deref()).to_string();
    let portal_link = format!("{base}/portal");
    let settings = companies::invoice_settings(db, company_id).await?;
    let links_public = settings
        .map(|s| s.payment_link_enabled && s.payment_link_target != "portal")
        .unwrap_or(true);
    let link =
        crate::paylink::shown(db.reader(), &app.config.secret, company_id, customer_id).await?;
    let (payment_url, autopay_cancel_link) = match link {
        Some(l) if !l.revoked && links_public => {
            let url = crate::paylink::url(&base, &l.token);
            let cancel = format!("{url}/autopay");
            (url, cancel)
        }
        _ => (portal_link.clone(), format!("{portal_link}/cards")),
    };
    let update_card_link = format!("{portal_link}/cards");
    let money = |minor: i64, currency| Money::new(minor, currency).format();
    Ok(MessageVars {
        payment_url,
        portal_link,
        customer_first_name: first_name(&customer.name),
        customer_name: customer.name,
        customer_balance: money(balance, company.currency),
        company_name: company.name,
        company_phone: company.phone,
        invoice_number: invoice
            .as_ref()
            .map(|i| i.number.clone())
            .unwrap_or_default(),
        invoice_date: invoice
            .as_ref()
            .map(|i| crate::dates::display(i.issue_date))
            .unwrap_or_default(),
        invoice_due_date: invoice
            .as_ref()
            .map(|i| crate::dates::display(i.due_date))
            .unwrap_or_default(),
        invoice_total: invoice
            .as_ref()
            .map(|i| money(i.total, i.currency))
            .unwrap_or_default(),
        invoice_balance: invoice
            .as_ref()
            .map(|i| money(i.balance, i.currency))
            .unwrap_or_default(),
        payment_amount: String::new(),
        autopay_cancel_link,
        update_card_link,
        ..MessageVars::default()
    })
}

/// Renders a stored template for a customer (and invoice) with the data as
/// it is now.
pub async fn render_for(
    app: &App,
    company_id: &str,
    channel: Channel,
    template_id: &str,
    customer_id: &str,
    invoice_id: Option<&str>,
) -> Result<Rendered, RenderError> {
    render_for_cause(
        app,
        company_id,
        channel,
        template_id,
        customer_id,
        invoice_id,
        "",
    )
    .await
}

/// `render_for` for an outbox message: a receipt's cause (`receipt:{payment
/// id}`) also fills `payment_amount`, `autopay_amount` and the card; autopay
/// causes (`autopay_notice:…`, `autopay_declined:…`, `card_expiring:…`) fill
/// the card, the amount, the date and the decline reason
/// (`crate::autopay::vars_for_cause`). What the worker calls at delivery time.
pub async fn render_for_cause(
    app: &App,
    company_id: &str,
    channel: Channel,
    template_id: &str,
    customer_id: &str,
    invoice_id: Option<&str>,
    cause: &str,
) -> Result<Rendered, RenderError> {
    let mut vars = vars_for(app, company_id, customer_id, invoice_id).await?;
    if let Some(payment_id) = cause.strip_prefix("receipt:") {
        let payment = crate::store::payments::list(
            &app.db,
            company_id,
            Some(customer_id),
            Some(payment_id),
            1,
        )
        .await?
        .pop()
        .ok_or(RenderError::NotFound("payment"))?;
        vars.payment_amount = Money::new(payment.amount, payment.currency).format();
        vars.autopay_amount = vars.payment_amount.clone();
        vars.card_brand = payment.card_brand.unwrap_or_default();
        vars.card_last4 = payment.card_last4.unwrap_or_default();
    } else if let Some(a) = crate::autopay::vars_for_cause(app, company_id, cause).await? {
        vars.card_brand = a.card_brand;
        vars.card_last4 = a.card_last4;
        vars.card_expiry = a.card_expiry;
        vars.autopay_amount = a.autopay_amount;
        vars.autopay_date = a.autopay_date;
        vars.decline_reason = a.decline_reason;
    }
    match channel {
        Channel::Email => {
            let t = templates::get_email(&app.db, company_id, template_id)
                .await?
                .ok_or(RenderError::NotFound("email template"))?;
            let mut rendered = render_email(&t.source(), &vars)?;
            if let (true, Some(invoice_id)) = (t.attach_invoice_pdf, invoice_id) {
                let (number, content) = crate::pdf::invoice_pdf_named(app, company_id, invoice_id)
                    .await
                    .map_err(|e| RenderError::Attachment(e.to_string()))?
                    .ok_or(RenderError::NotFound("invoice"))?;
                rendered.attachments.push(super::Attachment {
                    filename: crate::pdf::invoice_filename(&number),
                    content_type: "application/pdf".to_string(),
                    content,
                });
            }
            Ok(rendered)
        }
        Channel::Sms => {
            let t = templates::get_sms(&app.db, company_id, template_id)
                .await?
                .ok_or(RenderError::NotFound("SMS template"))?;
            Ok(render_sms(&t.body, &vars)?)
        }
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> MessageVars {
        MessageVars {
            payment_url: "https://pay.test/pay/TOKEN".into(),
            ..MessageVars::sample("https://pay.test")
        }
    }

    #[test]
    fn every_variable_renders_in_every_part() {
        let all = VARIABLES
            .iter()
            .map(|v| format!("[{{{{ {v} }}}}]"))
            .collect::<String>();
        for part in [Part::Subject, Part::Html, Part::Text, Part::Sms] {
            validate(&all, part).unwrap();
            let out = render_part(&all, part, &vars()).unwrap();
            assert!(!out.contains("[]"), "{part:?}: {out}");
        }
        let html = render_part("{{ email_payment_link }}", Part::Html, &vars()).unwrap();
        assert_eq!(
            html,
            "<a href=\"https://pay.test/pay/TOKEN\">Click Here to Make Payment</a>"
        );
        let text = render_part("{{ email_payment_link }}", Part::Text, &vars()).unwrap();
        assert_eq!(
            text,
            "Click Here to Make Payment: https://pay.test/pay/TOKEN"
        );
        let sms = render_sms("Pay: {{ sms_payment_link }}", &vars()).unwrap();
        assert_eq!(sms.text, "Pay: https://pay.test/pay/TOKEN");
    }

    #[test]
    fn html_escapes_and_plain_text_does_not() {
        let v = MessageVars {
            customer_name: "<b>x</b> & co".into(),
            ..vars()
        };
        let html = render_part("Hi {{ customer_name }}", Part::Html, &v).unwrap();
        assert_eq!(html, "Hi &lt;b&gt;x&lt;/b&gt; &amp; co");
        let sms = render_sms("Hi {{ customer_name }}", &v).unwrap();
        assert_eq!(sms.text, "Hi <b>x</b> & co");
        let e = render_email(
            &TemplateEmail {
                subject: "For {{ customer_name }}\r\nBcc: a@b.c".into(),
                html_body: "<p>Hi {{ customer_name }}</p>".into(),
                text_body: None,
            },
            &v,
        )
        .unwrap();
        assert_eq!(e.subject, "For <b>x</b> & co Bcc: a@b.c");
        assert_eq!(e.text, "Hi <b>x</b> & co");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let e = validate("Hello\nthere\n  {{ customer_name }\n", Part::Html).unwrap_err();
        match e {
            TemplateError::Syntax { line, column, .. } => {
                assert_eq!(line, 3);
                assert!(column > 1, "{column}");
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("line 3, column "), "{e}");
        assert_eq!(line_column("ab\ncdé", 7), (2, 4));
    }

    #[test]
    fn unknown_variables_are_named() {
        let e = validate("Hi {{ customer_nme }}", Part::Sms).unwrap_err();
        assert_eq!(e, TemplateError::UnknownVariable("customer_nme".into()));
        assert!(e.to_string().contains("customer_nme"));
        // Loop variables and `loop` are fine.
        validate(
            "{% for c in customer_name %}{{ c }}{{ loop.index }}{% endfor %}",
            Part::Sms,
        )
        .unwrap();
    }

    #[test]
    fn includes_imports_extends_and_autoescape_are_refused() {
        for src in [
            "{% include \"x\" %}",
            "{%- include 'x' -%}",
            "{% extends \"base.html\" %}",
            "{% import \"m\" as m %}",
            "{% from \"m\" import x %}",
            "{% autoescape false %}{{ customer_name }}{% endautoescape %}",
        ] {
            let e = validate(src, Part::Html).unwrap_err();
            assert!(matches!(e, TemplateError::Forbidden(_)), "{src}: {e:?}");
            assert!(render_part(src, Part::Html, &vars()).is_err());
        }
    }

    #[test]
    fn filters_are_allow_listed() {
        assert_eq!(
            render_part("{{ customer_name|upper }}", Part::Sms, &vars()).unwrap(),
            "JANE DOE"
        );
        let v = MessageVars {
            customer_name: "<i>".into(),
            ..vars()
        };
        // `safe` is not allowed: user data cannot be unescaped.
        assert!(validate("{{ customer_name|safe }}", Part::Html).is_err());
        assert!(render_part("{{ customer_name|safe }}", Part::Html, &v).is_err());
        assert!(validate("{{ customer_name|tojson }}", Part::Html).is_err());
        let e = validate("{{ customer_name|safe }}", Part::Html).unwrap_err();
        assert!(e.to_string().contains("the filters are: upper"), "{e}");
    }

    #[test]
    fn runaway_loops_stop_by_fuel() {
        let e = validate(
            "{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            Part::Sms,
        )
        .unwrap_err();
        assert_eq!(e, TemplateError::TooExpensive);
        assert!(e.to_string().contains("too much work"));
        let e = validate(
            "{% for i in range(100000000) %}{{ i }}{% endfor %}",
            Part::Html,
        )
        .unwrap_err();
        assert_eq!(e, TemplateError::TooExpensive);
        // Macros (recursion) are not part of the grammar.
        let e = validate("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", Part::Sms).unwrap_err();
        assert_eq!(e, TemplateError::Forbidden("macro".into()));
    }

    #[test]
    fn output_is_limited() {
        let e = validate("{% for i in range(1000) %}xx{% endfor %}", Part::Sms).unwrap_err();
        assert!(matches!(e, TemplateError::TooLong(_)), "{e:?}");
        let e = validate(
            "{% for i in range(1000) %}{% for j in range(10) %}{{ company_name }}{% endfor %}{% endfor %}",
            Part::Html,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            TemplateError::TooLong(_) | TemplateError::TooExpensive
        ));
    }

    #[test]
    fn the_grammar_is_restricted() {
        for (src, refused) in [
            ("{{ customer_name ~ customer_name }}", "`~`"),
            ("{{ customer_name + customer_name }}", "`+`"),
            ("{{ customer_name * 3 }}", "`*`"),
            ("{{ 2 ** 3 }}", "`**`"),
            ("{{ [customer_name] }}", "list"),
            ("{{ {'a': 1} }}", "dict"),
            ("{{ customer_name[0] }}", "subscript"),
            ("{{ (customer_name, customer_name) }}", "tuple"),
            ("{{ customer_name, customer_name }}", "`,`"),
            (
                "{% for x in (customer_name, company_name) %}{% endfor %}",
                "tuple",
            ),
            (
                "{{ customer_name|default((customer_name, customer_name)) }}",
                "tuple",
            ),
            (
                "{% for x in customer_name, company_name %}{% endfor %}",
                "`,`",
            ),
        ] {
            let e = validate(src, Part::Html).unwrap_err();
            assert!(
                matches!(e, TemplateError::Syntax { .. }) && e.to_string().contains(refused),
                "{src}: {e}"
            );
        }
        for (src, tag) in [
            ("{% set x = 1 %}", "set"),
            ("{% set x %}{{ customer_name }}{% endset %}", "set"),
            ("{% with x = 1 %}{% endwith %}", "with"),
            ("{% filter upper %}x{% endfilter %}", "filter"),
            ("{% block b %}{% endblock %}", "block"),
        ] {
            assert_eq!(
                validate(src, Part::Sms).unwrap_err(),
                TemplateError::Forbidden(tag.into()),
                "{src}"
            );
        }
        // `replace` could multiply a value's size: not allowed.
        assert!(validate("{{ customer_name|replace('a', 'bb') }}", Part::Sms).is_err());
        for ok in [
            "{{ customer_name|default('x')|upper }} {{ customer_name|trim|title }}",
            "{% for c in range(3) %}{{ loop.index }}{% if not loop.last %}-{% endif %}{% endfor %}",
            "{% if invoice_number and (customer_name or company_name) %}x{% elif 1 - 1 %}y{% else %}z{% endif %}",
            "{{ 'due' if invoice_due_date else 'now' }} {{ customer_name|length > 3 }}",
            "{% raw %}{{ not ~ parsed }}{% endraw %}",
        ] {
            validate(ok, Part::Html).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        assert_eq!(
            render_part(
                "{% for c in range(3) %}{{ loop.index }}{% endfor %}",
                Part::Sms,
                &vars()
            )
            .unwrap(),
            "123"
        );
    }

    #[test]
    fn attribute_access_renders_nothing_harmful() {
        for src in [
            "{{ customer_name.__class__ }}",
            "{{ customer_name.__class__.__mro__ }}",
            "{{ customer_name['__class__'] }}",
        ] {
            assert!(validate(src, Part::Html).is_err(), "{src}");
            match render_part(src, Part::Html, &vars()) {
                Ok(out) => assert!(out.is_empty(), "{src}: {out}"),
                Err(e) => assert!(!e.to_string().contains("class '"), "{e}"),
            }
        }
    }

    #[test]
    fn text_is_derived_from_html() {
        let html = "<html><head><style>p{color:red}</style></head><body>\
            <h1>Hi &amp; welcome</h1><p>Pay   <a href=\"https://x.test/pay/a?b=1&amp;c=2\">here</a>.</p>\
            <script>alert(1)</script><p>Line<br>two&nbsp;&#8364; &#x41;</p>\
            <p><a href='https://x.test'>https://x.test</a></p><!-- hidden --></body></html>";
        assert_eq!(
            html_to_text(html),
            "Hi & welcome\n\nPay here: https://x.test/pay/a?b=1&c=2.\n\nLine\ntwo € A\n\nhttps://x.test"
        );
        assert_eq!(decode_entities("a &bogus; & b &lt;"), "a &bogus; & b <");
        assert_eq!(html_to_text("plain   text"), "plain text");
    }

    #[test]
    fn sms_segments_count_gsm7_and_ucs2() {
        let s = |t: &str| sms_segments(t);
        assert_eq!(s("").segments, 0);
        assert_eq!(s(&"a".repeat(160)).segments, 1);
        assert_eq!(s(&"a".repeat(161)).segments, 2);
        assert_eq!(s(&"a".repeat(306)).segments, 2);
        assert_eq!(s(&"a".repeat(307)).segments, 3);
        let euro = s("€");
        assert_eq!((euro.encoding, euro.units), (SmsEncoding::Gsm7, 2));
        assert_eq!(s(&format!("{}€", "a".repeat(158))).segments, 1);
        assert_eq!(s(&format!("{}€", "a".repeat(159))).segments, 2);
        let one_emoji = format!("{}😀", "a".repeat(68));
        let e = s(&one_emoji);
        assert_eq!(
            (e.encoding, e.units, e.segments),
            (SmsEncoding::Ucs2, 70, 1)
        );
        assert_eq!(s(&format!("{}😀", "a".repeat(69))).segments, 2);
        assert_eq!(s(&"é".repeat(70)).encoding, SmsEncoding::Gsm7);
        let ucs = s(&"ж".repeat(70));
        assert_eq!((ucs.encoding, ucs.segments), (SmsEncoding::Ucs2, 1));
        assert_eq!(s(&"ж".repeat(71)).segments, 2);
        assert_eq!(s(&"ж".repeat(134)).segments, 2);
        assert_eq!(s(&"ж".repeat(135)).segments, 3);
    }

    #[test]
    fn every_variable_has_help() {
        let named: Vec<&str> = VARIABLE_HELP.iter().map(|(v, _)| *v).collect();
        assert_eq!(named, VARIABLES);
    }

    #[test]
    fn first_name_is_the_first_word() {
        assert_eq!(first_name("  Jane Q. Doe"), "Jane");
        assert_eq!(first_name(""), "");
    }
}
