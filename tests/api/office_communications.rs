//! The office communications pages: email and SMS templates (create, edit,
//! duplicate, delete, preview, checks), the Messages list and "Send now".

use axum::http::StatusCode;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, Resp, TestApp};

pub(crate) const EMAIL: &str = "/office/settings/email-templates";
pub(crate) const SMS: &str = "/office/settings/sms-templates";

pub(crate) async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

/// The template id a save redirect points at.
pub(crate) fn saved_id(r: &Resp, base: &str) -> String {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let loc = r.header("location");
    let rest = loc
        .strip_prefix(&format!("{base}/"))
        .unwrap_or_else(|| panic!("redirect to {loc}"));
    rest.split('?').next().unwrap().to_string()
}

async fn create_email(t: &TestApp, o: &Office, name: &str) -> String {
    let r = o
        .post(
            t,
            &format!("{EMAIL}/new"),
            &[
                ("name", name),
                ("subject", "Your balance with {{ company_name }}"),
                (
                    "html_body",
                    "<p>Hi {{ customer_first_name }},</p>\n<p>{{ email_payment_link }}</p>",
                ),
                ("text_body", ""),
            ],
        )
        .await;
    saved_id(&r, EMAIL)
}

fn spool_count(t: &TestApp, ext: &str) -> usize {
    std::fs::read_dir(t.dir.join("spool"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(ext))
                .count()
        })
        .unwrap_or(0)
}

/// The value of the hidden `nonce` field.
fn nonce_of(html: &str) -> String {
    let marker = "name=\"nonce\" value=\"";
    let at = html.find(marker).expect("nonce field") + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn email_templates_create_edit_duplicate_delete() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let list = o.get(&t, EMAIL).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains("No email templates yet"),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("href=\"/office/settings/email-templates\" aria-current=\"page\"")
    );

    let id = create_email(&t, &o, "Friendly reminder").await;
    let page = o.get(&t, &format!("{EMAIL}/{id}?saved=1")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Saved."));
    assert!(page.body.contains("value=\"Friendly reminder\""));
    // Every variable is listed with its meaning.
    assert!(page.body.contains("customer_first_name"));
    assert!(
        page.body
            .contains("The first word of the customer&#x27;s name")
    );
    assert!(page.body.contains("data-insert-variable"));

    let r = o
        .post(
            &t,
            &format!("{EMAIL}/{id}"),
            &[
                ("name", "Second reminder"),
                ("subject", "Still due: {{ customer_balance }}"),
                ("html_body", "<p>{{ email_payment_link }}</p>"),
                ("text_body", "Pay here: {{ sms_payment_link }}"),
            ],
        )
        .await;
    assert_eq!(saved_id(&r, EMAIL), id);
    let list = o.get(&t, EMAIL).await;
    assert!(list.body.contains("Second reminder"));
    assert!(list.body.contains("Still due: {{ customer_balance }}"));
    assert!(!list.body.contains("Friendly reminder"));

    let r = o.post(&t, &format!("{EMAIL}/{id}/duplicate"), &[]).await;
    let copy = saved_id(&r, EMAIL);
    assert_ne!(copy, id);
    let list = o.get(&t, EMAIL).await;
    assert!(list.body.contains("Second reminder (copy)"));
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 2);

    // Delete asks once, then deletes.
    let ask = o.get(&t, &format!("{EMAIL}/{copy}/delete")).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(ask.body.contains("Delete “Second reminder (copy)”?"));
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 2);
    let r = o.post(&t, &format!("{EMAIL}/{copy}/delete"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 1);
    assert_eq!(
        o.get(&t, &format!("{EMAIL}/{copy}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM audit_log WHERE action IN ('email_template.created',
             'email_template.updated', 'email_template.deleted')"
        )
        .await,
        4
    );

    // A form without the session's CSRF token changes nothing.
    let r = o
        .post(&t, &format!("{EMAIL}/{id}/delete"), &[("csrf", "forged")])
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 1);
}

