//! Invoice-alert benchmark: seeds a fresh SQLite database through the
//! library with many open invoices whose "3 days after due" alert fires
//! today, times `alerts::queue_due`, then times outbox delivery (rendering
//! each message) to a local SMTP server (aiosmtpd) or, when none is
//! available, to the spool folder.
//!
//! Run with `cargo bench --bench messages` (`BENCH_INVOICES=N` open invoices,
//! 100000 by default; `BENCH_SECONDS=N` for the delivery phase, 10 s by
//! default; `FIELDPAY_TEST_PYTHON` names a python with aiosmtpd). It prints
//! figures only; it never asserts on timings.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use time::OffsetDateTime;

use fieldpay::app::App;
use fieldpay::app::setup;
use fieldpay::config::DeliverySettings;
use fieldpay::crypto::{Secret, new_id};
use fieldpay::domain::money::Currency;
use fieldpay::messaging::Rendered;
use fieldpay::messaging::email::BoxFuture;
use fieldpay::messaging::outbox::{self, Transports};
use fieldpay::store::StoreError;
use fieldpay::store::alerts::{self as alert_store, RuleFields, Timing};
use fieldpay::store::customers;
use fieldpay::store::messages::OutboxRow;
use fieldpay::store::templates::{self, EmailFields};

#[path = "common/batch.rs"]
mod batch;
#[path = "common/config.rs"]
mod config;
#[path = "common/seed.rs"]
mod seed;
use batch::Batch;
use config::bench_config;
use seed::{FIRST_NAMES, Rng, SEED, customer, invoice_lines, open_invoice};

const DEFAULT_INVOICES: usize = 100_000;
const INVOICES_PER_CUSTOMER: usize = 5;
/// Rows (customers, properties, links, invoices, lines) per write transaction.
const ROWS_PER_TX: usize = 1_000;
const DEFAULT_SECONDS: u64 = 10;
/// Delivery stops after this many messages even if time is left.
const DELIVERY_CAP: usize = 5_000;
const DAYS_AFTER_DUE: i64 = 3;
const TIME_ZONE: &str = "America/Chicago";

const SUBJECT: &str = "Invoice {{ invoice_number }} is past due";
const HTML_BODY: &str = "<p>Hi {{ customer_first_name }},</p>\
<p>Invoice {{ invoice_number }} is now 3 days past due.</p>\
<p><a href=\"{{ email_payment_link }}\">Pay online</a></p>";
const TEXT_BODY: &str = "Hi {{ customer_first_name }},\n\n\
Invoice {{ invoice_number }} is now 3 days past due.\n\
Pay online: {{ email_payment_link }}\n";

fn main() {
    if let Err(e) = run() {
        eprintln!("messages bench failed: {e:#}");
        std::process::exit(1);
    }
}

fn env_positive(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{name} must be a positive whole number, got '{s}'")),
        Err(_) => Ok(default),
    }
}

