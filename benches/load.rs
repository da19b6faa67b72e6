//! End-to-end load benchmark: seeds a fresh database (a SQLite file, or a
//! new database on the PostgreSQL server `BENCH_POSTGRES` names) through the
//! library (a company with 5,000 customers and 20,000 open invoices), starts
//! the release `fieldpay serve --no-jobs` binary on it (no scheduler: the
//! phases measure requests, the alerts phase the alerts job) and drives it over real
//! HTTP/1.1 keep-alive connections, then prints in one run: the quick
//! payment page's requests/s and p50/p99 next to `/healthz` of the same
//! server, payments/s, invoice PDFs/s, invoice alerts queued/s and the
//! server's peak memory (VmHWM).
//!
//! Run with `cargo bench --bench load` (`BENCH_SECONDS=N` sets the length of
//! each measured phase, 10 s by default). `BENCH_SHORT=1` seeds a fifth of
//! the data for CI (`BENCH_SECONDS=1 BENCH_SHORT=1` finishes in well under
//! a minute once built). `BENCH_PROCESSES=N` starts N servers on the one
//! database and spreads the connections over them. `BENCH_COMPANIES=N`
//! seeds N-1 more companies and pays invoices of all of them; on PostgreSQL
//! (4 companies unless told) it also pays with 2 processes first the
//! invoices of one company, then those of N, and prints the ratio (writes of
//! different companies run in parallel there). `BENCH_SERVER=PATH` runs
//! another build of the server (the code before a change) on the same
//! seeded data. `BENCH_ONLY_PAYMENTS=1` runs the payments phase alone (no
//! `/healthz`, pay page, PDFs or alerts), then the disk's own limit: for
//! A/B runs of a payment change. It prints figures only; it never asserts
//! on timings.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use fieldpay::app::App;
use fieldpay::app::setup;
use fieldpay::config::{Config, DeliverySettings, RateLimits};
use fieldpay::crypto::{Secret, new_id};
use fieldpay::domain::ids::CustomerId;
use fieldpay::domain::money::Currency;
use fieldpay::domain::price_lines;
use fieldpay::store::Db;
use fieldpay::store::customers::{self, NewCustomer};
use fieldpay::store::invoices::{self, NewInvoice};

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/batch.rs"]
mod batch;
#[path = "common/fsync.rs"]
mod fsync;
#[path = "common/seed.rs"]
mod seed;
use batch::Batch;
use fieldpay::store::alerts::Timing;
use seed::{Rng, env_flag, env_positive, invoice_lines};

/// Customers in the company, the measured one included.
const CUSTOMERS: usize = 5_000;
/// `BENCH_SHORT=1`: a fifth of them, for CI.
const SHORT_CUSTOMERS: usize = 1_000;
/// Open invoices of every customer other than the measured one.
const INVOICES_PER_CUSTOMER: usize = 4;
/// Rows (customers, properties, links, invoices, lines) per write transaction.
const ROWS_PER_TX: usize = 500;
const GET_CONNECTIONS: usize = 64;
const PAY_CLIENTS: usize = 32;
/// Concurrent PDF downloads: a couple per core.
const PDF_CONNECTIONS: usize = 4;
const DEFAULT_SECONDS: u64 = 10;
const TIME_ZONE: &str = "America/Chicago";

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn main() {
    if let Err(e) = run() {
        eprintln!("load bench failed: {e:#}");
        std::process::exit(1);
    }
}

/// The machine's load average when the run began (`/proc/loadavg`).
static LOAD_AT_START: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unavailable".into())
}

