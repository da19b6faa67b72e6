//! The command line: `fieldpay serve`, `migrate`, `company create`, `jobs
//! run`, `import`… `main.rs` only sets up the allocator and calls `main`
//! here. The commands live in the library because a future is compiled in
//! the crate that polls it: run from `main.rs`, the server, the jobs and
//! every use case they await were compiled a second time in the binary.

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::app::App;
use crate::app::setup;
use crate::config::{Config, LogFormat, Settings};
use crate::domain::Clock;
use crate::domain::money::Currency;
use crate::store::companies::NewCompany;
use crate::{demo, jobs, web};

#[derive(Parser)]
#[command(
    name = "fieldpay",
    version,
    about = "Billing and payment collection for field-service companies"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server and the job scheduler. On SIGTERM or Ctrl-C it
    /// stops accepting connections, finishes the requests in flight, stops
    /// the jobs between units of work, gives back its outbox claims and
    /// exits 0.
    Serve {
        /// Web only: run no scheduled jobs in this process (run them in
        /// another, e.g. `fieldpay serve` or `fieldpay jobs run --once`).
        #[arg(long)]
        no_jobs: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Copy the whole SQLite database (FIELDPAY_DATABASE_URL) into an empty
    /// PostgreSQL database, in one transaction; then point
    /// FIELDPAY_DATABASE_URL at PostgreSQL.
    CopyDatabase {
        /// The PostgreSQL database to fill: postgres://USER@HOST:PORT/DATABASE
        /// (from the environment keeps its password out of `ps`).
        #[arg(long, env = "FIELDPAY_COPY_TO", hide_env_values = true)]
        to: String,
    },
    /// Seed the demo company (idempotent), print its logins and links, then serve.
    Demo,
    /// Company set-up.
    Company {
        #[command(subcommand)]
        command: CompanyCommand,
    },
    /// Scheduled jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Import customers or invoices from a CSV file. Exits 0 when every row
    /// was imported, 2 when some rows failed (they are listed), 1 when
    /// nothing could be imported (unreadable file, unknown company).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Customers and their service addresses: external_id, name, email,
    /// phone, billing_address, service_address, property_external_id,
    /// bill_to_external_id.
    Customers(ImportArgs),
    /// Invoices: number, customer_external_id or property_external_id,
    /// issue_date, due_date, lines or total, amount_paid, external_id.
    Invoices(ImportArgs),
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The CSV file; its first line names the columns.
    file: std::path::PathBuf,
    /// The company to import into (its id, as `company create` printed it).
    #[arg(long, required_unless_present = "company_name")]
    company: Option<crate::domain::ids::CompanyId>,
    /// The company to import into, by its exact name.
    #[arg(long, conflicts_with = "company")]
    company_name: Option<String>,
}

#[derive(Subcommand)]
enum CompanyCommand {
    /// Create a company and its first office user (the owner).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        owner_password: String,
        #[arg(long, default_value = "usd")]
        currency: String,
        #[arg(long, default_value = "America/Chicago")]
        time_zone: String,
        #[arg(long)]
        phone: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Run every job that is due and exit.
    Run {
        #[arg(long, required = true)]
        once: bool,
        /// The instant to run at (RFC 3339); the clock's time when absent.
        #[arg(long)]
        now: Option<String>,
        /// Print what was done as one JSON object instead of lines.
        #[arg(long)]
        json: bool,
    },
}

/// Threads for blocking work (PDF renders, password hashes, spool file
/// writes with their fsync, DNS lookups): tokio's default of 512 let a
/// burst of spooled messages start a thread each, every one keeping its own
/// allocator heap. Beyond a few per core they only wait on the same disk.
fn blocking_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 2).max(4)
}

