//! The quick payment page on a phone (360×740) and a laptop (1280×800): no
//! sideways scrolling, 44 px tap targets, the company's accent colour.

use serde_json::Value;

use crate::pay::lena;
use crate::support::Env;

/// Measures the page: sideways overflow, and the controls smaller than a
/// 44 px tap target.
async fn measure(env: &Env) -> Value {
    env.browser
        .execute(
            "var small = [];\
             document.querySelectorAll('#pay-form button, #pay-form .choice, #pay-form .select-all label, #pay-form .row, #pay-form .field input, #pay-form summary').forEach(function (e) {\
               var r = e.getBoundingClientRect(); if (r.height > 0 && r.height < 44) small.push(e.tagName + '#' + e.id + '.' + e.className + ' ' + r.height);\
             });\
             var t = document.getElementById('total').getBoundingClientRect();\
             return {total: t.top >= 0 && t.bottom <= window.innerHeight, scroll: document.documentElement.scrollWidth, inner: window.innerWidth, small: small,\
                     columns: getComputedStyle(document.querySelector('main')).width,\
                     button: getComputedStyle(document.getElementById('pay-button')).backgroundColor};",
            vec![],
        )
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pay_page_fits_a_phone_and_a_laptop() {
    let Some(env) = Env::start(360, 740).await else {
        return;
    };
    let l = lena(&env.server).await;
    // A company accent colour (dark green, passes AA with white text).
    fieldpay::store::sql::query("UPDATE companies SET accent_color = '#0b5a2a'")
        .execute(env.server.app.db.writer())
        .await
        .unwrap();
    let link = env.server.link_url(&l.id).await;
    for (name, w, h) in [
        ("phone", 360, 740),
        ("laptop", 1280, 800),
        ("reflow-320", 320, 640),
    ] {
        env.set_viewport(w, h).await;
        env.goto(&link).await;
        env.wait_for_text("Total selected: $290.00").await;
        // Autopay chosen shows the longest content (the authorization).
        env.click("input[name=plan][value=autopay]").await;
        let m = measure(&env).await;
        assert_eq!(m["inner"].as_u64(), Some(w as u64), "{name}: viewport {m}");
        assert!(
            m["scroll"].as_u64() <= m["inner"].as_u64(),
            "{name}: the page scrolls sideways: {m}"
        );
        assert_eq!(
            m["small"].as_array().map(|a| a.len()),
            Some(0),
            "{name}: tap targets under 44px: {m}"
        );
        assert_eq!(m["button"], "rgb(11, 90, 42)", "{name}: accent colour: {m}");
        assert_eq!(
            m["total"], true,
            "{name}: the total is not in view at the top: {m}"
        );
        // Half-way down, the total is still in view.
        env.browser
            .execute(
                "window.scrollTo(0, document.documentElement.scrollHeight / 3)",
                vec![],
            )
            .await
            .unwrap();
        let m = measure(&env).await;
        assert_eq!(
            m["total"], true,
            "{name}: the total is not in view half-way: {m}"
        );
        if name == "reflow-320" {
            continue;
        }
        env.browser
            .execute("window.scrollTo(0, 0)", vec![])
            .await
            .unwrap();
        env.screenshot(&format!("pay-page-{name}")).await;
        env.browser
            .execute(
                "document.getElementById('card-fields').scrollIntoView({block: 'start'})",
                vec![],
            )
            .await
            .unwrap();
        env.screenshot(&format!("pay-page-{name}-card")).await;
    }
    // The receipt on the smallest phone, paid with autopay on (its longest
    // form): nothing scrolls sideways.
    env.set_viewport(320, 640).await;
    env.goto(&link).await;
    env.wait_for_text("Total selected: $290.00").await;
    env.fill_card("4242424242424242").await;
    env.click("input[name=plan][value=autopay]").await;
    env.set_checked("#autopay-consent", true).await;
    env.click("#pay-button").await;
    env.wait_for_text("Paid $290.00 — thank you").await;
    let m = env
        .browser
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth]",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        m[0].as_u64() <= m[1].as_u64(),
        "the receipt scrolls sideways at 320px: {m}"
    );
    env.screenshot("receipt-320").await;
    env.finish().await;
}