fn run() -> anyhow::Result<()> {
    LOAD_AT_START.get_or_init(load_average);
    let seconds = env_positive("BENCH_SECONDS", DEFAULT_SECONDS)?;
    let short = env_flag("BENCH_SHORT");
    let only_payments = env_flag("BENCH_ONLY_PAYMENTS");
    let customers = if short { SHORT_CUSTOMERS } else { CUSTOMERS };
    let phase = Duration::from_secs(seconds);
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let dir = std::env::temp_dir().join(format!("fieldpay-bench-{}", new_id("run")));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Removes the folder (and kills the server, once started) on every exit path.
    let mut guard = Cleanup {
        children: Vec::new(),
        dir: dir.clone(),
    };
    let processes = env_positive("BENCH_PROCESSES", 1)? as usize;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let secret = Secret::generate();
    // `BENCH_POSTGRES=postgres://USER@HOST:PORT/postgres`: a fresh database
    // on that server instead of a SQLite file.
    let postgres = std::env::var("BENCH_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty());
    let db_url = match &postgres {
        Some(server) => rt.block_on(create_postgres_database(server))?,
        None => format!("sqlite://{}", dir.join("bench.db").display()),
    };
    let database = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    eprintln!("load: seeding {database} ...");
    let companies =
        env_positive("BENCH_COMPANIES", if postgres.is_some() { 4 } else { 1 })? as usize;
    let seeded = rt.block_on(seed_data(&db_url, &secret, customers, 0))?;
    // Further companies, for the payments only: as many customers between
    // them as the first has.
    let mut others = Vec::new();
    for n in 1..companies {
        others.push(rt.block_on(seed_data(&db_url, &secret, customers / companies, n))?);
    }
    // On PostgreSQL with several companies, each company's invoices are
    // split in three: the payments phase, then one company alone, then
    // all companies, so no phase finds invoices another one paid.
    let by_company = postgres.is_some() && companies > 1;
    let thirds = |q: &[(String, String)]| -> [Vec<(String, String)>; 3] {
        let n = q.len().div_ceil(3);
        [0, 1, 2].map(|i| q.iter().skip(i * n).take(n).cloned().collect())
    };
    let (pay_queue, one_queue, all_queue) = if by_company {
        let [main, one, _] = thirds(&seeded.queue);
        let mut alls = vec![main];
        let mut lasts = vec![thirds(&seeded.queue)[2].clone()];
        for o in &others {
            let [m, _, l] = thirds(&o.queue);
            alls.push(m);
            lasts.push(l);
        }
        (interleave(alls), one, interleave(lasts))
    } else {
        let mut all = vec![seeded.queue.clone()];
        all.extend(others.iter().map(|o| o.queue.clone()));
        (interleave(all), Vec::new(), Vec::new())
    };
    if postgres.is_some() {
        // Planner statistics, as autovacuum gathers them in a running
        // database; without them a fresh bulk load is read by sequential scans.
        rt.block_on(analyze_postgres(&db_url))?;
    }
    eprintln!(
        "load: seeded {} customers, {} invoices, {} lines in {:.1} s",
        seeded.customers,
        seeded.invoices,
        seeded.lines,
        seeded.took.as_secs_f64()
    );

    // Several processes share the database and the sandbox's charges.
    let mut bases = Vec::new();
    let log_path = dir.join("server.log");
    for _ in 0..processes {
        let port = free_port()?;
        bases.push(format!("http://127.0.0.1:{port}"));
        let child = spawn_server(&dir, &db_url, port, &secret, &log_path)?;
        guard.children.push(child);
    }
    let base = bases[0].clone();
    // Memory figures are the first process's.
    let pid = guard.children[0].id();

    // The server's peak memory after each phase: which one set it.
    let mut peaks: Vec<(&str, Option<u64>)> = Vec::new();
    let mut companies_report = None;
    let report = rt.block_on(async {
        for base in &bases {
            wait_ready(base, &mut guard, &log_path).await?;
            check_page(base, &seeded.page_token).await?;
        }
        peaks.push(("start", read_status_kb(pid, "VmHWM")));

        let (mut health, mut page, mut pdfs) = Default::default();
        if !only_payments {
            eprintln!("load: GET /healthz, {GET_CONNECTIONS} connections, {seconds} s ...");
            let urls: Vec<String> = bases.iter().map(|b| format!("{b}/healthz")).collect();
            health = get_load(&urls, GET_CONNECTIONS, phase).await?;
            peaks.push(("/healthz", read_status_kb(pid, "VmHWM")));
            eprintln!("load: GET /pay/{{token}}, {GET_CONNECTIONS} connections, {seconds} s ...");
            let urls: Vec<String> = bases
                .iter()
                .map(|b| format!("{b}/pay/{}", seeded.page_token))
                .collect();
            page = get_load(&urls, GET_CONNECTIONS, phase).await?;
            peaks.push(("pay page", read_status_kb(pid, "VmHWM")));
            eprintln!(
                "load: GET /api/v1/invoices/{{id}}/pdf, {PDF_CONNECTIONS} connections, {seconds} s ..."
            );
            pdfs = pdf_load(
                &base,
                &seeded.api_key,
                &seeded.pdf_invoices,
                PDF_CONNECTIONS,
                phase,
            )
            .await?;
            peaks.push(("PDFs", read_status_kb(pid, "VmHWM")));
        }
        // The server's pid, for a profiler attached during this phase.
        eprintln!("load: payments, {PAY_CLIENTS} clients, {seconds} s (server pid {pid}) ...");
        let before = server_use(pid);
        let mut pays = pay_load(&bases, pay_queue, PAY_CLIENTS, phase).await?;
        if processes == 1 {
            pays.server_use = before.zip(server_use(pid));
        }
        peaks.push(("payments", read_status_kb(pid, "VmHWM")));
        if by_company {
            // Two processes, whatever BENCH_PROCESSES said.
            let mut two = bases.clone();
            while two.len() < 2 {
                let port = free_port()?;
                two.push(format!("http://127.0.0.1:{port}"));
                let child = spawn_server(&dir, &db_url, port, &secret, &log_path)?;
                guard.children.push(child);
                wait_ready(&two[two.len() - 1], &mut guard, &log_path).await?;
            }
            two.truncate(2);
            eprintln!("load: payments of 1 company, 2 processes, {seconds} s ...");
            let one = pay_load(&two, one_queue, PAY_CLIENTS, phase).await?;
            eprintln!("load: payments of {companies} companies, 2 processes, {seconds} s ...");
            let all = pay_load(&two, all_queue, PAY_CLIENTS, phase).await?;
            companies_report = Some((one, all));
        }
        anyhow::Ok((health, page, pdfs, pays))
    })?;
    let (health, page, pdfs, pays) = report;

    // Alerts: the jobs' `queue_due` over the same data, in this process,
    // while the server keeps running on the database.
    let queued = if only_payments {
        None
    } else {
        eprintln!("load: alerts::queue_due over the seeded invoices ...");
        Some(rt.block_on(queue_alerts(&dir, &db_url, &secret, &seeded.company_id))?)
    };

    // The disk's own limit, after the server's phases (it would compete
    // with them for the disk) and only for SQLite (PostgreSQL's commits are
    // another server's).
    let fsync_limit = if postgres.is_none() {
        eprintln!("load: bare SQLite synchronous=FULL commits on the same disk ...");
        Some(rt.block_on(fsync::measure(&dir, phase.min(Duration::from_secs(3))))?)
    } else {
        None
    };

    let hwm_kb = read_status_kb(pid, "VmHWM");
    let log_lines = std::fs::read_to_string(&log_path).unwrap_or_default();

    print_report(&Figures {
        database,
        processes,
        nproc,
        seconds,
        short,
        seeded: &seeded,
        health: &health,
        page: &page,
        pdfs: &pdfs,
        pays: &pays,
        companies,
        by_company: companies_report.as_ref(),
        fsync_limit: fsync_limit.as_ref(),
        queued: queued.as_ref(),
        hwm_kb,
        peaks: &peaks,
    });
    let log_count = log_lines.lines().count();
    if log_count > 0 {
        println!("server log (FIELDPAY_LOG=warn): {log_count} lines; first ones:");
        for line in log_lines.lines().take(5) {
            println!("  {line}");
        }
    }
    drop(guard);
    if let Some(server) = &postgres {
        rt.block_on(drop_postgres_database(server, &db_url))?;
    }
    // Not a timing: a phase that did nothing at all means the benchmark (or
    // the server) is broken, and CI's short form must say so.
    let empty: Vec<&str> = [
        ("/healthz", !only_payments && health.ok.is_empty()),
        ("pay page", !only_payments && page.ok.is_empty()),
        ("PDFs", !only_payments && pdfs.ok.is_empty()),
        ("payments", pays.committed == 0),
        (
            "alerts",
            queued.as_ref().is_some_and(|q| q.report.queued == 0),
        ),
    ]
    .into_iter()
    .filter_map(|(name, none)| none.then_some(name))
    .collect();
    if !empty.is_empty() {
        bail!("no successful work in: {}", empty.join(", "));
    }
    Ok(())
}

// ---------------------------------------------------------------- seeding

struct Seeded {
    company_id: fieldpay::domain::ids::CompanyId,
    /// The company's API key (PDF downloads go through the API).
    api_key: String,
    customers: usize,
    invoices: usize,
    lines: usize,
    took: Duration,
    /// The measured customer's link token (6 open invoices on 2 properties).
    page_token: String,
    page_invoices: usize,
    /// (link token, open invoice id), ordered so consecutive entries belong to
    /// different customers; the measured customer is not in it.
    queue: Vec<(String, String)>,
    /// Invoices whose PDFs are downloaded, one per customer.
    pdf_invoices: Vec<String>,
}

struct Ctx<'a> {
    company_id: &'a fieldpay::domain::ids::CompanyId,
    today: time::Date,
}

