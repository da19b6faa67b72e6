//! Settings from flags and `FIELDPAY_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::crypto::Secret;

#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// Listen address.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: SocketAddr,
    /// `sqlite://PATH` (created when missing) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (which must exist; TLS
    /// per `?sslmode=`).
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_DATABASE_URL",
        default_value = "sqlite://fieldpay.db"
    )]
    pub database_url: String,
    /// Most PostgreSQL connections this process opens.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub database_max_connections: u32,
    /// The sandbox processor's own SQLite database. Defaults to a file beside
    /// a SQLite database, or memory with PostgreSQL; processes that share a
    /// PostgreSQL database and the sandbox must name one shared file.
    #[arg(long, global = true, env = "FIELDPAY_SANDBOX_DATABASE_URL")]
    pub sandbox_database_url: Option<String>,
    /// Public origin used in every link; defaults to http:// + the bind address.
    #[arg(long, global = true, env = "FIELDPAY_BASE_URL")]
    pub base_url: Option<String>,
    /// Folder where the default email and SMS transports write.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_SPOOL_DIR",
        default_value = "./spool"
    )]
    pub spool_dir: PathBuf,
    /// The server secret (base64url, at least 32 bytes). Generated and kept
    /// beside the SQLite database when unset.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_SECRET_KEY",
        hide_env_values = true
    )]
    pub secret_key: Option<String>,
    /// Requests per minute with one valid payment link.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_PAY_RATE_LIMIT_PER_LINK",
        default_value_t = 120
    )]
    pub pay_rate_limit_per_link: u32,
    /// Lookups of unknown payment links per client address per minute.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_PAY_RATE_LIMIT_MISSES",
        default_value_t = 20
    )]
    pub pay_rate_limit_misses: u32,
    /// Lookups of unknown payment links per minute, all clients together.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_PAY_RATE_LIMIT_MISSES_TOTAL",
        default_value_t = 600
    )]
    pub pay_rate_limit_misses_total: u32,
    /// Where the Stripe adapter sends requests (tests point it at a local
    /// fake such as localstripe).
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_STRIPE_API_BASE",
        default_value = crate::processor::stripe::DEFAULT_API_BASE
    )]
    pub stripe_api_base: String,
    /// Bearer token that `GET /metrics` asks for. Unset: /metrics answers
    /// only clients on loopback that did not come through a proxy.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Log lines as `text` (for people) or `json` (one object a line, for
    /// log collectors). The level is set by `FIELDPAY_LOG` (e.g. `info,sqlx=warn`).
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,
    /// Addresses of reverse proxies in front (comma-separated, e.g.
    /// `127.0.0.1,::1`): for a connection from one of them, the client's
    /// address is taken from `X-Forwarded-For`. Unset: the connection's
    /// address is the client's, and `X-Forwarded-For` is ignored.
    #[arg(long, global = true, env = "FIELDPAY_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Who may create a company in the browser: `first-run` (`/setup`
    /// creates the first company while there is none), `open` (`/signup`
    /// for anyone: hosts serving many companies) or `off` (the CLI only).
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_SIGNUP",
        value_enum,
        default_value_t = Signup::FirstRun
    )]
    pub signup: Signup,
    /// Allow webhook URLs that resolve to loopback, private or link-local
    /// addresses (tests, private networks). Off: such URLs are refused when
    /// saved and again at every send.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_WEBHOOKS_ALLOW_PRIVATE",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhooks_allow_private: bool,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
}

/// Parses `FIELDPAY_TRUSTED_PROXIES`: addresses separated by commas or spaces.
pub fn parse_trusted_proxies(text: &str) -> anyhow::Result<Vec<std::net::IpAddr>> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.parse().map_err(|_| {
                anyhow::anyhow!("FIELDPAY_TRUSTED_PROXIES: '{t}' is not an IP address")
            })
        })
        .collect()
}