#[tokio::test]
async fn broken_templates_are_not_saved_and_say_where() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Broken"),
                ("subject", "Hello"),
                (
                    "html_body",
                    "<p>Hi</p>\n<p>{% if customer_name %}unclosed</p>",
                ),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"html_body-error\""), "{}", r.body);
    assert!(r.body.contains("Nothing was saved"));
    let at = r.body.find("id=\"html_body-error\"").unwrap();
    let error = &r.body[at..at + 300];
    assert!(error.contains("line 2, column"), "{error}");
    // What was typed is kept.
    assert!(r.body.contains("value=\"Broken\""));
    assert!(r.body.contains("{% if customer_name %}unclosed"));
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 0);

    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Unknown"),
                ("subject", "Hi {{ nickname }}"),
                ("html_body", "<p>Hi</p>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"subject-error\""));
    assert!(
        r.body.contains("unknown variable &#x27;nickname&#x27;"),
        "{}",
        r.body
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 0);

    // An existing template stays as it was when an edit is refused.
    let id = create_email(&t, &o, "Good").await;
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/{id}"),
            &[("name", ""), ("subject", "x"), ("html_body", "<p>x</p>")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Name must not be empty"));
    assert!(o.get(&t, EMAIL).await.body.contains(">Good<"));
}

#[tokio::test]
async fn sms_templates_show_segments() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    // Counted as sent: the test-mode line (28 characters) comes first.
    let body = "a".repeat(100);
    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[("name", "Long"), ("body", &body)],
        )
        .await;
    let id = saved_id(&r, SMS);
    let page = o.get(&t, &format!("{SMS}/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("128 characters (GSM-7), 1 segment."),
        "{}",
        page.body
    );
    assert!(!page.body.contains("id=\"sms-warning\""));

    // Crossing into a second segment is warned about.
    let body = "b".repeat(161);
    let r = o
        .post(
            &t,
            &format!("{SMS}/{id}"),
            &[("name", "Long"), ("body", &body)],
        )
        .await;
    assert_eq!(saved_id(&r, SMS), id);
    let page = o.get(&t, &format!("{SMS}/{id}")).await;
    assert!(page.body.contains("189 characters (GSM-7), 2 segments."));
    assert!(page.body.contains("id=\"sms-warning\""));
    assert!(page.body.contains("crosses into 2 segments"));

    // The preview counts the rendered text.
    let r = o
        .post(
            &t,
            &format!("{SMS}/{id}"),
            &[
                ("name", "Long"),
                ("body", "Hi {{ customer_first_name }} 😀"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Hi Jane 😀"));
    assert!(
        r.body
            .contains("characters (Unicode (UCS-2)), 1 segment, with sample data")
    );
    // Previewing did not save.
    assert!(o.get(&t, SMS).await.body.contains(&"b".repeat(80)));

    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[("name", "Bad"), ("body", "{{ oops }}")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"body-error\""));
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_templates").await, 1);
}

#[tokio::test]
async fn preview_renders_the_customer_escaped() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let customer = t.customer("Ann <b>Smith</b>").await;
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Reminder"),
                ("subject", "For {{ customer_name }}"),
                (
                    "html_body",
                    "<p>Dear {{ customer_name }}</p>{{ email_payment_link }}",
                ),
                ("customer_id", &customer),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The subject shows the name as text.
    assert!(r.body.contains("For Ann &lt;b&gt;Smith&lt;"), "{}", r.body);
    // The HTML is shown as its source: its tags (and the name escaped
    // inside it) are text on the page.
    assert!(r.body.contains("&lt;p&gt;Dear Ann &amp;lt;b&amp;gt;Smith"));
    assert!(r.body.contains("&lt;a href=&quot;"));
    assert!(r.body.contains("Click Here to Make Payment&lt;"));
    assert!(!r.body.contains("<b>Smith</b>"));
    // The text part.
    let at = r.body.rfind("<pre class=\"preview\">").unwrap();
    let text = &r.body[at..];
    assert!(text.contains("Click Here to Make Payment"), "{text}");
    assert!(text.contains("Dear Ann &lt;b&gt;Smith"), "{text}");
    assert!(
        text.contains("https:&#x2f;&#x2f;pay.greenleaf.test"),
        "{text}"
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 0);

    // Sample data without a customer.
    let r = o
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Reminder"),
                ("subject", "For {{ customer_name }}"),
                ("html_body", "<p>x</p>"),
                ("action", "preview"),
            ],
        )
        .await;
    assert!(r.body.contains("For Jane Doe"));
}

