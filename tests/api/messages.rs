//! The outbox: queueing with de-duplication, delivery through the spool, a
//! real SMTP server (aiosmtpd) and a Twilio-like HTTP API, retries, opt-outs,
//! and `GET /api/v1/messages`.

use std::io::BufRead;
use std::sync::{Arc, Mutex};

use axum::http::{Method, StatusCode};
use serde_json::json;

use fieldpay::app::App;
use fieldpay::config::{Config, DeliverySettings};
use fieldpay::domain::ids::CompanyId;
use fieldpay::messaging::email::BoxFuture;
use fieldpay::messaging::outbox::{self, DeliveryReport, Enqueued, NewMessage};
use fieldpay::messaging::{Channel, Rendered};
use fieldpay::store::messages::{self as store, OutboxRow};

use crate::support::TestApp;

/// A 43-character link token, as the real renderer would put in the text.
const TOKEN: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcde";

fn fixed_render<'a>(_: &'a App, row: &'a OutboxRow) -> BoxFuture<'a, Result<Rendered, String>> {
    Box::pin(async move {
        Ok(Rendered {
            attachments: if row.cause.contains("with-pdf") {
                vec![fieldpay::messaging::Attachment {
                    filename: "invoice-1001.pdf".into(),
                    content_type: "application/pdf".into(),
                    content: FAKE_PDF.to_vec(),
                }]
            } else {
                Vec::new()
            },
            subject: "Invoice ready".into(),
            html: (row.channel == "email").then(|| {
                format!("<p>Pay at <a href=\"https://pay.test/pay/{TOKEN}\">here</a></p>")
            }),
            text: format!("Pay at https://pay.test/pay/{TOKEN} thanks"),
        })
    })
}

async fn customer(t: &TestApp, email: &str, phone: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Lena Ortiz", "email": email, "phone": phone})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

fn msg(company: &CompanyId, customer: &str, channel: Channel, to: &str, cause: &str) -> NewMessage {
    NewMessage {
        company_id: company.clone(),
        customer_id: customer.into(),
        invoice_id: None,
        channel,
        recipient: to.into(),
        template_id: "tpl_test".into(),
        cause: cause.into(),
    }
}

/// The attachment `fixed_render` adds to causes containing "with-pdf":
/// binary, as a real PDF is.
const FAKE_PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 fake";

async fn enqueue_all(t: &TestApp, batch: &[NewMessage]) -> Vec<Enqueued> {
    let mut tx = t.app.db.begin_write().await.unwrap();
    let e = outbox::enqueue_many(&mut tx, batch, t.app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e
}

async fn enqueue(t: &TestApp, m: NewMessage) -> Enqueued {
    let mut tx = t.app.db.begin_write().await.unwrap();
    let e = outbox::enqueue(&mut tx, &m, t.app.clock.now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    e
}

fn with_delivery(t: &TestApp, d: DeliverySettings) -> App {
    let config = Config {
        delivery: d,
        ..(*t.app.config).clone()
    };
    App {
        config: Arc::new(config),
        ..t.app.clone()
    }
}

async fn copy(
    t: &TestApp,
    company: &CompanyId,
    id: &str,
) -> (String, Option<String>, Option<String>) {
    let (status, subject, body, _) = store::stored_copy(&t.app.db, company, &id.into())
        .await
        .unwrap()
        .unwrap();
    (status, subject, body)
}

fn spool_files(t: &TestApp, ext: &str) -> Vec<String> {
    t.spool(ext)
}

#[tokio::test]
async fn spool_delivery_redacts_and_lists() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let e = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "Lena@Example.com",
            "receipt:p1",
        ),
    )
    .await;
    let s = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "(512) 555-0142", "receipt:p1"),
    )
    .await;
    let (Enqueued::Queued { id: eid }, Enqueued::Queued { id: sid }) = (&e, &s) else {
        panic!("{e:?} {s:?}");
    };

    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(
        report,
        DeliveryReport {
            sent: 2,
            ..Default::default()
        }
    );
    let emails = spool_files(&t, ".eml");
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0].contains("Subject: Invoice ready"),
        "{}",
        emails[0]
    );
    assert!(emails[0].contains("To: lena@example.com"));
    assert!(emails[0].contains("text/html"));
    assert!(
        emails[0].contains(TOKEN),
        "the sent email has the live link"
    );
    let sms = spool_files(&t, ".txt");
    assert_eq!(sms.len(), 1);
    assert!(sms[0].starts_with("To: +15125550142\n\nPay at https://pay.test/pay/"));

    for id in [eid, sid] {
        let (status, _, body) = copy(&t, &company, id).await;
        assert_eq!(status, "sent");
        let body = body.unwrap();
        assert!(!body.contains(TOKEN), "{body}");
        assert!(body.contains("https://pay.test/pay/[link]"), "{body}");
    }

    // Nothing left: a second run sends nothing.
    let again = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(again, DeliveryReport::default());
    assert_eq!(spool_files(&t, ".eml").len(), 1);

    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/messages?customer_id={c}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let data = r.json()["data"].as_array().unwrap().clone();
    assert_eq!(data.len(), 2);
    for m in &data {
        assert_eq!(m["status"], "sent");
        assert_eq!(m["attempts"], 1);
        assert!(m["sent_at"].is_string());
        assert!(!m.to_string().contains(TOKEN));
    }
    assert!(
        data.iter()
            .any(|m| m["channel"] == "sms" && m["to"] == "+15125550142")
    );
    assert!(data.iter().any(|m| m["channel"] == "email"
        && m["to"] == "lena@example.com"
        && m["subject"] == "Invoice ready"));

    // Scoped by the key's company; a customer id is required.
    let other = t.other_company().await;
    let r = t
        .api_with_key(
            &other,
            Method::GET,
            &format!("/api/v1/messages?customer_id={c}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = t.api(Method::GET, "/api/v1/messages", None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = t.get(&format!("/api/v1/messages?customer_id={c}")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn duplicates_and_bad_recipients() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let first = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550142", "alert:a1:i1"),
    )
    .await;
    // The same number written differently is the same recipient.
    let second = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Sms,
            "+1 (512) 555-0142",
            "alert:a1:i1",
        ),
    )
    .await;
    assert!(matches!(first, Enqueued::Queued { .. }), "{first:?}");
    assert_eq!(
        second,
        Enqueued::Duplicate {
            id: first.id().clone()
        }
    );
    // Another cause is another message.
    let third = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550142", "alert:a2:i1"),
    )
    .await;
    assert!(matches!(third, Enqueued::Queued { .. }));

    let bad = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "call me", "alert:a1:i1"),
    )
    .await;
    let Enqueued::Rejected { id, reason } = bad else {
        panic!("{bad:?}")
    };
    assert_eq!(reason, "not a phone number");
    assert_eq!(copy(&t, &company, &id).await.0, "failed");

    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.sent, 2);
    assert_eq!(spool_files(&t, ".txt").len(), 2);
}

