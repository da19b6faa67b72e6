//! The Stripe adapter against localstripe, a stateful fake Stripe server.
//!
//! One localstripe per test binary, bound to 127.0.0.1 on a port of its own
//! choosing (a launcher script runs its aiohttp app on a socket it binds; it
//! exits when this process's pipe to it closes). The python comes from
//! `FIELDPAY_TEST_PYTHON` (else `python3`); under `CI=true` a python without
//! localstripe fails the tests, elsewhere they are skipped with a message.
//!
//! The payment flows choose each company's processor from its settings
//! (`processor_for`); these tests set them through
//! `PUT /api/v1/settings/processor` with the API base pointed at localstripe,
//! so the real selection and the page's whole path (attempt rows, locks,
//! settle) run against localstripe. `App::processor` stays the sandbox, the
//! default for every company that did not choose Stripe; the tests that lose
//! a reply put a wrapper there and switch the company to it for one request.

use fieldpay::app::Actor;
use fieldpay::app::refunds::{RefundKey, RefundOutcome, RefundRequest};
use std::io::BufRead;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use fieldpay::processor::stripe::StripeProcessor;
use fieldpay::processor::stripe::transformers::sign;
use fieldpay::processor::{
    ChargeLookup, ChargeOutcome, ChargeRequest, PaymentProcessor, SaveOutcome,
};

use crate::support::faulty::{Call, Fault, Faulty};
use crate::support::{Resp, TestApp, customer_with_invoices};

const LAUNCHER: &str = r#"
import os, socket, sys, threading
from aiohttp import web
import localstripe.resources as resources
# Keep the fake's state in memory only (it would write /tmp/localstripe.pickle).
resources.store.dump_to_disk = lambda: None
from localstripe.server import app

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(('127.0.0.1', 0))
print(sock.getsockname()[1], flush=True)

def watch_parent():
    sys.stdin.read()
    os._exit(0)

threading.Thread(target=watch_parent, daemon=True).start()
web.run_app(app, sock=sock, print=None, access_log=None)
"#;

pub struct LocalStripe {
    pub base: String,
    _child: Mutex<std::process::Child>,
    _stdin: Mutex<std::process::ChildStdin>,
}

fn python_with_localstripe() -> Option<String> {
    let candidates = std::env::var("FIELDPAY_TEST_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for py in candidates {
        let ok = std::process::Command::new(&py)
            .args(["-c", "import localstripe.server"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(py);
        }
    }
    if crate::common::in_ci() {
        panic!(
            "localstripe is missing: .ci/run installs it into target/ci-venv (FIELDPAY_TEST_PYTHON)"
        );
    }
    eprintln!(
        "SKIPPED the Stripe test: no python with localstripe (set FIELDPAY_TEST_PYTHON or pip install localstripe)"
    );
    None
}

fn start_localstripe(python: &str) -> LocalStripe {
    let dir = std::env::temp_dir().join(format!(
        "fieldpay-localstripe-{}",
        fieldpay::crypto::new_id("t")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("localstripe_launcher.py");
    std::fs::write(&script, LAUNCHER).unwrap();
    let mut child = std::process::Command::new(python)
        .arg(&script)
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("localstripe did not start: {line:?}"));
    let base = format!("http://127.0.0.1:{port}");
    // Wait until it answers.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    LocalStripe {
        base,
        _child: Mutex::new(child),
        _stdin: Mutex::new(stdin),
    }
}

/// The shared localstripe, or `None` (skipped) when there is none.
fn localstripe() -> Option<&'static LocalStripe> {
    static LS: OnceLock<Option<LocalStripe>> = OnceLock::new();
    LS.get_or_init(|| {
        let python = python_with_localstripe()?;
        Some(start_localstripe(&python))
    })
    .as_ref()
}

pub(crate) fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A test-mode key of our own (localstripe takes any `sk_…`).
fn secret_key() -> String {
    format!("sk_test_{}", fieldpay::crypto::new_id("k").replace('_', ""))
}

fn webhook_secret() -> String {
    format!("whsec_{}", fieldpay::crypto::new_id("w").replace('_', ""))
}

pub(crate) struct Ctx {
    pub(crate) ls: &'static LocalStripe,
    pub(crate) company: fieldpay::domain::ids::CompanyId,
    pub(crate) sk: String,
    pub(crate) whsec: String,
}

/// Sets a company's processor to Stripe through the API.
async fn set_stripe(t: &TestApp, api_key: &str, sk: &str, whsec: &str) -> Resp {
    t.api_with_key(
        api_key,
        Method::PUT,
        "/api/v1/settings/processor",
        Some(json!({
            "kind": "stripe",
            "secret_key": sk,
            "publishable_key": "pk_test_51abcdefghij",
            "webhook_secret": whsec,
        })),
    )
    .await
}

/// A test app whose company takes cards through Stripe (localstripe).
pub(crate) async fn stripe_app() -> Option<(TestApp, Ctx)> {
    let ls = localstripe()?;
    let mut t = TestApp::new().await;
    t.set_stripe_api_base(&ls.base);
    let (sk, whsec) = (secret_key(), webhook_secret());
    let key = t.api_key.clone();
    let r = set_stripe(&t, &key, &sk, &whsec).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let company = t.company_of(&key).await;
    assert!(
        fieldpay::app::processors::stripe_for(&t.app, &company)
            .await
            .unwrap()
            .is_some(),
        "the company uses stripe"
    );
    Some((
        t,
        Ctx {
            ls,
            company,
            sk,
            whsec,
        },
    ))
}

/// Puts a processor in `App::processor`: what companies that did not choose
/// Stripe are charged through.
pub(crate) fn use_processor(t: &mut TestApp, p: Arc<dyn PaymentProcessor>) {
    t.app.processor = p;
    t.router = fieldpay::web::router(t.app.clone());
}