fn run() -> anyhow::Result<()> {
    let invoices_wanted = env_positive("BENCH_INVOICES", DEFAULT_INVOICES as u64)? as usize;
    let seconds = env_positive("BENCH_SECONDS", DEFAULT_SECONDS)?;
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);

    let dir = std::env::temp_dir().join(format!("fieldpay-bench-{}", new_id("msg")));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    // Removes the folder (and kills the SMTP server, once started) on every exit path.
    let mut guard = Cleanup {
        child: None,
        dir: dir.clone(),
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The SMTP transport's connection pool spawns tasks when built and dropped.
    let _in_runtime = rt.enter();
    let config = bench_config(
        format!("sqlite://{}", dir.join("bench.db").display()),
        &dir,
        Secret::generate(),
    )?;

    let app = rt.block_on(App::open(config.clone()))?;
    eprintln!("messages: seeding {invoices_wanted} open invoices ...");
    let seeded = rt.block_on(seed(&app, invoices_wanted))?;
    eprintln!(
        "messages: seeded {} customers, {} invoices, {} lines in {:.1} s",
        seeded.customers,
        seeded.invoices,
        seeded.lines,
        seeded.took.as_secs_f64()
    );

    let now = alert_instant()?;
    eprintln!("messages: queue_due at {now} ...");
    let started = Instant::now();
    let report = rt
        .block_on(fieldpay::app::alerts::queue_due(&app, now))
        .map_err(|e| anyhow::anyhow!("queue_due failed: {e}"))?;
    let queue_took = started.elapsed();

    // Delivery: a local SMTP server when a python with aiosmtpd is around,
    // then the spool folder (for comparison, or instead when SMTP is skipped).
    let mut phases: Vec<(String, Delivered)> = Vec::new();
    match smtp_python() {
        Some(python) => {
            let port = free_port()?;
            let child = start_smtpd(&python, port)?;
            guard.child = Some(child);
            wait_port(port, &mut guard)?;
            let mut cfg = config.clone();
            cfg.delivery = DeliverySettings {
                smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
                ..Default::default()
            };
            let transports = Transports::from_config(&cfg, &fieldpay::domain::Clock::system())
                .map_err(|e| anyhow::anyhow!(e))?;
            let label =
                format!("local SMTP server (aiosmtpd Sink via {python}, smtp://127.0.0.1:{port})");
            eprintln!(
                "messages: delivering to {label} for up to {seconds} s / {DELIVERY_CAP} messages ..."
            );
            let d = rt.block_on(deliver(&app, &transports, now, seconds))?;
            phases.push((label, d));
            drop(transports);
            if let Some(mut child) = guard.child.take() {
                child.kill().ok();
                child.wait().ok();
            }
        }
        None => {
            eprintln!(
                "messages: SMTP SKIPPED (no python with aiosmtpd: set FIELDPAY_TEST_PYTHON); \
                 measuring delivery to the spool folder instead"
            );
        }
    }
    let spool_label = if phases.is_empty() {
        "spool folder (.eml files) -- SMTP SKIPPED: no python with aiosmtpd".to_string()
    } else {
        "spool folder (.eml files), for comparison with SMTP".to_string()
    };
    let transports = Transports::from_config(&config, &fieldpay::domain::Clock::system())
        .map_err(|e| anyhow::anyhow!(e))?;
    eprintln!(
        "messages: delivering to the spool folder for up to {seconds} s / {DELIVERY_CAP} messages ..."
    );
    let d = rt.block_on(deliver(&app, &transports, now, seconds))?;
    phases.push((spool_label, d));
    drop(transports);
    rt.block_on(app.db.close());

    print_report(&Figures {
        nproc,
        seconds,
        seeded: &seeded,
        now,
        report: &report,
        queue_took,
        phases: &phases,
    });
    drop(guard);
    Ok(())
}

/// A UTC instant at which it is today, after `SEND_FROM_HOUR`, in the
/// company's zone: now if it is already past 9:00 there, else today's noon.
fn alert_instant() -> anyhow::Result<OffsetDateTime> {
    let real = OffsetDateTime::now_utc();
    let (_, hour) = fieldpay::app::alerts::local_date_hour(real, TIME_ZONE);
    if hour >= fieldpay::app::alerts::SEND_FROM_HOUR {
        return Ok(real);
    }
    let today = fieldpay::domain::Clock::system().today_in(TIME_ZONE);
    let noon = jiff::civil::date(
        today.year() as i16,
        u8::from(today.month()) as i8,
        today.day() as i8,
    )
    .at(12, 0, 0, 0)
    .in_tz(TIME_ZONE)?;
    Ok(OffsetDateTime::from_unix_timestamp(
        noon.timestamp().as_second(),
    )?)
}

// ---------------------------------------------------------------- seeding

struct Seeded {
    customers: usize,
    invoices: usize,
    lines: usize,
    links: usize,
    took: Duration,
    due_date: time::Date,
}