#[tokio::test]
async fn two_workers_send_each_message_once() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    for i in 0..30 {
        enqueue(
            &t,
            msg(
                &company,
                &c,
                Channel::Email,
                &format!("p{i}@example.com"),
                "send_now:n1",
            ),
        )
        .await;
    }
    let (a, b) = tokio::join!(
        fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render),
        fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 30, "{a:?} {b:?}");
    let emails = spool_files(&t, ".eml");
    assert_eq!(emails.len(), 30);
    for i in 0..30 {
        let to = format!("To: p{i}@example.com\r\n");
        assert_eq!(emails.iter().filter(|e| e.contains(&to)).count(), 1, "{to}");
    }
}

async fn webhook(t: &TestApp, company: &str, from: &str, body: &str) -> crate::support::Resp {
    let form = format!(
        "From={}&Body={}&To=%2B15125550100",
        form_urlencoded::byte_serialize(from.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(body.as_bytes()).collect::<String>()
    );
    let url = format!("{}/webhooks/sms/{company}", crate::support::BASE_URL);
    let signature = fieldpay::web::api_messages::twilio_signature(
        crate::support::SMS_TOKEN,
        &url,
        form.as_bytes(),
    );
    t.request(
        Method::POST,
        &format!("/webhooks/sms/{company}"),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-twilio-signature", &signature),
        ],
        Some(form),
    )
    .await
}

#[tokio::test]
async fn unsigned_or_forged_sms_webhooks_are_refused() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    for signature in [None, Some("forged="), Some("")] {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        if let Some(s) = signature {
            headers.push(("x-twilio-signature", s));
        }
        let r = t
            .request(
                Method::POST,
                &format!("/webhooks/sms/{company}"),
                &headers,
                Some("From=%2B15125550142&Body=STOP".into()),
            )
            .await;
        assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
    }
    // A signed request for another body does not carry over.
    let url = format!("{}/webhooks/sms/{company}", crate::support::BASE_URL);
    let signed_start = fieldpay::web::api_messages::twilio_signature(
        crate::support::SMS_TOKEN,
        &url,
        b"From=%2B15125550142&Body=START",
    );
    let r = t
        .request(
            Method::POST,
            &format!("/webhooks/sms/{company}"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-twilio-signature", &signed_start),
            ],
            Some("From=%2B15125550142&Body=STOP".into()),
        )
        .await;
    assert_eq!(r.status, axum::http::StatusCode::FORBIDDEN);
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_opt_outs").await, 0);
}