/// Switches the test company's processor kind, keeping its stored keys. In
/// the database, as a test device: the settings API refuses a switch while
/// an attempt is pending, which is the state these tests build.
pub(crate) async fn set_kind(t: &TestApp, kind: &str) {
    let done = fieldpay::store::sql::query("UPDATE processor_settings SET kind = $1")
        .bind(kind)
        .execute(t.app.db.writer())
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

/// A PaymentMethod made at localstripe, as Stripe.js would make it; it
/// expires years ahead by the system clock, which localstripe reads.
pub(crate) async fn pm(c: &Ctx, number: &str) -> String {
    let exp_year = (fieldpay::domain::Clock::system().today_in("UTC").year() + 3).to_string();
    let r = http()
        .post(format!("{}/v1/payment_methods", c.ls.base))
        .bearer_auth(&c.sk)
        .form(&[
            ("type", "card"),
            ("card[number]", number),
            ("card[exp_month]", "12"),
            ("card[exp_year]", exp_year.as_str()),
            ("card[cvc]", "123"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v: Value = r.json().await.unwrap();
    v["id"].as_str().unwrap().to_string()
}

pub(crate) async fn ls_get(c: &Ctx, path: &str) -> Value {
    let r = http()
        .get(format!("{}{path}", c.ls.base))
        .bearer_auth(&c.sk)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.unwrap()
}

/// Every PaymentIntent at localstripe that carries this attempt id.
pub(crate) async fn intents_for(c: &Ctx, attempt: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = "/v1/payment_intents?limit=100".to_string();
        if let Some(a) = &after {
            path.push_str(&format!("&starting_after={a}"));
        }
        let page = ls_get(c, &path).await;
        let data = page["data"].as_array().unwrap().clone();
        after = data.last().map(|p| p["id"].as_str().unwrap().to_string());
        out.extend(
            data.into_iter()
                .filter(|p| p["metadata"]["attempt_id"] == json!(attempt)),
        );
        if !page["has_more"].as_bool().unwrap_or(false) {
            return out;
        }
    }
}

pub(crate) async fn attempt_of_payment(t: &TestApp, payment_id: &str) -> (String, String) {
    fieldpay::store::sql::query_as(
        "SELECT attempt_id, processor_charge_id FROM payments WHERE id = $1",
    )
    .bind(payment_id)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap()
}

pub(crate) fn body(invoices: &[String], method: &str) -> Value {
    json!({"invoice_ids": invoices, "payment_method": method})
}

#[tokio::test]
async fn stripe_pays_one_and_several_invoices() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Lena Landlord", &[12500, 9000]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-several", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let paid = r.json();
    assert_eq!(paid["amount"], 21500);
    assert_eq!(paid["status"], "succeeded");
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    // At Stripe: one intent for the attempt, for the server's amount.
    let (attempt, charge) = attempt_of_payment(&t, paid["id"].as_str().unwrap()).await;
    assert!(charge.starts_with("pi_"), "{charge}");
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["id"], json!(charge));
    assert_eq!(intents[0]["amount"], 21500);
    assert_eq!(intents[0]["status"], "succeeded");

    // One invoice alone.
    let (cust2, inv2) = customer_with_invoices(&t, "Omar Owner", &[4000]).await;
    let token2 = t.token(&cust2).await;
    let card2 = pm(&c, "4242424242424242").await;
    let r = t.pay(&token2, "key-one", body(&inv2, &card2)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["amount"], 4000);
    assert_eq!(r.json()["card"]["brand"], "Visa");
    assert_eq!(r.json()["card"]["last4"], "4242");
    assert_eq!(t.balance(&inv2[0]).await, 0);
}

#[tokio::test]
async fn stripe_declines_map_to_our_codes_with_words_for_the_customer() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Dee Cline", &[5000]).await;
    let token = t.token(&cust).await;

    // Declined when charged.
    let card = pm(&c, "4000000000000341").await;
    let r = t.pay(&token, "key-341", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["code"], "card_declined");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Your bank declined the card"),
        "{}",
        r.body
    );
    assert_eq!(t.balance(&inv[0]).await, 5000);

    // Declined when kept for autopay (localstripe refuses it on attach).
    let card = pm(&c, "4000000000000002").await;
    let mut b = body(&inv, &card);
    b["save_card_and_enroll_autopay"] = json!(true);
    b["autopay_consent"] = json!(true);
    let r = t.pay(&token, "key-0002", b).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "card_declined");

    // 3-D Secure required: not charged; the page gets what it needs to
    // complete it (see stripe_three_d_secure_is_completed_and_confirmed_once).
    let card = pm(&c, "4000002500003155").await;
    let r = t.pay(&token, "key-3ds", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "authentication_required");
    let attempt = r.json()["attempt_id"].as_str().unwrap().to_string();
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "requires_action");
    assert_eq!(r.json()["client_secret"], intents[0]["client_secret"]);
    // The customer gives up: reconciliation cancels it and frees the invoice.
    let later = t.app.clock.now() + time::Duration::hours(1);
    let report = fieldpay::app::payments::reconcile(&t.app, later, time::Duration::minutes(30))
        .await
        .unwrap();
    assert_eq!(report.declined, 1, "{report:?}");
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents[0]["status"], "canceled");
    let code: String = fieldpay::store::sql::query_scalar(
        "SELECT decline_code FROM payment_attempts WHERE idempotency_key = 'api:key-3ds'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(code, "authentication_required");

    // A payment method Stripe does not know.
    let r = t
        .pay(&token, "key-unknown", body(&inv, "pm_doesnotexist"))
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "invalid_payment_method");

    assert_eq!(t.balance(&inv[0]).await, 5000);
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 0);
}