/// Seeds company number `nth` (0: the measured one).
async fn seed_data(
    db_url: &str,
    secret: &Secret,
    customers: usize,
    nth: usize,
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let db = Db::connect(db_url).await?;
    db.migrate().await?;
    let name = match nth {
        0 => "Benchmark Pest Control".to_string(),
        n => format!("Benchmark Pest Control {}", n + 1),
    };
    let owner = match nth {
        0 => "owner@bench.example".to_string(),
        n => format!("owner{}@bench.example", n + 1),
    };
    let mut company = setup::default_company(&name);
    company.phone = "(512) 555-0199".into();
    company.email = "billing@bench.example".into();
    company.address = "1 Benchmark Way, Austin, TX 78701".into();
    company.currency = Currency::USD;
    company.time_zone = TIME_ZONE.into();
    let created = setup::create_company(&db, &company, &owner, "bench-owner-password").await?;
    let ctx = Ctx {
        company_id: &created.company_id,
        today: fieldpay::domain::Clock::system().today_in(TIME_ZONE),
    };
    let mut rng = Rng(seed::SEED);
    let mut batch = Batch::open(&db, ROWS_PER_TX).await?;
    let mut invoice_count = 0usize;
    let mut line_count = 0usize;

    // The measured customer: a landlord billed for their own home and for a
    // rental where another customer (the tenant) lives.
    let target = add_customer(&mut batch, &ctx, 0).await?;
    let tenant = add_customer(&mut batch, &ctx, 1).await?;
    let own = customers::create_property(
        batch.tx(),
        ctx.company_id,
        "100 Landlord Ln, Austin, TX 78704",
        &target,
        &target,
    )
    .await?;
    let rental = customers::create_property(
        batch.tx(),
        ctx.company_id,
        "22 Rental Ct, Unit B, Austin, TX 78741",
        &tenant,
        &target,
    )
    .await?;
    batch.wrote(2).await?;
    for property in [
        &own.id, &own.id, &own.id, &rental.id, &rental.id, &rental.id,
    ] {
        let (_, lines) = add_invoice(&mut batch, &ctx, &mut rng, property, &target).await?;
        invoice_count += 1;
        line_count += lines;
    }
    let page_token = add_link(&mut batch, &ctx, secret, &target).await?;

    // Everyone else (the tenant included): one home, four open invoices.
    let mut per_customer: Vec<(String, Vec<String>)> = Vec::with_capacity(customers - 1);
    for n in 1..customers {
        let id = if n == 1 {
            tenant.clone()
        } else {
            add_customer(&mut batch, &ctx, n).await?
        };
        let address = format!("{} Elm St, Austin, TX 787{:02}", 100 + n, n % 50);
        let home =
            customers::create_property(batch.tx(), ctx.company_id, &address, &id, &id).await?;
        batch.wrote(1).await?;
        let mut ids = Vec::with_capacity(INVOICES_PER_CUSTOMER);
        for _ in 0..INVOICES_PER_CUSTOMER {
            let (inv, lines) = add_invoice(&mut batch, &ctx, &mut rng, &home.id, &id).await?;
            ids.push(inv);
            invoice_count += 1;
            line_count += lines;
        }
        let token = add_link(&mut batch, &ctx, secret, &id).await?;
        per_customer.push((token, ids));
    }
    batch.commit().await?;
    db.close().await;

    // Round-robin over customers: 32 payments in flight never share a customer.
    let mut queue = Vec::with_capacity(per_customer.len() * INVOICES_PER_CUSTOMER);
    for k in 0..INVOICES_PER_CUSTOMER {
        for (token, ids) in &per_customer {
            queue.push((token.clone(), ids[k].clone()));
        }
    }
    // The PDFs downloaded: the last invoice of each customer (the payments
    // phase, which comes after, pays the first ones).
    let pdf_invoices = per_customer
        .iter()
        .filter_map(|(_, ids)| ids.last().cloned())
        .collect();
    Ok(Seeded {
        company_id: created.company_id.clone(),
        api_key: created.api_key.clone(),
        customers,
        invoices: invoice_count,
        lines: line_count,
        took: started.elapsed(),
        page_token,
        page_invoices: 6,
        queue,
        pdf_invoices,
    })
}