async fn seed(app: &App, invoices_wanted: usize) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let db = &app.db;
    let secret = &app.config.secret;
    let mut company = setup::default_company("Benchmark Pest Control");
    company.phone = "(512) 555-0199".into();
    company.email = "billing@bench.example".into();
    company.address = "1 Benchmark Way, Austin, TX 78701".into();
    company.currency = Currency::USD;
    company.time_zone = TIME_ZONE.into();
    let created =
        setup::create_company(db, &company, "owner@bench.example", "bench-owner-password").await?;
    let company_id = &created.company_id;
    let today = fieldpay::domain::Clock::system().today_in(TIME_ZONE);
    // Trigger date (due + 3) is today in the company's zone.
    let due_date = today - time::Duration::days(DAYS_AFTER_DUE);

    let mut tx = db.begin_write().await?;
    let template = templates::create_email(
        &mut tx,
        company_id,
        &EmailFields {
            name: "Past due reminder",
            subject: SUBJECT,
            html_body: HTML_BODY,
            text_body: Some(TEXT_BODY),
            attach_invoice_pdf: false,
            translations: &Default::default(),
        },
    )
    .await?;
    alert_store::create(
        &mut tx,
        company_id,
        &RuleFields {
            email_template_id: Some(&template.id),
            sms_template_id: None,
            timing: Timing::AfterDue,
            days: DAYS_AFTER_DUE,
            enabled: true,
        },
        OffsetDateTime::now_utc(),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;

    let customer_count = invoices_wanted.div_ceil(INVOICES_PER_CUSTOMER);
    let mut rng = Rng(SEED);
    let mut batch = Batch::open(db, ROWS_PER_TX).await?;
    let mut invoice_count = 0usize;
    let mut line_count = 0usize;
    let mut links = 0usize;
    for n in 0..customer_count {
        let first = FIRST_NAMES[n % FIRST_NAMES.len()];
        let c = customers::create(
            batch.tx(),
            company_id,
            &customer(format!("{first} Customer{n:06}"), n),
        )
        .await?;
        batch.wrote(1).await?;
        let address = format!("{} Elm St, Austin, TX 787{:02}", 100 + n, n % 50);
        let home =
            customers::create_property(batch.tx(), company_id, &address, &c.id, &c.id).await?;
        batch.wrote(1).await?;
        fieldpay::app::links::issue(batch.tx(), secret, company_id, &c.id).await?;
        links += 1;
        batch.wrote(1).await?;
        let these = INVOICES_PER_CUSTOMER.min(invoices_wanted - invoice_count);
        for _ in 0..these {
            let lines = invoice_lines(&mut rng);
            let dates = (due_date - time::Duration::days(30), due_date);
            open_invoice(&mut batch, company_id, &home.id, &c.id, dates, &lines).await?;
            let n_lines = lines.len();
            invoice_count += 1;
            line_count += n_lines;
        }
    }
    batch.commit().await?;
    Ok(Seeded {
        customers: customer_count,
        invoices: invoice_count,
        lines: line_count,
        links,
        took: started.elapsed(),
        due_date,
    })
}

// ---------------------------------------------------------------- delivery

/// When the current delivery phase ends; messages claimed after it are put
/// back unrendered (a `deliver_due_with` run takes up to `MAX_PER_RUN`).
static DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);

fn past_deadline() -> bool {
    let d = DEADLINE.lock().unwrap_or_else(|e| e.into_inner());
    d.is_some_and(|d| Instant::now() >= d)
}

/// `fieldpay::app::messages::render_stored`, until the phase's deadline.
fn render_until_deadline<'a>(
    app: &'a App,
    row: &'a OutboxRow,
) -> BoxFuture<'a, Result<Rendered, String>> {
    if past_deadline() {
        return Box::pin(async { Err("the benchmark phase is over".to_string()) });
    }
    fieldpay::app::messages::render_stored(app, row)
}

#[derive(Default)]
struct Delivered {
    /// From the start to the last message sent.
    elapsed: Duration,
    runs: usize,
    report: outbox::DeliveryReport,
    /// Claimed after the deadline and put back unsent.
    put_back: usize,
}

/// `deliver_due_with` runs (each up to `MAX_PER_RUN` messages, rendered one
/// by one) until `seconds` have passed, `DELIVERY_CAP` messages went, or
/// nothing is left to send.
async fn deliver(
    app: &App,
    transports: &Transports,
    now: OffsetDateTime,
    seconds: u64,
) -> anyhow::Result<Delivered> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    *DEADLINE.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
    let mut d = Delivered::default();
    while Instant::now() < deadline && d.report.sent < DELIVERY_CAP {
        let r =
            fieldpay::app::messages::deliver_due_with(app, transports, now, render_until_deadline)
                .await?;
        let end = Instant::now();
        d.runs += 1;
        d.report.sent += r.sent;
        if past_deadline() {
            // The messages of this run claimed after the deadline.
            d.put_back += r.retried;
            d.elapsed = d.elapsed.max(deadline.min(end) - started);
        } else {
            d.report.retried += r.retried;
            d.elapsed = end - started;
        }
        d.report.failed += r.failed;
        d.report.withdrawn += r.withdrawn;
        if r == outbox::DeliveryReport::default() || r.sent == 0 {
            // Nothing left, or every message of the run failed.
            break;
        }
    }
    Ok(d)
}

// ---------------------------------------------------------------- SMTP server

