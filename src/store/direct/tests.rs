//! The tests of `store::direct`: the writer's and the readers' connections.

use crate::store::{Db, StoreError, sql};

type Values = (
    i64,
    bool,
    String,
    Option<String>,
    time::Date,
    time::OffsetDateTime,
);

const READ: &str = "SELECT n, flag, name, note, day, at FROM t";

/// Short reads run in place on read-only connections, at most `max` at
/// once; the next one is told to use the pool.
#[tokio::test]
async fn point_reads_run_on_read_only_readers_in_place() {
    let dir = std::env::temp_dir().join(format!("fp-readers-{}", crate::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.db");
    let db = Db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sql::query("CREATE TABLE t (n INTEGER NOT NULL)")
        .execute(db.writer())
        .await
        .unwrap();
    sql::query("INSERT INTO t (n) VALUES (7)")
        .execute(db.writer())
        .await
        .unwrap();
    let n: i64 = sql::query_scalar("SELECT n FROM t")
        .fetch_one(db.point_reader())
        .await
        .unwrap();
    assert_eq!(n, 7);
    let readers = super::DirectReaders::new(path, 1);
    let mut first = readers.take().expect("a reader");
    let (rows, _) = first.run("SELECT n FROM t", &[]).unwrap();
    assert_eq!(rows.len(), 1);
    let written = first.run("INSERT INTO t (n) VALUES (8)", &[]);
    assert!(written.is_err(), "a reader must not write");
    assert!(readers.take().is_none(), "only one reader was allowed");
    drop(first);
    assert!(readers.take().is_some(), "the reader was given back");
    std::fs::remove_dir_all(dir).ok();
}

/// A read SQLite answers "busy" (another connection holds a lock it
/// needs) is read through the pool, which waits for the lock on a
/// thread of its own: the runtime's one thread goes on meanwhile. (In
/// WAL mode a reader is rarely refused; a rollback-journal file, where
/// a writer's exclusive lock keeps readers out, makes it happen.)
#[tokio::test(flavor = "current_thread")]
async fn a_locked_read_waits_in_the_pool_not_on_the_runtime_thread() {
    use std::time::Duration;
    let dir = std::env::temp_dir().join(format!("fp-locked-{}", crate::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.db");
    let setup = rusqlite::Connection::open(&path).unwrap();
    setup
        .execute_batch(
            "PRAGMA journal_mode = DELETE; CREATE TABLE t (n INTEGER NOT NULL);
             INSERT INTO t (n) VALUES (7);",
        )
        .unwrap();
    drop(setup);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Delete)
        .busy_timeout(Duration::from_secs(5));
    let sqlite = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let pool = sql::Pool::new(
        sql::PoolKind::Sqlite(sqlite),
        crate::domain::Clock::system(),
    )
    .with_readers(std::sync::Arc::new(super::DirectReaders::new(
        path.clone(),
        1,
    )));
    let (read, ticks) = while_locked(
        &path,
        "BEGIN EXCLUSIVE; INSERT INTO t (n) VALUES (8);",
        Duration::from_millis(400),
        sql::query_scalar::<i64>("SELECT n FROM t ORDER BY n").fetch_all(&pool),
    )
    .await;
    assert_eq!(read.unwrap(), vec![7, 8], "read once the lock was let go");
    assert!(
        ticks >= 10,
        "the runtime's thread waited for the lock ({ticks} ticks of 10 ms)"
    );
    pool.close().await;
    std::fs::remove_dir_all(dir).ok();
}

/// A statement of a connection used in place (the sandbox's) that
/// finds another connection's write lock waits asleep on the runtime:
/// the runtime's one thread goes on, and the write is made once the
/// lock is let go.
#[tokio::test(flavor = "current_thread")]
async fn an_in_place_write_waits_for_a_lock_without_holding_the_runtime_thread() {
    use std::time::Duration;
    let dir = std::env::temp_dir().join(format!("fp-inplace-{}", crate::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (n INTEGER NOT NULL);")
        .unwrap();
    let mut conn = super::DirectConn::open_normal_sync(&path, Duration::from_secs(5)).unwrap();
    let (written, ticks) = while_locked(
        &path,
        "BEGIN IMMEDIATE; INSERT INTO t (n) VALUES (1);",
        Duration::from_millis(300),
        conn.run_waiting("INSERT INTO t (n) VALUES (2)", &[]),
    )
    .await;
    let (_, changed) = written.unwrap();
    assert_eq!(changed, 1);
    let (rows, _) = conn.run("SELECT n FROM t", &[]).unwrap();
    assert_eq!(rows.len(), 2, "both writes were made");
    assert!(
        ticks >= 10,
        "the runtime's thread waited for the lock ({ticks} ticks of 10 ms)"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// What the group writer's connection reads back is what sqlx reads
/// back from the same rows, for each kind of value the store binds.
#[tokio::test]
async fn the_writer_binds_and_reads_values_as_sqlx_does() {
    let dir = std::env::temp_dir().join(format!("fp-direct-{}", crate::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();
    let db = Db::connect(&format!("sqlite://{}/d.db", dir.display()))
        .await
        .unwrap();
    sql::query(
        "CREATE TABLE t (n INTEGER NOT NULL, flag BOOLEAN NOT NULL, name TEXT NOT NULL UNIQUE,
         note TEXT, day DATE NOT NULL, at TEXT NOT NULL)",
    )
    .execute(db.writer())
    .await
    .unwrap();
    let at = time::OffsetDateTime::from_unix_timestamp(1_796_000_000).unwrap()
        + time::Duration::microseconds(410_000);
    let day = at.date();
    let written: Values = db
        .write(move |conn| {
            Box::pin(async move {
                let done = sql::query(
                    "INSERT INTO t (n, flag, name, note, day, at) VALUES ($2, $3, $1, $4, $5, $6)",
                )
                .bind("first")
                .bind(-7i64)
                .bind(true)
                .bind(None::<String>)
                .bind(day)
                .bind(at)
                .execute(&mut *conn)
                .await?;
                assert_eq!(done.rows_affected(), 1);
                let again =
                    sql::query("INSERT INTO t (n, flag, name, day, at) VALUES (1, 0, $1, $2, $3)")
                        .bind("first")
                        .bind(day)
                        .bind(at)
                        .execute(&mut *conn)
                        .await
                        .map_err(StoreError::from);
                assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
                Ok::<_, StoreError>(sql::query_as::<Values>(READ).fetch_one(&mut *conn).await?)
            })
        })
        .await
        .unwrap();
    let read: Values = sql::query_as(READ).fetch_one(db.reader()).await.unwrap();
    assert_eq!(written, read);
    assert_eq!(written, (-7, true, "first".into(), None, day, at));
    std::fs::remove_dir_all(dir).ok();
}

/// Runs `work` on the test's (one-thread) runtime while another connection
/// holds the lock `lock_sql` takes on `path` for `held`, then commits; what
/// `work` answered, and how many 10 ms ticks another task counted meanwhile
/// (none when `work` held the runtime's thread).
async fn while_locked<T>(
    path: &std::path::Path,
    lock_sql: &'static str,
    held: std::time::Duration,
    work: impl std::future::Future<Output = T>,
) -> (T, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (locked, is_locked) = std::sync::mpsc::channel();
    let holder = std::thread::spawn({
        let path = path.to_path_buf();
        move || {
            let other = rusqlite::Connection::open(&path).unwrap();
            other.execute_batch(lock_sql).unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(held);
            other.execute_batch("COMMIT").unwrap();
        }
    });
    is_locked.recv().unwrap();
    let ticks = std::sync::Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = ticks.clone();
        async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                ticks.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let out = work.await;
    ticker.abort();
    holder.join().unwrap();
    (out, ticks.load(Ordering::SeqCst))
}

/// All connections of the process share one page cache, each adding its
/// `cache_size` to the limit: the group writer keeps SQLite's default, a
/// connection used in place for short statements by key a reader's.
#[test]
fn connections_ask_for_the_page_cache_they_use() {
    let dir = std::env::temp_dir().join(format!("fp-cache-{}", crate::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("c.db");
    std::fs::File::create(&path).unwrap();
    let cache_size = |conn: &mut super::DirectConn| -> i64 {
        let (rows, _) = conn.run("PRAGMA cache_size", &[]).unwrap();
        rows[0].get(0).unwrap()
    };
    let second = std::time::Duration::from_secs(1);
    let mut writer = super::DirectConn::open(&path, second).unwrap();
    assert_eq!(cache_size(&mut writer), -2000, "SQLite's default");
    let mut in_place = super::DirectConn::open_normal_sync(&path, second).unwrap();
    assert_eq!(
        cache_size(&mut in_place),
        i64::from(super::READER_CACHE_KIB)
    );
    let mut reader = super::DirectConn::open_reader(&path, second).unwrap();
    assert_eq!(cache_size(&mut reader), i64::from(super::READER_CACHE_KIB));
    std::fs::remove_dir_all(dir).ok();
}
