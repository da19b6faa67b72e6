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

use std::time::Duration;

use anyhow::{Context, bail};

use fieldpay::crypto::{Secret, new_id};

use report::{Figures, print_report};
use seed::{env_flag, env_positive};
use seeding::{interleave, seed_data};
use server::{
    Cleanup, analyze_postgres, check_page, create_postgres_database, drop_postgres_database,
    free_port, read_status_kb, server_use, spawn_server, wait_ready,
};
use traffic::{get_load, pay_load, pdf_load, queue_alerts};

#[path = "common/alerts.rs"]
mod alerts;
#[path = "common/batch.rs"]
mod batch;
#[path = "common/config.rs"]
mod config;
#[path = "common/fsync.rs"]
mod fsync;
#[path = "load/report.rs"]
mod report;
#[path = "common/seed.rs"]
mod seed;
#[path = "load/seeding.rs"]
mod seeding;
#[path = "load/server.rs"]
mod server;
#[path = "load/traffic.rs"]
mod traffic;

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
