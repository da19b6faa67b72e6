//! Office payments: cash, check and card payments recorded by the office, the
//! payments list, and refunds.

use axum::http::StatusCode;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, Resp, TestApp, customer_with_invoices};

/// The value of a (hidden or text) field on a page.
pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field in {html}"))
        + marker.len();
    let tag_end = at + html[at..].find('>').unwrap();
    let value = at + html[at..tag_end].find("value=\"").expect("value") + "value=\"".len();
    html[value..value + html[value..].find('"').unwrap()].to_string()
}

/// The payment id a successful form redirects to.
pub(crate) fn payment_of(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.header("location");
    assert!(loc.starts_with("/office/payments/pay_"), "{loc}");
    loc.trim_start_matches("/office/payments/")
        .split('?')
        .next()
        .unwrap()
        .to_string()
}

pub(crate) async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

/// A fresh form nonce for a customer's record-payment page.
async fn form_nonce(t: &TestApp, o: &Office, customer: &str) -> String {
    let r = o
        .get(t, &format!("/office/payments/new?customer_id={customer}"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    hidden(&r.body, "nonce")
}

pub(crate) async fn record(
    t: &TestApp,
    o: &Office,
    customer: &str,
    invoices: &[&str],
    extra: &[(&str, &str)],
) -> Resp {
    let nonce = form_nonce(t, o, customer).await;
    record_with(t, o, customer, invoices, extra, &nonce).await
}

async fn record_with(
    t: &TestApp,
    o: &Office,
    customer: &str,
    invoices: &[&str],
    extra: &[(&str, &str)],
    nonce: &str,
) -> Resp {
    let mut fields = vec![("customer_id", customer), ("nonce", nonce)];
    for i in invoices {
        fields.push(("invoice_ids", i));
    }
    fields.extend_from_slice(extra);
    o.post(t, "/office/payments", &fields).await
}

pub(crate) async fn status_of(t: &TestApp, invoice: &str) -> String {
    t.invoice_json(invoice).await["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn number_of(t: &TestApp, invoice: &str) -> String {
    t.invoice_json(invoice).await["number"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Asks for a refund and confirms it; returns the final response.
pub(crate) async fn refund(t: &TestApp, o: &Office, payment: &str, amount: &str) -> Resp {
    let page = o.get(t, &format!("/office/payments/{payment}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let nonce = hidden(&page.body, "nonce");
    refund_with(t, o, payment, amount, &nonce).await
}

pub(crate) async fn refund_with(
    t: &TestApp,
    o: &Office,
    payment: &str,
    amount: &str,
    nonce: &str,
) -> Resp {
    let path = format!("/office/payments/{payment}/refund");
    let confirm = o
        .post(
            t,
            &path,
            &[
                ("amount", amount),
                ("reason", "Service not done"),
                ("nonce", nonce),
            ],
        )
        .await;
    if confirm.status != StatusCode::OK {
        return confirm;
    }
    assert!(confirm.body.contains("Refund $"), "{}", confirm.body);
    let confirmed_amount = hidden(&confirm.body, "amount");
    o.post(
        t,
        &path,
        &[
            ("amount", confirmed_amount.as_str()),
            ("reason", "Service not done"),
            ("nonce", nonce),
            ("confirm", "yes"),
        ],
    )
    .await
}

#[tokio::test]
async fn cash_partial_payment_on_two_invoices_allocates_in_order() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Cash Carla", &[10000, 5000]).await;
    let form = o
        .get(&t, &format!("/office/payments/new?customer_id={c}"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    for i in &inv {
        assert!(form.body.contains(&number_of(&t, i).await), "{}", form.body);
    }
    assert!(form.body.contains("$150.00"), "open balance shown");

    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0], &inv[1]],
        &[("method", "cash"), ("amount", "120.00")],
    )
    .await;
    let pay = payment_of(&r);
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(status_of(&t, &inv[0]).await, "paid");
    assert_eq!(t.balance(&inv[1]).await, 3000);
    assert_eq!(status_of(&t, &inv[1]).await, "open");

    let detail = o.get(&t, r.header("location")).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("Payment recorded"));
    assert!(detail.body.contains(&pay), "the reference is shown");
    assert!(detail.body.contains("$120.00"));
    assert!(detail.body.contains("$100.00") && detail.body.contains("$20.00"));
    assert!(detail.body.contains("Cash"));
    assert!(detail.body.contains(&t.owner_email), "recorded by");

    // The API sees the payment with its allocations.
    let api = t
        .api(
            axum::http::Method::GET,
            &format!("/api/v1/payments?customer_id={c}"),
            None,
        )
        .await;
    assert_eq!(api.json()["data"][0]["amount"], 12000);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'payment.recorded'")
            .await,
        1
    );

    // Empty amount: the selected invoice's whole balance.
    let r = record(&t, &o, &c, &[&inv[1]], &[("method", "cash")]).await;
    payment_of(&r);
    assert_eq!(t.balance(&inv[1]).await, 0);
    assert_eq!(status_of(&t, &inv[1]).await, "paid");
}

#[tokio::test]
async fn check_needs_a_number() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Check Chen", &[8000]).await;
    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0]],
        &[("method", "check"), ("check_number", "  ")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Enter the check number"), "{}", r.body);
    assert!(
        r.body.contains(&format!("value=\"{}\" checked", inv[0])),
        "the selection is kept"
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 8000);

    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0]],
        &[("method", "check"), ("check_number", "1042")],
    )
    .await;
    let pay = payment_of(&r);
    let list = o.get(&t, "/office/payments").await;
    assert!(list.body.contains("Check #1042"), "{}", list.body);
    assert!(list.body.contains(&pay));
    assert_eq!(t.balance(&inv[0]).await, 0);
}

