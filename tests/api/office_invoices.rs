//! Office invoices: the list with filters and totals, create and edit forms
//! (dollar amounts to exact cents), the invoice page, voiding, and what an
//! office may not do (another company's invoice, an invoice already paid).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::{Date, Duration};

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, Resp, TestApp};

async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

fn iso(d: Date) -> String {
    fieldpay::domain::dates::iso(d)
}

/// An invoice through the API with a number, issue and due dates; its id.
async fn invoice_at(
    t: &TestApp,
    property: &str,
    number: &str,
    amount: i64,
    issue: Date,
    due: Date,
) -> String {
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({
                "property_id": property,
                "number": number,
                "issue_date": iso(issue),
                "due_date": iso(due),
                "lines": [{"description": "Quarterly pest control", "quantity": 1, "unit_price": amount}]
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// Pays invoices in full with the sandbox's good card.
async fn pay_in_full(t: &TestApp, customer: &str, invoices: &[&str]) {
    let token = t.token(customer).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            &format!("k-{}", invoices.join("-")),
            json!({"invoice_ids": invoices, "payment_method": card}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// The ids of the invoices on a customer's quick-pay page data.
async fn payable_ids(t: &TestApp, customer: &str) -> Vec<String> {
    let token = t.token(customer).await;
    let r = t.get(&format!("/api/v1/pay/{token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let data: Value = r.json();
    data["properties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["invoices"].as_array().unwrap().clone())
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// The fields of an invoice form: property, dates, then the line rows, each
/// `(description, quantity, unit_price)`, padded with blank rows to five.
fn form<'a>(
    property: &'a str,
    issue: &'a str,
    due: &'a str,
    lines: &[(&'a str, &'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("property_id", property),
        ("number", ""),
        ("issue_date", issue),
        ("due_date", due),
    ];
    let mut rows = lines.to_vec();
    while rows.len() < 5 {
        rows.push(("", "1", ""));
    }
    for (d, q, p) in rows {
        f.push(("description", d));
        f.push(("quantity", q));
        f.push(("unit_price", p));
    }
    f
}

fn location(r: &Resp) -> String {
    r.header("location").to_string()
}

/// The invoice id a create or edit redirected to.
fn id_from_location(r: &Resp) -> String {
    let loc = location(r);
    let rest = loc
        .strip_prefix("/office/invoices/")
        .unwrap_or_else(|| panic!("{loc}"));
    rest.split('?').next().unwrap().to_string()
}

async fn audit_count(t: &TestApp, action: &str, subject: &str) -> i64 {
    fieldpay::store::sql::query_scalar(
        "SELECT COUNT(*) FROM audit_log WHERE action = $1 AND subject = $2",
    )
    .bind(action)
    .bind(subject)
    .fetch_one(t.app.db.reader())
    .await
    .unwrap()
}

#[tokio::test]
async fn create_with_two_lines_totals_exactly() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let landlord = t.customer("Lena Landlord").await;
    let tenant = t.customer("Tom Tenant").await;
    let property = t
        .property("12 Elm St, Austin", &tenant, Some(&landlord))
        .await;

    let stranger = t.customer("Sam Stranger").await;
    t.property("99 Far Rd", &stranger, None).await;
    let mine = o
        .get(
            &t,
            &format!("/office/invoices/new?customer_id={landlord}&property_id={property}"),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(!mine.body.contains("99 Far Rd"));
    assert!(
        mine.body
            .contains(&format!("<option value=\"{property}\" selected>"))
    );
    let page = o.get(&t, "/office/invoices/new").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("12 Elm St, Austin — billed to Lena Landlord (resident Tom Tenant)")
    );
    assert_eq!(page.body.matches("name=\"description\"").count(), 5);
    assert!(page.body.contains(&format!("value=\"{}\"", iso(t.today()))));

    let issue = iso(t.today());
    let due = iso(t.today() + Duration::days(30));
    let r = o
        .post(
            &t,
            "/office/invoices",
            &form(
                &property,
                &issue,
                &due,
                &[
                    ("Quarterly service", "1", "89.00"),
                    ("Termite bait station", "2", "45.50"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_from_location(&r);

    let inv = t.invoice_json(&id).await;
    assert_eq!(inv["total"], 18000);
    assert_eq!(inv["balance"], 18000);
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["bill_to_customer_id"], landlord.as_str());
    assert_eq!(inv["lines"].as_array().unwrap().len(), 2);
    assert_eq!(inv["lines"][1]["unit_price"], 4550);
    assert_eq!(inv["lines"][1]["amount"], 9100);
    assert_eq!(audit_count(&t, "invoice.created", &id).await, 1);

    let view = o.get(&t, &location(&r)).await;
    assert_eq!(view.status, StatusCode::OK);
    for text in [
        "was created",
        "$180.00",
        "$91.00",
        "Termite bait station",
        "Lena Landlord",
        "Billed on behalf of the resident",
        "Tom Tenant",
        "No payments have been applied",
    ] {
        assert!(view.body.contains(text), "missing {text}");
    }
    // It is on the landlord's quick-pay page.
    assert!(payable_ids(&t, &landlord).await.contains(&id));
}

#[tokio::test]
async fn bad_input_is_refused_next_to_the_field_and_nothing_is_written() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Ada Owner").await;
    let property = t.property("1 Oak Ln", &c, None).await;
    let issue = iso(t.today());
    let due = iso(t.today() + Duration::days(30));

    let r = o
        .post(
            &t,
            "/office/invoices",
            &form(&property, &issue, &due, &[("Service", "1", "12.345")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("id=\"l1-p-err\">Enter at most two decimals"),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"12.345\""), "typed value kept");
    assert!(r.body.contains("value=\"Service\""));

    for q in ["0", "-2", "1.5"] {
        let r = o
            .post(
                &t,
                "/office/invoices",
                &form(
                    &property,
                    &issue,
                    &due,
                    &[("Fine", "1", "10.00"), ("Service", q, "10.00")],
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "quantity {q}");
        assert!(
            r.body
                .contains("id=\"l2-q-err\">Quantity must be a whole number of at least 1."),
            "quantity {q}: {}",
            r.body
        );
        assert!(r.body.contains(&format!("value=\"{q}\"")));
    }

    let r = o
        .post(&t, "/office/invoices", &form(&property, &issue, &due, &[]))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Add at least one line"));

    let r = o
        .post(
            &t,
            "/office/invoices",
            &form(&property, &issue, &due, &[("Service", "1", "-5.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("must not be negative"));

    let r = o
        .post(
            &t,
            "/office/invoices",
            &form(&property, &due, &issue, &[("Service", "1", "5.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("id=\"i-due-err\">The due date cannot be before the issue date.")
    );

    let r = o
        .post(
            &t,
            "/office/invoices",
            &form("", &issue, &due, &[("Service", "1", "5.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"i-property-err\">Choose the property"));

    // A forged form.
    let mut forged = form(&property, &issue, &due, &[("Service", "1", "5.00")]);
    forged.push(("csrf", "forged"));
    let r = o.post(&t, "/office/invoices", &forged).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    assert_eq!(t.count("SELECT COUNT(*) FROM invoices").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM invoice_lines").await, 0);

    // A number already taken: the message sits by the number field.
    invoice_at(&t, &property, "A-7", 1000, t.today(), t.today()).await;
    let mut dup = form(&property, &issue, &due, &[("Service", "1", "5.00")]);
    dup[1] = ("number", "A-7");
    let r = o.post(&t, "/office/invoices", &dup).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("id=\"i-number-err\">Invoice number A-7 is already used")
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM invoices").await, 1);
}

#[tokio::test]
async fn list_filters_and_totals() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Fay Filter").await;
    let other = t.customer("Otto Other").await;
    let p = t.property("5 Filter Rd", &c, None).await;
    let p2 = t.property("9 Other Rd", &other, None).await;
    let d = |n: i64| t.today() + Duration::days(n);

    let overdue = invoice_at(&t, &p, "INV-OVERDUE", 10000, d(-40), d(-10)).await;
    let open = invoice_at(&t, &p, "INV-OPEN", 2000, d(-5), d(25)).await;
    let paid = invoice_at(&t, &p, "INV-PAID", 3000, d(-20), d(10)).await;
    let void = invoice_at(&t, &p, "INV-VOID", 4000, d(-3), d(27)).await;
    let others = invoice_at(&t, &p2, "INV-OTTO", 500, d(-60), d(-30)).await;
    pay_in_full(&t, &c, &[&paid]).await;
    let r = o
        .post(&t, &format!("/office/invoices/{void}/void"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let _ = (&overdue, &open, &others);

    let shows = |r: &Resp, numbers: &[&str]| {
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        for n in [
            "INV-OVERDUE",
            "INV-OPEN",
            "INV-PAID",
            "INV-VOID",
            "INV-OTTO",
        ] {
            assert_eq!(
                r.body.contains(&format!(">{n}<")),
                numbers.contains(&n),
                "{n} expected {} in {numbers:?}",
                numbers.contains(&n)
            );
        }
    };

    let all = o.get(&t, "/office/invoices").await;
    shows(
        &all,
        &[
            "INV-OVERDUE",
            "INV-OPEN",
            "INV-PAID",
            "INV-VOID",
            "INV-OTTO",
        ],
    );
    // Totals: void not counted as invoiced; open balance = open invoices only.
    assert!(all.body.contains("<p class=\"value\">5</p>"));
    assert!(all.body.contains("$155.00"), "total 100+20+30+5");
    assert!(all.body.contains("$125.00"), "open balance 100+20+5");
    // Newest first.
    let at = |n: &str| all.body.find(&format!(">{n}<")).unwrap();
    assert!(at("INV-VOID") < at("INV-OPEN") && at("INV-OPEN") < at("INV-PAID"));
    assert!(at("INV-PAID") < at("INV-OVERDUE") && at("INV-OVERDUE") < at("INV-OTTO"));
    assert!(all.body.contains("Overdue by 10 days"));

    let r = o.get(&t, "/office/invoices?status=open").await;
    shows(&r, &["INV-OVERDUE", "INV-OPEN", "INV-OTTO"]);
    let r = o.get(&t, "/office/invoices?status=overdue").await;
    shows(&r, &["INV-OVERDUE", "INV-OTTO"]);
    assert!(r.body.contains("$105.00"));
    let r = o.get(&t, "/office/invoices?status=paid").await;
    shows(&r, &["INV-PAID"]);
    let r = o.get(&t, "/office/invoices?status=void").await;
    shows(&r, &["INV-VOID"]);
    assert!(
        r.body.contains("<p class=\"value\">$0.00</p>"),
        "void is not owed"
    );

    let r = o
        .get(
            &t,
            &format!(
                "/office/invoices?status=all&from={}&to={}",
                iso(d(-25)),
                iso(d(-4))
            ),
        )
        .await;
    shows(&r, &["INV-OPEN", "INV-PAID"]);
    let r = o
        .get(
            &t,
            &format!("/office/invoices?status=open&from={}", iso(d(-5))),
        )
        .await;
    shows(&r, &["INV-OPEN"]);

    let r = o
        .get(&t, &format!("/office/invoices?customer_id={other}"))
        .await;
    shows(&r, &["INV-OTTO"]);
    assert!(r.body.contains("billed to Otto Other"));

    let r = o.get(&t, "/office/invoices?from=12%2F01%2F2026").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains(fieldpay::domain::dates::ENTER_A_DATE));
    let r = o.get(&t, "/office/invoices?status=owed").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn edit_while_unpaid_replaces_lines_total_and_balance() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Eddie Edit").await;
    let p = t.property("3 Edit Ave", &c, None).await;
    let id = t.invoice(&p, 5000, &t.day(17)).await;

    let form_page = o.get(&t, &format!("/office/invoices/{id}/edit")).await;
    assert_eq!(form_page.status, StatusCode::OK);
    assert!(form_page.body.contains("value=\"50.00\""));
    assert!(form_page.body.contains("value=\"Quarterly pest control\""));

    // A bad edit changes nothing.
    let issue = iso(t.today());
    let due = iso(t.today() + Duration::days(14));
    let bad = o
        .post(
            &t,
            &format!("/office/invoices/{id}/edit"),
            &form("", &issue, &due, &[("Service", "2", "1.001")]),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.balance(&id).await, 5000);

    let r = o
        .post(
            &t,
            &format!("/office/invoices/{id}/edit"),
            &form(
                "",
                &issue,
                &due,
                &[
                    ("Interior service", "2", "30.00"),
                    ("Rodent check", "1", "15.25"),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let inv = t.invoice_json(&id).await;
    assert_eq!(inv["total"], 7525);
    assert_eq!(inv["balance"], 7525);
    assert_eq!(inv["due_date"], due.as_str());
    assert_eq!(inv["lines"].as_array().unwrap().len(), 2);
    assert_eq!(audit_count(&t, "invoice.edited", &id).await, 1);
    let view = o.get(&t, &location(&r)).await;
    assert!(view.body.contains("was updated") && view.body.contains("$75.25"));
    assert!(!view.body.contains("Quarterly pest control"));
}

#[tokio::test]
async fn edit_and_void_are_refused_after_a_payment_or_while_one_is_in_progress() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Pat Paid").await;
    let p = t.property("8 Paid Pl", &c, None).await;
    let paid = t.invoice(&p, 5000, &t.day(17)).await;
    pay_in_full(&t, &c, &[&paid]).await;

    let view = o.get(&t, &format!("/office/invoices/{paid}")).await;
    assert!(view.body.contains("Visa ending 4242") && view.body.contains("$50.00"));
    assert!(!view.body.contains(&format!("/office/invoices/{paid}/edit")));
    assert!(!view.body.contains(&format!("/office/invoices/{paid}/void")));

    let issue = iso(t.today());
    let r = o.get(&t, &format!("/office/invoices/{paid}/edit")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("can no longer be edited"));
    let r = o
        .post(
            &t,
            &format!("/office/invoices/{paid}/edit"),
            &form("", &issue, &issue, &[("Cheaper", "1", "1.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("A payment has been applied to invoice"));

    let r = o.get(&t, &format!("/office/invoices/{paid}/void")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = o
        .post(&t, &format!("/office/invoices/{paid}/void"), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("can no longer be voided"));
    let inv = t.invoice_json(&paid).await;
    assert_eq!(
        (inv["status"].as_str(), inv["total"].as_i64()),
        (Some("paid"), Some(5000))
    );
    assert_eq!(audit_count(&t, "invoice.voided", &paid).await, 0);
    assert_eq!(audit_count(&t, "invoice.edited", &paid).await, 0);

    // A payment in progress holds the invoice: neither edit nor void now.
    let held = t.invoice(&p, 7000, &t.day(17)).await;
    fieldpay::store::sql::query(
        "UPDATE invoices SET locked_by_attempt = 'att_in_flight' WHERE id = $1",
    )
    .bind(&held)
    .execute(t.app.db.writer())
    .await
    .unwrap();
    let view = o.get(&t, &format!("/office/invoices/{held}")).await;
    assert!(view.body.contains("being processed right now"));
    let r = o
        .post(
            &t,
            &format!("/office/invoices/{held}/edit"),
            &form("", &issue, &issue, &[("Cheaper", "1", "1.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("being processed right now"));
    let r = o
        .post(&t, &format!("/office/invoices/{held}/void"), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("being processed right now"));
    let inv = t.invoice_json(&held).await;
    assert_eq!(
        (inv["status"].as_str(), inv["total"].as_i64()),
        (Some("open"), Some(7000))
    );
}

#[tokio::test]
async fn void_asks_once_then_takes_the_invoice_off_the_pay_page() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Vic Void").await;
    let p = t.property("4 Void St", &c, None).await;
    let id = t.invoice(&p, 6500, &t.day(17)).await;
    let keep = t.invoice(&p, 1000, &t.day(17)).await;
    let number = t.invoice_json(&id).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(payable_ids(&t, &c).await.contains(&id));

    let ask = o.get(&t, &format!("/office/invoices/{id}/void")).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        ask.body.contains(&format!(
            "Void invoice {number}? It will no longer be payable"
        )),
        "{}",
        ask.body
    );
    assert!(ask.body.contains("$65.00"));
    // Asking changed nothing.
    assert_eq!(t.invoice_json(&id).await["status"], "open");

    let r = o
        .post(&t, &format!("/office/invoices/{id}/void"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let inv = t.invoice_json(&id).await;
    assert_eq!(inv["status"], "void");
    let voided_at: Option<time::OffsetDateTime> =
        fieldpay::store::sql::query_scalar("SELECT voided_at FROM invoices WHERE id = $1")
            .bind(&id)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert!(voided_at.is_some());
    assert_eq!(audit_count(&t, "invoice.voided", &id).await, 1);

    let view = o.get(&t, &location(&r)).await;
    assert!(view.body.contains("was voided") && view.body.contains("badge void"));

    let payable = payable_ids(&t, &c).await;
    assert!(!payable.contains(&id) && payable.contains(&keep));
    // Paying it anyway is refused and charges nothing.
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let r = t
        .pay(
            &token,
            "pay-void",
            json!({"invoice_ids": [id], "payment_method": card}),
        )
        .await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );

    // Voiding twice says so.
    let r = o
        .post(&t, &format!("/office/invoices/{id}/void"), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("already void"));
    assert_eq!(audit_count(&t, "invoice.voided", &id).await, 1);
}

#[tokio::test]
async fn another_companys_invoice_is_a_404() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let key = t.other_company().await;
    let r = t
        .api_with_key(
            &key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Their Customer"})),
        )
        .await;
    let their_customer = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            &key,
            Method::POST,
            "/api/v1/properties",
            Some(json!({"address": "1 Their St", "resident_customer_id": their_customer})),
        )
        .await;
    let their_property = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            &key,
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": their_property, "due_date": t.day(17),
                "lines": [{"description": "Theirs", "quantity": 1, "unit_price": 900}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let theirs = r.json()["id"].as_str().unwrap().to_string();

    for path in [
        format!("/office/invoices/{theirs}"),
        format!("/office/invoices/{theirs}/edit"),
        format!("/office/invoices/{theirs}/void"),
        format!("/office/invoices?customer_id={their_customer}"),
        format!("/office/invoices/new?customer_id={their_customer}"),
        "/office/invoices/inv_nope".to_string(),
    ] {
        assert_eq!(
            o.get(&t, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let issue = iso(t.today());
    let r = o
        .post(&t, &format!("/office/invoices/{theirs}/void"), &[])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = o
        .post(
            &t,
            &format!("/office/invoices/{theirs}/edit"),
            &form("", &issue, &issue, &[("Mine now", "1", "1.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Their property cannot be billed from here.
    let r = o
        .post(
            &t,
            "/office/invoices",
            &form(&their_property, &issue, &issue, &[("Sneaky", "1", "1.00")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a property from the list."));
    assert!(
        !o.get(&t, "/office/invoices/new")
            .await
            .body
            .contains("1 Their St")
    );
    assert!(!o.get(&t, "/office/invoices").await.body.contains("Theirs"));

    let theirs_now = t
        .api_with_key(
            &key,
            Method::GET,
            &format!("/api/v1/invoices/{theirs}"),
            None,
        )
        .await;
    let inv = theirs_now.json();
    assert_eq!(
        (inv["status"].as_str(), inv["total"].as_i64()),
        (Some("open"), Some(900))
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM invoices").await, 1);
}

#[tokio::test]
async fn what_users_typed_renders_as_text() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("<script>alert(1)</script>").await;
    let p = t.property("<b>7 Markup Way</b>", &c, None).await;
    let issue = iso(t.today());
    let r = o
        .post(
            &t,
            "/office/invoices",
            &form(
                &p,
                &issue,
                &issue,
                &[("<img src=x onerror=alert(2)>", "1", "10.00")],
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let id = id_from_location(&r);

    let pages = [
        o.get(&t, &format!("/office/invoices/{id}")).await,
        o.get(&t, "/office/invoices").await,
        o.get(&t, "/office/invoices/new").await,
        o.get(&t, &format!("/office/invoices/{id}/edit")).await,
        o.get(&t, &format!("/office/invoices/{id}/void")).await,
    ];
    for page in &pages {
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("<script>alert(1)"), "{}", page.body);
        assert!(!page.body.contains("<b>7 Markup"));
        assert!(!page.body.contains("<img src=x"));
    }
    assert!(
        pages[0]
            .body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(pages[0].body.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(
        pages[1]
            .body
            .contains("&lt;b&gt;7 Markup Way&lt;&#x2f;b&gt;")
    );
    // A failed form keeps the markup typed, escaped.
    let bad = o
        .post(
            &t,
            "/office/invoices",
            &form(
                &p,
                &issue,
                &issue,
                &[("<i>x</i>\" onfocus=\"alert(3)", "0", "1")],
            ),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!bad.body.contains("<i>x</i>") && !bad.body.contains("\" onfocus=\"alert(3)"));
}
