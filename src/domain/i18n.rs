//! The words customers read, in English and Spanish: lookups in the Project
//! Fluent message files under `locales/` (compiled in), with the library's
//! plural rules, and dates and money written the way each language writes
//! them. The office stays English; everything a customer reads goes through
//! here.

use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_templates::LanguageIdentifier;
use fluent_templates::fluent_bundle::FluentValue;
use serde::{Deserialize, Serialize};
use time::Date;

use crate::domain::money::Money;

mod patterns;

fluent_templates::static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Plain text in pages, PDFs and messages: no Unicode isolation marks
        // around the values put into a message.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language a customer can read fieldpay in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    En,
    Es,
}

static EN: LazyLock<LanguageIdentifier> = LazyLock::new(|| "en".parse().expect("en"));
static ES: LazyLock<LanguageIdentifier> = LazyLock::new(|| "es".parse().expect("es"));

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Es];

    /// The code stored and sent: `en`, `es`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Es => "es",
        }
    }

    /// The language's name in itself, as a language switch shows it.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::Es => "Español",
        }
    }

    /// `en`, `es`, or a tag of either (`es-MX`, `EN_us`); anything else is `None`.
    pub fn parse(code: &str) -> Option<Lang> {
        // The codes themselves, as pages pass them on every message.
        match code {
            "en" => return Some(Lang::En),
            "es" => return Some(Lang::Es),
            _ => {}
        }
        let primary = code.trim().split(['-', '_']).next().unwrap_or("");
        Lang::ALL
            .into_iter()
            .find(|l| primary.eq_ignore_ascii_case(l.code()))
    }

    /// The language a browser's `Accept-Language` prefers most among those
    /// fieldpay speaks (by `q` weight, then order); `None` when it names none.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                .unwrap_or(1.0);
            let Some(lang) = Lang::parse(tag) else {
                continue;
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }

    fn id(self) -> &'static LanguageIdentifier {
        match self {
            Lang::En => &EN,
            Lang::Es => &ES,
        }
    }
}

/// In the API's schema: `"en"` or `"es"`.
impl utoipa::PartialSchema for Lang {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A language customers read: `en` (English) or `es` (Spanish).",
            ))
            .enum_values(Some(Lang::ALL.iter().map(|l| l.code())))
            .into()
    }
}

impl utoipa::ToSchema for Lang {}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A value put into a message: text as it is, or a number (which picks the
/// plural form).
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Number(i64),
}

impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(v.to_string())
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(v)
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(v.clone())
    }
}
impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Number(v)
    }
}
impl From<usize> for Arg {
    fn from(v: usize) -> Arg {
        Arg::Number(v as i64)
    }
}

/// The message `key` in `lang`, without values.
pub fn t(lang: Lang, key: &str) -> String {
    tr(lang, key, &[])
}

/// The message `key` in `lang` with its values. A key missing from `lang`
/// falls back to English, then to the key itself (a test keeps both files
/// complete, so neither happens in practice).
pub fn tr(lang: Lang, key: &str, args: &[(&str, Arg)]) -> String {
    lookup(lang, key, args).unwrap_or_else(|| key.to_string())
}

/// The message `key` in `lang` (else in English) with its values, or
/// `None` when neither language can say it.
pub fn lookup(lang: Lang, key: &str, args: &[(&str, Arg)]) -> Option<String> {
    if let Some(text) = patterns::format(lang, key, args) {
        return Some(text);
    }
    let map: HashMap<&str, FluentValue<'_>> = args
        .iter()
        .map(|(name, value)| {
            let v = match value {
                Arg::Text(s) => FluentValue::from(s.as_str()),
                Arg::Number(n) => FluentValue::from(*n),
            };
            (*name, v)
        })
        .collect();
    format_in(lang, key, (!map.is_empty()).then_some(&map))
}

/// Formats `key` in `lang`, else in English. Our languages are exactly the
/// bundles' (`locales/en`, `locales/es`), so no negotiation is needed.
fn format_in<S: AsRef<str>>(
    lang: Lang,
    key: &str,
    args: Option<&HashMap<S, FluentValue<'_>>>,
) -> Option<String> {
    LOCALES
        .lookup_single_language(lang.id(), key, args)
        .ok()
        .or_else(|| match lang {
            Lang::En => None,
            _ => LOCALES
                .lookup_single_language(Lang::En.id(), key, args)
                .ok(),
        })
}

/// `lang`'s messages that take no values, each with its text (as
/// [`lookup`] writes it without values): the same on every page of the
/// language, so a page's renderer may make them once.
pub fn fixed_messages(lang: Lang) -> Vec<(&'static str, String)> {
    patterns::fixed_ids(lang)
        .into_iter()
        .filter_map(|id| Some((id, lookup(lang, id, &[])?)))
        .collect()
}

