//! The database: connection pools, migrations and one module per aggregate.
//!
//! SQL is written once, with `$N` placeholders, integer minor units and UTC
//! timestamps bound from Rust, so the same text runs on PostgreSQL.

pub mod alert_preview;
pub mod alerts;
pub mod audit;
pub mod autopay;
mod batched_wal;
pub mod checklist;
mod checkpoint;
pub mod companies;
pub mod copy;
pub mod customers;
pub mod direct;
pub mod funnel;
pub mod health;
pub mod imports;
pub mod invoices;
pub mod limits;
pub mod links;
pub mod messages;
pub mod migrations;
pub mod office_emails;
pub mod payments;
pub mod paypage;
pub mod pg_readers;
pub mod portal;
pub mod processor_settings;
pub mod refunds;
pub mod sessions;
pub mod sql;
pub mod templates;
mod values;
pub mod webhooks;
pub mod writer;

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use sql::{Backend, Conn, Pool, PoolKind, Tx, WriteScope};

use crate::domain::Clock;

/// The database handle. On SQLite: one writer connection (SQLite has one
/// writer; taking it in-process avoids lock upgrades and busy retries) and a
/// pool of readers. On PostgreSQL: a pool of readers and one of writers;
/// write transactions take their scope's advisory locks, across processes
/// (`WriteScope`): one company's writes in turn, different companies' in
/// parallel.
#[derive(Clone, Debug)]
pub struct Db {
    write: Pool,
    read: Pool,
    /// `read`, with short reads on connections of their own (`point_reader`).
    point: Pool,
    group: writer::GroupWriter,
}

#[derive(Debug)]
pub enum StoreError {
    /// A unique constraint refused the row.
    Conflict,
    /// The write could not be made durable; nothing was saved.
    Unavailable(String),
    /// A CHECK or foreign key constraint refused the row.
    Invalid,
    Other(sqlx::Error),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("unique constraint violated"),
            StoreError::Invalid => f.write_str("constraint violated"),
            StoreError::Unavailable(m) => write!(f, "database unavailable: {m}"),
            StoreError::Other(e) => write!(f, "database error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // SQLite names no constraint: match the kind of error instead.
        if let sqlx::Error::Database(db) = &e {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return StoreError::Conflict,
                sqlx::error::ErrorKind::CheckViolation
                | sqlx::error::ErrorKind::ForeignKeyViolation
                | sqlx::error::ErrorKind::NotNullViolation => return StoreError::Invalid,
                _ => {}
            }
            if let Some(reason) = unavailable_reason(db.as_ref()) {
                return StoreError::Unavailable(format!("{reason}: {}", db.message()));
            }
        }
        if matches!(
            e,
            sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
        ) {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Other(e)
    }
}

