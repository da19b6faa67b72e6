//! What an alert rule reaches: the invoices it messages next and on which
//! day (the rule page and `GET /api/v1/invoice-alerts/{id}/preview`), and
//! the catch-up a new or edited rule offers for invoices already past its
//! trigger (the office's question, `catch_up` in the API), audited.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::alerts::{customer, email_template, rule};
use crate::office_auth::Office;
use crate::support::{COMPANY_TIME_ZONE, OWNER_PASSWORD, TestApp};

const BASE: &str = "/office/settings/invoice-alerts";

/// Noon today where the company is: the daily run is past 9:00 there.
fn noon_today(t: &TestApp) -> time::OffsetDateTime {
    fieldpay::domain::dates::day_start(t.today(), COMPANY_TIME_ZONE) + time::Duration::hours(12)
}

/// An invoice of `amount` due `due_in` days from today for the customer.
async fn invoice_due(t: &TestApp, customer: &str, amount: i64, due_in: i64) -> String {
    let p = t.property("8 Oak Ave", customer, None).await;
    t.invoice(&p, amount, &t.day(due_in)).await
}

/// Alert messages in the outbox for this invoice.
async fn alerts_for(t: &TestApp, invoice: &str) -> i64 {
    fieldpay::store::sql::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE invoice_id = $1 AND cause LIKE 'alert:%'",
    )
    .bind(invoice)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap()
}

