//! Group commit. SQLite has one writer and `synchronous=FULL` pays an fsync
//! per commit; concurrent writes are therefore queued to one task that runs a
//! batch of them in one transaction, each inside its own savepoint, and
//! commits once. A job that fails rolls back to its savepoint alone; every
//! caller hears its result only after the shared commit is durable.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::{mpsc, oneshot};

use super::{Backend, Conn, Pool, StoreError};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// Called once the batch's commit has succeeded (`Ok`) or failed (`Err`).
type Finish = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, (bool, Finish)> + Send>;

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
        tokio::spawn(run(pool, rx));
        GroupWriter { jobs }
    }

    /// Runs `work` in the next batch. `Err` from `work` undoes its writes only.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: for<'c> FnOnce(&'c mut Conn) -> BoxFuture<'c, Result<T, E>> + Send + 'static,
    {
        let (done, outcome) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn| {
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
        self.jobs.send(job).map_err(|_| {
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

/// Begins the batch's transaction holding the database's write lock.
async fn begin(conn: &mut Conn) -> Result<(), String> {
    match conn.backend() {
        Backend::Sqlite => exec(conn, "BEGIN IMMEDIATE").await,
        Backend::Postgres => {
            exec(conn, super::sql::PG_BEGIN).await?;
            exec(conn, super::sql::PG_WRITE_LOCK).await
        }
    }
}

async fn run(pool: Pool, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Dropping a job unrun tells its caller nothing was saved.
        let Ok(mut conn) = pool.acquire().await else {
            tracing::error!("database writer cannot get its connection");
            continue;
        };
        if let Err(e) = begin(&mut conn).await {
            // Never back into the pool inside a transaction.
            exec(&mut conn, "ROLLBACK").await.ok();
            tracing::error!(error = %e, "database writer cannot begin");
            continue;
        }
        let mut finishers = Vec::with_capacity(batch.len());
        for job in batch {
            if exec(&mut conn, "SAVEPOINT job").await.is_err() {
                continue;
            }
            let (ok, finish) = job(&mut conn).await;
            let closed = if ok {
                exec(&mut conn, "RELEASE job").await
            } else {
                match exec(&mut conn, "ROLLBACK TO job").await {
                    Ok(()) => exec(&mut conn, "RELEASE job").await,
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = closed {
                tracing::error!(error = %e, "savepoint could not be closed; the batch is abandoned");
                exec(&mut conn, "ROLLBACK").await.ok();
                for f in finishers.drain(..) {
                    let f: Finish = f;
                    f(Err(e.clone()));
                }
                finish(Err(e));
                break;
            }
            finishers.push(finish);
        }
        if finishers.is_empty() {
            exec(&mut conn, "ROLLBACK").await.ok();
            continue;
        }
        let commit = exec(&mut conn, "COMMIT").await;
        if commit.is_err() {
            exec(&mut conn, "ROLLBACK").await.ok();
        }
        for f in finishers {
            f(commit.clone());
        }
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

    #[tokio::test]
    async fn a_constraint_error_in_one_job_leaves_the_batch_usable() {
        let (db, dir) = fresh().await;
        let dup = |x: i64| {
            let db = db.clone();
            async move {
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
        };
        let (a, b, c) = tokio::join!(dup(1), dup(1), dup(2));
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