/// Why the database cannot take a write right now, for errors that pass
/// once the cause does (another process holds the lock, the disk is full or
/// failing): the request may be retried, nothing of it was saved.
fn unavailable_reason(db: &dyn sqlx::error::DatabaseError) -> Option<&'static str> {
    let code = db.code()?;
    if db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // SQLSTATE classes: 08 connection, 53 resources (disk full, out of
        // memory, too many connections), 57P0x server shutting down.
        return match code.get(..2) {
            Some("08") => Some("the connection to the database was lost"),
            Some("57") if code == "57014" => Some("the database statement timed out"),
            Some("55") if code == "55P03" => Some("the database is locked"),
            Some("40") => Some("the database asked to retry the transaction"),
            Some("53") if code == "53100" => Some("the disk is full"),
            Some("53") => Some("the database is out of resources"),
            Some("57") if code.starts_with("57P0") => Some("the database is shutting down"),
            _ => None,
        };
    }
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_none()
        && db.try_downcast_ref::<direct::DirectError>().is_none()
    {
        return None;
    }
    let extended: i32 = code.parse().ok()?;
    // Primary result codes: SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR,
    // SQLITE_FULL, SQLITE_CANTOPEN.
    match extended & 0xff {
        5 | 6 => Some("the database is locked"),
        13 => Some("the disk is full"),
        10 | 14 => Some("the database file cannot be written"),
        _ => None,
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The newest migration this binary knows.
pub fn latest_migration() -> i64 {
    migrations::latest()
}

/// PostgreSQL connections per process for write transactions.
const PG_WRITE_CONNECTIONS: u32 = 4;

/// Pool settings for PostgreSQL, from the environment.
#[derive(Clone, Debug)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Db {
    /// Opens the database a URL names: `sqlite://PATH` (created when missing)
    /// or `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (which must exist).
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        Db::connect_with(url, &PoolSettings::default(), Clock::system()).await
    }

    /// As `connect`; the store stamps times from `clock`.
    pub async fn connect_with(
        url: &str,
        settings: &PoolSettings,
        clock: Clock,
    ) -> anyhow::Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Db::connect_postgres(url, settings, clock).await;
        }
        if !url.starts_with("sqlite:") {
            anyhow::bail!(
                "FIELDPAY_DATABASE_URL must look like sqlite://PATH or postgres://USER@HOST:PORT/DATABASE, got '{}'",
                redact_url(url)
            );
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("bad database URL '{url}': {e}"))?;
        private_sqlite_file(&options)?;
        let file = sqlite_file(&options);
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A lost payment record is the one thing we cannot have.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT)
            .statement_cache_capacity(256);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // A write that fails with a full disk or an I/O error makes SQLite
            // roll the transaction back itself; sqlx's ROLLBACK on drop then
            // fails and leaves the connection believing it is still in a
            // transaction, refusing every later `begin` (a 500 until restart).
            // Such a connection is closed when released and a fresh one opened.
            .after_release(|conn, _| {
                Box::pin(async move {
                    use sqlx::Connection;
                    conn.ping().await?; // runs the queued rollback first
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database '{url}': {e}"))?;
        // Readers keep a smaller page cache than SQLite's 2 MB default: a
        // page view or a PDF reads a few dozen pages, the rest are in the
        // OS's file cache, and four full caches were about 8 MB of the
        // server's resident memory once the PDFs had read the whole file.
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect_with(options.pragma("cache_size", direct::READER_CACHE_KIB.to_string()))
            .await
            .map_err(|e| anyhow::anyhow!("cannot open database '{url}': {e}"))?;
        let write = Pool::new(PoolKind::Sqlite(write), clock.clone());
        let read = Pool::new(PoolKind::Sqlite(read), clock.clone());
        // One reader in place per thread of the async runtime can be busy
        // at once; more would only wait for a core.
        let point = match &file {
            Some(path) => {
                let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
                read.with_readers(std::sync::Arc::new(direct::DirectReaders::new(
                    path.clone(),
                    cores.max(2),
                )))
            }
            None => read.clone(),
        };
        // The group writer's own connection, once the file exists.
        let group = match file {
            Some(path) => {
                let conn = direct::DirectConn::open(&path, SQLITE_BUSY_TIMEOUT)
                    .map_err(|e| anyhow::anyhow!("cannot open database '{url}': {e}"))?;
                writer::GroupWriter::start_direct(conn, path, SQLITE_BUSY_TIMEOUT, clock.clone())
                    .map_err(|e| anyhow::anyhow!("cannot start the database writer: {e}"))?
            }
            None => writer::GroupWriter::start(write.clone()),
        };
        Ok(Db {
            group,
            write,
            read,
            point,
        })
    }

    async fn connect_postgres(
        url: &str,
        settings: &PoolSettings,
        clock: Clock,
    ) -> anyhow::Result<Db> {
        let shown = redact_url(url);
        // TLS follows the URL's `sslmode` (prefer, require, verify-full, …).
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| anyhow::anyhow!("bad database URL '{shown}': {e}"))?
            .statement_cache_capacity(256)
            .application_name("fieldpay");
        // One connection first: the pool would retry a refused connection
        // until its timeout and report only that it timed out.
        sqlx::ConnectOptions::connect(&options)
            .await
            .map_err(|e| anyhow::anyhow!("{}", explain_postgres_error(&shown, &e)))?;
        // Half the readers' connections for short reads by key (the pay
        // page; `pg_readers`), half for the pool's other reads.
        let point_readers = settings.max_connections / 2;
        let options_for_readers = options.clone();
        let read = PgPoolOptions::new()
            .max_connections(settings.max_connections - point_readers)
            .min_connections(1)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await
            .map_err(|e| anyhow::anyhow!("{}", explain_postgres_error(&shown, &e)))?;
        // Writers of their own: they wait for their scope's lock holding a
        // connection, and must not take the readers' connections while they
        // wait.
        let write = PgPoolOptions::new()
            .max_connections(PG_WRITE_CONNECTIONS)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // A connection left in a transaction (a lost COMMIT) is closed,
            // not handed to the next writer.
            .after_release(|conn, _| {
                Box::pin(async move {
                    use sqlx::Connection;
                    conn.ping().await?;
                    Ok(!conn.is_in_transaction())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| anyhow::anyhow!("{}", explain_postgres_error(&shown, &e)))?;
        let write = Pool::new(PoolKind::Pg(write), clock.clone());
        let read = Pool::new(PoolKind::Pg(read), clock);
        let point = read.with_pg_readers(std::sync::Arc::new(pg_readers::PgReaders::new(
            options_for_readers,
            point_readers as usize,
        )));
        Ok(Db {
            // Group commit here too, a batch per scope (`WriteScope`): one
            // company's writes take its lock in turn, so a batch of them
            // pays for one commit; other companies' batches run beside it.
            group: writer::GroupWriter::start(write.clone()),
            write,
            point,
            read,
        })
    }

    pub fn backend(&self) -> Backend {
        self.write.backend()
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = migrations::migrator(self.backend());
        match self.write.kind() {
            PoolKind::Sqlite(p) => migrator.run(p).await,
            PoolKind::Pg(p) => migrator.run(p).await,
        }
        .map_err(|e| anyhow::anyhow!("migrations failed: {e}"))
    }

    /// The application's "now", as the store stamps it.
    pub fn now(&self) -> time::OffsetDateTime {
        self.write.now()
    }

    /// Pool for reads that need no lock.
    pub fn reader(&self) -> &Pool {
        &self.read
    }

    /// Pool for short reads by key on the request path (the pay page): on
    /// SQLite each statement runs in place on the request's thread when a
    /// reader is free (`direct::DirectReaders`), without a hand-off to a
    /// pooled connection's thread. On PostgreSQL each runs on a connection
    /// of `pg_readers::PgReaders` when one is free, without the pool's
    /// pings. Not for reads that scan: those would hold up the async
    /// runtime.
    pub fn point_reader(&self) -> &Pool {
        &self.point
    }

    /// The writer, for statements outside a transaction.
    pub fn writer(&self) -> &Pool {
        &self.write
    }

    /// A write transaction of the whole database (`WriteScope::Database`):
    /// for writes that are not one company's. On SQLite it holds the write
    /// lock from its start; on PostgreSQL every other write waits for it.
    pub async fn begin_write(&self) -> StoreResult<Tx> {
        self.begin_write_in(&WriteScope::Database).await
    }

    /// A write transaction of one company's rows (`WriteScope::Company`): on
    /// PostgreSQL it waits only for writes of the same company (and for
    /// writes of the whole database).
    pub async fn begin_write_for(&self, company_id: impl AsRef<str>) -> StoreResult<Tx> {
        self.begin_write_in(&WriteScope::company(company_id)).await
    }

    pub async fn begin_write_in(&self, scope: &WriteScope) -> StoreResult<Tx> {
        Ok(self.write.acquire().await?.begin(scope).await?)
    }

    /// Runs `work` in a transaction of the whole database shared with other
    /// concurrent writes (one commit for all); `Err` from `work` undoes its
    /// own writes only. See `write_for` for one company's writes.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> writer::BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.group.write(WriteScope::Database, work).await
    }

    /// `write` for one company's rows: on PostgreSQL the batch holds that
    /// company's lock, and batches of different companies commit in
    /// parallel. The hot path of payments goes through here.
    pub async fn write_for<T, E, F>(&self, company_id: impl AsRef<str>, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> writer::BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        self.group
            .write(WriteScope::company(company_id), work)
            .await
    }

    pub async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}

/// Takes one of `max` places counted by `opened` (a connection of a
/// bounded set that opens them when first needed); `false` when all are
/// taken. The taker gives it back with `opened.fetch_sub(1, …)`.
pub(crate) fn claim_place(opened: &AtomicUsize, max: usize) -> bool {
    opened
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .is_ok()
}

/// Savepoints: a part of a transaction that can be undone alone (a CSV
/// import's row). `name` is a plain identifier of the caller's.
pub async fn savepoint(conn: &mut Conn, name: &'static str) -> StoreResult<()> {
    savepoint_statement(conn, format!("SAVEPOINT {name}")).await
}

pub async fn release_savepoint(conn: &mut Conn, name: &'static str) -> StoreResult<()> {
    savepoint_statement(conn, format!("RELEASE {name}")).await
}

pub async fn rollback_to_savepoint(conn: &mut Conn, name: &'static str) -> StoreResult<()> {
    savepoint_statement(conn, format!("ROLLBACK TO {name}")).await
}

async fn savepoint_statement(conn: &mut Conn, sql: String) -> StoreResult<()> {
    sql::query(dynamic_sql(sql)).execute(&mut *conn).await?;
    Ok(())
}

/// How long a SQLite write waits for another process's lock before the
/// request is answered "try again".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The file of a SQLite database on disk; `None` in memory.
pub fn sqlite_file(options: &SqliteConnectOptions) -> Option<std::path::PathBuf> {
    let path = options.get_filename();
    let name = path.as_os_str();
    let in_memory =
        name.is_empty() || name == ":memory:" || name.to_string_lossy().starts_with("file:");
    (!in_memory).then(|| path.to_path_buf())
}

/// A SQLite database on disk is created (or narrowed to) owner-only access
/// before it opens, so its WAL and SHM files are created the same way.
pub fn private_sqlite_file(options: &SqliteConnectOptions) -> anyhow::Result<()> {
    let Some(path) = sqlite_file(options) else {
        return Ok(());
    };
    crate::private_files::prepare_sqlite_file(&path)
        .map_err(|e| anyhow::anyhow!("cannot create the database file {}: {e}", path.display()))
}

/// A database URL with its password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            parsed.set_password(Some("***")).ok();
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// What to tell an operator whose PostgreSQL connection failed at start.
fn explain_postgres_error(url: &str, e: &sqlx::Error) -> String {
    if let sqlx::Error::Database(db) = e {
        match db.code().as_deref() {
            Some("3D000") => {
                return format!(
                    "the database in '{url}' does not exist: create it first (createdb NAME), then start fieldpay again ({})",
                    db.message()
                );
            }
            Some("28P01") | Some("28000") => {
                return format!(
                    "PostgreSQL refused the user or password in '{url}': {}",
                    db.message()
                );
            }
            _ => {}
        }
    }
    match e {
        sqlx::Error::Io(io) => format!(
            "cannot reach PostgreSQL at '{url}': {io} (is the server running and listening on that host and port?)"
        ),
        sqlx::Error::Tls(tls) => format!("TLS to PostgreSQL at '{url}' failed: {tls}"),
        sqlx::Error::PoolTimedOut => format!(
            "PostgreSQL at '{url}' did not answer in time (is the server running and listening on that host and port?)"
        ),
        other => format!("cannot open database '{url}': {other}"),
    }
}

/// `$from, $from+1, …` for `n` values: bind lists of ids.
pub fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A subquery of the values of a JSON array bound as parameter `$n`: one
/// bound value for a list of any length. sqlx binds thousands of separate
/// values slowly (a 500-row `VALUES` list cost five times this), and SQLite
/// limits their number.
pub fn json_values(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each(${n})"),
        Backend::Postgres => format!("SELECT value FROM json_array_elements_text(${n}::json)"),
    }
}

/// A JSON array of strings, for `json_values`.
pub fn json_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    serde_json::Value::Array(
        items
            .into_iter()
            .map(|s| serde_json::Value::String(s.to_string()))
            .collect(),
    )
    .to_string()
}

/// A statement built from literal SQL and generated placeholders only.
pub(crate) fn dynamic_sql(sql: String) -> AssertSqlSafe<String> {
    AssertSqlSafe(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_count_from_offset() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
    }

    #[tokio::test]
    async fn instants_compare_in_time_order_on_sqlite() {
        use time::macros::datetime;
        assert_eq!(
            sql::sqlite_instant(datetime!(2026-12-06 17:09:30.41 UTC)),
            "2026-12-06T17:09:30.410000Z"
        );
        assert_eq!(
            sql::sqlite_instant(datetime!(2026-12-06 11:09:30 -6)),
            "2026-12-06T17:09:30.000000Z"
        );
        assert_eq!(
            sql::sqlite_instant(datetime!(0987-01-02 03:04:05.000006 UTC)),
            "0987-01-02T03:04:05.000006Z"
        );
        let db = Db::connect("sqlite::memory:").await.unwrap();
        let w = db.writer();
        sql::query("CREATE TABLE t (at TIMESTAMP NOT NULL)")
            .execute(w)
            .await
            .unwrap();
        for at in [
            datetime!(2026-12-06 17:09:30.41 UTC),
            datetime!(2026-12-06 17:09:30.4 UTC),
            datetime!(2026-12-06 17:09:30 UTC),
            datetime!(2026-12-06 17:09:30.999999 UTC),
        ] {
            sql::query("INSERT INTO t (at) VALUES ($1)")
                .bind(at)
                .execute(w)
                .await
                .unwrap();
        }
        let ordered: Vec<time::OffsetDateTime> = sql::query_scalar("SELECT at FROM t ORDER BY at")
            .fetch_all(w)
            .await
            .unwrap();
        let mut sorted = ordered.clone();
        sorted.sort();
        assert_eq!(ordered, sorted);
        let before: i64 = sql::query_scalar("SELECT count(*) FROM t WHERE at <= $1")
            .bind(datetime!(2026-12-06 17:09:30.405 UTC))
            .fetch_one(w)
            .await
            .unwrap();
        assert_eq!(before, 2, "30.0 and 30.4, not 30.41");
    }

    #[tokio::test]
    async fn sqlite_is_built_without_stat4() {
        let db = Db::connect("sqlite::memory:").await.unwrap();
        let used: i64 =
            crate::store::sql::query_scalar("SELECT sqlite_compileoption_used('ENABLE_STAT4')")
                .fetch_one(db.reader())
                .await
                .unwrap();
        assert_eq!(
            used, 0,
            "LIBSQLITE3_FLAGS in .cargo/config.toml must remove STAT4"
        );
    }
}
