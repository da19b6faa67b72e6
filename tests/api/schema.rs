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

/// A new SQLite database in `dir` on one connection, migrated up to
/// `version`: an older database for the later migrations to run on.
async fn sqlite_migrated_to(
    dir: &crate::common::TempDir,
    version: i64,
) -> (sqlx::SqlitePool, sqlx::migrate::Migrator) {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use std::str::FromStr;

    let options =
        SqliteConnectOptions::from_str(&format!("sqlite://{}", dir.0.join("before.db").display()))
            .unwrap()
            .create_if_missing(true)
            .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let migrator = fieldpay::store::migrations::migrator(fieldpay::store::Backend::Sqlite);
    migrator.run_to(version, &pool).await.unwrap();
    (pool, migrator)
}

/// Runs statements made of a test's own text and dates from the clock.
async fn run_own_statements(pool: &sqlx::SqlitePool, statements: impl IntoIterator<Item = String>) {
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(pool)
            .await
            .unwrap();
    }
}

/// Inserts the company and customer (created on `day`) that the migration
/// tests' rows belong to.
fn company_and_customer(day: &str) -> [String; 2] {
    [
        format!(
            "INSERT INTO companies (id, name, created_at) VALUES ('co_1', 'Greenleaf', '{day}')"
        ),
        format!(
            "INSERT INTO customers (id, company_id, name, created_at)
             VALUES ('cus_1', 'co_1', 'Lena', '{day}')"
        ),
    ]
}

/// Migration 28 builds SQLite's outbox again without its stored key: the
/// messages already there and the office's notes on them come through it
/// unchanged, and its unique key still refuses a second copy of a cause.
#[tokio::test]
async fn the_outbox_keeps_its_messages_and_notes_through_its_new_keys() {
    let dir = crate::common::TempDir::new("outbox-keys");
    let (pool, migrator) = sqlite_migrated_to(&dir, 27).await;
    // Stored dates from the clock: one day before today, today, the next.
    let today = fieldpay::domain::clock::Clock::system().today_in("UTC");
    let day = |n: i64| fieldpay::domain::dates::iso(today + time::Duration::days(n));
    let (yesterday, today, tomorrow) = (day(-1), day(0), day(1));
    let statements = [
        format!(
            "INSERT INTO outbox (id, company_id, customer_id, channel, recipient, template_id, cause,
                                 dedupe_key, status, next_attempt_at, created_at, sent_at, carries_link)
             VALUES ('msg_1', 'co_1', 'cus_1', 'email', 'lena@example.com', 'etpl_1', 'send_now:n1',
                     'send_now:n1|email|lena@example.com', 'sent', '{yesterday}', '{yesterday}',
                     '{today}', 1),
                    ('msg_2', 'co_1', 'cus_1', 'sms', '+15125550142', 'stpl_1', 'alert:a1:i1',
                     'alert:a1:i1|sms|+15125550142', 'queued', '{tomorrow}', '{yesterday}', NULL, 0)"
        ),
        "INSERT INTO message_notes (message_id, company_id, note)
         VALUES ('msg_1', 'co_1', 'We come Tuesday')"
            .to_string(),
    ];
    let company = company_and_customer(&yesterday);
    run_own_statements(&pool, company.into_iter().chain(statements)).await;
    migrator.run(&pool).await.unwrap();

    let rows: Vec<(String, String, String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT id, cause, recipient, status, carries_link, sent_at FROM outbox ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "msg_1".into(),
                "send_now:n1".into(),
                "lena@example.com".into(),
                "sent".into(),
                1,
                Some(today.clone())
            ),
            (
                "msg_2".into(),
                "alert:a1:i1".into(),
                "+15125550142".into(),
                "queued".into(),
                0,
                None
            ),
        ]
    );
    let note: String =
        sqlx::query_scalar("SELECT note FROM message_notes WHERE message_id = 'msg_1'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(note, "We come Tuesday");
    let problems: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    // The same cause to the same number again is refused; to the same
    // customer by email it is another message.
    let again = "INSERT INTO outbox (id, company_id, customer_id, channel, recipient, template_id,
                                     cause, status, next_attempt_at, created_at)
                 VALUES ($1, 'co_1', 'cus_1', $2, $3, 'stpl_1', 'alert:a1:i1', 'queued',
                         $4, $4)";
    let refused = sqlx::query(again)
        .bind("msg_3")
        .bind("sms")
        .bind("+15125550142")
        .bind(&tomorrow)
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "{refused:?}");
    sqlx::query(again)
        .bind("msg_4")
        .bind("email")
        .bind("lena@example.com")
        .bind(&tomorrow)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

