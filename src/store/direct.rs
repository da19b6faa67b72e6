//! SQLite called in place: the connection of the group writer (`writer.rs`).
//!
//! sqlx runs each SQLite connection on a thread of its own, so every
//! statement is a hand-off between threads and back; a payment's write job
//! of a dozen statements paid for a dozen. The group writer's connection is
//! instead opened here and used on the writer's own thread: the store's
//! statements (the same `sql::query` text, bound values and row types) run
//! on it synchronously from the statement cache, so a job is one step and
//! its future is ready when first polled.
//!
//! Short reads on the request path (the pay page) run the same way on
//! read-only connections of `DirectReaders`, on the request's own thread.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::types::{Value, ValueRef};
use sqlx::error::{BoxDynError, DatabaseError, ErrorKind};
use time::OffsetDateTime;

use crate::domain::ids;

/// The writer's own connection to the database file.
#[derive(Debug)]
pub struct DirectConn {
    conn: rusqlite::Connection,
    /// For a connection used in place on the async runtime: how long a
    /// statement waits for another connection's lock, asleep on the
    /// runtime (`run_waiting`) rather than in SQLite's busy handler.
    wait_in_runtime: Option<Duration>,
}

impl DirectConn {
    /// Opens the database file that sqlx has created and migrated, with the
    /// settings of the server's other connections: WAL (kept by the file),
    /// `synchronous=FULL`, foreign keys, the same wait for a lock.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<DirectConn, sqlx::Error> {
        // The savepoints' journal (a job's undo, never read after a crash:
        // the write-ahead log is what makes commits durable) stays in
        // memory up to `UNDO_JOURNAL_IN_MEMORY` (`keep_undo_journals_in_memory`),
        // not in a temporary file written page by page. Not `temp_store =
        // MEMORY`: that journal grows in 1 KiB pieces, four mallocs a page
        // and about 50,000 instructions a payment.
        //
        // Its write-ahead log is written a commit at a time (`batched_wal`),
        // which needs every commit synced: `synchronous = FULL` below.
        Self::connect(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
            busy_timeout,
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
            256,
            super::batched_wal::register().then_some(super::batched_wal::NAME),
        )
    }

    /// A connection to a database that holds no record of fieldpay's (the
    /// sandbox processor's own file), used in place by its callers: WAL and
    /// `synchronous=NORMAL`, as that database's pooled connection. Another
    /// connection's lock (another process's, on a shared file) is waited
    /// for up to `busy_timeout` by `run_waiting`, off the runtime's thread.
    /// A reader's page cache: its statements touch a few pages by key.
    pub fn open_normal_sync(
        path: &Path,
        busy_timeout: Duration,
    ) -> Result<DirectConn, sqlx::Error> {
        let mut conn = Self::connect(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE,
            Duration::ZERO,
            &format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY;
                 PRAGMA cache_size = {READER_CACHE_KIB};"
            ),
            32,
            None,
        )?;
        conn.wait_in_runtime = Some(busy_timeout);
        Ok(conn)
    }

    /// A read-only connection for `DirectReaders`: each statement reads
    /// its own WAL snapshot, as on the pooled readers, with their smaller
    /// page cache.
    pub fn open_reader(path: &Path, busy_timeout: Duration) -> Result<DirectConn, sqlx::Error> {
        Self::connect(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            busy_timeout,
            &format!("PRAGMA cache_size = {READER_CACHE_KIB};"),
            64,
            None,
        )
    }

    fn connect(
        path: &Path,
        access: rusqlite::OpenFlags,
        busy_timeout: Duration,
        pragmas: &str,
        statements: usize,
        vfs: Option<&std::ffi::CStr>,
    ) -> Result<DirectConn, sqlx::Error> {
        let flags = access | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match vfs {
            Some(vfs) => rusqlite::Connection::open_with_flags_and_vfs(path, flags, vfs),
            None => rusqlite::Connection::open_with_flags(path, flags),
        }
        .map_err(to_sqlx)?;
        conn.busy_timeout(busy_timeout).map_err(to_sqlx)?;
        conn.execute_batch(pragmas).map_err(to_sqlx)?;
        conn.set_prepared_statement_cache_capacity(statements);
        Ok(DirectConn {
            conn,
            wait_in_runtime: None,
        })
    }

    /// Runs `sql` as `run` does. On a connection used in place on the async
    /// runtime, a statement outside a transaction that finds another
    /// connection's lock (SQLite made no change) is tried again after an
    /// asynchronous pause, so the runtime's thread goes on meanwhile.
    pub async fn run_waiting(
        &mut self,
        sql: &str,
        args: &[Value],
    ) -> Result<(Vec<DirectRow>, u64), sqlx::Error> {
        let Some(limit) = self.wait_in_runtime else {
            return self.run(sql, args);
        };
        let started = std::time::Instant::now();
        let mut pause = Duration::from_micros(500);
        loop {
            match self.run(sql, args) {
                Err(e)
                    if is_locked(&e) && self.conn.is_autocommit() && started.elapsed() < limit =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(10));
                }
                answer => return answer,
            }
        }
    }

    /// Whether a transaction is still open (a failed COMMIT or ROLLBACK).
    pub fn in_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Runs several `;`-separated statements without parameters.
    pub fn batch(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        self.conn.execute_batch(sql).map_err(to_sqlx)
    }

    /// Runs `sql` with `args` (`$N` placeholders, bound by their number):
    /// its rows, and the rows it changed.
    pub fn run(&mut self, sql: &str, args: &[Value]) -> Result<(Vec<DirectRow>, u64), sqlx::Error> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(to_sqlx)?;
        for i in 1..=stmt.parameter_count() {
            let n = match stmt.parameter_name(i) {
                Some(name) => name[1..].parse::<usize>().map_err(|_| {
                    sqlx::Error::Protocol(format!("parameter {name} has no number"))
                })?,
                None => i,
            };
            let value = args.get(n.wrapping_sub(1)).ok_or_else(|| {
                sqlx::Error::Protocol(format!("parameter ${n} has no value bound"))
            })?;
            stmt.raw_bind_parameter(i, value).map_err(to_sqlx)?;
        }
        let columns = stmt.column_count();
        let names: Arc<[String]> = stmt.column_names().iter().map(|s| s.to_string()).collect();
        let readonly = stmt.readonly();
        let mut out = Vec::new();
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next().map_err(to_sqlx)? {
            let mut values = Vec::with_capacity(columns);
            for c in 0..columns {
                values.push(owned(row.get_ref(c).map_err(to_sqlx)?));
            }
            out.push(DirectRow {
                names: names.clone(),
                values,
            });
        }
        drop(rows);
        let changed = if readonly { 0 } else { self.conn.changes() };
        Ok((out, changed))
    }
}

