//! One schema on both databases: SQLite runs `migrations/sqlite`, PostgreSQL
//! the same text with its type names (or an override where the dialects
//! differ). Both must end with the same tables, columns, types, nullability
//! and indexes.

use std::collections::BTreeSet;

use crate::support::TestApp;

/// A column's type in words both databases share.
fn kind(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer",
        "text" => "text",
        "timestamp" | "timestamp with time zone" => "instant",
        "date" => "date",
        "blob" | "bytea" => "bytes",
        other => panic!("a column type the schema test does not know: {other}"),
    }
}

type Columns = BTreeSet<(String, String, &'static str, bool)>;

async fn sqlite_schema(t: &TestApp) -> (Columns, BTreeSet<String>) {
    let rows: Vec<(String, String, String, i64)> = fieldpay::store::sql::query_as(
        "SELECT m.name, c.name, c.type, c.\"notnull\" OR c.pk > 0
         FROM sqlite_master m JOIN pragma_table_info(m.name) c
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%' AND m.name NOT LIKE '\\_%' ESCAPE '\\'",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    let indexes: Vec<String> = fieldpay::store::sql::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    (
        rows.into_iter()
            .map(|(t, c, ty, nn)| (t, c, kind(&ty), nn != 0))
            .collect(),
        indexes.into_iter().collect(),
    )
}

async fn postgres_schema(t: &TestApp) -> (Columns, BTreeSet<String>) {
    let rows: Vec<(String, String, String, String)> = fieldpay::store::sql::query_as(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(data_type AS TEXT),
                CAST(is_nullable AS TEXT)
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_%' ESCAPE '\\'",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    let indexes: Vec<String> = fieldpay::store::sql::query_scalar(
        "SELECT CAST(indexname AS TEXT) FROM pg_indexes
         WHERE schemaname = 'public' AND indexname NOT LIKE '\\_%' ESCAPE '\\'
           AND indexname NOT IN (SELECT conname FROM pg_constraint)",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    (
        rows.into_iter()
            .map(|(t, c, ty, nullable)| (t, c, kind(&ty), nullable == "NO"))
            .collect(),
        indexes.into_iter().collect(),
    )
}

#[tokio::test]
async fn both_databases_end_with_the_same_schema() {
    let Some(pg) = TestApp::on_postgres_server().await else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    let lite = TestApp::on_sqlite().await;
    let (lite_columns, lite_indexes) = sqlite_schema(&lite).await;
    let (pg_columns, pg_indexes) = postgres_schema(&pg).await;
    assert!(lite_columns.len() > 100, "{}", lite_columns.len());
    let only_lite: Vec<_> = lite_columns.difference(&pg_columns).collect();
    let only_pg: Vec<_> = pg_columns.difference(&lite_columns).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "columns only in SQLite: {only_lite:?}\ncolumns only in PostgreSQL: {only_pg:?}"
    );
    // Unique constraints written inline are indexes on SQLite and
    // constraints on PostgreSQL: the named indexes must agree.
    assert_eq!(lite_indexes, pg_indexes);
}