async fn audit_detail(t: &TestApp, action: &str, subject: &str) -> Vec<Value> {
    let rows: Vec<String> = fieldpay::store::sql::query_scalar(
        "SELECT detail FROM audit_log WHERE action = $1 AND subject = $2 ORDER BY at",
    )
    .bind(action)
    .bind(subject)
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    rows.iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

async fn run_alerts(t: &TestApp) -> fieldpay::app::alerts::AlertReport {
    fieldpay::app::alerts::queue_due(&t.app, noon_today(t))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_customer_35_days_overdue_is_reached_only_by_a_catch_up() {
    let t = TestApp::new().await;
    let tpl = email_template(&t, "Invoice {{ invoice_number }}", "<p>Still owed.</p>").await;
    let lena = customer(&t, "Lena Late", "lena@example.com", None).await;
    let old = invoice_due(&t, &lena, 45000, -35).await;

    // "3 days after due", only from now on: the daily run never reaches her.
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": tpl, "days_after_due": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["caught_up"], 0);
    let id = r.json()["id"].as_str().unwrap().to_string();
    run_alerts(&t).await;
    assert_eq!(alerts_for(&t, &old).await, 0);
    let preview = t
        .api(
            Method::GET,
            &format!("/api/v1/invoice-alerts/{id}/preview"),
            None,
        )
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(preview.json()["missed"], 1);
    assert_eq!(preview.json()["next"], json!([]));
    let created = audit_detail(&t, "invoice_alert.create", &id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(
        (&created[0]["catch_up"], &created[0]["caught_up"]),
        (&json!(false), &json!(0))
    );

    // The same rule saved again with the catch-up: her invoice is messaged now.
    let body = json!({"email_template_id": tpl, "days_after_due": 3, "catch_up": true});
    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/invoice-alerts/{id}"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["caught_up"], 1);
    assert_eq!(alerts_for(&t, &old).await, 1);
    let updated = audit_detail(&t, "invoice_alert.update", &id).await;
    assert_eq!(
        (&updated[0]["catch_up"], &updated[0]["caught_up"]),
        (&json!(true), &json!(1))
    );
    // Delivered as the job's own alerts are, to her address.
    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    let emails = t.spool(".eml");
    assert_eq!(emails.len(), 1);
    assert!(emails[0].contains("lena@example.com"), "{}", emails[0]);

    // Never twice: another catch-up, the daily run and the preview agree.
    let r = t
        .api(
            Method::PUT,
            &format!("/api/v1/invoice-alerts/{id}"),
            Some(body),
        )
        .await;
    assert_eq!(r.json()["caught_up"], 0, "{}", r.body);
    run_alerts(&t).await;
    assert_eq!(alerts_for(&t, &old).await, 1);
    let preview = t
        .api(
            Method::GET,
            &format!("/api/v1/invoice-alerts/{id}/preview"),
            None,
        )
        .await;
    assert_eq!(preview.json()["missed"], 0);

    // A rule created with the catch-up reaches her at once, by its own cause.
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": tpl, "days_after_due": 14, "catch_up": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["caught_up"], 1);
    assert_eq!(alerts_for(&t, &old).await, 2);
    // Not in the list of rules, which has no catch-up to report.
    let list = t.api(Method::GET, "/api/v1/invoice-alerts", None).await;
    assert!(
        list.json()["data"][0].get("caught_up").is_none(),
        "{}",
        list.body
    );

    // A rule turned off sends nothing, so it cannot catch up: refused.
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": tpl, "days_after_due": 30,
                        "enabled": false, "catch_up": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "catch_up");
    assert_eq!(r.json()["error"]["code"], "rule_disabled");
    // A catch-up that is not a boolean is refused, not guessed.
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoice-alerts",
            Some(json!({"email_template_id": tpl, "days_after_due": 30, "catch_up": "yes"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
}

#[tokio::test]
async fn the_preview_lists_the_next_invoices_with_the_day_each_goes_out() {
    let t = TestApp::new().await;
    let tpl = email_template(&t, "Invoice {{ invoice_number }}", "<p>Reminder.</p>").await;
    let ana = customer(&t, "Ana Reyes", "ana@example.com", None).await;
    let ben = customer(&t, "Ben Okafor", "ben@example.com", None).await;
    let cy = customer(&t, "Cy Nomail", "cy@example.com", None).await;
    let in_window = invoice_due(&t, &ana, 12500, -5).await;
    let soon = invoice_due(&t, &ben, 4000, 4).await;
    let later = invoice_due(&t, &ana, 9900, 20).await;
    let missed = invoice_due(&t, &ben, 45000, -35).await;
    let paid = invoice_due(&t, &ben, 3000, 2).await;
    let auth = format!("Bearer {}", t.api_key);
    let r = t
        .request(
            Method::POST,
            "/api/v1/payments",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
                ("idempotency-key", "reach-cash-1"),
            ],
            Some(
                json!({"customer_id": ben, "method": "cash", "amount": 3000,
                       "allocations": [{"invoice_id": paid, "amount": 3000}]})
                .to_string(),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A customer without an email gets no email alert, so is not listed.
    let no_email = invoice_due(&t, &cy, 5000, 1).await;
    let r = t
        .api(
            Method::PATCH,
            &format!("/api/v1/customers/{cy}"),
            Some(json!({"email": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    let id = rule(&t, json!({"email_template_id": tpl, "days_after_due": 3})).await;
    let path = format!("/api/v1/invoice-alerts/{id}/preview");
    let p = t.api(Method::GET, &path, None).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let p = p.json();
    assert_eq!(p["today"], t.day(0));
    let listed: Vec<(String, String)> = p["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["invoice_id"].as_str().unwrap().to_string(),
                m["send_on"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (in_window.clone(), t.day(0)),
            (soon.clone(), t.day(7)),
            (later.clone(), t.day(23)),
        ]
    );
    assert_eq!(p["next"][0]["customer_name"], "Ana Reyes");
    assert_eq!(p["next"][0]["email"], "ana@example.com");
    assert_eq!(p["next"][0]["sms"], Value::Null);
    assert_eq!(p["next"][0]["balance"], 12500);
    assert_eq!(p["next"][0]["due_date"], t.day(-5));
    assert_eq!(p["missed"], 1);
    for gone in [&missed, &paid, &no_email] {
        assert!(!p.to_string().contains(gone.as_str()), "{gone} listed");
    }

    // The daily run sends what the preview said goes out today, and only that.
    let report = run_alerts(&t).await;
    assert_eq!(report.queued, 1, "{report:?}");
    assert_eq!(alerts_for(&t, &in_window).await, 1);
    let p = t.api(Method::GET, &path, None).await.json();
    assert_eq!(p["next"][0]["invoice_id"], json!(soon));
    assert_eq!(p["next"].as_array().unwrap().len(), 2);

    // Another company's rule is not found.
    let other = t.other_company().await;
    let r = t.api_with_key(&other, Method::GET, &path, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_office_asks_once_whether_to_catch_up_and_shows_the_next_messages() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let tpl = email_template(&t, "Invoice {{ invoice_number }}", "<p>Owed.</p>").await;
    let lena = customer(&t, "Lena Late", "lena@example.com", None).await;
    let old = invoice_due(&t, &lena, 45000, -35).await;
    let soon = invoice_due(&t, &lena, 8000, 2).await;
    let form = [
        ("email_template_id", tpl.as_str()),
        ("timing", "after_due"),
        ("days", "3"),
        ("enabled", "on"),
    ];

    // Saving asks first, listing the invoice already past the alert; nothing is saved yet.
    let ask = o.post(&t, &format!("{BASE}/new"), &form).await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.body);
    assert!(
        ask.body.contains("1 invoice is already past this alert"),
        "{}",
        ask.body
    );
    assert!(ask.body.contains("Lena Late"));
    assert!(ask.body.contains("$450.00"));
    assert!(ask.body.contains(&format!("/office/invoices/{old}\"")));
    assert!(
        ask.body
            .contains("Also message the 1 invoice already past this point")
    );
    assert!(ask.body.contains("Only from now on"));
    assert!(ask.body.contains(&format!("value=\"{tpl}\"")));
    assert_eq!(t.count("SELECT COUNT(*) FROM invoice_alerts").await, 0);

    // "Only from now on": saved, nothing sent to her.
    let mut no = form.to_vec();
    no.push(("catch_up", "no"));
    let r = o.post(&t, &format!("{BASE}/new"), &no).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.header("location"), format!("{BASE}?saved=alert"));
    assert_eq!(alerts_for(&t, &old).await, 0);
    let id: String = fieldpay::store::sql::query_scalar("SELECT id FROM invoice_alerts")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();

    // The rule's page lists its next messages with their day, and the one it missed.
    let page = o.get(&t, &format!("{BASE}/{id}/edit")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Next messages of this alert"),
        "{}",
        page.body
    );
    let send_day = fieldpay::domain::dates::display_near(t.date(5), t.today());
    let row = page
        .body
        .split("<tr>")
        .find(|r| r.contains(&soon))
        .expect("the invoice due in 2 days is listed");
    assert!(row.contains(&send_day), "{row}");
    assert!(row.contains("Email to lena@example.com"), "{row}");
    assert!(!page.body.contains(&format!("/office/invoices/{old}\"")));
    assert!(
        page.body
            .contains("1 open invoice is already past this alert")
    );

    // Edited, asked again; "Also message": her old invoice is messaged now.
    let ask = o.post(&t, &format!("{BASE}/{id}/edit"), &form).await;
    assert!(ask.body.contains("Only from now on"), "{}", ask.body);
    let mut yes = form.to_vec();
    yes.push(("catch_up", "yes"));
    let r = o.post(&t, &format!("{BASE}/{id}/edit"), &yes).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.header("location"),
        format!("{BASE}?saved=alert&caught_up=1")
    );
    assert_eq!(alerts_for(&t, &old).await, 1);
    let list = o.get(&t, r.header("location")).await;
    assert!(
        list.body
            .contains("1 invoice already past it is being messaged now."),
        "{}",
        list.body
    );
    let audited = audit_detail(&t, "invoice_alert.update", &id).await;
    assert_eq!(audited[0]["catch_up"], true);

    // Nothing left behind it: the next save does not ask.
    let r = o.post(&t, &format!("{BASE}/{id}/edit"), &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}