/// The values in each `IN (…)` list of `sql`, by counting its commas (the
/// schema's lists hold only plain literals).
fn in_list_sizes(sql: &str) -> Vec<usize> {
    sql.match_indices(" IN (")
        .map(|(at, found)| {
            let list = &sql[at + found.len()..];
            let end = list.find(')').expect("an IN list ends");
            list[..end].matches(',').count() + 1
        })
        .collect()
}

/// Migration 29 writes SQLite's checks against lists of more than two
/// values as comparisons (a list makes SQLite build a temporary B-tree on
/// every statement that checks it): the rows already stored stay, the
/// checks still refuse what they refused, and the connection that ran the
/// migration checks the new text at once.
#[tokio::test]
async fn checks_against_lists_accept_and_refuse_the_same_values_without_a_temporary_table() {
    assert_eq!(in_list_sizes("a IN ('x', 'y') AND b IN (1, 2, 3)"), [2, 3]);
    let dir = crate::common::TempDir::new("check-lists");
    let (pool, migrator) = sqlite_migrated_to(&dir, 28).await;
    let today = fieldpay::domain::clock::Clock::system().today_in("UTC");
    let today = fieldpay::domain::dates::iso(today);
    let statements = [format!(
        "INSERT INTO outbox (id, company_id, customer_id, channel, recipient, template_id, cause,
                                 status, next_attempt_at, created_at)
             VALUES ('msg_1', 'co_1', 'cus_1', 'email', 'lena@example.com', 'etpl_1', 'send_now:n1',
                     'queued', '{today}', '{today}')"
    )];
    run_own_statements(
        &pool,
        company_and_customer(&today).into_iter().chain(statements),
    )
    .await;
    migrator.run(&pool).await.unwrap();

    let tables: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (table, sql) in &tables {
        let sizes = in_list_sizes(sql);
        assert!(sizes.iter().all(|&n| n <= 2), "{table}: {sizes:?}\n{sql}");
    }
    let kept: String = sqlx::query_scalar("SELECT status FROM outbox WHERE id = 'msg_1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(kept, "queued");
    for status in ["sending", "sent", "failed", "suppressed", "queued"] {
        sqlx::query("UPDATE outbox SET status = $1 WHERE id = 'msg_1'")
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
    }
    for status in ["delivered", "Queued", ""] {
        let refused = sqlx::query("UPDATE outbox SET status = $1 WHERE id = 'msg_1'")
            .bind(status)
            .execute(&pool)
            .await;
        assert!(
            format!("{refused:?}").contains("CHECK constraint failed"),
            "{status}: {refused:?}"
        );
    }
    // The statement's program builds no temporary table for its checks.
    let opcodes: Vec<String> =
        sqlx::query("EXPLAIN UPDATE outbox SET status = 'sent' WHERE id = 'msg_1'")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|row| sqlx::Row::get(row, "opcode"))
            .collect();
    assert!(opcodes.iter().any(|op| op == "Halt"), "{opcodes:?}");
    assert!(
        !opcodes.iter().any(|op| op == "OpenEphemeral"),
        "{opcodes:?}"
    );
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    pool.close().await;
}
