//! Rate limits on the `/pay` space (SECURITY.md 4): lookups that miss are
//! limited per client address and in total; a valid link is limited per link,
//! loosely enough for a person and the page's own requests.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimits;

pub struct PayLimits {
    misses_per_client: DefaultKeyedRateLimiter<IpAddr>,
    misses_total: DefaultDirectRateLimiter,
    hits_per_link: DefaultKeyedRateLimiter<String>,
}

fn per_minute(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(n).allow_burst(n)
}

impl PayLimits {
    pub fn new(limits: RateLimits) -> PayLimits {
        PayLimits {
            misses_per_client: RateLimiter::keyed(per_minute(limits.misses_per_client_per_minute)),
            misses_total: RateLimiter::direct(per_minute(limits.misses_total_per_minute)),
            hits_per_link: RateLimiter::keyed(per_minute(limits.hits_per_token_per_minute)),
        }
    }

    /// Counts a lookup that found nothing; `false` when over a limit.
    pub fn allow_miss(&self, client: IpAddr) -> bool {
        let client_ok = self.misses_per_client.check_key(&client).is_ok();
        client_ok && self.misses_total.check().is_ok()
    }

    /// Counts a request with a valid link; `false` when over its limit.
    pub fn allow_hit(&self, link_id: &str) -> bool {
        self.hits_per_link.check_key(&link_id.to_string()).is_ok()
    }

    /// Forgets keys whose limits have fully recovered (bounded memory).
    pub fn shrink(&self) {
        self.misses_per_client.retain_recent();
        self.hits_per_link.retain_recent();
    }
}

/// Sign-in attempts, per account and per client address. Each server (and
/// each test app) has its own.
pub struct LoginLimits {
    per_account: DefaultKeyedRateLimiter<String>,
    per_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl LoginLimits {
    pub fn new(per_account_per_minute: u32, per_client_per_minute: u32) -> LoginLimits {
        LoginLimits {
            per_account: RateLimiter::keyed(per_minute(per_account_per_minute)),
            per_client: RateLimiter::keyed(per_minute(per_client_per_minute)),
        }
    }

    /// Forgets keys whose limits have fully recovered (bounded memory).
    pub fn shrink(&self) {
        self.per_account.retain_recent();
        self.per_client.retain_recent();
    }

    /// Counts an attempt; `false` when the account or the client is over its limit.
    pub fn allow(&self, account: &str, client: IpAddr) -> bool {
        let client_ok = self.per_client.check_key(&client).is_ok();
        client_ok && self.per_account.check_key(&account.to_lowercase()).is_ok()
    }
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits::new(5, 20)
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
}
