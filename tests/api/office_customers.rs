//! The office Customers and Properties pages: list and search, create and
//! edit, properties and who pays for them, and the payment link (copy, open,
//! rotate, revoke).

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::{Office, urlencode};
use crate::support::{BASE_URL, OWNER_PASSWORD, Resp, TestApp, customer_with_invoices};

async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

/// The customer id a create redirect points at.
fn created_id(r: &Resp) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.header("location");
    let rest = loc
        .strip_prefix("/office/customers/")
        .unwrap_or_else(|| panic!("redirect to {loc}"));
    rest.split('?').next().unwrap().to_string()
}

/// The payment-link URL shown on a customer page.
fn shown_link(html: &str) -> String {
    let marker = "id=\"paylink\"";
    let at = html.find(marker).expect("payment link field");
    let value = &html[at..];
    let v = value.find("value=\"").unwrap() + "value=\"".len();
    value[v..v + value[v..].find('"').unwrap()].replace("&#x2f;", "/")
}

fn token_of(url: &str) -> String {
    url.rsplit('/').next().unwrap().to_string()
}

/// The first `/office/properties/{id}/edit` link on a page.
fn property_id(html: &str) -> String {
    let marker = "/office/properties/";
    let at = html.find(marker).expect("property edit link") + marker.len();
    html[at..at + html[at..].find('/').unwrap()].to_string()
}

async fn count(t: &TestApp, sql: &'static str) -> i64 {
    t.count(sql).await
}

#[tokio::test]
async fn a_customer_created_with_the_form_has_a_working_payment_link_at_once() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let form = o.get(&t, "/office/customers/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("name=\"billing_address\""));

    let r = o
        .post(
            &t,
            "/office/customers",
            &[
                ("name", "Lena Landlord"),
                ("email", "lena@example.com"),
                ("phone", "(512) 555-0199"),
                ("billing_address", "PO Box 12, Austin TX"),
            ],
        )
        .await;
    let id = created_id(&r);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM payment_links").await, 1);

    let page = o.get(&t, r.header("location")).await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "Lena Landlord",
        "lena@example.com",
        "(512) 555-0199",
        "PO Box 12, Austin TX",
        "Customer created",
        "target=\"_blank\" rel=\"noopener noreferrer\"",
        "/static/office.js",
    ] {
        assert!(page.body.contains(text), "{text} missing");
    }
    let url = shown_link(&page.body);
    assert!(url.starts_with(&format!("{BASE_URL}/pay/")), "{url}");
    assert_eq!(url, t.link_url(&id).await);
    assert_eq!(
        t.get(&format!("/pay/{}", token_of(&url))).await.status,
        StatusCode::OK
    );

    // The list shows it, and search finds it by name, phone digits and address.
    let list = o.get(&t, "/office/customers").await;
    assert!(list.body.contains(&format!("/office/customers/{id}")));
    assert!(list.body.contains("New customer"));
    for q in ["lena", "512-555-0199", "austin", "LENA@EXAMPLE"] {
        let found = o
            .get(&t, &format!("/office/customers?q={}", urlencode(q)))
            .await;
        assert!(found.body.contains("Lena Landlord"), "search {q}");
    }
    let none = o.get(&t, "/office/customers?q=nobody%25").await;
    assert!(!none.body.contains("Lena Landlord"));
    assert!(none.body.contains("No customer matches"));
}