/// How much of a statement's or savepoint's undo journal SQLite keeps in
/// memory before it writes the rest to a temporary file; also the size of
/// the one allocation it is kept in. A payment's two jobs journal about
/// 150 KB; SQLite's default is 64 KiB.
pub const UNDO_JOURNAL_IN_MEMORY: i32 = 4 << 20;

/// Raises SQLite's in-memory limit of undo journals to
/// `UNDO_JOURNAL_IN_MEMORY` for the whole process. Call it before the
/// first connection opens: SQLite takes it only before it initializes.
pub fn keep_undo_journals_in_memory() {
    // SAFETY: `sqlite3_config` with an option that takes one int. Once
    // SQLite is initialized it answers SQLITE_MISUSE and changes nothing
    // (the journals then keep the default: slower, not wrong).
    unsafe {
        rusqlite::ffi::sqlite3_config(
            rusqlite::ffi::SQLITE_CONFIG_STMTJRNL_SPILL,
            UNDO_JOURNAL_IN_MEMORY,
        );
    }
}

/// The page cache of a reader, as SQLite's `cache_size` (negative: KiB);
/// the pooled readers use the same (`store::Db::connect_with`).
///
/// The bundled SQLite is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so
/// all connections of the process share one page cache: each connection's
/// `cache_size` adds to the shared limit, and a busy connection keeps clean
/// pages up to that sum, not up to its own size. In the load benchmark's
/// payments the group writer held 8 MB of pages against its own 2 MB,
/// filling the share of connections that read little. So a connection
/// asks for what it reads: the two writers keep SQLite's 2 MB default.
pub const READER_CACHE_KIB: i32 = -512;

/// The page cache of a connection that reads almost nothing: the
/// checkpointer (a checkpoint copies frames from the log without the
/// cache) and the sandbox's pooled connection (its schema and refunds).
pub const IDLE_CACHE_KIB: i32 = -128;

/// Read-only connections used in place, on the caller's thread: a read of a
/// few cached pages takes tens of microseconds, less than handing it to a
/// pooled connection's thread and back (two thread switches). For short
/// reads by key only: a long one would hold up the async runtime's thread.
/// Opened when first needed, at most `max` at once; when all are busy the
/// caller reads through the pool instead (`take` says `None`).
///
/// They never wait for a lock (no busy timeout): a read SQLite answers
/// with "busy" goes to the pool, which waits on a thread of its own
/// (`is_locked`), instead of holding up the async runtime's thread.
#[derive(Debug)]
pub struct DirectReaders {
    path: PathBuf,
    idle: Mutex<Vec<DirectConn>>,
    opened: AtomicUsize,
    max: usize,
}

