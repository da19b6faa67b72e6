//! Journeys through the quick payment page: opened from an email, paid with a
//! test card, with autopay, after a decline, with a double click.

use crate::support::{Env, Server};

/// Lena Landlord: two invoices on her own house and one on a rental she is
/// the bill-to customer for.
pub struct Lena {
    pub id: String,
    pub email: String,
    /// $125.00 and $90.00 on 14 Oak Lane; $75.00 on 88 Rental Road.
    pub own: [String; 2],
    pub rental: String,
    pub numbers: [String; 3],
}

pub async fn lena(server: &Server) -> Lena {
    let email = format!(
        "lena.{}@example.com",
        fieldpay::crypto::new_id("e").to_lowercase()
    );
    let id = server.customer("Lena Landlord", &email).await;
    let tenant = server.customer("Tom Tenant", "tom@example.com").await;
    let home = server.property("14 Oak Lane, Austin TX", &id, None).await;
    let rental = server
        .property("88 Rental Road, Austin TX", &tenant, Some(&id))
        .await;
    let (a, na) = server.invoice(&home, 12500, &server.day(-3)).await;
    let (b, nb) = server.invoice(&home, 9000, &server.day(0)).await;
    let (c, nc) = server.invoice(&rental, 7500, &server.day(-1)).await;
    Lena {
        id,
        email,
        own: [a, b],
        rental: c,
        numbers: [na, nb, nc],
    }
}

