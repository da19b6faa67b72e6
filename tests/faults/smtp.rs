//! The SMTP server goes away for a while and comes back (SECURITY.md 19):
//! delivery fails temporarily, backs off, and once the server is back every
//! message arrives exactly once. Time is advanced through `jobs::run_once`'s
//! `now`, so no real minutes pass.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use fieldpay::app::App;
use fieldpay::app::setup;
use fieldpay::config::{Config, DeliverySettings, RateLimits};
use fieldpay::jobs;
use fieldpay::messaging::Channel;
use fieldpay::messaging::outbox::{self, DeliveryReport, NewMessage};
use fieldpay::store::customers::{self, NewCustomer};
use fieldpay::store::templates::{self, EmailFields};
use time::{Duration, OffsetDateTime};

use crate::support::{self, TempDir};

/// aiosmtpd that keeps each message as a file named by its process and
/// count, so a restarted server never overwrites what the first one kept.
const SMTP_SERVER: &str = r#"
import os, sys
from aiosmtpd.controller import Controller

outdir, port = sys.argv[1], int(sys.argv[2])

class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        path = os.path.join(outdir, "%d-%d.eml" % (os.getpid(), Handler.n))
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"

c = Controller(Handler(), hostname="127.0.0.1", port=port)
c.start()
print("READY", flush=True)
sys.stdin.read()
c.stop()
"#;

/// A python with aiosmtpd: `FIELDPAY_TEST_PYTHON`, else `python3` when it
/// has the module. Under `CI=true` a missing one fails the test.
fn smtp_python() -> Option<String> {
    let candidates = std::env::var("FIELDPAY_TEST_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .into_iter()
        .chain(["python3".to_string()]);
    for py in candidates {
        let ok = Command::new(&py)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(py);
        }
    }
    if crate::common::in_ci() {
        panic!(
            "aiosmtpd is missing: .ci/run installs it into target/ci-venv (FIELDPAY_TEST_PYTHON)"
        );
    }
    eprintln!(
        "SKIPPED the SMTP outage test: no python with aiosmtpd (set FIELDPAY_TEST_PYTHON or pip install aiosmtpd)"
    );
    None
}

struct Smtpd(Child);

impl Drop for Smtpd {
    fn drop(&mut self) {
        self.0.kill().ok();
        self.0.wait().ok();
    }
}

fn start_smtpd(python: &str, script: &Path, out: &Path, port: u16) -> Smtpd {
    let mut child = Command::new(python)
        .arg(script)
        .arg(out)
        .arg(port.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "READY",
        "aiosmtpd did not start on port {port}"
    );
    Smtpd(child)
}

fn received(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

/// The recipient of each received message (its `To:` header).
fn recipients(out: &Path) -> Vec<String> {
    let mut to: Vec<String> = received(out)
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.to_ascii_lowercase().starts_with("to:"))
                .map(|l| l[3..].trim().to_string())
        })
        .collect();
    to.sort();
    to
}

async fn queue(
    app: &App,
    company: &fieldpay::domain::ids::CompanyId,
    customer: &str,
    template: &str,
    range: std::ops::Range<usize>,
    at: OffsetDateTime,
) {
    let batch: Vec<NewMessage> = range
        .map(|i| NewMessage {
            company_id: company.clone(),
            customer_id: customer.into(),
            invoice_id: None,
            channel: Channel::Email,
            recipient: format!("payer{i:03}@faults.example"),
            template_id: template.into(),
            cause: format!("send_now:outage-{i}"),
        })
        .collect();
    let mut tx = app.db.begin_write().await.unwrap();
    outbox::enqueue_many(&mut tx, &batch, at).await.unwrap();
    tx.commit().await.unwrap();
}