#[tokio::test]
async fn overpayment_and_bad_amounts_are_refused_and_nothing_is_written() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Over Olga", &[10000, 5000]).await;
    for (amount, message) in [
        ("150.01", "does not record overpayments"),
        ("12.345", "at most two decimals"),
        ("-5", "must not be negative"),
        ("1e3", "as a number"),
        ("0", "more than zero"),
    ] {
        let r = record(
            &t,
            &o,
            &c,
            &[&inv[0], &inv[1]],
            &[("method", "cash"), ("amount", amount)],
        )
        .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{amount}");
        assert!(r.body.contains(message), "{amount}: {}", r.body);
        // What was typed is kept.
        assert!(r.body.contains(&format!("value=\"{amount}\"")), "{amount}");
    }
    let r = record(&t, &o, &c, &[], &[("method", "cash")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Select at least one invoice"));
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payment_allocations").await, 0);
    assert_eq!(t.balance(&inv[0]).await, 10000);
    assert_eq!(t.balance(&inv[1]).await, 5000);

    // Exactly the total is fine.
    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0], &inv[1]],
        &[("method", "cash"), ("amount", "$150.00")],
    )
    .await;
    payment_of(&r);
    assert_eq!(t.balance(&inv[1]).await, 0);

    // Paying a paid invoice again: refused, nothing written.
    let r = record_with(
        &t,
        &o,
        &c,
        &[&inv[0]],
        &[("method", "cash")],
        "dddddddddddddddddddddddd",
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("already paid"));
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn paid_invoice_posted_again_is_a_conflict() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Race Rita", &[4000, 6000]).await;
    // Two forms open at once; the first pays invoice 0.
    let first = form_nonce(&t, &o, &c).await;
    let second = form_nonce(&t, &o, &c).await;
    payment_of(&record_with(&t, &o, &c, &[&inv[0]], &[("method", "cash")], &first).await);
    let r = record_with(
        &t,
        &o,
        &c,
        &[&inv[0], &inv[1]],
        &[("method", "cash")],
        &second,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains(&number_of(&t, &inv[0]).await));
    assert!(r.body.contains("already paid"));
    assert_eq!(t.balance(&inv[1]).await, 6000);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn double_submit_records_one_payment() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Double Dan", &[10000]).await;
    let nonce = form_nonce(&t, &o, &c).await;
    let fields = [("method", "cash"), ("amount", "40")];
    let one = [inv[0].as_str()];
    let (a, b) = tokio::join!(
        record_with(&t, &o, &c, &one, &fields, &nonce),
        record_with(&t, &o, &c, &one, &fields, &nonce)
    );
    assert_eq!(payment_of(&a), payment_of(&b));
    let again = record_with(&t, &o, &c, &[&inv[0]], &fields, &nonce).await;
    assert_eq!(payment_of(&again), payment_of(&a));
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    assert_eq!(t.balance(&inv[0]).await, 6000);
}