#[tokio::test]
async fn stop_suppresses_and_start_resumes() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;

    // Queued before the STOP: suppressed when its turn comes.
    let early = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550142", "alert:a1:i1"),
    )
    .await;
    assert!(matches!(early, Enqueued::Queued { .. }));
    let r = webhook(&t, &company, "+15125550142", "  stop ").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("<Response>"));
    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.withdrawn, 1, "{report:?}");
    assert_eq!(report.sent, 0);
    assert_eq!(copy(&t, &company, early.id()).await.0, "suppressed");

    // Queued after the STOP: suppressed at once. Email is not affected.
    let late = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "(512) 555-0142", "alert:a2:i1"),
    )
    .await;
    assert!(matches!(late, Enqueued::Suppressed { .. }), "{late:?}");
    let mail = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "lena@example.com",
            "alert:a2:i1",
        ),
    )
    .await;
    assert!(matches!(mail, Enqueued::Queued { .. }));

    // Another company's list is its own; an unknown company is a 404.
    let r = webhook(&t, "co_nope", "+15125550142", "START").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Other words change nothing.
    let r = webhook(&t, &company, "+15125550142", "Thanks!").await;
    assert_eq!(r.status, StatusCode::OK);
    let still = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550142", "alert:a3:i1"),
    )
    .await;
    assert!(matches!(still, Enqueued::Suppressed { .. }), "{still:?}");
    // The office sees it on the customer's page.
    let office =
        crate::office_auth::Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD)
            .await;
    let page = office.get(&t, &format!("/office/customers/{c}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("No SMS: replied STOP on"),
        "{}",
        page.body
    );

    let r = webhook(&t, &company, "+15125550142", "Unstop").await;
    assert_eq!(r.status, StatusCode::OK);
    let page = office.get(&t, &format!("/office/customers/{c}")).await;
    assert!(!page.body.contains("No SMS"), "{}", page.body);
    let resumed = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550142", "alert:a4:i1"),
    )
    .await;
    assert!(matches!(resumed, Enqueued::Queued { .. }), "{resumed:?}");
    let report = fieldpay::app::messages::deliver_due(&t.app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    assert_eq!(spool_files(&t, ".txt").len(), 1);
}

#[tokio::test]
async fn many_messages_queue_in_one_call_each_once() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let r = webhook(&t, &company, "+15125550199", "STOP").await;
    assert_eq!(r.status, StatusCode::OK);
    let batch = vec![
        msg(
            &company,
            &c,
            Channel::Email,
            "Lena@Example.com",
            "alert:r1:i1",
        ),
        // The same cause, channel and recipient in the same call.
        msg(
            &company,
            &c,
            Channel::Email,
            "lena@example.com ",
            "alert:r1:i1",
        ),
        msg(&company, &c, Channel::Sms, "(512) 555-0199", "alert:r1:i1"),
        msg(&company, &c, Channel::Sms, "(512) 555-0142", "alert:r1:i1"),
        msg(
            &company,
            &c,
            Channel::Email,
            "not an address",
            "alert:r1:i2",
        ),
    ];
    let first = enqueue_all(&t, &batch).await;
    assert!(matches!(first[0], Enqueued::Queued { .. }), "{first:?}");
    assert_eq!(
        first[1],
        Enqueued::Duplicate {
            id: first[0].id().clone()
        }
    );
    assert!(matches!(first[2], Enqueued::Suppressed { .. }), "{first:?}");
    assert!(matches!(first[3], Enqueued::Queued { .. }), "{first:?}");
    assert!(matches!(first[4], Enqueued::Rejected { .. }), "{first:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 4);
    // Again (a second runner, a restart): nothing new, the same ids.
    let again = enqueue_all(&t, &batch).await;
    for (a, f) in again.iter().zip(&first) {
        assert_eq!(a, &Enqueued::Duplicate { id: f.id().clone() });
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 4);
}

// ------------------------------------------------------------ SMS over HTTP

#[derive(Default)]
struct FakeSmsApi {
    requests: Mutex<Vec<(String, String, String)>>,
    fail_first: Mutex<u32>,
}

