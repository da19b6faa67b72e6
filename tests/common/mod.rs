//! What every test binary shares (tests/api, tests/browser, tests/faults);
//! each includes it with `#[path = "../common/mod.rs"] mod common;`: whether
//! CI runs, folders and ports of a test's own, the settings a test app runs
//! with, the test company, and the `fieldpay` binary with a clean
//! environment.

// Each suite uses its own part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use fieldpay::config::{Config, RateLimits, Signup};
use fieldpay::crypto::{Secret, new_id};
use fieldpay::store::companies::NewCompany;

/// The test company owner's password.
pub const OWNER_PASSWORD: &str = "correct horse battery";

/// Whether the tests run under CI: `CI` is `true` or `1` (in any case).
/// There a missing tool or service (aiosmtpd, localstripe, PostgreSQL,
/// Chromium, a tmpfs mount…) fails the test that needs it; elsewhere the
/// test prints why it is skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| means_ci(&v))
}

fn means_ci(value: &str) -> bool {
    let v = value.trim();
    v == "1" || v.eq_ignore_ascii_case("true")
}

#[test]
fn ci_is_true_or_1_in_any_case() {
    for yes in ["true", "TRUE", "True", "1", " true\n"] {
        assert!(means_ci(yes), "{yes:?}");
    }
    for no in ["", "0", "false", "yes", "no", "2", "truthy"] {
        assert!(!means_ci(no), "{no:?}");
    }
}

/// A folder of its own under the system's temp folder, removed on drop
/// unless the test failed (what it holds helps to see why).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fieldpay-{what}-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept {} for inspection", self.0.display());
        } else {
            std::fs::remove_dir_all(&self.0).ok();
        }
    }
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Rate limits loose enough that a test's own requests never meet them.
pub fn relaxed_limits() -> RateLimits {
    RateLimits {
        misses_per_client_per_minute: 1000,
        misses_total_per_minute: 100_000,
        hits_per_token_per_minute: 100_000,
    }
}

/// The settings a test app runs with: its database, the sandbox's beside
/// it in `dir`, the spool in `dir`, a fresh secret, loose rate limits.
pub fn test_config(dir: &Path, database_url: String, base_url: &str) -> Config {
    Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url,
        database_pool: Default::default(),
        sandbox_database_url: Some(format!("sqlite://{}/test.sandbox.db", dir.display())),
        base_url: base_url.to_string(),
        spool_dir: dir.join("spool"),
        secret: Secret::generate(),
        rate_limits: relaxed_limits(),
        delivery: Default::default(),
        stripe_api_base: fieldpay::processor::stripe::DEFAULT_API_BASE.into(),
        metrics_token: None,
        trusted_proxies: Vec::new(),
        signup: Signup::FirstRun,
        webhooks_allow_private: false,
    }
}

/// The test company: Greenleaf Pest Control in Austin (Central time).
pub fn test_company() -> NewCompany {
    NewCompany {
        phone: "(512) 555-0142".into(),
        ..fieldpay::app::setup::default_company("Greenleaf Pest Control")
    }
}

/// Creates the test company with an owner of a fresh email: what
/// `fieldpay company create` makes, and that owner's email.
pub async fn create_test_company(
    db: &fieldpay::store::Db,
) -> (fieldpay::app::setup::CreatedCompany, String) {
    let owner_email = format!("{}@example.com", new_id("o"));
    let created =
        fieldpay::app::setup::create_company(db, &test_company(), &owner_email, OWNER_PASSWORD)
            .await
            .unwrap();
    (created, owner_email)
}

/// The `fieldpay` binary with none of this process's `FIELDPAY_` settings,
/// on `db_url`, logging warnings only.
pub fn fieldpay_cmd(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fieldpay"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FIELDPAY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("FIELDPAY_DATABASE_URL", db_url)
        .env("FIELDPAY_LOG", "warn");
    cmd
}

/// The `fieldpay` binary with the same settings as an app opened on `config`:
/// its database, sandbox, secret, spool and base URL.
pub fn fieldpay_cmd_like(config: &Config) -> Command {
    let mut cmd = fieldpay_cmd(&config.database_url);
    cmd.env(
        "FIELDPAY_SANDBOX_DATABASE_URL",
        config.sandbox_database_url(),
    )
    .env("FIELDPAY_SECRET_KEY", config.secret.encoded())
    .env("FIELDPAY_SPOOL_DIR", &config.spool_dir)
    .env("FIELDPAY_BASE_URL", &config.base_url);
    cmd
}
