//! Migrations: written once for SQLite (`migrations/sqlite`); PostgreSQL
//! runs the same text with its type names (`postgres_text`), or an override
//! in `migrations/postgres` where the dialects really differ (a function
//! SQLite has built in; a statement that reads SQLite's rowid). A test
//! checks that both databases end with the same schema.

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use super::Backend;

pub struct Source {
    pub version: i64,
    pub description: &'static str,
    pub sqlite: &'static str,
    /// Where PostgreSQL's text is not the translation of SQLite's.
    pub postgres_override: Option<&'static str>,
}

macro_rules! migration {
    ($version:expr, $description:expr, $file:expr) => {
        Source {
            version: $version,
            description: $description,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file, ".sql")),
            postgres_override: None,
        }
    };
    ($version:expr, $description:expr, $file:expr, postgres = $pg:expr) => {
        Source {
            version: $version,
            description: $description,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $file, ".sql")),
            postgres_override: Some(include_str!(concat!(
                "../../migrations/postgres/",
                $pg,
                ".sql"
            ))),
        }
    };
}

/// Every migration, in order. A new one is a file in `migrations/sqlite`
/// and a line here.
pub const MIGRATIONS: &[Source] = &[
    migration!(1, "init", "0001_init", postgres = "0001_init"),
    migration!(2, "office_portal", "0002_office_portal"),
    migration!(3, "customers", "0003_customers"),
    migration!(4, "invoices", "0004_invoices"),
    migration!(5, "office_payments", "0005_office_payments"),
    migration!(6, "settings", "0006_settings"),
    migration!(7, "portal", "0007_portal"),
    migration!(8, "import", "0008_import"),
    migration!(9, "templates", "0009_templates"),
    migration!(10, "outbox", "0010_outbox"),
    migration!(11, "alerts", "0011_alerts"),
    migration!(12, "pdf", "0012_pdf"),
    migration!(13, "autopay", "0013_autopay"),
    migration!(14, "stripe", "0014_stripe"),
    migration!(15, "attachments", "0015_attachments"),
    migration!(16, "ops", "0016_ops"),
    migration!(
        17,
        "allocation_order",
        "0017_allocation_order",
        postgres = "0017_allocation_order"
    ),
    migration!(18, "country", "0018_country"),
    migration!(19, "attempt_processor", "0019_attempt_processor"),
    migration!(
        20,
        "fixed_width_instants",
        "0020_fixed_width_instants",
        postgres = "0020_fixed_width_instants"
    ),
    migration!(21, "refund_states", "0021_refund_states"),
    migration!(22, "template_defaults", "0022_template_defaults"),
    migration!(23, "webhooks", "0023_webhooks"),
    migration!(24, "collections_funnel", "0024_collections_funnel"),
    migration!(25, "message_notes", "0025_message_notes"),
    migration!(26, "languages", "0026_languages"),
    migration!(27, "template_translations", "0027_template_translations"),
    migration!(
        28,
        "outbox_keys",
        "0028_outbox_keys",
        postgres = "0028_outbox_keys"
    ),
    migration!(
        29,
        "check_lists",
        "0029_check_lists",
        postgres = "0029_check_lists"
    ),
    migration!(30, "open_invoice_indexes", "0030_open_invoice_indexes"),
    migration!(31, "office_key_index", "0031_office_key_index"),
];

/// SQLite's column types as PostgreSQL names them: `INTEGER` is `BIGINT`
/// (64 bits, as SQLite's), `TIMESTAMP` is `TIMESTAMPTZ` (the store binds UTC
/// instants), `BLOB` is `BYTEA`. Whole words only.
pub fn postgres_text(sqlite: &str) -> String {
    let mut out = String::with_capacity(sqlite.len() + 64);
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        out.push_str(match word.as_str() {
            "TIMESTAMP" => "TIMESTAMPTZ",
            "INTEGER" => "BIGINT",
            "BLOB" => "BYTEA",
            w => w,
        });
        word.clear();
    };
    for c in sqlite.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The text a migration runs on a database.
pub fn text(m: &Source, backend: Backend) -> Cow<'static, str> {
    match (backend, m.postgres_override) {
        (Backend::Sqlite, _) => Cow::Borrowed(m.sqlite),
        (Backend::Postgres, Some(text)) => Cow::Borrowed(text),
        (Backend::Postgres, None) => Cow::Owned(postgres_text(m.sqlite)),
    }
}

pub fn migrator(backend: Backend) -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|m| {
            let sql = match text(m, backend) {
                Cow::Borrowed(s) => s.into_sql_str(),
                Cow::Owned(s) => sqlx::AssertSqlSafe(s).into_sql_str(),
            };
            Migration::new(
                m.version,
                Cow::Borrowed(m.description),
                MigrationType::Simple,
                sql,
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The newest migration this binary knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_renamed_as_whole_words() {
        assert_eq!(
            postgres_text("a INTEGER NOT NULL, b TIMESTAMP, c BLOB, d INTEGERS, e my_TIMESTAMP"),
            "a BIGINT NOT NULL, b TIMESTAMPTZ, c BYTEA, d INTEGERS, e my_TIMESTAMP"
        );
    }

    #[test]
    fn versions_are_in_order_and_named_by_their_files() {
        // Strictly increasing; a branch's migration may sit at a number of
        // its own (0030) until it is merged and renumbered.
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        assert_eq!(MIGRATIONS[0].version, 1);
        assert_eq!(latest(), MIGRATIONS.last().unwrap().version);
    }
}