#[tokio::test]
async fn invalid_forms_keep_what_was_typed_and_write_nothing() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let r = o
        .post(
            &t,
            "/office/customers",
            &[
                ("name", "  "),
                ("email", "not-an-email"),
                ("phone", "12"),
                ("billing_address", "9 Typed Lane"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    for text in [
        "Enter the customer&#x27;s name.",
        "Enter an email address like name@example.com",
        "must be a phone number",
        "value=\"not-an-email\"",
        "value=\"12\"",
        "9 Typed Lane",
        "aria-invalid=\"true\"",
    ] {
        assert!(r.body.contains(text), "{text} missing in {}", r.body);
    }
    assert_eq!(count(&t, "SELECT COUNT(*) FROM customers").await, 0);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM payment_links").await, 0);

    // Editing: a bad email is refused and the customer is unchanged.
    let c = t.customer("Edith Edit").await;
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/edit"),
            &[("name", "Edith Edited"), ("email", "edith at example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("value=\"Edith Edited\""));
    assert!(r.body.contains("value=\"edith at example\""));
    let api = t
        .api(Method::GET, &format!("/api/v1/customers/{c}"), None)
        .await;
    assert_eq!(api.json()["name"], "Edith Edit");
}

#[tokio::test]
async fn contact_details_can_be_edited() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Edgar Old").await;
    let form = o.get(&t, &format!("/office/customers/{c}/edit")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("value=\"Edgar Old\""));
    assert!(form.body.contains("value=\"x@example.com\""));

    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/edit"),
            &[
                ("name", "Edgar New"),
                ("email", ""),
                ("phone", "512 555 0101"),
                ("billing_address", "1 New Rd"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, &format!("/office/customers/{c}")).await;
    assert!(page.body.contains("Edgar New"));
    // Stored in E.164, shown as written in the company's country.
    assert!(page.body.contains("(512) 555-0101"));
    assert!(page.body.contains("1 New Rd"));
    let api = t
        .api(Method::GET, &format!("/api/v1/customers/{c}"), None)
        .await
        .json();
    assert_eq!(api["name"], "Edgar New");
    assert_eq!(api["phone"], "+15125550101");
    assert!(api["email"].is_null());
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'customer.updated' AND actor LIKE 'office:%'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn properties_are_added_with_a_bill_to_and_changing_it_affects_future_invoices_only() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let tenant = t.customer("Tina Tenant").await;
    let landlord = t.customer("Lena Landlord").await;

    // The select offers the company's customers.
    let page = o.get(&t, &format!("/office/customers/{tenant}")).await;
    assert!(page.body.contains(&format!("<option value=\"{landlord}\"")));

    // An empty address is refused next to the field; nothing is written.
    let bad = o
        .post(
            &t,
            &format!("/office/customers/{tenant}/properties"),
            &[("address", " "), ("bill_to", &landlord)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Enter the service address."));
    assert!(
        bad.body
            .contains(&format!("<option value=\"{landlord}\" selected"))
    );
    assert_eq!(count(&t, "SELECT COUNT(*) FROM properties").await, 0);

    let r = o
        .post(
            &t,
            &format!("/office/customers/{tenant}/properties"),
            &[("address", "12 Elm St"), ("bill_to", &landlord)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let page = o.get(&t, &format!("/office/customers/{tenant}")).await;
    assert!(page.body.contains("12 Elm St"));
    assert!(page.body.contains("Tina Tenant (this customer)"));
    assert!(page.body.contains(&format!(
        "<a href=\"/office/customers/{landlord}\">Lena Landlord</a>"
    )));
    let property = property_id(&page.body);
    // The landlord's page lists it too, as the one responsible for billing.
    let lp = o.get(&t, &format!("/office/customers/{landlord}")).await;
    assert!(lp.body.contains("12 Elm St"));
    assert!(lp.body.contains("Lena Landlord (this customer)"));

    let before = t.invoice(&property, 5000, &t.day(17)).await;
    assert_eq!(
        t.invoice_json(&before).await["bill_to_customer_id"],
        json!(landlord)
    );

    // The edit form says what a change does.
    let edit = o
        .get(
            &t,
            &format!("/office/properties/{property}/edit?from={tenant}"),
        )
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    assert!(edit.body.contains("future invoices only"));
    assert!(edit.body.contains("12 Elm St"));

    // A bad address keeps what was typed.
    let bad = o
        .post(
            &t,
            &format!("/office/properties/{property}/edit"),
            &[("address", ""), ("bill_to", &tenant), ("from", &tenant)],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Enter the service address."));

    let r = o
        .post(
            &t,
            &format!("/office/properties/{property}/edit"),
            &[
                ("address", "12 Elm Street, Unit B"),
                ("bill_to", &tenant),
                ("from", &tenant),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.header("location")
            .starts_with(&format!("/office/customers/{tenant}"))
    );

    // The invoice already issued stays with the landlord; the next goes to the tenant.
    assert_eq!(
        t.invoice_json(&before).await["bill_to_customer_id"],
        json!(landlord)
    );
    let after = t.invoice(&property, 5000, &t.day(48)).await;
    assert_eq!(
        t.invoice_json(&after).await["bill_to_customer_id"],
        json!(tenant)
    );
    let page = o.get(&t, &format!("/office/customers/{tenant}")).await;
    assert!(page.body.contains("12 Elm Street, Unit B"));
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'property.bill_to_changed'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn rotate_and_revoke_from_the_customer_page_ask_first_then_act_at_once() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, _) = customer_with_invoices(&t, "Rotating Rosa", &[100]).await;
    let page = o.get(&t, &format!("/office/customers/{c}")).await;
    let old = token_of(&shown_link(&page.body));
    assert_eq!(t.get(&format!("/pay/{old}")).await.status, StatusCode::OK);

    // The first POST only asks.
    let ask = o
        .post(&t, &format!("/office/customers/{c}/link/rotate"), &[])
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("The current link stops working at once"));
    assert!(ask.body.contains("name=\"confirm\" value=\"yes\""));
    assert_eq!(t.get(&format!("/pay/{old}")).await.status, StatusCode::OK);

    let done = o
        .post(
            &t,
            &format!("/office/customers/{c}/link/rotate"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.get(&format!("/pay/{old}")).await.status,
        StatusCode::NOT_FOUND
    );
    let page = o.get(&t, done.header("location")).await;
    assert!(page.body.contains("A new payment link was issued"));
    let new = token_of(&shown_link(&page.body));
    assert_ne!(new, old);
    assert_eq!(t.get(&format!("/pay/{new}")).await.status, StatusCode::OK);

    // Revoke: asks, then the link is dead and the page says so.
    let ask = o
        .post(&t, &format!("/office/customers/{c}/link/revoke"), &[])
        .await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("The current link stops working at once"));
    assert_eq!(t.get(&format!("/pay/{new}")).await.status, StatusCode::OK);
    let done = o
        .post(
            &t,
            &format!("/office/customers/{c}/link/revoke"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.get(&format!("/pay/{new}")).await.status,
        StatusCode::NOT_FOUND
    );
    let page = o.get(&t, done.header("location")).await;
    assert!(page.body.contains("The payment link was revoked"));
    assert!(page.body.contains("Revoked"));
    assert!(page.body.contains("Issue a new link"));
    assert!(!page.body.contains(&new), "a revoked URL is not offered");

    // Issuing a new one brings the customer back.
    let done = o
        .post(
            &t,
            &format!("/office/customers/{c}/link/rotate"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let page = o.get(&t, &format!("/office/customers/{c}")).await;
    let third = token_of(&shown_link(&page.body));
    assert_eq!(t.get(&format!("/pay/{third}")).await.status, StatusCode::OK);
    assert_eq!(
        t.get(&format!("/pay/{new}")).await.status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payment_link.rotated' AND actor LIKE 'office:%'"
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'payment_link.revoked' AND actor LIKE 'office:%'"
        )
        .await,
        1
    );
    // An unknown action is a 404.
    let r = o
        .post(
            &t,
            &format!("/office/customers/{c}/link/explode"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_customer_page_shows_invoices_payments_cards_and_balance() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(&t, "Paying Pat", &[12500, 9000]).await;
    let property = o.get(&t, &format!("/office/customers/{c}")).await;
    let property = property_id(&property.body);
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({
                "property_id": property,
                "issue_date": t.day(-330),
                "due_date": t.day(-316),
                "lines": [{"description": "Termite inspection", "quantity": 1, "unit_price": 4000}]
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let overdue = r.json()["id"].as_str().unwrap().to_string();
    let mut numbers = Vec::new();
    for id in [&inv[0], &inv[1], &overdue] {
        numbers.push(
            t.invoice_json(id).await["number"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "office-customers-1",
            json!({"invoice_ids": [inv[0]], "payment_method": card,
                   "save_card_and_enroll_autopay": true, "autopay_consent": true}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::CREATED, "{}", paid.body);

    let page = o.get(&t, &format!("/office/customers/{c}")).await;
    assert_eq!(page.status, StatusCode::OK);
    // Minijinja escapes "/" as "&#x2f;"; a browser shows it as "/".
    let body = &page.body.replace("&#x2f;", "/");
    let expiry = t.exp_shown();
    let due = fieldpay::domain::dates::display(t.date(30));
    for text in [
        "$130.00",          // open balance: 90 + 40
        "$125.00",          // the payment, and the paid invoice's total
        "Paid",             // that invoice's state
        "Overdue by",       // the invoice due 316 days ago, in words
        "Visa ending 4242", // payment method and saved card
        &expiry,            // the card's expiry
        "Payment link",     // the channel it came through
        "Autopay is on",
        &due, // the open invoice's due date
    ] {
        assert!(body.contains(text), "{text} missing");
    }
    for n in &numbers {
        assert!(body.contains(&format!(">{n}</a>")), "invoice {n} missing");
    }
    let list = o.get(&t, "/office/customers?q=paying").await;
    assert!(list.body.contains("$130.00"));
    // Found by an invoice number too.
    let by_number = o
        .get(&t, &format!("/office/customers?q={}", numbers[2]))
        .await;
    assert!(by_number.body.contains("Paying Pat"));
}

#[tokio::test]
async fn another_companys_customers_and_properties_are_404() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let other_key = t.other_company().await;
    let r = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Olga Other"})),
        )
        .await;
    let theirs = r.json()["id"].as_str().unwrap().to_string();
    let r = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/properties",
            Some(json!({"address": "99 Other Rd", "resident_customer_id": theirs})),
        )
        .await;
    let their_property = r.json()["id"].as_str().unwrap().to_string();
    let their_link = t
        .api_with_key(
            &other_key,
            Method::GET,
            &format!("/api/v1/customers/{theirs}/payment-link"),
            None,
        )
        .await
        .json()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let ours = t.customer("Our Olive").await;

    for path in [
        format!("/office/customers/{theirs}"),
        format!("/office/customers/{theirs}/edit"),
        format!("/office/customers/{theirs}/link/rotate"),
        format!("/office/customers/{theirs}/link/revoke"),
        format!("/office/properties/{their_property}/edit"),
        "/office/customers/cus_nope".to_string(),
    ] {
        assert_eq!(
            o.get(&t, &path).await.status,
            StatusCode::NOT_FOUND,
            "GET {path}"
        );
    }
    let posts: [(String, Vec<(&str, &str)>); 5] = [
        (
            format!("/office/customers/{theirs}/edit"),
            vec![("name", "Hijacked")],
        ),
        (
            format!("/office/customers/{theirs}/properties"),
            vec![("address", "1 Sneaky St")],
        ),
        (
            format!("/office/customers/{theirs}/link/rotate"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/office/customers/{theirs}/link/revoke"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/office/properties/{their_property}/edit"),
            vec![("address", "1 Sneaky St"), ("bill_to", ours.as_str())],
        ),
    ];
    for (path, fields) in &posts {
        let r = o.post(&t, path, fields).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "POST {path}");
    }
    // Their customer cannot be made to pay for our property either.
    let r = o
        .post(
            &t,
            &format!("/office/customers/{ours}/properties"),
            &[("address", "5 Our St"), ("bill_to", &theirs)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a customer from the list."));

    // Nothing of theirs changed; their link still works; our list does not show them.
    let still = t
        .api_with_key(
            &other_key,
            Method::GET,
            &format!("/api/v1/customers/{theirs}"),
            None,
        )
        .await
        .json();
    assert_eq!(still["name"], "Olga Other");
    assert_eq!(count(&t, "SELECT COUNT(*) FROM properties").await, 1);
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'payment_link.%'"
        )
        .await,
        0
    );
    assert_eq!(
        t.get(&format!("/pay/{}", token_of(&their_link)))
            .await
            .status,
        StatusCode::OK
    );
    let list = o.get(&t, "/office/customers").await;
    assert!(!list.body.contains("Olga Other"));
    let found = o.get(&t, "/office/customers?q=olga").await;
    assert!(!found.body.contains("Olga Other"));
}

#[tokio::test]
async fn names_and_addresses_with_markup_render_as_text() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let evil = "<script>alert(1)</script>";
    let r = o
        .post(
            &t,
            "/office/customers",
            &[("name", evil), ("billing_address", "<b>bold</b> road")],
        )
        .await;
    let id = created_id(&r);
    let r = o
        .post(
            &t,
            &format!("/office/customers/{id}/properties"),
            &[("address", "<img src=x onerror=alert(2)>")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let escaped = "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;";
    for path in [
        "/office/customers".to_string(),
        format!("/office/customers/{id}"),
        format!("/office/customers/{id}/edit"),
        format!("/office/customers/{id}/link/revoke"),
        "/office/customers?q=script".to_string(),
    ] {
        let page = o.get(&t, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(!page.body.contains(evil), "raw markup on {path}");
        assert!(
            page.body.contains(escaped),
            "escaped name missing on {path}"
        );
        assert!(!page.body.contains("<img src=x"), "{path}");
        assert!(!page.body.contains("<b>bold</b>"), "{path}");
    }
    let detail = o.get(&t, &format!("/office/customers/{id}")).await;
    assert!(detail.body.contains("&lt;img src=x onerror=alert(2)&gt;"));
}

#[tokio::test]
async fn posts_without_the_csrf_token_are_refused_and_change_nothing() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let c = t.customer("Careful Carl").await;
    let p = t.property("1 Guarded Way", &c, None).await;
    let token = t.token(&c).await;
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/office/customers".into(), vec![("name", "Forged")]),
        (
            format!("/office/customers/{c}/edit"),
            vec![("name", "Forged")],
        ),
        (
            format!("/office/customers/{c}/properties"),
            vec![("address", "Forged")],
        ),
        (
            format!("/office/customers/{c}/link/rotate"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/office/customers/{c}/link/revoke"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/office/properties/{p}/edit"),
            vec![("address", "Forged"), ("bill_to", c.as_str())],
        ),
    ];
    for (path, fields) in &posts {
        // A wrong token, and no token at all.
        let mut forged = fields.clone();
        forged.push(("csrf", "forged"));
        assert_eq!(
            o.post(&t, path, &forged).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect();
        let r = t
            .request(
                Method::POST,
                path,
                &[
                    ("cookie", &o.cookie),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                Some(body.join("&")),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} without csrf");
    }
    assert_eq!(count(&t, "SELECT COUNT(*) FROM customers").await, 1);
    assert_eq!(count(&t, "SELECT COUNT(*) FROM properties").await, 1);
    assert_eq!(
        count(&t, "SELECT COUNT(*) FROM customers WHERE name = 'Forged'").await,
        0
    );
    assert_eq!(
        count(
            &t,
            "SELECT COUNT(*) FROM properties WHERE address = 'Forged'"
        )
        .await,
        0
    );
    assert_eq!(t.get(&format!("/pay/{token}")).await.status, StatusCode::OK);
}