async fn sms_api(api: Arc<FakeSmsApi>) -> String {
    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    use axum::response::IntoResponse;
    async fn handle(
        State(api): State<Arc<FakeSmsApi>>,
        Path(account): Path<String>,
        headers: HeaderMap,
        body: String,
    ) -> axum::response::Response {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let n = {
            let mut r = api.requests.lock().unwrap();
            r.push((account, auth, body.clone()));
            r.len()
        };
        if body.contains("To=%2B15125550999") {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": 21211, "message": "The 'To' number is not valid."})),
            )
                .into_response();
        }
        {
            let mut left = api.fail_first.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
            }
        }
        (
            StatusCode::CREATED,
            axum::Json(json!({"sid": format!("SM{n:032}"), "status": "queued"})),
        )
            .into_response()
    }
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            axum::routing::post(handle),
        )
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    format!("http://{addr}")
}

#[tokio::test]
async fn sms_api_retries_5xx_and_fails_on_4xx() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let api = Arc::new(FakeSmsApi::default());
    *api.fail_first.lock().unwrap() = 1;
    let url = sms_api(api.clone()).await;
    let app = with_delivery(
        &t,
        DeliverySettings {
            sms_url: Some(url),
            sms_account: "AC123".into(),
            sms_token: "tok3n".into(),
            sms_from: "+15125550100".into(),
            ..Default::default()
        },
    );
    let good = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550142", "receipt:p1"),
    )
    .await;
    let bad = enqueue(
        &t,
        msg(&company, &c, Channel::Sms, "5125550999", "receipt:p1"),
    )
    .await;

    let t0 = t.app.clock.now();
    let report = fieldpay::app::messages::deliver_due(&app, t0, fixed_render)
        .await
        .unwrap();
    // The good number meets one 500 (retried); the bad one a 400 (failed).
    assert_eq!(report.retried, 1, "{report:?}");
    assert_eq!(report.failed, 1, "{report:?}");
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/messages?customer_id={c}"),
            None,
        )
        .await;
    let data = r.json()["data"].as_array().unwrap().clone();
    let failed = data.iter().find(|m| m["id"] == bad.id().as_str()).unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["last_error"].as_str().unwrap().contains("400"),
        "{failed}"
    );
    let retrying = data.iter().find(|m| m["id"] == good.id().as_str()).unwrap();
    assert_eq!(retrying["status"], "queued");
    assert_eq!(retrying["attempts"], 1);
    assert!(retrying["last_error"].as_str().unwrap().contains("500"));

    // Not due yet.
    let report = fieldpay::app::messages::deliver_due(&app, t0, fixed_render)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    // Past the backoff (at most 72 s after one attempt).
    let report =
        fieldpay::app::messages::deliver_due(&app, t0 + time::Duration::minutes(2), fixed_render)
            .await
            .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let report =
        fieldpay::app::messages::deliver_due(&app, t0 + time::Duration::hours(1), fixed_render)
            .await
            .unwrap();
    assert_eq!(report, DeliveryReport::default());

    let requests = api.requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("AC123:tok3n")
    );
    for (account, auth, body) in &requests {
        assert_eq!(account, "AC123");
        assert_eq!(auth, &basic);
        let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("From").as_deref(), Some("+15125550100"));
        assert!(get("To").unwrap().starts_with("+1512555"));
        assert!(get("Body").unwrap().contains(TOKEN));
    }
    let sent_to_good = requests
        .iter()
        .filter(|(_, _, b)| b.contains("To=%2B15125550142"))
        .count();
    assert_eq!(sent_to_good, 2, "one 500, one success");
    let (_, _, _, provider) = store::stored_copy(&t.app.db, &company, good.id())
        .await
        .unwrap()
        .unwrap();
    assert!(provider.unwrap().starts_with("SM"));
    let (status, _, body) = copy(&t, &company, good.id()).await;
    assert_eq!(status, "sent");
    assert!(!body.unwrap().contains(TOKEN));
}

// ------------------------------------------------------------ SMTP

const SMTP_SERVER: &str = r#"
import os, sys, time
from aiosmtpd.controller import Controller

outdir, port, tempfail, reject = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

class Handler:
    def __init__(self):
        self.tempfail = tempfail
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.tempfail > 0:
            self.tempfail -= 1
            return "451 4.3.0 Try again later"
        self.n += 1
        path = os.path.join(outdir, "%d.eml" % self.n)
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

struct Smtpd {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// A python with aiosmtpd: `FIELDPAY_TEST_PYTHON`, else `python3` when it
/// has the module. Under `CI=true` a missing one fails the test.
fn smtp_python() -> Option<String> {
    let candidates = std::env::var("FIELDPAY_TEST_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for py in candidates {
        let ok = std::process::Command::new(&py)
            .args(["-c", "import aiosmtpd"])
            .stderr(std::process::Stdio::null())
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
        "SKIPPED the SMTP test: no python with aiosmtpd (set FIELDPAY_TEST_PYTHON or pip install aiosmtpd)"
    );
    None
}

fn start_smtpd(python: &str, base: &std::path::Path, tempfail: u32, reject: &str) -> Smtpd {
    let dir = base.join("smtp-received");
    std::fs::create_dir_all(&dir).unwrap();
    let script = base.join("smtpd.py");
    std::fs::write(&script, SMTP_SERVER).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(python)
        .arg(&script)
        .arg(&dir)
        .arg(port.to_string())
        .arg(tempfail.to_string())
        .arg(reject)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "READY", "aiosmtpd did not start");
    Smtpd { child, port, dir }
}

