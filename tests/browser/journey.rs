//! A new office from nothing to its first payment, in the browser: a fresh
//! database, `/setup` (company and owner), the setup checklist, two
//! customers and an invoice imported by CSV on the import page, the payment
//! link sent by email and by SMS with one-click send from the customer page,
//! the customer paying on a phone (360×740) with a sandbox test card, and
//! the receipt email saying it was a test. The checklist follows along.

use fieldpay::domain::processor::{TEST_MODE_BANNER, TEST_MODE_SMS};

use crate::a11y::Audit;
use crate::support::{Env, link_in};

const OWNER: &str = "owner@bluebonnet.example";
const PASSWORD: &str = "a long enough password";

/// Writes `text` as a CSV file for the browser to upload; answers its path.
fn csv_file(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Uploads a CSV of `kind` (customers or invoices) on the import page and
/// waits for its report.
async fn import(env: &Env, kind: &str, file: &str) -> String {
    env.goto(&env.url("/office/import")).await;
    env.click(&format!("input[name=kind][value={kind}]")).await;
    env.css("#file").await.send_keys(file).await.unwrap();
    env.click("form[action='/office/import'] button[type=submit]")
        .await;
    env.wait_for_text(&format!("Import of {kind}")).await;
    env.wait_for_text("Every row was imported").await
}

/// The state of a checklist item on the dashboard: "done" or "todo".
async fn checklist_item(env: &Env, key: &str) -> String {
    env.css(&format!("#setup-{key}"))
        .await
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Delivers the outbox to the spool, as the jobs loop does.
async fn deliver(env: &Env) {
    let app = &env.server.app;
    fieldpay::app::messages::deliver_due(
        app,
        app.clock.now(),
        fieldpay::app::messages::render_stored,
    )
    .await
    .unwrap();
}

/// Presses one-click send (`button`: `#email-invoice` or `#text-link`) on
/// the customer's page with the default template, and sends it.
async fn one_click_send(env: &Env, customer_page: &str, button: &str) -> String {
    env.goto(customer_page).await;
    env.click(button).await;
    env.wait_for_path("/office/customers/").await;
    let chosen = env
        .css("#template option:checked")
        .await
        .text()
        .await
        .unwrap();
    assert!(!chosen.starts_with("Choose"), "no default template chosen");
    env.click("button[name=action][value=send]").await;
    env.wait_for_text("Queued: ").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_office_goes_from_setup_to_its_first_payment_on_a_phone() {
    let Some(env) = Env::start_fresh(1280, 800).await else {
        return;
    };
    let mut audit = Audit::new();
    let s = &env.server;
    let dir = std::env::temp_dir().join(format!(
        "fieldpay-journey-{}",
        fieldpay::crypto::new_id("j")
    ));
    std::fs::create_dir_all(&dir).unwrap();

    // A fresh server sends its first visitor to /setup.
    env.goto(&env.url("/office/login")).await;
    env.goto(&env.url("/setup")).await;
    env.wait_for_text("Set up fieldpay for your company").await;
    audit.check(&env, "setup").await;
    env.screenshot("setup").await;
    env.type_into("#company_name", "Bluebonnet Pest Co").await;
    env.type_into("#owner_email", OWNER).await;
    env.type_into("#owner_password", PASSWORD).await;
    env.click("button[type=submit]").await;
    env.wait_for_path("/office/dashboard").await;

    // The checklist, with nothing of the customers done yet, and test mode said.
    let text = env.wait_for_text("Set up your office").await;
    assert!(text.contains("Test mode — no money moves."), "{text}");
    assert_eq!(checklist_item(&env, "customers").await, "todo");
    assert_eq!(checklist_item(&env, "first_link").await, "todo");
    audit
        .check(&env, "dashboard with the setup checklist")
        .await;
    env.screenshot("setup-checklist").await;

    // Two customers, then an invoice for one of them, by CSV on the import page.
    let customers = csv_file(
        &dir,
        "customers.csv",
        "external_id,name,email,phone,service_address\n\
         C1,Rosa Diaz,rosa@example.com,(512) 555-0143,12 Elm St Austin TX\n\
         C2,Sam Lee,sam@example.com,(512) 555-0144,4 Oak Ave Austin TX\n",
    );
    import(&env, "customers", &customers).await;
    assert_eq!(s.count("SELECT COUNT(*) FROM customers").await, 2);
    let invoices = csv_file(
        &dir,
        "invoices.csv",
        &format!(
            "number,customer_external_id,due_date,total\n1001,C1,{},149.00\n",
            s.day(-3)
        ),
    );
    import(&env, "invoices", &invoices).await;
    let rosa: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM customers WHERE name = 'Rosa Diaz'")
            .fetch_one(s.app.db.reader())
            .await
            .unwrap();
    env.goto(&env.url("/office/dashboard")).await;
    assert_eq!(checklist_item(&env, "customers").await, "done");
    assert!(env.text().await.contains("2 customers added."));

    // One-click send from her page: the invoice by email, the link by SMS.
    let page = env.url(&format!("/office/customers/{rosa}"));
    one_click_send(&env, &page, "#email-invoice").await;
    one_click_send(&env, &page, "#text-link").await;
    deliver(&env).await;
    let emails = s.spooled_emails();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(emails[0].contains("To: rosa@example.com"), "{}", emails[0]);
    let link = link_in(&emails[0], &env.url("/pay/")).expect("a payment link in the email");
    let texts = s.spooled_texts();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains(TEST_MODE_SMS), "{}", texts[0]);
    assert_eq!(
        link_in(&texts[0], &env.url("/pay/")).as_deref(),
        Some(link.as_str()),
        "the SMS carries the same link: {}",
        texts[0]
    );
    env.goto(&env.url("/office/dashboard")).await;
    assert_eq!(checklist_item(&env, "first_link").await, "done");
    env.screenshot("setup-checklist-progress").await;

    // Rosa opens the link on her phone and pays with a sandbox test card.
    env.set_viewport(360, 740).await;
    env.goto(&link).await;
    let text = env.wait_for_text("Total selected: $149.00").await;
    assert!(text.contains(TEST_MODE_BANNER), "{text}");
    env.fill_card("4242424242424242").await;
    env.click("#pay-button").await;
    let receipt = env.wait_for_text("Paid $149.00 — thank you").await;
    assert!(receipt.contains(TEST_MODE_BANNER), "{receipt}");
    audit.check(&env, "receipt on a phone").await;
    assert_eq!(s.sandbox_charges().await, 1);

    // The receipt email says it was a test.
    deliver(&env).await;
    let emails = s.spooled_emails();
    let receipt_email = emails
        .iter()
        .skip(1)
        .find(|e| e.contains("To: rosa@example.com"))
        .unwrap_or_else(|| panic!("no receipt email: {emails:?}"));
    // The banner's dash may be encoded in the message; its words are not.
    assert!(
        receipt_email.contains("Test mode") && receipt_email.contains("no money moves"),
        "no test-mode line: {receipt_email}"
    );
    assert!(receipt_email.contains("$149.00"), "{receipt_email}");

    std::fs::remove_dir_all(&dir).ok();
    audit.assert_clean();
    env.finish().await;
}
