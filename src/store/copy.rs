//! Moving a whole SQLite database to PostgreSQL (`fieldpay copy-database`):
//! the target is migrated, must be empty, and receives every row of every
//! table in one transaction, so a failed copy leaves it empty.

use super::sql;
use super::{Backend, Db, dynamic_sql};

/// One value of a row, as the column's declared type reads it.
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Time(Option<time::OffsetDateTime>),
    Date(Option<time::Date>),
    Bytes(Option<Vec<u8>>),
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Time,
    Date,
    Bytes,
}

fn kind(declared: &str) -> anyhow::Result<Kind> {
    Ok(match declared.to_ascii_uppercase().as_str() {
        "TEXT" => Kind::Text,
        "INTEGER" | "BIGINT" => Kind::Int,
        "TIMESTAMP" => Kind::Time,
        "DATE" => Kind::Date,
        "BLOB" => Kind::Bytes,
        other => anyhow::bail!("no PostgreSQL copy for a column of type '{other}'"),
    })
}

fn read(row: &sql::Row, i: usize, kind: Kind) -> Result<Cell, sqlx::Error> {
    Ok(match kind {
        Kind::Text => Cell::Text(row.try_get(i)?),
        Kind::Int => Cell::Int(row.try_get(i)?),
        Kind::Time => Cell::Time(row.try_get(i)?),
        Kind::Date => Cell::Date(row.try_get(i)?),
        Kind::Bytes => Cell::Bytes(row.try_get(i)?),
    })
}

/// Rows read and written per statement (PostgreSQL takes at most 65,535
/// parameters in one).
const BATCH_VALUES: usize = 30_000;

/// Copies every table of `from` (SQLite) into `to` (PostgreSQL, migrated here
/// and empty). Returns the rows copied per table, in copy order.
pub async fn sqlite_to_postgres(from: &Db, to: &Db) -> anyhow::Result<Vec<(String, u64)>> {
    anyhow::ensure!(
        from.backend() == Backend::Sqlite && to.backend() == Backend::Postgres,
        "copy-database copies a SQLite database (FIELDPAY_DATABASE_URL) into a PostgreSQL one (--to)"
    );
    from.migrate().await?;
    to.migrate().await?;
    let existing: i64 = sql::query_scalar("SELECT COUNT(*) FROM companies")
        .fetch_one(to.reader())
        .await?;
    anyhow::ensure!(
        existing == 0,
        "the PostgreSQL database already holds {existing} companies; copy into an empty database"
    );
    // One read transaction holding SQLite's write lock: a consistent copy,
    // and a server still running cannot write meanwhile.
    let mut source = from.begin_write().await?;
    // Creation order: a table is created after the tables it refers to.
    let tables: Vec<String> = sql::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'
           AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY rowid",
    )
    .fetch_all(&mut *source)
    .await?;
    let mut copied = Vec::new();
    let mut tx = to.begin_write().await?;
    for table in tables {
        let columns: Vec<(String, String)> = sql::query_as(dynamic_sql(format!(
            "SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"
        )))
        .fetch_all(&mut *source)
        .await?;
        let kinds = columns
            .iter()
            .map(|(_, t)| kind(t))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let names = columns
            .iter()
            .map(|(n, _)| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let per_batch = (BATCH_VALUES / columns.len().max(1)).max(1);
        let mut offset = 0usize;
        let mut count = 0u64;
        loop {
            let rows = sql::query(dynamic_sql(format!(
                "SELECT {names} FROM \"{table}\" ORDER BY rowid LIMIT {per_batch} OFFSET {offset}"
            )))
            .fetch_all(&mut *source)
            .await?;
            if rows.is_empty() {
                break;
            }
            let values = (0..rows.len())
                .map(|r| {
                    format!(
                        "({})",
                        super::placeholders(1 + r * columns.len(), columns.len())
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut insert = sql::query(dynamic_sql(format!(
                "INSERT INTO \"{table}\" ({names}) VALUES {values}"
            )));
            for row in &rows {
                for (i, k) in kinds.iter().enumerate() {
                    insert = match read(row, i, *k)? {
                        Cell::Text(v) => insert.bind(v),
                        Cell::Int(v) => insert.bind(v),
                        Cell::Time(v) => insert.bind(v),
                        Cell::Date(v) => insert.bind(v),
                        Cell::Bytes(v) => insert.bind(v),
                    };
                }
            }
            insert
                .execute(&mut *tx)
                .await
                .map_err(|e| anyhow::anyhow!("copying table {table}: {e}"))?;
            count += rows.len() as u64;
            offset += rows.len();
        }
        copied.push((table, count));
    }
    tx.commit().await?;
    source.rollback().await?;
    // Planner statistics now, not at autovacuum's next pass: a freshly filled
    // database is otherwise read by sequential scans (the pay page 50x slower).
    sql::query("ANALYZE").execute(to.writer()).await?;
    Ok(copied)
}