/// Unticks the $90.00 invoice so two of the three ($200.00) are selected.
async fn select_two(env: &Env, l: &Lena) {
    env.wait_for_text("Total selected: $290.00").await;
    env.set_checked(&format!("#inv-{}", l.own[1]), false).await;
    env.wait_for_text("Total selected: $200.00").await;
    let button = env.css("#pay-button").await.text().await.unwrap();
    assert_eq!(button, "Pay $200.00");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_pays_two_of_three_invoices_from_an_emailed_link() {
    let Some(env) = Env::start(390, 844).await else {
        return;
    };
    let l = lena(&env.server).await;
    let link = env.server.email_link(&l.id, &l.email).await;
    env.goto(&link).await;
    let text = env.wait_for_text("Invoices for Lena Landlord").await;
    assert!(text.contains("Greenleaf Pest Control"), "{text}");
    assert!(text.contains("(512) 555-0142"), "{text}");
    assert!(text.contains("88 Rental Road"), "{text}");
    assert!(
        text.contains("You are responsible for billing this property."),
        "{text}"
    );
    for n in &l.numbers {
        assert!(text.contains(&format!("Invoice {n}")), "{text}");
    }
    select_two(&env, &l).await;
    env.fill_card("4242 4242 4242 4242").await;
    env.click("#pay-button").await;
    env.wait_for_path(&format!(
        "/pay/{}/receipts/",
        link.rsplit('/').next().unwrap()
    ))
    .await;
    let receipt = env.wait_for_text("Paid $200.00 — thank you").await;
    assert!(receipt.contains("Visa"), "{receipt}");
    assert!(receipt.contains("4242"), "{receipt}");
    assert!(receipt.contains(&l.numbers[0]), "{receipt}");
    assert!(receipt.contains(&l.numbers[2]), "{receipt}");
    assert!(!receipt.contains("Autopay is on"), "{receipt}");
    env.screenshot("pay-two-of-three-receipt").await;

    assert_eq!(env.server.balance(&l.own[0]).await, 0);
    assert_eq!(env.server.balance(&l.own[1]).await, 9000);
    assert_eq!(env.server.balance(&l.rental).await, 0);
    assert_eq!(env.server.sandbox_charges().await, 1);

    // The office sees it: Lena owes $90.00 on one open invoice, and the
    // payment is listed.
    env.office_sign_in().await;
    env.goto(&env.url(&format!("/office/customers/{}", l.id)))
        .await;
    let office = env.wait_for_text("Open balance").await;
    assert!(office.contains("$90.00"), "{office}");
    env.goto(&env.url("/office/payments")).await;
    let payments = env.wait_for_text("$200.00").await;
    assert!(payments.contains("Lena Landlord"), "{payments}");
    env.screenshot("pay-two-of-three-office").await;
    env.finish().await;
}

fn token_of(link: &str) -> &str {
    link.rsplit('/').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_saves_the_card_for_autopay_and_a_later_run_charges_the_rest() {
    let Some(env) = Env::start(390, 844).await else {
        return;
    };
    let l = lena(&env.server).await;
    let link = env.server.email_link(&l.id, &l.email).await;
    env.goto(&link).await;
    select_two(&env, &l).await;
    env.fill_card("4242424242424242").await;
    // The authorization appears only once autopay is chosen, and is required.
    assert!(!env.css("#consent").await.is_displayed().await.unwrap());
    env.click("input[name=plan][value=autopay]").await;
    let consent = env.css("#consent").await;
    assert!(consent.is_displayed().await.unwrap());
    let consent_text = consent.text().await.unwrap();
    assert!(
        consent_text.contains("I authorize Greenleaf Pest Control to charge this card"),
        "{consent_text}"
    );
    env.click("#pay-button").await;
    env.wait_for_text("tick the box to authorize future charges")
        .await;
    assert_eq!(env.server.sandbox_charges().await, 0);
    env.set_checked("#autopay-consent", true).await;
    env.click("#pay-button").await;
    env.wait_for_path(&format!("/pay/{}/receipts/", token_of(&link)))
        .await;
    let receipt = env.wait_for_text("Paid $200.00 — thank you").await;
    assert!(
        receipt.contains("Autopay is on for Visa ending 4242"),
        "{receipt}"
    );
    env.screenshot("pay-autopay-receipt").await;
    assert_eq!(
        env.server
            .count("SELECT COUNT(*) FROM autopay_enrollments WHERE consent_text LIKE 'I authorize Greenleaf Pest Control%'")
            .await,
        1
    );

    // The remaining invoice ($90.00, due today, so covered by an enrollment
    // starting today) is charged by a later run (from 9:00 in Chicago: 15:00
    // UTC is 9:00 CST, 10:00 CDT).
    let due_day = env.server.date(48).with_hms(15, 0, 0).unwrap().assume_utc();
    let report = fieldpay::jobs::run_once(&env.server.app, due_day)
        .await
        .unwrap();
    assert_eq!(report.autopay.charged, 1, "{report:?}");
    assert_eq!(env.server.balance(&l.own[1]).await, 0);
    assert_eq!(env.server.sandbox_charges().await, 2);

    // The page now says all is paid and which card autopay uses.
    env.goto(&link).await;
    let text = env.wait_for_text("You're all paid up. Thank you!").await;
    assert!(text.contains("Autopay is on: Visa \u{2022}4242."), "{text}");
    env.screenshot("pay-autopay-paid-up").await;
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_card_then_another_card_pays() {
    let Some(env) = Env::start(390, 844).await else {
        return;
    };
    let l = lena(&env.server).await;
    let link = env.server.link_url(&l.id).await;
    env.goto(&link).await;
    select_two(&env, &l).await;
    env.fill_card("4000 0000 0000 0002").await;
    env.click("#pay-button").await;
    let text = env
        .wait_for_text("Your bank declined the card. Try another card or call your bank.")
        .await;
    // Still the pay page, with what was typed kept except number and CVC.
    assert!(text.contains("Invoices for Lena Landlord"), "{text}");
    // The page opens at the message, with the focus in the card number.
    let seen = env
        .browser
        .execute(
            "var r = document.getElementById('card-error').getBoundingClientRect();\
             return [r.top >= 0 && r.bottom <= window.innerHeight, document.activeElement.id];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(seen, serde_json::json!([true, "cc-number"]), "{seen}");
    let error = env.css("#card-error").await;
    assert_eq!(error.attr("role").await.unwrap().as_deref(), Some("alert"));
    assert!(error.text().await.unwrap().contains("declined"));
    let value = |sel: &'static str| {
        let env = &env;
        async move {
            env.css(sel)
                .await
                .prop("value")
                .await
                .unwrap()
                .unwrap_or_default()
        }
    };
    assert_eq!(value("#cc-number").await, "");
    assert_eq!(value("#cc-cvc").await, "");
    assert_eq!(value("#cc-zip").await, "78701", "the ZIP is kept");
    assert_eq!(
        value("#cc-exp").await,
        env.server.exp_typed().replace('/', " / "),
        "the expiry is kept"
    );
    let unticked = env.css(&format!("#inv-{}", l.own[1])).await;
    assert_eq!(
        unticked.prop("checked").await.unwrap().as_deref(),
        Some("false"),
        "the selection is kept"
    );
    env.wait_for_text("Total selected: $200.00").await;
    env.screenshot("pay-declined").await;
    assert_eq!(env.server.balance(&l.own[0]).await, 12500);
    assert_eq!(env.server.sandbox_charges().await, 0);

    env.type_into("#cc-number", "5555 5555 5555 4444").await;
    env.type_into("#cc-cvc", "321").await;
    env.click("#pay-button").await;
    let receipt = env.wait_for_text("Paid $200.00 — thank you").await;
    assert!(receipt.contains("4444"), "{receipt}");
    env.screenshot("pay-retry-receipt").await;
    assert_eq!(env.server.balance(&l.own[0]).await, 0);
    assert_eq!(env.server.balance(&l.rental).await, 0);
    assert_eq!(env.server.sandbox_charges().await, 1);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_click_on_pay_charges_once() {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction};
    let Some(env) = Env::start(1280, 800).await else {
        return;
    };
    let l = lena(&env.server).await;
    let link = env.server.link_url(&l.id).await;
    env.goto(&link).await;
    env.wait_for_text("Total selected: $290.00").await;
    env.fill_card("4242424242424242").await;
    let button = env.css("#pay-button").await;
    env.browser
        .execute(
            "arguments[0].scrollIntoView({block: 'center'})",
            vec![serde_json::to_value(&button).unwrap()],
        )
        .await
        .unwrap();
    let dbl = MouseActions::new("mouse".to_string())
        .then(PointerAction::MoveToElement {
            element: button.clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Down {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: fantoccini::actions::MOUSE_BUTTON_LEFT,
        });
    env.browser.perform_actions(dbl).await.unwrap();
    env.wait_for_text("Paid $290.00 — thank you").await;
    env.screenshot("pay-double-click-receipt").await;
    assert_eq!(env.server.sandbox_charges().await, 1);
    assert_eq!(env.server.count("SELECT COUNT(*) FROM payments").await, 1);

    // Even with the page's guard bypassed, the same form posted twice at once
    // (a double tap on a slow phone) is one payment.
    let dora = env.server.customer("Dora Double", "dora@example.com").await;
    let p = env.server.property("5 Twin Oaks", &dora, None).await;
    let (c, _) = env.server.invoice(&p, 4000, &env.server.day(0)).await;
    env.goto(&env.server.link_url(&dora).await).await;
    env.wait_for_text("Total selected: $40.00").await;
    env.fill_card("4242424242424242").await;
    let statuses = env
        .browser
        .execute_async(
            "var done = arguments[arguments.length - 1];\
             var form = document.getElementById('pay-form');\
             window.fieldpayTokenize().then(function (id) {\
               document.getElementById('card_token').value = id;\
               var post = function () { return fetch(form.action, {method: 'POST', body: new URLSearchParams(new FormData(form)), redirect: 'manual'}).then(function (r) { return r.status; }); };\
               return Promise.all([post(), post()]);\
             }).then(done, function (e) { done('failed: ' + (e.message || e)); });",
            vec![],
        )
        .await
        .unwrap();
    // A redirect to the receipt reads as status 0 (opaque) with
    // `redirect: 'manual'`; neither post may fail on the server.
    let all = statuses.as_array().unwrap_or_else(|| panic!("{statuses}"));
    assert!(
        all.iter().all(|s| s.as_u64().is_some_and(|s| s < 500)),
        "{statuses}"
    );
    assert_eq!(env.server.balance(&c).await, 0);
    assert_eq!(env.server.sandbox_charges().await, 2, "{statuses}");
    assert_eq!(env.server.count("SELECT COUNT(*) FROM payments").await, 2);
    env.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_javascript_off_a_saved_card_pays() {
    let Some(env) = Env::start_with(390, 844, false).await else {
        return;
    };
    let l = lena(&env.server).await;
    let link = env.server.link_url(&l.id).await;
    // A first payment saves a card for autopay (through the API, as a
    // browser with JavaScript would tokenize it).
    let (status, card) = crate::support::http(
        "POST",
        &env.url("/sandbox/v1/tokens"),
        &[],
        Some(
            serde_json::json!({"number": "4242424242424242", "exp_month": 12, "exp_year": env.server.exp_year(), "cvc": "123"})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(status, 200, "{card}");
    let card: serde_json::Value = serde_json::from_str(&card).unwrap();
    let token = token_of(&link);
    let (status, body) = crate::support::http(
        "POST",
        &env.url(&format!("/api/v1/pay/{token}/payments")),
        &[("idempotency-key", "js-off-first")],
        Some(
            serde_json::json!({
                "invoice_ids": [l.rental],
                "payment_method": card["id"],
                "save_card_and_enroll_autopay": true,
                "autopay_consent": true
            })
            .to_string(),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    env.goto(&link).await;
    let text = env.wait_for_text("Invoices for Lena Landlord").await;
    assert!(text.contains("Visa ending 4242"), "{text}");
    assert!(text.contains("Total selected: $215.00"), "{text}");
    // Without JavaScript the total cannot follow the boxes: the server
    // charges what is ticked, and the receipt says it.
    env.set_checked(&format!("#inv-{}", l.own[1]), false).await;
    let html_class = env.css("html").await.attr("class").await.unwrap();
    assert!(
        !html_class.unwrap_or_default().contains("js"),
        "the page's script ran"
    );
    let total = env.css("#total").await.text().await.unwrap();
    assert_eq!(total, "$215.00", "no script updates the total");
    env.click("#pay-button").await;
    let receipt = env.wait_for_text("— thank you").await;
    assert!(receipt.contains("Paid $125.00"), "{receipt}");
    env.screenshot("pay-no-javascript-receipt").await;
    assert_eq!(env.server.balance(&l.own[0]).await, 0);
    assert_eq!(env.server.balance(&l.own[1]).await, 9000);
    env.finish().await;
}