fn received(s: &Smtpd) -> Vec<String> {
    std::fs::read_dir(&s.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".eml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

/// The app delivering email to the test's SMTP server.
fn with_smtp(t: &TestApp, smtpd: &Smtpd) -> App {
    with_delivery(
        t,
        DeliverySettings {
            smtp_url: Some(format!("smtp://127.0.0.1:{}", smtpd.port)),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn smtp_delivery_carries_attachments() {
    let Some(python) = smtp_python() else { return };
    let t = TestApp::new().await;
    let smtpd = start_smtpd(&python, &t.dir, 0, "nobody@example.com");
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let app = with_smtp(&t, &smtpd);
    enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "lena@example.com",
            "alert:with-pdf:i1",
        ),
    )
    .await;
    let report = fieldpay::app::messages::deliver_due(&app, t.app.clock.now(), fixed_render)
        .await
        .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let got = received(&smtpd);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(m.contains("multipart/mixed"), "{m}");
    assert!(m.contains("application/pdf"), "{m}");
    assert!(m.contains("invoice-1001.pdf"), "{m}");
    // A binary file travels as base64.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(FAKE_PDF);
    assert!(m.contains(&b64), "{m}");
}

#[tokio::test]
async fn smtp_delivery_retries_4xx_and_fails_on_5xx() {
    let Some(python) = smtp_python() else { return };
    let t = TestApp::new().await;
    let smtpd = start_smtpd(&python, &t.dir, 1, "nobody@example.com");
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let app = with_smtp(&t, &smtpd);
    let good = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "lena@example.com",
            "receipt:p1",
        ),
    )
    .await;
    let bad = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "nobody@example.com",
            "receipt:p1",
        ),
    )
    .await;

    let t0 = t.app.clock.now();
    let report = fieldpay::app::messages::deliver_due(&app, t0, fixed_render)
        .await
        .unwrap();
    assert_eq!(report.retried, 1, "{report:?}");
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(received(&smtpd).is_empty());
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/messages?customer_id={c}"),
            None,
        )
        .await;
    let data = r.json()["data"].as_array().unwrap().clone();
    let failed = data.iter().find(|m| m["id"] == bad.id().as_str()).unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("No such user"),
        "{failed}"
    );
    let retrying = data.iter().find(|m| m["id"] == good.id().as_str()).unwrap();
    assert_eq!(retrying["status"], "queued", "{retrying}");

    let report = fieldpay::app::messages::deliver_due(&app, t0, fixed_render)
        .await
        .unwrap();
    assert_eq!(report, DeliveryReport::default());
    let report =
        fieldpay::app::messages::deliver_due(&app, t0 + time::Duration::minutes(2), fixed_render)
            .await
            .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");
    let report =
        fieldpay::app::messages::deliver_due(&app, t0 + time::Duration::hours(2), fixed_render)
            .await
            .unwrap();
    assert_eq!(report, DeliveryReport::default());

    let got = received(&smtpd);
    assert_eq!(got.len(), 1, "arrives once");
    let m = &got[0];
    assert!(m.contains("Subject: Invoice ready"), "{m}");
    assert!(m.contains("multipart/alternative"), "{m}");
    assert!(m.contains("text/html"), "{m}");
    assert!(m.contains("lena@example.com"));
    let (status, subject, body) = copy(&t, &company, good.id()).await;
    assert_eq!(status, "sent");
    assert_eq!(subject.as_deref(), Some("Invoice ready"));
    assert!(!body.unwrap().contains(TOKEN));
}

#[tokio::test]
async fn a_claim_left_by_a_dead_worker_is_taken_again() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let e = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "lena@example.com",
            "receipt:p9",
        ),
    )
    .await;
    let t0 = t.app.clock.now();
    // A worker claims the message and dies before sending.
    let mut conn = t.app.db.writer().acquire().await.unwrap();
    let claimed = store::claim_batch(&mut conn, t0, t0 + outbox::CLAIM, 10)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, e.id());
    let report =
        fieldpay::app::messages::deliver_due(&t.app, t0 + time::Duration::minutes(1), fixed_render)
            .await
            .unwrap();
    assert_eq!(report, DeliveryReport::default(), "still claimed");
    let report =
        fieldpay::app::messages::deliver_due(&t.app, t0 + time::Duration::minutes(6), fixed_render)
            .await
            .unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(spool_files(&t, ".eml").len(), 1);
}

