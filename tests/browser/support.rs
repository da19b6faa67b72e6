//! The browser test harness: the real server on a loopback port over a fresh
//! database, chromedriver and headless Chromium started per test, and helpers
//! that act as the office (API key) and read what the user sees.
//!
//! Under `CI=true` a missing Chromium, chromedriver, npm or axe-core fails the
//! test; elsewhere the test prints why and passes without running.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use fieldpay::app::App;
use fieldpay::app::setup;
use fieldpay::config::Config;
use fieldpay::crypto::new_id;

pub use crate::common::OWNER_PASSWORD;

/// Debian's Chromium and chromedriver, or the ones `FIELDPAY_CHROMIUM` and
/// `FIELDPAY_CHROMEDRIVER` name.
fn chromium() -> String {
    std::env::var("FIELDPAY_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("FIELDPAY_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// One browser test at a time: each starts its own Chromium, and the machine
/// is small.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A tool is missing: fails under CI, else says why the test is skipped.
pub fn missing(what: &str) -> Option<std::convert::Infallible> {
    if crate::common::in_ci() {
        panic!("browser tests need {what} (CI=true): install it (see .ci/run)");
    }
    eprintln!("SKIPPED: browser test needs {what}; install it to run this test");
    None
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("target"))
}

/// The source of axe-core, installed on first use with
/// `npm install --prefix target/axe axe-core@4` (CI installs it beforehand).
pub fn axe_source() -> Option<String> {
    static AXE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let prefix = target_dir().join("axe");
        let file = prefix.join("node_modules/axe-core/axe.min.js");
        if !file.exists() {
            let status = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--prefix"])
                .arg(&prefix)
                .arg("axe-core@4")
                .stdout(Stdio::null())
                .status();
            if !matches!(status, Ok(s) if s.success()) {
                eprintln!("npm install of axe-core failed: {status:?}");
            }
        }
        std::fs::read_to_string(&file).ok()
    })
    .clone()
}

/// The running server, its app (database, sandbox) and its base URL.
pub struct Server {
    pub app: App,
    pub base: String,
    pub api_key: String,
    pub company_id: fieldpay::domain::ids::CompanyId,
    pub owner_email: String,
    dir: PathBuf,
}

