//! `TestApp`: the real router over a fresh database, with helpers that act as
//! an office integrator (API key) and as a payer (link token).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tower::ServiceExt;

use fieldpay::app::App;
use fieldpay::app::setup;
use fieldpay::config::{Config, RateLimits};
use fieldpay::crypto::new_id;
use fieldpay::domain::Clock;
use fieldpay::domain::ids::CompanyId;

pub mod faulty;

pub const BASE_URL: &str = "https://pay.greenleaf.test";
pub use crate::common::OWNER_PASSWORD;
pub const SMS_TOKEN: &str = "test-sms-auth-token";
/// The test company's zone (`setup::default_company`'s).
pub const COMPANY_TIME_ZONE: &str = "America/Chicago";
/// `TestApp::invoice` issues its invoices this many days before today, so
/// that due dates in the recent past (overdue invoices) are valid too.
pub const ISSUED_DAYS_AGO: i64 = 60;

/// Everything the app logged during the tests, for the card-number scan.
pub fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).ok();
        buf
    })
    .clone()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if std::env::var_os("FIELDPAY_TEST_LOG_STDERR").is_some() {
            eprint!("{}", String::from_utf8_lossy(b));
        }
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Which database the suite runs on: SQLite files by default, PostgreSQL
/// when `FIELDPAY_TEST_DATABASE=postgres` (the server at
/// `FIELDPAY_TEST_POSTGRES`, a fresh database per test).
pub fn on_postgres() -> bool {
    std::env::var("FIELDPAY_TEST_DATABASE").is_ok_and(|v| v == "postgres")
}

/// The PostgreSQL server for tests, if one was given. Under `CI=true` a
/// missing server is a failure, elsewhere the caller skips.
pub fn postgres_server() -> Option<String> {
    match std::env::var("FIELDPAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                !crate::common::in_ci(),
                "FIELDPAY_TEST_POSTGRES must name a PostgreSQL server (postgres://USER@HOST:PORT/postgres); .ci/run starts one"
            );
            None
        }
    }
}

/// A new, empty PostgreSQL database on the test server.
pub async fn fresh_postgres_database(server: &str) -> String {
    use sqlx::Connection;
    let name = format!("fp_{}", new_id("t").to_lowercase().replace('-', "_"));
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.ok();
    let mut url = url::Url::parse(server).unwrap();
    url.set_path(&name);
    url.to_string()
}

/// The names of the app's tables (not the migrations' own).
pub async fn table_names(t: &TestApp) -> Vec<String> {
    fieldpay::store::sql::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY name",
    )
    .pg("SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY table_name")
    .fetch_all(t.app.db.reader())
    .await
    .unwrap()
}

/// Everything the databases hold, as stored: the SQLite files (main file
/// and WAL, the app's and the sandbox's), or a `pg_dump` of the PostgreSQL
/// database plus the sandbox's files. For scans that nothing secret is kept.
pub async fn stored_bytes(t: &TestApp) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    if on_postgres() {
        let dump = std::process::Command::new(pg_tool("pg_dump"))
            .args(["--data-only", "--inserts", &t.app.config.database_url])
            .output()
            .expect("pg_dump runs");
        assert!(
            dump.status.success(),
            "{}",
            String::from_utf8_lossy(&dump.stderr)
        );
        out.push(("pg_dump".to_string(), dump.stdout));
    } else {
        // Everything into the main file first: an automatic checkpoint between
        // reading the file and reading its WAL would hide rows from the scan.
        fieldpay::store::sql::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(t.app.db.writer())
            .await
            .unwrap();
    }
    for entry in std::fs::read_dir(&t.dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// A PostgreSQL client program: from PATH, else the newest server install.
fn pg_tool(name: &str) -> std::path::PathBuf {
    let mut dirs: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs.into_iter()
        .rev()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| name.into())
}