#[tokio::test]
async fn the_jobs_loop_delivers_with_stored_templates() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    // A template id that does not exist: rendering fails, the message waits.
    let e = enqueue(
        &t,
        msg(
            &company,
            &c,
            Channel::Email,
            "lena@example.com",
            "receipt:p1",
        ),
    )
    .await;
    let report = fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    assert_eq!(report.delivered.retried, 1, "{:?}", report.delivered);
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/messages?customer_id={c}"),
            None,
        )
        .await;
    let m = r.json()["data"][0].clone();
    assert_eq!(m["id"], e.id().as_str());
    assert_eq!(m["status"], "queued");
    assert!(
        m["last_error"].as_str().unwrap().contains("not found"),
        "{m}"
    );
    assert!(spool_files(&t, ".eml").is_empty());
}

#[tokio::test]
async fn stored_sms_template_renders_the_live_link_and_keeps_it_redacted() {
    let t = TestApp::new().await;
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let token = t.token(&c).await;
    let mut tx = t.app.db.begin_write().await.unwrap();
    let tpl = fieldpay::store::templates::create_sms(
        &mut tx,
        &company,
        "Reminder",
        "Hi {{ customer_first_name }}, pay here: {{ sms_payment_link }}",
        &Default::default(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let m = NewMessage {
        template_id: tpl.id.into_string(),
        ..msg(&company, &c, Channel::Sms, "5125550142", "send_now:n1")
    };
    let e = enqueue(&t, m).await;
    let report = fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    assert_eq!(report.delivered.sent, 1, "{:?}", report.delivered);
    let sms = spool_files(&t, ".txt");
    assert_eq!(sms.len(), 1);
    assert!(sms[0].contains("Hi Lena, pay here: "), "{}", sms[0]);
    assert!(sms[0].contains(&token), "the SMS carries the live link");
    let (status, _, body) = copy(&t, &company, e.id()).await;
    assert_eq!(status, "sent");
    let body = body.unwrap();
    assert!(!body.contains(&token), "{body}");
    assert!(body.contains("/pay/[link]"), "{body}");
}

#[tokio::test]
async fn claiming_looks_messages_up_by_id_however_long_the_queue() {
    if crate::support::on_postgres() {
        eprintln!("SQLite's query plan: not asked of PostgreSQL");
        return;
    }
    let t = TestApp::new().await;
    let steps = t.sqlite_plan(store::CLAIM_SQL).await;
    // One index probe per claimed id; never every due message (an OR of
    // two index ranges made SQLite walk the whole queue for each batch).
    assert!(
        steps[0].contains("SEARCH outbox USING INDEX sqlite_autoindex_outbox_1 (id=?)"),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|d| d.contains("MULTI-INDEX OR")),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|d| d.starts_with("SCAN outbox")),
        "{steps:?}"
    );
}

// ------------------------------------------------------------ SMTP over TLS, with AUTH

/// aiosmtpd with TLS and AUTH. `mode` is `starttls` (plain first; MAIL is
/// refused before STARTTLS, AUTH is offered only after it) or `smtps` (TLS
/// from the first byte). AUTH is required; `mechanisms` are the ones offered
/// (of PLAIN and LOGIN). Each message is kept with two lines in front: the
/// TLS version of its connection and the user it authenticated as. Every
/// AUTH is logged to `auth.log` as "MECHANISM ok|refused".
const SMTP_TLS_SERVER: &str = r#"
import logging, os, ssl, sys, warnings
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

outdir, port, mode, cert, key, mechanisms = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6].split(",")
USER, PASSWORD = b"mailer@greenleaf.test", b"s3cret pass/word"
# Quiet about what the test does on purpose (AUTH on smtps without STARTTLS).
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER and auth_data.password == PASSWORD
    with open(os.path.join(outdir, "auth.log"), "a") as f:
        f.write("%s %s\n" % (mechanism, "ok" if ok else "refused"))
    return AuthResult(success=ok, handled=False, auth_data=auth_data)

class Handler:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Handler.n += 1
        tls = server.transport.get_extra_info("ssl_object")
        who = session.auth_data.login.decode() if session.authenticated else "none"
        head = "X-Test-TLS: %s\r\nX-Test-Auth: %s\r\n" % (tls.version() if tls else "none", who)
        path = os.path.join(outdir, "%d.eml" % Handler.n)
        with open(path + ".tmp", "wb") as f:
            f.write(head.encode() + (envelope.original_content or envelope.content))
        os.rename(path + ".tmp", path)
        return "250 OK"

