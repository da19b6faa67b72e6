//! One query API over SQLite and PostgreSQL.
//!
//! The store writes each statement once (`$N` placeholders, portable SQL) and
//! runs it on whichever database the URL chose. Values are bound once and
//! encoded for the database at execution; rows decode into the same Rust
//! types on both. A statement whose dialects differ carries a PostgreSQL text
//! as well (`Query::pg`).

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{
    ColumnIndex, Decode, FromRow, PgConnection, PgPool, Postgres, SqlSafeStr, SqlStr, Sqlite,
    SqliteConnection, SqlitePool, Type,
};
use sqlx_core::transaction::TransactionManager;
use time::OffsetDateTime;

use super::direct::{CellIndex, DirectConn, DirectReaders, DirectRow, FromCell, FromCells};
use super::pg_readers::PgReaders;
use crate::domain::Clock;

pub use super::values::{Cell, Value, sqlite_instant};

/// Which database a pool or connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool of either database, with the application's clock:
/// store functions stamp times with `now()` of the handle they were given.
#[derive(Clone, Debug)]
pub struct Pool {
    kind: PoolKind,
    clock: Clock,
    /// SQLite: statements run in place on these when one is free
    /// (`DirectReaders`), else on the pool.
    direct: Option<std::sync::Arc<DirectReaders>>,
    /// PostgreSQL: statements run on these when one is free (`PgReaders`),
    /// else on the pool.
    pg_readers: Option<std::sync::Arc<PgReaders>>,
}

#[derive(Clone, Debug)]
pub enum PoolKind {
    Sqlite(SqlitePool),
    Pg(PgPool),
}

impl Pool {
    pub fn new(kind: PoolKind, clock: Clock) -> Pool {
        Pool {
            kind,
            clock,
            direct: None,
            pg_readers: None,
        }
    }

    /// The same pool, its statements run in place on `readers` when one is
    /// free (SQLite only; for short reads by key).
    pub fn with_readers(&self, readers: std::sync::Arc<DirectReaders>) -> Pool {
        Pool {
            direct: matches!(self.kind, PoolKind::Sqlite(_)).then_some(readers),
            ..self.clone()
        }
    }

    /// The same pool, its statements run on `readers` when one is free
    /// (PostgreSQL only; for short reads by key).
    pub fn with_pg_readers(&self, readers: std::sync::Arc<PgReaders>) -> Pool {
        Pool {
            pg_readers: matches!(self.kind, PoolKind::Pg(_)).then_some(readers),
            ..self.clone()
        }
    }

    pub fn kind(&self) -> &PoolKind {
        &self.kind
    }

    pub fn backend(&self) -> Backend {
        match self.kind {
            PoolKind::Sqlite(_) => Backend::Sqlite,
            PoolKind::Pg(_) => Backend::Postgres,
        }
    }

    /// The application's "now".
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A connection of its own, for several reads that belong together.
    pub async fn acquire(&self) -> Result<Conn, sqlx::Error> {
        let kind = match &self.kind {
            PoolKind::Sqlite(p) => ConnKind::Sqlite(p.acquire().await?),
            PoolKind::Pg(p) => ConnKind::Pg(p.acquire().await?),
        };
        Ok(Conn {
            kind,
            clock: self.clock.clone(),
        })
    }

    pub async fn close(&self) {
        match &self.kind {
            PoolKind::Sqlite(p) => p.close().await,
            PoolKind::Pg(p) => p.close().await,
        }
    }
}

/// A pooled connection of either database. Store functions take `&mut Conn`;
/// a `&mut Tx` coerces to it.
#[derive(Debug)]
pub struct Conn {
    kind: ConnKind,
    clock: Clock,
}

#[derive(Debug)]
enum ConnKind {
    Sqlite(PoolConnection<Sqlite>),
    Pg(PoolConnection<Postgres>),
    /// The SQLite group writer's connection (`direct.rs`).
    Direct(DirectConn),
}

impl Conn {
    /// The SQLite group writer's connection, used on its own thread.
    pub(crate) fn direct(conn: DirectConn, clock: Clock) -> Conn {
        Conn {
            kind: ConnKind::Direct(conn),
            clock,
        }
    }