#[tokio::test]
async fn send_now_queues_once_and_delivers() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let template = create_email(&t, &o, "Reminder").await;
    let customer = t.customer("Bob Jones").await;
    let form = o
        .get(&t, &format!("/office/customers/{customer}/send"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Reminder"));
    assert!(form.body.contains("next delivery run"));
    let nonce = nonce_of(&form.body);
    let choice = format!("email:{template}");
    let fields = [
        ("nonce", nonce.as_str()),
        ("template", &choice),
        ("invoice_id", ""),
    ];
    let first = o
        .post(&t, &format!("/office/customers/{customer}/send"), &fields)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert!(
        first.body.contains("Queued: “Reminder” to x@example.com"),
        "{}",
        first.body
    );
    let second = o
        .post(&t, &format!("/office/customers/{customer}/send"), &fields)
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("already sent"), "{}", second.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 1);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM audit_log WHERE action = 'message.send_now'")
            .await,
        1
    );

    let list = o.get(&t, "/office/messages").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("Bob Jones"));
    assert!(list.body.contains("x@example.com"));
    assert!(list.body.contains("status-queued"));
    let mine = o
        .get(
            &t,
            &format!("/office/messages?customer_id={customer}&status=queued&channel=email"),
        )
        .await;
    assert!(mine.body.contains("Messages to Bob Jones"));
    assert!(mine.body.contains("x@example.com"));
    let none = o.get(&t, "/office/messages?channel=sms").await;
    assert!(none.body.contains("No messages match."));

    fieldpay::jobs::run_once(&t.app, t.app.clock.now())
        .await
        .unwrap();
    assert_eq!(spool_count(&t, ".eml"), 1);
    let list = o.get(&t, "/office/messages?status=sent").await;
    assert!(list.body.contains("status-sent"), "{}", list.body);
    assert!(
        list.body
            .contains("Your balance with Greenleaf Pest Control")
    );

    // No template chosen: 422, nothing queued.
    let form = o
        .get(&t, &format!("/office/customers/{customer}/send"))
        .await;
    let nonce = nonce_of(&form.body);
    let r = o
        .post(
            &t,
            &format!("/office/customers/{customer}/send"),
            &[("nonce", &nonce), ("template", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a template."));
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 1);
}

#[tokio::test]
async fn another_companys_ids_are_404() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let email = create_email(&t, &o, "Ours").await;
    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[("name", "Ours"), ("body", "Hi")],
        )
        .await;
    let sms = saved_id(&r, SMS);
    let customer = t.customer("Our Customer").await;

    let other = format!("{}@example.com", fieldpay::crypto::new_id("x"));
    fieldpay::app::setup::create_company_with(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        &other,
        "long enough pw",
        false,
    )
    .await
    .unwrap();
    let them = Office::sign_in(&t, &other, "long enough pw").await;
    assert!(!them.get(&t, EMAIL).await.body.contains("Ours"));
    for path in [
        format!("{EMAIL}/{email}"),
        format!("{EMAIL}/{email}/delete"),
        format!("{SMS}/{sms}"),
        format!("/office/customers/{customer}/send"),
        format!("/office/messages?customer_id={customer}"),
    ] {
        assert_eq!(
            them.get(&t, &path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for path in [
        format!("{EMAIL}/{email}/delete"),
        format!("{EMAIL}/{email}/duplicate"),
        format!("{SMS}/{sms}/delete"),
    ] {
        assert_eq!(
            them.post(&t, &path, &[]).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let r = them
        .post(
            &t,
            &format!("{EMAIL}/{email}"),
            &[
                ("name", "Taken"),
                ("subject", "x"),
                ("html_body", "<p>x</p>"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = them
        .post(
            &t,
            &format!("/office/customers/{customer}/send"),
            &[
                ("nonce", "abcdefgh1234"),
                ("template", &format!("email:{email}")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A preview with our customer, from their session.
    let r = them
        .post(
            &t,
            &format!("{EMAIL}/new"),
            &[
                ("name", "Peek"),
                ("subject", "{{ customer_name }}"),
                ("html_body", "<p>x</p>"),
                ("customer_id", &customer),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("Our Customer"));
    // Our own customer with their (unknown) template id.
    let r = o
        .post(
            &t,
            &format!("/office/customers/{customer}/send"),
            &[
                ("nonce", "abcdefgh1234"),
                ("template", "email:etpl_not_ours"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(t.count("SELECT COUNT(*) FROM email_templates").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM sms_templates").await, 1);
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 0);
}

#[tokio::test]
async fn a_script_named_template_renders_escaped() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let id = create_email(&t, &o, "<script>alert(1)</script>").await;
    let customer = t.customer("Eve").await;
    for path in [
        EMAIL.to_string(),
        format!("{EMAIL}/{id}"),
        format!("{EMAIL}/{id}/delete"),
        format!("/office/customers/{customer}/send"),
    ] {
        let page = o.get(&t, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains("&lt;script&gt;alert(1)&lt;"), "{path}");
        assert!(!page.body.contains("<script>alert(1)"), "{path}");
    }
}

#[tokio::test]
async fn send_now_about_an_invoice() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let template = create_email(&t, &o, "Invoice note").await;
    let customer = t.customer("Cara Lee").await;
    let property = t.property("12 Oak St", &customer, None).await;
    let invoice = t.invoice(&property, 12_500, &t.day(17)).await;
    let someone_else = t.customer("Dan Poe").await;
    let theirs = t
        .invoice(
            &t.property("9 Elm St", &someone_else, None).await,
            5_000,
            &t.day(17),
        )
        .await;
    let path = format!("/office/customers/{customer}/send");
    let form = o.get(&t, &path).await;
    assert!(
        form.body.contains(&format!("value=\"{invoice}\"")),
        "{}",
        form.body
    );
    assert!(form.body.contains("$125.00 owed"));
    assert!(!form.body.contains(&theirs));
    let choice = format!("email:{template}");
    // Another customer's invoice is not this customer's: 404, nothing queued.
    let r = o
        .post(
            &t,
            &path,
            &[
                ("nonce", &nonce_of(&form.body)),
                ("template", &choice),
                ("invoice_id", &theirs),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 0);
    let r = o
        .post(
            &t,
            &path,
            &[
                ("nonce", &nonce_of(&form.body)),
                ("template", &choice),
                ("invoice_id", &invoice),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Queued"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox WHERE invoice_id IS NOT NULL")
            .await,
        1
    );

    // An SMS to a customer without a phone number: 422, nothing queued.
    let r = o
        .post(
            &t,
            &format!("{SMS}/new"),
            &[("name", "Text"), ("body", "Hi")],
        )
        .await;
    let sms = format!("sms:{}", saved_id(&r, SMS));
    let form = o.get(&t, &path).await;
    let r = o
        .post(
            &t,
            &path,
            &[("nonce", &nonce_of(&form.body)), ("template", &sms)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body
            .contains("This customer has no phone number on file.")
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM outbox").await, 1);
}