/// Parses the command line, runs the command on a multi-threaded runtime
/// and exits 1 (after printing the error) when it fails.
pub fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(blocking_threads())
        .build();
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    init_logs(cli.settings.log_format);
    if let Err(e) = runtime.block_on(run(cli)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// Log lines to stderr, as text or one JSON object a line; a request's
/// lines carry its span (request id, method, route) either way.
fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_env("FIELDPAY_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Serves (with the jobs loop unless `jobs` is false) until SIGTERM or
/// Ctrl-C, then shuts down gracefully.
async fn serve(app: App, jobs: bool) -> anyhow::Result<()> {
    let listener = web::bind(&app).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let jobs_loop = jobs.then(|| tokio::spawn(jobs::run_until(app.clone(), stop_rx.clone())));
    tokio::spawn(async move {
        web::shutdown_signal().await;
        let _ = stop_tx.send(true);
        // The sender lives on so the receivers do not read a dropped
        // channel as a second signal.
        std::future::pending::<()>().await;
    });
    let mut web_stop = stop_rx;
    web::serve_until(
        listener,
        app.clone(),
        Box::pin(async move {
            let _ = web_stop.wait_for(|stopping| *stopping).await;
        }),
    )
    .await?;
    if let Some(jobs_loop) = jobs_loop
        && let Err(e) = jobs_loop.await
    {
        tracing::warn!(error = %e, "the jobs loop ended abnormally");
    }
    app.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::resolve(&cli.settings)?;
    match cli.command {
        Command::Migrate => {
            App::open(config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::CopyDatabase { to } => {
            let from = crate::store::Db::connect(&config.database_url).await?;
            let target =
                crate::store::Db::connect_with(&to, &config.database_pool, Clock::system()).await?;
            let copied = crate::store::copy::sqlite_to_postgres(&from, &target).await?;
            for (table, rows) in &copied {
                println!("{table}: {rows} rows");
            }
            let total: u64 = copied.iter().map(|(_, n)| n).sum();
            println!("copied {total} rows into {}", crate::store::redact_url(&to));
            Ok(())
        }
        Command::Serve { no_jobs } => {
            let app = App::open(config).await?;
            if !crate::store::companies::exist(&app.db).await? {
                match app.config.signup {
                    crate::config::Signup::Off => println!(
                        "fieldpay has no company yet: create one with `fieldpay company create` (sign-up in the browser is off)"
                    ),
                    _ => println!(
                        "fieldpay has no company yet: open {}/setup to create yours",
                        app.config.base_url
                    ),
                }
            }
            serve(app, !no_jobs).await
        }
        Command::Demo => {
            let app = App::open(config).await?;
            let info = demo::ensure(&app).await?;
            println!("fieldpay demo: {}", demo::COMPANY_NAME);
            println!(
                "  office login: {} / {}",
                demo::OFFICE_EMAIL,
                demo::OFFICE_PASSWORD
            );
            println!("  API key:      {}", info.api_key);
            println!("  quick-pay links:");
            for (name, url) in &info.links {
                println!("    {name:<18} {url}");
            }
            println!(
                "  try: curl -H 'Authorization: Bearer {}' {}/api/v1/customers",
                info.api_key, app.config.base_url
            );
            println!(
                "  your own company: start on an empty database (`fieldpay serve` with another FIELDPAY_DATABASE_URL) and open /setup"
            );
            serve(app, true).await
        }
        Command::Company {
            command:
                CompanyCommand::Create {
                    name,
                    owner_email,
                    owner_password,
                    currency,
                    time_zone,
                    phone,
                    json,
                },
        } => {
            let currency = Currency::parse(&currency)
                .ok_or_else(|| anyhow::anyhow!("unsupported currency '{currency}'"))?;
            let app = App::open(config).await?;
            let region = crate::domain::contact::DEFAULT_REGION;
            let phone = match phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
                Some(p) => crate::domain::PhoneNumber::parse("--phone", p, region)
                    .map(|n| crate::domain::contact::display_phone(n.as_str(), region))
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                None => String::new(),
            };
            let name = crate::domain::text::single_line("--name", &name, 200)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let company = NewCompany {
                phone,
                currency,
                time_zone,
                ..setup::default_company(&name)
            };
            let created =
                setup::create_company(&app.db, &company, &owner_email, &owner_password).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "company_id": created.company_id,
                        "owner_id": created.owner_id,
                        "api_key": created.api_key,
                    })
                );
            } else {
                println!(
                    "company {} created; API key {}",
                    created.company_id, created.api_key
                );
            }
            Ok(())
        }
        Command::Jobs {
            command: JobsCommand::Run { once: _, now, json },
        } => {
            // With `--now`, the whole run reads that instant as "now": the
            // jobs' times and every time they stamp agree.
            let clock = match now {
                Some(t) => Clock::starting_at(
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| anyhow::anyhow!("--now must be an RFC 3339 instant: {e}"))?,
                ),
                None => Clock::system(),
            };
            let app = App::open_with_clock(config, clock).await?;
            let report = jobs::run_once(&app, app.clock.now()).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                for line in report.lines() {
                    println!("{line}");
                }
            }
            Ok(())
        }
        Command::Import { command } => {
            let (kind, args) = match command {
                ImportCommand::Customers(a) => ("customers", a),
                ImportCommand::Invoices(a) => ("invoices", a),
            };
            let failed = import_file(config, kind, args).await?;
            if failed > 0 {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}

/// Runs an import and prints its report; returns how many rows failed.
async fn import_file(config: Config, kind: &str, args: ImportArgs) -> anyhow::Result<usize> {
    use std::io::{IsTerminal, Write};
    let file = std::fs::File::open(&args.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    let app = App::open(config).await?;
    let company = match (&args.company, &args.company_name) {
        (Some(id), _) => id.clone(),
        (None, Some(name)) => crate::store::companies::find_by_name(&app.db, name)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no company is named '{name}'"))?,
        (None, None) => anyhow::bail!("say which company with --company ID"),
    };
    let tty = std::io::stderr().is_terminal();
    let mut last_drawn = usize::MAX;
    let mut progress = move |done: usize, total: usize| {
        if !tty || total == 0 {
            return;
        }
        let width = 30;
        let filled = done * width / total;
        let percent = done * 100 / total;
        if percent == last_drawn && done != total {
            return;
        }
        last_drawn = percent;
        let mut err = std::io::stderr();
        let _ = write!(
            err,
            "\r[{}{}] {done}/{total} rows ({percent}%)",
            "#".repeat(filled),
            "-".repeat(width - filled)
        );
        if done == total {
            let _ = writeln!(err);
        }
        let _ = err.flush();
    };
    let reader = std::io::BufReader::new(file);
    let actor = "cli:import";
    let result = match kind {
        "customers" => {
            crate::app::import::import_customers(&app, &company, reader, actor, &mut progress).await
        }
        _ => {
            crate::app::import::import_invoices(&app, &company, reader, actor, &mut progress).await
        }
    };
    let report = match result {
        Ok(r) => r,
        Err(crate::app::import::ImportError::UnknownCompany) => {
            anyhow::bail!("no company has the id '{company}'")
        }
        Err(crate::app::import::ImportError::File(m)) => {
            anyhow::bail!("{}: {m}", args.file.display())
        }
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    for r in report.problems() {
        writeln!(
            out,
            "line {}: {} {}: {}",
            r.line,
            r.outcome.word(),
            if r.key.is_empty() { "(no id)" } else { &r.key },
            r.message
        )?;
    }
    writeln!(out, "{kind}: {} rows: {}", report.rows, report.summary())?;
    out.flush()?;
    Ok(report.failed)
}
