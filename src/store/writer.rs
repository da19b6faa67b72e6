//! Group commit. SQLite has one writer and `synchronous=FULL` pays an fsync
//! per commit; concurrent writes are therefore queued to one task that runs a
//! batch of them in one transaction, each inside its own savepoint, and
//! commits once. A job that fails rolls back to its savepoint alone; every
//! caller hears its result only after the shared commit is durable.
//!
//! On SQLite the writer is a thread of its own with its own connection to
//! the database file (`direct.rs`): a job's statements run there in one
//! step, from the statement cache, without a hand-off per statement, and the
//! commit's fsync is waited for there, not on the async runtime's threads.
//! (An in-memory database has no file to share: its batches run on the
//! pool's connection.)
//!
//! On PostgreSQL a batch holds the advisory locks of its jobs' scope
//! (`WriteScope`), so a batch has one scope: one company's jobs, or the
//! whole database's. Batches of different scopes run at once, each on its
//! own connection; one scope has one batch at a time in a process (a second
//! would only wait for the first's lock while holding a connection).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::checkpoint::{Checkpointer, WRITER_CATCH_UP_PAGES};
use super::direct::DirectConn;
use super::{Backend, Conn, Pool, StoreError, WriteScope};
use crate::domain::Clock;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// Called once the batch's commit has succeeded (`Ok`) or failed (`Err`).
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Work = Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, (bool, Finish)> + Send>;

struct Job {
    scope: WriteScope,
    work: Work,
}

/// Most jobs in one transaction; enough to amortise the fsync, few enough to
/// keep the write lock short.
const MAX_BATCH: usize = 64;

#[derive(Clone, Debug)]
pub struct GroupWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl GroupWriter {
    pub fn start(pool: Pool) -> GroupWriter {
        let (jobs, rx) = mpsc::unbounded_channel();
        match pool.backend() {
            Backend::Sqlite => tokio::spawn(run_one_writer(pool, rx)),
            Backend::Postgres => tokio::spawn(run_by_scope(pool, rx)),
        };
        GroupWriter { jobs }
    }

    /// SQLite's writer on a thread of its own, with `conn` (opened on
    /// `path`, reopened there after a failure that left it unusable).
    pub fn start_direct(
        conn: DirectConn,
        path: PathBuf,
        busy_timeout: Duration,
        clock: Clock,
    ) -> std::io::Result<GroupWriter> {
        let (jobs, rx) = mpsc::unbounded_channel();
        let runtime = tokio::runtime::Handle::try_current().ok();
        std::thread::Builder::new()
            .name("fieldpay-writer".into())
            .spawn(move || {
                // Jobs may use the runtime (a timer, a spawn); they run here.
                let _entered = runtime.as_ref().map(|r| r.enter());
                // Checkpoints on a thread of their own; without it the
                // writer's commits checkpoint as SQLite does by default.
                let checkpointer = Checkpointer::start(&path, busy_timeout)
                    .map_err(|e| tracing::warn!(error = %e, "no checkpoint thread; the writer checkpoints itself"))
                    .ok();
                let catch_up = checkpointer.is_some();
                let open = |mut c: DirectConn| {
                    if catch_up {
                        c.batch(&format!(
                            "PRAGMA wal_autocheckpoint = {WRITER_CATCH_UP_PAGES}"
                        ))?;
                    }
                    Ok(Conn::direct(c, clock.clone()))
                };
                let conn = match open(conn) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        tracing::error!(error = %e, "database writer cannot set up its connection");
                        None
                    }
                };
                run_direct_writer(conn, rx, checkpointer, || {
                    DirectConn::open(&path, busy_timeout).and_then(&open)
                });
            })?;
        Ok(GroupWriter { jobs })
    }

    /// Runs `work` in the next batch of `scope`. `Err` from `work` undoes
    /// its writes only.
    pub async fn write<T, E, F>(&self, scope: WriteScope, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (done, outcome) = oneshot::channel::<Result<T, E>>();
        let work: Work = Box::new(move |conn| {
            Box::pin(async move {
                let result = work(conn).await;
                let ok = result.is_ok();
                let finish: Finish = Box::new(move |commit| {
                    let out = match (result, commit) {
                        (Ok(_), Err(reason)) => Err(E::from(StoreError::Unavailable(reason))),
                        (result, _) => result,
                    };
                    done.send(out).ok();
                });
                (ok, finish)
            })
        });
        self.jobs.send(Job { scope, work }).map_err(|_| {
            E::from(StoreError::Unavailable(
                "the database writer has stopped".into(),
            ))
        })?;
        outcome.await.unwrap_or_else(|_| {
            Err(E::from(StoreError::Unavailable(
                "the write was not run; nothing was saved".into(),
            )))
        })
    }
}