async fn deliver(app: &App, at: OffsetDateTime) -> DeliveryReport {
    jobs::run_once(app, at).await.unwrap().delivered
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_down_for_a_while_then_back_delivers_each_message_once() {
    let Some(python) = smtp_python() else { return };
    let dir = TempDir::new("faults-smtp");
    let out: PathBuf = dir.0.join("received");
    std::fs::create_dir_all(&out).unwrap();
    let script = dir.0.join("smtpd.py");
    std::fs::write(&script, SMTP_SERVER).unwrap();
    let port = support::free_port();
    let app = App::open(Config {
        sandbox_database_url: None,
        rate_limits: RateLimits::default(),
        delivery: DeliverySettings {
            smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
            ..Default::default()
        },
        ..crate::common::test_config(
            &dir.0,
            format!("sqlite://{}/app.db", dir.0.display()),
            "https://pay.faults.test",
        )
    })
    .await
    .unwrap();
    let created = setup::create_company_with(
        &app.db,
        &setup::default_company("Faults Pest Control"),
        "owner@faults.example",
        support::OWNER_PASSWORD,
        false,
    )
    .await
    .unwrap();
    let company = created.company_id;
    let mut tx = app.db.begin_write().await.unwrap();
    let customer = customers::create(
        &mut tx,
        &company,
        &NewCustomer {
            name: "Lena Ortiz".into(),
            email: Some("lena@faults.example".into()),
            phone: None,
            billing_address: None,
            language: None,
        },
    )
    .await
    .unwrap()
    .id;
    let template = templates::create_email(
        &mut tx,
        &company,
        &EmailFields {
            name: "Statement",
            subject: "Your statement from {{ company_name }}",
            html_body: "<p>Hi {{ customer_first_name }}, {{ email_payment_link }}</p>",
            text_body: None,
            attach_invoice_pdf: false,
            translations: &Default::default(),
        },
    )
    .await
    .unwrap()
    .id;
    tx.commit().await.unwrap();

    // Up: ten messages go out (and leave pooled connections behind).
    let t0 = app.clock.now();
    let smtpd = start_smtpd(&python, &script, &out, port);
    queue(&app, &company, &customer, &template, 0..10, t0).await;
    let r = deliver(&app, t0).await;
    assert_eq!(r.sent, 10, "{r:?}");
    assert_eq!(received(&out).len(), 10);

    // Down: thirty more are queued; delivering fails and backs off.
    drop(smtpd);
    queue(&app, &company, &customer, &template, 10..40, t0).await;
    let r = deliver(&app, t0 + Duration::seconds(1)).await;
    assert_eq!(
        (r.sent, r.failed, r.retried),
        (0, 0, 30),
        "temporary failures: {r:?}"
    );
    let r = deliver(&app, t0 + Duration::seconds(30)).await;
    assert_eq!(
        r,
        DeliveryReport::default(),
        "backing off: nothing is due yet"
    );
    let r = deliver(&app, t0 + Duration::minutes(3)).await;
    assert_eq!(
        (r.sent, r.failed, r.retried),
        (0, 0, 30),
        "still down: {r:?}"
    );
    assert_eq!(received(&out).len(), 10);

    // Back on the same port: the backlog drains as retries fall due.
    let _smtpd = start_smtpd(&python, &script, &out, port);
    let mut at = t0 + Duration::minutes(3);
    let mut runs = Vec::new();
    for _ in 0..12 {
        at += Duration::minutes(15);
        let r = deliver(&app, at).await;
        assert_eq!(r.failed, 0, "nothing fails for good: {r:?}");
        runs.push(r);
        if received(&out).len() >= 40 {
            break;
        }
    }
    let r = deliver(&app, at + Duration::days(1)).await;
    assert_eq!(r, DeliveryReport::default(), "nothing left to send");
    let to = recipients(&out);
    let expected: Vec<String> = (0..40)
        .map(|i| format!("payer{i:03}@faults.example"))
        .collect();
    assert_eq!(
        to, expected,
        "every message arrives exactly once (runs after the server came back: {runs:?})"
    );
    let statuses: Vec<(String, i64)> =
        fieldpay::store::sql::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            .fetch_all(app.db.reader())
            .await
            .unwrap();
    assert_eq!(statuses, vec![("sent".to_string(), 40)]);
    app.db.close().await;
}