#[tokio::test]
async fn card_payment_with_a_sandbox_token_and_a_declined_card() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Card Cora", &[10000, 5000]).await;

    let declined = t.card("4000000000000002").await;
    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0], &inv[1]],
        &[("method", "card"), ("card_token", &declined)],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert!(r.body.contains("declined the card"), "{}", r.body);
    assert_eq!(t.balance(&inv[0]).await, 10000);
    assert_eq!(t.balance(&inv[1]).await, 5000);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);

    // A card payment pays in full: a typed amount is refused.
    let token = t.card("4242424242424242").await;
    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0]],
        &[("method", "card"), ("card_token", &token), ("amount", "10")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("pays the selected invoices in full"));
    // No token at all.
    let r = record(&t, &o, &c, &[&inv[0]], &[("method", "card")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("card token"));

    let r = record(
        &t,
        &o,
        &c,
        &[&inv[0], &inv[1]],
        &[("method", "card"), ("card_token", &token)],
    )
    .await;
    let pay = payment_of(&r);
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges WHERE status = 'succeeded'")
            .await,
        1
    );
    let detail = o.get(&t, &format!("/office/payments/{pay}")).await;
    assert!(detail.body.contains("Visa ending 4242"), "{}", detail.body);
    assert!(detail.body.contains("Office"));
    assert!(detail.body.contains(&t.owner_email), "recorded by");
}

#[tokio::test]
async fn card_refunds_reopen_balances_and_stop_at_what_is_left() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Refund Rosa", &[10000, 5000]).await;
    let token = t.card("4242424242424242").await;
    let pay = payment_of(
        &record(
            &t,
            &o,
            &c,
            &[&inv[0], &inv[1]],
            &[("method", "card"), ("card_token", &token)],
        )
        .await,
    );

    // The confirmation step says what will happen and writes nothing.
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    let nonce = hidden(&page.body, "nonce");
    assert_eq!(
        hidden(&page.body, "amount"),
        "150.00",
        "defaults to all left"
    );
    let confirm = o
        .post(
            &t,
            &format!("/office/payments/{pay}/refund"),
            &[
                ("amount", "30"),
                ("reason", "Missed visit"),
                ("nonce", &nonce),
            ],
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.body);
    assert!(confirm.body.contains("Refund $30.00"));
    assert!(confirm.body.contains("Visa ending 4242"));
    let second_number = number_of(&t, &inv[1]).await;
    assert!(
        confirm.body.contains(&format!(
            "Invoice {second_number}: $30.00 back, balance becomes $30.00"
        )),
        "{}",
        confirm.body
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 0);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        0
    );

    // Part: the last invoice paid reopens first.
    let r = refund_with(&t, &o, &pay, "30.00", &nonce).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.balance(&inv[1]).await, 3000);
    assert_eq!(status_of(&t, &inv[1]).await, "open");
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1
    );

    // The same form submitted again: applied once.
    let r = refund_with(&t, &o, &pay, "30.00", &nonce).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        1
    );
    assert_eq!(t.balance(&inv[1]).await, 3000);

    // Beyond what is left: refused, nothing written.
    let r = refund(&t, &o, &pay, "120.01").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("At most $120.00 can be refunded"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("value=\"120.01\""),
        "what was typed is kept"
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);

    // The rest.
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    assert_eq!(hidden(&page.body, "amount"), "120.00");
    assert!(
        page.body.contains("Service not done"),
        "the reason is listed"
    );
    let r = refund(&t, &o, &pay, "120.00").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.balance(&inv[0]).await, 10000);
    assert_eq!(t.balance(&inv[1]).await, 5000);
    assert_eq!(status_of(&t, &inv[0]).await, "open");
    assert_eq!(status_of(&t, &inv[1]).await, "open");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        2
    );
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds WHERE amount = 12000")
            .await,
        1
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM refunds WHERE processor_refund_id IS NULL")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.created'")
            .await,
        2
    );
    // Nothing left to refund; the invoices are no longer held.
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    assert!(page.body.contains("refunded in full"), "{}", page.body);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM invoices WHERE locked_by_attempt IS NOT NULL")
            .await,
        0
    );
    let r = refund_with(&t, &o, &pay, "1.00", "cccccccccccccccccccccccc").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The reopened invoices can be paid again.
    let again = record(&t, &o, &c, &[&inv[0]], &[("method", "cash")]).await;
    payment_of(&again);
    assert_eq!(t.balance(&inv[0]).await, 0);

    // The list shows what was refunded.
    let list = o.get(&t, "/office/payments").await;
    assert!(list.body.contains("$150.00"));
    assert!(
        list.body.contains("id=\"total-refunded\">$150.00"),
        "{}",
        list.body
    );
}

#[tokio::test]
async fn cash_refund_is_recorded_without_the_processor() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Cash Back", &[7000]).await;
    let pay = payment_of(&record(&t, &o, &c, &[&inv[0]], &[("method", "cash")]).await);
    let r = refund(&t, &o, &pay, "20").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.balance(&inv[0]).await, 2000);
    assert_eq!(status_of(&t, &inv[0]).await, "open");
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_refunds")
            .await,
        0
    );
    let page = o.get(&t, r.header("location")).await;
    assert!(page.body.contains("Refund recorded"));
    assert!(!page.body.contains("pending at the processor"));
    let r = refund(&t, &o, &pay, "50.01").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.balance(&inv[0]).await, 2000);
}

