//! Accessibility: axe-core on every customer-facing page and the main office
//! pages (no serious or critical violations), and a payment made with the
//! keyboard alone.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::Value;

use crate::pay::lena;
use crate::support::{Env, axe_source, missing};

/// Runs axe-core on the page the browser shows; answers the serious and
/// critical violations, one readable line each (rule, help, nodes).
pub async fn axe(env: &Env, page: &str) -> Vec<String> {
    let Some(source) = axe_source() else {
        panic!("axe-core is not installed");
    };
    let script = format!(
        "var done = arguments[arguments.length - 1];\n{source}\n\
         axe.run(document, {{resultTypes: ['violations']}}).then(function (r) {{\
           done(r.violations.map(function (v) {{ return {{id: v.id, impact: v.impact, help: v.help,\
             nodes: v.nodes.map(function (n) {{ return {{target: n.target, html: n.html, summary: n.failureSummary}}; }})}}; }}));\
         }}, function (e) {{ done('axe failed: ' + e); }});"
    );
    let result = env
        .browser
        .execute_async(&script, vec![])
        .await
        .unwrap_or_else(|e| panic!("axe on {page}: {e}"));
    let Value::Array(violations) = result else {
        panic!("axe on {page}: {result}");
    };
    let (serious, lesser): (Vec<&Value>, Vec<&Value>) = violations
        .iter()
        .partition(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")));
    for v in lesser {
        eprintln!(
            "note: {page}: axe [{}] {} — {} ({} nodes)",
            v["impact"].as_str().unwrap_or(""),
            v["id"].as_str().unwrap_or(""),
            v["help"].as_str().unwrap_or(""),
            v["nodes"].as_array().map_or(0, |n| n.len())
        );
    }
    serious
        .into_iter()
        .map(|v| {
            let nodes: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| {
                    format!(
                        "    {} {}\n      {}",
                        n["target"],
                        n["html"],
                        n["summary"]
                            .as_str()
                            .unwrap_or("")
                            .replace('\n', "\n      ")
                    )
                })
                .collect();
            format!(
                "{page}: [{}] {} — {}\n{}",
                v["impact"].as_str().unwrap_or(""),
                v["id"].as_str().unwrap_or(""),
                v["help"].as_str().unwrap_or(""),
                nodes.join("\n")
            )
        })
        .collect()
}

/// Whether axe-core is available (else the test is skipped, or fails in CI).
pub fn have_axe() -> bool {
    axe_source().is_some()
        || missing("axe-core (npm install --prefix target/axe axe-core@4)").is_some()
}

