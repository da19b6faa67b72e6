//! The server processes under test: a fresh PostgreSQL database when asked,
//! the `fieldpay serve` binary started on it, its readiness and its memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::http::{StatusCode, Uri};

use fieldpay::crypto::{Secret, new_id};

use crate::traffic::{get, http_client, send};

pub(crate) struct Cleanup {
    pub(crate) children: Vec<Child>,
    pub(crate) dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for mut child in self.children.drain(..) {
            child.kill().ok();
            child.wait().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A new database on a PostgreSQL server; its URL.
pub(crate) async fn create_postgres_database(server: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    let name = format!("fp_bench_{}", new_id("b").to_lowercase().replace('-', "_"));
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&name);
    Ok(url.to_string())
}

pub(crate) async fn analyze_postgres(db_url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(db_url).await?;
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

pub(crate) async fn drop_postgres_database(server: &str, db_url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let name = url::Url::parse(db_url)?
        .path()
        .trim_start_matches('/')
        .to_string();
    let mut admin = sqlx::PgConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await?;
    Ok(())
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

pub(crate) fn spawn_server(
    dir: &Path,
    db_url: &str,
    port: u16,
    secret: &Secret,
    log: &Path,
) -> anyhow::Result<Child> {
    let mut cmd = Command::new(server_binary());
    // Without the scheduler: it would queue the seeded invoices' alerts,
    // and deliver them, whenever the wall clock passes the company's send
    // hour, inside whichever phase is running (15 MB more memory and a
    // busy core in the `/healthz` phase of an afternoon run). The alerts
    // phase measures that work on its own.
    cmd.args(["serve", "--no-jobs"]);
    // Only the settings below: nothing inherited from the caller's shell.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("FIELDPAY_") {
            cmd.env_remove(key);
        }
    }
    cmd.env("FIELDPAY_DATABASE_URL", db_url)
        .env(
            "FIELDPAY_SANDBOX_DATABASE_URL",
            format!("sqlite://{}", dir.join("sandbox.db").display()),
        )
        .env("FIELDPAY_BIND", format!("127.0.0.1:{port}"))
        .env("FIELDPAY_SECRET_KEY", secret.encoded())
        .env("FIELDPAY_SPOOL_DIR", dir.join("spool"))
        .env("FIELDPAY_LOG", "warn")
        // The per-link and miss limits on /pay (120 and 20 per minute by
        // default) would otherwise turn the page benchmark into a 429 one.
        // A server that does not know these variables ignores them.
        .env("FIELDPAY_PAY_RATE_LIMIT_PER_LINK", "1000000000")
        .env("FIELDPAY_PAY_RATE_LIMIT_MISSES", "1000000000")
        .env("FIELDPAY_PAY_RATE_LIMIT_MISSES_TOTAL", "1000000000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    cmd.spawn().context("cannot start the fieldpay binary")
}

/// The server the benchmark starts: this build's `fieldpay`, or
/// `BENCH_SERVER=PATH`, another build of it (the code before a change,
/// run back to back with the code after on the same data and machine).
pub(crate) fn server_binary() -> std::ffi::OsString {
    std::env::var_os("BENCH_SERVER")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_fieldpay").into())
}

pub(crate) async fn wait_ready(base: &str, guard: &mut Cleanup, log: &Path) -> anyhow::Result<()> {
    let client = http_client();
    let uri: Uri = format!("{base}/healthz").parse()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = guard
            .children
            .iter_mut()
            .find_map(|c| c.try_wait().ok().flatten())
        {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            bail!("the server exited ({status}) before answering /healthz:\n{text}");
        }
        if let Ok((status, _)) = send(&client, get(&uri)?).await
            && status == StatusCode::OK
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the server did not answer /healthz within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Checks the measured page holds what the benchmark claims (one request).
pub(crate) async fn check_page(base: &str, token: &str) -> anyhow::Result<()> {
    let client = http_client();
    let uri: Uri = format!("{base}/api/v1/pay/{token}").parse()?;
    let (status, body) = send(&client, get(&uri)?).await?;
    if status != StatusCode::OK {
        bail!("GET /api/v1/pay/{{token}} answered {status}");
    }
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    let props = page["properties"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let invoices: usize = props
        .iter()
        .map(|p| p["invoices"].as_array().map(Vec::len).unwrap_or(0))
        .sum();
    let on_behalf = props
        .iter()
        .filter(|p| p["billed_on_behalf_of_resident"] == serde_json::Value::Bool(true))
        .count();
    if props.len() != 2 || invoices != 6 || on_behalf != 1 {
        bail!(
            "the measured page shows {} properties ({on_behalf} on behalf of a resident) and {invoices} invoices; expected 2 (1) and 6",
            props.len()
        );
    }
    Ok(())
}

pub(crate) fn read_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// What a server process has used so far: CPU time (user + system, in
/// the kernel's 1/100 s ticks) and its live threads' context switches.
#[derive(Clone, Copy)]
pub(crate) struct ServerUse {
    pub(crate) cpu_ticks: u64,
    pub(crate) switches: u64,
}

pub(crate) fn server_use(pid: u32) -> Option<ServerUse> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis: utime and stime are
    // the 12th and 13th of them.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let cpu_ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let mut switches = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let status = std::fs::read_to_string(task.ok()?.path().join("status")).unwrap_or_default();
        switches += status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| l.strip_prefix("nonvoluntary_ctxt_switches:"))
            })
            .filter_map(|n| n.trim().parse::<u64>().ok())
            .sum::<u64>();
    }
    Some(ServerUse {
        cpu_ticks,
        switches,
    })
}