#[tokio::test]
async fn payments_list_filters() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Filter Fay", &[1000, 2000, 3000]).await;
    payment_of(&record(&t, &o, &c, &[&inv[0]], &[("method", "cash")]).await);
    payment_of(
        &record(
            &t,
            &o,
            &c,
            &[&inv[1]],
            &[("method", "check"), ("check_number", "77")],
        )
        .await,
    );
    // A quick-pay payment by the customer.
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "k-filter-1",
            serde_json::json!({"invoice_ids": [inv[2]], "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    let all = o.get(&t, "/office/payments").await;
    assert!(all.body.contains("id=\"total-count\">3<"), "{}", all.body);
    assert!(all.body.contains("id=\"total-amount\">$60.00<"));
    assert!(all.body.contains("Quick pay") && all.body.contains("Visa ending 4242"));

    let cash = o.get(&t, "/office/payments?method=cash").await;
    assert!(cash.body.contains("id=\"total-count\">1<"));
    assert!(cash.body.contains("id=\"total-amount\">$10.00<"));
    assert!(!cash.body.contains("Check #77"));

    let quick = o.get(&t, "/office/payments?channel=quick_pay").await;
    assert!(quick.body.contains("id=\"total-count\">1<"));
    assert!(quick.body.contains("Visa ending 4242"));
    let office_card = o
        .get(&t, "/office/payments?channel=office&method=card")
        .await;
    assert!(office_card.body.contains("id=\"total-count\">0<"));
    assert!(office_card.body.contains("No payments match"));

    let today = t.day(0);
    let later = t.day(365);
    let range = o
        .get(&t, &format!("/office/payments?from={today}&to={today}"))
        .await;
    assert!(
        range.body.contains("id=\"total-count\">3<"),
        "{}",
        range.body
    );
    let future = o.get(&t, &format!("/office/payments?from={later}")).await;
    assert!(future.body.contains("id=\"total-count\">0<"));
    let past = o
        .get(&t, &format!("/office/payments?to={}", t.day(-365)))
        .await;
    assert!(past.body.contains("id=\"total-count\">0<"));
    let bad = o.get(&t, "/office/payments?from=28/11/2026").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("YYYY-MM-DD"));
}