options = dict(
    hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=True,
    auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if m not in mechanisms],
)
if mode == "starttls":
    c = Controller(Handler(), tls_context=context, require_starttls=True, auth_require_tls=True, **options)
else:
    c = Controller(Handler(), ssl_context=context, auth_require_tls=False, **options)
c.start()
print("READY", flush=True)
sys.stdin.read()
c.stop()
"#;

/// The user and password the TLS server accepts, percent-encoded for a URL.
const SMTP_USER: &str = "mailer%40greenleaf.test";
const SMTP_PASSWORD: &str = "s3cret%20pass%2Fword";

/// A throwaway private CA and a server certificate it signed for
/// 127.0.0.1, made with the `openssl` command. `None` (skip) without it
/// outside CI.
struct TestCerts {
    ca: std::path::PathBuf,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
}

fn test_certs(base: &std::path::Path) -> Option<TestCerts> {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        if crate::common::in_ci() {
            panic!("the openssl command is missing (apt-get install -y openssl)");
        }
        eprintln!("SKIPPED the SMTP TLS test: no openssl command to make a certificate");
        return None;
    }
    let dir = base.join("certs");
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=fieldpay test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    Some(TestCerts {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
    })
}

fn start_tls_smtpd(
    python: &str,
    base: &std::path::Path,
    certs: &TestCerts,
    mode: &str,
    mechanisms: &str,
) -> Smtpd {
    let dir = base.join(format!("smtp-{mode}-{}", fieldpay::crypto::new_id("s")));
    std::fs::create_dir_all(&dir).unwrap();
    let script = base.join("smtpd_tls.py");
    std::fs::write(&script, SMTP_TLS_SERVER).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(python)
        .arg(&script)
        .arg(&dir)
        .arg(port.to_string())
        .arg(mode)
        .arg(&certs.cert)
        .arg(&certs.key)
        .arg(mechanisms)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "READY", "aiosmtpd ({mode}) did not start");
    Smtpd { child, port, dir }
}

