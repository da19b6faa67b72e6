//! The machine's own limit for durable commits: a bare SQLite loop, one
//! row per transaction, `synchronous=FULL` in WAL mode (as the server runs
//! it), on the disk the benchmark's database is on. Each commit waits for
//! its fsync, so commits per second here is what one writer without group
//! commit could reach at best.

use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

pub struct FsyncLimit {
    pub commits: u64,
    pub elapsed: Duration,
}

impl FsyncLimit {
    pub fn per_sec(&self) -> f64 {
        self.commits as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Commits one-row transactions in `dir` for `dur`.
pub async fn measure(dir: &Path, dur: Duration) -> anyhow::Result<FsyncLimit> {
    let path = dir.join("fsync-limit.db");
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::raw_sql("CREATE TABLE t (x INTEGER NOT NULL)")
        .execute(&mut conn)
        .await?;
    let started = Instant::now();
    let mut commits = 0u64;
    while started.elapsed() < dur {
        sqlx::query("INSERT INTO t (x) VALUES ($1)")
            .bind(commits as i64)
            .execute(&mut conn)
            .await?;
        commits += 1;
    }
    let elapsed = started.elapsed();
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        std::fs::remove_file(format!("{}{suffix}", path.display())).ok();
    }
    Ok(FsyncLimit { commits, elapsed })
}