    /// A direct connection left inside a transaction (a failed COMMIT or
    /// ROLLBACK): it must not run the next batch.
    pub(crate) fn direct_in_transaction(&self) -> bool {
        matches!(&self.kind, ConnKind::Direct(c) if c.in_transaction())
    }

    pub fn backend(&self) -> Backend {
        match self.kind {
            ConnKind::Sqlite(_) | ConnKind::Direct(_) => Backend::Sqlite,
            ConnKind::Pg(_) => Backend::Postgres,
        }
    }

    /// The application's "now", for the times a statement stamps.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Starts a write transaction of `scope`; SQLite's takes the write lock
    /// at once (`BEGIN IMMEDIATE`) so it never has to upgrade a read lock.
    /// PostgreSQL's takes the scope's advisory locks (`WriteScope`).
    pub async fn begin(mut self, scope: &WriteScope) -> Result<Tx, sqlx::Error> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => {
                <Sqlite as sqlx::Database>::TransactionManager::begin(
                    c,
                    Some("BEGIN IMMEDIATE".into_sql_str()),
                )
                .await?
            }
            ConnKind::Pg(c) => {
                <Postgres as sqlx::Database>::TransactionManager::begin(
                    c,
                    Some(PG_BEGIN.into_sql_str()),
                )
                .await?
            }
            ConnKind::Direct(_) => return Err(not_pooled()),
        }
        let mut tx = Tx {
            conn: self,
            open: true,
        };
        // Through the `Tx`: a failed or abandoned wait for the lock rolls the
        // transaction back instead of leaving it open on a pooled connection.
        if tx.backend() == Backend::Postgres {
            scope.pg_lock().execute(&mut tx).await?;
        }
        Ok(tx)
    }
}

/// PostgreSQL write transactions run at READ COMMITTED whatever the
/// database's or the URL's default: each statement then reads what was
/// committed before it, so a check made after the write lock is taken sees
/// every write that held the lock before. (Under REPEATABLE READ the snapshot
/// could be taken before the lock wait, and the check would read old rows.)
pub const PG_BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

/// What a write transaction may read, check and change, and so which writes
/// it must wait for. On SQLite every write waits for every other (one writer
/// connection, `BEGIN IMMEDIATE`), whatever its scope. On PostgreSQL the
/// scope chooses the advisory locks taken at the start of the transaction
/// and held to its end (`pg_advisory_xact_lock`, across all processes):
///
/// - `Company`: the company's own lock, exclusively, and the database lock
///   shared. Writes of one company are applied one at a time, as on SQLite,
///   so the store's read-check-write steps on that company's rows (an
///   invoice still open, a key not yet used, a count under its limit) hold;
///   writes of different companies run in parallel. A company-scoped
///   transaction reads and changes only its company's rows, apart from rows
///   whose consistency a unique constraint or a single statement keeps
///   (an office user's email across companies, a rate-limit counter).
/// - `Database`: the database lock, exclusively: it waits for every write
///   in flight and every write waits for it, the one lock there was before
///   writes were scoped. For writes that are not one company's: creating a
///   company (the first-run check reads all companies), the jobs' claims and
///   outcomes across companies (outbox, webhooks, office emails), fixes over
///   every company's rows, sign-in tokens found before their company is
///   known; and for any write that does not name its company.
///
/// The database lock is always taken first, so two transactions never wait
/// for each other's locks in opposite orders. Companies share lock keys only
/// when their ids hash alike (`hashtext`): they then wait for each other,
/// which is correct, only less parallel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WriteScope {
    Database,
    Company(String),
}

/// The database lock, exclusive (`WriteScope::Database`).
pub const PG_WRITE_LOCK: &str = "SELECT pg_advisory_xact_lock(4242001)";

/// The database lock shared, then the company's (`$1`) exclusive. The shared
/// lock sits in a subquery that the planner cannot merge into the outer
/// query (it calls a volatile function), so it is taken first.
pub const PG_COMPANY_LOCK: &str = "SELECT pg_advisory_xact_lock(4242002, hashtext($1))
     FROM (SELECT pg_advisory_xact_lock_shared(4242001)) AS database_lock";

