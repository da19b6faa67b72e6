//! Rate limits on the `/pay` space (SECURITY.md 4) and on sign-in (24):
//! lookups that miss are limited per client address and in total; a valid
//! link is limited per link, loosely enough for a person and the page's own
//! requests; sign-in attempts are limited per account and per address.
//!
//! Two stages. Each process first checks its own in-memory limiters
//! (governor): cheap, and a process that alone has seen too much refuses
//! without touching the database. What passes is then counted in the
//! database (`store::limits`, one statement), so the limits whose point is
//! to cap guessing across the whole service — misses per client address,
//! sign-in attempts per account and per address — hold however many server
//! processes share the database.
//!
//! Left in memory, per process, on purpose:
//! - hits per valid link: a valid-token page view must not write to the
//!   database (it is the hot path), and the limit only stops one link's
//!   holder from hogging a process; guessing is what the miss limits cap.
//! - misses in total: a load shield for the process (it bounds how many
//!   database writes a flood of random tokens can cause), not a guessing cap;
//!   one shared row for it would be a hot spot every miss writes.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::config::RateLimits;
use crate::store::Db;

/// The window of the shared counters: the limits are per minute.
pub const WINDOW_MS: i64 = 60_000;

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

/// The key of a client address in the shared counters.
fn client_key(client: IpAddr) -> String {
    client.to_string()
}

/// The key of an account in the shared counters: a hash of its lowercased
/// email, so the table holds no email addresses.
pub fn account_key(account: &str) -> String {
    let digest = Sha256::digest(account.trim().to_lowercase().as_bytes());
    hex::encode(&digest[..16])
}