async fn add_customer(
    batch: &mut Batch<'_>,
    ctx: &Ctx<'_>,
    n: usize,
) -> anyhow::Result<CustomerId> {
    let c = customers::create(
        batch.tx(),
        ctx.company_id,
        &NewCustomer {
            name: format!("Customer {n:05}"),
            email: Some(format!("customer{n:05}@bench.example")),
            phone: Some(format!("(512) 555-{:04}", n % 10_000)),
            billing_address: Some(format!("PO Box {n}, Austin, TX 78767")),
            language: None,
        },
    )
    .await?;
    batch.wrote(1).await?;
    Ok(c.id)
}

async fn add_link(
    batch: &mut Batch<'_>,
    ctx: &Ctx<'_>,
    secret: &Secret,
    customer_id: &str,
) -> anyhow::Result<String> {
    let link = fieldpay::app::links::issue(batch.tx(), secret, ctx.company_id, &customer_id.into())
        .await?;
    batch.wrote(1).await?;
    Ok(link.token)
}

/// One open invoice with 1-3 lines; returns its id and line count.
async fn add_invoice(
    batch: &mut Batch<'_>,
    ctx: &Ctx<'_>,
    rng: &mut Rng,
    property_id: &str,
    bill_to: &str,
) -> anyhow::Result<(String, usize)> {
    let lines = invoice_lines(rng);
    let n_lines = lines.len();
    let (amounts, total) =
        price_lines(&lines).map_err(|e| anyhow::anyhow!("bad seed lines: {e:?}"))?;
    let due_in = rng.below(70) - 40;
    let inv = invoices::create(
        batch.tx(),
        &NewInvoice {
            company_id: ctx.company_id,
            number: None,
            property_id,
            bill_to_customer_id: bill_to,
            issue_date: ctx.today + time::Duration::days(due_in - 30),
            due_date: ctx.today + time::Duration::days(due_in),
            currency: Currency::USD,
            lines: &lines,
            amounts: &amounts,
            total,
        },
    )
    .await?;
    batch.wrote(1 + n_lines).await?;
    Ok((inv.id.into(), n_lines))
}