impl Server {
    /// The server on a fresh database with a company (`with_company`) or
    /// with none at all, as a new install is before `/setup` (then no API
    /// key, company or owner yet).
    pub async fn start_with(with_company: bool) -> Server {
        let dir = std::env::temp_dir().join(format!("fieldpay-browser-{}", new_id("t")));
        std::fs::create_dir_all(&dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://127.0.0.1:{}", addr.port());
        let config = Config {
            bind: addr,
            sandbox_database_url: None,
            ..crate::common::test_config(&dir, format!("sqlite://{}/test.db", dir.display()), &base)
        };
        let app = App::open(config).await.unwrap();
        let (api_key, company_id, owner_email) = if with_company {
            let (created, owner_email) = crate::common::create_test_company(&app.db).await;
            (created.api_key, created.company_id, owner_email)
        } else {
            Default::default()
        };
        tokio::spawn(fieldpay::web::serve_on(listener, app.clone()));
        Server {
            app,
            base,
            api_key,
            company_id,
            owner_email,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Today in the company's zone, by the app's clock (the system's).
    pub fn today(&self) -> time::Date {
        let zone = setup::default_company("").time_zone;
        self.app.clock.today_in(&zone)
    }

    /// The date `days` from today (negative: in the past).
    pub fn date(&self, days: i64) -> time::Date {
        self.today() + time::Duration::days(days)
    }

    /// The date `days` from today, as the API writes it.
    pub fn day(&self, days: i64) -> String {
        fieldpay::domain::dates::iso(self.date(days))
    }

    /// A card expiry year still years ahead by the app's clock.
    pub fn exp_year(&self) -> i32 {
        self.today().year() + 3
    }

    /// That December's expiry as a payer types it: "12/29".
    pub fn exp_typed(&self) -> String {
        format!("12/{:02}", self.exp_year() % 100)
    }

    /// A JSON request with the company's API key, through the real socket.
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let (status, text) = http(
            method,
            &self.url(path),
            &[("authorization", &format!("Bearer {}", self.api_key))],
            body.map(|b| b.to_string()),
        )
        .await;
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, json)
    }

    async fn created(&self, path: &str, body: Value) -> Value {
        let (status, json) = self.api("POST", path, Some(body)).await;
        assert_eq!(status, 201, "POST {path}: {json}");
        json
    }

    pub async fn customer(&self, name: &str, email: &str) -> String {
        self.created(
            "/api/v1/customers",
            json!({"name": name, "email": email, "phone": "(512) 555-0199"}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn property(&self, address: &str, resident: &str, bill_to: Option<&str>) -> String {
        let mut body = json!({"address": address, "resident_customer_id": resident});
        if let Some(b) = bill_to {
            body["bill_to_customer_id"] = json!(b);
        }
        self.created("/api/v1/properties", body).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// An open invoice of one line, issued 60 days ago; returns (id, number).
    pub async fn invoice(&self, property: &str, amount: i64, due: &str) -> (String, String) {
        let j = self
            .created(
                "/api/v1/invoices",
                json!({
                    "property_id": property,
                    "issue_date": self.day(-60),
                    "due_date": due,
                    "lines": [{"description": "Quarterly pest control", "quantity": 1, "unit_price": amount}]
                }),
            )
            .await;
        (
            j["id"].as_str().unwrap().to_string(),
            j["number"].as_str().unwrap().to_string(),
        )
    }

    pub async fn balance(&self, invoice: &str) -> i64 {
        let (status, j) = self
            .api("GET", &format!("/api/v1/invoices/{invoice}"), None)
            .await;
        assert_eq!(status, 200, "{j}");
        j["balance"].as_i64().unwrap()
    }

    /// The customer's quick-pay URL as the API gives it.
    pub async fn link_url(&self, customer: &str) -> String {
        let (status, j) = self
            .api(
                "GET",
                &format!("/api/v1/customers/{customer}/payment-link"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{j}");
        j["url"].as_str().unwrap().to_string()
    }

    /// Charges the sandbox processor made (its own database).
    pub async fn sandbox_charges(&self) -> i64 {
        fieldpay::store::sql::query_scalar(
            "SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'",
        )
        .fetch_one(self.app.sandbox.database())
        .await
        .unwrap()
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        fieldpay::store::sql::query_scalar(sql)
            .fetch_one(self.app.db.reader())
            .await
            .unwrap()
    }

    /// Emails in the spool (`.eml` files), oldest first.
    pub fn spooled_emails(&self) -> Vec<String> {
        self.spooled(".eml")
    }

    /// Text messages in the spool (`.txt` files), oldest first.
    pub fn spooled_texts(&self) -> Vec<String> {
        self.spooled(".txt")
    }

    fn spooled(&self, ext: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(&self.app.config.spool_dir) else {
            return vec![];
        };
        let mut files: Vec<_> = dir
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
            .map(|e| e.path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// Queues an email of a new template carrying `{{ email_payment_link }}`
    /// to the customer, delivers the outbox to the spool, and returns the
    /// payment link read out of the spooled email.
    pub async fn email_link(&self, customer: &str, to: &str) -> String {
        use fieldpay::messaging::Channel;
        use fieldpay::messaging::outbox::{self, NewMessage};
        let tpl = self
            .created(
                "/api/v1/email-templates",
                json!({
                    "name": format!("Statement {}", new_id("n")),
                    "subject": "Your invoices from {{ company_name }}",
                    "html_body": "<p>Hi {{ customer_first_name }},</p><p>Pay online: {{ email_payment_link }}</p>"
                }),
            )
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
        let now = self.app.clock.now();
        let mut tx = self.app.db.begin_write().await.unwrap();
        outbox::enqueue(
            &mut tx,
            &NewMessage {
                company_id: self.company_id.clone(),
                customer_id: customer.into(),
                invoice_id: None,
                channel: Channel::Email,
                recipient: to.into(),
                template_id: tpl,
                cause: format!("send_now:{}", new_id("n")),
            },
            now,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let before = self.spooled_emails().len();
        fieldpay::app::messages::deliver_due(
            &self.app,
            now,
            fieldpay::app::messages::render_stored,
        )
        .await
        .unwrap();
        let emails = self.spooled_emails();
        assert_eq!(emails.len(), before + 1, "one email delivered to the spool");
        let eml = emails
            .iter()
            .find(|e| e.contains(&format!("To: {to}")))
            .expect("the email to the customer");
        link_in(eml, &format!("{}/pay/", self.base)).unwrap_or_else(|| panic!("no link in {eml}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The first URL in `text` starting with `prefix`, to the end of its token.
pub fn link_in(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    let rest = &text[start + prefix.len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    (end > 0).then(|| format!("{prefix}{}", &rest[..end]))
}

/// A tiny HTTP/1.1 client over the loopback socket (status, body).
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> (u16, String) {
    use axum::body::Bytes;
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client as HClient;
    use hyper_util::rt::TokioExecutor;
    let client: HClient<_, Full<Bytes>> = HClient::builder(TokioExecutor::new()).build_http();
    let mut req = axum::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if body.is_some() {
        req = req.header("content-type", "application/json");
    }
    let req = req
        .body(Full::new(Bytes::from(body.unwrap_or_default())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

use crate::common::free_port;

/// chromedriver (and the Chromium it starts) in a process group of their
/// own, killed together when the test ends, whatever way it ends.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Driver {
    async fn start() -> Driver {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let profile = std::env::temp_dir().join(format!("fieldpay-chromium-{}", new_id("p")));
        let child = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let driver = Driver {
            child,
            port,
            profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let up = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
            if up.is_ok() {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        driver
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group of the chromedriver we started: it and its Chromium.
        let pgid = self.child.id();
        let group_killed = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !group_killed {
            self.child.kill().ok();
        }
        self.child.wait().ok();
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

/// One test's world: the server, a browser session, and the lock that keeps
/// browser tests one at a time.
pub struct Env {
    pub server: Server,
    pub browser: Client,
    _driver: Driver,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Env {
    /// The server and a headless Chromium with the given window size; `None`
    /// (test skipped) when Chromium or chromedriver is missing outside CI.
    pub async fn start(width: u32, height: u32) -> Option<Env> {
        Env::start_with(width, height, true).await
    }

    /// `start`, with the page's JavaScript turned off when `javascript` is
    /// false (WebDriver's own commands still work).
    pub async fn start_with(width: u32, height: u32, javascript: bool) -> Option<Env> {
        Env::open(width, height, javascript, true).await
    }

    /// The server on a fresh database without any company (a new install,
    /// before `/setup`) and a headless Chromium of the given size.
    pub async fn start_fresh(width: u32, height: u32) -> Option<Env> {
        Env::open(width, height, true, false).await
    }

    async fn open(width: u32, height: u32, javascript: bool, with_company: bool) -> Option<Env> {
        for tool in [chromium(), chromedriver()] {
            if !Path::new(&tool).exists() {
                missing(&tool)?;
            }
        }
        let serial = SERIAL.lock().await;
        let server = Server::start_with(with_company).await;
        let driver = Driver::start().await;
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    "--disable-extensions", "--disable-background-networking",
                    format!("--user-data-dir={}", driver.profile.display()),
                    format!("--window-size={width},{height}"),
                ],
                "prefs": {
                    "profile.managed_default_content_settings.javascript": if javascript { 1 } else { 2 }
                }
            }
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
            .expect("a Chromium session through chromedriver");
        let env = Env {
            server,
            browser,
            _driver: driver,
            _serial: serial,
        };
        env.set_viewport(width, height).await;
        Some(env)
    }

    /// Sizes the window so the page's viewport is `width`×`height` CSS pixels.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        self.browser.set_window_size(width, height).await.unwrap();
        let inner = self
            .browser
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .unwrap();
        let (iw, ih) = (
            inner[0].as_u64().unwrap() as u32,
            inner[1].as_u64().unwrap() as u32,
        );
        if (iw, ih) != (width, height) {
            let w = (2 * width).saturating_sub(iw);
            let h = (2 * height).saturating_sub(ih);
            self.browser.set_window_size(w, h).await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn goto(&self, url: &str) {
        self.browser
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    pub async fn css(&self, selector: &str) -> Element {
        match self
            .browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(selector))
            .await
        {
            Ok(el) => el,
            Err(e) => panic!("no element {selector}: {e}\n{}", self.text().await),
        }
    }

    /// Scrolls an element to the middle of the window, clear of the pay
    /// page's sticky bar, as a thumb scrolls before tapping.
    pub async fn center(&self, el: &Element) {
        self.browser
            .execute(
                "arguments[0].scrollIntoView({block: 'center'})",
                vec![serde_json::to_value(el).unwrap()],
            )
            .await
            .unwrap();
    }

    pub async fn click(&self, selector: &str) {
        let el = self.css(selector).await;
        self.center(&el).await;
        el.click().await.unwrap();
    }

    pub async fn type_into(&self, selector: &str, text: &str) {
        let el = self.css(selector).await;
        el.clear().await.unwrap();
        el.send_keys(text).await.unwrap();
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        match self
            .browser
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
        {
            Ok(Value::String(s)) => s,
            other => format!("{other:?}"),
        }
    }

    pub async fn path(&self) -> String {
        self.browser.current_url().await.unwrap().path().to_string()
    }

    /// Waits until the page's visible text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return text;
            }
            if Instant::now() > deadline {
                panic!(
                    "the page at {} never showed {needle:?}; it shows:\n{text}",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the URL path starts with `prefix`.
    pub async fn wait_for_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return path;
            }
            if Instant::now() > deadline {
                panic!("never reached {prefix}; at {path}:\n{}", self.text().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves what the browser shows as `target/screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.browser.screenshot().await.unwrap();
        let dir = target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Signs the office owner in through the sign-in page.
    pub async fn office_sign_in(&self) {
        self.goto(&self.url("/office/login")).await;
        self.type_into("#email", &self.server.owner_email).await;
        self.type_into("#password", OWNER_PASSWORD).await;
        self.click("button[type=submit]").await;
        self.wait_for_path("/office/dashboard").await;
    }

    /// Fills the sandbox card fields of the pay page.
    pub async fn fill_card(&self, number: &str) {
        self.type_into("#cc-number", number).await;
        self.type_into("#cc-exp", &self.server.exp_typed()).await;
        self.type_into("#cc-cvc", "123").await;
        self.type_into("#cc-zip", "78701").await;
    }

    /// Sets a checkbox to `on`, clicking it when it is not already so.
    pub async fn set_checked(&self, selector: &str, on: bool) {
        let el = self.css(selector).await;
        let now = el.prop("checked").await.unwrap().as_deref() == Some("true");
        if now != on {
            self.center(&el).await;
            el.click().await.unwrap();
        }
    }

    /// Ends the browser session cleanly (the driver is killed on drop anyway).
    pub async fn finish(self) {
        let Env {
            browser,
            server,
            _driver,
            _serial,
        } = self;
        browser.close().await.ok();
        drop(_driver);
        drop(server);
    }
}
