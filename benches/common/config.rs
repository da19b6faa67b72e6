//! The configuration the benchmarks open the library with: the given
//! database and secret, every other setting at its default.

use std::path::Path;

use fieldpay::config::{Config, DeliverySettings, RateLimits, Signup};
use fieldpay::crypto::Secret;

pub fn bench_config(database_url: String, dir: &Path, secret: Secret) -> anyhow::Result<Config> {
    Ok(Config {
        bind: "127.0.0.1:0".parse()?,
        database_url,
        database_pool: Default::default(),
        sandbox_database_url: None,
        base_url: "https://pay.bench.example".into(),
        spool_dir: dir.join("spool"),
        secret,
        rate_limits: RateLimits::default(),
        delivery: DeliverySettings::default(),
        stripe_api_base: fieldpay::processor::stripe::DEFAULT_API_BASE.into(),
        metrics_token: None,
        trusted_proxies: Vec::new(),
        signup: Signup::FirstRun,
        webhooks_allow_private: false,
    })
}