/// One entry of each queue in turn, until all are empty.
fn interleave(queues: Vec<Vec<(String, String)>>) -> Vec<(String, String)> {
    let mut iters: Vec<_> = queues.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(iters.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
}

// ---------------------------------------------------------------- the server

struct Cleanup {
    children: Vec<Child>,
    dir: PathBuf,
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
async fn create_postgres_database(server: &str) -> anyhow::Result<String> {
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

async fn analyze_postgres(db_url: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(db_url).await?;
    sqlx::raw_sql("ANALYZE").execute(&mut conn).await?;
    Ok(())
}

async fn drop_postgres_database(server: &str, db_url: &str) -> anyhow::Result<()> {
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

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

fn spawn_server(
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
fn server_binary() -> std::ffi::OsString {
    std::env::var_os("BENCH_SERVER")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_fieldpay").into())
}

async fn wait_ready(base: &str, guard: &mut Cleanup, log: &Path) -> anyhow::Result<()> {
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
async fn check_page(base: &str, token: &str) -> anyhow::Result<()> {
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

fn read_status_kb(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// What a server process has used so far: CPU time (user + system, in
/// the kernel's 1/100 s ticks) and its live threads' context switches.
#[derive(Clone, Copy)]
struct ServerUse {
    cpu_ticks: u64,
    switches: u64,
}

fn server_use(pid: u32) -> Option<ServerUse> {
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

// ---------------------------------------------------------------- HTTP

fn http_client() -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(1)
        .build(connector)
}

fn get(uri: &Uri) -> anyhow::Result<Request<Full<Bytes>>> {
    Ok(Request::builder()
        .method(Method::GET)
        .uri(uri.clone())
        .body(Full::new(Bytes::new()))?)
}

fn post_json(
    uri: &Uri,
    body: &serde_json::Value,
    idempotency_key: Option<&str>,
) -> anyhow::Result<Request<Full<Bytes>>> {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(uri.clone())
        .header("content-type", "application/json");
    if let Some(key) = idempotency_key {
        b = b.header("idempotency-key", key);
    }
    Ok(b.body(Full::new(Bytes::from(serde_json::to_vec(body)?)))?)
}

/// Sends a request and reads the whole body.
async fn send(
    client: &HttpClient,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let resp = client.request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

// ---------------------------------------------------------------- GET load

#[derive(Default)]
struct GetResult {
    elapsed: Duration,
    /// Latency of the 2xx answers.
    ok: Vec<Duration>,
    /// Latency of every answer, whatever its status.
    all: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

/// `conns` workers, each on its own keep-alive connection, request after
/// request until `dur` has passed.
/// Connection `i` asks `urls[i % urls.len()]`: several servers share the load.
async fn get_load(urls: &[String], conns: usize, dur: Duration) -> anyhow::Result<GetResult> {
    let uris = urls
        .iter()
        .map(|u| u.parse::<Uri>())
        .collect::<Result<Vec<_>, _>>()?;
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::with_capacity(conns);
    for i in 0..conns {
        let uri = uris[i % uris.len()].clone();
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut r = GetResult::default();
            while Instant::now() < deadline {
                let t = Instant::now();
                match send(&client, get(&uri)?).await {
                    Ok((status, _)) => {
                        let lat = t.elapsed();
                        *r.statuses.entry(status.as_u16()).or_default() += 1;
                        if status.is_success() {
                            r.ok.push(lat);
                        }
                        r.all.push(lat);
                    }
                    Err(_) => r.transport_errors += 1,
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = GetResult::default();
    for task in tasks {
        let r = task.await??;
        total.ok.extend(r.ok);
        total.all.extend(r.all);
        for (s, n) in r.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        total.transport_errors += r.transport_errors;
    }
    total.elapsed = started.elapsed();
    total.ok.sort_unstable();
    total.all.sort_unstable();
    Ok(total)
}

// ---------------------------------------------------------------- PDFs

#[derive(Default)]
struct PdfResult {
    elapsed: Duration,
    /// Latency of the 200s that were PDFs.
    ok: Vec<Duration>,
    bytes: u64,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    sample_error: Option<String>,
}

/// `conns` workers download invoice PDFs through the API, each a different
/// invoice (rendered on every request: there is no cache), until `dur`.
async fn pdf_load(
    base: &str,
    api_key: &str,
    invoices: &[String],
    conns: usize,
    dur: Duration,
) -> anyhow::Result<PdfResult> {
    if invoices.is_empty() {
        bail!("no invoices to download");
    }
    let uris: Arc<Vec<Uri>> = Arc::new(
        invoices
            .iter()
            .map(|id| format!("{base}/api/v1/invoices/{id}/pdf").parse())
            .collect::<Result<_, _>>()?,
    );
    let auth = format!("Bearer {api_key}");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (uris, next, auth) = (uris.clone(), next.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut r = PdfResult::default();
            while Instant::now() < deadline {
                let uri = &uris[next.fetch_add(1, Ordering::Relaxed) % uris.len()];
                let req = Request::builder()
                    .method(Method::GET)
                    .uri(uri.clone())
                    .header("authorization", &auth)
                    .body(Full::new(Bytes::new()))?;
                let t = Instant::now();
                match send(&client, req).await {
                    Ok((status, body)) => {
                        *r.statuses.entry(status.as_u16()).or_default() += 1;
                        if status == StatusCode::OK && body.starts_with(b"%PDF-") {
                            r.ok.push(t.elapsed());
                            r.bytes += body.len() as u64;
                        } else {
                            r.sample_error.get_or_insert_with(|| {
                                format!(
                                    "pdf {status}: {}",
                                    String::from_utf8_lossy(&body[..body.len().min(300)])
                                )
                            });
                        }
                    }
                    Err(_) => r.transport_errors += 1,
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = PdfResult::default();
    for task in tasks {
        let r = task.await??;
        total.ok.extend(r.ok);
        total.bytes += r.bytes;
        for (s, n) in r.statuses {
            *total.statuses.entry(s).or_default() += n;
        }
        total.transport_errors += r.transport_errors;
        if total.sample_error.is_none() {
            total.sample_error = r.sample_error;
        }
    }
    total.elapsed = started.elapsed();
    total.ok.sort_unstable();
    Ok(total)
}

// ---------------------------------------------------------------- alerts

struct Queued {
    report: fieldpay::app::alerts::AlertReport,
    took: Duration,
    rules: usize,
    now: time::OffsetDateTime,
}

/// Three alert rules a company would have (3 days after due by email and
/// SMS, 3 days before due and at issue by email), then one timed
/// `alerts::queue_due` over the seeded invoices, as the jobs loop runs it.
async fn queue_alerts(
    dir: &Path,
    db_url: &str,
    secret: &Secret,
    company_id: &fieldpay::domain::ids::CompanyId,
) -> anyhow::Result<Queued> {
    let app = App::open(Config {
        bind: "127.0.0.1:0".parse()?,
        database_url: db_url.to_string(),
        database_pool: Default::default(),
        sandbox_database_url: None,
        base_url: "https://pay.bench.example".into(),
        spool_dir: dir.join("spool"),
        secret: secret.clone(),
        rate_limits: RateLimits::default(),
        delivery: DeliverySettings::default(),
        stripe_api_base: fieldpay::processor::stripe::DEFAULT_API_BASE.into(),
        metrics_token: None,
        trusted_proxies: Vec::new(),
        signup: fieldpay::config::Signup::FirstRun,
        webhooks_allow_private: false,
    })
    .await?;
    let rules = [
        (Timing::AfterDue, 3, true),
        (Timing::BeforeDue, 3, false),
        (Timing::AtCreation, 0, false),
    ];
    for (timing, days, sms) in rules {
        alerts::add_rule(&app.db, company_id, timing, days, sms).await?;
    }
    let now = alerts::alert_instant(TIME_ZONE)?;
    let (report, took) = alerts::timed_queue_due(&app, now).await?;
    app.db.close().await;
    Ok(Queued {
        report,
        took,
        rules: rules.len(),
        now,
    })
}

// ---------------------------------------------------------------- payments

#[derive(Default)]
struct PayResult {
    elapsed: Duration,
    /// When the queue ran out, if it did.
    queue_empty_at: Option<Duration>,
    committed: u64,
    /// Latency of the token POST (200s).
    token_lat: Vec<Duration>,
    /// Latency of the pay POST (201s).
    pay_lat: Vec<Duration>,
    /// Token POST plus pay POST, for loops that committed.
    loop_lat: Vec<Duration>,
    /// Time spent in pay POSTs, whatever their answer.
    pay_busy: Duration,
    /// The (one) server's use at the start and end of the phase.
    server_use: Option<(ServerUse, ServerUse)>,
    token_statuses: BTreeMap<u16, u64>,
    pay_statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
    sample_error: Option<String>,
}

/// Client `w` pays through `bases[w % bases.len()]`.
async fn pay_load(
    bases: &[String],
    queue: Vec<(String, String)>,
    clients: usize,
    dur: Duration,
) -> anyhow::Result<PayResult> {
    let queue = Arc::new(queue);
    let next = Arc::new(AtomicUsize::new(0));
    let card = serde_json::json!({
        "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"
    });
    let started = Instant::now();
    let deadline = started + dur;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let base = bases[worker % bases.len()].clone();
        let token_uri: Uri = format!("{base}/sandbox/v1/tokens").parse()?;
        let (queue, next, card) = (queue.clone(), next.clone(), card.clone());
        tasks.push(tokio::spawn(async move {
            let client = http_client();
            let mut r = PayResult::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let Some((link, invoice)) = queue.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    r.queue_empty_at = Some(started.elapsed());
                    break;
                };
                n += 1;
                let loop_start = Instant::now();
                let tok = match send(&client, post_json(&token_uri, &card, None)?).await {
                    Ok((status, body)) => {
                        *r.token_statuses.entry(status.as_u16()).or_default() += 1;
                        if status != StatusCode::OK {
                            r.sample_error.get_or_insert_with(|| {
                                format!("token {status}: {}", String::from_utf8_lossy(&body))
                            });
                            continue;
                        }
                        r.token_lat.push(loop_start.elapsed());
                        let v: serde_json::Value = serde_json::from_slice(&body)?;
                        v["id"].as_str().unwrap_or_default().to_string()
                    }
                    Err(_) => {
                        r.transport_errors += 1;
                        continue;
                    }
                };
                let uri: Uri = format!("{base}/api/v1/pay/{link}/payments").parse()?;
                let body = serde_json::json!({ "invoice_ids": [invoice], "payment_method": tok });
                let key = format!("bench-{worker}-{n}");
                let t = Instant::now();
                let answer = send(&client, post_json(&uri, &body, Some(&key))?).await;
                r.pay_busy += t.elapsed();
                match answer {
                    Ok((status, body)) => {
                        *r.pay_statuses.entry(status.as_u16()).or_default() += 1;
                        if status == StatusCode::CREATED {
                            r.pay_lat.push(t.elapsed());
                            r.loop_lat.push(loop_start.elapsed());
                            r.committed += 1;
                        } else {
                            r.sample_error.get_or_insert_with(|| {
                                format!("pay {status}: {}", String::from_utf8_lossy(&body))
                            });
                        }
                    }
                    Err(_) => r.transport_errors += 1,
                }
            }
            anyhow::Ok(r)
        }));
    }
    let mut total = PayResult::default();
    for task in tasks {
        let r = task.await??;
        total.committed += r.committed;
        total.token_lat.extend(r.token_lat);
        total.pay_lat.extend(r.pay_lat);
        total.loop_lat.extend(r.loop_lat);
        total.pay_busy += r.pay_busy;
        for (s, n) in r.token_statuses {
            *total.token_statuses.entry(s).or_default() += n;
        }
        for (s, n) in r.pay_statuses {
            *total.pay_statuses.entry(s).or_default() += n;
        }
        total.transport_errors += r.transport_errors;
        total.queue_empty_at = match (total.queue_empty_at, r.queue_empty_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if total.sample_error.is_none() {
            total.sample_error = r.sample_error;
        }
    }
    total.elapsed = started.elapsed();
    total.token_lat.sort_unstable();
    total.pay_lat.sort_unstable();
    total.loop_lat.sort_unstable();
    Ok(total)
}

// ---------------------------------------------------------------- report

struct Figures<'a> {
    database: &'a str,
    processes: usize,
    nproc: usize,
    seconds: u64,
    short: bool,
    seeded: &'a Seeded,
    health: &'a GetResult,
    page: &'a GetResult,
    pdfs: &'a PdfResult,
    pays: &'a PayResult,
    /// Companies whose invoices the payments phase paid.
    companies: usize,
    /// PostgreSQL, 2 processes: payments of one company, then of all.
    by_company: Option<&'a (PayResult, PayResult)>,
    /// SQLite: one-row `synchronous=FULL` commits per second on this disk.
    fsync_limit: Option<&'a fsync::FsyncLimit>,
    /// `None` with `BENCH_ONLY_PAYMENTS`: the other phases were not run.
    queued: Option<&'a Queued>,
    hwm_kb: Option<u64>,
    /// VmHWM after each phase, in order.
    peaks: &'a [(&'a str, Option<u64>)],
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
fn pct_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3)
}

fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn statuses(map: &BTreeMap<u16, u64>, transport: u64) -> String {
    let mut parts: Vec<String> = map.iter().map(|(s, n)| format!("{s}\u{d7}{n}")).collect();
    if transport > 0 {
        parts.push(format!("transport-error\u{d7}{transport}"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" ")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

fn print_report(f: &Figures<'_>) {
    let (h, p, y) = (f.health, f.page, f.pays);
    println!();
    println!("==================== fieldpay load benchmark ====================");
    println!(
        "reproduce : cargo bench --bench load   (BENCH_SECONDS=N per phase, default {DEFAULT_SECONDS}; \
         BENCH_SHORT=1 for the CI form; BENCH_POSTGRES=URL of a server, BENCH_PROCESSES=N)"
    );
    println!(
        "database  : {}, {} server process{}",
        f.database,
        f.processes,
        if f.processes == 1 { "" } else { "es" }
    );
    if f.short {
        println!(
            "SHORT FORM: {SHORT_CUSTOMERS} customers instead of {CUSTOMERS}; a smoke run, not the documented figures"
        );
    }
    println!(
        "machine   : nproc {} (load generator and server share these CPUs); load average {} at the start, {} at the end",
        f.nproc,
        LOAD_AT_START.get().map_or("unavailable", String::as_str),
        load_average()
    );
    println!(
        "phase     : {} s each, HTTP/1.1 keep-alive, server = {} serve",
        f.seconds,
        match std::env::var_os("BENCH_SERVER").filter(|p| !p.is_empty()) {
            Some(p) => format!("BENCH_SERVER {}", p.to_string_lossy()),
            None => "this release build of `fieldpay`".to_string(),
        }
    );
    println!(
        "data      : {} customers, {} open invoices, {} lines; seeded in {:.1} s",
        f.seeded.customers,
        f.seeded.invoices,
        f.seeded.lines,
        f.seeded.took.as_secs_f64()
    );
    println!(
        "page      : measured customer has {} open invoices on 2 properties (1 billed on behalf of a tenant)",
        f.seeded.page_invoices
    );
    let all_phases = f.queued.is_some();
    if all_phases {
        println!();
        println!(
            "{:<22} {:>5} {:>11} {:>11} {:>9} {:>9}  statuses",
            "GET", "conns", "2xx req/s", "all req/s", "p50 ms", "p99 ms"
        );
        for (name, r) in [("/healthz", h), ("/pay/{token}", p)] {
            println!(
                "{:<22} {:>5} {:>11.0} {:>11.0} {:>9} {:>9}  {}",
                name,
                GET_CONNECTIONS,
                per_sec(r.ok.len(), r.elapsed),
                per_sec(r.all.len(), r.elapsed),
                ms(pct_ms(&r.ok, 50.0)),
                ms(pct_ms(&r.ok, 99.0)),
                statuses(&r.statuses, r.transport_errors)
            );
        }
        println!("  (p50/p99 are over 2xx answers only)");
        println!(
            "ratio pay/healthz     : throughput {}   p50 {}   p99 {}",
            ratio(
                Some(per_sec(p.ok.len(), p.elapsed)),
                Some(per_sec(h.ok.len(), h.elapsed))
            ),
            ratio(pct_ms(&p.ok, 50.0), pct_ms(&h.ok, 50.0)),
            ratio(pct_ms(&p.ok, 99.0), pct_ms(&h.ok, 99.0)),
        );
        let non_ok: u64 = p
            .statuses
            .iter()
            .filter(|(s, _)| **s >= 300)
            .map(|(_, n)| n)
            .sum();
        if non_ok > 0 {
            println!(
                "  note: {non_ok} /pay answers were not 2xx (429 = the per-link limit, 120/min by default); \
                 the 2xx figures cover only {} requests",
                p.ok.len()
            );
        }
    }
    println!();
    let committed = y.committed as usize;
    let pay_only = committed as f64 / (y.pay_busy.as_secs_f64() / PAY_CLIENTS as f64).max(1e-9);
    println!(
        "payments  : {PAY_CLIENTS} clients, each: POST /sandbox/v1/tokens then POST /api/v1/pay/{{token}}/payments ({} compan{})",
        f.companies,
        if f.companies == 1 { "y" } else { "ies" }
    );
    println!(
        "  committed (201)          : {committed} in {:.2} s",
        y.elapsed.as_secs_f64()
    );
    println!(
        "  full loop rate           : {:.1} payments/s (201s / wall time; token call included)",
        per_sec(committed, y.elapsed)
    );
    println!(
        "  pay-only rate            : {pay_only:.1} payments/s (201s / time the {PAY_CLIENTS} clients spent inside the pay POST)"
    );
    if let Some(limit) = f.fsync_limit {
        println!(
            "  disk's own limit         : {:.0} commits/s (bare SQLite, one row per synchronous=FULL commit, same disk, {:.1} s); payments ÷ that: {}",
            limit.per_sec(),
            limit.elapsed.as_secs_f64(),
            ratio(Some(per_sec(committed, y.elapsed)), Some(limit.per_sec()))
        );
    }
    if let Some((a, b)) = y.server_use.filter(|_| committed > 0) {
        println!(
            "  server per payment       : {:.3} ms of CPU (user + system), {:.1} context switches",
            (b.cpu_ticks - a.cpu_ticks) as f64 * 10.0 / committed as f64,
            b.switches.saturating_sub(a.switches) as f64 / committed as f64
        );
    }
    println!("  aim                      : >= 3,000 payments/s with synchronous=FULL");
    println!(
        "  latency p50/p99 ms       : token {}/{}   pay {}/{}   loop {}/{}",
        ms(pct_ms(&y.token_lat, 50.0)),
        ms(pct_ms(&y.token_lat, 99.0)),
        ms(pct_ms(&y.pay_lat, 50.0)),
        ms(pct_ms(&y.pay_lat, 99.0)),
        ms(pct_ms(&y.loop_lat, 50.0)),
        ms(pct_ms(&y.loop_lat, 99.0)),
    );
    println!(
        "  token POST statuses      : {}",
        statuses(&y.token_statuses, 0)
    );
    println!(
        "  pay POST statuses        : {}",
        statuses(&y.pay_statuses, y.transport_errors)
    );
    if let Some(at) = y.queue_empty_at {
        println!(
            "  queue of {} (link, invoice) pairs ran out after {:.2} s",
            f.seeded.queue.len(),
            at.as_secs_f64()
        );
    }
    if let Some(e) = &y.sample_error {
        println!(
            "  first error              : {}",
            e.chars().take(300).collect::<String>()
        );
    }
    if let Some((one, all)) = f.by_company {
        let (r1, rn) = (
            per_sec(one.committed as usize, one.elapsed),
            per_sec(all.committed as usize, all.elapsed),
        );
        println!();
        println!(
            "payments by company: PostgreSQL, 2 processes, {PAY_CLIENTS} clients (writes of different companies in parallel)"
        );
        println!("  1 company                : {r1:.1} payments/s");
        println!(
            "  {} companies              : {rn:.1} payments/s",
            f.companies
        );
        println!(
            "  ratio                    : {}   (aim: >= 1.8 with 4 companies)",
            ratio(Some(rn), Some(r1))
        );
        for (name, r) in [("1 company", one), ("all", all)] {
            if let Some(e) = &r.sample_error {
                println!(
                    "  first error ({name})      : {}",
                    e.chars().take(300).collect::<String>()
                );
            }
        }
    }
    let d = f.pdfs;
    if let Some(q) = f.queued {
        println!();
        println!(
            "PDFs      : {PDF_CONNECTIONS} connections, GET /api/v1/invoices/{{id}}/pdf, a different invoice each time"
        );
        println!(
            "  rendered and served      : {} in {:.2} s = {:.1} PDFs/s ({:.0} KB each on average)",
            d.ok.len(),
            d.elapsed.as_secs_f64(),
            per_sec(d.ok.len(), d.elapsed),
            d.bytes as f64 / 1024.0 / d.ok.len().max(1) as f64
        );
        println!(
            "  latency p50/p99 ms       : {}/{}   statuses: {}",
            ms(pct_ms(&d.ok, 50.0)),
            ms(pct_ms(&d.ok, 99.0)),
            statuses(&d.statuses, d.transport_errors)
        );
        if let Some(e) = &d.sample_error {
            println!("  first error              : {e}");
        }
        println!();
        println!(
            "alerts    : alerts::queue_due at {} over {} rules (3 days after due: email + SMS; 3 days before due; at issue)",
            q.now, q.rules
        );
        println!(
            "  queued                   : {} messages in {:.2} s = {:.0} alerts queued/s; 100,000 at that rate: {:.2} s (aim <= 1 s)",
            q.report.queued,
            q.took.as_secs_f64(),
            per_sec(q.report.queued, q.took),
            100_000.0 / per_sec(q.report.queued, q.took).max(1e-9)
        );
        println!(
            "  report                   : too early {}, duplicates {}, not sendable {}",
            q.report.too_early, q.report.duplicates, q.report.not_sendable
        );
    }
    println!();
    match f.hwm_kb {
        Some(kb) => println!("server peak RSS (VmHWM)  : {:.1} MB", kb as f64 / 1024.0),
        None => println!("server peak RSS (VmHWM)  : unavailable (no /proc?)"),
    }
    let after: Vec<String> = f
        .peaks
        .iter()
        .map(|(phase, kb)| match kb {
            Some(kb) => format!("{phase} {:.1}", *kb as f64 / 1024.0),
            None => format!("{phase} -"),
        })
        .collect();
    println!("  VmHWM MB after each phase: {}", after.join(", "));
    println!();
    println!("summary (one run, one server; ratios are against /healthz of this run):");
    let hz = per_sec(h.ok.len(), h.elapsed);
    let pz = per_sec(p.ok.len(), p.elapsed);
    if all_phases {
        println!(
            "  /healthz                 : {hz:.0} req/s, p50 {} ms, p99 {} ms",
            ms(pct_ms(&h.ok, 50.0)),
            ms(pct_ms(&h.ok, 99.0))
        );
        println!(
            "  pay page                 : {pz:.0} req/s ({} x /healthz), p50 {} ms, p99 {} ms",
            ratio(Some(pz), Some(hz)),
            ms(pct_ms(&p.ok, 50.0)),
            ms(pct_ms(&p.ok, 99.0))
        );
    }
    println!(
        "  payments                 : {:.0} payments/s",
        per_sec(y.committed as usize, y.elapsed)
    );
    if let Some((one, all)) = f.by_company {
        let (r1, rn) = (
            per_sec(one.committed as usize, one.elapsed),
            per_sec(all.committed as usize, all.elapsed),
        );
        println!(
            "  payments, {} companies ÷ 1 : {} ({rn:.0} ÷ {r1:.0} payments/s, 2 processes; aim >= 1.8)",
            f.companies,
            ratio(Some(rn), Some(r1))
        );
    }
    if let Some(q) = f.queued {
        println!(
            "  PDFs                     : {:.1} PDFs/s",
            per_sec(d.ok.len(), d.elapsed)
        );
        println!(
            "  alerts                   : {:.0} alerts queued/s",
            per_sec(q.report.queued, q.took)
        );
    }
    println!(
        "  peak RSS                 : {}",
        f.hwm_kb
            .map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
            .unwrap_or_else(|| "-".into())
    );
    println!("==================================================================");
}