impl WriteScope {
    /// The scope of one company's writes.
    pub fn company(company_id: impl AsRef<str>) -> WriteScope {
        WriteScope::Company(company_id.as_ref().to_string())
    }

    /// The statement taking this scope's locks on PostgreSQL.
    pub(crate) fn pg_lock(&self) -> Query<'_> {
        match self {
            WriteScope::Database => query(PG_WRITE_LOCK),
            WriteScope::Company(id) => query(PG_COMPANY_LOCK).bind(id.as_str()),
        }
    }
}

/// A transaction on a connection of its own; dropped without `commit`, it
/// rolls back.
#[derive(Debug)]
pub struct Tx {
    conn: Conn,
    open: bool,
}

impl Tx {
    // `open` is cleared only after the statement succeeded: a failed or
    // abandoned COMMIT still rolls back on drop.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match &mut self.conn.kind {
            ConnKind::Sqlite(c) => {
                <Sqlite as sqlx::Database>::TransactionManager::commit(c).await?
            }
            ConnKind::Pg(c) => <Postgres as sqlx::Database>::TransactionManager::commit(c).await?,
            ConnKind::Direct(_) => return Err(not_pooled()),
        }
        self.open = false;
        Ok(())
    }

    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        match &mut self.conn.kind {
            ConnKind::Sqlite(c) => {
                <Sqlite as sqlx::Database>::TransactionManager::rollback(c).await?
            }
            ConnKind::Pg(c) => {
                <Postgres as sqlx::Database>::TransactionManager::rollback(c).await?
            }
            ConnKind::Direct(_) => return Err(not_pooled()),
        }
        self.open = false;
        Ok(())
    }
}

/// A `Tx` is begun only on a pooled connection.
fn not_pooled() -> sqlx::Error {
    sqlx::Error::Protocol("the group writer's connection runs no transactions of callers".into())
}

impl Drop for Tx {
    fn drop(&mut self) {
        if self.open {
            // Queued: runs before the connection's next statement.
            match &mut self.conn.kind {
                ConnKind::Sqlite(c) => {
                    <Sqlite as sqlx::Database>::TransactionManager::start_rollback(c)
                }
                ConnKind::Pg(c) => {
                    <Postgres as sqlx::Database>::TransactionManager::start_rollback(c)
                }
                ConnKind::Direct(_) => {}
            }
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// Where a statement runs.
pub enum Target<'e> {
    Sqlite(&'e mut SqliteConnection),
    SqlitePool(&'e SqlitePool),
    Pg(&'e mut PgConnection),
    PgPool(&'e PgPool),
    Direct(&'e mut DirectConn),
    /// A reader of these in place when one is free, else the pool.
    Readers(&'e DirectReaders, &'e SqlitePool),
    /// A PostgreSQL reader of these when one is free, else the pool.
    PgReaders(&'e PgReaders, &'e PgPool),
}

/// A pool, a connection or a transaction.
pub trait Executor<'e> {
    fn target(self) -> Target<'e>;
}

impl<'e> Executor<'e> for &'e Pool {
    fn target(self) -> Target<'e> {
        match &self.kind {
            PoolKind::Sqlite(p) => match &self.direct {
                Some(readers) => Target::Readers(readers, p),
                None => Target::SqlitePool(p),
            },
            PoolKind::Pg(p) => match &self.pg_readers {
                Some(readers) => Target::PgReaders(readers, p),
                None => Target::PgPool(p),
            },
        }
    }
}

impl<'e> Executor<'e> for &'e SqlitePool {
    fn target(self) -> Target<'e> {
        Target::SqlitePool(self)
    }
}

impl<'e> Executor<'e> for &'e mut Conn {
    fn target(self) -> Target<'e> {
        match &mut self.kind {
            ConnKind::Sqlite(c) => Target::Sqlite(c),
            ConnKind::Pg(c) => Target::Pg(c),
            ConnKind::Direct(c) => Target::Direct(c),
        }
    }
}

