use clap::{Parser, Subcommand};

// glibc malloc showed up at ~15% of the pay page's CPU (arena locking across
// the sqlx worker threads); mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tracing_subscriber::EnvFilter;

use fieldpay::app::App;
use fieldpay::config::{Config, Settings};
use fieldpay::money::Currency;
use fieldpay::store::companies::NewCompany;
use fieldpay::{demo, jobs, setup, web};

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
    /// Run the web server and the job scheduler.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
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
    },
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("FIELDPAY_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::resolve(&cli.settings)?;
    match cli.command {
        Command::Migrate => {
            App::open(config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Serve => {
            let app = App::open(config).await?;
            tokio::spawn(jobs::run_forever(app.clone()));
            web::serve(app).await
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
            tokio::spawn(jobs::run_forever(app.clone()));
            web::serve(app).await
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
            let company = NewCompany {
                phone: phone.unwrap_or_default(),
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
            command: JobsCommand::Run { once: _, now },
        } => {
            let now = match now {
                Some(t) => {
                    time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| anyhow::anyhow!("--now must be an RFC 3339 instant: {e}"))?
                }
                None => fieldpay::store::now(),
            };
            let app = App::open(config).await?;
            let report = jobs::run_once(&app, now).await?;
            println!("{:?}", report);
            Ok(())
        }
    }
}