/// How log lines are written (`FIELDPAY_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Where messages go (CONTRACT.md): unset URLs keep the spool folder.
#[derive(Debug, Clone, Default, Args)]
pub struct DeliveryArgs {
    /// `smtp://[user:pass@]host:port` (STARTTLS when offered) or
    /// `smtps://…` (implicit TLS); unset: `.eml` files in the spool folder.
    #[arg(long, global = true, env = "FIELDPAY_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// PEM file of CA certificates to trust for the SMTP server's TLS
    /// certificate, besides the usual public roots (a private CA).
    #[arg(long, global = true, env = "FIELDPAY_SMTP_CA_FILE")]
    pub smtp_ca_file: Option<PathBuf>,
    /// Base URL of a Twilio-compatible Messages API; unset: `.txt` files in
    /// the spool folder.
    #[arg(long, global = true, env = "FIELDPAY_SMS_URL")]
    pub sms_url: Option<String>,
    /// Account SID for the SMS API (the user of its basic auth).
    #[arg(long, global = true, env = "FIELDPAY_SMS_ACCOUNT")]
    pub sms_account: Option<String>,
    /// Auth token for the SMS API.
    #[arg(
        long,
        global = true,
        env = "FIELDPAY_SMS_TOKEN",
        hide_env_values = true
    )]
    pub sms_token: Option<String>,
    /// Sender number for SMS (E.164).
    #[arg(long, global = true, env = "FIELDPAY_SMS_FROM")]
    pub sms_from: Option<String>,
}

/// Resolved delivery settings; the default writes everything to the spool.
#[derive(Clone, Default)]
pub struct DeliverySettings {
    pub smtp_url: Option<String>,
    /// Extra CA certificates (PEM) the SMTP transport trusts.
    pub smtp_ca_file: Option<PathBuf>,
    pub sms_url: Option<String>,
    pub sms_account: String,
    pub sms_token: String,
    pub sms_from: String,
}

impl std::fmt::Debug for DeliverySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SMTP URL may hold a password and the token is one.
        f.debug_struct("DeliverySettings")
            .field("smtp", &self.smtp_url.is_some())
            .field("smtp_ca_file", &self.smtp_ca_file)
            .field("sms_url", &self.sms_url)
            .field("sms_account", &self.sms_account)
            .field("sms_from", &self.sms_from)
            .finish_non_exhaustive()
    }
}

impl DeliverySettings {
    pub fn resolve(a: &DeliveryArgs) -> anyhow::Result<DeliverySettings> {
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(String::from)
        };
        let d = DeliverySettings {
            smtp_url: nonempty(&a.smtp_url),
            smtp_ca_file: a.smtp_ca_file.clone().filter(|p| !p.as_os_str().is_empty()),
            sms_url: nonempty(&a.sms_url).map(|u| u.trim_end_matches('/').to_string()),
            sms_account: nonempty(&a.sms_account).unwrap_or_default(),
            sms_token: nonempty(&a.sms_token).unwrap_or_default(),
            sms_from: nonempty(&a.sms_from).unwrap_or_default(),
        };
        if d.sms_url.is_some()
            && (d.sms_account.is_empty() || d.sms_token.is_empty() || d.sms_from.is_empty())
        {
            anyhow::bail!(
                "FIELDPAY_SMS_URL needs FIELDPAY_SMS_ACCOUNT, FIELDPAY_SMS_TOKEN and FIELDPAY_SMS_FROM"
            );
        }
        if let Some(u) = &d.smtp_url {
            crate::messaging::email::parse_smtp_url(u).map_err(|e| anyhow::anyhow!(e))?;
        }
        if let Some(path) = &d.smtp_ca_file {
            crate::messaging::email::read_ca_file(path).map_err(|e| anyhow::anyhow!(e))?;
        }
        Ok(d)
    }
}

