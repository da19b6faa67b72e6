//! The real `fieldpay` binary on a loopback port over a fresh database, an
//! HTTP client that acts as an integrator and as payers, and the checks that
//! must hold after any fault: every charge the sandbox processor made is
//! recorded exactly once, and no invoice is over-collected.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};

pub use crate::common::{OWNER_PASSWORD, TempDir, fieldpay_cmd, free_port};
/// The zone of the company `create_company` makes (the CLI's default).
pub const COMPANY_TIME_ZONE: &str = "America/Chicago";

/// Today in the company's zone by the system clock, which the server this
/// suite spawns reads too (a shifted clock, as under faketime, shifts both).
pub fn today() -> time::Date {
    fieldpay::domain::Clock::system().today_in(COMPANY_TIME_ZONE)
}

/// The date `days` from today (negative: in the past), as the API writes it.
pub fn day(days: i64) -> String {
    fieldpay::domain::dates::iso(today() + time::Duration::days(days))
}

/// A card expiry year still years ahead: December, three years on.
pub fn exp_year() -> i32 {
    today().year() + 3
}

/// Deterministic xorshift64*: the kill moments and payment mix of a run come
/// from one printed seed.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `FAULTS_SEED` when set, else one from the clock (printed by the caller).
pub fn seed() -> u64 {
    match std::env::var("FAULTS_SEED") {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("FAULTS_SEED must be a number, got '{s}'")),
        Err(_) => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            nanos | 1
        }
    }
}

/// `fieldpay company create --json`: the API key.
pub fn create_company(db_url: &str) -> String {
    let out = fieldpay_cmd(db_url)
        .args([
            "company",
            "create",
            "--name",
            "Faults Pest Control",
            "--owner-email",
            "owner@faults.example",
            "--owner-password",
            OWNER_PASSWORD,
            "--json",
        ])
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "company create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    v["api_key"].as_str().unwrap().to_string()
}

/// `fieldpay jobs run --once --now <at>`: its stdout (the report).
pub fn jobs_run_once(db_url: &str, at: time::OffsetDateTime) -> String {
    jobs_run_once_with(db_url, at, &[])
}

/// `jobs_run_once` with more settings (`FIELDPAY_…` variables).
pub fn jobs_run_once_with(
    db_url: &str,
    at: time::OffsetDateTime,
    env: &[(String, String)],
) -> String {
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let out = fieldpay_cmd(db_url)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["jobs", "run", "--once", "--now", &at])
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "jobs run --once failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `fieldpay serve` as a child process; restartable on the same port and
/// database.
pub struct Server {
    pub dir: PathBuf,
    pub db_url: String,
    pub port: u16,
    pub base: String,
    /// More settings (`FIELDPAY_…` variables) for every start.
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    starts: usize,
}

impl Server {
    pub fn new(dir: &Path, db_url: &str) -> Server {
        let port = free_port();
        Server {
            dir: dir.to_path_buf(),
            db_url: db_url.to_string(),
            port,
            base: format!("http://127.0.0.1:{port}"),
            env: Vec::new(),
            child: None,
            starts: 0,
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join(format!("server-{}.log", self.starts))
    }

    /// Starts the server and waits until `/healthz` answers.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.starts += 1;
        let log = std::fs::File::create(self.log_path()).unwrap();
        let child = fieldpay_cmd(&self.db_url)
            .arg("serve")
            .env("FIELDPAY_BIND", format!("127.0.0.1:{}", self.port))
            .env("FIELDPAY_BASE_URL", "https://pay.faults.test")
            .env("FIELDPAY_SPOOL_DIR", self.dir.join("spool"))
            .env("FIELDPAY_PAY_RATE_LIMIT_PER_LINK", "1000000")
            .env("FIELDPAY_PAY_RATE_LIMIT_MISSES", "1000000")
            .env("FIELDPAY_PAY_RATE_LIMIT_MISSES_TOTAL", "1000000")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("the binary starts");
        self.child = Some(child);
        let client = http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "the server exited ({status}) before answering /healthz:\n{}",
                    std::fs::read_to_string(self.log_path()).unwrap_or_default()
                );
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not answer /healthz within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().ok();
            child.wait().ok();
        }
    }

    /// Whether the process is still running (it did not panic or exit).
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().ok().flatten().is_none(),
            None => false,
        }
    }

    /// Everything the server wrote to its logs, all starts together.
    pub fn logs(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.join(format!("server-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A plain-HTTP client (reqwest is built with rustls and no default
/// crypto provider: install ring's first).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(90))
        .build()
        .unwrap()
}

/// An HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(String::from))
            .unwrap_or_default()
    }
}

