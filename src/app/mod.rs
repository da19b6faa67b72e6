//! The application: its state (`App`) and the use cases, one function per
//! thing a person or a job does, which the web pages, the JSON API, the
//! portal, CSV import, `demo` and the jobs call to change anything.

pub mod actor;
pub mod alerts;
pub mod autopay;
pub mod cards;
pub mod customers;
pub mod documents;
pub mod import;
pub mod invoices;
pub mod links;
pub mod messages;
pub mod office_emails;
pub mod payments;
pub mod processors;
pub mod properties;
pub mod refunds;
pub mod rejected;
pub mod reports;
pub mod setup;
pub mod templates;
pub mod webhook_delivery;
pub mod webhooks;

use std::sync::Arc;

pub use actor::{Actor, Refusal};
pub use rejected::{Problem, Rejected};

use crate::config::Config;
use crate::domain::Clock;
use crate::messaging::webhook::{HttpWebhookSender, WebhookSender};
use crate::processor::PaymentProcessor;
use crate::processor::sandbox::SandboxProcessor;
use crate::store::Db;

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub config: Arc<Config>,
    pub processor: Arc<dyn PaymentProcessor>,
    /// The built-in processor, whose card-token routes are always served.
    pub sandbox: SandboxProcessor,
    /// Where "now" comes from: the system clock, or a test's movable one.
    pub clock: Clock,
    /// Where webhooks go out: HTTP, or a test's recorder.
    pub webhooks: Arc<dyn WebhookSender>,
}

impl App {
    /// Opens the database, applies migrations and sets up the default processor.
    pub async fn open(config: Config) -> anyhow::Result<App> {
        App::open_with_clock(config, Clock::system()).await
    }

    /// As `open`, reading "now" from `clock`.
    pub async fn open_with_clock(config: Config, clock: Clock) -> anyhow::Result<App> {
        let db =
            Db::connect_with(&config.database_url, &config.database_pool, clock.clone()).await?;
        db.migrate().await?;
        crate::app::setup::normalize_stored_phones(&db).await?;
        let sandbox = SandboxProcessor::open(&config.sandbox_database_url(), clock.clone()).await?;
        Ok(App {
            db,
            processor: Arc::new(sandbox.clone()),
            sandbox,
            config: Arc::new(config),
            clock,
            webhooks: Arc::new(HttpWebhookSender::new().map_err(|e| anyhow::anyhow!(e))?),
        })
    }

    /// The origin links are built from: the company's own, else the server's.
    pub fn base_url<'a>(&'a self, company_base_url: Option<&'a str>) -> &'a str {
        company_base_url.unwrap_or(&self.config.base_url)
    }
}