/// Limits on the `/pay` space (SECURITY.md 4).
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Lookups with an unknown token, per client address per minute.
    pub misses_per_client_per_minute: u32,
    /// Lookups with an unknown token, all clients together, per minute.
    pub misses_total_per_minute: u32,
    /// Requests with one valid token per minute.
    pub hits_per_token_per_minute: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            misses_per_client_per_minute: 20,
            misses_total_per_minute: 600,
            hits_per_token_per_minute: 120,
        }
    }
}

/// Who may create a company in the browser (`FIELDPAY_SIGNUP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Signup {
    FirstRun,
    Open,
    Off,
}

/// Resolved configuration of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub database_url: String,
    /// PostgreSQL pool size and waits.
    pub database_pool: crate::store::PoolSettings,
    /// Where the sandbox processor keeps its charges, when not the default.
    pub sandbox_database_url: Option<String>,
    /// Origin without a trailing slash, e.g. `https://pay.example.com`.
    pub base_url: String,
    pub spool_dir: PathBuf,
    pub secret: Secret,
    pub rate_limits: RateLimits,
    /// SMTP and SMS settings (`Default`: the spool folder for both).
    pub delivery: DeliverySettings,
    /// Where Stripe adapters send requests (`FIELDPAY_STRIPE_API_BASE`).
    pub stripe_api_base: String,
    /// The bearer token `/metrics` asks for; `None`: loopback clients only.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Who may create a company in the browser.
    pub signup: Signup,
    /// Webhooks may go to loopback, private and link-local addresses.
    pub webhooks_allow_private: bool,
}

impl Config {
    pub fn resolve(s: &Settings) -> anyhow::Result<Config> {
        let base_url = match &s.base_url {
            Some(u) => normalize_base_url(u)?,
            None => format!("http://{}", s.bind),
        };
        let secret = match &s.secret_key {
            Some(text) => Secret::decode(text).ok_or_else(|| {
                anyhow::anyhow!(
                    "FIELDPAY_SECRET_KEY must be base64url of at least 32 bytes \
                     (generate one with: head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')"
                )
            })?,
            None => load_or_create_secret(&s.database_url)?,
        };
        Ok(Config {
            stripe_api_base: normalize_base_url(&s.stripe_api_base)?,
            metrics_token: s
                .metrics_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(String::from),
            trusted_proxies: parse_trusted_proxies(s.trusted_proxies.as_deref().unwrap_or(""))?,
            signup: s.signup,
            webhooks_allow_private: s.webhooks_allow_private,
            bind: s.bind,
            database_url: s.database_url.clone(),
            database_pool: crate::store::PoolSettings {
                max_connections: s.database_max_connections.max(1),
                ..Default::default()
            },
            sandbox_database_url: s.sandbox_database_url.clone(),
            base_url,
            spool_dir: s.spool_dir.clone(),
            secret,
            rate_limits: RateLimits {
                misses_per_client_per_minute: s.pay_rate_limit_misses,
                misses_total_per_minute: s.pay_rate_limit_misses_total,
                hits_per_token_per_minute: s.pay_rate_limit_per_link,
            },
            delivery: DeliverySettings::resolve(&s.delivery)?,
        })
    }
}

impl Config {
    /// The box that seals processor keys at rest: AES-256-GCM under a key
    /// derived from the server secret (`FIELDPAY_SECRET_KEY`).
    pub fn processor_keys(&self) -> crate::crypto::KeyBox {
        crate::crypto::KeyBox::from_secret(&self.secret)
    }

    /// The sandbox processor's own database, beside fieldpay's:
    /// `sqlite://fieldpay.db` gives `sqlite://fieldpay.sandbox.db`.
    pub fn sandbox_database_url(&self) -> String {
        if let Some(url) = &self.sandbox_database_url {
            return url.clone();
        }
        match sqlite_path(&self.database_url) {
            Some(path) => {
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!(
                    "sqlite://{}",
                    path.with_file_name(format!("{stem}.sandbox.db")).display()
                )
            }
            None => "sqlite::memory:".to_string(),
        }
    }
}