#[tokio::test]
async fn another_companys_payments_and_customers_are_404() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Mine Only", &[5000]).await;
    let pay = payment_of(&record(&t, &o, &c, &[&inv[0]], &[("method", "cash")]).await);

    fieldpay::app::setup::create_company_with(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        "other@example.com",
        "long enough pw",
        false,
    )
    .await
    .unwrap();
    let other = Office::sign_in(&t, "other@example.com", "long enough pw").await;
    assert_eq!(
        other
            .get(&t, &format!("/office/payments/{pay}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = other
        .post(
            &t,
            &format!("/office/payments/{pay}/refund"),
            &[
                ("amount", "10"),
                ("nonce", "aaaaaaaaaaaaaaaaaaaaaaaa"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other
            .get(&t, &format!("/office/payments/new?customer_id={c}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = record_with(
        &t,
        &other,
        &c,
        &[&inv[0]],
        &[("method", "cash")],
        "bbbbbbbbbbbbbbbbbbbbbbbb",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let list = other.get(&t, "/office/payments").await;
    assert!(!list.body.contains(&pay));
    assert!(list.body.contains("id=\"total-count\">0<"));
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
}

#[tokio::test]
async fn forms_need_the_session_csrf_token() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Csrf Cy", &[5000]).await;
    let nonce = form_nonce(&t, &o, &c).await;
    let r = o
        .post(
            &t,
            "/office/payments",
            &[
                ("csrf", "forged"),
                ("customer_id", &c),
                ("invoice_ids", &inv[0]),
                ("method", "cash"),
                ("nonce", &nonce),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 0);
}

#[tokio::test]
async fn names_typed_by_users_render_escaped() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "<script>alert(1)</script>", &[5000]).await;
    let form = o
        .get(&t, &format!("/office/payments/new?customer_id={c}"))
        .await;
    assert!(!form.body.contains("<script>alert(1)</script>"));
    assert!(form.body.contains("&lt;script&gt;alert(1)"));
    let pay = payment_of(
        &record(
            &t,
            &o,
            &c,
            &[&inv[0]],
            &[("method", "check"), ("check_number", "<b>9</b>")],
        )
        .await,
    );
    for path in [
        "/office/payments".to_string(),
        format!("/office/payments/{pay}"),
    ] {
        let page = o.get(&t, &path).await;
        assert!(!page.body.contains("<script>alert(1)</script>"), "{path}");
        assert!(!page.body.contains("<b>9</b>"), "{path}");
        assert!(page.body.contains("&lt;script&gt;"), "{path}");
    }
    let page = o.get(&t, &format!("/office/payments/{pay}")).await;
    let nonce = hidden(&page.body, "nonce");
    let confirm = o
        .post(
            &t,
            &format!("/office/payments/{pay}/refund"),
            &[
                ("amount", "1"),
                ("reason", "<i>oops</i>"),
                ("nonce", &nonce),
            ],
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(!confirm.body.contains("<i>oops</i>"));
}

#[tokio::test]
async fn a_refund_the_processor_refuses_is_undone() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Refused Ray", &[10000, 5000]).await;
    let token = t.card("4242424242424242").await;
    let pay = payment_of(
        &record(
            &t,
            &o,
            &c,
            &[&inv[0], &inv[1]],
            &[("method", "card"), ("card_token", &token)],
        )
        .await,
    );
    // The charge was refunded at the processor behind fieldpay's back.
    fieldpay::store::sql::query("UPDATE sandbox_charges SET refunded = amount")
        .execute(t.app.sandbox.database())
        .await
        .unwrap();
    let r = refund(&t, &o, &pay, "50.00").await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.body);
    assert!(r.body.contains("refused the refund"), "{}", r.body);
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    assert_eq!(status_of(&t, &inv[1]).await, "paid");
    // Kept for history, failed, with the processor's reason.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM refunds WHERE status = 'failed' AND last_error IS NOT NULL")
            .await,
        1
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM refunds").await, 1);
    assert_eq!(
        t.count("SELECT CAST(SUM(refunded) AS BIGINT) FROM invoices")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT CAST(SUM(refunded) AS BIGINT) FROM payments")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM invoices WHERE locked_by_attempt IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.refused'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_saved_card_pays_from_the_office() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Saved Sam", &[2000, 3000]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "k-save-1",
            serde_json::json!({"invoice_ids": [inv[0]], "payment_method": card,
                "save_card_and_enroll_autopay": true, "autopay_consent": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let method_id = r.json()["autopay"]["method_id"]
        .as_str()
        .unwrap()
        .to_string();

    let form = o
        .get(&t, &format!("/office/payments/new?customer_id={c}"))
        .await;
    assert!(
        form.body.contains(&format!(
            "Saved card: Visa ending 4242, expires {}",
            t.exp_shown().replace('/', "&#x2f;")
        )),
        "{}",
        form.body
    );
    assert!(form.body.contains(&method_id));
    let r = record(&t, &o, &c, &[&inv[1]], &[("method", &method_id)]).await;
    let pay = payment_of(&r);
    assert_eq!(t.balance(&inv[1]).await, 0);
    let list = o.get(&t, "/office/payments?channel=office").await;
    assert!(list.body.contains(&pay));
    assert!(list.body.contains("id=\"total-amount\">$30.00<"));

    // Another customer's saved card is not this customer's.
    let (other, other_inv) = customer_with_invoices(&t, "Other Olly", &[1000]).await;
    let r = record(&t, &o, &other, &[&other_inv[0]], &[("method", &method_id)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("saved card is not on this account"));
    assert_eq!(t.balance(&other_inv[0]).await, 1000);
}

/// The form key's unique index holds only the payments that have a key
/// (cash and check recorded by the office), not one empty entry per card
/// payment; the office's lookup of a key searches it.
#[tokio::test]
async fn the_form_key_index_holds_keyed_payments_only() {
    if crate::support::on_postgres() {
        eprintln!("SQLite's query plan: not asked of PostgreSQL");
        return;
    }
    let t = TestApp::new().await;
    let plan = t
        .sqlite_plan(fieldpay::store::payments::FIND_BY_OFFICE_KEY_SQL)
        .await;
    assert!(
        plan.iter().any(|d| d
            == "SEARCH payments USING INDEX payments_office_key (company_id=? AND office_key=?)"),
        "{plan:?}"
    );
    let definition: String = fieldpay::store::sql::query_scalar(
        "SELECT sql FROM sqlite_schema WHERE name = 'payments_office_key'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert!(
        definition.starts_with("CREATE UNIQUE INDEX")
            && definition.ends_with("WHERE office_key IS NOT NULL"),
        "{definition}"
    );
}