/// A client of one server: the integrator (API key) and payers (tokens).
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
}

impl Api {
    pub fn new(base: &str, key: &str) -> Api {
        Api {
            base: base.to_string(),
            key: key.to_string(),
            http: http_client(),
        }
    }

    /// One request; `Err` for a transport failure (the server is down).
    pub async fn try_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Resp, reqwest::Error> {
        let mut b = self.http.request(method, format!("{}{path}", self.base));
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(body) = body {
            b = b.json(body);
        }
        let r = b.send().await?;
        let status = r.status().as_u16();
        let body = r.text().await?;
        Ok(Resp { status, body })
    }

    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Resp {
        let auth = format!("Bearer {}", self.key);
        self.try_send(method, path, body, &[("authorization", &auth)])
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.try_send(reqwest::Method::GET, path, None, &[])
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn customer(&self, name: &str) -> String {
        let r = self
            .api(
                reqwest::Method::POST,
                "/api/v1/customers",
                Some(&json!({"name": name, "email": format!("{}@faults.example", name.replace(' ', ".").to_lowercase())})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub async fn property(&self, address: &str, resident: &str) -> String {
        let r = self
            .api(
                reqwest::Method::POST,
                "/api/v1/properties",
                Some(&json!({"address": address, "resident_customer_id": resident})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// An invoice issued 60 days ago, due in 30 days.
    pub fn invoice_body(property: &str, amount: i64) -> Value {
        json!({
            "property_id": property,
            "issue_date": day(-60),
            "due_date": day(30),
            "lines": [{"description": "Quarterly pest control", "quantity": 1, "unit_price": amount}]
        })
    }

    pub async fn invoice(&self, property: &str, amount: i64) -> String {
        let r = self
            .api(
                reqwest::Method::POST,
                "/api/v1/invoices",
                Some(&Api::invoice_body(property, amount)),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// The customer's link token.
    pub async fn token(&self, customer: &str) -> String {
        let r = self
            .api(
                reqwest::Method::GET,
                &format!("/api/v1/customers/{customer}/payment-link"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["url"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// A sandbox card token for the always-succeeding test card.
    pub async fn try_card(&self) -> Result<Resp, reqwest::Error> {
        self.try_send(
            reqwest::Method::POST,
            "/sandbox/v1/tokens",
            Some(&json!({"number": "4242424242424242", "exp_month": 12, "exp_year": exp_year(), "cvc": "123"})),
            &[],
        )
        .await
    }

    pub async fn card(&self) -> String {
        let r = self.try_card().await.expect("the server answers");
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub async fn try_pay(
        &self,
        link: &str,
        key: &str,
        invoices: &[String],
        card: &str,
    ) -> Result<Resp, reqwest::Error> {
        self.try_send(
            reqwest::Method::POST,
            &format!("/api/v1/pay/{link}/payments"),
            Some(&json!({"invoice_ids": invoices, "payment_method": card})),
            &[("idempotency-key", key)],
        )
        .await
    }
}

/// A customer with one property and invoices of the given amounts, through
/// the API: (customer id, link token, invoice ids).
pub async fn seed_customer(api: &Api, n: usize, amounts: &[i64]) -> (String, String, Vec<String>) {
    let c = api.customer(&format!("Payer {n:04}")).await;
    let p = api.property(&format!("{n} Elm St, Austin, TX"), &c).await;
    let mut ids = Vec::with_capacity(amounts.len());
    for a in amounts {
        ids.push(api.invoice(&p, *a).await);
    }
    let token = api.token(&c).await;
    (c, token, ids)
}

/// A read-only connection to a SQLite file (the app's or the sandbox's).
pub async fn open_read(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .read_only(true)
        .busy_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

/// id, total, applied, refunded, balance, status, sum of allocations.
type InvoiceSums = (String, i64, i64, i64, i64, String, Option<i64>);

/// What the books show after a fault, once reconciliation has run.
#[derive(Debug, Default)]
pub struct Books {
    pub charges: usize,
    pub payments: usize,
    pub paid_invoices: i64,
}

/// Every charge the sandbox processor made is recorded exactly once as a
/// payment (by attempt id and charge id, for the same amount), every card
/// payment has its charge, no attempt is left pending, and every invoice's
/// and payment's sums agree: nothing over-collected, nothing half-written.
pub async fn check_books(app_db: &Path, sandbox_db: &Path) -> Books {
    let mut app = open_read(app_db).await;
    let mut sandbox = open_read(sandbox_db).await;
    let charges: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, idempotency_key, amount FROM sandbox_charges WHERE status = 'succeeded'",
    )
    .fetch_all(&mut sandbox)
    .await
    .unwrap();
    let payments: Vec<(String, Option<String>, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, attempt_id, processor_charge_id, amount FROM payments WHERE method = 'card'",
    )
    .fetch_all(&mut app)
    .await
    .unwrap();
    let mut problems = Vec::new();
    for (charge, key, amount) in &charges {
        let matching: Vec<_> = payments
            .iter()
            .filter(|(_, attempt, ch, _)| {
                attempt.as_deref() == Some(key.as_str()) || ch.as_deref() == Some(charge.as_str())
            })
            .collect();
        match matching.as_slice() {
            [(_, attempt, ch, paid)]
                if attempt.as_deref() == Some(key.as_str())
                    && ch.as_deref() == Some(charge.as_str())
                    && paid == amount => {}
            [] => problems.push(format!(
                "charge {charge} (attempt {key}, {amount}) has no payment"
            )),
            many => problems.push(format!(
                "charge {charge} (attempt {key}, {amount}) is recorded as {many:?}"
            )),
        }
    }
    for (id, _, ch, _) in &payments {
        if !charges
            .iter()
            .any(|(c, _, _)| Some(c.as_str()) == ch.as_deref())
        {
            problems.push(format!(
                "payment {id} names charge {ch:?}, which the processor never made"
            ));
        }
    }
    let pending_attempts: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payment_attempts WHERE status = 'pending'")
            .fetch_one(&mut app)
            .await
            .unwrap();
    if pending_attempts > 0 {
        problems.push(format!(
            "{pending_attempts} attempts are still pending after reconciliation"
        ));
    }
    let bad_invoices: Vec<InvoiceSums> = sqlx::query_as(
        "SELECT i.id, i.total, i.applied, i.refunded, i.balance, i.status,
                (SELECT CAST(SUM(a.amount) AS BIGINT) FROM payment_allocations a WHERE a.invoice_id = i.id)
         FROM invoices i
         WHERE i.applied > i.total
            OR i.balance <> i.total - i.applied + i.refunded
            OR i.balance < 0
            OR i.applied <> COALESCE((SELECT SUM(a.amount) FROM payment_allocations a WHERE a.invoice_id = i.id), 0)
            OR (i.status = 'paid' AND i.balance <> 0)
            OR (i.status = 'open' AND i.balance = 0 AND i.total > 0)",
    )
    .fetch_all(&mut app)
    .await
    .unwrap();
    for b in &bad_invoices {
        problems.push(format!(
            "invoice {} total {} applied {} refunded {} balance {} status {} allocations {:?}",
            b.0, b.1, b.2, b.3, b.4, b.5, b.6
        ));
    }
    let bad_payments: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT p.id, p.amount,
                (SELECT CAST(SUM(a.amount) AS BIGINT) FROM payment_allocations a WHERE a.payment_id = p.id) AS allocated
         FROM payments p
         WHERE p.amount <> COALESCE((SELECT SUM(a.amount) FROM payment_allocations a WHERE a.payment_id = p.id), 0)",
    )
    .fetch_all(&mut app)
    .await
    .unwrap();
    for b in &bad_payments {
        problems.push(format!(
            "payment {} of {} has allocations summing to {:?}",
            b.0, b.1, b.2
        ));
    }
    let locked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invoices i WHERE i.locked_by_attempt IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM payment_attempts a WHERE a.id = i.locked_by_attempt AND a.status = 'pending')",
    )
    .fetch_one(&mut app)
    .await
    .unwrap();
    if locked > 0 {
        problems.push(format!(
            "{locked} invoices are held by attempts that are no longer pending"
        ));
    }
    let paid_invoices: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invoices WHERE status = 'paid'")
            .fetch_one(&mut app)
            .await
            .unwrap();
    app.close().await.ok();
    sandbox.close().await.ok();
    assert!(
        problems.is_empty(),
        "the books do not add up ({} problems):\n{}",
        problems.len(),
        problems
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    Books {
        charges: charges.len(),
        payments: payments.len(),
        paid_invoices,
    }
}
