//! The shape of the code, as the design sets it: each module imports only
//! the layers below it, and SQL lives in `src/store/` alone.
//!
//! ```text
//! 4  web/, jobs.rs, demo.rs, cli.rs, main.rs,   faces: translate HTTP/CLI
//!    lib.rs
//! 3  app/                                        the use cases, and App
//! 2  processor/, messaging/, pdf/, metrics.rs,   adapters to the outside:
//!    config.rs                                   plain data, not App
//! 1  store/                                      all SQL
//! 0  domain/, crypto.rs, auth.rs,                pure types and rules
//!    private_files.rs
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layer of a file under `src/`, by its first path component.
fn layer(relative: &str) -> Option<u8> {
    let top = relative.split('/').next()?.trim_end_matches(".rs");
    Some(match top {
        "domain" | "crypto" | "auth" | "private_files" => 0,
        "store" => 1,
        "processor" | "messaging" | "pdf" | "metrics" | "config" => 2,
        "app" => 3,
        "web" | "jobs" | "demo" | "cli" | "main" | "lib" => 4,
        _ => return None,
    })
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every file under `src/` with its path relative to it and its text
/// without comments.
fn files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    sources(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let relative = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let code: String = text
                .lines()
                .map(|l| match l.find("//") {
                    // A `//` inside a string (a URL) is code; a comment
                    // starts a line or follows code with a space.
                    Some(i) if l[..i].trim().is_empty() || l[..i].ends_with(' ') => &l[..i],
                    _ => l,
                })
                .collect::<Vec<_>>()
                .join("\n");
            (relative, code)
        })
        .collect()
}

/// The modules of the crate a file names: `crate::x`, `crate::{x, y}`.
fn crate_references(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                found.push(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found
}

#[test]
fn every_module_imports_only_the_layers_below_it() {
    let mut upward: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut unplaced = Vec::new();
    for (path, code) in files() {
        let Some(own) = layer(&path) else {
            unplaced.push(path);
            continue;
        };
        for name in crate_references(&code) {
            if let Some(theirs) = layer(&format!("{name}.rs"))
                && theirs > own
            {
                upward.entry(path.clone()).or_default().push(name);
            }
        }
    }
    assert!(
        unplaced.is_empty(),
        "files in no layer (place them in the table above): {unplaced:?}"
    );
    assert!(
        upward.is_empty(),
        "modules importing a layer above their own: {upward:#?}"
    );
}

#[test]
fn the_check_sees_an_upward_import() {
    assert_eq!(
        crate_references("use crate::{app::App, store};\nlet x = crate::web::router;"),
        ["app", "store", "web"]
    );
    assert_eq!(layer("store/payments.rs"), Some(1));
    assert_eq!(layer("web/office/mod.rs"), Some(4));
}

/// Whether a line starts a SQL statement inside a string literal.
fn sql_in(code: &str) -> Vec<String> {
    const STARTS: [&str; 5] = [
        "SELECT ",
        "INSERT INTO ",
        "UPDATE ",
        "DELETE FROM ",
        "WITH ",
    ];
    code.lines()
        .filter(|line| {
            line.split('"').skip(1).step_by(2).any(|literal| {
                let l = literal.trim_start();
                STARTS.iter().any(|s| l.starts_with(s))
                    && (!l.starts_with("UPDATE ") || l.contains(" SET "))
            })
        })
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn sql_lives_in_the_store() {
    let mut outside: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, code) in files() {
        // The sandbox processor is an outside system with a database of
        // its own.
        if path.starts_with("store/") || path == "processor/sandbox.rs" {
            continue;
        }
        let found = sql_in(&code);
        if !found.is_empty() {
            outside.insert(path, found);
        }
    }
    assert!(outside.is_empty(), "SQL outside src/store/: {outside:#?}");
    assert_eq!(
        sql_in(r#"query("SELECT id FROM invoices WHERE x = $1")"#).len(),
        1
    );
    assert!(sql_in(r#"let s = "Select an invoice";"#).is_empty());
}

#[test]
fn no_source_file_is_far_over_800_lines() {
    let long: Vec<(String, usize)> = files()
        .into_iter()
        .map(|(path, code)| (path, code.lines().count()))
        .filter(|(_, n)| *n > LIMIT)
        .collect();
    assert!(long.is_empty(), "split these by concept: {long:?}");
}

/// About 800 lines: a file past it holds two concepts.
const LIMIT: usize = 850;