/// Whether `key` exists in `lang`'s files (no fallback).
pub fn has(lang: Lang, key: &str) -> bool {
    match LOCALES.lookup_single_language::<&str>(lang.id(), key, None) {
        Ok(_) => true,
        // Found, but it wants values this lookup did not give.
        Err(e) => format!("{e:?}").starts_with("FluentError"),
    }
}

/// Month names, short and long, of each language (in `Lang::ALL`'s
/// order): the same on every page, so written once rather than looked up
/// by a formatted key for every date (a pay page shows two an invoice).
static MONTHS: LazyLock<[[[String; 12]; 2]; Lang::ALL.len()]> = LazyLock::new(|| {
    Lang::ALL.map(|lang| {
        ["short", "long"]
            .map(|form| std::array::from_fn(|i| t(lang, &format!("month-{form}-{}", i + 1))))
    })
});

fn month(lang: Lang, date: Date, form: &str) -> String {
    let form = usize::from(form == "long");
    MONTHS[lang as usize][form][usize::from(u8::from(date.month())) - 1].clone()
}

fn date_args(lang: Lang, date: Date, form: &str) -> [(&'static str, Arg); 3] {
    [
        ("day", Arg::Text(date.day().to_string())),
        ("month", Arg::Text(month(lang, date, form))),
        ("year", Arg::Text(date.year().to_string())),
    ]
}

/// "December 6, 2026" / "6 de diciembre de 2026".
pub fn date_long(lang: Lang, date: Date) -> String {
    tr(lang, "date-long", &date_args(lang, date, "long"))
}

/// "Dec 6, 2026" / "6 dic 2026".
pub fn date(lang: Lang, date: Date) -> String {
    tr(lang, "date-short", &date_args(lang, date, "short"))
}

/// "Dec 31" / "31 dic" within `today`'s year, else as [`date`].
pub fn date_near(lang: Lang, d: Date, today: Date) -> String {
    if d.year() == today.year() {
        tr(lang, "date-short-no-year", &date_args(lang, d, "short"))
    } else {
        date(lang, d)
    }
}

/// An instant in a company's zone: "Nov 28, 2026, 4:31 PM CST" /
/// "28 nov 2026, 16:31 CST".
pub fn instant(lang: Lang, at: time::OffsetDateTime, time_zone: &str) -> String {
    let tz = jiff::tz::TimeZone::get(time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let Ok(ts) = jiff::Timestamp::from_second(at.unix_timestamp()) else {
        return String::new();
    };
    let zoned = ts.to_zoned_datetime(tz);
    let day = crate::domain::dates::parse(&zoned.strftime("%Y-%m-%d").to_string());
    let Some(day) = day else {
        return String::new();
    };
    let time = match lang {
        Lang::En => zoned.strftime("%-I:%M %p %Z").to_string(),
        Lang::Es => zoned.strftime("%H:%M %Z").to_string(),
    };
    tr(
        lang,
        "date-time",
        &[
            ("date", Arg::Text(date(lang, day))),
            ("time", Arg::Text(time)),
        ],
    )
}

/// Money as customers in the US read it in either language: "$1,234.56"
/// (es-US writes amounts as en-US does).
pub fn money(_lang: Lang, amount: Money) -> String {
    amount.format()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Currency;
    use std::collections::BTreeSet;
    use time::macros::date;

    #[test]
    fn the_english_words_of_messages_are_the_ones_the_product_names() {
        use crate::domain::processor::{TEST_MODE_BANNER, TEST_MODE_SMS};
        assert_eq!(t(Lang::En, "message-test-mode"), TEST_MODE_BANNER);
        assert_eq!(t(Lang::En, "message-test-mode-sms"), TEST_MODE_SMS);
        assert_eq!(
            t(Lang::En, "message-pay-link"),
            "Click Here to Make Payment"
        );
        assert_eq!(t(Lang::Es, "message-pay-link"), "Haga clic aquí para pagar");
    }

    /// Every message id (and term) in one language's files, read straight
    /// from the files with Fluent's own parser.
    fn keys(lang: &str) -> BTreeSet<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("locales")
            .join(lang);
        let mut out = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let resource = fluent_templates::fluent_bundle::FluentResource::try_new(text)
                .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", path.display()));
            for entry in resource.entries() {
                match entry {
                    fluent_syntax::ast::Entry::Message(m) => {
                        assert!(
                            out.insert(m.id.name.to_string()),
                            "{} twice in {lang}",
                            m.id.name
                        );
                    }
                    fluent_syntax::ast::Entry::Term(t) => {
                        out.insert(format!("-{}", t.id.name));
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// The two sets' difference, named: what one language has and the other lacks.
    fn missing(a: &BTreeSet<String>, b: &BTreeSet<String>) -> Vec<String> {
        a.difference(b).cloned().collect()
    }

    #[test]
    fn every_key_is_in_both_languages() {
        let en = keys("en");
        let es = keys("es");
        assert!(
            en.len() > 100,
            "the English files hold the customer's words"
        );
        assert_eq!(
            missing(&en, &es),
            Vec::<String>::new(),
            "in English, not in Spanish"
        );
        assert_eq!(
            missing(&es, &en),
            Vec::<String>::new(),
            "in Spanish, not in English"
        );
    }

    /// Pages put the messages into HTML as they are (only the values are
    /// escaped): no message may carry markup or a straight quote.
    #[test]
    fn messages_hold_no_markup() {
        for lang in ["en", "es"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("locales")
                .join(lang);
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    if line.starts_with('#') {
                        continue;
                    }
                    assert!(
                        !line.replace("->", "").contains(['<', '>', '"', '&']),
                        "{}: {line}",
                        path.display()
                    );
                }
            }
        }
    }

    #[test]
    fn the_comparison_names_a_missing_key() {
        let en: BTreeSet<String> = ["pay-title".to_string(), "pay-total".to_string()].into();
        let es: BTreeSet<String> = ["pay-title".to_string()].into();
        assert_eq!(missing(&en, &es), vec!["pay-total".to_string()]);
    }

    #[test]
    fn every_message_resolves_in_both_languages() {
        for key in keys("en").iter().filter(|k| !k.starts_with('-')) {
            assert!(has(Lang::En, key), "{key} in English");
            assert!(has(Lang::Es, key), "{key} in Spanish");
        }
    }

    #[test]
    fn languages_parse_and_negotiate() {
        assert_eq!(Lang::parse("es"), Some(Lang::Es));
        assert_eq!(Lang::parse("es-MX"), Some(Lang::Es));
        assert_eq!(Lang::parse("EN_us"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
        assert_eq!(Lang::parse(""), None);
        assert_eq!(
            Lang::from_accept_language("es-US,es;q=0.9,en;q=0.8"),
            Some(Lang::Es)
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, en;q=0.5, es;q=0.7"),
            Some(Lang::Es)
        );
        assert_eq!(Lang::from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("de, fr;q=0.8"), None);
        assert_eq!(
            Lang::from_accept_language("es;q=0, en;q=0.1"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language(""), None);
    }

    #[test]
    fn dates_in_each_language() {
        let d = date!(2026 - 12 - 06);
        assert_eq!(date_long(Lang::En, d), "December 6, 2026");
        assert_eq!(date_long(Lang::Es, d), "6 de diciembre de 2026");
        assert_eq!(date(Lang::En, d), "Dec 6, 2026");
        assert_eq!(date(Lang::Es, d), "6 dic 2026");
        assert_eq!(date_near(Lang::Es, date!(2026 - 12 - 31), d), "31 dic");
        assert_eq!(date_near(Lang::En, date!(2027 - 01 - 05), d), "Jan 5, 2027");
        let at = time::macros::datetime!(2026-11-28 22:31 UTC);
        assert_eq!(
            instant(Lang::En, at, "America/Chicago"),
            "Nov 28, 2026, 4:31 PM CST"
        );
        assert_eq!(
            instant(Lang::Es, at, "America/Chicago"),
            "28 nov 2026, 16:31 CST"
        );
    }

    #[test]
    fn money_reads_the_same_in_en_us_and_es_us() {
        let m = Money::new(123456, Currency::USD);
        assert_eq!(money(Lang::En, m), "$1,234.56");
        assert_eq!(money(Lang::Es, m), "$1,234.56");
    }

    #[test]
    fn plurals_come_from_the_library() {
        let one = tr(
            Lang::Es,
            "pay-overdue",
            &[("days", 1i64.into()), ("date", "1 dic 2026".into())],
        );
        let many = tr(
            Lang::Es,
            "pay-overdue",
            &[("days", 3i64.into()), ("date", "1 dic 2026".into())],
        );
        assert_eq!(one, "Vencida hace 1 día (vencía el 1 dic 2026)");
        assert_eq!(many, "Vencida hace 3 días (vencía el 1 dic 2026)");
        let en = tr(
            Lang::En,
            "pay-overdue",
            &[("days", 1i64.into()), ("date", "Dec 1, 2026".into())],
        );
        assert_eq!(en, "Overdue by 1 day (was due Dec 1, 2026)");
    }

    #[test]
    fn a_missing_key_falls_back_to_its_name() {
        assert_eq!(t(Lang::Es, "no-such-key"), "no-such-key");
    }
}
