//! The process's life with the database: whether it is ready to serve
//! (`GET /readyz`), and what it gives back when it stops (outbox claims).

use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;

use super::migrations::MIGRATIONS;
use super::{Conn, Db, StoreResult};
use crate::domain::ids::MessageId;

/// How long the readiness check waits for the database.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// Why the process cannot serve yet, as `/readyz` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotReady {
    /// `database_unreachable` or `migrations_pending`.
    pub reason: &'static str,
    pub message: String,
    /// Migrations this binary has that the database has not applied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_migrations: Vec<i64>,
}

/// How the applied migrations compare with the ones this binary embeds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Embedded but not applied: the schema is older than the code.
    pub missing: Vec<i64>,
    /// Applied but not embedded: a newer release migrated the database.
    /// Not a reason to stop serving: during a rolling upgrade the old
    /// processes keep answering until they are replaced (migrations only
    /// add), and taking them all out of the load balancer at once would be
    /// an outage.
    pub newer: Vec<i64>,
}

/// Compares the migrations a binary embeds with those a database applied.
pub fn compare_migrations(embedded: &[i64], applied: &[i64]) -> MigrationState {
    MigrationState {
        missing: embedded
            .iter()
            .filter(|v| !applied.contains(v))
            .copied()
            .collect(),
        newer: applied
            .iter()
            .filter(|v| !embedded.contains(v))
            .copied()
            .collect(),
    }
}

/// The versions of the migrations this binary carries.
pub fn embedded_versions() -> Vec<i64> {
    MIGRATIONS.iter().map(|m| m.version).collect()
}

impl Db {
    /// Ready when the database answers within `READY_TIMEOUT` and has applied
    /// every migration this binary embeds.
    pub async fn ready(&self) -> Result<MigrationState, NotReady> {
        let query = crate::store::sql::query_as::<(i64, bool)>(
            "SELECT version, success FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(self.reader());
        let rows = match tokio::time::timeout(READY_TIMEOUT, query).await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                // A database without the migrations table answers with an
                // error too: nothing is applied.
                let no_table = e.to_string().contains("_sqlx_migrations");
                return Err(if no_table {
                    NotReady {
                        reason: "migrations_pending",
                        message: "the database has no migrations applied; run `fieldpay migrate`"
                            .into(),
                        missing_migrations: embedded_versions(),
                    }
                } else {
                    // The details stay in the log: /readyz is reachable by
                    // whoever reaches the server.
                    tracing::warn!(error = %e, "readiness: the database did not answer");
                    NotReady {
                        reason: "database_unreachable",
                        message: "the database did not answer".into(),
                        missing_migrations: Vec::new(),
                    }
                });
            }
            Err(_) => {
                return Err(NotReady {
                    reason: "database_unreachable",
                    message: format!(
                        "the database did not answer within {} s",
                        READY_TIMEOUT.as_secs()
                    ),
                    missing_migrations: Vec::new(),
                });
            }
        };
        let applied: Vec<i64> = rows
            .into_iter()
            .filter(|(_, success)| *success)
            .map(|(v, _)| v)
            .collect();
        let state = compare_migrations(&embedded_versions(), &applied);
        if state.missing.is_empty() {
            Ok(state)
        } else {
            Err(NotReady {
                reason: "migrations_pending",
                message: format!(
                    "the database lacks {} migration(s) this binary needs; run `fieldpay migrate`",
                    state.missing.len()
                ),
                missing_migrations: state.missing,
            })
        }
    }
}

/// Puts outbox messages this process claimed but did not send back in the
/// queue (shutdown): each `(id, claimed_until)` pair is released only while
/// the row still holds that very claim, so a message already sent, failed,
/// retried or claimed anew by another worker is left alone. Answers how many
/// went back. (The claim itself is `messages::CLAIM_SQL`.)
pub async fn release_outbox_claims(
    conn: &mut Conn,
    claims: &[(MessageId, OffsetDateTime)],
) -> StoreResult<u64> {
    let mut released = 0;
    for (id, until) in claims {
        released += crate::store::sql::query(
            "UPDATE outbox SET status = 'queued', claimed_until = NULL
             WHERE id = $1 AND status = 'sending' AND claimed_until = $2",
        )
        .bind(id)
        .bind(*until)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_compare_by_version() {
        let s = compare_migrations(&[1, 2, 3], &[1, 2, 3]);
        assert_eq!(s, MigrationState::default());
        let s = compare_migrations(&[1, 2, 3], &[1, 3]);
        assert_eq!(s.missing, vec![2]);
        let s = compare_migrations(&[1, 2], &[1, 2, 3]);
        assert!(s.missing.is_empty());
        assert_eq!(s.newer, vec![3]);
    }

    #[tokio::test]
    async fn a_fresh_database_is_ready_after_migrate_and_not_before() {
        let dir = std::env::temp_dir().join(crate::crypto::new_id("fp-ready"));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/r.db", dir.display()))
            .await
            .unwrap();
        let before = db.ready().await.unwrap_err();
        assert_eq!(before.reason, "migrations_pending");
        assert_eq!(before.missing_migrations, embedded_versions());
        db.migrate().await.unwrap();
        assert_eq!(db.ready().await.unwrap(), MigrationState::default());
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }
}