/// The database URL for a new test app.
pub async fn fresh_database_url(dir: &std::path::Path) -> String {
    if on_postgres() {
        let server = postgres_server()
            .expect("FIELDPAY_TEST_DATABASE=postgres needs FIELDPAY_TEST_POSTGRES (a server URL)");
        return fresh_postgres_database(&server).await;
    }
    format!("sqlite://{}/test.db", dir.display())
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub dir: PathBuf,
    pub api_key: String,
    pub owner_email: String,
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::with_limits(TestApp::relaxed_limits()).await
    }

    pub async fn with_limits(rate_limits: RateLimits) -> TestApp {
        let dir = std::env::temp_dir().join(format!("fieldpay-test-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let url = fresh_database_url(&dir).await;
        TestApp::open(dir, url, rate_limits, Clock::system(), true).await
    }

    /// An app whose clock reads `at` now (and runs on from there): for the
    /// tests that step through a fixed calendar with literal dates.
    pub async fn starting_at(at: OffsetDateTime) -> TestApp {
        let dir = std::env::temp_dir().join(format!("fieldpay-test-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let url = fresh_database_url(&dir).await;
        TestApp::open(
            dir,
            url,
            TestApp::relaxed_limits(),
            Clock::starting_at(at),
            true,
        )
        .await
    }

    /// An app on a fresh database of the test PostgreSQL server, whatever
    /// the suite runs on; `None` (skip) when there is none outside CI.
    pub async fn on_postgres_server() -> Option<TestApp> {
        TestApp::on_postgres_server_with(Clock::system()).await
    }

    /// As `on_postgres_server`, with the clock reading `at` now.
    pub async fn on_postgres_server_starting_at(at: OffsetDateTime) -> Option<TestApp> {
        TestApp::on_postgres_server_with(Clock::starting_at(at)).await
    }

    async fn on_postgres_server_with(clock: Clock) -> Option<TestApp> {
        let server = postgres_server()?;
        let dir = std::env::temp_dir().join(format!("fieldpay-test-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let url = fresh_postgres_database(&server).await;
        Some(TestApp::open(dir, url, TestApp::relaxed_limits(), clock, true).await)
    }

    /// An app on a SQLite file, whatever the suite runs on.
    pub async fn on_sqlite() -> TestApp {
        let dir = std::env::temp_dir().join(format!("fieldpay-test-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}/test.db", dir.display());
        TestApp::open(dir, url, TestApp::relaxed_limits(), Clock::system(), true).await
    }

    fn relaxed_limits() -> RateLimits {
        crate::common::relaxed_limits()
    }

    async fn open(
        dir: PathBuf,
        database_url: String,
        rate_limits: RateLimits,
        clock: Clock,
        with_company: bool,
    ) -> TestApp {
        captured_logs();
        let config = Config {
            rate_limits,
            delivery: fieldpay::config::DeliverySettings {
                // Inbound SMS webhooks are signed with it (spool transport still).
                sms_token: SMS_TOKEN.into(),
                ..Default::default()
            },
            ..crate::common::test_config(&dir, database_url, BASE_URL)
        };
        let app = App::open_with_clock(config, clock).await.unwrap();
        if !with_company {
            let router = fieldpay::web::router(app.clone());
            return TestApp {
                app,
                router,
                dir,
                api_key: String::new(),
                owner_email: String::new(),
            };
        }
        let (created, owner_email) = crate::common::create_test_company(&app.db).await;
        let router = fieldpay::web::router(app.clone());
        TestApp {
            app,
            router,
            dir,
            api_key: created.api_key,
            owner_email,
        }
    }

    /// An app on a fresh database with no company at all: what a new
    /// server is before `/setup` (no API key, no office user).
    pub async fn empty() -> TestApp {
        let dir = std::env::temp_dir().join(format!("fieldpay-test-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let url = fresh_database_url(&dir).await;
        TestApp::open(dir, url, TestApp::relaxed_limits(), Clock::system(), false).await
    }

    /// Changes the app's settings (and rebuilds the router on them).
    pub fn configure(&mut self, change: impl FnOnce(&mut Config)) {
        let mut config = (*self.app.config).clone();
        change(&mut config);
        self.app.config = std::sync::Arc::new(config);
        self.router = fieldpay::web::router(self.app.clone());
    }

    /// Points the app's Stripe adapters at another server (localstripe).
    pub fn set_stripe_api_base(&mut self, base: &str) {
        self.configure(|c| c.stripe_api_base = base.to_string());
    }

    /// Today in the company's time zone, by the app's clock.
    pub fn today(&self) -> time::Date {
        self.app.clock.today_in(COMPANY_TIME_ZONE)
    }

    /// 30 February of this year: a date no calendar has, that input must refuse.
    pub fn no_such_day(&self) -> String {
        format!("{}-02-30", self.today().year())
    }

    /// The first day of a thirteenth month of this year: refused as well.
    pub fn no_such_month(&self) -> String {
        format!("{}-13-01", self.today().year())
    }

    /// The date `days` from today (negative: in the past), as the API writes it.
    pub fn day(&self, days: i64) -> String {
        fieldpay::domain::dates::iso(self.date(days))
    }

    /// The date `days` from today (negative: in the past).
    pub fn date(&self, days: i64) -> time::Date {
        self.today() + time::Duration::days(days)
    }

    /// A card expiry year still years ahead by the app's clock: `card`'s.
    pub fn exp_year(&self) -> i32 {
        self.today().year() + 3
    }

    /// `card`'s expiry as pages show it: "12/29".
    pub fn exp_shown(&self) -> String {
        format!("12/{:02}", self.exp_year() % 100)
    }

    /// SQLite's plan of `sql`, one description per step. Its `$N`
    /// parameters are bound to empty text: a plan does not depend on them.
    pub async fn sqlite_plan(&self, sql: &str) -> Vec<String> {
        let parameters = sql
            .split('$')
            .skip(1)
            .filter_map(|after| {
                let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<usize>().ok()
            })
            .max()
            .unwrap_or(0);
        let mut query = fieldpay::store::sql::query_as::<(i64, i64, i64, String)>(
            sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")),
        );
        for _ in 0..parameters {
            query = query.bind("");
        }
        query
            .fetch_all(self.app.db.writer())
            .await
            .unwrap()
            .into_iter()
            .map(|(_, _, _, step)| step)
            .collect()
    }

    /// The test company's id (the company of `api_key`).
    pub async fn company_id(&self) -> CompanyId {
        self.company_of(&self.api_key).await
    }

    /// Saves a card for a customer of this company (the processor's "save a
    /// method"): its id.
    pub async fn saved_card(&self, customer: &str, number: &str) -> String {
        let token = self.card(number).await;
        match fieldpay::app::payments::add_card(
            &self.app,
            &self.company_id().await,
            &fieldpay::domain::ids::CustomerId::from(customer),
            token,
            "test",
        )
        .await
        .unwrap()
        {
            fieldpay::app::payments::AddCard::Added(id) => id.into_string(),
            other => panic!("card not saved: {other:?}"),
        }
    }

    /// A portal link (sign-in or invitation) for a customer of any company,
    /// made directly in the store: its token, as the email would carry it.
    pub async fn portal_link(
        &self,
        customer: &str,
        purpose: fieldpay::store::portal::Purpose,
    ) -> String {
        let company: CompanyId =
            fieldpay::store::sql::query_scalar("SELECT company_id FROM customers WHERE id = $1")
                .bind(customer)
                .fetch_one(self.app.db.reader())
                .await
                .unwrap();
        let mut tx = self.app.db.begin_write().await.unwrap();
        let token = fieldpay::store::portal::insert_token(
            &mut tx,
            &company,
            &fieldpay::domain::ids::CustomerId::from(customer),
            purpose,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        token
    }

    /// The company an API key belongs to.
    pub async fn company_of(&self, api_key: &str) -> CompanyId {
        fieldpay::store::companies::company_for_api_key(&self.app.db, api_key)
            .await
            .unwrap()
            .expect("a live API key")
    }

    /// A second company on the same server, with its own key.
    pub async fn other_company(&self) -> String {
        let company = setup::default_company("Other Pest Co");
        setup::create_company_with(
            &self.app.db,
            &company,
            &format!("{}@example.com", new_id("o")),
            "correct horse battery",
            false,
        )
        .await
        .unwrap()
        .api_key
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<String>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        self.send(req).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.request(Method::GET, path, &[], None).await
    }

    /// A GET from a given client address (for rate limits).
    pub async fn get_from(&self, path: &str, ip: [u8; 4]) -> Resp {
        let mut req = Request::builder().uri(path).body(Body::empty()).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        self.send(req).await
    }

    pub async fn api_with_key(
        &self,
        key: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let auth = format!("Bearer {key}");
        let mut headers = vec![("authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.request(method, path, &headers, body.map(|b| b.to_string()))
            .await
    }

    pub async fn api(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        self.api_with_key(&self.api_key.clone(), method, path, body)
            .await
    }

    pub async fn customer(&self, name: &str) -> String {
        let r = self
            .api(
                Method::POST,
                "/api/v1/customers",
                Some(json!({"name": name, "email": "x@example.com"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub async fn property(&self, address: &str, resident: &str, bill_to: Option<&str>) -> String {
        let mut body = json!({"address": address, "resident_customer_id": resident});
        if let Some(b) = bill_to {
            body["bill_to_customer_id"] = json!(b);
        }
        let r = self
            .api(Method::POST, "/api/v1/properties", Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    /// An open invoice of one line, issued `ISSUED_DAYS_AGO` days before
    /// today; returns its id.
    pub async fn invoice(&self, property: &str, amount: i64, due_date: &str) -> String {
        let r = self
            .api(
                Method::POST,
                "/api/v1/invoices",
                Some(json!({
                    "property_id": property,
                    "issue_date": self.day(-ISSUED_DAYS_AGO),
                    "due_date": due_date,
                    "lines": [{"description": "Quarterly pest control", "quantity": 1, "unit_price": amount}]
                })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub async fn invoice_json(&self, id: &str) -> Value {
        let r = self
            .api(Method::GET, &format!("/api/v1/invoices/{id}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()
    }

    pub async fn balance(&self, invoice: &str) -> i64 {
        self.invoice_json(invoice).await["balance"]
            .as_i64()
            .unwrap()
    }

    /// The customer's quick-pay URL as the API gives it.
    pub async fn link_url(&self, customer: &str) -> String {
        let r = self
            .api(
                Method::GET,
                &format!("/api/v1/customers/{customer}/payment-link"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["url"].as_str().unwrap().to_string()
    }

    pub async fn token(&self, customer: &str) -> String {
        let url = self.link_url(customer).await;
        url.rsplit('/').next().unwrap().to_string()
    }

    /// Posts a sign-in form (`/office/login`, `/portal/login`,
    /// `/portal/login-link`) from client address `ip` (if given) as a browser does:
    /// with the CSRF token and cookie its sign-in page gave. `cookie` adds
    /// the browser's other cookies (a session it already has).
    pub async fn post_signin(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        ip: Option<[u8; 4]>,
        cookie: Option<&str>,
    ) -> Resp {
        let page_path = if path.starts_with("/office") {
            "/office/login"
        } else {
            "/portal/login"
        };
        let page = self.get(page_path).await;
        let pair = page
            .header("set-cookie")
            .split(';')
            .next()
            .unwrap_or("")
            .to_string();
        let marker = "name=\"csrf\" value=\"";
        let at = page
            .body
            .find(marker)
            .expect("the sign-in form's csrf field")
            + marker.len();
        let csrf = &page.body[at..at + page.body[at..].find('"').unwrap()];
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("csrf", csrf);
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let cookies = match cookie {
            Some(c) => format!("{pair}; {c}"),
            None => pair,
        };
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", cookies)
            .body(Body::from(body.finish()))
            .unwrap();
        if let Some(ip) = ip {
            req.extensions_mut()
                .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        }
        self.send(req).await
    }

    /// A sandbox card token for a test card number.
    pub async fn card(&self, number: &str) -> String {
        let r = self
            .request(
                Method::POST,
                "/sandbox/v1/tokens",
                &[("content-type", "application/json")],
                Some(
                    json!({"number": number, "exp_month": 12, "exp_year": self.exp_year(), "cvc": "123"})
                        .to_string(),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.json()["id"].as_str().unwrap().to_string()
    }

    pub async fn pay(&self, token: &str, key: &str, body: Value) -> Resp {
        self.request(
            Method::POST,
            &format!("/api/v1/pay/{token}/payments"),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", key),
                ("user-agent", "TestPhone/1.0"),
            ],
            Some(body.to_string()),
        )
        .await
    }

    /// A count in the sandbox processor's own database (its charges).
    pub async fn sandbox_count(&self, sql: &'static str) -> i64 {
        fieldpay::store::sql::query_scalar(sql)
            .fetch_one(self.app.sandbox.database())
            .await
            .unwrap()
    }

    /// The files the spool transports wrote (`.eml` emails, `.txt` SMS).
    pub fn spool(&self, ext: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.dir.join("spool")) else {
            return vec![];
        };
        dir.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        fieldpay::store::sql::query_scalar(sql)
            .fetch_one(self.app.db.reader())
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// A customer with one property and invoices of the given amounts, due in
/// 30 days.
pub async fn customer_with_invoices(
    t: &TestApp,
    name: &str,
    amounts: &[i64],
) -> (String, Vec<String>) {
    let c = t.customer(name).await;
    let p = t
        .property(&format!("{name}'s house, 1 Main St"), &c, None)
        .await;
    let mut ids = Vec::new();
    let due = t.day(30);
    for a in amounts {
        ids.push(t.invoice(&p, *a, &due).await);
    }
    (c, ids)
}