impl DirectReaders {
    pub fn new(path: PathBuf, max: usize) -> DirectReaders {
        DirectReaders {
            path,
            idle: Mutex::new(Vec::with_capacity(max)),
            opened: AtomicUsize::new(0),
            max,
        }
    }

    /// A reader of its own until the guard is dropped, or `None` when `max`
    /// are in use or a new one cannot be opened.
    pub fn take(&self) -> Option<ReaderGuard<'_>> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match idle {
            Some(conn) => conn,
            None => {
                if !super::claim_place(&self.opened, self.max) {
                    return None;
                }
                match DirectConn::open_reader(&self.path, Duration::ZERO) {
                    Ok(conn) => conn,
                    Err(e) => {
                        self.opened.fetch_sub(1, Ordering::AcqRel);
                        tracing::warn!(error = %e, "cannot open a reader; reading through the pool");
                        return None;
                    }
                }
            }
        };
        Some(ReaderGuard {
            readers: self,
            conn: Some(conn),
        })
    }
}

/// A reader taken from `DirectReaders`, given back when dropped.
pub struct ReaderGuard<'a> {
    readers: &'a DirectReaders,
    conn: Option<DirectConn>,
}

impl ReaderGuard<'_> {
    pub fn run(&mut self, sql: &str, args: &[Value]) -> Result<(Vec<DirectRow>, u64), sqlx::Error> {
        match self.conn.as_mut() {
            Some(conn) => conn.run(sql, args),
            None => Err(sqlx::Error::PoolClosed),
        }
    }
}

impl Drop for ReaderGuard<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        match self.readers.idle.lock() {
            Ok(mut idle) => idle.push(conn),
            // Dropped with its slot: a new one may be opened in its place.
            Err(_) => {
                self.readers.opened.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

fn owned(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        // Checked as UTF-8 first (word by word; the page's JSON is
        // kilobytes), mended only when it is not.
        ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// A row read on the direct connection, its values owned.
pub struct DirectRow {
    names: Arc<[String]>,
    values: Vec<Value>,
}

impl DirectRow {
    pub fn get<T: FromCell, I: CellIndex>(&self, index: I) -> Result<T, sqlx::Error> {
        let i = index
            .position(&self.names)
            .ok_or_else(|| sqlx::Error::ColumnNotFound(index.describe()))?;
        T::from_cell(&self.values[i]).map_err(|source| sqlx::Error::ColumnDecode {
            index: index.describe(),
            source,
        })
    }
}

/// A column named or numbered.
pub trait CellIndex {
    fn position(&self, names: &[String]) -> Option<usize>;
    fn describe(&self) -> String;
}

impl CellIndex for usize {
    fn position(&self, names: &[String]) -> Option<usize> {
        (*self < names.len()).then_some(*self)
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl CellIndex for &str {
    fn position(&self, names: &[String]) -> Option<usize> {
        names.iter().position(|n| n == self)
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}

/// A value as the direct connection binds it (as sqlx's SQLite encoding
/// stores it: dates as `YYYY-MM-DD`, booleans as 0 and 1).
pub trait ToCell {
    fn to_cell(self) -> Value;
}

macro_rules! to_cell {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl ToCell for $t {
            fn to_cell(self) -> Value {
                let $v = self;
                $e
            }
        }
    )*};
}

to_cell!(
    String => |v| Value::Text(v),
    &str => |v| Value::Text(v.to_string()),
    &String => |v| Value::Text(v.clone()),
    i64 => |v| Value::Integer(v),
    &i64 => |v| Value::Integer(*v),
    i32 => |v| Value::Integer(v.into()),
    bool => |v| Value::Integer(v.into()),
    Vec<u8> => |v| Value::Blob(v),
    &[u8] => |v| Value::Blob(v.to_vec()),
    &Vec<u8> => |v| Value::Blob(v.clone()),
    time::Date => |v| Value::Text(date_text(v)),
    &Option<String> => |v| v.as_deref().to_cell(),
);

impl<T: ToCell> ToCell for Option<T> {
    fn to_cell(self) -> Value {
        self.map_or(Value::Null, ToCell::to_cell)
    }
}

fn date_text(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// A type a value of the direct connection decodes into, as sqlx would
/// decode it from the same column.
pub trait FromCell: Sized {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError>;
}

fn unexpected(v: &Value, want: &str) -> BoxDynError {
    format!("expected {want}, found {:?}", ValueRef::from(v).data_type()).into()
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        match v {
            Value::Null => Ok(None),
            v => T::from_cell(v).map(Some),
        }
    }
}

impl FromCell for i64 {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        match v {
            Value::Integer(i) => Ok(*i),
            v => Err(unexpected(v, "an integer")),
        }
    }
}

impl FromCell for i32 {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        Ok(i32::try_from(i64::from_cell(v)?)?)
    }
}

impl FromCell for bool {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        Ok(i64::from_cell(v)? != 0)
    }
}

impl FromCell for f64 {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        match v {
            Value::Real(r) => Ok(*r),
            Value::Integer(i) => Ok(*i as f64),
            v => Err(unexpected(v, "a number")),
        }
    }
}

