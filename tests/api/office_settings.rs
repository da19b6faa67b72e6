//! Settings › Invoice Settings, Company, Users, and the dashboard.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, Resp, TestApp};

async fn owner(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

async fn company_id_of(t: &TestApp, email: &str) -> String {
    fieldpay::store::sql::query_scalar("SELECT company_id FROM office_users WHERE email = $1")
        .bind(email)
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

async fn audit_count(t: &TestApp, action: &str) -> i64 {
    fieldpay::store::sql::query_scalar("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

/// Adds an office user through the Users page; returns the response.
async fn add_user(t: &TestApp, o: &Office, email: &str, role: &str) -> Resp {
    o.post(
        t,
        "/office/settings/users",
        &[
            ("email", email),
            ("name", "Sam Sprayer"),
            ("password", "temporary pw 1"),
            ("role", role),
        ],
    )
    .await
}

fn checked(html: &str, id: &str) -> bool {
    let at = html.find(&format!("id=\"{id}\"")).expect(id);
    let tag_end = at + html[at..].find('>').unwrap();
    html[at..tag_end].contains("checked")
}

fn selected_target(html: &str) -> &'static str {
    if html.contains("<option value=\"portal\" selected>") {
        "portal"
    } else if html.contains("<option value=\"public\" selected>") {
        "public"
    } else {
        panic!("no target selected: {html}")
    }
}

#[tokio::test]
async fn invoice_settings_round_trip_by_form_and_api() {
    let t = TestApp::new().await;
    let o = owner(&t).await;
    let page = o.get(&t, "/office/settings/invoice").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Payment Link"));
    assert!(page.body.contains("Customer Portal") && page.body.contains("Public Link"));
    assert!(
        page.body
            .contains("<script src=\"/office/settings/invoice.js\">")
    );
    // The defaults: on, public.
    assert!(checked(&page.body, "payment_link_enabled"));
    assert_eq!(selected_target(&page.body), "public");

    // On, portal.
    let r = o
        .post(
            &t,
            "/office/settings/invoice",
            &[
                ("payment_link_enabled", "on"),
                ("payment_link_target", "portal"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, "/office/settings/invoice?saved=1").await;
    assert!(page.body.contains("were saved"));
    assert!(checked(&page.body, "payment_link_enabled"));
    assert_eq!(selected_target(&page.body), "portal");
    let api = t.api(Method::GET, "/api/v1/settings/invoice", None).await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    assert_eq!(
        api.json(),
        json!({"payment_link_enabled": true, "payment_link_target": "portal", "paper_size": "letter"})
    );

    // Off: the target sent along is ignored (without JavaScript the select is still there).
    let r = o
        .post(
            &t,
            "/office/settings/invoice",
            &[("payment_link_target", "nonsense")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, "/office/settings/invoice").await;
    assert!(!checked(&page.body, "payment_link_enabled"));
    assert_eq!(selected_target(&page.body), "portal");

    // On with a bad target: refused, nothing written.
    let r = o
        .post(
            &t,
            "/office/settings/invoice",
            &[
                ("payment_link_enabled", "on"),
                ("payment_link_target", "nonsense"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose where the payment link goes"));
    let api = t.api(Method::GET, "/api/v1/settings/invoice", None).await;
    assert_eq!(api.json()["payment_link_enabled"], json!(false));

    // The API: PUT returns the settings, which the page then shows.
    let put = t
        .api(
            Method::PUT,
            "/api/v1/settings/invoice",
            Some(json!({"payment_link_enabled": true, "payment_link_target": "public"})),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(
        put.json(),
        json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "letter"})
    );
    let page = o.get(&t, "/office/settings/invoice").await;
    assert!(checked(&page.body, "payment_link_enabled"));
    assert_eq!(selected_target(&page.body), "public");

    // A bad target, an unknown field, a missing key.
    let bad = t
        .api(
            Method::PUT,
            "/api/v1/settings/invoice",
            Some(json!({"payment_link_enabled": false, "payment_link_target": "email"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert_eq!(bad.json()["error"]["field"], json!("payment_link_target"));
    let unknown = t
        .api(
            Method::PUT,
            "/api/v1/settings/invoice",
            Some(json!({"payment_link_enabled": false, "payment_link_target": "public", "color": "red"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let anon = t
        .request(
            Method::PUT,
            "/api/v1/settings/invoice",
            &[("content-type", "application/json")],
            Some(
                json!({"payment_link_enabled": false, "payment_link_target": "public"}).to_string(),
            ),
        )
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    let api = t.api(Method::GET, "/api/v1/settings/invoice", None).await;
    assert_eq!(
        api.json(),
        json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "letter"})
    );
    // Three changes, three audit entries (two by form, one by API).
    assert_eq!(audit_count(&t, "settings.invoice_updated").await, 3);

    // Another company's settings are its own.
    let other_key = t.other_company().await;
    let other = t
        .api_with_key(&other_key, Method::GET, "/api/v1/settings/invoice", None)
        .await;
    assert_eq!(other.json()["payment_link_target"], json!("public"));

    // The toggle script is served from our origin.
    let js = o.get(&t, "/office/settings/invoice.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.header("content-type").starts_with("text/javascript"));
    assert!(js.body.contains("target-field"));
}

#[tokio::test]
async fn owners_add_staff_who_cannot_reach_owner_settings() {
    let t = TestApp::new().await;
    let o = owner(&t).await;
    let users = o.get(&t, "/office/settings/users").await;
    assert_eq!(users.status, StatusCode::OK);
    assert!(users.body.contains(&t.owner_email));

    let email = format!("staff-{}@example.com", fieldpay::crypto::new_id("s"));
    let r = add_user(&t, &o, &email, "staff").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let users = o.get(&t, "/office/settings/users?notice=added").await;
    assert!(users.body.contains(&email));
    assert!(users.body.contains("Sam Sprayer"));
    assert!(users.body.contains("2 active of 2"));
    assert_eq!(audit_count(&t, "office_user.created").await, 1);

    // The new user signs in with the temporary password.
    let staff = Office::sign_in(&t, &email, "temporary pw 1").await;
    let dash = staff.get(&t, "/office/dashboard").await;
    assert_eq!(dash.status, StatusCode::OK);
    // Owner-only pages and actions.
    for path in ["/office/settings/company", "/office/settings/users"] {
        let r = staff.get(&t, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(r.body.contains("Only an owner"), "{path}: {}", r.body);
    }
    let r = add_user(&t, &staff, "sneaky@example.com", "owner").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = staff
        .post(
            &t,
            "/office/settings/company",
            &[
                ("name", "Taken Over"),
                ("currency", "usd"),
                ("time_zone", "America/Chicago"),
                ("accent_color", "#1d5fbf"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let owner_id: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM office_users WHERE email = $1")
            .bind(&t.owner_email)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let r = staff
        .post(
            &t,
            &format!("/office/settings/users/{owner_id}/disable"),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Staff read the invoice settings but cannot change them.
    let inv = staff.get(&t, "/office/settings/invoice").await;
    assert_eq!(inv.status, StatusCode::OK);
    assert!(inv.body.contains("Only an owner can change these settings"));
    let r = staff
        .post(
            &t,
            "/office/settings/invoice",
            &[("payment_link_target", "public")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM office_users WHERE email = 'sneaky@example.com'")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM companies WHERE name = 'Taken Over'")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM companies WHERE payment_link_enabled = 0")
            .await,
        0
    );

    // A form from a stale page (wrong CSRF token) changes nothing.
    let r = o
        .post(
            &t,
            "/office/settings/users",
            &[
                ("csrf", "stale"),
                ("email", "csrf@example.com"),
                ("name", "X"),
                ("password", "temporary pw 1"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn adding_a_user_checks_the_form_and_taken_emails() {
    let t = TestApp::new().await;
    let o = owner(&t).await;
    let before = t.count("SELECT COUNT(*) FROM office_users").await;

    // An email already used anywhere in fieldpay (here: the other company's owner).
    fieldpay::app::setup::create_company(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        "other@example.com",
        "long enough pw",
    )
    .await
    .unwrap();
    let r = add_user(&t, &o, "Other@Example.com", "staff").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("already has a fieldpay office account"));
    // What was typed stays (except the password).
    assert!(r.body.contains("value=\"Other@Example.com\""));
    assert!(r.body.contains("value=\"Sam Sprayer\""));
    assert!(!r.body.contains("temporary pw 1"));

    let r = o
        .post(
            &t,
            "/office/settings/users",
            &[
                ("email", "new@example.com"),
                ("name", "<script>alert(1)</script>"),
                ("password", "short"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Use at least 10 characters."));
    assert!(
        r.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(!r.body.contains("<script>alert(1)"));

    let r = o
        .post(
            &t,
            "/office/settings/users",
            &[
                ("email", "not-an-email"),
                ("name", "Pat"),
                ("password", "temporary pw 1"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Enter an email address"));
    assert!(r.body.contains("Choose Staff or Owner."));
    // Only the other company's owner was added.
    assert_eq!(
        t.count("SELECT COUNT(*) FROM office_users").await,
        before + 1
    );

    // A new user named with markup renders as text on the list.
    let r = o
        .post(
            &t,
            "/office/settings/users",
            &[
                ("email", "markup@example.com"),
                ("name", "<script>alert(1)</script>"),
                ("password", "temporary pw 1"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let list = o.get(&t, "/office/settings/users").await;
    assert!(
        list.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(!list.body.contains("<script>alert(1)"));
    // A second owner can manage users and company settings.
    let second = Office::sign_in(&t, "markup@example.com", "temporary pw 1").await;
    assert_eq!(
        second.get(&t, "/office/settings/users").await.status,
        StatusCode::OK
    );
    assert_eq!(
        second.get(&t, "/office/settings/company").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn disabling_a_user_asks_once_and_ends_their_session() {
    let t = TestApp::new().await;
    let o = owner(&t).await;
    let email = "leaving@example.com";
    assert_eq!(
        add_user(&t, &o, email, "staff").await.status,
        StatusCode::SEE_OTHER
    );
    let staff = Office::sign_in(&t, email, "temporary pw 1").await;
    let id: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM office_users WHERE email = $1")
            .bind(email)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();

    // The confirmation step says what will happen and changes nothing.
    let confirm = o
        .get(&t, &format!("/office/settings/users/{id}/disable"))
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("will be signed out at once"));
    assert_eq!(
        staff.get(&t, "/office/dashboard").await.status,
        StatusCode::OK
    );

    let r = o
        .post(&t, &format!("/office/settings/users/{id}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let after = staff.get(&t, "/office/dashboard").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert_eq!(after.header("location"), "/office/login");
    assert_eq!(
        t.count("SELECT COUNT(*) FROM sessions WHERE principal_id IN (SELECT id FROM office_users WHERE email = 'leaving@example.com')")
            .await,
        0
    );
    // They cannot sign in again.
    let login = t
        .post_signin(
            "/office/login",
            &[
                ("email", "leaving@example.com"),
                ("password", "temporary pw 1"),
            ],
            None,
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::UNAUTHORIZED);
    let list = o.get(&t, "/office/settings/users").await;
    assert!(list.body.contains("Disabled"));
    assert!(list.body.contains("1 active of 2"));
    assert_eq!(audit_count(&t, "office_user.disabled").await, 1);

    // Not yourself.
    let me: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM office_users WHERE email = $1")
            .bind(&t.owner_email)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let r = o
        .post(&t, &format!("/office/settings/users/{me}/disable"), &[])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("You cannot disable your own account"));
    assert_eq!(o.get(&t, "/office/dashboard").await.status, StatusCode::OK);

    // Another company's user is a 404.
    let other = fieldpay::app::setup::create_company(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        "other-owner@example.com",
        "long enough pw",
    )
    .await
    .unwrap();
    let path = format!("/office/settings/users/{}/disable", other.owner_id);
    assert_eq!(o.get(&t, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(o.post(&t, &path, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM office_users WHERE email = 'other-owner@example.com' AND disabled_at IS NULL")
            .await,
        1
    );
}

pub fn company_fields<'a>(overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("name", "Greenleaf Pest Control"),
        ("address", "12 Elm St\nAustin, TX"),
        ("phone", "(512) 555-0199"),
        ("email", "office@greenleaf.test"),
        ("currency", "usd"),
        ("time_zone", "America/Chicago"),
        ("accent_color", "#1d5fbf"),
        ("country", "US"),
    ];
    for (k, v) in overrides {
        if let Some(f) = fields.iter_mut().find(|(name, _)| name == k) {
            f.1 = v;
        }
    }
    fields
}

#[tokio::test]
async fn company_settings_validate_and_round_trip() {
    let t = TestApp::new().await;
    let o = owner(&t).await;
    let page = o.get(&t, "/office/settings/company").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("value=\"Greenleaf Pest Control\""));

    let r = o
        .post(
            &t,
            "/office/settings/company",
            &company_fields(&[
                ("name", "Greenleaf <b>Pest</b>"),
                ("accent_color", "#0B5A2A"),
                ("time_zone", "America/Denver"),
                ("currency", "cad"),
            ]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, "/office/settings/company?notice=saved").await;
    assert!(page.body.contains("were saved"));
    assert!(
        page.body
            .contains("value=\"Greenleaf &lt;b&gt;Pest&lt;&#x2f;b&gt;\"")
    );
    assert!(page.body.contains("value=\"#0b5a2a\""));
    assert!(page.body.contains("value=\"America&#x2f;Denver\""));
    assert!(page.body.contains("<option value=\"cad\" selected>"));
    assert!(page.body.contains("(512) 555-0199"));
    assert!(!page.body.contains("<b>Pest</b>"));
    assert_eq!(audit_count(&t, "settings.company_updated").await, 1);

    // Too little contrast with white text: refused with the reason, nothing saved.
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &company_fields(&[("accent_color", "#ffcc00"), ("name", "Renamed")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("This colour is too light"), "{}", r.body);
    assert!(r.body.contains("at least 4.5:1"));
    // What was typed stays on the form.
    assert!(r.body.contains("value=\"#ffcc00\""));
    assert!(r.body.contains("value=\"Renamed\""));

    // An unknown time zone.
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &company_fields(&[("time_zone", "Mars/Olympus")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("not a time zone fieldpay knows"));

    assert_eq!(
        t.count("SELECT COUNT(*) FROM companies WHERE name = 'Renamed' OR time_zone = 'Mars/Olympus' OR accent_color = '#ffcc00'")
            .await,
        0
    );

    // Once the company has invoices, its currency is fixed.
    let c = t.customer("Dana").await;
    let p = t.property("1 Oak St", &c, None).await;
    t.invoice(&p, 5000, &t.day(17)).await;
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &company_fields(&[("currency", "usd")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("already has invoices in CAD"), "{}", r.body);
    // Keeping it is fine.
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &company_fields(&[("currency", "cad")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(audit_count(&t, "settings.company_updated").await, 2);
}

fn multipart(csrf: &str, file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fieldpayTESTboundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn upload(t: &TestApp, o: &Office, file: &[u8]) -> Resp {
    let (kind, body) = multipart(&o.csrf, file);
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/office/settings/logo")
        .header("cookie", &o.cookie)
        .header("content-type", kind)
        .body(axum::body::Body::from(body))
        .unwrap();
    t.send(req).await
}

#[tokio::test]
async fn logo_upload_checks_type_and_size() {
    let t = TestApp::new().await;
    let o = owner(&t).await;
    let company = company_id_of(&t, &t.owner_email).await;
    assert_eq!(
        t.get(&format!("/logo/{company}")).await.status,
        StatusCode::NOT_FOUND
    );

    let gif = b"GIF89a\x01\x00\x01\x00";
    let r = upload(&t, &o, gif).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("must be a PNG or JPEG"));

    let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
    big.resize(200 * 1024 + 1, 0);
    let r = upload(&t, &o, &big).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("at most 200 KB"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM companies WHERE logo IS NOT NULL")
            .await,
        0
    );

    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDRlogo";
    let r = upload(&t, &o, png).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = o.get(&t, "/office/settings/company?notice=logo").await;
    assert!(page.body.contains("The logo was saved."));
    assert!(page.body.contains("src=\"/office/settings/logo\""));
    let own = o.get(&t, "/office/settings/logo").await;
    assert_eq!(own.status, StatusCode::OK);
    assert_eq!(own.header("content-type"), "image/png");
    let public = t.get(&format!("/logo/{company}")).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.header("content-type"), "image/png");
    assert_eq!(public.header("content-length"), png.len().to_string());
    assert!(public.body.contains("IHDRlogo"));
    assert_eq!(audit_count(&t, "settings.logo_updated").await, 1);

    let r = o.post(&t, "/office/settings/logo/remove", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        t.get(&format!("/logo/{company}")).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Creates an invoice through the API with a due date `offset` days from
/// today in Chicago (negative: past due).
async fn invoice_due_in(
    t: &TestApp,
    key: &str,
    property: &str,
    amount: i64,
    offset: i64,
) -> String {
    let today = t.app.clock.today_in("America/Chicago");
    let due = today + time::Duration::days(offset);
    let issue = today - time::Duration::days(400);
    let r = t
        .api_with_key(
            key,
            Method::POST,
            "/api/v1/invoices",
            Some(json!({
                "property_id": property,
                "issue_date": fieldpay::domain::dates::iso(issue),
                "due_date": fieldpay::domain::dates::iso(due),
                "lines": [{"description": "Termite treatment", "quantity": 1, "unit_price": amount}]
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

/// The (count, amount) cells of a row of the aging or channel table.
fn row<'a>(html: &'a str, label: &str) -> (&'a str, &'a str) {
    let start = html
        .find(&format!("<th scope=\"row\">{label}</th>"))
        .unwrap_or_else(|| panic!("row {label}"));
    let rest = &html[start..];
    let end = rest.find("</tr>").unwrap();
    let cells: Vec<&str> = rest[..end]
        .split("<td class=\"n\">")
        .skip(1)
        .map(|c| c.split("</td>").next().unwrap())
        .collect();
    (cells[0], cells[1])
}

#[tokio::test]
async fn dashboard_ages_receivables_and_charts_payments() {
    let t = TestApp::new().await;
    let key = t.api_key.clone();
    let c = t.customer("Aging Customer").await;
    let p = t.property("5 Pine St", &c, None).await;
    // Current: due in 10 days and due today.
    let current = invoice_due_in(&t, &key, &p, 10_000, 10).await;
    invoice_due_in(&t, &key, &p, 500, 0).await;
    // 1–30: 1 day and 30 days late.
    invoice_due_in(&t, &key, &p, 2_000, -1).await;
    invoice_due_in(&t, &key, &p, 3_000, -30).await;
    // 31–60 and 61–90.
    invoice_due_in(&t, &key, &p, 4_000, -31).await;
    invoice_due_in(&t, &key, &p, 6_100, -61).await;
    // Over 90 (two), one of them void.
    invoice_due_in(&t, &key, &p, 9_100, -91).await;
    let void = invoice_due_in(&t, &key, &p, 77_700, -200).await;
    let mut tx = t.app.db.begin_write().await.unwrap();
    fieldpay::store::sql::query(
        "UPDATE invoices SET status = 'void', voided_at = $1 WHERE id = $2",
    )
    .bind(t.app.clock.now())
    .bind(&void)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let o = owner(&t).await;
    let dash = o.get(&t, "/office/dashboard").await;
    assert_eq!(dash.status, StatusCode::OK);
    let b = &dash.body;
    assert_eq!(row(b, "Current (not yet due)"), ("2", "$105.00"));
    assert_eq!(row(b, "1–30 days past due"), ("2", "$50.00"));
    assert_eq!(row(b, "31–60 days past due"), ("1", "$40.00"));
    assert_eq!(row(b, "61–90 days past due"), ("1", "$61.00"));
    assert_eq!(row(b, "Over 90 days past due"), ("1", "$91.00"));
    assert!(b.contains("id=\"open-total\">$347.00<"), "{b}");
    assert!(b.contains("id=\"overdue-total\">$242.00<"));
    assert!(!b.contains("$777.00"));
    assert!(b.contains("No payments in the last 30 days."));
    assert!(!b.contains("<svg"));

    // Payments: two by quick pay, one recorded by the office.
    let token = t.token(&c).await;
    for (i, amount) in [(0, "first"), (1, "second")] {
        let card = t.card("4242424242424242").await;
        let ids = if i == 0 {
            json!([current])
        } else {
            json!([invoice_due_in(&t, &key, &p, 1_500, 5).await])
        };
        let r = t
            .pay(
                &token,
                amount,
                json!({"invoice_ids": ids, "payment_method": card}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    // An office cash payment, written directly (recording one is another area's page).
    let company = company_id_of(&t, &t.owner_email).await;
    let mut tx = t.app.db.begin_write().await.unwrap();
    fieldpay::store::sql::query(
        "INSERT INTO payments (id, company_id, customer_id, channel, method, amount, currency, created_at)
         VALUES ('pay_office_test', $1, $2, 'office', 'cash', 2500, 'usd', $3)",
    )
    .bind(&company)
    .bind(&c)
    .bind(t.app.clock.now())
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let dash = o.get(&t, "/office/dashboard").await;
    let b = &dash.body;
    assert_eq!(row(b, "Quick pay"), ("2", "$115.00"));
    assert_eq!(row(b, "Office"), ("1", "$25.00"));
    assert_eq!(row(b, "Autopay"), ("0", "$0.00"));
    assert!(b.contains("id=\"paid-total\">$140.00<"));
    // The paid invoice left the current bucket.
    assert_eq!(row(b, "Current (not yet due)"), ("1", "$5.00"));
    let svg_start = b.find("<svg").expect("chart");
    let svg = &b[svg_start..svg_start + b[svg_start..].find("</svg>").unwrap()];
    assert!(svg.contains("role=\"img\""));
    assert!(svg.contains(
        "aria-label=\"Payments in the last 30 days by channel: Quick pay $115.00, Office $25.00\""
    ));
    assert_eq!(svg.matches("class=\"bar\"").count(), 2);
    assert!(svg.contains(">$115.00</text>") && svg.contains(">$25.00</text>"));
    assert!(!svg.contains("href"));

    // Another company's users see none of it.
    fieldpay::app::setup::create_company(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        "b-owner@example.com",
        "long enough pw",
    )
    .await
    .unwrap();
    let other = Office::sign_in(&t, "b-owner@example.com", "long enough pw").await;
    let theirs = other.get(&t, "/office/dashboard").await;
    assert_eq!(theirs.status, StatusCode::OK);
    let b = &theirs.body;
    assert!(b.contains("id=\"open-total\">$0.00<"));
    assert!(b.contains("id=\"paid-total\">$0.00<"));
    assert_eq!(row(b, "Over 90 days past due"), ("0", "$0.00"));
    assert!(!b.contains("<svg"));
    assert!(!b.contains("$115.00") && !b.contains("$91.00"));
}