impl<'e> Executor<'e> for &'e mut Tx {
    fn target(self) -> Target<'e> {
        (&mut self.conn).target()
    }
}

/// A type both databases' rows decode into.
pub trait Decodable:
    for<'r> Decode<'r, Sqlite> + Type<Sqlite> + for<'r> Decode<'r, Postgres> + Type<Postgres> + FromCell
{
}

impl<T> Decodable for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + FromCell
{
}

/// A row of either database.
pub enum Row {
    Sqlite(SqliteRow),
    Pg(PgRow),
    Direct(DirectRow),
}

impl Row {
    pub fn try_get<T, I>(&self, index: I) -> Result<T, sqlx::Error>
    where
        T: Decodable,
        I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> + CellIndex,
    {
        use sqlx::Row as _;
        match self {
            Row::Sqlite(r) => r.try_get(index),
            Row::Pg(r) => r.try_get(index),
            Row::Direct(r) => r.get(index),
        }
    }

    /// Panics when the column is missing or of another type: for tests.
    pub fn get<T, I>(&self, index: I) -> T
    where
        T: Decodable,
        I: ColumnIndex<SqliteRow> + ColumnIndex<PgRow> + CellIndex + std::fmt::Debug,
    {
        let name = format!("{index:?}");
        self.try_get(index)
            .unwrap_or_else(|e| panic!("column {name}: {e}"))
    }
}

/// Rows that map onto a Rust type on both databases (tuples of `Decodable`).
pub trait FromRows:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + FromCells
{
}

impl<T> FromRows for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + FromCells
{
}

fn from_row<O: FromRows>(row: &Row) -> Result<O, sqlx::Error> {
    match row {
        Row::Sqlite(r) => O::from_row(r),
        Row::Pg(r) => O::from_row(r),
        Row::Direct(r) => O::from_cells(r),
    }
}

/// What an `execute` changed.
#[derive(Clone, Copy, Debug)]
pub struct Done {
    rows: u64,
}

impl Done {
    pub fn rows_affected(&self) -> u64 {
        self.rows
    }
}

impl From<SqliteRow> for Row {
    fn from(row: SqliteRow) -> Row {
        Row::Sqlite(row)
    }
}

impl From<PgRow> for Row {
    fn from(row: PgRow) -> Row {
        Row::Pg(row)
    }
}

/// Runs `$body` with `$q`, sqlx's query of `$query` with its values bound
/// for the database `$on` talks to, and `$e`, that pool or connection.
/// On the direct connection, `$direct` gets the rows and the rows changed.
macro_rules! on_target {
    ($query:expr, $on:expr, |$q:ident, $e:ident| $body:expr, |$rows:pat_param, $changed:pat_param| $direct:expr) => {
        match $on.target() {
            Target::Direct(c) => {
                let (sql, args) = $query.direct()?;
                let ($rows, $changed) = c.run_waiting(sql.as_str(), &args).await?;
                $direct
            }
            Target::Sqlite($e) => {
                let (sql, args) = $query.sqlite()?;
                let $q = sqlx::query_with(sql, args);
                $body
            }
            Target::SqlitePool($e) => {
                let (sql, args) = $query.sqlite()?;
                let $q = sqlx::query_with(sql, args);
                $body
            }
            Target::Readers(readers, $e) => {
                let (sql, args) = $query.direct()?;
                // When no reader is free, or SQLite says a lock is held, the
                // pool reads it: it waits for the lock off this thread.
                let in_place = match readers.take() {
                    Some(mut reader) => match reader.run(sql.as_str(), &args) {
                        Err(e) if super::direct::is_locked(&e) => None,
                        answer => Some(answer?),
                    },
                    None => None,
                };
                match in_place {
                    Some(($rows, $changed)) => $direct,
                    None => {
                        let $q = sqlx::query_with(sql, sqlite_arguments(args)?);
                        $body
                    }
                }
            }
            Target::Pg($e) => {
                let (sql, args) = $query.postgres()?;
                let $q = sqlx::query_with(sql, args);
                $body
            }
            Target::PgPool($e) => {
                let (sql, args) = $query.postgres()?;
                let $q = sqlx::query_with(sql, args);
                $body
            }
            Target::PgReaders(readers, pool) => {
                let (sql, args) = $query.postgres()?;
                match readers.take().await {
                    Some(mut reader) => {
                        let again = (sql.clone(), args.clone());
                        let answer: Result<_, sqlx::Error> = async {
                            let $e = reader.conn();
                            let $q = sqlx::query_with(sql, args);
                            Ok($body)
                        }
                        .await;
                        match answer {
                            Ok(answer) => {
                                reader.give_back();
                                answer
                            }
                            // That connection is closed, not reused. It may
                            // be one the server ended (a restart, an idle
                            // timeout), which nothing checked before use:
                            // the read runs once more on the pool, which
                            // checks its connections. Running a read twice
                            // changes nothing.
                            Err(_) => {
                                drop(reader);
                                let $e = pool;
                                let $q = sqlx::query_with(again.0, again.1);
                                $body
                            }
                        }
                    }
                    None => {
                        let $e = pool;
                        let $q = sqlx::query_with(sql, args);
                        $body
                    }
                }
            }
        }
    };
}