/// Markup the page's policy (no inline styles) makes the browser ignore:
/// `style` attributes and `<style>` elements. The root's custom properties,
/// set from script, are allowed.
pub async fn blocked_inline_styles(env: &Env, page: &str) -> Vec<String> {
    let r = env
        .browser
        .execute(
            "return Array.prototype.map.call(document.querySelectorAll('body [style], body, style'), \
               function (e) { return e.tagName === 'BODY' && !e.hasAttribute('style') ? null : e.outerHTML.slice(0, 120); })\
               .filter(function (x) { return x; });",
            vec![],
        )
        .await
        .unwrap();
    r.as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            format!(
                "{page}: inline style the CSP blocks: {}",
                h.as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Runs the page checks, collecting problems to report together.
pub struct Audit {
    problems: Vec<String>,
    pages: usize,
}

impl Audit {
    pub fn new() -> Audit {
        Audit {
            problems: Vec::new(),
            pages: 0,
        }
    }

    pub async fn check(&mut self, env: &Env, page: &str) {
        self.pages += 1;
        self.problems.extend(axe(env, page).await);
        let m = env
            .browser
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await
            .unwrap();
        if m[0].as_u64() > m[1].as_u64() {
            self.problems.push(format!(
                "{page}: scrolls sideways (scrollWidth, innerWidth) = {m}"
            ));
        }
        self.problems.extend(blocked_inline_styles(env, page).await);
    }

    pub fn assert_clean(self) {
        assert!(
            self.problems.is_empty(),
            "{} problem(s) on {} pages:\n{}",
            self.problems.len(),
            self.pages,
            self.problems.join("\n")
        );
    }
}

pub(crate) async fn portal_account(env: &Env, customer: &str, email: &str, password: &str) {
    let server = &env.server;
    let hash = fieldpay::auth::hash_password(password).unwrap();
    let mut tx = server.app.db.begin_write().await.unwrap();
    fieldpay::store::portal::set_password(
        &mut tx,
        &server.company_id,
        &customer.into(),
        email,
        &hash,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// At 320 CSS px wide, as at 400% zoom (WCAG reflow): nothing scrolls
/// sideways either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customer_pages_pass_axe() {
    if !have_axe() {
        return;
    }
    let Some(env) = Env::start(320, 640).await else {
        return;
    };
    let mut audit = Audit::new();
    let l = lena(&env.server).await;
    // An overdue invoice too (overdue is said in words and colour).
    let home: String =
        fieldpay::store::sql::query_scalar("SELECT property_id FROM invoices WHERE id = $1")
            .bind(&l.own[0])
            .fetch_one(env.server.app.db.reader())
            .await
            .unwrap();
    env.server.invoice(&home, 4500, &env.server.day(-44)).await;
    let link = env.server.link_url(&l.id).await;
    let token = link.rsplit('/').next().unwrap().to_string();

    env.goto(&link).await;
    let text = env.wait_for_text("Invoices for Lena Landlord").await;
    assert!(text.contains("Overdue by"), "overdue in words: {text}");
    audit.check(&env, "pay page").await;
    env.click("details summary").await;
    env.click("input[name=plan][value=autopay]").await;
    audit
        .check(&env, "pay page (lines open, autopay chosen)")
        .await;
    env.set_checked("#select-all", false).await;
    env.wait_for_text("Select at least one invoice to pay.")
        .await;
    audit.check(&env, "pay page (nothing selected)").await;
    env.set_checked("#select-all", true).await;

    env.click("input[name=plan][value=once]").await;
    env.fill_card("4000000000000002").await;
    env.click("#pay-button").await;
    env.wait_for_text("Your bank declined the card").await;
    audit.check(&env, "pay page (declined)").await;

    env.fill_card("4242424242424242").await;
    env.click("input[name=plan][value=autopay]").await;
    env.set_checked("#autopay-consent", true).await;
    env.click("#pay-button").await;
    env.wait_for_text("— thank you").await;
    audit.check(&env, "receipt").await;

    env.goto(&link).await;
    env.wait_for_text("You're all paid up. Thank you!").await;
    audit.check(&env, "pay page (paid up, autopay on)").await;
    env.goto(&env.url(&format!("/pay/{token}/autopay"))).await;
    audit.check(&env, "autopay turn-off page").await;

    for path in [
        "/pay/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string(),
        "/no/such/page".to_string(),
    ] {
        env.goto(&env.url(&path)).await;
        env.wait_for_text("Page not found").await;
        audit.check(&env, &format!("404 ({path})")).await;
    }

    // The portal: sign-in, invitation, home, history, cards, a payment.
    let password = "a long portal password";
    portal_account(&env, &l.id, &l.email, password).await;
    let other = env.server.customer("Ivy Invited", "ivy@example.com").await;
    let mut tx = env.server.app.db.begin_write().await.unwrap();
    let invite = fieldpay::store::portal::insert_token(
        &mut tx,
        &env.server.company_id,
        &other.as_str().into(),
        fieldpay::store::portal::Purpose::Invite,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    env.goto(&env.url(&format!("/portal/invite/{invite}")))
        .await;
    audit.check(&env, "portal invitation").await;
    let mut tx = env.server.app.db.begin_write().await.unwrap();
    let sign_in = fieldpay::store::portal::insert_token(
        &mut tx,
        &env.server.company_id,
        &other.as_str().into(),
        fieldpay::store::portal::Purpose::SignIn,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    env.goto(&env.url(&format!("/portal/link/{sign_in}"))).await;
    audit.check(&env, "portal sign-in link").await;

    let rental: String =
        fieldpay::store::sql::query_scalar("SELECT property_id FROM invoices WHERE id = $1")
            .bind(&l.rental)
            .fetch_one(env.server.app.db.reader())
            .await
            .unwrap();
    env.server.invoice(&rental, 6000, &env.server.day(-5)).await;
    env.goto(&env.url("/portal/login")).await;
    audit.check(&env, "portal sign-in").await;
    env.type_into("#email", &l.email).await;
    env.type_into("#password", "wrong password here").await;
    env.click("form[action='/portal/login'] button[type=submit]")
        .await;
    env.wait_for_text("do not match").await;
    audit.check(&env, "portal sign-in (error)").await;
    env.type_into("#password", password).await;
    env.click("form[action='/portal/login'] button[type=submit]")
        .await;
    env.wait_for_text("Invoices for Lena Landlord").await;
    audit.check(&env, "portal home").await;
    for path in ["/portal/history", "/portal/cards", "/portal/cards/new"] {
        env.goto(&env.url(path)).await;
        audit.check(&env, path).await;
    }
    let card: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM payment_methods WHERE customer_id = $1")
            .bind(&l.id)
            .fetch_one(env.server.app.db.reader())
            .await
            .unwrap();
    env.goto(&env.url(&format!("/portal/cards/{card}/remove")))
        .await;
    audit.check(&env, "portal card removal").await;
    env.goto(&env.url("/portal")).await;
    env.wait_for_text("Total selected: $60.00").await;
    env.click("#pay-button").await;
    env.wait_for_text("Paid $60.00 — thank you").await;
    audit.check(&env, "portal receipt").await;
    env.screenshot("portal-receipt").await;

    // A card whose bank asks the customer to confirm (3-D Secure): the page
    // that asks, then the receipt.
    env.server.invoice(&home, 3000, &env.server.day(-9)).await;
    env.goto(&link).await;
    env.wait_for_text("Total selected: $30.00").await;
    env.click("input[name=payment_method][value=new_card]")
        .await;
    env.fill_card("4000002760003184").await;
    env.click("#pay-button").await;
    env.wait_for_text("Confirm with your bank").await;
    audit.check(&env, "pay page (3-D Secure check)").await;
    env.click("#sandbox-authenticate").await;
    env.wait_for_text("Paid $30.00 — thank you").await;
    assert_axe_catches_planted_faults(&env).await;
    env.finish().await;
    audit.assert_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_pages_pass_axe() {
    if !have_axe() {
        return;
    }
    let Some(env) = Env::start(1280, 800).await else {
        return;
    };
    let mut audit = Audit::new();
    let l = lena(&env.server).await;
    env.goto(&env.url("/office/login")).await;
    audit.check(&env, "office sign-in").await;
    env.type_into("#email", &env.server.owner_email).await;
    env.type_into("#password", "not the password").await;
    env.click("button[type=submit]").await;
    env.wait_for_text("Office sign-in").await;
    audit.check(&env, "office sign-in (error)").await;
    env.office_sign_in().await;
    let pages = [
        "/office/dashboard".to_string(),
        "/office/customers".to_string(),
        format!("/office/customers/{}", l.id),
        "/office/invoices".to_string(),
        format!("/office/invoices/{}", l.own[0]),
        "/office/payments".to_string(),
        "/office/messages".to_string(),
        "/office/settings/email-templates".to_string(),
        "/office/settings/email-templates/new".to_string(),
        "/office/settings/sms-templates".to_string(),
        "/office/settings/invoice-alerts".to_string(),
        "/office/settings/invoice-alerts/new".to_string(),
        "/office/settings/invoice".to_string(),
        "/office/settings/company".to_string(),
        "/office/settings/users".to_string(),
        "/office/search?q=Lena".to_string(),
        "/office/customers/new".to_string(),
        "/office/invoices/new".to_string(),
        format!("/office/payments/new?customer_id={}", l.id),
        format!("/office/customers/{}/send", l.id),
        "/office/autopay".to_string(),
        "/office/settings/autopay".to_string(),
        "/office/settings/processor".to_string(),
        "/office/import".to_string(),
        "/office/account/password".to_string(),
    ];
    for path in &pages {
        env.goto(&env.url(path)).await;
        audit.check(&env, path).await;
    }
    env.screenshot("office-search").await;
    env.finish().await;
    audit.assert_clean();
}

/// The check can fail: a planted unlabelled field and faint text are found.
pub async fn assert_axe_catches_planted_faults(env: &Env) {
    env.browser
        .execute(
            "var i = document.createElement('input'); i.type = 'text'; document.querySelector('main').appendChild(i);\
             var p = document.createElement('p'); p.textContent = 'faint text'; p.style.setProperty('color', '#eeeeee');\
             document.querySelector('main').appendChild(p);",
            vec![],
        )
        .await
        .unwrap();
    let found = axe(env, "planted").await.join("\n");
    assert!(found.contains("] label —"), "{found}");
    assert!(found.contains("] color-contrast —"), "{found}");
}

/// Presses one key (Tab, Space, Enter…) on whatever has the focus.
pub async fn press(env: &Env, key: Key) {
    let k: char = key.into();
    let actions = KeyActions::new("keyboard".to_string())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    env.browser.perform_actions(actions).await.unwrap();
    env.browser.release_actions().await.unwrap();
}

/// What has the focus: its id (or tag), and whether a focus ring shows.
async fn focused(env: &Env) -> (String, bool) {
    let r = env
        .browser
        .execute(
            "var e = document.activeElement; if (!e) return ['', false];\
             var s = getComputedStyle(e);\
             var ring = (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || (s.boxShadow && s.boxShadow !== 'none');\
             return [e.id || (e.tagName + (e.name ? '[' + e.name + '=' + e.value + ']' : '')), ring];",
            vec![],
        )
        .await
        .unwrap();
    (
        r[0].as_str().unwrap_or("").to_string(),
        r[1].as_bool().unwrap_or(false),
    )
}

/// Tabs forward until `target` (an id, or `TAG[name=value]`) has the focus;
/// every stop on the way must show a focus ring.
async fn tab_to(env: &Env, target: &str) {
    let mut path = Vec::new();
    for _ in 0..60 {
        press(env, Key::Tab).await;
        let (now, ring) = focused(env).await;
        assert!(ring, "no visible focus on {now} (after {path:?})");
        if now == target {
            return;
        }
        path.push(now);
    }
    panic!("Tab never reached {target}: {path:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_made_with_the_keyboard_alone() {
    let Some(env) = Env::start(1280, 800).await else {
        return;
    };
    let l = lena(&env.server).await;
    let link = env.server.link_url(&l.id).await;
    env.goto(&link).await;
    env.wait_for_text("Total selected: $290.00").await;

    // Select all off (Space), then only the rental's invoice (Space).
    tab_to(&env, "select-all").await;
    press(&env, Key::Space).await;
    env.wait_for_text("Select at least one invoice to pay.")
        .await;
    let enabled = env.css("#pay-button").await.is_enabled().await.unwrap();
    assert!(!enabled, "the button is disabled with nothing selected");
    tab_to(&env, &format!("inv-{}", l.rental)).await;
    press(&env, Key::Space).await;
    env.wait_for_text("Total selected: $75.00").await;

    // The card fields, typed where the focus is (the expiry as digits: "1229").
    let expiry = env.server.exp_typed().replace('/', "");
    for (id, text) in [
        ("cc-number", "4242424242424242"),
        ("cc-exp", expiry.as_str()),
        ("cc-cvc", "123"),
        ("cc-zip", "78701"),
    ] {
        tab_to(&env, id).await;
        env.browser
            .active_element()
            .await
            .unwrap()
            .send_keys(text)
            .await
            .unwrap();
    }
    tab_to(&env, "pay-button").await;
    env.screenshot("keyboard-before-pay").await;
    press(&env, Key::Enter).await;
    let receipt = env.wait_for_text("Paid $75.00 — thank you").await;
    assert!(receipt.contains(&l.numbers[2]), "{receipt}");
    env.screenshot("keyboard-receipt").await;
    assert_eq!(env.server.balance(&l.rental).await, 0);
    assert_eq!(env.server.balance(&l.own[0]).await, 12500);
    env.finish().await;
}