/// Counts one hit on each `(scope, key, limit)` in the database; `true`
/// when every one is within its limit. A database error lets the request
/// through (the in-memory stage still holds) rather than refusing everyone
/// while the database has trouble.
async fn shared_allow(db: &Db, keys: &[(&'static str, String, u32)]) -> bool {
    let pairs: Vec<(&'static str, String)> = keys.iter().map(|(s, k, _)| (*s, k.clone())).collect();
    let result = db
        .write(move |conn| {
            Box::pin(async move {
                let refs: Vec<(&str, &str)> = pairs.iter().map(|(s, k)| (*s, k.as_str())).collect();
                crate::store::limits::hit(conn, &refs, conn.now(), WINDOW_MS).await
            })
        })
        .await;
    match result {
        Ok(hits) => hits
            .iter()
            .zip(keys)
            .all(|(n, (_, _, limit))| *n <= i64::from(*limit)),
        Err(e) => {
            let e: crate::store::StoreError = e;
            tracing::warn!(error = %e, "shared rate limit not counted; the process's own limit applies");
            true
        }
    }
}

pub struct PayLimits {
    misses_per_client: DefaultKeyedRateLimiter<IpAddr>,
    misses_total: DefaultDirectRateLimiter,
    hits_per_link: DefaultKeyedRateLimiter<String>,
    misses_per_client_per_minute: u32,
}

impl PayLimits {
    pub fn new(limits: RateLimits) -> PayLimits {
        PayLimits {
            misses_per_client: RateLimiter::keyed(per_minute(limits.misses_per_client_per_minute)),
            misses_total: RateLimiter::direct(per_minute(limits.misses_total_per_minute)),
            hits_per_link: RateLimiter::keyed(per_minute(limits.hits_per_token_per_minute)),
            misses_per_client_per_minute: limits.misses_per_client_per_minute.max(1),
        }
    }

    /// Counts a lookup that found nothing in this process's own limiters
    /// only; `false` when over a limit. `check_miss` is the one to use.
    pub fn allow_miss(&self, client: IpAddr) -> bool {
        let client_ok = self.misses_per_client.check_key(&client).is_ok();
        client_ok && self.misses_total.check().is_ok()
    }

    /// Counts a lookup that found nothing, here and then in the database
    /// (per client address, across processes); `false` when over a limit.
    pub async fn check_miss(&self, db: &Db, client: IpAddr) -> bool {
        self.allow_miss(client)
            && shared_allow(
                db,
                &[(
                    "pay_miss_client",
                    client_key(client),
                    self.misses_per_client_per_minute,
                )],
            )
            .await
    }

    /// Counts a request with a valid link; `false` when over its limit.
    /// In memory only: a page view writes nothing.
    pub fn allow_hit(&self, link_id: &str) -> bool {
        self.hits_per_link.check_key(&link_id.to_string()).is_ok()
    }

    /// Forgets keys whose limits have fully recovered (bounded memory).
    pub fn shrink(&self) {
        self.misses_per_client.retain_recent();
        self.hits_per_link.retain_recent();
    }
}

/// Sign-in attempts (or requests for sign-in links), per account and per
/// client address, under a scope of their own (`office_login`, ...).
pub struct LoginLimits {
    scope_account: &'static str,
    scope_client: &'static str,
    per_account: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_account_per_minute: u32,
    per_client_per_minute: u32,
}

impl LoginLimits {
    /// `scope_account` and `scope_client` name the shared counters.
    pub fn new(
        scope_account: &'static str,
        scope_client: &'static str,
        per_account_per_minute: u32,
        per_client_per_minute: u32,
    ) -> LoginLimits {
        LoginLimits {
            scope_account,
            scope_client,
            per_account: RateLimiter::keyed(per_minute(per_account_per_minute)),
            per_client: RateLimiter::keyed(per_minute(per_client_per_minute)),
            per_account_per_minute: per_account_per_minute.max(1),
            per_client_per_minute: per_client_per_minute.max(1),
        }
    }

    /// Office sign-in: 5 a minute per account, 20 per address.
    pub fn office() -> LoginLimits {
        LoginLimits::new("office_login_account", "office_login_client", 5, 20)
    }

    /// Portal sign-in: 5 a minute per account, 20 per address.
    pub fn portal() -> LoginLimits {
        LoginLimits::new("portal_login_account", "portal_login_client", 5, 20)
    }

    /// Emailed portal sign-in links: 3 a minute per address asked for, 20 per client.
    pub fn portal_links() -> LoginLimits {
        LoginLimits::new("portal_link_account", "portal_link_client", 3, 20)
    }

    /// Forgets keys whose limits have fully recovered (bounded memory).
    pub fn shrink(&self) {
        self.per_account.retain_recent();
        self.per_client.retain_recent();
    }

    /// Counts an attempt in this process's own limiters only; `false` when
    /// the account or the client is over its limit. `check` is the one to use.
    pub fn allow(&self, account: &str, client: IpAddr) -> bool {
        let client_ok = self.per_client.check_key(&client).is_ok();
        client_ok && self.per_account.check_key(&account.to_lowercase()).is_ok()
    }

    /// Counts an attempt here and then in the database (across processes);
    /// `false` when the account or the client is over its limit.
    pub async fn check(&self, db: &Db, account: &str, client: IpAddr) -> bool {
        self.allow(account, client)
            && shared_allow(
                db,
                &[
                    (
                        self.scope_account,
                        account_key(account),
                        self.per_account_per_minute,
                    ),
                    (
                        self.scope_client,
                        client_key(client),
                        self.per_client_per_minute,
                    ),
                ],
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misses_are_limited_per_client_and_hits_per_link() {
        let limits = PayLimits::new(RateLimits {
            misses_per_client_per_minute: 3,
            misses_total_per_minute: 100,
            hits_per_token_per_minute: 2,
        });
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limits.allow_miss(a)));
        assert!(!limits.allow_miss(a));
        assert!(limits.allow_miss(b), "another client is not affected");
        assert!(limits.allow_hit("lnk_1") && limits.allow_hit("lnk_1"));
        assert!(!limits.allow_hit("lnk_1"));
        assert!(limits.allow_hit("lnk_2"));
    }

    #[test]
    fn total_miss_limit_applies_across_clients() {
        let limits = PayLimits::new(RateLimits {
            misses_per_client_per_minute: 100,
            misses_total_per_minute: 5,
            hits_per_token_per_minute: 100,
        });
        let allowed = (0..20u8)
            .filter(|i| limits.allow_miss(IpAddr::from([10, 0, 0, *i])))
            .count();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn account_keys_hide_the_email_and_ignore_case() {
        let k = account_key("Pat@Example.com ");
        assert_eq!(k, account_key("pat@example.com"));
        assert_eq!(k.len(), 32);
        assert!(!k.contains('@'));
    }

    async fn db() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(crate::crypto::new_id("fp-wlimits"));
        std::fs::create_dir_all(&dir).unwrap();
        let db = Db::connect(&format!("sqlite://{}/l.db", dir.display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        (db, dir)
    }

    #[tokio::test]
    async fn two_processes_share_the_miss_limit_through_the_database() {
        let (db, dir) = db().await;
        let limits = RateLimits {
            misses_per_client_per_minute: 4,
            misses_total_per_minute: 1000,
            hits_per_token_per_minute: 1000,
        };
        // Two processes: each has its own in-memory limiters.
        let (one, two) = (PayLimits::new(limits), PayLimits::new(limits));
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        assert!(one.check_miss(&db, ip).await && one.check_miss(&db, ip).await);
        assert!(two.check_miss(&db, ip).await && two.check_miss(&db, ip).await);
        // Each has seen two, within its own limit of four: the database says no.
        assert!(!one.check_miss(&db, ip).await);
        assert!(!two.check_miss(&db, ip).await);
        assert!(
            one.check_miss(&db, "192.0.2.10".parse().unwrap()).await,
            "another address is not affected"
        );
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }

    #[tokio::test]
    async fn two_processes_share_the_sign_in_limit_per_account() {
        let (db, dir) = db().await;
        let (one, two) = (LoginLimits::office(), LoginLimits::office());
        let mut allowed = 0;
        for i in 0..8u8 {
            let limits = if i % 2 == 0 { &one } else { &two };
            let ip = IpAddr::from([198, 51, 100, i]);
            if limits.check(&db, "Owner@Example.com", ip).await {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 5, "five a minute per account, across processes");
        // The portal's counters are its own.
        assert!(
            LoginLimits::portal()
                .check(&db, "owner@example.com", IpAddr::from([198, 51, 100, 1]))
                .await
        );
        db.close().await;
        std::fs::remove_dir_all(dir).ok();
    }
}