/// The AUTH attempts the TLS server saw: "MECHANISM ok|refused".
fn auth_log(s: &Smtpd) -> Vec<String> {
    std::fs::read_to_string(s.dir.join("auth.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn with_smtp_url(t: &TestApp, url: String, ca: Option<&std::path::Path>) -> App {
    with_delivery(
        t,
        DeliverySettings {
            smtp_url: Some(url),
            smtp_ca_file: ca.map(Into::into),
            ..Default::default()
        },
    )
}

/// A message as `GET /api/v1/messages` shows it.
async fn listed(t: &TestApp, customer: &str, id: &str) -> serde_json::Value {
    let r = t
        .api(
            Method::GET,
            &format!("/api/v1/messages?customer_id={customer}"),
            None,
        )
        .await;
    r.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .unwrap_or_else(|| panic!("message {id} not listed: {}", r.body))
        .clone()
}

#[tokio::test]
async fn smtp_starttls_and_smtps_deliver_with_auth_plain_and_login() {
    let Some(python) = smtp_python() else { return };
    let t = TestApp::new().await;
    let Some(certs) = test_certs(&t.dir) else {
        return;
    };
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    for (mode, scheme, mechanisms, used) in [
        ("starttls", "smtp", "PLAIN,LOGIN", "PLAIN"),
        ("starttls", "smtp", "LOGIN", "LOGIN"),
        ("smtps", "smtps", "PLAIN,LOGIN", "PLAIN"),
        ("smtps", "smtps", "LOGIN", "LOGIN"),
    ] {
        let what = format!("{scheme}:// offering {mechanisms}");
        let smtpd = start_tls_smtpd(&python, &t.dir, &certs, mode, mechanisms);
        let app = with_smtp_url(
            &t,
            format!(
                "{scheme}://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{}",
                smtpd.port
            ),
            Some(&certs.ca),
        );
        let m = enqueue(
            &t,
            msg(
                &company,
                &c,
                Channel::Email,
                "lena@example.com",
                &format!("receipt:{mode}-{mechanisms}"),
            ),
        )
        .await;
        let report = fieldpay::app::messages::deliver_due(&app, t.app.clock.now(), fixed_render)
            .await
            .unwrap();
        assert_eq!(
            report.sent,
            1,
            "{what}: {report:?} {}",
            listed(&t, &c, m.id()).await
        );
        let got = received(&smtpd);
        assert_eq!(got.len(), 1, "{what}");
        let mail = &got[0];
        assert!(mail.starts_with("X-Test-TLS: TLSv1."), "{what}: {mail}");
        assert!(
            mail.contains("\r\nX-Test-Auth: mailer@greenleaf.test\r\n"),
            "{what}: {mail}"
        );
        assert!(mail.contains("Subject: Invoice ready"), "{what}: {mail}");
        assert_eq!(auth_log(&smtpd), [format!("{used} ok")], "{what}");
        assert_eq!(listed(&t, &c, m.id()).await["status"], "sent", "{what}");
    }
}

#[tokio::test]
async fn smtp_wrong_credentials_fail_at_once_and_tls_failures_say_so() {
    let Some(python) = smtp_python() else { return };
    let t = TestApp::new().await;
    let Some(certs) = test_certs(&t.dir) else {
        return;
    };
    let company = t.company_id().await;
    let c = customer(&t, "lena@example.com", "(512) 555-0142").await;
    let mut n = 0;
    let mut send = async |app: &App| {
        n += 1;
        let m = enqueue(
            &t,
            msg(
                &company,
                &c,
                Channel::Email,
                "lena@example.com",
                &format!("receipt:tls-{n}"),
            ),
        )
        .await;
        let report = fieldpay::app::messages::deliver_due(app, t.app.clock.now(), fixed_render)
            .await
            .unwrap();
        (report, listed(&t, &c, m.id()).await)
    };

    // A wrong password over STARTTLS: refused (535), failed for good, never
    // tried again.
    let starttls = start_tls_smtpd(&python, &t.dir, &certs, "starttls", "PLAIN,LOGIN");
    let wrong = with_smtp_url(
        &t,
        format!("smtp://{SMTP_USER}:wrong@127.0.0.1:{}", starttls.port),
        Some(&certs.ca),
    );
    let (report, m) = send(&wrong).await;
    assert_eq!(
        (report.sent, report.retried, report.failed),
        (0, 0, 1),
        "{report:?} {m}"
    );
    assert_eq!(m["status"], "failed", "{m}");
    let error = m["last_error"].as_str().unwrap();
    assert!(
        error.contains("535") && error.contains("credentials invalid"),
        "{m}"
    );
    assert!(
        !error.contains("wrong"),
        "the password is not in the error: {m}"
    );
    assert_eq!(auth_log(&starttls), ["PLAIN refused"]);
    let later = fieldpay::app::messages::deliver_due(
        &wrong,
        t.app.clock.now() + time::Duration::hours(2),
        fixed_render,
    )
    .await
    .unwrap();
    assert_eq!(later, DeliveryReport::default(), "not tried again");
    assert_eq!(auth_log(&starttls).len(), 1);

    // The server's certificate from a CA we were not told to trust: the TLS
    // handshake fails, says why, and the password is never sent.
    let untrusting = |scheme: &str, port: u16| {
        with_smtp_url(
            &t,
            format!("{scheme}://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}"),
            None,
        )
    };
    let smtps = start_tls_smtpd(&python, &t.dir, &certs, "smtps", "PLAIN,LOGIN");
    for (what, app) in [
        ("STARTTLS", untrusting("smtp", starttls.port)),
        ("smtps", untrusting("smtps", smtps.port)),
    ] {
        let (report, m) = send(&app).await;
        assert_eq!(
            (report.sent, report.retried, report.failed),
            (0, 1, 0),
            "{what}: {report:?}"
        );
        assert_eq!(m["status"], "queued", "{what}: {m}");
        let error = m["last_error"].as_str().unwrap();
        assert!(
            error.contains("TLS with the SMTP server 127.0.0.1:")
                && error.contains("UnknownIssuer")
                && error.contains("FIELDPAY_SMTP_CA_FILE"),
            "{what}: {m}"
        );
        eprintln!("{what} with an untrusted certificate: {error}");
    }
    assert_eq!(auth_log(&starttls), ["PLAIN refused"], "no password sent");
    assert!(auth_log(&smtps).is_empty(), "no password sent");
    assert!(received(&starttls).is_empty() && received(&smtps).is_empty());

    // smtps:// to a server that speaks plain SMTP: no TLS handshake at all.
    let plain = start_smtpd(&python, &t.dir, 0, "nobody@example.com");
    let (report, m) = send(&untrusting("smtps", plain.port)).await;
    assert_eq!(
        (report.sent, report.retried, report.failed),
        (0, 1, 0),
        "{report:?}"
    );
    let error = m["last_error"].as_str().unwrap();
    assert!(
        error.contains("TLS with the SMTP server 127.0.0.1:") && error.contains("needs smtp://"),
        "{m}"
    );
    eprintln!("smtps:// to a plain SMTP server: {error}");
    assert!(received(&plain).is_empty());
}
