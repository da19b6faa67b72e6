//! The quick payment page for thumbs: invoices grouped "Due now" and
//! "Upcoming" (only those due preselected), the total and the Pay button in
//! one bar, and autopay's state with its "Turn off autopay" control.

use axum::http::{Method, StatusCode};

use crate::pay_form::{hidden, submit};
use crate::support::TestApp;

/// The `<input>` of an invoice's checkbox.
fn checkbox<'a>(html: &'a str, invoice: &str) -> &'a str {
    let at = html
        .find(&format!("value=\"{invoice}\" id=\"inv-{invoice}\""))
        .unwrap_or_else(|| panic!("no checkbox for {invoice}"));
    let end = at + html[at..].find('>').unwrap();
    &html[at..end]
}

/// Where a text first appears on the page.
fn at(html: &str, text: &str) -> usize {
    html.find(text)
        .unwrap_or_else(|| panic!("{text:?} is not on the page"))
}

#[tokio::test]
async fn due_invoices_are_grouped_first_and_preselected_upcoming_ones_are_not() {
    let t = TestApp::new().await;
    let c = t.customer("Gina Groups").await;
    let home = t.property("7 Elm St", &c, None).await;
    let shop = t.property("90 Market Sq", &c, None).await;
    let overdue = t.invoice(&home, 8900, &t.day(-10)).await;
    let today = t.invoice(&shop, 4000, &t.day(0)).await;
    let soon = t.invoice(&home, 6500, &t.day(1)).await;
    let later = t.invoice(&shop, 12000, &t.day(25)).await;
    let token = t.token(&c).await;

    let page = t.get(&format!("/pay/{token}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.body;
    // Two groups, "Due now" first; a property appears in each group it has
    // invoices in.
    let due_now = at(
        html,
        "<h2 class=\"group-title\" id=\"group-due\">Due now</h2>",
    );
    let upcoming = at(
        html,
        "<h2 class=\"group-title\" id=\"group-upcoming\">Upcoming</h2>",
    );
    assert!(due_now < upcoming);
    for inv in [&overdue, &today] {
        let i = at(html, &format!("id=\"inv-{inv}\""));
        assert!(due_now < i && i < upcoming, "{inv} is not due now");
        assert!(checkbox(html, inv).ends_with(" checked"), "{inv}");
    }
    for inv in [&soon, &later] {
        assert!(at(html, &format!("id=\"inv-{inv}\"")) > upcoming, "{inv}");
        assert!(!checkbox(html, inv).contains("checked"), "{inv}");
    }
    assert_eq!(html.matches(">7 Elm St</h3>").count(), 2);
    assert_eq!(html.matches(">90 Market Sq</h3>").count(), 2);
    // Only what is due counts in the total; the bar holds the total and the
    // button, and "Select all" is not ticked while upcoming ones are not.
    let bar = at(html, "<div class=\"paybar\"");
    let bar_html = &html[bar..bar + html[bar..].find("</div>").unwrap()];
    assert!(
        bar_html.contains(
            "Total selected: <strong id=\"total\" data-currency=\"usd\">$129.00</strong>"
        ),
        "{bar_html}"
    );
    assert!(
        bar_html.contains("id=\"pay-button\">Pay $129.00</button>"),
        "{bar_html}"
    );
    assert!(html.contains("<input type=\"checkbox\" id=\"select-all\">"));
    // The card fields ask for the right keyboards and autofill.
    for (id, auto) in [
        ("cc-name", "cc-name"),
        ("cc-number", "cc-number"),
        ("cc-exp", "cc-exp"),
        ("cc-cvc", "cc-csc"),
    ] {
        let field = &html[at(html, &format!("<input id=\"{id}\""))..];
        let field = &field[..field.find('>').unwrap()];
        assert!(
            field.contains(&format!("autocomplete=\"{auto}\"")),
            "{field}"
        );
        if id != "cc-name" {
            assert!(field.contains("inputmode=\"numeric\""), "{field}");
        }
        assert!(
            !field.contains(" name="),
            "card data is never posted: {field}"
        );
    }
    // Nothing from another origin.
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
}

#[tokio::test]
async fn only_upcoming_invoices_start_with_nothing_selected_and_can_still_be_paid() {
    let t = TestApp::new().await;
    let c = t.customer("Ulla Upcoming").await;
    let p = t.property("3 Pine Rd", &c, None).await;
    let inv = t.invoice(&p, 7500, &t.day(14)).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(!page.body.contains("id=\"group-due\""));
    assert!(page.body.contains(">Upcoming</h2>"));
    assert!(!checkbox(&page.body, &inv).contains("checked"));
    assert!(
        page.body
            .contains("<strong id=\"total\" data-currency=\"usd\">$0.00</strong>")
    );
    // Without JavaScript the button still submits what is ticked.
    assert!(
        page.body
            .contains("id=\"pay-button\">Pay selected invoices</button>")
    );
    let card = t.card("4242424242424242").await;
    let r = submit(
        &t,
        &token,
        &[
            ("form_nonce", &hidden(&page.body, "form_nonce")),
            ("form_sig", &hidden(&page.body, "form_sig")),
            ("invoice_ids", &inv),
            ("payment_method", "new_card"),
            ("card_token", &card),
            ("plan", "once"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.balance(&inv).await, 0);
}

/// Pays `pay` with a new card and turns autopay on with it, from the page.
async fn pay_with_autopay(t: &TestApp, token: &str, pay: &str) {
    let page = t.get(&format!("/pay/{token}")).await;
    let card = t.card("4242424242424242").await;
    let r = submit(
        t,
        token,
        &[
            ("form_nonce", &hidden(&page.body, "form_nonce")),
            ("form_sig", &hidden(&page.body, "form_sig")),
            ("invoice_ids", pay),
            ("payment_method", "new_card"),
            ("card_token", &card),
            ("plan", "autopay"),
            ("autopay_consent", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn autopay_state_says_what_is_charged_when_and_turns_off_from_the_page() {
    let t = TestApp::new().await;
    let c = t.customer("Avery Autopay").await;
    let p = t.property("12 Birch Ln", &c, None).await;
    let now = t.invoice(&p, 4000, &t.day(0)).await;
    let later = t.invoice(&p, 6500, &t.day(25)).await;
    let last = t.invoice(&p, 9900, &t.day(40)).await;
    let token = t.token(&c).await;
    let before = t.get(&format!("/pay/{token}")).await;
    assert!(before.body.contains("(autopay)"));
    pay_with_autopay(&t, &token, &now).await;

    // Invoices are charged on their due date (the default rule): the next
    // charge is the invoice due in 25 days.
    let later_number = t.invoice_json(&later).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    let when = fieldpay::domain::dates::display_near(t.date(25), t.today());
    let page = t.get(&format!("/pay/{token}")).await;
    let expected = format!(
        "Autopay is on: Visa \u{2022}4242; invoice {later_number}, $65.00, will be charged on {when}."
    );
    assert!(page.body.contains(&expected), "{expected}\n{}", page.body);
    // Not offered again; the page pays once, and the promised cancel is here.
    assert!(!page.body.contains("(autopay)"));
    assert!(!page.body.contains("autopay_consent"));
    assert!(
        page.body
            .contains("<input type=\"hidden\" name=\"plan\" value=\"once\">")
    );
    assert!(page.body.contains("form=\"autopay-off\""));
    assert!(page.body.contains(&format!(
        "action=\"/pay/{token}/autopay\" id=\"autopay-off\""
    )));
    // The invoice due later is another charge, on another day.
    let last_number = t.invoice_json(&last).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !page
            .body
            .contains(&format!("{later_number}, {last_number}"))
    );

    // The control posts the cancel form outside the pay form, with its own token.
    let off = &page.body[at(&page.body, "id=\"autopay-off\"")..];
    let nonce = hidden(off, "form_nonce");
    let sig = hidden(off, "form_sig");
    assert_ne!(nonce, hidden(&page.body, "form_nonce"));
    let r = t
        .request(
            Method::POST,
            &format!("/pay/{token}/autopay"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", crate::support::BASE_URL),
            ],
            Some(format!("form_nonce={nonce}&form_sig={sig}")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Autopay is off"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'autopay.cancelled'")
            .await,
        1
    );
    // The page offers autopay again and says nothing of it being on.
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(!page.body.contains("Autopay is on"));
    assert!(page.body.contains("(autopay)"));
    assert!(!page.body.contains("id=\"autopay-off\""));
}

#[tokio::test]
async fn a_paid_up_customer_on_autopay_is_told_and_can_turn_it_off() {
    let t = TestApp::new().await;
    let c = t.customer("Paula Paid").await;
    let p = t.property("4 Cedar Ct", &c, None).await;
    let inv = t.invoice(&p, 4000, &t.day(0)).await;
    let token = t.token(&c).await;
    pay_with_autopay(&t, &token, &inv).await;
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(page.body.contains("You're all paid up. Thank you!"));
    assert!(page.body.contains(
        "Autopay is on: Visa \u{2022}4242. Future invoices are charged to it when they are due."
    ));
    assert!(page.body.contains("form=\"autopay-off\""));
    assert!(!page.body.contains("id=\"pay-form\""));
}

#[tokio::test]
async fn the_companys_logo_heads_the_page_when_set() {
    let t = TestApp::new().await;
    let c = t.customer("Lou Logo").await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(!page.body.contains("class=\"logo\""));
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
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(
        page.body.replace("&#x2f;", "/").contains(&format!(
            "<img src=\"/logo/{company}\" alt=\"\" class=\"logo\">"
        )),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("<p class=\"company\">Greenleaf Pest Control</p>")
    );
}
