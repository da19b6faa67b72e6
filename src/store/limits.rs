//! Rate-limit counters shared by every server process on the database
//! (`rate_limits`, migration 0016): fixed windows, one row per (scope, key).
//!
//! Not scoped by company: these limits guard sign-in and link guessing,
//! before any company is known. Keys are client addresses or hashes of
//! account emails (see `crate::web::limits`).

use time::OffsetDateTime;

use super::{Conn, StoreResult};

/// Unix milliseconds of an instant.
pub fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Counts one hit on each `(scope, key)` at `now` in windows of `window_ms`
/// and answers, in the same order, how many hits each has in its current
/// window, this one included. One statement for all keys: a key's window
/// restarts at `now` when the previous one has ended. Duplicate pairs count
/// once.
pub async fn hit(
    conn: &mut Conn,
    keys: &[(&str, &str)],
    now: OffsetDateTime,
    window_ms: i64,
) -> StoreResult<Vec<i64>> {
    let mut unique: Vec<(&str, &str)> = Vec::with_capacity(keys.len());
    for k in keys {
        if !unique.contains(k) {
            unique.push(*k);
        }
    }
    if unique.is_empty() {
        return Ok(Vec::new());
    }
    let values = (0..unique.len())
        .map(|i| format!("(${}, ${}, $1, 1)", 3 + 2 * i, 4 + 2 * i))
        .collect::<Vec<_>>()
        .join(", ");
    // Every right-hand side reads the row as it was (SQLite and PostgreSQL
    // alike), so `hits` and `window_start` test the same old window.
    let sql = format!(
        "INSERT INTO rate_limits (scope, key, window_start, hits) VALUES {values}
         ON CONFLICT (scope, key) DO UPDATE SET
             hits = CASE WHEN rate_limits.window_start <= $2 THEN 1
                         ELSE rate_limits.hits + 1 END,
             window_start = CASE WHEN rate_limits.window_start <= $2 THEN $1
                                 ELSE rate_limits.window_start END
         RETURNING scope, key, hits"
    );
    let now_ms = millis(now);
    let mut q = crate::store::sql::query_as::<(String, String, i64)>(super::dynamic_sql(sql))
        .bind(now_ms)
        .bind(now_ms.saturating_sub(window_ms));
    for (scope, key) in &unique {
        q = q.bind(*scope).bind(*key);
    }
    let rows = q.fetch_all(&mut *conn).await?;
    Ok(keys
        .iter()
        .map(|(scope, key)| {
            rows.iter()
                .find(|(s, k, _)| s == scope && k == key)
                .map(|(_, _, hits)| *hits)
                .unwrap_or(0)
        })
        .collect())
}

/// Forgets counters whose window ended before `before` (bounded table).
pub async fn sweep(conn: &mut Conn, before: OffsetDateTime) -> StoreResult<u64> {
    Ok(
        crate::store::sql::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(millis(before))
            .execute(&mut *conn)
            .await?
            .rows_affected(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Db;

    #[tokio::test]
    async fn counts_per_key_in_fixed_windows() {
        let dir = std::env::temp_dir().join(crate::crypto::new_id("fp-limits"));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/l.db", dir.display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let t0 = time::macros::datetime!(2026-01-01 12:00:00 UTC);
        let window = 60_000;
        let mut tx = db.begin_write().await.unwrap();
        let a = ("s", "a");
        let b = ("s", "b");
        assert_eq!(hit(&mut tx, &[a, b], t0, window).await.unwrap(), [1, 1]);
        assert_eq!(hit(&mut tx, &[a], t0, window).await.unwrap(), [2]);
        // The same pair twice counts once, and answers twice.
        assert_eq!(hit(&mut tx, &[a, a], t0, window).await.unwrap(), [3, 3]);
        let later = t0 + time::Duration::seconds(59);
        assert_eq!(hit(&mut tx, &[a, b], later, window).await.unwrap(), [4, 2]);
        // A new window starts once the last one has ended.
        let next = t0 + time::Duration::seconds(60);
        assert_eq!(hit(&mut tx, &[a], next, window).await.unwrap(), [1]);
        // `b`'s window (from t0) ended; `a`'s (from `next`) has not.
        assert_eq!(
            sweep(&mut tx, next - time::Duration::seconds(1))
                .await
                .unwrap(),
            1
        );
        assert_eq!(hit(&mut tx, &[b], next, window).await.unwrap(), [1]);
        tx.commit().await.unwrap();
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }
}
