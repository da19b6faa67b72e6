//! The message files' patterns, read once per language into a form that
//! puts a message together by appending its text and values, without
//! Fluent's resolver (its argument maps, hashing and scope on every
//! message). Only what Fluent would write the same way is compiled: text,
//! `{ $value }`, and `{ $value -> [one] … *[other] … }`; any other message
//! is left to Fluent, as is a message missing a value it needs. A test
//! compares the two on every message of both languages.

use std::collections::HashMap;
use std::sync::LazyLock;

use fluent_syntax::ast;
use fluent_templates::fluent_bundle::types::FluentNumber;
use intl_pluralrules::{PluralCategory, PluralRuleType, PluralRules};
use rustc_hash::FxBuildHasher;

use super::{Arg, Lang};

/// The message files that `LOCALES` loads, per language (a test keeps the
/// list the same as the folders' files).
pub(super) const SOURCES: [(Lang, &str, &str); 8] = [
    (
        Lang::En,
        "common.ftl",
        include_str!("../../../locales/en/common.ftl"),
    ),
    (
        Lang::En,
        "pay.ftl",
        include_str!("../../../locales/en/pay.ftl"),
    ),
    (
        Lang::En,
        "pdf.ftl",
        include_str!("../../../locales/en/pdf.ftl"),
    ),
    (
        Lang::En,
        "portal.ftl",
        include_str!("../../../locales/en/portal.ftl"),
    ),
    (
        Lang::Es,
        "common.ftl",
        include_str!("../../../locales/es/common.ftl"),
    ),
    (
        Lang::Es,
        "pay.ftl",
        include_str!("../../../locales/es/pay.ftl"),
    ),
    (
        Lang::Es,
        "pdf.ftl",
        include_str!("../../../locales/es/pdf.ftl"),
    ),
    (
        Lang::Es,
        "portal.ftl",
        include_str!("../../../locales/es/portal.ftl"),
    ),
];

/// Fluent stops resolving a message after this many placeables.
const MAX_PLACEABLES: usize = 100;

enum Part {
    Text(&'static str),
    Value(&'static str),
    /// A choice by a value: a number by its plural category, text by name.
    Select {
        value: &'static str,
        variants: Vec<(&'static str, Vec<Part>)>,
        default: usize,
    },
}

struct Words {
    /// By message id; `None` for a message that is Fluent's to format.
    /// FxHash: the ids are ours (templates and code), looked up on every
    /// message a page shows.
    messages: HashMap<&'static str, Option<Vec<Part>>, FxBuildHasher>,
    plurals: PluralRules,
}

static WORDS: LazyLock<[Words; Lang::ALL.len()]> = LazyLock::new(|| Lang::ALL.map(compile));

fn compile(lang: Lang) -> Words {
    let mut messages = HashMap::default();
    for (_, _, source) in SOURCES.iter().filter(|(l, _, _)| *l == lang) {
        // The same parse Fluent's resources make; a file that does not
        // parse is compiled by nobody (Fluent's loader refuses it too).
        let Ok(resource) = fluent_syntax::parser::parse_runtime(*source) else {
            continue;
        };
        for entry in resource.body {
            if let ast::Entry::Message(m) = entry {
                // The first definition wins, as in a Fluent bundle.
                messages.entry(m.id.name).or_insert_with(|| {
                    m.value.as_ref().and_then(|p| {
                        let mut count = 0;
                        pattern(p, &mut count).filter(|_| count <= MAX_PLACEABLES)
                    })
                });
            }
        }
    }
    Words {
        messages,
        plurals: PluralRules::create(lang.id().clone(), PluralRuleType::CARDINAL)
            .expect("plural rules for our languages"),
    }
}

fn pattern(p: &ast::Pattern<&'static str>, placeables: &mut usize) -> Option<Vec<Part>> {
    p.elements
        .iter()
        .map(|e| match e {
            ast::PatternElement::TextElement { value } => Some(Part::Text(value)),
            ast::PatternElement::Placeable { expression } => {
                *placeables += 1;
                expression_part(expression, placeables)
            }
        })
        .collect()
}

fn expression_part(e: &ast::Expression<&'static str>, placeables: &mut usize) -> Option<Part> {
    match e {
        ast::Expression::Inline(ast::InlineExpression::VariableReference { id }) => {
            Some(Part::Value(id.name))
        }
        ast::Expression::Select {
            selector: ast::InlineExpression::VariableReference { id },
            variants,
        } => {
            let mut out = Vec::with_capacity(variants.len());
            for v in variants {
                // Number keys compare as Fluent's numbers do: not compiled.
                let ast::VariantKey::Identifier { name } = v.key else {
                    return None;
                };
                out.push((name, pattern(&v.value, placeables)?));
            }
            Some(Part::Select {
                value: id.name,
                default: variants.iter().position(|v| v.default)?,
                variants: out,
            })
        }
        _ => None,
    }
}

/// The message `key` in `lang` with its values, when it is compiled and
/// every value it reads is given; else `None` (Fluent's to say).
pub(super) fn format(lang: Lang, key: &str, args: &[(&str, Arg)]) -> Option<String> {
    let words = &WORDS[lang as usize];
    let parts = words.messages.get(key)?.as_ref()?;
    // Most of the pages' messages fit, so the text is seldom copied again.
    let mut out = String::with_capacity(96);
    write(&mut out, parts, args, &words.plurals)?;
    Some(out)
}

fn write(
    out: &mut String,
    parts: &[Part],
    args: &[(&str, Arg)],
    plurals: &PluralRules,
) -> Option<()> {
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Value(name) => match value(args, name)? {
                Arg::Text(s) => out.push_str(s),
                Arg::Number(n) => out.push_str(&FluentNumber::from(*n).as_string()),
            },
            Part::Select {
                value: name,
                variants,
                default,
            } => {
                let chosen = match value(args, name)? {
                    Arg::Text(s) => variants.iter().find(|(key, _)| key == s),
                    Arg::Number(n) => {
                        let category = plurals.select(&FluentNumber::from(*n)).ok();
                        variants
                            .iter()
                            .find(|(key, _)| category.is_some() && plural(key) == category)
                    }
                };
                let (_, parts) = chosen.or(variants.get(*default))?;
                write(out, parts, args, plurals)?;
            }
        }
    }
    Some(())
}

/// The ids of `lang`'s compiled messages that are text alone, without
/// values: each reads the same wherever it is shown.
pub(super) fn fixed_ids(lang: Lang) -> Vec<&'static str> {
    WORDS[lang as usize]
        .messages
        .iter()
        .filter(|(_, parts)| {
            parts
                .as_ref()
                .is_some_and(|p| p.iter().all(|part| matches!(part, Part::Text(_))))
        })
        .map(|(id, _)| *id)
        .collect()
}