#[tokio::test]
async fn stripe_saved_card_is_charged_off_session() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Sam Saver", &[3000]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let mut b = body(&inv, &card);
    b["save_card_and_enroll_autopay"] = json!(true);
    b["autopay_consent"] = json!(true);
    let r = t.pay(&token, "key-save", b).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["autopay"]["enrolled"], true, "{}", r.body);
    // The card is kept at Stripe, attached to a Customer we remember.
    let (method_id, processor_method): (String, String) = fieldpay::store::sql::query_as(
        "SELECT id, processor_method_id FROM payment_methods WHERE customer_id = $1",
    )
    .bind(&cust)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(processor_method, card);
    let pm_at_stripe = ls_get(&c, &format!("/v1/payment_methods/{card}")).await;
    let stripe_customer = pm_at_stripe["customer"].as_str().unwrap().to_string();
    assert!(stripe_customer.starts_with("cus_"));
    let remembered: Option<String> = fieldpay::store::sql::query_scalar(
        "SELECT processor_customer_id FROM customers WHERE id = $1",
    )
    .bind(&cust)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(remembered.as_deref(), Some(stripe_customer.as_str()));

    // A later invoice, charged with the saved card while the customer is away.
    let prop: String =
        fieldpay::store::sql::query_scalar("SELECT property_id FROM invoices WHERE id = $1")
            .bind(&inv[0])
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let later = t.invoice(&prop, 4500, &t.day(17)).await;
    let charged = fieldpay::app::payments::pay_with(
        &t.app,
        fieldpay::app::payments::PayInvoices {
            company_id: c.company.clone(),
            customer_id: cust.as_str().into(),
            invoice_ids: vec![later.as_str().into()],
            payment_method: method_id.clone(),
            idempotency_key: "off-session-1".into(),
            channel: "office",
            enroll: None,
            actor: "test".into(),
        },
        fieldpay::app::payments::ChargeOptions {
            off_session: true,
            ..fieldpay::app::payments::ChargeOptions::on_session(t.app.clock.now())
        },
    )
    .await
    .unwrap();
    let fieldpay::app::payments::PayResult::Succeeded(summary) = charged.result else {
        panic!("declined: {:?}", charged.result);
    };
    assert_eq!(summary.amount, 4500);
    assert_eq!(t.balance(&later).await, 0);
    let (attempt, _) = attempt_of_payment(&t, &summary.id).await;
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["customer"], json!(stripe_customer));
    assert_eq!(intents[0]["payment_method"], json!(card));

    // The adapter's own save: a card that declines every charge is kept,
    // then its off-session charge is declined.
    let stripe = StripeProcessor::new(&c.ls.base, &c.sk);
    let bad = pm(&c, "4000000000000341").await;
    let saved = stripe.save_method(bad.clone(), None).await.unwrap();
    let SaveOutcome::Saved(saved) = saved else {
        panic!("not saved: {saved:?}");
    };
    assert_eq!(saved.method_id, bad);
    assert_eq!(saved.card.last4, "0341");
    let outcome = stripe
        .charge(ChargeRequest {
            idempotency_key: fieldpay::crypto::new_id("att"),
            amount: fieldpay::domain::money::Money::new(
                1000,
                fieldpay::domain::money::Currency::USD,
            ),
            source: fieldpay::processor::ChargeSource::SavedMethod(bad),
            save_method: false,
            off_session: true,
            processor_customer: None,
            description: "autopay".into(),
        })
        .await
        .unwrap();
    assert!(
        matches!(&outcome, ChargeOutcome::Declined(d) if d.code == "card_declined"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn stripe_refund_reopens_the_balance() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Rae Fund", &[8000]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-refund", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let (_, pi) = attempt_of_payment(&t, &payment).await;
    let req = RefundRequest {
        payment_id: payment.as_str().into(),
        amount: Some(3000),
        reason: "Missed a visit".into(),
        key: RefundKey::Form("refund-form-nonce-0001".into()),
    };
    let actor = Actor::system(&c.company, "test");
    let done = fieldpay::app::refunds::refund(&t.app, &actor, &req)
        .await
        .unwrap();
    assert!(matches!(done, RefundOutcome::Done(_)), "{done:?}");
    assert_eq!(t.balance(&inv[0]).await, 3000);
    // The same form again does not refund twice.
    let again = fieldpay::app::refunds::refund(&t.app, &actor, &req)
        .await
        .unwrap();
    assert!(matches!(again, RefundOutcome::Replay(_)));
    // The adapter asked again with the same key (a lost reply, a retry
    // days later): the same refund, not a second one.
    let same = StripeProcessor::new(&c.ls.base, &c.sk)
        .refund(
            pi.clone(),
            fieldpay::domain::money::Money::new(3000, fieldpay::domain::money::Currency::USD),
            ours_key(&t).await,
        )
        .await
        .unwrap();
    let refunds = ls_get(&c, &format!("/v1/refunds?payment_intent={pi}")).await;
    assert_eq!(refunds["data"][0]["id"], json!(same.id));
    let data = refunds["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{refunds}");
    assert_eq!(data[0]["amount"], 3000);
    let ours: String =
        fieldpay::store::sql::query_scalar("SELECT processor_refund_id FROM refunds")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(data[0]["id"], json!(ours));
    assert!(data[0]["metadata"]["fieldpay_refund_id"].is_string());
}

async fn ours_key(t: &TestApp) -> String {
    fieldpay::store::sql::query_scalar("SELECT id FROM refunds")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

/// Pays with a reply that is lost; returns the invoice and the attempt.
pub(crate) async fn pay_and_lose_reply(
    t: &mut TestApp,
    c: &Ctx,
    name: &str,
    amount: i64,
) -> (String, String) {
    let (cust, inv) = customer_with_invoices(t, name, &[amount]).await;
    let token = t.token(&cust).await;
    let card = pm(c, "4242424242424242").await;
    // For this one request the company is charged through the app's
    // default processor, a Stripe adapter that loses the reply.
    let sandbox = t.app.processor.clone();
    let stripe = StripeProcessor::new(&c.ls.base, &c.sk);
    let faulty = Faulty::new(Arc::new(stripe));
    faulty.script(Call::Charge, [Fault::LoseReply]);
    use_processor(t, faulty);
    set_kind(t, "sandbox").await;
    let r = t.pay(&token, "key-lost", body(&inv, &card)).await;
    // The charge was sent and its answer lost: accepted, being confirmed.
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
    assert_eq!(r.json()["status"], "pending");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("Do not pay again")
    );
    use_processor(t, sandbox);
    set_kind(t, "stripe").await;
    assert_eq!(t.balance(&inv[0]).await, amount, "not applied yet");
    let attempt: String = fieldpay::store::sql::query_scalar(
        "SELECT id FROM payment_attempts WHERE idempotency_key = 'api:key-lost' AND status = 'pending'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    (inv[0].clone(), attempt)
}

#[tokio::test]
async fn stripe_lost_reply_is_found_and_reconciled_once() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    let (inv, attempt) = pay_and_lose_reply(&mut t, &c, "Lou Stripe", 6100).await;
    // Stripe charged it.
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "succeeded");
    // The adapter finds it by our attempt id.
    let stripe = StripeProcessor::new(&c.ls.base, &c.sk);
    let created: time::OffsetDateTime =
        fieldpay::store::sql::query_scalar("SELECT created_at FROM payment_attempts WHERE id = $1")
            .bind(&attempt)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let found = stripe
        .find_charge(ChargeLookup::by_key(&attempt, created))
        .await
        .unwrap();
    assert!(
        matches!(&found, Some(ChargeOutcome::Succeeded(ch)) if ch.amount.minor == 6100 && ch.card.last4 == "4242"),
        "{found:?}"
    );
    assert_eq!(
        stripe
            .find_charge(ChargeLookup::by_key("att_neverseen", created))
            .await
            .unwrap(),
        None
    );
    let later = t.app.clock.now() + time::Duration::minutes(30);
    let report = fieldpay::app::payments::reconcile(&t.app, later, time::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(t.balance(&inv).await, 0);
    let report = fieldpay::app::payments::reconcile(&t.app, later, time::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(report.applied, 0);
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 1);
}

#[tokio::test]
async fn stripe_repeated_requests_charge_once_although_localstripe_ignores_idempotency_keys() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Rita Repeat", &[7300]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let t = Arc::new(t);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (t, token, b) = (t.clone(), token.clone(), body(&inv, &card));
        tasks.push(tokio::spawn(
            async move { t.pay(&token, "same-key", b).await },
        ));
    }
    let mut created = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {} // the first still in flight
            s => panic!("{s}: {}", r.body),
        }
    }
    assert!(created >= 1);
    // Once settled, a repeat answers as the first time.
    let r = t.pay(&token, "same-key", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(t.count("SELECT count(*) FROM payment_attempts").await, 1);
    let attempt: String = fieldpay::store::sql::query_scalar("SELECT id FROM payment_attempts")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    assert_eq!(
        intents_for(&c, &attempt).await.len(),
        1,
        "one charge at Stripe"
    );
    assert_eq!(t.balance(&inv[0]).await, 0);
}

