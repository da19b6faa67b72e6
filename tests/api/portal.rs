//! The customer portal: invitations, passwords, sign-in links, sessions,
//! paying bill-to invoices, history and receipts, saved cards and autopay.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use crate::office_auth::{Office, csrf_of, urlencode};
use crate::support::{BASE_URL, OWNER_PASSWORD, Resp, TestApp};
use fieldpay::store::portal::{self as portal_store, Purpose};

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn form_body(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page: {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// A customer with its own email address.
async fn customer_with_email(t: &TestApp, name: &str, email: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": name, "email": email})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

fn unique_email(who: &str) -> String {
    format!(
        "{who}-{}@example.com",
        fieldpay::crypto::random_token(6)
            .to_lowercase()
            .replace(['-', '_'], "x")
    )
}

/// A signed-in portal browser: its cookie and the session's CSRF token.
struct Portal {
    cookie: String,
}

impl Portal {
    fn from_sign_in(r: &Resp) -> Portal {
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.header("location"), "/portal");
        let set = r.header("set-cookie");
        assert!(set.starts_with("fp_portal="), "{set}");
        Portal {
            cookie: set.split(';').next().unwrap().to_string(),
        }
    }

    async fn get(&self, t: &TestApp, path: &str) -> Resp {
        t.request(Method::GET, path, &[("cookie", &self.cookie)], None)
            .await
    }

    async fn csrf(&self, t: &TestApp) -> String {
        csrf_of(&self.get(t, "/portal/history").await.body)
    }

    /// Posts a form; the session's CSRF token is added unless given.
    async fn post(&self, t: &TestApp, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut fields = fields.to_vec();
        let csrf = self.csrf(t).await;
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            fields.push(("csrf", &csrf));
        }
        t.request(
            Method::POST,
            path,
            &[
                ("cookie", &self.cookie),
                FORM,
                ("origin", BASE_URL),
                ("user-agent", "PortalBrowser/2.0"),
            ],
            Some(form_body(&fields)),
        )
        .await
    }
}

/// Signs a customer in through a sign-in link made directly in the store.
async fn sign_in_as(t: &TestApp, customer: &str) -> Portal {
    let token = t.portal_link(customer, Purpose::SignIn).await;
    let r = t
        .request(
            Method::POST,
            &format!("/portal/link/{token}"),
            &[FORM],
            Some(String::new()),
        )
        .await;
    Portal::from_sign_in(&r)
}

/// The newest `.eml` in the spool addressed to `to` (sign-in links go out in the background).
async fn spooled_to(t: &TestApp, to: &str) -> Option<String> {
    for _ in 0..50 {
        if let Ok(dir) = std::fs::read_dir(&t.app.config.spool_dir) {
            for entry in dir.flatten() {
                let path = entry.path();
                if path.extension().and_then(|e| e.to_str()) == Some("eml") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    if text.contains(&format!("\r\nTo: {to}\r\n")) {
                        return Some(text);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// Runs `requests` on a runtime of their own and returns once they, and
/// every task they left running in the background (a sign-in link's email),
/// have finished. The runtime is handed back: database connections opened
/// on it serve the rest of the test, so it is shut down at the end.
async fn with_background_done<T: Send + 'static>(
    requests: impl std::future::Future<Output = T> + Send + 'static,
) -> (Background, T) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let out = rt.spawn(requests).await.unwrap();
    let started = std::time::Instant::now();
    while rt.metrics().num_alive_tasks() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the requests' background work did not finish within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (Background(Some(rt)), out)
}

/// The runtime of `with_background_done`, shut down when dropped.
struct Background(Option<tokio::runtime::Runtime>);

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

fn link_in(eml: &str, prefix: &str) -> String {
    let at = eml
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in {eml}"))
        + prefix.len();
    eml[at..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_string()
}

/// An office session, signed in from an address of its own so the office's
/// per-address sign-in limit, shared by the whole test binary, is not spent.
async fn office_sign_in(t: &TestApp) -> Office {
    let r = t
        .post_signin(
            "/office/login",
            &[("email", &t.owner_email), ("password", OWNER_PASSWORD)],
            Some([10, 9, 9, 9]),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let cookie = r
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let dash = t
        .request(
            Method::GET,
            "/office/dashboard",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    Office {
        csrf: csrf_of(&dash.body),
        cookie,
    }
}

async fn login(t: &TestApp, email: &str, password: &str, ip: [u8; 4]) -> Resp {
    t.post_signin(
        "/portal/login",
        &[("email", email), ("password", password)],
        Some(ip),
        None,
    )
    .await
}

#[tokio::test]
async fn invitation_sets_a_password_and_signs_in() {
    let t = TestApp::new().await;
    let email = unique_email("lena");
    let c = customer_with_email(&t, "Lena Landlord", &email).await;
    let p = t.property("12 Oak St", &c, None).await;
    t.invoice(&p, 12500, &t.day(17)).await;
    let office = office_sign_in(&t).await;

    let r = office
        .post(&t, &format!("/office/customers/{c}/portal-invite"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains(&format!("emailed to <strong>{email}</strong>")),
        "{}",
        r.body
    );
    let page = r.body.replace("&#x2f;", "/");
    let shown = link_in(&page, "value=\"https://pay.greenleaf.test/portal/invite/");
    let shown = shown.split('"').next().unwrap().to_string();
    let eml = spooled_to(&t, &email).await.expect("invitation email");
    assert!(eml.contains("Subject: Your Greenleaf Pest Control customer portal\r\n"));
    assert!(eml.contains("MIME-Version: 1.0\r\n"));
    assert!(eml.contains("Content-Type: text/plain; charset=utf-8\r\n"));
    assert!(eml.contains("Message-ID: <"));
    assert!(eml.contains("Date: "));
    let token = link_in(&eml, "https://pay.greenleaf.test/portal/invite/");
    assert_eq!(token, shown);
    // Only the hash is stored.
    let stored: i64 = fieldpay::store::sql::query_scalar(
        "SELECT COUNT(*) FROM portal_tokens WHERE token_hash = $1",
    )
    .bind(&token)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(stored, 0);

    // GET shows the form and changes nothing, however often.
    for _ in 0..2 {
        let page = t.get(&format!("/portal/invite/{token}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&email));
    }
    let path = format!("/portal/invite/{token}");
    let short = t
        .request(
            Method::POST,
            &path,
            &[FORM],
            Some(form_body(&[("password", "short"), ("confirm", "short")])),
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.body.contains("Use at least 10 characters."));
    assert_eq!(t.count("SELECT COUNT(*) FROM portal_accounts").await, 0);
    let good = [
        ("password", "a long portal password"),
        ("confirm", "a long portal password"),
    ];
    let r = t
        .request(Method::POST, &path, &[FORM], Some(form_body(&good)))
        .await;
    let portal = Portal::from_sign_in(&r);
    let set = r.header("set-cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/portal"] {
        assert!(set.contains(flag), "{set}");
    }
    let home = portal.get(&t, "/portal").await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(home.body.contains("Invoices for Lena Landlord"));
    assert!(home.body.contains("12 Oak St"));
    assert!(home.body.contains("$125.00"));
    // The invitation is used up.
    let again = t
        .request(Method::POST, &path, &[FORM], Some(form_body(&good)))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&path).await.status, StatusCode::NOT_FOUND);

    // The password signs in again, with a new session id.
    let r = login(
        &t,
        &email.to_uppercase(),
        "a long portal password",
        [10, 1, 0, 1],
    )
    .await;
    let second = Portal::from_sign_in(&r);
    assert_ne!(second.cookie, portal.cookie);
    // Signing out ends the session.
    let out = second.post(&t, "/portal/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = second.get(&t, "/portal").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.header("location"), "/portal/login");
    // The audit log has it.
    assert!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'portal.invited'")
            .await
            == 1
    );
    assert!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'portal.account_activated'")
            .await
            == 1
    );
}

#[tokio::test]
async fn without_a_session_the_portal_asks_to_sign_in() {
    let t = TestApp::new().await;
    for path in [
        "/portal",
        "/portal/history",
        "/portal/cards",
        "/portal/receipts/pay_x",
    ] {
        let r = t.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.header("location"), "/portal/login");
    }
    let r = t
        .request(
            Method::GET,
            "/portal",
            &[("cookie", "fp_portal=forged")],
            None,
        )
        .await;
    assert_eq!(r.header("location"), "/portal/login");
    let login = t.get("/portal/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Email me a sign-in link"));
    assert_eq!(login.header("cache-control"), "no-store");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_read_the_same_and_are_rate_limited() {
    let t = TestApp::new().await;
    let email = unique_email("pat");
    let c = customer_with_email(&t, "Pat Password", &email).await;
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT company_id FROM customers WHERE id = $1")
            .bind(&c)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let hash = fieldpay::auth::hash_password("the right password").unwrap();
    let mut tx = t.app.db.begin_write().await.unwrap();
    portal_store::set_password(
        &mut tx,
        &company,
        &fieldpay::domain::ids::CustomerId::from(&c),
        &email,
        &hash,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let wrong = login(&t, &email, "not the password", [10, 2, 0, 1]).await;
    let unknown = login(
        &t,
        &unique_email("nobody"),
        "not the password",
        [10, 2, 0, 1],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let msg = "That email and password do not match a portal account.";
    assert!(wrong.body.contains(msg) && unknown.body.contains(msg));
    assert!(wrong.header("set-cookie").is_empty());

    // Per email: a few tries a minute, whatever the address.
    let mut statuses = Vec::new();
    for i in 0..6u8 {
        statuses.push(
            login(&t, &email, "guess", [10, 3, 0, i])
                .await
                .status
                .as_u16(),
        );
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let blocked = login(&t, &email, "the right password", [10, 3, 1, 1]).await;
    assert_eq!(blocked.status, StatusCode::TOO_MANY_REQUESTS);
    // Per client address: many emails from one address.
    // (At once: a password check takes long enough for the limit to refill.)
    let page = t.get("/portal/login").await;
    let signin_cookie = page
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = hidden(&page.body, "csrf");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let router = t.router.clone();
        let mut req = Request::builder()
            .method(Method::POST)
            .uri("/portal/login")
            .header(FORM.0, FORM.1)
            .header("cookie", &signin_cookie)
            .body(Body::from(form_body(&[
                ("csrf", &csrf),
                ("email", &unique_email("spray")),
                ("password", "guess"),
            ])))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 4, 0, 1], 40000))));
        tasks.spawn(async move { router.oneshot(req).await.unwrap().status().as_u16() });
    }
    let statuses = tasks.join_all().await;
    assert!(
        statuses.contains(&429) && statuses.contains(&401),
        "{statuses:?}"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM sessions WHERE kind = 'portal'")
            .await,
        0
    );
}

#[tokio::test]
async fn sign_in_link_by_email_is_used_only_by_its_button() {
    let t = TestApp::new().await;
    let email = unique_email("sam");
    let c = customer_with_email(&t, "Sam Link", &email).await;
    // Both asks, for a known and an unknown address, and the mail they send
    // in the background: once they have all finished, nothing more can come.
    let page = t.get("/portal/login").await;
    let cookie = page
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let csrf = hidden(&page.body, "csrf");
    let ask = |e: String| {
        let (router, cookie, csrf) = (t.router.clone(), cookie.clone(), csrf.clone());
        async move {
            let req = Request::builder()
                .method(Method::POST)
                .uri("/portal/login-link")
                .header(FORM.0, FORM.1)
                .header("cookie", cookie)
                .body(Body::from(form_body(&[("csrf", &csrf), ("email", &e)])))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let (known, unknown) = (ask(email.to_uppercase()), ask(unique_email("ghost")));
    let (_background, (known, unknown)) =
        with_background_done(async move { (known.await, unknown.await) }).await;
    assert_eq!(known.0, StatusCode::OK);
    assert_eq!(unknown.0, StatusCode::OK);
    let said = "If that email is on file, a sign-in link is on its way.";
    assert!(known.1.contains(said) && unknown.1.contains(said));

    // Only the known email got mail.
    let files = std::fs::read_dir(&t.app.config.spool_dir).unwrap().count();
    assert_eq!(files, 1);
    let eml = spooled_to(&t, &email).await.expect("sign-in email");
    assert!(eml.contains("Subject: Your sign-in link for Greenleaf Pest Control\r\n"));
    assert!(eml.starts_with("From: \"Greenleaf Pest Control\" <"));
    let token = link_in(&eml, "https://pay.greenleaf.test/portal/link/");

    let path = format!("/portal/link/{token}");
    for _ in 0..2 {
        let page = t.get(&path).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(">Sign in</button>"));
        assert!(page.header("set-cookie").is_empty());
    }
    let r = t
        .request(Method::POST, &path, &[FORM], Some(String::new()))
        .await;
    let portal = Portal::from_sign_in(&r);
    let home = portal.get(&t, "/portal").await;
    assert!(home.body.contains("Sam Link"), "{}", home.body);
    let session_customer: String = fieldpay::store::sql::query_scalar(
        "SELECT principal_id FROM sessions WHERE kind = 'portal'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(session_customer, c);
    // Used: the link is now a 404, GET and POST alike.
    assert_eq!(t.get(&path).await.status, StatusCode::NOT_FOUND);
    let again = t
        .request(Method::POST, &path, &[FORM], Some(String::new()))
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // An expired link is refused too.
    let old = t.portal_link(&c, Purpose::SignIn).await;
    fieldpay::store::sql::query("UPDATE portal_tokens SET expires_at = $1 WHERE token_hash = $2")
        .bind(t.app.clock.now() - time::Duration::minutes(1))
        .bind(fieldpay::crypto::sha256_hex(old.as_bytes()))
        .execute(t.app.db.writer())
        .await
        .unwrap();
    let old_path = format!("/portal/link/{old}");
    assert_eq!(t.get(&old_path).await.status, StatusCode::NOT_FOUND);
    let r = t
        .request(Method::POST, &old_path, &[FORM], Some(String::new()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // An invitation token does not work as a sign-in link, nor the other way round.
    let invite = t.portal_link(&c, Purpose::Invite).await;
    let r = t
        .request(
            Method::POST,
            &format!("/portal/link/{invite}"),
            &[FORM],
            Some(String::new()),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A bad email is a 422 with the message next to the field.
    let bad = ask("not-an-email".into()).await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.1
            .contains("Enter the email address your invoices come to.")
    );
}

#[tokio::test]
async fn portal_pays_bill_to_invoices_with_channel_portal() {
    let t = TestApp::new().await;
    let landlord = customer_with_email(&t, "Lena Landlord", &unique_email("lena")).await;
    let tenant = customer_with_email(&t, "Tom Tenant", &unique_email("tom")).await;
    let rental = t.property("7 Rental Rd", &tenant, Some(&landlord)).await;
    let home_p = t.property("1 Home Ln", &landlord, None).await;
    // Both due now, so both are preselected.
    let a = t.invoice(&rental, 8900, &t.day(0)).await;
    let b = t.invoice(&home_p, 4500, &t.day(-2)).await;
    // The tenant's own invoice elsewhere is not the landlord's.
    let tenant_home = t.property("9 Tenant Ct", &tenant, None).await;
    let other = t.invoice(&tenant_home, 3000, &t.day(22)).await;

    let portal = sign_in_as(&t, &landlord).await;
    let page = portal.get(&t, "/portal").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("7 Rental Rd") && page.body.contains("1 Home Ln"));
    assert!(
        page.body
            .contains("You are responsible for billing this property.")
    );
    assert!(!page.body.contains(&other));
    assert!(
        page.body
            .replace("&#x2f;", "/")
            .contains("action=\"/portal/pay\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(
            "Total selected: <strong id=\"total\" data-currency=\"usd\">$134.00</strong>"
        )
    );
    assert!(page.body.contains("Sign out"));
    assert!(page.body.contains("href=\"/portal\" aria-current=\"page\""));

    let nonce = hidden(&page.body, "form_nonce");
    let sig = hidden(&page.body, "form_sig");
    let card = t.card("4242424242424242").await;
    let fields = [
        ("form_nonce", nonce.as_str()),
        ("form_sig", sig.as_str()),
        ("invoice_ids", a.as_str()),
        ("invoice_ids", b.as_str()),
        ("payment_method", "new_card"),
        ("card_token", card.as_str()),
        ("plan", "once"),
    ];
    let r = portal.post(&t, "/portal/pay", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt_path = r.header("location").to_string();
    assert!(
        receipt_path.starts_with("/portal/receipts/pay_"),
        "{receipt_path}"
    );
    // A double submit lands on the same receipt and charges once.
    let again = portal.post(&t, "/portal/pay", &fields).await;
    assert_eq!(again.header("location"), receipt_path);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );
    assert_eq!(t.balance(&a).await, 0);
    assert_eq!(t.balance(&b).await, 0);
    assert_eq!(t.balance(&other).await, 3000);

    let receipt = portal.get(&t, &receipt_path).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert!(
        receipt.body.contains("Paid $134.00 — thank you"),
        "{}",
        receipt.body
    );
    assert!(receipt.body.contains("Visa ending 4242"));
    assert!(receipt.body.contains("href=\"/portal\""));
    assert!(!receipt.body.contains("href=\"/pay/"));

    let list = t
        .api(
            Method::GET,
            &format!("/api/v1/payments?customer_id={landlord}"),
            None,
        )
        .await
        .json();
    assert_eq!(list["data"][0]["channel"], "portal");
    assert_eq!(list["data"][0]["amount"], 13400);

    let history = portal.get(&t, "/portal/history").await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(history.body.contains("$134.00"));
    assert!(history.body.contains(&format!("href=\"{receipt_path}\"")));

    // All paid: the page says so.
    let page = portal.get(&t, "/portal").await;
    assert!(page.body.contains("You're all paid up. Thank you!"));

    // Another customer's session cannot open this receipt.
    let nosy = sign_in_as(&t, &tenant).await;
    assert_eq!(
        nosy.get(&t, &receipt_path).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        !nosy
            .get(&t, "/portal/history")
            .await
            .body
            .contains("$134.00")
    );
}

#[tokio::test]
async fn pay_form_with_a_foreign_or_forged_token_is_refused() {
    let t = TestApp::new().await;
    let c = customer_with_email(&t, "Csrf Carla", &unique_email("carla")).await;
    let p = t.property("3 Safe St", &c, None).await;
    let inv = t.invoice(&p, 8900, &t.day(17)).await;
    let portal = sign_in_as(&t, &c).await;
    let card = t.card("4242424242424242").await;
    // The quick-pay page's form token does not work in the portal.
    let token = t.token(&c).await;
    let quick = t.get(&format!("/pay/{token}")).await;
    let r = portal
        .post(
            &t,
            "/portal/pay",
            &[
                ("form_nonce", &hidden(&quick.body, "form_nonce")),
                ("form_sig", &hidden(&quick.body, "form_sig")),
                ("invoice_ids", &inv),
                ("payment_method", "new_card"),
                ("card_token", &card),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Nor one from another session of the same customer.
    let other_session = sign_in_as(&t, &c).await;
    let page = other_session.get(&t, "/portal").await;
    let r = portal
        .post(
            &t,
            "/portal/pay",
            &[
                ("form_nonce", &hidden(&page.body, "form_nonce")),
                ("form_sig", &hidden(&page.body, "form_sig")),
                ("invoice_ids", &inv),
                ("payment_method", "new_card"),
                ("card_token", &card),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Forms without the session's CSRF token.
    for path in ["/portal/autopay", "/portal/logout"] {
        let r = portal
            .post(&t, path, &[("csrf", "forged"), ("action", "off")])
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
    }
    // Another site.
    let cross = t
        .request(
            Method::POST,
            "/portal/autopay",
            &[
                ("cookie", &portal.cookie),
                FORM,
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some("action=off".into()),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );
    assert_eq!(t.balance(&inv).await, 8900);
    // Still signed in.
    assert_eq!(portal.get(&t, "/portal").await.status, StatusCode::OK);
}

#[tokio::test]
async fn saved_cards_and_autopay_off_and_on() {
    let t = TestApp::new().await;
    let c = customer_with_email(&t, "Auto Annie", &unique_email("annie")).await;
    let p = t.property("5 Auto Ave", &c, None).await;
    let inv = t.invoice(&p, 8900, &t.day(17)).await;
    let portal = sign_in_as(&t, &c).await;
    let cards = portal.get(&t, "/portal/cards").await;
    assert!(cards.body.contains("No saved cards."));

    // Pay from the portal and enroll in autopay with consent.
    let page = portal.get(&t, "/portal").await;
    let card = t.card("4242424242424242").await;
    let r = portal
        .post(
            &t,
            "/portal/pay",
            &[
                ("form_nonce", &hidden(&page.body, "form_nonce")),
                ("form_sig", &hidden(&page.body, "form_sig")),
                ("invoice_ids", &inv),
                ("payment_method", "new_card"),
                ("card_token", &card),
                ("plan", "autopay"),
                ("autopay_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let channel: String = fieldpay::store::sql::query_scalar(
        "SELECT channel FROM autopay_enrollments WHERE cancelled_at IS NULL",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(channel, "portal");
    let cards = portal.get(&t, "/portal/cards").await;
    assert!(
        cards.body.contains("Autopay is on for Visa ending 4242"),
        "{}",
        cards.body
    );
    let method: String = fieldpay::store::sql::query_scalar("SELECT id FROM payment_methods")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();

    // Off.
    let r = portal
        .post(&t, "/portal/autopay", &[("action", "off")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Autopay is off."));
    // The authorization to tick, word for word.
    let consent = fieldpay::domain::autopay_consent_text(
        fieldpay::domain::i18n::Lang::En,
        "Greenleaf Pest Control",
        "(512) 555-0142",
    );
    assert!(r.body.contains(&consent), "{}", r.body);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'autopay.cancelled'")
            .await,
        1
    );

    // On without the consent box: refused, nothing written.
    let r = portal
        .post(
            &t,
            "/portal/autopay",
            &[("action", "on"), ("method_id", &method)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("tick the box to authorize future charges"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        0
    );
    // On with a card that is not theirs: refused.
    let r = portal
        .post(
            &t,
            "/portal/autopay",
            &[
                ("action", "on"),
                ("method_id", "pmt_nope"),
                ("autopay_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("Choose one of your saved cards for autopay.")
    );

    // On with consent: the exact text, time, address and user agent are kept.
    let r = portal
        .post(
            &t,
            "/portal/autopay",
            &[
                ("action", "on"),
                ("method_id", &method),
                ("autopay_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Autopay is on for Visa ending 4242"));
    let (text, ip, ua, channel): (String, String, String, String) = fieldpay::store::sql::query_as(
        "SELECT consent_text, consent_ip, consent_user_agent, channel FROM autopay_enrollments WHERE cancelled_at IS NULL",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(
        text,
        fieldpay::domain::autopay_consent_text(
            fieldpay::domain::i18n::Lang::En,
            "Greenleaf Pest Control",
            "(512) 555-0142"
        )
    );
    assert_eq!(ip, "127.0.0.1");
    assert_eq!(ua, "PortalBrowser/2.0");
    assert_eq!(channel, "portal");

    // Default card.
    let r = portal
        .post(&t, &format!("/portal/cards/{method}/default"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payment_methods WHERE is_default = 1")
            .await,
        1
    );

    // Removing the autopay card asks first, then turns autopay off.
    let ask = portal
        .get(&t, &format!("/portal/cards/{method}/remove"))
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("autopay turns off"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payment_methods WHERE removed_at IS NULL")
            .await,
        1
    );
    let r = portal
        .post(&t, &format!("/portal/cards/{method}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("autopay is now off"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payment_methods WHERE removed_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment_method.removed'")
            .await,
        1
    );
    // Gone: a second removal is a 404.
    let r = portal
        .post(&t, &format!("/portal/cards/{method}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn another_customers_card_is_a_404() {
    let t = TestApp::new().await;
    let owner = customer_with_email(&t, "Card Owner", &unique_email("own")).await;
    let p = t.property("8 Own St", &owner, None).await;
    let inv = t.invoice(&p, 8900, &t.day(17)).await;
    let token = t.token(&owner).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(&token, "k-own", json!({"invoice_ids": [inv], "payment_method": card, "save_card_and_enroll_autopay": true, "autopay_consent": true}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let method: String = fieldpay::store::sql::query_scalar("SELECT id FROM payment_methods")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    let thief = customer_with_email(&t, "Other Person", &unique_email("thief")).await;
    let portal = sign_in_as(&t, &thief).await;
    assert_eq!(
        portal
            .get(&t, &format!("/portal/cards/{method}/remove"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        portal
            .post(&t, &format!("/portal/cards/{method}/remove"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        portal
            .post(&t, &format!("/portal/cards/{method}/default"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = portal
        .post(
            &t,
            "/portal/autopay",
            &[
                ("action", "on"),
                ("method_id", &method),
                ("autopay_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // The owner's autopay is untouched by the other customer's "off".
    portal
        .post(&t, "/portal/autopay", &[("action", "off")])
        .await;
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payment_methods WHERE removed_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn office_invitations_are_scoped_and_need_an_email() {
    let t = TestApp::new().await;
    let office = office_sign_in(&t).await;
    // No email on file: 422 with the reason, nothing written.
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "No Mail"})),
        )
        .await;
    let no_mail = r.json()["id"].as_str().unwrap().to_string();
    let r = office
        .post(
            &t,
            &format!("/office/customers/{no_mail}/portal-invite"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("no email on file"));
    assert_eq!(t.count("SELECT COUNT(*) FROM portal_tokens").await, 0);
    // Another company's customer: 404.
    let other_key = t.other_company().await;
    let r = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Elsewhere", "email": "e@example.com"})),
        )
        .await;
    let foreign = r.json()["id"].as_str().unwrap().to_string();
    let r = office
        .post(
            &t,
            &format!("/office/customers/{foreign}/portal-invite"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(t.count("SELECT COUNT(*) FROM portal_tokens").await, 0);
    // Without the CSRF token: refused.
    let c = customer_with_email(&t, "Csrf Cust", &unique_email("cc")).await;
    let r = office
        .post(
            &t,
            &format!("/office/customers/{c}/portal-invite"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.count("SELECT COUNT(*) FROM portal_tokens").await, 0);
    // Not signed in to the office: to its sign-in page.
    let r = t
        .request(
            Method::POST,
            &format!("/office/customers/{c}/portal-invite"),
            &[FORM],
            Some("csrf=x".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn names_with_markup_render_as_text() {
    let t = TestApp::new().await;
    let c = customer_with_email(&t, "<script>alert(1)</script>", &unique_email("xss")).await;
    let p = t.property("<b>1 Bold St</b>", &c, None).await;
    t.invoice(&p, 1000, &t.day(17)).await;
    let portal = sign_in_as(&t, &c).await;
    for path in ["/portal", "/portal/history", "/portal/cards"] {
        let r = portal.get(&t, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(!r.body.contains("<script>alert(1)</script>"), "{path}");
        assert!(r.body.contains("&lt;script&gt;"), "{path}");
        assert!(!r.body.contains("<b>1 Bold St</b>"));
    }
}

#[tokio::test]
async fn a_card_can_be_added_without_a_charge() {
    let t = TestApp::new().await;
    let (c, inv) = crate::support::customer_with_invoices(&t, "Card Keeper", &[4000]).await;
    let portal = sign_in_as(&t, &c).await;
    let form = portal.get(&t, "/portal/cards/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("data-card-form"));
    // The card inputs have no name: only the processor's token is posted.
    assert!(!form.body.contains("name=\"number\""));

    // A card the bank refuses is not kept.
    let bad = t.card("4000000000000002").await;
    let r = portal
        .post(&t, "/portal/cards/new", &[("card_token", &bad)])
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    assert!(r.body.contains("declined"));
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_methods").await, 0);

    let good = t.card("5555555555554444").await;
    let r = portal
        .post(&t, "/portal/cards/new", &[("card_token", &good)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Your card was saved."));
    assert!(r.body.contains("Mastercard ending 4444"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payment_methods WHERE is_default = 1")
            .await,
        1
    );
    // Nothing was charged, and a used token cannot be saved twice.
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );
    let again = portal
        .post(&t, "/portal/cards/new", &[("card_token", &good)])
        .await;
    assert_eq!(again.status, StatusCode::PAYMENT_REQUIRED);
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_methods").await, 1);
    // Without CSRF: refused.
    let forged = portal
        .post(
            &t,
            "/portal/cards/new",
            &[("csrf", "x"), ("card_token", "tok_x")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // The saved card pays from the quick payment page.
    let method: String = fieldpay::store::sql::query_scalar("SELECT id FROM payment_methods")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    let token = t.token(&c).await;
    let paid = t
        .pay(
            &token,
            "with-saved",
            serde_json::json!({"invoice_ids": [inv[0]], "payment_method": method}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
}

#[tokio::test]
async fn the_portal_says_when_autopay_charges_next_and_turns_it_off_there() {
    let t = TestApp::new().await;
    let c = customer_with_email(&t, "Pat Portal", &unique_email("pat")).await;
    let p = t.property("8 Maple Way", &c, None).await;
    let now = t.invoice(&p, 4000, &t.day(-2)).await;
    let next = t.invoice(&p, 6500, &t.day(9)).await;
    let portal = sign_in_as(&t, &c).await;
    let page = portal.get(&t, "/portal").await;
    // Only the overdue invoice is preselected.
    assert!(page.body.contains(&format!(
        "value=\"{now}\" id=\"inv-{now}\" data-balance=\"4000\" checked>"
    )));
    assert!(page.body.contains(&format!(
        "value=\"{next}\" id=\"inv-{next}\" data-balance=\"6500\">"
    )));
    let card = t.card("4242424242424242").await;
    let r = portal
        .post(
            &t,
            "/portal/pay",
            &[
                ("form_nonce", &hidden(&page.body, "form_nonce")),
                ("form_sig", &hidden(&page.body, "form_sig")),
                ("invoice_ids", &now),
                ("payment_method", "new_card"),
                ("card_token", &card),
                ("plan", "autopay"),
                ("autopay_consent", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let number = t.invoice_json(&next).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let when = fieldpay::domain::dates::display_near(t.date(9), t.today());
    let summary = format!(
        "Autopay is on: Visa \u{2022}4242; invoice {number}, $65.00, will be charged on {when}."
    );
    let home = portal.get(&t, "/portal").await;
    assert!(home.body.contains(&summary), "{summary}\n{}", home.body);
    assert!(!home.body.contains("(autopay)"));
    let cards = portal.get(&t, "/portal/cards").await;
    assert!(cards.body.contains(&summary), "{}", cards.body);
    // The cancel control on the invoices page posts the portal's own form.
    let off = &home.body[home.body.find("id=\"autopay-off\"").unwrap()..];
    assert!(
        home.body
            .contains("action=\"/portal/autopay\" id=\"autopay-off\"")
    );
    let r = portal
        .post(
            &t,
            "/portal/autopay",
            &[("csrf", &hidden(off, "csrf")), ("action", "off")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Autopay is off."));
    let home = portal.get(&t, "/portal").await;
    assert!(!home.body.contains("Autopay is on"));
    assert!(home.body.contains("(autopay)"));
}

#[tokio::test]
async fn the_sign_in_page_carries_the_companys_name_logo_and_colour() {
    let t = TestApp::new().await;
    let r = t.get("/portal/login").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("<p class=\"company\">Greenleaf Pest Control</p>")
    );
    assert!(
        r.body
            .contains("Sign in to your Greenleaf Pest Control customer portal")
    );
    assert!(!r.body.contains("class=\"logo\""));
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT id FROM companies")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let mut tx = t.app.db.begin_write().await.unwrap();
    fieldpay::store::companies::set_logo(
        &mut tx,
        &company,
        Some(("image/png", b"\x89PNG\r\n\x1a\n")),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = t.get("/portal/login").await;
    assert!(r.body.replace("&#x2f;", "/").contains(&format!(
        "<img src=\"/logo/{company}\" alt=\"\" class=\"logo\">"
    )));
    assert!(
        r.body.contains("data-accent=\"#"),
        "the accent colour is set"
    );
    // With two companies the page names the one asked for, and no other.
    t.other_company().await;
    let other: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM companies WHERE name = 'Other Pest Co'")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let r = t.get("/portal/login").await;
    assert!(!r.body.contains("class=\"company\""));
    let r = t.get(&format!("/portal/login?company={other}")).await;
    assert!(
        r.body
            .contains(&format!("name=\"company\" value=\"{other}\""))
    );
    assert!(r.body.contains("<p class=\"company\">Other Pest Co</p>"));
    assert!(!r.body.contains("Greenleaf Pest Control"));
    let r = t.get("/portal/login?company=cmp_unknown").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("class=\"company\""));
}
