//! WAL checkpoints off the group writer's thread.
//!
//! SQLite copies the write-ahead log back into the database file (a
//! checkpoint) on the connection whose commit took the log past 1,000
//! pages: with the group writer that was the writer's own thread, which
//! then wrote a few megabytes and waited for two more fsyncs while every
//! payment queued behind it. A thread of its own, with its own connection,
//! checkpoints instead, a moment after commits were made (`PASSIVE`: it
//! never waits for the writer or the readers, and copies what no reader
//! still needs). The writer's connection checkpoints itself only if the
//! log grows past `WRITER_CATCH_UP_PAGES` (this thread stuck or gone), so
//! the log stays bounded whatever happens here.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::direct::{DirectConn, IDLE_CACHE_KIB};

/// Log pages past which the writer's own commit checkpoints after all.
pub const WRITER_CATCH_UP_PAGES: u32 = 20_000;

/// How long commits gather before a checkpoint copies them: a few fsyncs
/// of the database file a second, beside the writer's hundreds of the log.
const GATHER: Duration = Duration::from_millis(200);

/// Tells the checkpoint thread that commits were made. Dropped (the writer
/// stopped), the thread ends.
#[derive(Debug)]
pub struct Checkpointer {
    wake: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on its own connection to the database at `path`.
    pub fn start(path: &Path, busy_timeout: Duration) -> Result<Checkpointer, sqlx::Error> {
        let conn = connection(path, busy_timeout)?;
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("fieldpay-checkpoint".into())
            .spawn(move || run(conn, woken))
            .map_err(sqlx::Error::Io)?;
        Ok(Checkpointer { wake })
    }

    /// Commits were made: a checkpoint follows shortly. Never waits.
    pub fn after_commit(&self) {
        // Full: a checkpoint is already due.
        self.wake.try_send(()).ok();
    }
}

/// The checkpointer's connection: the writer's settings, with a small page
/// cache (a checkpoint copies frames from the log without it, and every
/// connection's cache adds to the process's shared one: `direct`).
fn connection(path: &Path, busy_timeout: Duration) -> Result<DirectConn, sqlx::Error> {
    let mut conn = DirectConn::open(path, busy_timeout)?;
    conn.batch(&format!("PRAGMA cache_size = {IDLE_CACHE_KIB};"))?;
    Ok(conn)
}

fn run(mut conn: DirectConn, woken: mpsc::Receiver<()>) {
    while woken.recv().is_ok() {
        std::thread::sleep(GATHER);
        // The wake-up sent meanwhile is for the commits copied now.
        woken.try_recv().ok();
        if let Err(e) = conn.batch("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %e, "WAL checkpoint failed; the writer catches up itself if the log keeps growing");
        }
    }
}

#[cfg(test)]
mod tests {
    /// A checkpoint reads no pages through the cache: its connection asks
    /// for little of the process's shared page cache.
    #[test]
    fn the_checkpointer_keeps_a_small_page_cache() {
        let dir = std::env::temp_dir().join(format!("fp-ckpt-{}", crate::crypto::new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::File::create(dir.join("c.db")).unwrap();
        let mut conn =
            super::connection(&dir.join("c.db"), std::time::Duration::from_secs(1)).unwrap();
        let (rows, _) = conn.run("PRAGMA cache_size", &[]).unwrap();
        assert_eq!(
            rows[0].get::<i64, _>(0).unwrap(),
            i64::from(super::IDLE_CACHE_KIB)
        );
        std::fs::remove_dir_all(dir).ok();
    }
}