struct Cleanup {
    child: Option<Child>,
    dir: PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A python with aiosmtpd: `FIELDPAY_TEST_PYTHON`, else `python3` when it
/// has the module.
fn smtp_python() -> Option<String> {
    let candidates = std::env::var("FIELDPAY_TEST_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .into_iter()
        .chain(["python3".to_string()]);
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(py);
        }
    }
    None
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// `python -m aiosmtpd`, no setuid, with the handler that discards messages.
fn start_smtpd(python: &str, port: u16) -> anyhow::Result<Child> {
    Command::new(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {python} -m aiosmtpd"))
}

fn wait_port(port: u16, guard: &mut Cleanup) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(child) = guard.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!("aiosmtpd exited ({status}) before listening on port {port}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("aiosmtpd did not listen on port {port} within 15 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- report

struct Figures<'a> {
    nproc: usize,
    seconds: u64,
    seeded: &'a Seeded,
    now: OffsetDateTime,
    report: &'a fieldpay::app::alerts::AlertReport,
    queue_took: Duration,
    /// (what was delivered to, figures), in the order measured.
    phases: &'a [(String, Delivered)],
}

fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn print_report(f: &Figures<'_>) {
    let (s, r) = (f.seeded, f.report);
    println!();
    println!("==================== fieldpay messages benchmark ====================");
    println!(
        "reproduce : cargo bench --bench messages   (BENCH_INVOICES=N, default {DEFAULT_INVOICES}; \
         BENCH_SECONDS=N delivery phase, default {DEFAULT_SECONDS}; FIELDPAY_TEST_PYTHON=python with aiosmtpd)"
    );
    println!(
        "machine   : nproc {} (SMTP server, if any, shares these CPUs)",
        f.nproc
    );
    println!(
        "data      : {} customers (with email, property, payment link: {}), {} open invoices, {} lines",
        s.customers, s.links, s.invoices, s.lines
    );
    println!(
        "            all due {} -> trigger (due + {DAYS_AFTER_DUE}) today in {TIME_ZONE}",
        s.due_date
    );
    println!(
        "seeding   : {:.1} s ({:.0} invoices/s, {ROWS_PER_TX} rows per write transaction; not part of the figures below)",
        s.took.as_secs_f64(),
        per_sec(s.invoices, s.took)
    );
    println!();
    println!(
        "alerts::queue_due at {} (after 09:00 in {TIME_ZONE})",
        f.now
    );
    println!(
        "  queued {} alert messages ({} enabled rules over {} open invoices; a rule with \
         email and SMS queues two per invoice) in {:.2} s",
        r.queued,
        r.rules,
        s.invoices,
        f.queue_took.as_secs_f64()
    );
    println!(
        "  rate                     : {:.0} messages/s",
        per_sec(r.queued, f.queue_took)
    );
    println!(
        "  per 100,000 messages     : {:.2} s   (aim: 100,000 in under 1 s)",
        100_000.0 / per_sec(r.queued, f.queue_took).max(1e-9)
    );
    println!(
        "  measured                 : the whole queue_due call: the due invoices read per rule, \
         each batch's still-open check, recipients normalised, opt-outs looked up, \
         rows inserted with their de-duplication, one synchronous=FULL commit per {} invoices of a rule",
        fieldpay::app::alerts::BATCH
    );
    println!(
        "  report                   : rules {}, too early {}, duplicates {}, not sendable {}",
        r.rules, r.too_early, r.duplicates, r.not_sendable
    );
    for (target, d) in f.phases {
        println!();
        println!("delivery  : {target}");
        println!(
            "  limit                    : {} s or {DELIVERY_CAP} messages, whichever first; {} deliver_due_with runs",
            f.seconds, d.runs
        );
        println!(
            "  sent                     : {} in {:.2} s (each rendered from the stored template at delivery)",
            d.report.sent,
            d.elapsed.as_secs_f64()
        );
        println!(
            "  rate                     : {:.1} messages/s",
            per_sec(d.report.sent, d.elapsed)
        );
        println!(
            "  retried/failed/withdrawn: {}/{}/{} (plus {} claimed after the deadline and put back)",
            d.report.retried, d.report.failed, d.report.withdrawn, d.put_back
        );
        if d.report.sent > 0 {
            println!(
                "  at this rate all {} queued messages would take {:.0} s",
                r.queued,
                r.queued as f64 / per_sec(d.report.sent, d.elapsed).max(1e-9)
            );
        }
    }
    println!("======================================================================");
}
