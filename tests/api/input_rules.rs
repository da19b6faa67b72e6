//! Input refused or normalised when it is written (SECURITY.md 23, 25):
//! control characters in one-line fields, phone numbers in E.164, filters
//! by another company's customer, search wildcards, the bearer scheme, and
//! files at rest readable by the owner only.

use std::os::unix::fs::PermissionsExt;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, TestApp};

async fn office(t: &TestApp) -> Office {
    Office::sign_in(t, &t.owner_email, OWNER_PASSWORD).await
}

fn error_field(body: &Value) -> &str {
    body["error"]["field"].as_str().unwrap_or("")
}

#[tokio::test]
async fn control_characters_in_one_line_fields_are_refused_through_the_api() {
    let t = TestApp::new().await;
    for (field, value) in [
        ("name", "Lena\r\nBcc: all@example.com"),
        ("name", "Lena\u{0}Landlord"),
        ("name", "Lena\u{85}Landlord"),
        ("email", "lena@example.com\nX: y"),
        ("phone", "512\t555 0142"),
    ] {
        let mut body = json!({"name": "Lena Landlord"});
        body[field] = json!(value);
        let r = t.api(Method::POST, "/api/v1/customers", Some(body)).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.body
        );
        assert_eq!(error_field(&r.json()), field, "{}", r.body);
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM customers").await, 0);

    // Several lines where an address has them; other control characters not.
    let ok = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Lena Landlord", "billing_address": "PO Box 12\nAustin, TX"})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.json()["billing_address"], "PO Box 12\nAustin, TX");
    let c = ok.json()["id"].as_str().unwrap().to_string();
    let bad = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Ann", "billing_address": "1 Main\u{1b}[2J St"})),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&bad.json()), "billing_address");

    // Invoice numbers and line descriptions.
    let p = t.property("12 Elm St", &c, None).await;
    let invoice = |number: &str, description: &str| {
        json!({"property_id": p, "number": number, "due_date": t.day(30),
               "lines": [{"description": description, "quantity": 1, "unit_price": 1000}]})
    };
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(invoice("A-1\r\n", "Spray")),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a trailing line break is trimmed: {}",
        r.body
    );
    for (body, field) in [
        (invoice("A\u{0}2", "Spray"), "number"),
        (invoice("A-3", "Spray\r\nBait"), "lines[0].description"),
    ] {
        let r = t.api(Method::POST, "/api/v1/invoices", Some(body)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(error_field(&r.json()), field, "{}", r.body);
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM invoices").await, 1);

    // Template names and subjects are one line; bodies keep their lines.
    let r = t
        .api(
            Method::POST,
            "/api/v1/email-templates",
            Some(
                json!({"name": "Reminder", "subject": "Hi\nBcc: x@example.com",
                        "html_body": "<p>Hi</p>\n<p>{{ email_payment_link }}</p>"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_field(&r.json()), "subject");
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Text\u{7}", "body": "Pay here:\n{{ sms_payment_link }}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(error_field(&r.json()), "name");
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Text", "body": "Pay here:\n{{ sms_payment_link }}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn control_characters_are_refused_on_the_office_forms_and_in_imports() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let r = o
        .post(
            &t,
            "/office/customers",
            &[
                ("name", "Lena\nLandlord"),
                ("email", ""),
                ("phone", "call me maybe"),
                ("billing_address", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("name must be one line of text"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("phone must be a phone number"),
        "{}",
        r.body
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM customers").await, 0);

    let c = t.customer("Ada Owner").await;
    let p = t.property("1 Oak Ln", &c, None).await;
    let (issue, due) = (t.day(0), t.day(30));
    let mut fields = vec![
        ("property_id", p.as_str()),
        ("number", "INV\u{1}7"),
        ("issue_date", issue.as_str()),
        ("due_date", due.as_str()),
        ("description", "Spray\u{0}"),
        ("quantity", "1"),
        ("unit_price", "10.00"),
    ];
    let r = o.post(&t, "/office/invoices", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("number must be one line of text"),
        "{}",
        r.body
    );
    assert!(
        r.body.contains("description must be one line of text"),
        "{}",
        r.body
    );
    fields[1].1 = "INV-7";
    fields[4].1 = "Spray";
    let r = o.post(&t, "/office/invoices", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // CSV: a quoted field may hold a line break; a one-line column refuses it.
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT id FROM companies LIMIT 1")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let csv = "external_id,name,phone,service_address\n\
               C1,\"Tina\nTwoLines\",,\"9 Elm St\nAustin\"\n\
               C2,Tom,call me maybe,\n\
               C3,Tia,(512) 555-0100,\"1 Oak\nAustin\"\n";
    let report = fieldpay::app::import::import_customers(
        &t.app,
        &company,
        csv.as_bytes(),
        "test",
        &mut |_, _| {},
    )
    .await
    .unwrap();
    assert_eq!(
        (report.created, report.failed),
        (1, 2),
        "{:?}",
        report.results
    );
    assert!(
        report.results[0].message.contains("one line"),
        "{:?}",
        report.results[0]
    );
    assert!(report.results[1].message.contains("phone 'call me maybe'"));
    let phone: String =
        fieldpay::store::sql::query_scalar("SELECT phone FROM customers WHERE name = 'Tia'")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(phone, "+15125550100");
}

#[tokio::test]
async fn phone_numbers_are_stored_in_e164_with_the_company_country() {
    let t = TestApp::new().await;
    let create = |phone: &str| {
        let body = json!({"name": "Pat", "phone": phone});
        let t = &t;
        async move { t.api(Method::POST, "/api/v1/customers", Some(body)).await }
    };
    for (typed, stored) in [
        ("(512) 555-0142", "+15125550142"),
        ("512.555.0143", "+15125550143"),
        ("+44 20 7946 0958", "+442079460958"),
    ] {
        let r = create(typed).await;
        assert_eq!(r.status, StatusCode::CREATED, "{typed}: {}", r.body);
        assert_eq!(r.json()["phone"], stored, "{typed}");
    }
    let r = create("call me maybe").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_field(&r.json()), "phone");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("phone number")
    );

    // A company in the United Kingdom reads national numbers as British.
    let o = office(&t).await;
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &[
                ("name", "Greenleaf Pest Control"),
                ("address", "1 High St\nLondon"),
                ("phone", "020 7946 0000"),
                ("email", ""),
                ("currency", "usd"),
                ("time_zone", "Europe/London"),
                ("accent_color", "#1d5fbf"),
                ("country", "GB"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = create("020 7946 0958").await;
    assert_eq!(r.json()["phone"], "+442079460958", "{}", r.body);
    let r = o
        .post(
            &t,
            "/office/settings/company",
            &[
                ("name", "Greenleaf Pest Control"),
                ("phone", "not a number"),
                ("currency", "usd"),
                ("time_zone", "Europe/London"),
                ("accent_color", "#1d5fbf"),
                ("country", "GB"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn numbers_written_before_they_were_checked_are_normalised_or_listed() {
    let t = TestApp::new().await;
    let good = t.customer("Old Good").await;
    let bad = t.customer("Old Bad").await;
    for (id, phone) in [(&good, "(512) 555-0177"), (&bad, "call me maybe")] {
        fieldpay::store::sql::query("UPDATE customers SET phone = $1 WHERE id = $2")
            .bind(phone)
            .bind(id.as_str())
            .execute(t.app.db.writer())
            .await
            .unwrap();
    }
    let (fixed, left) = fieldpay::app::setup::normalize_stored_phones(&t.app.db)
        .await
        .unwrap();
    assert_eq!((fixed, left), (1, 1));
    let phone = |id: &str| {
        let id = id.to_string();
        let t = &t;
        async move {
            t.api(Method::GET, &format!("/api/v1/customers/{id}"), None)
                .await
                .json()["phone"]
                .clone()
        }
    };
    assert_eq!(phone(&good).await, "+15125550177");
    assert_eq!(phone(&bad).await, "call me maybe", "left untouched");
    let again = fieldpay::app::setup::normalize_stored_phones(&t.app.db)
        .await
        .unwrap();
    assert_eq!(again, (0, 1));
}

#[tokio::test]
async fn list_filters_by_another_companys_customer_are_404() {
    let t = TestApp::new().await;
    let ours = t.customer("Ours").await;
    let other_key = t.other_company().await;
    let r = t
        .api_with_key(
            &other_key,
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Theirs"})),
        )
        .await;
    let theirs = r.json()["id"].as_str().unwrap().to_string();
    for path in ["/api/v1/invoices", "/api/v1/payments", "/api/v1/messages"] {
        for id in [theirs.as_str(), "cus_unknown"] {
            let r = t
                .api(Method::GET, &format!("{path}?customer_id={id}"), None)
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{path} {id}: {}", r.body);
        }
        let r = t
            .api(Method::GET, &format!("{path}?customer_id={ours}"), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
}

#[tokio::test]
async fn search_takes_percent_and_underscore_literally() {
    let t = TestApp::new().await;
    t.customer("100% Organic Lawns").await;
    t.customer("Plain_Name Co").await;
    t.customer("Nothing Special").await;
    let names = |q: &str| {
        let q = form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>();
        let t = &t;
        async move {
            let r = t
                .api(Method::GET, &format!("/api/v1/customers?q={q}"), None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            r.json()["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(names("%").await, ["100% Organic Lawns"]);
    assert_eq!(names("_").await, ["Plain_Name Co"]);
    assert_eq!(names("").await.len(), 3);
    let o = office(&t).await;
    let page = o.get(&t, "/office/search?q=%25").await;
    assert!(page.body.contains("100% Organic Lawns"));
    assert!(!page.body.contains("Nothing Special"), "{}", page.body);
    let page = o.get(&t, "/office/customers?q=_").await;
    assert!(page.body.contains("Plain_Name Co"));
    assert!(!page.body.contains("Nothing Special"));
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let t = TestApp::new().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = format!("{scheme} {}", t.api_key);
        let r = t
            .request(
                Method::GET,
                "/api/v1/customers",
                &[("authorization", &auth)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{scheme}: {}", r.body);
    }
    let r = t
        .request(
            Method::GET,
            "/api/v1/customers",
            &[("authorization", &format!("Basic {}", t.api_key))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_portal_sign_in_forms_carry_a_csrf_token() {
    let t = TestApp::new().await;
    let page = t.get("/portal/login").await;
    assert_eq!(page.body.matches("name=\"csrf\"").count(), 2, "both forms");
    assert!(page.header("set-cookie").contains("SameSite=Strict"));
    for path in ["/portal/login", "/portal/login-link"] {
        let r = t
            .request(
                Method::POST,
                path,
                &[("content-type", "application/x-www-form-urlencoded")],
                Some("email=x%40example.com&password=whatever+long".into()),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
    }
    let r = t
        .post_signin(
            "/portal/login-link",
            &[("email", "x@example.com")],
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn files_at_rest_are_readable_by_the_owner_only() {
    if crate::support::on_postgres() {
        return; // the database is the server's; the spool is checked on SQLite
    }
    let t = TestApp::new().await;
    // A message through the spool transport.
    let c = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Sam", "email": "sam@example.com", "phone": "(512) 555-0150"})),
        )
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = t
        .api(
            Method::POST,
            "/api/v1/sms-templates",
            Some(json!({"name": "Link", "body": "Pay: {{ sms_payment_link }}"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT id FROM companies LIMIT 1")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let mut tx = t.app.db.begin_write().await.unwrap();
    fieldpay::messaging::outbox::enqueue(
        &mut tx,
        &fieldpay::messaging::outbox::NewMessage {
            company_id: company,
            customer_id: c,
            invoice_id: None,
            channel: fieldpay::messaging::Channel::Sms,
            recipient: "+15125550150".into(),
            template_id: r.json()["id"].as_str().unwrap().to_string(),
            cause: "test:perm".into(),
        },
        t.app.clock.now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let report = fieldpay::app::messages::deliver_due(
        &t.app,
        t.app.clock.now(),
        fieldpay::app::messages::render_stored,
    )
    .await
    .unwrap();
    assert_eq!(report.sent, 1, "{report:?}");

    let spool = t.dir.join("spool");
    assert_eq!(mode(&spool), 0o700);
    let mut files = 0;
    for entry in std::fs::read_dir(&spool).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files += 1;
    }
    assert_eq!(files, 1);
    let mut db_files = 0;
    for entry in std::fs::read_dir(&t.dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.contains(".db") {
            assert_eq!(mode(&path), 0o600, "{name}");
            db_files += 1;
        }
    }
    // test.db, its -wal and -shm, and the sandbox's three.
    assert!(db_files >= 4, "{db_files}");
}