/// Values already in SQLite's own types, bound for sqlx's SQLite driver.
fn sqlite_arguments(cells: Vec<Cell>) -> Result<SqliteArguments, sqlx::Error> {
    use sqlx::Arguments as _;
    let mut args = SqliteArguments::default();
    for cell in cells {
        match cell {
            Cell::Null => args.add(None::<i64>),
            Cell::Integer(n) => args.add(n),
            Cell::Real(x) => args.add(x),
            Cell::Text(t) => args.add(t),
            Cell::Blob(b) => args.add(b),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// A statement with its bound values.
pub struct Query<'q> {
    sql: SqlStr,
    pg: Option<SqlStr>,
    args: Vec<Box<dyn Value<'q> + 'q>>,
}

pub fn query<'q>(sql: impl SqlSafeStr) -> Query<'q> {
    Query {
        sql: sql.into_sql_str(),
        pg: None,
        args: Vec::new(),
    }
}

impl<'q> Query<'q> {
    pub fn bind<T: Value<'q>>(mut self, value: T) -> Self {
        self.args.push(Box::new(value));
        self
    }

    /// The statement's PostgreSQL text, where the dialects differ.
    pub fn pg(mut self, sql: impl SqlSafeStr) -> Self {
        self.pg = Some(sql.into_sql_str());
        self
    }

    fn sqlite(self) -> Result<(SqlStr, SqliteArguments), sqlx::Error> {
        let mut args = SqliteArguments::default();
        for v in self.args {
            v.add_sqlite(&mut args).map_err(sqlx::Error::Encode)?;
        }
        Ok((self.sql, args))
    }

    fn direct(self) -> Result<(SqlStr, Vec<Cell>), sqlx::Error> {
        let mut args = Vec::with_capacity(self.args.len());
        for v in self.args {
            v.add_direct(&mut args);
        }
        Ok((self.sql, args))
    }

    fn postgres(self) -> Result<(SqlStr, PgArguments), sqlx::Error> {
        let mut args = PgArguments::default();
        for v in self.args {
            v.add_pg(&mut args).map_err(sqlx::Error::Encode)?;
        }
        Ok((self.pg.unwrap_or(self.sql), args))
    }

    pub async fn execute<'e>(self, on: impl Executor<'e>) -> Result<Done, sqlx::Error> {
        let rows = on_target!(
            self,
            on,
            |q, e| q.execute(e).await?.rows_affected(),
            |_, changed| changed
        );
        Ok(Done { rows })
    }

    pub async fn fetch_all<'e>(self, on: impl Executor<'e>) -> Result<Vec<Row>, sqlx::Error> {
        Ok(on_target!(
            self,
            on,
            |q, e| q.fetch_all(e).await?.into_iter().map(Row::from).collect(),
            |rows, _| rows.into_iter().map(Row::Direct).collect()
        ))
    }

    pub async fn fetch_optional<'e>(
        self,
        on: impl Executor<'e>,
    ) -> Result<Option<Row>, sqlx::Error> {
        Ok(on_target!(
            self,
            on,
            |q, e| q.fetch_optional(e).await?.map(Row::from),
            |rows, _| rows.into_iter().next().map(Row::Direct)
        ))
    }

    pub async fn fetch_one<'e>(self, on: impl Executor<'e>) -> Result<Row, sqlx::Error> {
        self.fetch_optional(on)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }
}