async fn exec(conn: &mut Conn, sql: &'static str) -> Result<(), String> {
    super::sql::query(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Begins the batch's transaction holding the write lock of its scope:
/// SQLite's one write lock, or PostgreSQL's advisory locks of `scope`.
async fn begin(conn: &mut Conn, scope: &WriteScope) -> Result<(), String> {
    match conn.backend() {
        Backend::Sqlite => exec(conn, "BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            exec(conn, super::sql::PG_BEGIN).await?;
            scope
                .pg_lock()
                .execute(&mut *conn)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

/// The jobs waiting in the channel now, after `first`, up to `MAX_BATCH`.
fn take_waiting(first: Job, rx: &mut mpsc::UnboundedReceiver<Job>) -> Vec<Job> {
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    batch
}

/// SQLite: one writer, so one batch at a time whatever the jobs' scopes
/// (SQLite's write lock is the whole database's anyway).
async fn run_one_writer(pool: Pool, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let batch = take_waiting(first, &mut rx);
        run_batch(&pool, &WriteScope::Database, batch).await;
    }
}

/// SQLite with a file: batches run one at a time on the writer's thread,
/// each to its end in one step (the jobs' statements complete as they are
/// polled).
fn run_direct_writer(
    mut conn: Option<Conn>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    checkpointer: Option<Checkpointer>,
    reopen: impl Fn() -> Result<Conn, sqlx::Error>,
) {
    while let Some(first) = rx.blocking_recv() {
        let batch = take_waiting(first, &mut rx);
        if conn.is_none() {
            conn = reopen()
                .map_err(
                    |e| tracing::error!(error = %e, "database writer cannot open its connection"),
                )
                .ok();
        }
        // Dropping the jobs unrun tells their callers nothing was saved.
        let Some(c) = conn.as_mut() else { continue };
        block_on(run_batch_on(c, &WriteScope::Database, batch));
        if let Some(checkpointer) = &checkpointer {
            checkpointer.after_commit();
        }
        if c.direct_in_transaction() {
            // Never run the next batch inside this one's transaction.
            tracing::error!("database writer's connection was left in a transaction; reopening it");
            conn = None;
        }
    }
}

/// Polls `work` to its end on this thread. The direct connection's
/// statements never wait, so a job is ready when first polled; anything
/// else it awaits parks the writer until woken.
fn block_on<F: Future>(work: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut work = std::pin::pin!(work);
    loop {
        if let Poll::Ready(out) = work.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

/// PostgreSQL: a queue per scope; each scope's next batch starts as soon as
/// its previous one has committed, beside the other scopes' batches.
async fn run_by_scope(pool: Pool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut queues: HashMap<WriteScope, VecDeque<Job>> = HashMap::new();
    let (finished, mut finished_rx) = mpsc::unbounded_channel::<WriteScope>();
    let mut running: Vec<WriteScope> = Vec::new();
    let mut open = true;
    while open || !running.is_empty() {
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(first) => {
                    for job in take_waiting(first, &mut rx) {
                        queues.entry(job.scope.clone()).or_default().push_back(job);
                    }
                }
                None => open = false,
            },
            Some(scope) = finished_rx.recv() => running.retain(|s| *s != scope),
        }
        for (scope, queue) in queues.iter_mut() {
            if queue.is_empty() || running.contains(scope) {
                continue;
            }
            let n = queue.len().min(MAX_BATCH);
            let batch: Vec<Job> = queue.drain(..n).collect();
            running.push(scope.clone());
            let pool = pool.clone();
            let done = Finished {
                scope: Some(scope.clone()),
                to: finished.clone(),
            };
            tokio::spawn(async move {
                let scope = done.scope.clone().unwrap_or(WriteScope::Database);
                run_batch(&pool, &scope, batch).await;
                drop(done);
            });
        }
        queues.retain(|_, q| !q.is_empty());
    }
}

/// Tells the scheduler a scope's batch is over when dropped, even by a
/// panic in one of its jobs: the scope's next batch may then start.
struct Finished {
    scope: Option<WriteScope>,
    to: mpsc::UnboundedSender<WriteScope>,
}

impl Drop for Finished {
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            self.to.send(scope).ok();
        }
    }
}

/// `run_batch_on` a connection of the pool.
async fn run_batch(pool: &Pool, scope: &WriteScope, batch: Vec<Job>) {
    // Dropping a job unrun tells its caller nothing was saved.
    let Ok(mut conn) = pool.acquire().await else {
        tracing::error!("database writer cannot get its connection");
        return;
    };
    run_batch_on(&mut conn, scope, batch).await;
}

/// One transaction for `batch`, each job in its own savepoint, one commit.
async fn run_batch_on(conn: &mut Conn, scope: &WriteScope, batch: Vec<Job>) {
    if let Err(e) = begin(conn, scope).await {
        // Never back into the pool inside a transaction.
        exec(conn, "ROLLBACK").await.ok();
        tracing::error!(error = %e, "database writer cannot begin");
        return;
    }
    let mut finishers = Vec::with_capacity(batch.len());
    for job in batch {
        if exec(conn, "SAVEPOINT job").await.is_err() {
            continue;
        }
        let (ok, finish) = (job.work)(conn).await;
        // On PostgreSQL a job that succeeded leaves its savepoint open (the
        // commit releases them all, one round trip fewer per job); the next
        // job's savepoint nests inside it, and `ROLLBACK TO job` goes back
        // to the newest one of that name: the failed job's own. SQLite
        // releases it: while savepoints are open, every page a job changes
        // is first copied to the savepoints' journal, once per open
        // savepoint, so nested ones copied a batch's pages again and again.
        let closed = if !ok {
            exec(conn, "ROLLBACK TO job").await
        } else if conn.backend() == Backend::Sqlite {
            exec(conn, "RELEASE job").await
        } else {
            Ok(())
        };
        if let Err(e) = closed {
            tracing::error!(error = %e, "savepoint could not be closed; the batch is abandoned");
            exec(conn, "ROLLBACK").await.ok();
            for f in finishers.drain(..) {
                let f: Finish = f;
                f(Err(e.clone()));
            }
            finish(Err(e));
            return;
        }
        finishers.push(finish);
    }
    if finishers.is_empty() {
        exec(conn, "ROLLBACK").await.ok();
        return;
    }
    let commit = exec(conn, "COMMIT").await;
    if commit.is_err() {
        exec(conn, "ROLLBACK").await.ok();
    }
    for f in finishers {
        f(commit.clone());
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{Db, StoreError};

    async fn fresh() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("fp-writer-{}", crate::crypto::new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/w.db", dir.display()))
            .await
            .unwrap();
        crate::store::sql::query("CREATE TABLE t (x INTEGER PRIMARY KEY)")
            .execute(db.writer())
            .await
            .unwrap();
        (db, dir)
    }

    /// One write job inserting `x` into the test table.
    async fn insert(db: &Db, x: i64) -> Result<(), StoreError> {
        db.write(move |conn| {
            Box::pin(async move {
                crate::store::sql::query("INSERT INTO t (x) VALUES ($1)")
                    .bind(x)
                    .execute(&mut *conn)
                    .await
                    .map_err(StoreError::from)?;
                Ok::<_, StoreError>(())
            })
        })
        .await
    }

    #[tokio::test]
    async fn a_failing_job_undoes_only_its_own_writes() {
        let (db, dir) = fresh().await;
        let mut tasks = Vec::new();
        for i in 0..50i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |conn| {
                    Box::pin(async move {
                        crate::store::sql::query("INSERT INTO t (x) VALUES ($1)")
                            .bind(i)
                            .execute(&mut *conn)
                            .await
                            .map_err(StoreError::from)?;
                        if i % 5 == 0 {
                            // Writes, then fails: its row must vanish.
                            return Err(StoreError::Invalid);
                        }
                        Ok(i)
                    })
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Invalid) => {}
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(ok, 40);
        let rows: i64 = crate::store::sql::query_scalar("SELECT COUNT(*) FROM t WHERE x % 5 <> 0")
            .fetch_one(db.reader())
            .await
            .unwrap();
        let failed_rows: i64 =
            crate::store::sql::query_scalar("SELECT COUNT(*) FROM t WHERE x % 5 = 0")
                .fetch_one(db.reader())
                .await
                .unwrap();
        assert_eq!((rows, failed_rows), (40, 0));
        std::fs::remove_dir_all(dir).ok();
    }

    /// The writer's commits reach the database file itself (a checkpoint)
    /// a moment later, far below the thousand pages of log at which a
    /// commit would checkpoint on the writer's own thread.
    #[tokio::test]
    async fn the_checkpoint_thread_copies_commits_into_the_database_file() {
        let (db, dir) = fresh().await;
        let file = dir.join("w.db");
        let before = std::fs::metadata(&file).unwrap().len();
        for x in 0..20i64 {
            insert(&db, x).await.unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut after = before;
        while after <= before && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            after = std::fs::metadata(&file).unwrap().len();
        }
        assert!(
            after > before,
            "the database file stayed at {before} bytes: the commits are only in the log"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn a_constraint_error_in_one_job_leaves_the_batch_usable() {
        let (db, dir) = fresh().await;
        let (a, b, c) = tokio::join!(insert(&db, 1), insert(&db, 1), insert(&db, 2));
        let conflicts = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(StoreError::Conflict)))
            .count();
        assert_eq!(conflicts, 1);
        assert!(c.is_ok());
        let n: i64 = crate::store::sql::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(db.reader())
            .await
            .unwrap();
        assert_eq!(n, 2);
        std::fs::remove_dir_all(dir).ok();
    }
}