/// The value `name`; the last one given wins, as in the map Fluent gets.
fn value<'a>(args: &'a [(&str, Arg)], name: &str) -> Option<&'a Arg> {
    args.iter().rev().find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn plural(key: &str) -> Option<PluralCategory> {
    Some(match key {
        "zero" => PluralCategory::ZERO,
        "one" => PluralCategory::ONE,
        "two" => PluralCategory::TWO,
        "few" => PluralCategory::FEW,
        "many" => PluralCategory::MANY,
        "other" => PluralCategory::OTHER,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_are_the_message_files() {
        let mut listed: Vec<String> = SOURCES
            .iter()
            .map(|(lang, file, _)| format!("{}/{file}", lang.code()))
            .collect();
        listed.sort();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        let mut files = Vec::new();
        for lang in std::fs::read_dir(&dir).unwrap() {
            let lang = lang.unwrap();
            for f in std::fs::read_dir(lang.path()).unwrap() {
                files.push(format!(
                    "{}/{}",
                    lang.file_name().to_string_lossy(),
                    f.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        files.sort();
        assert_eq!(listed, files);
    }

    /// Every message, with every value it could read as text and as each
    /// of a range of numbers, reads the same compiled as through Fluent.
    #[test]
    fn compiled_messages_read_as_fluent_writes_them() {
        let mut compared = 0;
        for lang in Lang::ALL {
            let words = &WORDS[lang as usize];
            for (key, parts) in &words.messages {
                assert!(parts.is_some(), "{key} in {lang} is not compiled");
                let names = names(parts.as_deref().unwrap_or_default());
                let texts: Vec<(&str, Arg)> = names
                    .iter()
                    .map(|n| (*n, Arg::Text(format!("<{n} & é>"))))
                    .collect();
                let mut cases = vec![texts.clone(), Vec::new()];
                for n in [0i64, 1, 2, 3, 5, 11, 21, 100, 1_000_000, -1, i64::MAX] {
                    cases.push(names.iter().map(|name| (*name, Arg::Number(n))).collect());
                }
                if let Some((first, rest)) = texts.split_first() {
                    // One value missing.
                    cases.push(rest.to_vec());
                    // Given twice: the last wins.
                    let mut twice = texts.clone();
                    twice.push((first.0, Arg::Text("again".into())));
                    cases.push(twice);
                    // A choice made by text.
                    let mut other = texts.clone();
                    other.push((first.0, Arg::Text("one".into())));
                    cases.push(other);
                }
                for args in cases {
                    let fast = format(lang, key, &args);
                    let map: HashMap<&str, super::super::FluentValue<'_>> = args
                        .iter()
                        .map(|(n, v)| {
                            let v = match v {
                                Arg::Text(s) => super::super::FluentValue::from(s.as_str()),
                                Arg::Number(n) => super::super::FluentValue::from(*n),
                            };
                            (*n, v)
                        })
                        .collect();
                    let fluent = super::super::LOCALES
                        .lookup_single_language(lang.id(), key, Some(&map))
                        .ok();
                    if fast.is_some() {
                        assert_eq!(fast, fluent, "{key} in {lang} with {args:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 500, "{compared} compared");
    }

    fn names(parts: &[Part]) -> Vec<&'static str> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Part::Text(_) => {}
                Part::Value(n) => out.push(*n),
                Part::Select {
                    value, variants, ..
                } => {
                    out.push(*value);
                    for (_, v) in variants {
                        out.extend(names(v));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}
