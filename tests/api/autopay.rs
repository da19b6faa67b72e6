//! Autopay stepped through a month with jobs run --once --now: charges on
//! the right local day and hour (across daylight saving time), exactly once
//! (twice in a row, two runners at once, a restart, a racing payer, a lost
//! processor reply), retries of soft declines, none of hard ones, expired
//! cards, the always-declining 0341 card, notices and expiry reminders with
//! the chosen templates, the office pages, and one-click unenroll from the
//! payment link.

use axum::http::{Method, StatusCode};
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

use fieldpay::app::App;

use crate::office_auth::Office;
use crate::support::faulty::{Call, Fault, Faulty};
use crate::support::{OWNER_PASSWORD, Resp, TestApp};

/// The clock of the tests that step through December 2026 (their invoices
/// are issued Dec 1): it starts that day, noon in Chicago.
const DEC_1: OffsetDateTime = datetime!(2026-12-01 18:00 UTC);

// ---------------------------------------------------------------- helpers

async fn exec(t: &TestApp, sql: &str) {
    fieldpay::store::sql::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(t.app.db.writer())
        .await
        .unwrap();
}

async fn customer(t: &TestApp, name: &str, phone: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": name, "email": "payer@example.com", "phone": phone})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

pub(crate) async fn invoice(
    t: &TestApp,
    property: &str,
    amount: i64,
    issue: &str,
    due: &str,
) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({
                "property_id": property, "issue_date": issue, "due_date": due,
                "lines": [{"description": "Quarterly pest control", "quantity": 1, "unit_price": amount}]
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn sms_template(t: &TestApp, name: &str, body: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": name, "body": body})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn email_template(t: &TestApp, name: &str, subject: &str, html: &str) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(json!({"name": name, "subject": subject, "html_body": html})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

pub(crate) async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

/// Enrolls through the office with the customer's stated consent; the
/// enrollment then charges invoices due from `starts_on`.
async fn office_enroll(t: &TestApp, o: &Office, customer: &str, method: &str, starts_on: &str) {
    let r = o
        .post(
            t,
            &format!("/office/customers/{customer}/autopay"),
            &[
                ("method_id", method),
                ("consent", "yes"),
                ("note", "By phone, spoke with the customer"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The enrollment starts today; the tests choose its first day.
    exec(
        t,
        &format!(
            "UPDATE autopay_enrollments SET starts_on = '{starts_on}'
             WHERE customer_id = '{customer}' AND cancelled_at IS NULL"
        ),
    )
    .await;
}

pub(crate) async fn settings(t: &TestApp, o: &Office, fields: &[(&str, &str)]) {
    let mut all = vec![
        ("timing", "due_date"),
        ("days_after_issue", "0"),
        ("charge_hour", "9"),
        ("grouping", "per_invoice"),
        ("retry_days", "3,5,7"),
        ("notice_days", "0"),
    ];
    for (k, v) in fields {
        all.retain(|(a, _)| a != k);
        all.push((k, v));
    }
    let r = o.post(t, "/office/settings/autopay", &all).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

async fn run(t: &TestApp, now: OffsetDateTime) -> fieldpay::jobs::RunReport {
    fieldpay::jobs::run_once(&t.app, now).await.unwrap()
}

async fn charges(t: &TestApp) -> i64 {
    t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
        .await
}

pub(crate) async fn succeeded_charges(t: &TestApp) -> i64 {
    t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'")
        .await
}

pub(crate) fn spool(t: &TestApp, ext: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(&t.app.config.spool_dir) else {
        return vec![];
    };
    let mut files: Vec<(std::time::SystemTime, String)> = dir
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
        .map(|e| {
            (
                e.metadata().and_then(|m| m.modified()).unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files.into_iter().map(|(_, s)| s).collect()
}

/// `(cause, template_id, channel)` of the outbox, oldest first.
async fn outbox(t: &TestApp) -> Vec<(String, String, String)> {
    fieldpay::store::sql::query_as(
        "SELECT cause, template_id, channel FROM outbox ORDER BY created_at, id",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap()
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

async fn form_post(t: &TestApp, path: &str, body: &str) -> Resp {
    t.request(
        Method::POST,
        path,
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(body.to_string()),
    )
    .await
}

/// A customer with a phone, a property and a saved card, enrolled by the
/// office from a year ago.
pub(crate) async fn enrolled(
    t: &TestApp,
    o: &Office,
    name: &str,
    number: &str,
) -> (String, String, String) {
    let c = customer(t, name, "(512) 555-0100").await;
    let p = t.property(&format!("{name}'s house"), &c, None).await;
    let m = t.saved_card(&c, number).await;
    office_enroll(t, o, &c, &m, &t.day(-365)).await;
    (c, p, m)
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn charges_on_the_due_day_at_the_local_hour_across_daylight_saving_time() {
    // The invoices are issued Oct 1, 2026; the clock starts that day.
    let t = TestApp::starting_at(datetime!(2026-10-01 18:00 UTC)).await;
    exec(&t, "UPDATE companies SET time_zone = 'America/New_York'").await;
    let o = office(&t).await;
    settings(&t, &o, &[("charge_hour", "9")]).await;
    let (c, p, _) = enrolled(&t, &o, "Dana Dst", "4242424242424242").await;
    // Due the day before clocks go back (EDT, UTC-4) and the day after (EST, UTC-5).
    let before = invoice(&t, &p, 12000, "2026-10-01", "2026-10-31").await;
    let after = invoice(&t, &p, 8000, "2026-10-01", "2026-11-02").await;
    // Due before the enrollment's first day: stays with the customer.
    exec(
        &t,
        &format!(
            "UPDATE autopay_enrollments SET starts_on = '2026-10-15' WHERE customer_id = '{c}'"
        ),
    )
    .await;
    let early = invoice(&t, &p, 5000, "2026-10-01", "2026-10-14").await;

    // Step through the month hour by hour; note when each charge happens.
    let mut at = datetime!(2026-10-20 00:00 UTC);
    let mut seen: Vec<(OffsetDateTime, i64)> = Vec::new();
    let mut last = 0;
    while at < datetime!(2026-11-20 00:00 UTC) {
        run(&t, at).await;
        let n = charges(&t).await;
        if n != last {
            seen.push((at, n));
            last = n;
        }
        at += time::Duration::hours(1);
    }
    assert_eq!(
        seen,
        vec![
            // 9:00 EDT on Oct 31 is 13:00 UTC.
            (datetime!(2026-10-31 13:00 UTC), 1),
            // 9:00 EST on Nov 2 is 14:00 UTC (13:00 UTC is 8:00 there).
            (datetime!(2026-11-02 14:00 UTC), 2),
        ]
    );
    assert_eq!(t.balance(&before).await, 0);
    assert_eq!(t.balance(&after).await, 0);
    assert_eq!(t.balance(&early).await, 5000);
    let channels: Vec<(String, i64)> =
        fieldpay::store::sql::query_as("SELECT channel, amount FROM payments ORDER BY amount")
            .fetch_all(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(
        channels,
        vec![
            ("autopay".to_string(), 8000),
            ("autopay".to_string(), 12000)
        ]
    );

    // Spring forward: 9:00 EDT on Mar 9, 2026 is 13:00 UTC; on Mar 7 (EST) 14:00.
    let spring1 = invoice(&t, &p, 3000, "2026-03-01", "2026-03-07").await;
    let spring2 = invoice(&t, &p, 4000, "2026-03-01", "2026-03-09").await;
    exec(
        &t,
        &format!(
            "UPDATE autopay_enrollments SET starts_on = '2026-03-01' WHERE customer_id = '{c}'"
        ),
    )
    .await;
    run(&t, datetime!(2026-03-07 13:59 UTC)).await;
    assert_eq!(t.balance(&spring1).await, 3000);
    run(&t, datetime!(2026-03-07 14:00 UTC)).await;
    assert_eq!(t.balance(&spring1).await, 0);
    run(&t, datetime!(2026-03-09 12:59 UTC)).await;
    assert_eq!(t.balance(&spring2).await, 4000);
    run(&t, datetime!(2026-03-09 13:00 UTC)).await;
    assert_eq!(t.balance(&spring2).await, 0);
    // The early invoice is still never charged.
    assert_eq!(t.balance(&early).await, 5000);
    assert_eq!(charges(&t).await, 4);
}

#[tokio::test]
async fn each_invoice_is_charged_once_however_often_and_however_many_runners() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let (_, p, _) = enrolled(&t, &o, "Olga Once", "4242424242424242").await;
    let a = invoice(&t, &p, 10000, "2026-12-01", "2026-12-15").await;
    let b = invoice(&t, &p, 20000, "2026-12-01", "2026-12-16").await;
    let c = invoice(&t, &p, 30000, "2026-12-01", "2026-12-17").await;
    // 9:00 in Chicago (CST) is 15:00 UTC.
    let day1 = datetime!(2026-12-15 15:00 UTC);
    run(&t, day1).await;
    run(&t, day1).await;
    run(&t, day1 + time::Duration::hours(3)).await;
    assert_eq!(charges(&t).await, 1);
    assert_eq!(t.balance(&a).await, 0);

    // Two runners at the same moment.
    let day2 = datetime!(2026-12-16 15:30 UTC);
    let (r1, r2) = tokio::join!(
        fieldpay::jobs::run_once(&t.app, day2),
        fieldpay::jobs::run_once(&t.app, day2)
    );
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.autopay.charged + r2.autopay.charged, 1, "{r1:?} {r2:?}");
    assert_eq!(charges(&t).await, 2);
    assert_eq!(t.balance(&b).await, 0);

    // A restarted process (a new App on the same database) and the old one.
    let restarted = App::open_with_clock((*t.app.config).clone(), t.app.clock.clone())
        .await
        .unwrap();
    let day3 = datetime!(2026-12-17 16:00 UTC);
    let (r1, r2) = tokio::join!(
        fieldpay::jobs::run_once(&restarted, day3),
        fieldpay::jobs::run_once(&t.app, day3)
    );
    r1.unwrap();
    r2.unwrap();
    fieldpay::jobs::run_once(&restarted, day3).await.unwrap();
    assert_eq!(charges(&t).await, 3);
    assert_eq!(t.balance(&c).await, 0);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payments WHERE channel = 'autopay'")
            .await,
        3
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payment_attempts WHERE channel = 'autopay'")
            .await,
        3
    );
    // The rest of the month: nothing more.
    let mut at = datetime!(2026-12-18 15:00 UTC);
    while at < datetime!(2027-01-15 15:00 UTC) {
        run(&t, at).await;
        at += time::Duration::days(1);
    }
    assert_eq!(charges(&t).await, 3);
}

#[tokio::test]
async fn one_charge_per_customer_per_day_and_a_card_per_property() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    settings(&t, &o, &[("grouping", "per_customer")]).await;
    let (c, p1, _) = enrolled(&t, &o, "Lena Landlord", "4242424242424242").await;
    let p2 = t.property("22 Riverside Ct", &c, None).await;
    let other_card = t.saved_card(&c, "5555555555554444").await;
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/autopay/properties"),
            &[(&format!("card_{p2}"), other_card.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let i1 = invoice(&t, &p1, 1000, "2026-12-01", "2026-12-15").await;
    let i2 = invoice(&t, &p1, 2000, "2026-12-01", "2026-12-15").await;
    let i3 = invoice(&t, &p2, 4000, "2026-12-01", "2026-12-15").await;
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    // One charge for the two invoices on the autopay card, one on the other card.
    let rows: Vec<(i64, String)> =
        fieldpay::store::sql::query_as("SELECT amount, card_brand FROM payments ORDER BY amount")
            .fetch_all(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(3000, "Visa".to_string()), (4000, "Mastercard".to_string())]
    );
    for i in [&i1, &i2, &i3] {
        assert_eq!(t.balance(i).await, 0);
    }
    // A second invoice due later the same day waits for the next day's charge.
    let i4 = invoice(&t, &p1, 500, "2026-12-01", "2026-12-15").await;
    run(&t, datetime!(2026-12-15 20:00 UTC)).await;
    assert_eq!(t.balance(&i4).await, 500);
    run(&t, datetime!(2026-12-16 16:00 UTC)).await;
    assert_eq!(t.balance(&i4).await, 0);
    assert_eq!(charges(&t).await, 3);
}

#[tokio::test]
async fn charged_n_days_after_issue_when_the_company_says_so() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    settings(
        &t,
        &o,
        &[
            ("timing", "after_issue"),
            ("days_after_issue", "10"),
            ("charge_hour", "14"),
        ],
    )
    .await;
    let (_, p, _) = enrolled(&t, &o, "Ivan Issue", "4242424242424242").await;
    let inv = invoice(&t, &p, 2200, "2026-12-01", "2026-12-31").await;
    // Dec 11, 13:00 in Chicago (19:00 UTC): not yet; 14:00: charged.
    run(&t, datetime!(2026-12-10 21:00 UTC)).await;
    run(&t, datetime!(2026-12-11 19:00 UTC)).await;
    assert_eq!(t.balance(&inv).await, 2200);
    run(&t, datetime!(2026-12-11 20:00 UTC)).await;
    assert_eq!(t.balance(&inv).await, 0);
}

#[tokio::test]
async fn soft_declines_are_retried_on_schedule_then_drop_to_manual_payment() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let declined = sms_template(
        &t,
        "Declined",
        "Autopay of {{ autopay_amount }} on your {{ card_brand }} ending {{ card_last4 }} failed: {{ decline_reason }} {% if autopay_date %}We try again {{ autopay_date }}.{% else %}Pay here: {{ sms_payment_link }}{% endif %} Stop autopay: {{ autopay_cancel_link }}",
    )
    .await;
    settings(
        &t,
        &o,
        &[("retry_days", "3,5,7"), ("decline_sms", declined.as_str())],
    )
    .await;
    // The 0341 card saves fine and declines every charge.
    let (c, p, _) = enrolled(&t, &o, "Rita Retry", "4000000000000341").await;
    let inv = invoice(&t, &p, 7500, "2026-12-01", "2026-12-15").await;
    let mut tried_on = Vec::new();
    let mut at = datetime!(2026-12-10 16:00 UTC);
    while at < datetime!(2027-01-12 16:00 UTC) {
        let before = charges(&t).await;
        run(&t, at).await;
        if charges(&t).await > before {
            tried_on.push(at.date().to_string());
        }
        at += time::Duration::days(1);
    }
    assert_eq!(
        tried_on,
        vec!["2026-12-15", "2026-12-18", "2026-12-20", "2026-12-22"]
    );
    assert_eq!(succeeded_charges(&t).await, 0);
    assert_eq!(t.balance(&inv).await, 7500);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_items WHERE status = 'failed'")
            .await,
        1
    );
    // One decline message per try, with the chosen template; the last says how to pay.
    let messages = outbox(&t).await;
    let declines: Vec<_> = messages
        .iter()
        .filter(|(cause, _, _)| cause.starts_with("autopay_declined:"))
        .collect();
    assert_eq!(declines.len(), 4, "{messages:?}");
    assert!(
        declines
            .iter()
            .all(|(_, tpl, ch)| *tpl == declined && ch == "sms")
    );
    let texts = spool(&t, ".txt");
    assert_eq!(texts.len(), 4);
    assert!(
        texts[0].contains("Autopay of $75.00 on your Visa ending 0341 failed"),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains("We try again Dec 18, 2026."),
        "{}",
        texts[0]
    );
    assert!(
        texts[3].contains("Pay here: https://pay.greenleaf.test/pay/"),
        "{}",
        texts[3]
    );
    assert!(texts[3].contains("/autopay"), "{}", texts[3]);
    // The office sees it in Autopay problems.
    let page = o.get(&t, "/office/autopay").await;
    assert_eq!(page.status, StatusCode::OK);
    let problems = &page.body
        [page.body.find("id=\"problems\"").unwrap()..page.body.find("id=\"upcoming\"").unwrap()];
    assert!(problems.contains("Rita Retry"), "{problems}");
    assert!(problems.contains(&format!("/office/customers/{c}")));
    assert!(problems.contains("$75.00"));
    // It stays with the customer: paying it by hand works.
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "manual",
            json!({"invoice_ids": [inv], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let page = o.get(&t, "/office/autopay").await;
    assert!(page.body.contains("No autopay problems."));
}

#[tokio::test]
async fn hard_declines_and_expired_cards_are_never_retried() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let processor = Faulty::around_sandbox(&t);
    let app = App {
        processor: processor.clone(),
        ..t.app.clone()
    };
    let (_, p, _) = enrolled(&t, &o, "Stan Stolen", "4242424242424242").await;
    let (_, p2, m2) = enrolled(&t, &o, "Eve Expired", "4242424242424242").await;
    exec(
        &t,
        &format!("UPDATE payment_methods SET exp_month = 11, exp_year = 2026 WHERE id = '{m2}'"),
    )
    .await;
    let stolen = invoice(&t, &p, 5000, "2026-12-01", "2026-12-15").await;
    let expired = invoice(&t, &p2, 6000, "2026-12-01", "2026-12-15").await;
    processor.script(Call::Charge, [Fault::Decline("stolen_card".into())]);
    let mut at = datetime!(2026-12-14 16:00 UTC);
    while at < datetime!(2027-01-10 16:00 UTC) {
        fieldpay::jobs::run_once(&app, at).await.unwrap();
        at += time::Duration::days(1);
    }
    let attempts: Vec<(String, String)> = fieldpay::store::sql::query_as(
        "SELECT decline_code, status FROM payment_attempts WHERE channel = 'autopay' ORDER BY decline_code",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(
        attempts,
        vec![
            ("expired_card".to_string(), "declined".to_string()),
            ("stolen_card".to_string(), "declined".to_string()),
        ]
    );
    // The expired card never reached the processor.
    assert_eq!(charges(&t).await, 0);
    assert_eq!(t.balance(&stolen).await, 5000);
    assert_eq!(t.balance(&expired).await, 6000);
    let page = o.get(&t, "/office/autopay").await;
    assert!(page.body.contains("The card was reported lost or stolen"));
    assert!(page.body.contains("The card has expired"));
}

#[tokio::test]
async fn notices_go_out_ahead_and_a_manual_payment_in_between_means_no_charge() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let notice = sms_template(
        &t,
        "Notice",
        "Your {{ card_brand }} ending {{ card_last4 }} will be charged {{ autopay_amount }} on {{ autopay_date }} for invoice {{ invoice_number }}.",
    )
    .await;
    let receipt = email_template(
        &t,
        "Autopay receipt",
        "Autopay receipt {{ payment_amount }}",
        "<p>We charged {{ autopay_amount }} to your {{ card_brand }} ending {{ card_last4 }}.</p>",
    )
    .await;
    settings(
        &t,
        &o,
        &[
            ("notice_days", "3"),
            ("notice_sms", notice.as_str()),
            ("receipt_email", receipt.as_str()),
        ],
    )
    .await;
    let (c, p, _) = enrolled(&t, &o, "Nora Notice", "4242424242424242").await;
    let paid_by_hand = invoice(&t, &p, 12000, "2026-12-01", "2026-12-15").await;
    let autopaid = invoice(&t, &p, 9000, "2026-12-01", "2026-12-16").await;
    // Dec 11: too early for either notice. Dec 12, 8:00 in Chicago: too early in the day.
    run(&t, datetime!(2026-12-11 16:00 UTC)).await;
    run(&t, datetime!(2026-12-12 14:00 UTC)).await;
    assert!(spool(&t, ".txt").is_empty());
    run(&t, datetime!(2026-12-12 15:00 UTC)).await;
    run(&t, datetime!(2026-12-12 18:00 UTC)).await;
    let texts = spool(&t, ".txt");
    assert_eq!(texts.len(), 1, "{texts:?}");
    let number = t.invoice_json(&paid_by_hand).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        texts[0].contains(&format!(
            "Your Visa ending 4242 will be charged $120.00 on Dec 15, 2026 for invoice {number}."
        )),
        "{}",
        texts[0]
    );
    run(&t, datetime!(2026-12-13 15:00 UTC)).await;
    assert_eq!(spool(&t, ".txt").len(), 2);
    // The customer pays the first invoice by hand before its charge day.
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "by-hand",
            json!({"invoice_ids": [paid_by_hand], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    run(&t, datetime!(2026-12-16 16:00 UTC)).await;
    // One manual charge and one autopay charge: the paid invoice was not charged again.
    assert_eq!(charges(&t).await, 2);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payments WHERE channel = 'autopay'")
            .await,
        1
    );
    assert_eq!(t.balance(&autopaid).await, 0);
    // The autopay receipt went out with autopay's receipt template.
    let causes = outbox(&t).await;
    assert!(
        causes
            .iter()
            .any(|(cause, tpl, ch)| cause.starts_with("receipt:")
                && *tpl == receipt
                && ch == "email"),
        "{causes:?}"
    );
    let emails = spool(&t, ".eml");
    assert!(
        emails.iter().any(|e| e.contains("Autopay receipt $90.00")),
        "{emails:?}"
    );
}

#[tokio::test]
async fn an_autopay_run_and_a_payer_racing_collect_the_balance_once() {
    for round in 0..4 {
        // The clock reads the due day, 10:00 in Chicago, and the run is at
        // the clock's now, as in `serve`: a run at an instant days after the
        // clock's would take the payer's attempt, stamped by the clock a
        // moment ago, for one left pending for days and settle it while
        // the payer's charge is under way.
        let t = TestApp::starting_at(datetime!(2026-12-15 16:00 UTC)).await;
        let o = office(&t).await;
        let (c, p, _) = enrolled(&t, &o, "Rae Race", "4242424242424242").await;
        let inv = invoice(&t, &p, 15000, "2026-12-01", "2026-12-15").await;
        let token = t.token(&c).await;
        let card = t.card("4242424242424242").await;
        let key = format!("race-{round}");
        let body = json!({"invoice_ids": [inv], "payment_method": card});
        let (run, paid) = tokio::join!(
            fieldpay::jobs::run_once(&t.app, t.app.clock.now()),
            t.pay(&token, &key, body)
        );
        run.unwrap();
        assert!(
            paid.status == StatusCode::CREATED || paid.status == StatusCode::CONFLICT,
            "{}",
            paid.body
        );
        assert_eq!(t.balance(&inv).await, 0);
        assert_eq!(succeeded_charges(&t).await, 1);
        let collected = t
            .count("SELECT CAST(coalesce(SUM(amount), 0) AS BIGINT) FROM payments")
            .await;
        assert_eq!(collected, 15000);
    }
}

#[tokio::test]
async fn a_charge_whose_reply_was_lost_is_reconciled_once() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let processor = Faulty::around_sandbox(&t);
    let app = App {
        processor: processor.clone(),
        ..t.app.clone()
    };
    let (_, p, _) = enrolled(&t, &o, "Luis Lost", "4242424242424242").await;
    // Days from the clock's today, so reconciliation's grace (by the
    // attempt's creation time, from the clock) has passed at the simulated
    // instants.
    let due = t.date(30);
    let inv = invoice(&t, &p, 6400, &t.day(-60), &t.day(30)).await;
    let at = due.with_hms(18, 0, 0).unwrap().assume_utc();
    processor.script(Call::Charge, [Fault::LoseReply]);
    let r = fieldpay::jobs::run_once(&app, at).await.unwrap();
    assert_eq!(r.autopay.pending, 1, "{:?}", r.autopay);
    // Charged at the processor, not recorded: the invoice stays held.
    assert_eq!(succeeded_charges(&t).await, 1);
    assert_eq!(t.balance(&inv).await, 6400);
    // Another autopay run does not charge again (the key names the day, the
    // invoice is held); then reconciliation applies the charge once.
    let again = fieldpay::app::autopay::run_due(&app, at + time::Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!((again.charged, again.pending), (0, 0), "{again:?}");
    assert_eq!(charges(&t).await, 1);
    let r = fieldpay::jobs::run_once(&app, at + time::Duration::minutes(5))
        .await
        .unwrap();
    assert_eq!(r.reconciled.applied, 1, "{:?}", r.reconciled);
    let r = fieldpay::jobs::run_once(&app, at + time::Duration::minutes(6))
        .await
        .unwrap();
    assert_eq!(r.reconciled, Default::default());
    fieldpay::jobs::run_once(&app, at + time::Duration::days(1))
        .await
        .unwrap();
    assert_eq!(succeeded_charges(&t).await, 1);
    assert_eq!(charges(&t).await, 1);
    assert_eq!(t.balance(&inv).await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_results WHERE outcome = 'paid'")
            .await,
        1
    );
}

#[tokio::test]
async fn cards_about_to_expire_get_one_reminder() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let expiring = sms_template(
        &t,
        "Card expiring",
        "Your {{ card_brand }} ending {{ card_last4 }} expires {{ card_expiry }}. Update it: {{ update_card_link }}",
    )
    .await;
    settings(&t, &o, &[("expiring_sms", expiring.as_str())]).await;
    let (_, _, m) = enrolled(&t, &o, "Ezra Expiry", "4242424242424242").await;
    exec(
        &t,
        &format!("UPDATE payment_methods SET exp_month = 1, exp_year = 2027 WHERE id = '{m}'"),
    )
    .await;
    // The reminder day is Jan 1 (30 days before the end of January), from 9:00.
    run(&t, datetime!(2026-12-31 18:00 UTC)).await;
    run(&t, datetime!(2027-01-01 14:00 UTC)).await;
    assert!(spool(&t, ".txt").is_empty());
    run(&t, datetime!(2027-01-01 15:00 UTC)).await;
    run(&t, datetime!(2027-01-02 15:00 UTC)).await;
    run(&t, datetime!(2027-01-20 15:00 UTC)).await;
    let texts = spool(&t, ".txt");
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].contains(
            "Your Visa ending 4242 expires 01/27. Update it: https://pay.greenleaf.test/portal/cards"
        ),
        "{}",
        texts[0]
    );
    let causes = outbox(&t).await;
    assert_eq!(
        causes,
        vec![(
            format!("card_expiring:{m}:2027-01"),
            expiring,
            "sms".to_string()
        )]
    );
}

#[tokio::test]
async fn unenroll_from_the_payment_link_and_get_changes_nothing() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let (c, p, _) = enrolled(&t, &o, "Una Unenroll", "4242424242424242").await;
    let token = t.token(&c).await;
    let path = format!("/pay/{token}/autopay");
    let active = "SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL";
    for _ in 0..3 {
        let r = t.get(&path).await;
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.contains("Turn off autopay"), "{}", r.body);
        assert!(r.body.contains("Visa ending 4242"));
        assert_eq!(r.header("cache-control"), "no-store");
    }
    assert_eq!(t.count(active).await, 1);
    let page = t.get(&path).await;
    // A forged form is refused and changes nothing.
    let r = form_post(&t, &path, "form_nonce=x&form_sig=y").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.count(active).await, 1);
    // A bad token is the usual 404.
    let bad = format!("/pay/{}/autopay", "A".repeat(43));
    assert_eq!(t.get(&bad).await.status, StatusCode::NOT_FOUND);
    let body = format!(
        "form_nonce={}&form_sig={}",
        hidden(&page.body, "form_nonce"),
        hidden(&page.body, "form_sig")
    );
    assert_eq!(
        form_post(&t, &bad, &body).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(t.count(active).await, 1);
    let r = form_post(&t, &path, &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Autopay is off"));
    assert_eq!(t.count(active).await, 0);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'autopay.cancelled'")
            .await,
        1
    );
    // Nothing is charged afterwards.
    let inv = invoice(&t, &p, 5000, "2026-12-01", "2026-12-15").await;
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    assert_eq!(t.balance(&inv).await, 5000);
    assert_eq!(charges(&t).await, 0);
    let r = t.get(&path).await;
    assert!(r.body.contains("Autopay is off"));
}

#[tokio::test]
async fn office_pages_enroll_with_consent_and_keep_companies_apart() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = customer(&t, "<script>alert(1)</script>", "(512) 555-0111").await;
    t.property("9 Elm St", &c, None).await;
    let m = t.saved_card(&c, "4242424242424242").await;
    let page = o.get(&t, &format!("/office/customers/{c}/autopay")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("<script>alert(1)"));
    assert!(page.body.contains("Autopay is off"));
    assert!(page.body.contains("I authorize Greenleaf Pest Control"));
    // Without the consent, or without saying how it was given: refused, nothing written.
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/autopay"),
            &[("method_id", m.as_str()), ("note", "by phone")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("Tick the box to confirm the customer gave this authorization.")
    );
    assert!(r.body.contains("value=\"by phone\""), "the note is kept");
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/autopay"),
            &[("method_id", m.as_str()), ("consent", "yes"), ("note", " ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.count("SELECT COUNT(*) FROM autopay_enrollments").await, 0);
    office_enroll(&t, &o, &c, &m, &t.day(-365)).await;
    let page = o.get(&t, &format!("/office/customers/{c}/autopay")).await;
    assert!(page.body.contains("Autopay is on"));
    assert!(page.body.contains("By phone, spoke with the customer"));
    assert!(page.body.contains(&t.owner_email));
    let (channel, by): (String, String) =
        fieldpay::store::sql::query_as("SELECT channel, enrolled_by FROM autopay_enrollments")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(channel, "office");
    assert!(by.starts_with("usr_"), "{by}");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'autopay.enrolled'")
            .await,
        1
    );
    // The overview lists the coming charge (days from the clock's today).
    let soon = t.date(5);
    let later = soon + time::Duration::days(30);
    let p = fieldpay::store::sql::query_scalar::<String>(
        "SELECT id FROM properties WHERE address = '9 Elm St'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    invoice(
        &t,
        &p,
        4200,
        &t.day(-60),
        &fieldpay::domain::dates::iso(soon),
    )
    .await;
    invoice(
        &t,
        &p,
        9900,
        &t.day(-60),
        &fieldpay::domain::dates::iso(later),
    )
    .await;
    let overview = o.get(&t, "/office/autopay").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.body.contains("Customers on autopay"));
    let upcoming = &overview.body[overview.body.find("id=\"upcoming\"").unwrap()
        ..overview.body.find("id=\"retries\"").unwrap()];
    assert!(upcoming.contains("$42.00"), "{upcoming}");
    assert!(
        upcoming.contains(&fieldpay::domain::dates::display(soon)),
        "{upcoming}"
    );
    assert!(upcoming.contains("9:00 AM"), "{upcoming}");
    assert!(upcoming.contains("Visa ending 4242"));
    assert!(!upcoming.contains("$99.00"), "beyond 14 days: {upcoming}");
    assert!(overview.body.contains("No autopay problems."));
    // Settings: bad input is refused with the message next to the field; nothing saved.
    let r = o
        .post(
            &t,
            "/office/settings/autopay",
            &[
                ("timing", "due_date"),
                ("charge_hour", "9"),
                ("grouping", "per_invoice"),
                ("retry_days", "3,5,30"),
                ("notice_days", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Each retry day must be from 1 to 21"));
    assert!(r.body.contains("value=\"3,5,30\""));
    assert_eq!(t.count("SELECT COUNT(*) FROM autopay_settings").await, 0);
    let page = o.get(&t, "/office/settings/autopay").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"3,5,7\""));

    // Another company: its ids are 404 here, and its templates cannot be chosen.
    let other_key = t.other_company().await;
    let r = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Other Customer"})),
        )
        .await;
    let other = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Theirs", "body": "Hi"})),
        )
        .await;
    let their_template = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        o.get(&t, &format!("/office/customers/{other}/autopay"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        o.get(&t, &format!("/office/customers/{other}/autopay/cancel"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = o
        .post(
            &t,
            &format!("/office/customers/{other}/autopay"),
            &[("method_id", m.as_str()), ("consent", "yes"), ("note", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = o
        .post(
            &t,
            &format!("/office/customers/{other}/autopay/cancel"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Another customer's card cannot be used for this one.
    let c2 = customer(&t, "Second", "(512) 555-0122").await;
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c2}/autopay"),
            &[("method_id", m.as_str()), ("consent", "yes"), ("note", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose one of the customer"));
    let r = o
        .post(
            &t,
            "/office/settings/autopay",
            &[
                ("timing", "due_date"),
                ("charge_hour", "9"),
                ("grouping", "per_invoice"),
                ("retry_days", "3"),
                ("notice_days", "0"),
                ("decline_sms", their_template.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.count("SELECT COUNT(*) FROM autopay_settings").await, 0);
    // Without the CSRF token: refused.
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/autopay/cancel"),
            &[("csrf", "forged")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Unenroll: asks once, then turns it off and audits.
    let confirm = o
        .get(&t, &format!("/office/customers/{c}/autopay/cancel"))
        .await;
    assert!(
        confirm
            .body
            .contains("will no longer be charged automatically")
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        1
    );
    let r = o
        .post(&t, &format!("/office/customers/{c}/autopay/cancel"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
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
}

#[tokio::test]
async fn enrollment_from_the_pay_page_is_charged_and_messages_carry_the_cancel_link() {
    let t = TestApp::starting_at(DEC_1).await;
    let c = customer(&t, "Paula Page", "(512) 555-0133").await;
    let p = t.property("3 Oak Ln", &c, None).await;
    let first = invoice(&t, &p, 2500, "2026-11-01", "2026-11-20").await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "enroll",
            json!({"invoice_ids": [first], "payment_method": card,
                   "save_card_and_enroll_autopay": true, "autopay_consent": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    exec(
        &t,
        "UPDATE autopay_enrollments SET starts_on = '2026-01-01'",
    )
    .await;
    let receipt = sms_template(
        &t,
        "Receipt",
        "Paid {{ payment_amount }} with {{ card_brand }} {{ card_last4 }}. Stop autopay: {{ autopay_cancel_link }}",
    )
    .await;
    // The company's ordinary receipt (no autopay receipt template chosen).
    let o = office(&t).await;
    let r = o
        .post(
            &t,
            "/office/settings/invoice-alerts/receipts",
            &[("sms_template_id", receipt.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let next = invoice(&t, &p, 3300, "2026-12-01", "2026-12-15").await;
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    assert_eq!(t.balance(&next).await, 0);
    let texts = spool(&t, ".txt");
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(
        texts[0].contains("Paid $33.00 with Visa 4242."),
        "{}",
        texts[0]
    );
    assert!(
        texts[0].contains(&format!(
            "Stop autopay: https://pay.greenleaf.test/pay/{token}/autopay"
        )),
        "{}",
        texts[0]
    );
    // The stored copy keeps the token redacted.
    let body: String = fieldpay::store::sql::query_scalar("SELECT body_redacted FROM outbox")
        .fetch_one(t.app.db.reader())
        .await
        .unwrap();
    assert!(!body.contains(&token));
}

#[test]
fn the_cli_runs_autopay() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, inv) = rt.block_on(async {
        let t = TestApp::starting_at(DEC_1).await;
        let o = office(&t).await;
        let (_, p, _) = enrolled(&t, &o, "Cleo Cli", "4242424242424242").await;
        let inv = invoice(&t, &p, 1800, "2026-12-01", "2026-12-15").await;
        (t, inv)
    });
    let run = |now: &str| {
        crate::common::fieldpay_cmd_like(&t.app.config)
            .args(["jobs", "run", "--once", "--now", now])
            .output()
            .expect("the binary runs")
    };
    // 8:00 in Chicago: not yet; 9:00: charged; again: nothing more.
    for (now, balance, said) in [
        ("2026-12-15T14:00:00Z", 1800, "Autopay: 0 charged"),
        ("2026-12-15T15:00:00Z", 0, "Autopay: 1 charged"),
        ("2026-12-15T15:00:00Z", 0, "Autopay: 0 charged"),
    ] {
        let out = run(now);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(said), "{now}: {text}");
        rt.block_on(async { assert_eq!(t.balance(&inv).await, balance, "{now}") });
    }
    rt.block_on(async {
        assert_eq!(t.balance(&inv).await, 0);
        assert_eq!(charges(&t).await, 1);
    });
}

#[tokio::test]
async fn a_retry_goes_on_with_the_new_card_after_re_enrolling() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let sms = sms_template(&t, "Declined", "Autopay failed: {{ decline_reason }}").await;
    settings(
        &t,
        &o,
        &[("retry_days", "3,5,7"), ("decline_sms", sms.as_str())],
    )
    .await;
    let (c, p, _) = enrolled(&t, &o, "Nina New-Card", "4000000000000341").await;
    let inv = invoice(&t, &p, 7500, "2026-12-01", "2026-12-15").await;
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    assert_eq!(charges(&t).await, 1);
    assert_eq!(succeeded_charges(&t).await, 0);
    // Told of the decline, the customer enrolls a working card on Dec 16:
    // a new enrollment starts that day, after the invoice's due date.
    let good = t.saved_card(&c, "4242424242424242").await;
    office_enroll(&t, &o, &c, &good, "2026-12-16").await;
    for day in 16..=19 {
        let at = time::Date::from_calendar_date(2026, time::Month::December, day)
            .unwrap()
            .with_hms(16, 0, 0)
            .unwrap()
            .assume_utc();
        run(&t, at).await;
    }
    // The retry on Dec 18 used the new card and paid it, once.
    assert_eq!(succeeded_charges(&t).await, 1);
    assert_eq!(t.balance(&inv).await, 0);
}

#[tokio::test]
async fn a_clients_idempotency_key_cannot_stand_in_for_an_autopay_charge() {
    let t = TestApp::starting_at(DEC_1).await;
    let o = office(&t).await;
    let (c, p, _) = enrolled(&t, &o, "Kai Key", "4242424242424242").await;
    let autopaid = invoice(&t, &p, 6000, "2026-12-01", "2026-12-15").await;
    let other = invoice(&t, &p, 2500, "2026-12-01", "2026-12-31").await;
    // A payment by the link, sent with the key autopay will use on Dec 15.
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            &format!("autopay:{autopaid}:2026-12-15"),
            json!({"invoice_ids": [other], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    run(&t, datetime!(2026-12-15 16:00 UTC)).await;
    assert_eq!(t.balance(&autopaid).await, 0, "autopay charged its invoice");
    assert_eq!(succeeded_charges(&t).await, 2);
}