/// A statement whose rows map onto `O`.
pub struct QueryAs<'q, O> {
    inner: Query<'q>,
    out: std::marker::PhantomData<fn() -> O>,
}

pub fn query_as<'q, O: FromRows>(sql: impl SqlSafeStr) -> QueryAs<'q, O> {
    QueryAs {
        inner: query(sql),
        out: std::marker::PhantomData,
    }
}

impl<'q, O: FromRows> QueryAs<'q, O> {
    pub fn bind<T: Value<'q>>(mut self, value: T) -> Self {
        self.inner = self.inner.bind(value);
        self
    }

    pub fn pg(mut self, sql: impl SqlSafeStr) -> Self {
        self.inner = self.inner.pg(sql);
        self
    }

    pub async fn fetch_all<'e>(self, on: impl Executor<'e>) -> Result<Vec<O>, sqlx::Error> {
        self.inner
            .fetch_all(on)
            .await?
            .iter()
            .map(from_row)
            .collect()
    }

    pub async fn fetch_optional<'e>(self, on: impl Executor<'e>) -> Result<Option<O>, sqlx::Error> {
        self.inner
            .fetch_optional(on)
            .await?
            .as_ref()
            .map(from_row)
            .transpose()
    }

    pub async fn fetch_one<'e>(self, on: impl Executor<'e>) -> Result<O, sqlx::Error> {
        from_row(&self.inner.fetch_one(on).await?)
    }
}

/// A statement whose first column is the answer.
pub struct QueryScalar<'q, O> {
    inner: Query<'q>,
    out: std::marker::PhantomData<fn() -> O>,
}

pub fn query_scalar<'q, O: Decodable>(sql: impl SqlSafeStr) -> QueryScalar<'q, O> {
    QueryScalar {
        inner: query(sql),
        out: std::marker::PhantomData,
    }
}

impl<'q, O: Decodable> QueryScalar<'q, O> {
    pub fn bind<T: Value<'q>>(mut self, value: T) -> Self {
        self.inner = self.inner.bind(value);
        self
    }

    pub fn pg(mut self, sql: impl SqlSafeStr) -> Self {
        self.inner = self.inner.pg(sql);
        self
    }

    pub async fn fetch_all<'e>(self, on: impl Executor<'e>) -> Result<Vec<O>, sqlx::Error> {
        self.inner
            .fetch_all(on)
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect()
    }

    pub async fn fetch_optional<'e>(self, on: impl Executor<'e>) -> Result<Option<O>, sqlx::Error> {
        self.inner
            .fetch_optional(on)
            .await?
            .map(|r| r.try_get(0))
            .transpose()
    }

    pub async fn fetch_one<'e>(self, on: impl Executor<'e>) -> Result<O, sqlx::Error> {
        self.inner.fetch_one(on).await?.try_get(0)
    }
}

/// Runs several `;`-separated statements without parameters (schema set-up).
pub async fn raw<'e>(sql: &'static str, on: impl Executor<'e>) -> Result<(), sqlx::Error> {
    match on.target() {
        Target::Sqlite(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        Target::SqlitePool(p) | Target::Readers(_, p) => {
            sqlx::raw_sql(sql).execute(p).await.map(|_| ())
        }
        Target::Pg(c) => sqlx::raw_sql(sql).execute(c).await.map(|_| ()),
        Target::PgPool(p) | Target::PgReaders(_, p) => {
            sqlx::raw_sql(sql).execute(p).await.map(|_| ())
        }
        Target::Direct(c) => c.batch(sql),
    }
}