impl FromCell for String {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            v => Err(unexpected(v, "text")),
        }
    }
}

impl FromCell for Vec<u8> {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            v => Err(unexpected(v, "bytes")),
        }
    }
}

impl FromCell for time::Date {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        let text = String::from_cell(v)?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Ok(time::Date::parse(&text, &format)?)
    }
}

/// Instants as sqlx reads them from SQLite: RFC 3339 text (what the store
/// writes), SQLite's own `YYYY-MM-DD HH:MM:SS[.SSS]` in UTC, or Unix
/// seconds.
impl FromCell for OffsetDateTime {
    fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
        use time::format_description::well_known::Rfc3339;
        match v {
            Value::Integer(secs) => Ok(OffsetDateTime::from_unix_timestamp(*secs)?),
            Value::Text(s) => {
                if let Ok(at) = OffsetDateTime::parse(s, &Rfc3339) {
                    return Ok(at);
                }
                let format = time::macros::format_description!(
                    "[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
                );
                Ok(time::PrimitiveDateTime::parse(s, &format)?.assume_utc())
            }
            v => Err(unexpected(v, "an instant")),
        }
    }
}

macro_rules! id_cells {
    ($($t:ident),* $(,)?) => {$(
        impl FromCell for ids::$t {
            fn from_cell(v: &Value) -> Result<Self, BoxDynError> {
                String::from_cell(v).map(ids::$t::from)
            }
        }
    )*};
}

crate::domain::ids::for_each_id!(id_cells);

/// Rows that map onto a tuple of `FromCell` values.
pub trait FromCells: Sized {
    fn from_cells(row: &DirectRow) -> Result<Self, sqlx::Error>;
}

macro_rules! tuple_cells {
    ($(($($t:ident $i:tt),+)),* $(,)?) => {$(
        impl<$($t: FromCell),+> FromCells for ($($t,)+) {
            fn from_cells(row: &DirectRow) -> Result<Self, sqlx::Error> {
                Ok(($(row.get::<$t, usize>($i)?,)+))
            }
        }
    )*};
}

tuple_cells!(
    (A 0),
    (A 0, B 1),
    (A 0, B 1, C 2),
    (A 0, B 1, C 2, D 3),
    (A 0, B 1, C 2, D 3, E 4),
    (A 0, B 1, C 2, D 3, E 4, F 5),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14),
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15),
);

/// An error SQLite returned on the direct connection, with its extended
/// result code: the store reads it as it reads sqlx's SQLite errors.
#[derive(Debug)]
pub struct DirectError {
    extended: i32,
    message: String,
}

impl std::fmt::Display for DirectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "(code: {}) {}", self.extended, self.message)
    }
}

impl std::error::Error for DirectError {}

impl DatabaseError for DirectError {
    fn message(&self) -> &str {
        &self.message
    }

    fn code(&self) -> Option<Cow<'_, str>> {
        Some(self.extended.to_string().into())
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> ErrorKind {
        use rusqlite::ffi;
        match self.extended {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => ErrorKind::CheckViolation,
            _ => ErrorKind::Other,
        }
    }
}

/// Whether SQLite answered "busy" or "locked": another connection holds a
/// lock this statement needs (never a plain WAL reader's case, but a
/// recovery or an exclusive lock can cause it).
pub fn is_locked(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(e) => e.try_downcast_ref::<DirectError>().is_some_and(|e| {
            matches!(
                e.extended & 0xff,
                rusqlite::ffi::SQLITE_BUSY | rusqlite::ffi::SQLITE_LOCKED
            )
        }),
        _ => false,
    }
}

fn to_sqlx(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(failure, message) => {
            sqlx::Error::Database(Box::new(DirectError {
                extended: failure.extended_code,
                message: message.unwrap_or_else(|| failure.to_string()),
            }))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
