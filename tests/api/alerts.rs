//! Invoice alerts (rules, the scheduler in `jobs::run_once`, delivery
//! through the spool) and payment receipts.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::macros::datetime;

use crate::support::TestApp;

/// The clock of the tests that step through December 2026: it starts on
/// Nov 30, so `TestApp::invoice` issues on Oct 1 (60 days before).
const NOV_30: time::OffsetDateTime = datetime!(2026-11-30 18:00 UTC);

pub(crate) async fn email_template(t: &TestApp, subject: &str, html: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": "Alert", "subject": subject, "html_body": html})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn sms_template(t: &TestApp, body: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Text", "body": body})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

pub(crate) async fn rule(t: &TestApp, body: Value) -> String {
    let r = t
        .api(Method::POST, "/api/v1/invoice-alerts", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

pub(crate) async fn customer(t: &TestApp, name: &str, email: &str, phone: Option<&str>) -> String {
    let mut body = json!({"name": name, "email": email});
    if let Some(p) = phone {
        body["phone"] = json!(p);
    }
    let r = t.api(Method::POST, "/api/v1/customers", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// An invoice of a new property of `customer`; returns (id, number).
async fn invoice(t: &TestApp, customer: &str, amount: i64, due: &str) -> (String, String) {
    let p = t.property("12 Elm St", customer, None).await;
    let id = t.invoice(&p, amount, due).await;
    let number = t.invoice_json(&id).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    (id, number)
}

fn spool(t: &TestApp, ext: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(&t.app.config.spool_dir) else {
        return vec![];
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect()
}

async fn run(t: &TestApp, now: time::OffsetDateTime) -> fieldpay::jobs::RunReport {
    fieldpay::jobs::run_once(&t.app, now).await.unwrap()
}

async fn pay_by_card(t: &TestApp, customer: &str, invoice: &str, key: &str) {
    let token = t.token(customer).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            key,
            json!({"invoice_ids": [invoice], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn alerts_fire_once_per_invoice_after_the_trigger_date() {
    let t = TestApp::starting_at(NOV_30).await;
    let e = email_template(
        &t,
        "Invoice {{ invoice_number }} is past due",
        "<p>{{ customer_name }}, {{ invoice_balance }} is still owed.</p>",
    )
    .await;
    let s = sms_template(&t, "Invoice {{ invoice_number }} is past due.").await;
    rule(
        &t,
        json!({"email_template_id": e, "sms_template_id": s, "days_after_due": 3}),
    )
    .await;
    let ana = customer(&t, "Ana Reyes", "ana@example.com", Some("(512) 555-0142")).await;
    let ben = customer(&t, "Ben Okafor", "ben@example.com", None).await;
    let (_, ana_no) = invoice(&t, &ana, 12500, "2026-12-01").await;
    let (ana_paid, _) = invoice(&t, &ana, 9900, "2026-12-01").await;
    let (_, ben_no) = invoice(&t, &ben, 4000, "2026-12-05").await;
    pay_by_card(&t, &ana, &ana_paid, "alerts-pay-1").await;

    // Dec 3, 10:00 in Chicago: Ana's trigger (Dec 4) has not come.
    run(&t, datetime!(2026-12-03 16:00 UTC)).await;
    assert!(spool(&t, ".eml").is_empty());
    assert!(spool(&t, ".txt").is_empty());
    // Dec 4, 08:00 in Chicago: the day has come but it is too early.
    let r = run(&t, datetime!(2026-12-04 14:00 UTC)).await;
    assert_eq!(r.alerts.too_early, 1, "{:?}", r.alerts);
    assert!(spool(&t, ".eml").is_empty());
    // Dec 4, 10:00: Ana's open invoice alerts by email and SMS; the paid one never.
    let r = run(&t, datetime!(2026-12-04 16:00 UTC)).await;
    assert_eq!(r.alerts.queued, 2, "{:?}", r.alerts);
    let emails = spool(&t, ".eml");
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains(&ana_no), "{}", emails[0]);
    assert!(emails[0].contains("ana@example.com"));
    assert!(emails[0].contains("$125.00"), "{}", emails[0]);
    let texts = spool(&t, ".txt");
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains(&ana_no), "{}", texts[0]);
    // Later the same day and the next: nothing again.
    run(&t, datetime!(2026-12-04 20:00 UTC)).await;
    run(&t, datetime!(2026-12-05 16:00 UTC)).await;
    assert_eq!(spool(&t, ".eml").len(), 1);
    // Dec 8: Ben's alert, by email only (he has no phone).
    run(&t, datetime!(2026-12-08 15:30 UTC)).await;
    let emails = spool(&t, ".eml");
    assert_eq!(emails.len(), 2);
    assert!(
        emails
            .iter()
            .any(|m| m.contains(&ben_no) && m.contains("ben@example.com"))
    );
    assert_eq!(spool(&t, ".txt").len(), 1);
    run(&t, datetime!(2026-12-09 16:00 UTC)).await;
    assert_eq!(spool(&t, ".eml").len(), 2);
    assert_eq!(spool(&t, ".txt").len(), 1);
}

#[tokio::test]
async fn concurrent_runs_send_each_alert_once() {
    let t = TestApp::starting_at(NOV_30).await;
    let e = email_template(&t, "Reminder {{ invoice_number }}", "<p>Due</p>").await;
    rule(&t, json!({"email_template_id": e, "days_after_due": 0})).await;
    for i in 0..5 {
        let c = customer(&t, "Cy", &format!("cy{i}@example.com"), None).await;
        invoice(&t, &c, 1000 + i, "2026-12-10").await;
    }
    let at = datetime!(2026-12-11 17:00 UTC);
    let (a, b) = tokio::join!(
        fieldpay::jobs::run_once(&t.app, at),
        fieldpay::jobs::run_once(&t.app, at)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.alerts.queued + b.alerts.queued, 5);
    assert_eq!(spool(&t, ".eml").len(), 5);
    run(&t, at).await;
    assert_eq!(spool(&t, ".eml").len(), 5);
}

#[tokio::test]
async fn disabled_rules_and_old_or_paid_invoices_send_nothing() {
    let t = TestApp::starting_at(NOV_30).await;
    let e = email_template(&t, "Reminder {{ invoice_number }}", "<p>Due</p>").await;
    let id = rule(
        &t,
        json!({"email_template_id": e, "days_after_due": 3, "enabled": false}),
    )
    .await;
    let c = customer(&t, "Dee", "dee@example.com", None).await;
    let (inv, _) = invoice(&t, &c, 5000, "2026-12-01").await;
    run(&t, datetime!(2026-12-04 16:00 UTC)).await;
    assert!(spool(&t, ".eml").is_empty());

    // Enabled weeks after the trigger: outside the 7-day catch-up window.
    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/invoice-alerts/{id}"),
            Some(json!({"email_template_id": e, "days_after_due": 3, "enabled": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["enabled"], true);
    run(&t, datetime!(2026-12-20 16:00 UTC)).await;
    assert!(spool(&t, ".eml").is_empty());

    // Queued, then paid before delivery: withdrawn, never sent.
    let at = datetime!(2026-12-05 16:00 UTC);
    let report = fieldpay::app::alerts::queue_due(&t.app, at).await.unwrap();
    assert_eq!(report.queued, 1, "{report:?}");
    pay_by_card(&t, &c, &inv, "alerts-pay-2").await;
    let r = run(&t, at).await;
    assert_eq!(r.delivered.withdrawn, 1, "{:?}", r.delivered);
    assert!(spool(&t, ".eml").is_empty());
}

#[tokio::test]
async fn a_card_payment_sends_one_receipt() {
    let t = TestApp::new().await;
    let e = email_template(
        &t,
        "Receipt for invoice {{ invoice_number }}",
        "<p>Thank you, we received {{ invoice_total }}.</p>",
    )
    .await;
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/receipts",
            Some(json!({"email_template_id": e})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = t.api(Method::GET, "/api/v1/settings/receipts", None).await;
    assert_eq!(r.json()["email_template_id"], e.as_str());
    let c = customer(&t, "Eva", "eva@example.com", Some("(512) 555-0199")).await;
    let (inv, number) = invoice(&t, &c, 12500, &t.day(17)).await;
    pay_by_card(&t, &c, &inv, "receipt-1").await;
    run(&t, t.app.clock.now()).await;
    run(&t, t.app.clock.now()).await;
    let emails = spool(&t, ".eml");
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains("$125.00"), "{}", emails[0]);
    assert!(emails[0].contains(&number));
    assert!(emails[0].contains("eva@example.com"));
    // No SMS template chosen: no text.
    assert!(spool(&t, ".txt").is_empty());
}

#[tokio::test]
async fn rules_are_validated_and_scoped_to_the_company() {
    let t = TestApp::new().await;
    let e = email_template(&t, "Reminder", "<p>Due</p>").await;
    let other = fieldpay::app::setup::create_company_with(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        "other@example.com",
        "long enough pw",
        false,
    )
    .await
    .unwrap();
    let foreign = t
        .api_with_key(
            &other.api_key,
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Theirs", "body": "Hello"})),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::CREATED, "{}", foreign.body);
    let foreign = foreign.json()["id"].as_str().unwrap().to_string();

    for (body, field) in [
        (json!({"days_after_due": 3}), "email_template_id"),
        (
            json!({"email_template_id": "", "sms_template_id": null, "days_after_due": 3}),
            "email_template_id",
        ),
        (
            json!({"email_template_id": e, "days_after_due": 366}),
            "days_after_due",
        ),
        (
            json!({"email_template_id": e, "days_after_due": 3, "timing": "whenever"}),
            "timing",
        ),
    ] {
        let r = t
            .api(Method::POST, "/api/v1/invoice-alerts", Some(body.clone()))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], field, "{}", r.body);
    }
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": e, "sms_template_id": foreign, "days_after_due": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No such template"),
        "{}",
        r.body
    );
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/receipts",
            Some(json!({"sms_template_id": foreign})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Nothing was written.
    let r = t.api(Method::GET, "/api/v1/invoice-alerts", None).await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0, "{}", r.body);
    let r = t.api(Method::GET, "/api/v1/settings/receipts", None).await;
    assert_eq!(r.json()["sms_template_id"], Value::Null, "{}", r.body);

    let id = rule(
        &t,
        json!({"email_template_id": e, "days_after_due": 5, "timing": "before_due"}),
    )
    .await;
    let r = t.api(Method::GET, "/api/v1/invoice-alerts", None).await;
    let list = r.json()["data"].clone();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["timing"], "before_due");
    assert_eq!(list[0]["days_after_due"], 5);
    assert_eq!(list[0]["enabled"], true);

    // Another company sees none of it.
    let path = format!("/api/v1/invoice-alerts/{id}");
    let body = json!({"email_template_id": e, "days_after_due": 1});
    for (method, body) in [
        (Method::GET, None),
        (Method::PUT, Some(body)),
        (Method::DELETE, None),
    ] {
        let r = t
            .api_with_key(&other.api_key, method.clone(), &path, body)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {}", r.body);
    }
    let r = t
        .api_with_key(&other.api_key, Method::GET, "/api/v1/invoice-alerts", None)
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 0);

    let r = t.api(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = t.api(Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn a_cash_payment_sends_an_email_and_sms_receipt() {
    let t = TestApp::new().await;
    let e = email_template(
        &t,
        "Receipt {{ invoice_number }}",
        "<p>Thanks! Balance now {{ invoice_balance }}.</p>",
    )
    .await;
    let s = sms_template(
        &t,
        "Thanks, {{ payment_amount }} received for {{ invoice_number }}.",
    )
    .await;
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/receipts",
            Some(json!({"email_template_id": e, "sms_template_id": s})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let c = customer(&t, "Fay", "fay@example.com", Some("(512) 555-0177")).await;
    let (inv, number) = invoice(&t, &c, 10000, &t.day(17)).await;
    let o = crate::office_auth::Office::sign_in(&t, &t.owner_email, crate::support::OWNER_PASSWORD)
        .await;
    let form = o
        .get(&t, &format!("/office/payments/new?customer_id={c}"))
        .await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    let nonce = hidden(&form.body, "nonce");
    let r = o
        .post(
            &t,
            "/office/payments",
            &[
                ("customer_id", c.as_str()),
                ("nonce", nonce.as_str()),
                ("invoice_ids", inv.as_str()),
                ("method", "cash"),
                ("amount", "40.00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    run(&t, t.app.clock.now()).await;
    let emails = spool(&t, ".eml");
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0].contains(&number) && emails[0].contains("$60.00"),
        "{}",
        emails[0]
    );
    let texts = spool(&t, ".txt");
    assert_eq!(texts.len(), 1);
    assert!(texts[0].contains(&number), "{}", texts[0]);
    // The receipt names the amount paid, not the invoice's total.
    assert!(texts[0].contains("Thanks, $40.00 received"), "{}", texts[0]);
}

#[tokio::test]
async fn before_due_and_at_creation_rules_fire_on_their_dates() {
    let t = TestApp::starting_at(NOV_30).await;
    let e = email_template(&t, "Coming due {{ invoice_number }}", "<p>Soon</p>").await;
    let n = email_template(&t, "New invoice {{ invoice_number }}", "<p>New</p>").await;
    rule(
        &t,
        json!({"email_template_id": e, "days_after_due": 5, "timing": "before_due"}),
    )
    .await;
    rule(
        &t,
        json!({"email_template_id": n, "days_after_due": 0, "timing": "at_creation"}),
    )
    .await;
    let c = customer(&t, "Gus", "gus@example.com", None).await;
    // Issued 2026-10-01 (60 days before the clock's Nov 30), due Dec 20.
    let (_, number) = invoice(&t, &c, 7000, "2026-12-20").await;
    // Issued more than 7 days before: the creation alert is past its window.
    run(&t, datetime!(2026-12-14 16:00 UTC)).await;
    assert!(spool(&t, ".eml").is_empty());
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    let emails = spool(&t, ".eml");
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0].contains(&format!("Coming due {number}")),
        "{}",
        emails[0]
    );
}

#[tokio::test]
async fn at_creation_alerts_go_out_after_issue() {
    let t = TestApp::starting_at(NOV_30).await;
    let n = email_template(&t, "New invoice {{ invoice_number }}", "<p>New</p>").await;
    rule(&t, json!({"email_template_id": n, "timing": "at_creation"})).await;
    let c = customer(&t, "Hal", "hal@example.com", None).await;
    let (_, number) = invoice(&t, &c, 7000, "2026-12-20").await;
    run(&t, datetime!(2026-09-30 16:00 UTC)).await;
    assert!(spool(&t, ".eml").is_empty());
    run(&t, datetime!(2026-10-01 15:00 UTC)).await;
    run(&t, datetime!(2026-10-02 15:00 UTC)).await;
    let emails = spool(&t, ".eml");
    assert_eq!(emails.len(), 1);
    assert!(
        emails[0].contains(&format!("New invoice {number}")),
        "{}",
        emails[0]
    );
}

#[tokio::test]
async fn a_template_in_use_cannot_be_deleted() {
    let t = TestApp::new().await;
    let e = email_template(&t, "Reminder", "<p>Due</p>").await;
    rule(&t, json!({"email_template_id": e, "days_after_due": 1})).await;
    let r = t
        .api(
            Method::DELETE,
            &format!("/api/v1/email-templates/{e}"),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

/// The base64 body of the `application/pdf` part of a spooled email.
fn pdf_attachment(eml: &str) -> Option<(String, Vec<u8>)> {
    use base64::Engine;
    let part = eml.split("Content-Type: application/pdf").nth(1)?;
    let name = part
        .split("filename=\"")
        .nth(1)?
        .split('"')
        .next()?
        .to_string();
    let body = part.split("\r\n\r\n").nth(1)?.split("--").next()?;
    let b64: String = body.split_whitespace().collect();
    Some((
        name,
        base64::engine::general_purpose::STANDARD.decode(b64).ok()?,
    ))
}

#[tokio::test]
async fn an_alert_can_carry_the_invoice_pdf() {
    let t = TestApp::starting_at(NOV_30).await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({
                "name": "Past due with PDF",
                "subject": "Invoice {{ invoice_number }}",
                "html_body": "<p>{{ email_payment_link }}</p>",
                "attach_invoice_pdf": true
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["attach_invoice_pdf"], true);
    let with_pdf = r.json()["id"].as_str().unwrap().to_string();
    let plain = email_template(&t, "Reminder {{ invoice_number }}", "<p>Hi</p>").await;
    rule(
        &t,
        json!({"email_template_id": with_pdf, "days_after_due": 3}),
    )
    .await;
    rule(&t, json!({"email_template_id": plain, "days_after_due": 3})).await;
    let ana = customer(&t, "Ana Reyes", "ana@example.com", None).await;
    let (_, number) = invoice(&t, &ana, 12500, "2026-12-01").await;

    run(&t, datetime!(2026-12-04 16:00 UTC)).await;
    let mails = spool(&t, ".eml");
    assert_eq!(mails.len(), 2);
    let (with, without): (Vec<&String>, Vec<&String>) =
        mails.iter().partition(|m| m.contains("Subject: Invoice "));
    let eml = with[0];
    assert!(
        eml.contains("Content-Type: multipart/mixed; boundary="),
        "{eml}"
    );
    assert!(eml.contains("Content-Type: multipart/alternative; boundary="));
    let (name, pdf) = pdf_attachment(eml).expect("a PDF part");
    assert_eq!(name, format!("invoice-{number}.pdf"));
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    assert!(pdf.len() > 1000);
    // The other template did not ask for it.
    assert!(!without[0].contains("application/pdf"));
    assert!(!without[0].contains("multipart/mixed"));
}

/// The alerts' two queries search the invoices' date indexes that hold
/// open invoices only, so paying an invoice removes its entries there
/// instead of moving them to a "paid" part of the index.
#[tokio::test]
async fn the_alert_queries_search_indexes_of_open_invoices_only() {
    if crate::support::on_postgres() {
        eprintln!("SQLite's query plan: not asked of PostgreSQL");
        return;
    }
    let t = TestApp::new().await;
    let queries = [
        (
            fieldpay::store::alerts::DUE_BY_DUE_DATE_SQL,
            "invoices_open_due",
        ),
        (
            fieldpay::store::alerts::DUE_BY_ISSUE_DATE_SQL,
            "invoices_open_issue",
        ),
    ];
    for (sql, index) in queries {
        let steps = t.sqlite_plan(sql).await;
        assert!(
            steps
                .iter()
                .any(|d| d.starts_with(&format!("SEARCH i USING INDEX {index} (company_id=? AND"))),
            "{index} is not searched: {steps:?}"
        );
    }
    let indexes: Vec<(String, Option<String>)> = fieldpay::store::sql::query_as(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'invoices'",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    for (_, index) in queries {
        let definition = indexes
            .iter()
            .find(|(name, _)| name == index)
            .and_then(|(_, sql)| sql.as_deref())
            .unwrap_or_else(|| panic!("no index {index}: {indexes:?}"));
        assert!(
            definition.ends_with("WHERE status = 'open'"),
            "{definition}"
        );
    }
}