/// Posts a signed (or not) event to a company's webhook path.
pub(crate) async fn post_event(
    t: &TestApp,
    company: &str,
    payload: &str,
    signature: Option<&str>,
) -> Resp {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(s) = signature {
        headers.push(("stripe-signature", s));
    }
    t.request(
        Method::POST,
        &format!("/webhooks/stripe/{company}"),
        &headers,
        Some(payload.to_string()),
    )
    .await
}

pub(crate) fn event(id: &str, kind: &str, object: Value) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": 1, "data": {"object": object}})
        .to_string()
}

/// Now by the app's clock, as a webhook signature's timestamp.
pub(crate) fn now_unix(t: &TestApp) -> i64 {
    t.app.clock.now().unix_timestamp()
}

pub(crate) async fn wait_processed(t: &TestApp, event_id: &str) -> String {
    for _ in 0..200 {
        let done: Option<Option<String>> = fieldpay::store::sql::query_scalar(
            "SELECT result FROM stripe_events WHERE event_id = $1 AND processed_at IS NOT NULL",
        )
        .bind(event_id)
        .fetch_optional(t.app.db.reader())
        .await
        .unwrap();
        if let Some(r) = done {
            return r.unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {event_id} was not processed");
}

#[tokio::test]
async fn stripe_webhook_signatures_are_checked() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let payload = event("evt_sig_1", "customer.created", json!({"id": "cus_x"}));
    let good = sign(payload.as_bytes(), &c.whsec, now_unix(&t));
    let r = post_event(&t, &c.company, &payload, Some(&good)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let wrong = sign(payload.as_bytes(), "whsec_wrong", now_unix(&t));
    let r = post_event(&t, &c.company, &payload, Some(&wrong)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "invalid_signature");

    let stale = sign(payload.as_bytes(), &c.whsec, now_unix(&t) - 301);
    let r = post_event(&t, &c.company, &payload, Some(&stale)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = post_event(&t, &c.company, &payload, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The body signed is the body checked.
    let altered = payload.replace("cus_x", "cus_y");
    let r = post_event(&t, &c.company, &altered, Some(&good)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Replayed: 200, recorded once.
    for _ in 0..5 {
        let r = post_event(&t, &c.company, &payload, Some(&good)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(t.count("SELECT count(*) FROM stripe_events").await, 1);

    // Another company: its own secret only, its own path only.
    let other_key = t.other_company().await;
    let other = t.company_of(&other_key).await;
    // No Stripe there: the path does not exist.
    let r = post_event(&t, &other, &payload, Some(&good)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let other_secret = webhook_secret();
    let r = set_stripe(&t, &other_key, &secret_key(), &other_secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Our signature on their path, theirs on ours: refused.
    let r = post_event(&t, &other, &payload, Some(&good)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let theirs = sign(payload.as_bytes(), &other_secret, now_unix(&t));
    let other_payload_id = event("evt_sig_2", "customer.created", json!({"id": "cus_x"}));
    let theirs2 = sign(other_payload_id.as_bytes(), &other_secret, now_unix(&t));
    let r = post_event(&t, &c.company, &other_payload_id, Some(&theirs2)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = post_event(&t, &other, &payload, Some(&theirs)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = post_event(&t, "co_doesnotexist", &payload, Some(&good)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stripe_webhook_applies_a_payment_exactly_once_in_any_order() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    let (inv, attempt) = pay_and_lose_reply(&mut t, &c, "Wes Hook", 5500).await;
    let pi = intents_for(&c, &attempt).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The event body lies (a failure, a wrong amount): the intent is read again.
    let lie = json!({"id": pi, "object": "payment_intent", "status": "requires_payment_method", "amount": 1});
    let failed = event(
        "evt_fail_first",
        "payment_intent.payment_failed",
        lie.clone(),
    );
    let r = post_event(
        &t,
        &c.company,
        &failed,
        Some(&sign(failed.as_bytes(), &c.whsec, now_unix(&t))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(wait_processed(&t, "evt_fail_first").await, "settled: paid");
    assert_eq!(t.balance(&inv).await, 0);

    // The success event, replayed five times: nothing more happens.
    let ok = event("evt_succeeded", "payment_intent.succeeded", lie);
    let sig = sign(ok.as_bytes(), &c.whsec, now_unix(&t));
    for _ in 0..5 {
        let r = post_event(&t, &c.company, &ok, Some(&sig)).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    wait_processed(&t, "evt_succeeded").await;
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(t.count("SELECT count(*) FROM stripe_events").await, 2);
    let amount: i64 = fieldpay::store::sql::query_scalar("SELECT amount FROM payments")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    assert_eq!(amount, 5500);
}

#[tokio::test]
async fn stripe_delivers_signed_webhooks_that_apply_once() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    // Serve the app on loopback so localstripe can reach it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = t.app.clone();
    tokio::spawn(async move { fieldpay::web::serve_on(listener, app).await });
    let hook = format!("http://{addr}/webhooks/stripe/{}", c.company);
    let r = http()
        .post(format!(
            "{}/_config/webhooks/{}",
            c.ls.base,
            fieldpay::crypto::new_id("hook")
        ))
        .form(&[
            ("url", hook.as_str()),
            ("secret", c.whsec.as_str()),
            ("events[0]", "payment_intent.succeeded"),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let (cust, inv) = customer_with_invoices(&t, "Del Ivery", &[2600]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-delivered", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let (_, pi) = attempt_of_payment(&t, &payment).await;
    // localstripe sends the event about a second later.
    let mut event_id = None;
    for _ in 0..200 {
        event_id = fieldpay::store::sql::query_scalar(
            "SELECT event_id FROM stripe_events WHERE object_id = $1 AND processed_at IS NOT NULL",
        )
        .bind(&pi)
        .fetch_optional(t.app.db.reader())
        .await
        .unwrap();
        if event_id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event_id: String = event_id.expect("localstripe's webhook arrived");
    assert!(event_id.starts_with("evt_"));
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 0);
}

#[tokio::test]
async fn stripe_dashboard_refund_arrives_by_webhook_and_reopens_the_balance() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Dash Board", &[9900]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-dash", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let (_, pi) = attempt_of_payment(&t, &payment).await;
    // Refunded at Stripe, not through fieldpay.
    let r = http()
        .post(format!("{}/v1/refunds", c.ls.base))
        .bearer_auth(&c.sk)
        .form(&[("payment_intent", pi.as_str()), ("amount", "4000")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let intent = ls_get(&c, &format!("/v1/payment_intents/{pi}")).await;
    let charge = intent["latest_charge"]["id"]
        .as_str()
        .or(intent["latest_charge"].as_str())
        .unwrap()
        .to_string();
    // localstripe does not send charge.refunded: the test sends what Stripe would.
    for (n, id) in ["evt_refund_1", "evt_refund_2"].iter().enumerate() {
        let payload = event(
            id,
            "charge.refunded",
            json!({"id": charge, "amount_refunded": 1}),
        );
        let r = post_event(
            &t,
            &c.company,
            &payload,
            Some(&sign(payload.as_bytes(), &c.whsec, now_unix(&t))),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let result = wait_processed(&t, id).await;
        assert_eq!(
            result,
            format!("refunds recorded: {}", if n == 0 { 1 } else { 0 })
        );
    }
    assert_eq!(t.balance(&inv[0]).await, 4000);
    let (amount, by): (i64, String) = fieldpay::store::sql::query_as(
        "SELECT amount, created_by FROM refunds WHERE processor_refund_id LIKE 're_%'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!((amount, by.as_str()), (4000, "stripe"));
    assert_eq!(t.count("SELECT refunded FROM payments").await, 4000);

    // A dispute: recorded for the office (localstripe has no disputes to
    // read again, so the signed event is used) and audited.
    let payload = event(
        "evt_dispute",
        "charge.dispute.created",
        json!({"id": "dp_1", "object": "dispute", "charge": charge, "payment_intent": pi,
               "amount": 5900, "currency": "usd", "reason": "fraudulent", "status": "needs_response"}),
    );
    let r = post_event(
        &t,
        &c.company,
        &payload,
        Some(&sign(payload.as_bytes(), &c.whsec, now_unix(&t))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(wait_processed(&t, "evt_dispute").await, "dispute recorded");
    let disputed: String =
        fieldpay::store::sql::query_scalar("SELECT payment_id FROM processor_disputes")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(disputed, payment);
    assert_eq!(
        t.count("SELECT count(*) FROM audit_log WHERE action = 'payment.disputed'")
            .await,
        1
    );
    let o = crate::office_auth::Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD)
        .await;
    let page = o.get(&t, "/office/settings/processor").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("dp_1"), "{}", page.body);
    assert!(page.body.contains("fraudulent"));
}

#[tokio::test]
async fn processor_settings_are_masked_and_encrypted_at_rest() {
    let t = TestApp::new().await;
    // The default: the sandbox, no keys.
    let r = t.api(Method::GET, "/api/v1/settings/processor", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["kind"], "sandbox");
    assert_eq!(r.json()["secret_key"], Value::Null);

    let sk = "sk_test_51SecretValueThatMustNotLeak4242";
    let wh = "whsec_SigningSecretThatMustNotLeak9876";
    let key = t.api_key.clone();
    let r = set_stripe(&t, &key, sk, wh).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["kind"], "stripe");
    assert_eq!(v["secret_key"], "sk_test_\u{2026}4242");
    assert_eq!(v["webhook_secret"], "whsec_\u{2026}9876");
    assert_eq!(v["publishable_key"], "pk_test_51abcdefghij");
    let company = t.company_of(&key).await;
    assert_eq!(
        v["webhook_url"],
        json!(format!(
            "{}/webhooks/stripe/{company}",
            crate::support::BASE_URL
        ))
    );
    let r = t.api(Method::GET, "/api/v1/settings/processor", None).await;
    assert!(!r.body.contains("SecretValueThatMustNotLeak"), "{}", r.body);
    assert!(!r.body.contains("SigningSecretThatMustNotLeak"));

    // Bad input: 422 naming the field, nothing written.
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({"kind": "stripe", "secret_key": "pk_test_oops"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "secret_key");
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({"kind": "paypal"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({"kind": "stripe", "surprise": 1})),
        )
        .await;
    assert!(r.status.is_client_error());
    let r = t.get("/api/v1/settings/processor").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Still Stripe with the first keys.
    let s = fieldpay::app::processors::stripe_for(&t.app, &company)
        .await
        .unwrap();
    assert!(format!("{s:?}").contains("4242"));

    // Another company sees its own (sandbox) settings.
    let other = t.other_company().await;
    let r = t
        .api_with_key(&other, Method::GET, "/api/v1/settings/processor", None)
        .await;
    assert_eq!(r.json()["kind"], "sandbox");

    // Back to the sandbox keeps the keys for later, and payments use it.
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/processor",
            Some(json!({"kind": "sandbox"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["secret_key"], "sk_test_\u{2026}4242");
    let p = fieldpay::app::processors::processor_for(&t.app, &company)
        .await
        .unwrap();
    assert_eq!(p.name(), "sandbox");

    // The raw database files never hold the keys.
    for (place, bytes) in crate::support::stored_bytes(&t).await {
        for secret in [sk, wh] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{place} holds a key in clear"
            );
        }
    }
    let logs = crate::support::captured_logs();
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(!logs.contains(sk) && !logs.contains(wh));
}

#[tokio::test]
async fn office_processor_page_saves_keys_and_shows_them_masked() {
    let t = TestApp::new().await;
    let o = crate::office_auth::Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD)
        .await;
    let page = o.get(&t, "/office/settings/processor").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Payment Processor"));
    assert!(page.body.contains("built-in sandbox"));
    assert!(page.body.contains("No disputes."));

    // A wrong key: 422, the message by its field, what was typed kept
    // (except the secrets), nothing written.
    let r = o
        .post(
            &t,
            "/office/settings/processor",
            &[
                ("kind", "stripe"),
                ("secret_key", "pk_test_wrongkind"),
                ("publishable_key", "pk_test_<b>typed</b>"),
                ("webhook_secret", "whsec_abc"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("id=\"secret_key-error\""), "{}", r.body);
    assert!(r.body.contains("starts with sk_test_ or sk_live_"));
    assert!(!r.body.contains("pk_test_wrongkind"));
    assert!(r.body.contains("pk_test_&lt;b&gt;typed"), "{}", r.body);
    assert!(!r.body.contains("<b>typed</b>"));
    assert_eq!(t.count("SELECT count(*) FROM processor_settings").await, 0);

    // A bad CSRF token is refused.
    let r = o
        .post(
            &t,
            "/office/settings/processor",
            &[("kind", "sandbox"), ("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let sk = "sk_test_OfficeTypedSecretKey7777";
    let r = o
        .post(
            &t,
            "/office/settings/processor",
            &[
                ("kind", "stripe"),
                ("secret_key", sk),
                ("publishable_key", "pk_test_officepk"),
                ("webhook_secret", "whsec_OfficeTypedWebhook5555"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, "/office/settings/processor?saved=1").await;
    assert!(page.body.contains("were saved"));
    assert!(page.body.contains("sk_test_\u{2026}7777"), "{}", page.body);
    assert!(page.body.contains("whsec_\u{2026}5555"));
    assert!(!page.body.contains("OfficeTypedSecretKey"));
    assert!(!page.body.contains("OfficeTypedWebhook"));
    // Where to point Stripe's webhook endpoint.
    let company = t.company_of(&t.api_key).await;
    assert!(page.body.contains(company.as_str()));
    assert_eq!(
        t.count("SELECT count(*) FROM audit_log WHERE action = 'processor.settings_changed'")
            .await,
        1
    );
    // Leaving the secrets empty keeps them.
    let r = o
        .post(
            &t,
            "/office/settings/processor",
            &[("kind", "stripe"), ("publishable_key", "pk_test_officepk")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let s = fieldpay::app::processors::stripe_for(&t.app, &company)
        .await
        .unwrap()
        .unwrap();
    assert!(format!("{s:?}").contains("7777"));
}

#[tokio::test]
async fn stripe_events_left_unprocessed_are_processed_by_the_jobs() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    let (inv, attempt) = pay_and_lose_reply(&mut t, &c, "Jo Bs", 4200).await;
    let pi = intents_for(&c, &attempt).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Recorded, then the server stopped before processing it.
    let mut tx = t.app.db.begin_write().await.unwrap();
    fieldpay::store::processor_settings::record_event(
        &mut tx,
        &c.company,
        "evt_crashed",
        "payment_intent.succeeded",
        Some(&pi),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let now = t.app.clock.now();
    // Not yet: it may still be in progress.
    assert_eq!(
        fieldpay::web::stripe_webhook::process_unprocessed(&t.app, now)
            .await
            .unwrap(),
        0
    );
    // The scheduled jobs pick it up (before reconciliation would have
    // asked about the attempt: its grace is longer).
    let later = now + time::Duration::seconds(90);
    let report = fieldpay::jobs::run_once(&t.app, later).await.unwrap();
    assert_eq!(report.webhook_events, 1, "{report:?}");
    assert_eq!(report.reconciled.applied, 0, "{report:?}");
    assert_eq!(wait_processed(&t, "evt_crashed").await, "settled: paid");
    assert_eq!(t.balance(&inv).await, 0);
    assert_eq!(
        fieldpay::web::stripe_webhook::process_unprocessed(&t.app, later)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn stripe_refund_whose_reply_was_lost_is_confirmed_by_webhook() {
    let Some((mut t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Les Reply", &[5000]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-lost-refund", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let payment = r.json()["id"].as_str().unwrap().to_string();
    let (_, pi) = attempt_of_payment(&t, &payment).await;
    let sandbox = t.app.processor.clone();
    let stripe = StripeProcessor::new(&c.ls.base, &c.sk);
    // Refunds at Stripe, then the reply is lost; asking about it fails too.
    let faulty = Faulty::new(Arc::new(stripe));
    faulty.script(Call::Refund, vec![Fault::LoseReply; 8]);
    faulty.script(Call::FindRefund, vec![Fault::Timeout; 8]);
    use_processor(&mut t, faulty);
    set_kind(&t, "sandbox").await;
    let req = RefundRequest {
        payment_id: payment.as_str().into(),
        amount: None,
        reason: "Duplicate".into(),
        key: RefundKey::Form("refund-form-nonce-lost".into()),
    };
    let actor = Actor::system(&c.company, "test");
    let done = fieldpay::app::refunds::refund(&t.app, &actor, &req)
        .await
        .unwrap();
    assert!(matches!(done, RefundOutcome::Pending(_)), "{done:?}");
    assert_eq!(t.balance(&inv[0]).await, 5000);
    use_processor(&mut t, sandbox);
    set_kind(&t, "stripe").await;
    // Two tries were sent, one refund exists at Stripe.
    let at_stripe = ls_get(&c, &format!("/v1/refunds?payment_intent={pi}")).await;
    assert_eq!(
        at_stripe["data"].as_array().unwrap().len(),
        1,
        "{at_stripe}"
    );
    let intent = ls_get(&c, &format!("/v1/payment_intents/{pi}")).await;
    let charge = intent["latest_charge"]["id"].as_str().unwrap().to_string();
    let payload = event("evt_refund_lost", "charge.refunded", json!({"id": charge}));
    let r = post_event(
        &t,
        &c.company,
        &payload,
        Some(&sign(payload.as_bytes(), &c.whsec, now_unix(&t))),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        wait_processed(&t, "evt_refund_lost").await,
        "refunds recorded: 0; ours settled: 1"
    );
    let (n, confirmed): (i64, Option<String>) =
        fieldpay::store::sql::query_as("SELECT count(*), max(processor_refund_id) FROM refunds")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(n, 1);
    assert_eq!(confirmed.as_deref(), at_stripe["data"][0]["id"].as_str());
    assert_eq!(t.balance(&inv[0]).await, 5000);
    let held: Option<String> =
        fieldpay::store::sql::query_scalar("SELECT locked_by_attempt FROM invoices WHERE id = $1")
            .bind(&inv[0])
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(held, None, "the refund no longer holds the invoice");
}

/// A customer of another company on the same server (`key` is its API
/// key), with one open invoice: (customer, invoice, pay-page token).
pub(crate) async fn other_company_customer(
    t: &TestApp,
    key: &str,
    name: &str,
    amount: i64,
) -> (String, String, String) {
    let r = t
        .api_with_key(
            key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": name})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let cust = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            key,
            Method::POST,
            "/api/v1/properties",
            Some(json!({"address": "9 Other St", "resident_customer_id": cust})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let prop = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            key,
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": prop, "due_date": t.day(33),
                "lines": [{"description": "Quarterly service", "quantity": 1, "unit_price": amount}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let inv = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            key,
            Method::GET,
            &format!("/api/v1/customers/{cust}/payment-link"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = r.json()["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    (cust, inv, token)
}

/// An invoice's balance as another company's API key reads it.
async fn other_balance(t: &TestApp, key: &str, invoice: &str) -> i64 {
    let r = t
        .api_with_key(
            key,
            Method::GET,
            &format!("/api/v1/invoices/{invoice}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["balance"].as_i64().unwrap()
}

#[tokio::test]
async fn a_sandbox_company_and_a_stripe_company_on_one_server_each_use_their_own() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    // The Stripe company: charged at Stripe, nothing at the sandbox.
    let (cust, inv) = customer_with_invoices(&t, "Stella Stripe", &[3300]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t.pay(&token, "key-mixed-stripe", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (attempt, charge) = attempt_of_payment(&t, r.json()["id"].as_str().unwrap()).await;
    assert!(charge.starts_with("pi_"), "{charge}");
    assert_eq!(intents_for(&c, &attempt).await.len(), 1);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );
    // A sandbox token means nothing to Stripe.
    let (cust2, inv2) = customer_with_invoices(&t, "Stella Two", &[1200]).await;
    let token2 = t.token(&cust2).await;
    let tok = t.card("4242424242424242").await;
    let r = t.pay(&token2, "key-mixed-tok", body(&inv2, &tok)).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "invalid_payment_method");
    assert_eq!(t.balance(&inv2[0]).await, 1200);

    // A company on the same server that kept the sandbox: charged there.
    let other = t.other_company().await;
    let (_, oinv, otoken) = other_company_customer(&t, &other, "Sandy Box", 2100).await;
    let tok = t.card("4242424242424242").await;
    let r = t
        .pay(
            &otoken,
            "key-mixed-sandbox",
            body(std::slice::from_ref(&oinv), &tok),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(other_balance(&t, &other, &oinv).await, 0);
    let (oattempt, ocharge) = attempt_of_payment(&t, r.json()["id"].as_str().unwrap()).await;
    assert!(!ocharge.starts_with("pi_"), "{ocharge}");
    assert!(intents_for(&c, &oattempt).await.is_empty(), "not at Stripe");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'")
            .await,
        1
    );
    // A Stripe PaymentMethod means nothing to the sandbox.
    let (_, oinv2, otoken2) = other_company_customer(&t, &other, "Sandy Two", 900).await;
    let card = pm(&c, "4242424242424242").await;
    let r = t
        .pay(
            &otoken2,
            "key-mixed-pm",
            body(std::slice::from_ref(&oinv2), &card),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "invalid_payment_method");
    assert_eq!(other_balance(&t, &other, &oinv2).await, 900);
}

#[tokio::test]
async fn stripe_pay_page_form_posts_a_payment_method_id() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Frida Form", &[4400, 600]).await;
    let token = t.token(&cust).await;
    let page = t.get(&format!("/pay/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"stripe-card\""), "{}", page.body);
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let at = page.body.find(&marker).unwrap() + marker.len();
        page.body[at..at + page.body[at..].find('"').unwrap()].to_string()
    };
    let (nonce, sig) = (field("form_nonce"), field("form_sig"));
    // What stripe_card.js puts in card_token: Stripe.js's PaymentMethod id.
    let card = pm(&c, "4242424242424242").await;
    let form = format!(
        "form_nonce={nonce}&form_sig={sig}&invoice_ids={}&invoice_ids={}&payment_method=new_card&card_token={card}&plan=once",
        inv[0], inv[1]
    );
    let r = t
        .request(
            Method::POST,
            &format!("/pay/{token}"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", crate::support::BASE_URL),
                ("user-agent", "TestPhone/1.0"),
            ],
            Some(form),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.header("location").contains("/receipts/"));
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    let (attempt, _) = fieldpay::store::sql::query_as::<(String, String)>(
        "SELECT id, channel FROM payment_attempts WHERE status = 'succeeded'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["amount"], 5000);
}

#[tokio::test]
async fn stripe_cards_added_without_a_charge_share_one_stripe_customer() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, _) = customer_with_invoices(&t, "Carl Cards", &[100]).await;
    let first = pm(&c, "4242424242424242").await;
    let added = fieldpay::app::payments::add_card(
        &t.app,
        &c.company,
        &fieldpay::domain::ids::CustomerId::from(&cust),
        first.clone(),
        "test",
    )
    .await
    .unwrap();
    assert!(
        matches!(added, fieldpay::app::payments::AddCard::Added(_)),
        "{added:?}"
    );
    let remembered: Option<String> = fieldpay::store::sql::query_scalar(
        "SELECT processor_customer_id FROM customers WHERE id = $1",
    )
    .bind(&cust)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    let stripe_customer = remembered.expect("the Stripe customer is remembered");
    assert!(stripe_customer.starts_with("cus_"), "{stripe_customer}");
    // The second card joins the same Stripe customer.
    let second = pm(&c, "5555555555554444").await;
    let added = fieldpay::app::payments::add_card(
        &t.app,
        &c.company,
        &fieldpay::domain::ids::CustomerId::from(&cust),
        second.clone(),
        "test",
    )
    .await
    .unwrap();
    assert!(
        matches!(added, fieldpay::app::payments::AddCard::Added(_)),
        "{added:?}"
    );
    for m in [&first, &second] {
        let at_stripe = ls_get(&c, &format!("/v1/payment_methods/{m}")).await;
        assert_eq!(at_stripe["customer"], json!(stripe_customer), "{at_stripe}");
    }
    // A card the bank refuses when kept: declined, nothing saved.
    let bad = pm(&c, "4000000000000002").await;
    let added = fieldpay::app::payments::add_card(
        &t.app,
        &c.company,
        &fieldpay::domain::ids::CustomerId::from(&cust),
        bad,
        "test",
    )
    .await
    .unwrap();
    assert!(
        matches!(&added, fieldpay::app::payments::AddCard::Declined(d) if d.code == "card_declined"),
        "{added:?}"
    );
    assert_eq!(t.count("SELECT count(*) FROM payment_methods").await, 2);
}

/// What Stripe.js's `handleNextAction` does at localstripe: the customer
/// passes (or fails) their bank's check.
async fn ls_authenticate(c: &Ctx, client_secret: &str, success: bool) {
    let pi = client_secret.split("_secret_").next().unwrap();
    let r = http()
        .post(format!(
            "{}/v1/payment_intents/{pi}/_authenticate",
            c.ls.base
        ))
        .bearer_auth(&c.sk)
        .form(&[
            ("client_secret", client_secret),
            ("success", if success { "true" } else { "false" }),
        ])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn confirm_at(t: &TestApp, token: &str, attempt: &str) -> Resp {
    t.request(
        Method::POST,
        &format!("/api/v1/pay/{token}/payments/{attempt}/confirm"),
        &[],
        None,
    )
    .await
}

#[tokio::test]
async fn stripe_three_d_secure_is_completed_and_confirmed_once() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Vera Verified", &[6400, 3600]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4000002500003155").await;
    let r = t.pay(&token, "key-3ds-ok", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["code"], "authentication_required");
    let attempt = e["attempt_id"].as_str().unwrap().to_string();
    let secret = e["client_secret"].as_str().unwrap().to_string();
    // Held for the attempt while the customer is at their bank.
    let other = pm(&c, "4242424242424242").await;
    let busy = t.pay(&token, "key-3ds-busy", body(&inv, &other)).await;
    assert_eq!(busy.status, StatusCode::CONFLICT, "{}", busy.body);
    // Not yet completed: asked again.
    let early = confirm_at(&t, &token, &attempt).await;
    assert_eq!(early.status, StatusCode::PAYMENT_REQUIRED, "{}", early.body);
    assert_eq!(early.json()["client_secret"], secret.as_str());

    ls_authenticate(&c, &secret, true).await;
    // Another customer's link cannot confirm it.
    let (stranger, _) = customer_with_invoices(&t, "Stranger", &[100]).await;
    let stranger_token = t.token(&stranger).await;
    let foreign = confirm_at(&t, &stranger_token, &attempt).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);

    let done = confirm_at(&t, &token, &attempt).await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.body);
    assert_eq!(done.json()["amount"], 10000);
    assert_eq!(done.json()["card"]["last4"], "3155");
    let again = confirm_at(&t, &token, &attempt).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.json()["id"], done.json()["id"]);
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 1);
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents.len(), 1);
    assert_eq!(intents[0]["status"], "succeeded");
}

#[tokio::test]
async fn stripe_three_d_secure_failed_is_declined_and_frees_the_invoices() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let (cust, inv) = customer_with_invoices(&t, "Fay Failed", &[4100]).await;
    let token = t.token(&cust).await;
    let card = pm(&c, "4000002760003184").await;
    let r = t.pay(&token, "key-3ds-fail", body(&inv, &card)).await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    let attempt = r.json()["attempt_id"].as_str().unwrap().to_string();
    let secret = r.json()["client_secret"].as_str().unwrap().to_string();
    ls_authenticate(&c, &secret, false).await;
    let declined = confirm_at(&t, &token, &attempt).await;
    assert_eq!(
        declined.status,
        StatusCode::PAYMENT_REQUIRED,
        "{}",
        declined.body
    );
    assert!(
        declined.json().get("client_secret").is_none(),
        "{}",
        declined.body
    );
    // The intent can never be charged later.
    let intents = intents_for(&c, &attempt).await;
    assert_eq!(intents[0]["status"], "canceled");
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 4100);
    let good = pm(&c, "4242424242424242").await;
    let paid = t.pay(&token, "key-3ds-retry", body(&inv, &good)).await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn stripe_office_records_a_card_typed_into_stripe_js() {
    let Some((t, c)) = stripe_app().await else {
        return;
    };
    let o = crate::office_auth::Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD)
        .await;
    let (cust, inv) = customer_with_invoices(&t, "<script>alert(1)</script>", &[5500, 2500]).await;
    let path = format!("/office/payments/new?customer_id={cust}");
    let page = o.get(&t, &path).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("id=\"stripe-card\""), "{}", page.body);
    assert!(
        page.body
            .contains("data-publishable-key=\"pk_test_51abcdefghij\"")
    );
    assert!(page.body.contains("https://js.stripe.com/v3/"));
    assert!(!page.body.contains("<script>alert(1)</script>"));
    assert!(page.body.contains("&lt;script&gt;alert(1)"));
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("script-src 'self' https://js.stripe.com"),
        "{csp}"
    );
    // Other office pages keep the default policy.
    let list = o.get(&t, "/office/payments").await;
    assert!(
        !list
            .header("content-security-policy")
            .contains("js.stripe.com"),
        "{}",
        list.header("content-security-policy")
    );

    // A sandbox token is not a Stripe card: refused, nothing written.
    let nonce = hidden_value(&page.body, "nonce");
    let sandbox_token = t.card("4242424242424242").await;
    let refused = o
        .post(
            &t,
            "/office/payments",
            &[
                ("customer_id", cust.as_str()),
                ("nonce", nonce.as_str()),
                ("invoice_ids", inv[0].as_str()),
                ("method", "card"),
                ("card_token", sandbox_token.as_str()),
            ],
        )
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert!(
        refused.body.contains("Enter the card in the card fields"),
        "{}",
        refused.body
    );
    assert_eq!(t.count("SELECT count(*) FROM payment_attempts").await, 0);

    // What stripe_card.js posts: the PaymentMethod id.
    let card = pm(&c, "4242424242424242").await;
    let r = o
        .post(
            &t,
            "/office/payments",
            &[
                ("customer_id", cust.as_str()),
                ("nonce", nonce.as_str()),
                ("invoice_ids", inv[0].as_str()),
                ("invoice_ids", inv[1].as_str()),
                ("method", "card"),
                ("card_token", card.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.header("location").starts_with("/office/payments/pay_"));
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    let payment = r
        .header("location")
        .trim_start_matches("/office/payments/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (attempt, charge) = attempt_of_payment(&t, &payment).await;
    assert!(charge.starts_with("pi_"), "{charge}");
    assert_eq!(intents_for(&c, &attempt).await.len(), 1);

    // A card that asks for the customer's bank check cannot be completed at
    // the office: cancelled at Stripe and declined, nothing charged.
    let (cust2, inv2) = customer_with_invoices(&t, "Office 3DS", &[1200]).await;
    let page = o
        .get(&t, &format!("/office/payments/new?customer_id={cust2}"))
        .await;
    let nonce = hidden_value(&page.body, "nonce");
    let card = pm(&c, "4000002760003184").await;
    let r = o
        .post(
            &t,
            "/office/payments",
            &[
                ("customer_id", cust2.as_str()),
                ("nonce", nonce.as_str()),
                ("invoice_ids", inv2[0].as_str()),
                ("method", "card"),
                ("card_token", card.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert!(
        r.body.contains("Your bank asked to confirm this payment"),
        "{}",
        r.body
    );
    assert_eq!(t.balance(&inv2[0]).await, 1200);
}

#[tokio::test]
async fn sandbox_office_payment_page_keeps_the_token_field_and_default_policy() {
    let t = TestApp::new().await;
    let o = crate::office_auth::Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD)
        .await;
    let (cust, _) = customer_with_invoices(&t, "Sandy Box", &[5500]).await;
    let page = o
        .get(&t, &format!("/office/payments/new?customer_id={cust}"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"card_token\" value=\"\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("js.stripe.com"));
    assert!(
        !page
            .header("content-security-policy")
            .contains("js.stripe.com")
    );
}
