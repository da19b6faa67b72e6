//! The pay page for thumbs: a customer with eight invoices on a 360×740
//! phone can pay from the first screen; the card number is grouped as typed
//! with its brand; autopay's state is shown and turned off from the page.

use serde_json::Value;

use crate::a11y::Audit;
use crate::support::Env;

/// Where the Pay button and the total sit on screen, and whether both are
/// wholly inside the viewport.
async fn in_view(env: &Env) -> Value {
    env.browser
        .execute(
            "function box(id) { var r = document.getElementById(id).getBoundingClientRect();\
               return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,\
                       inside: r.top >= 0 && r.left >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth && r.height > 0}; }\
             return {button: box('pay-button'), total: box('total'), height: window.innerHeight,\
                     scroll: document.documentElement.scrollHeight,\
                     text: document.getElementById('pay-button').textContent};",
            vec![],
        )
        .await
        .unwrap()
}

async fn value_of(env: &Env, selector: &str) -> String {
    env.css(selector)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_invoices_pay_from_the_first_screen_then_autopay_is_shown_and_turned_off() {
    let Some(env) = Env::start(360, 740).await else {
        return;
    };
    let mut audit = Audit::new();
    let s = &env.server;
    let c = s.customer("Eight Invoices Ed", "ed@example.com").await;
    let home = s.property("31 Long Street, Austin TX", &c, None).await;
    let barn = s.property("7 Barn Road, Austin TX", &c, None).await;
    // Five due now (overdue or due today), three upcoming.
    let mut upcoming = Vec::new();
    for (i, days) in [-40, -25, -12, -3, 0, 6, 20, 35].into_iter().enumerate() {
        let property = if i % 2 == 0 { &home } else { &barn };
        let (id, number) = s
            .invoice(property, 2000 + 500 * i as i64, &s.day(days))
            .await;
        if days > 0 {
            upcoming.push((id, number, 2000 + 500 * i as i64, days));
        }
    }
    let link = s.link_url(&c).await;
    env.goto(&link).await;
    // Due now: $20 + $25 + $30 + $35 + $40.
    let text = env.wait_for_text("Total selected: $150.00").await;
    assert!(
        text.contains("Due now") && text.contains("Upcoming"),
        "{text}"
    );
    let m = in_view(&env).await;
    assert!(
        m["scroll"].as_f64().unwrap() > 2.0 * m["height"].as_f64().unwrap(),
        "a long page: {m}"
    );
    assert_eq!(
        m["button"]["inside"], true,
        "Pay button off screen on load: {m}"
    );
    assert_eq!(m["total"]["inside"], true, "total off screen on load: {m}");
    assert_eq!(m["text"], "Pay $150.00");
    env.screenshot("pay-page-thumbs-phone").await;
    audit.check(&env, "pay page, eight invoices").await;

    // Ticking an upcoming invoice adds it, and the button follows.
    env.set_checked(&format!("#inv-{}", upcoming[0].0), true)
        .await;
    env.wait_for_text("Total selected: $195.00").await;
    env.set_checked(&format!("#inv-{}", upcoming[0].0), false)
        .await;
    env.wait_for_text("Total selected: $150.00").await;

    // The card number in fours with its brand, the expiry with its slash.
    env.type_into("#cc-number", "4242424242424242").await;
    assert_eq!(value_of(&env, "#cc-number").await, "4242 4242 4242 4242");
    assert_eq!(env.css("#cc-brand").await.text().await.unwrap(), "Visa");
    env.type_into("#cc-number", "378282246310005").await;
    assert_eq!(value_of(&env, "#cc-number").await, "3782 822463 10005");
    assert_eq!(env.css("#cc-brand").await.text().await.unwrap(), "Amex");
    env.type_into("#cc-number", "5555555555554444").await;
    assert_eq!(
        env.css("#cc-brand").await.text().await.unwrap(),
        "Mastercard"
    );
    env.type_into("#cc-number", "6011111111111117").await;
    assert_eq!(env.css("#cc-brand").await.text().await.unwrap(), "Discover");
    env.type_into("#cc-exp", "1").await;
    assert_eq!(value_of(&env, "#cc-exp").await, "1");
    env.type_into("#cc-exp", "4").await;
    assert_eq!(value_of(&env, "#cc-exp").await, "04 / ");
    let year = s.exp_year() % 100;
    env.type_into("#cc-exp", &format!("12{year:02}")).await;
    assert_eq!(value_of(&env, "#cc-exp").await, format!("12 / {year:02}"));

    // Pay what is due and turn autopay on.
    env.type_into("#cc-name", "Ed Eight").await;
    env.type_into("#cc-number", "4242424242424242").await;
    env.type_into("#cc-cvc", "123").await;
    env.type_into("#cc-zip", "78701").await;
    env.click("input[name=plan][value=autopay]").await;
    env.set_checked("#autopay-consent", true).await;
    env.click("#pay-button").await;
    env.wait_for_text("Paid $150.00 — thank you").await;

    // Back on the page: what autopay charges next, and no second offer.
    env.goto(&link).await;
    let (_, number, amount, days) = &upcoming[0];
    let when = fieldpay::domain::dates::display_near(s.date(*days), s.today());
    let expected = format!(
        "Autopay is on: Visa \u{2022}4242; invoice {number}, ${}.00, will be charged on {when}.",
        amount / 100
    );
    let text = env.wait_for_text(&expected).await;
    assert!(!text.contains("(autopay)"), "{text}");
    let m = in_view(&env).await;
    assert_eq!(m["button"]["inside"], true, "Pay button off screen: {m}");
    audit.check(&env, "pay page, autopay on").await;
    env.screenshot("pay-page-thumbs-autopay").await;

    // Turned off right there.
    env.click("#autopay-off-button").await;
    env.wait_for_text("Autopay is off").await;
    audit.check(&env, "autopay turned off").await;
    assert_eq!(
        s.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        0
    );
    env.goto(&link).await;
    let text = env
        .wait_for_text("Save this card and pay future invoices automatically (autopay)")
        .await;
    assert!(!text.contains("Autopay is on"), "{text}");
    audit.assert_clean();
    env.finish().await;
}

/// Sideways overflow and the controls under 44 px on the page shown.
async fn phone_check(env: &Env) -> Value {
    env.browser
        .execute(
            "var small = [];\
             document.querySelectorAll('button, .portal-nav a, .receipt-link, summary, .choice, .field input, .card p > a:only-child').forEach(function (e) {\
               var r = e.getBoundingClientRect(); if (r.height > 0 && r.height < 44) small.push(e.tagName + ' ' + e.textContent.trim().slice(0, 30) + ' ' + r.height);\
             });\
             return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth, small: small};",
            vec![],
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_page_fits_a_phone_with_44px_targets() {
    let Some(env) = Env::start(360, 740).await else {
        return;
    };
    let l = crate::pay::lena(&env.server).await;
    let password = "a long portal password";
    crate::a11y::portal_account(&env, &l.id, &l.email, password).await;
    env.goto(&env.url("/portal/login")).await;
    let text = env
        .wait_for_text("Sign in to your Greenleaf Pest Control customer portal")
        .await;
    assert!(text.contains("Greenleaf Pest Control"), "{text}");
    let mut pages = vec![("sign-in".to_string(), phone_check(&env).await)];
    env.type_into("#email", &l.email).await;
    env.type_into("#password", password).await;
    env.click("form[action='/portal/login'] button[type=submit]")
        .await;
    env.wait_for_text("Invoices for Lena Landlord").await;
    pages.push(("home".into(), phone_check(&env).await));
    env.fill_card("4242424242424242").await;
    env.click("#pay-button").await;
    env.wait_for_text("Paid $290.00 — thank you").await;
    pages.push(("receipt".into(), phone_check(&env).await));
    for path in ["/portal/history", "/portal/cards", "/portal/cards/new"] {
        env.goto(&env.url(path)).await;
        env.wait_for_text("Signed in as").await;
        pages.push((path.to_string(), phone_check(&env).await));
    }
    env.goto(&env.url("/portal/history")).await;
    env.screenshot("portal-history-phone").await;
    for (page, m) in pages {
        assert!(
            m["scroll"].as_u64() <= m["inner"].as_u64(),
            "{page} scrolls sideways at 360px: {m}"
        );
        assert_eq!(
            m["small"].as_array().map(|a| a.len()),
            Some(0),
            "{page}: tap targets under 44px: {m}"
        );
    }
    env.finish().await;
}