/// Checks a base URL is an http(s) origin and drops a trailing slash.
pub fn normalize_base_url(url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(|| anyhow::anyhow!("base URL '{url}' must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        anyhow::bail!("base URL '{url}' must be an origin such as https://pay.example.com");
    }
    Ok(trimmed.to_string())
}

/// The SQLite file a `sqlite://` URL names, if it names one.
pub fn sqlite_path(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn load_or_create_secret(database_url: &str) -> anyhow::Result<Secret> {
    let db = sqlite_path(database_url).ok_or_else(|| {
        anyhow::anyhow!("FIELDPAY_SECRET_KEY must be set when the database is not a SQLite file")
    })?;
    let path = secret_path(&db);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Secret::decode(&text)
            .ok_or_else(|| anyhow::anyhow!("{} does not hold a valid secret", path.display()));
    }
    let secret = Secret::generate();
    write_private(&path, &secret.encoded())?;
    Ok(secret)
}

fn secret_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".secret");
    db.with_file_name(name)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        crate::private_files::create_dir(dir)?;
    }
    crate::private_files::write_new(path, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            normalize_base_url("https://pay.example.com/").unwrap(),
            "https://pay.example.com"
        );
        assert!(normalize_base_url("pay.example.com").is_err());
        assert!(normalize_base_url("https://").is_err());
    }

    #[test]
    fn sandbox_lives_beside_the_database() {
        let s = Settings {
            bind: "127.0.0.1:1".parse().unwrap(),
            database_url: "sqlite:///var/lib/fieldpay/fp.db".into(),
            database_max_connections: 16,
            sandbox_database_url: None,
            base_url: None,
            spool_dir: "spool".into(),
            secret_key: Some(Secret::generate().encoded()),
            pay_rate_limit_per_link: 1,
            pay_rate_limit_misses: 1,
            pay_rate_limit_misses_total: 1,
            stripe_api_base: crate::processor::stripe::DEFAULT_API_BASE.into(),
            metrics_token: None,
            log_format: LogFormat::Text,
            trusted_proxies: None,
            signup: Signup::FirstRun,
            webhooks_allow_private: false,
            delivery: Default::default(),
        };
        let c = Config::resolve(&s).unwrap();
        assert_eq!(
            c.sandbox_database_url(),
            "sqlite:///var/lib/fieldpay/fp.sandbox.db"
        );
        let shared = Settings {
            database_url: "postgres://fp@db.internal/fieldpay".into(),
            sandbox_database_url: Some("sqlite:///srv/shared/sandbox.db".into()),
            ..s
        };
        let c = Config::resolve(&shared).unwrap();
        assert_eq!(c.sandbox_database_url(), "sqlite:///srv/shared/sandbox.db");
        assert_eq!(c.base_url, "http://127.0.0.1:1");
    }

    #[test]
    fn trusted_proxies_parse() {
        assert_eq!(
            parse_trusted_proxies("127.0.0.1, ::1").unwrap(),
            vec![
                "127.0.0.1".parse::<std::net::IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert!(parse_trusted_proxies("").unwrap().is_empty());
        assert!(parse_trusted_proxies("10.0.0.0/8").is_err());
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://fieldpay.db"),
            Some(PathBuf::from("fieldpay.db"))
        );
        assert_eq!(
            sqlite_path("sqlite:///tmp/x.db?mode=rwc"),
            Some(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(sqlite_path("postgres://x"), None);
    }

    #[test]
    fn secret_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("fp-secret-{}", crate::crypto::new_id("t")));
        let url = format!("sqlite://{}/x.db", dir.display());
        let a = load_or_create_secret(&url).unwrap();
        let b = load_or_create_secret(&url).unwrap();
        assert_eq!(a.derive(b"k"), b.derive(b"k"));
        let mode = std::fs::metadata(dir.join("x.db.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).ok();
    }
}
