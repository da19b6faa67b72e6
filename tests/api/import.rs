//! Importing customers and invoices from CSV: the office upload form, the
//! shared import core and the `fieldpay import` command.

use axum::http::{Method, StatusCode};

use crate::office_auth::Office;
use crate::support::{OWNER_PASSWORD, Resp, TestApp};

const BOUNDARY: &str = "fpTestBoundary7MA4YWxkTrZu0gW";

/// A multipart/form-data body with text fields and one CSV file.
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &str)>) -> String {
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    if let Some((file_name, content)) = file {
        body.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

async fn upload(t: &TestApp, o: &Office, kind: &str, csv: &str) -> Resp {
    upload_with(
        t,
        o,
        &[("csrf", &o.csrf), ("kind", kind)],
        Some(("data.csv", csv)),
    )
    .await
}

async fn upload_with(
    t: &TestApp,
    o: &Office,
    fields: &[(&str, &str)],
    file: Option<(&str, &str)>,
) -> Resp {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    t.request(
        Method::POST,
        "/office/import",
        &[("cookie", &o.cookie), ("content-type", &ct)],
        Some(multipart(fields, file)),
    )
    .await
}

async fn customer_id(t: &TestApp, external_id: &str) -> Option<String> {
    fieldpay::store::sql::query_scalar("SELECT id FROM customers WHERE external_id = $1")
        .bind(external_id)
        .fetch_optional(t.app.db.reader())
        .await
        .unwrap()
}

async fn invoice_id(t: &TestApp, number: &str) -> String {
    fieldpay::store::sql::query_scalar("SELECT id FROM invoices WHERE number = $1")
        .bind(number)
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

async fn import_customers(t: &TestApp, csv: &str) -> fieldpay::app::import::ImportReport {
    let company = t.company_id().await;
    fieldpay::app::import::import_customers(
        &t.app,
        &company,
        csv.as_bytes(),
        "test",
        &mut |_, _| {},
    )
    .await
    .unwrap()
}

async fn import_invoices(t: &TestApp, csv: &str) -> fieldpay::app::import::ImportReport {
    let company = t.company_id().await;
    fieldpay::app::import::import_invoices(&t.app, &company, csv.as_bytes(), "test", &mut |_, _| {})
        .await
        .unwrap()
}

fn counts(r: &fieldpay::app::import::ImportReport) -> [usize; 5] {
    [r.created, r.updated, r.unchanged, r.skipped, r.failed]
}

fn failure(r: &fieldpay::app::import::ImportReport, line: u64) -> String {
    let row = r
        .results
        .iter()
        .find(|x| x.line == line)
        .unwrap_or_else(|| panic!("no row at line {line}: {:?}", r.results));
    assert_eq!(
        row.outcome,
        fieldpay::app::import::Outcome::Failed,
        "line {line}: {row:?}"
    );
    row.message.clone()
}

const CUSTOMERS: &str = "external_id,name,email,phone,service_address,bill_to_external_id\n\
T1,Tina Tenant,tina@example.com,512-555-0100,9 Elm St Apt 2,L1\n\
C2,,c2@example.com,,,\n\
C3,Carl,carl@,,,\n\
T4,Tom,,,4 Oak St,NOPE\n\
L1,Lena Landlord,lena@example.com,,1 Main St,\n";

#[tokio::test]
async fn customers_good_rows_are_kept_and_bad_rows_reported_by_line() {
    let t = TestApp::new().await;
    let r = import_customers(&t, CUSTOMERS).await;
    assert_eq!(counts(&r), [2, 0, 0, 0, 3], "{:?}", r.results);
    assert!(failure(&r, 3).contains("name is empty"));
    assert!(failure(&r, 4).contains("email 'carl@'"));
    assert!(failure(&r, 5).contains("bill_to_external_id 'NOPE' matches no customer"));
    assert!(customer_id(&t, "C3").await.is_none());
    assert!(
        customer_id(&t, "T4").await.is_none(),
        "a failed row writes nothing"
    );

    // Good rows have their payment link.
    let tina = customer_id(&t, "T1").await.unwrap();
    let lena = customer_id(&t, "L1").await.unwrap();
    assert!(t.link_url(&tina).await.contains("/pay/"));
    assert!(t.link_url(&lena).await.contains("/pay/"));

    // The landlord, named on a later line, is bill-to for the tenant's address.
    let (resident, bill_to): (String, String) = fieldpay::store::sql::query_as(
        "SELECT resident_customer_id, bill_to_customer_id FROM properties WHERE external_id = 'T1'",
    )
    .fetch_one(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!((resident, bill_to), (tina.clone(), lena.clone()));

    // The same file again changes nothing.
    let before = t.count("SELECT count(*) FROM customers").await;
    let props = t.count("SELECT count(*) FROM properties").await;
    let r = import_customers(&t, CUSTOMERS).await;
    assert_eq!(counts(&r), [0, 0, 2, 0, 3], "{:?}", r.results);
    assert_eq!(t.count("SELECT count(*) FROM customers").await, before);
    assert_eq!(t.count("SELECT count(*) FROM properties").await, props);
    assert_eq!(t.count("SELECT count(*) FROM payment_links").await, before);

    // A changed row updates the contact fields; the fixed rows are created.
    let fixed = "external_id,name,email,phone,service_address,bill_to_external_id\n\
T1,Tina Tenant,tina.new@example.com,512-555-0100,9 Elm St Apt 2,L1\n\
C2,Cora,c2@example.com,,,\n\
L1,Lena Landlord,lena@example.com,,1 Main St,\n";
    let r = import_customers(&t, fixed).await;
    assert_eq!(counts(&r), [1, 1, 1, 0, 0], "{:?}", r.results);
    let c = t
        .api(Method::GET, &format!("/api/v1/customers/{tina}"), None)
        .await
        .json();
    assert_eq!(c["email"], "tina.new@example.com");
    // A bill-to that points back at the customer through other rows is refused.
    let looped = "external_id,name,service_address,bill_to_external_id\n\
A1,Ann,1 A St,B1\n\
B1,Bob,2 B St,A1\n";
    let r = import_customers(&t, looped).await;
    assert_eq!(counts(&r), [0, 0, 0, 0, 2]);
    assert!(failure(&r, 2).contains("loop"));
}

#[tokio::test]
async fn invoices_with_lines_totals_and_amounts_paid() {
    // A fixed calendar: the rows without an issue date are issued today (or
    // on their due date, if earlier).
    let t = TestApp::starting_at(time::macros::datetime!(2026-11-28 18:00 UTC)).await;
    import_customers(&t, CUSTOMERS).await;
    let csv = "number,customer_external_id,property_external_id,issue_date,due_date,lines,total,amount_paid\n\
2001,T1,,2026-10-01,2026-10-31,Quarterly service|1|89.00;Termite bait|2|18.00,,25.00\n\
2002,,L1,,11/30/2026,,125.00,125.00\n\
2003,T1,,2026-10-01,2026-13-01,,50.00,\n\
2004,T1,,,2026-12-01,,12.345,\n\
2001,T1,,,2026-12-01,,5.00,\n\
2005,ZZ,,,2026-12-01,,5.00,\n\
2006,,T1,,2026-12-01,,40,10\n\
2007,L1,,,2026-12-01,,5,\n\
2008,T1,,,2026-12-01,,5,6\n";
    let r = import_invoices(&t, csv).await;
    assert_eq!(counts(&r), [3, 0, 0, 0, 6], "{:?}", r.results);
    assert!(failure(&r, 4).contains("due_date '2026-13-01' is not a date"));
    assert!(failure(&r, 5).contains("total '12.345'"));
    assert!(failure(&r, 6).contains("already on line 2"));
    assert!(failure(&r, 7).contains("'ZZ' matches no customer"));
    assert!(failure(&r, 9).contains("2 service addresses"));
    assert!(failure(&r, 10).contains("more than the total"));

    let lena = customer_id(&t, "L1").await.unwrap();
    let a = t.invoice_json(&invoice_id(&t, "2001").await).await;
    assert_eq!(a["total"], 12500);
    assert_eq!(a["balance"], 10000);
    assert_eq!(a["status"], "open");
    assert_eq!(a["lines"].as_array().unwrap().len(), 2);
    assert_eq!(
        a["bill_to_customer_id"],
        lena.as_str(),
        "billed to the landlord"
    );
    let b = t.invoice_json(&invoice_id(&t, "2002").await).await;
    assert_eq!(
        (b["balance"].as_i64(), b["status"].as_str()),
        (Some(0), Some("paid"))
    );
    assert_eq!(b["lines"][0]["description"], "Imported balance");
    assert_eq!(b["due_date"], "2026-11-30");
    let c = t.invoice_json(&invoice_id(&t, "2006").await).await;
    assert_eq!(
        (c["total"].as_i64(), c["balance"].as_i64()),
        (Some(4000), Some(3000))
    );
    assert_eq!(
        t.count("SELECT count(*) FROM audit_log WHERE action = 'invoice.imported_paid'")
            .await,
        3
    );
    assert_eq!(t.count("SELECT count(*) FROM payments").await, 0);

    // Again: existing invoices are skipped and left alone.
    let r = import_invoices(&t, csv).await;
    assert_eq!(counts(&r), [0, 0, 0, 3, 6], "{:?}", r.results);
    assert_eq!(t.count("SELECT count(*) FROM invoices").await, 3);

    // New invoices numbered by fieldpay follow the imported numbers.
    let prop: String =
        fieldpay::store::sql::query_scalar("SELECT id FROM properties WHERE external_id = 'L1'")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let next = t.invoice(&prop, 500, "2026-12-31").await;
    assert_eq!(t.invoice_json(&next).await["number"], "2007");
}

#[tokio::test]
async fn office_upload_reports_rows_and_escapes_names() {
    let t = TestApp::new().await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let page = o.get(&t, "/office/import").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("enctype=\"multipart/form-data\""));
    assert!(page.body.contains("name=\"csrf\""));

    let csv = "external_id,name,email\n\
X1,<script>alert(1)</script>,not-an-email\n\
X2,Pat <b>Bold</b>,pat@example.com\n";
    let r = upload(&t, &o, "customers", csv).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;"), "{}", r.body);
    assert!(!r.body.contains("<script>alert(1)"));
    assert!(
        r.body.contains("email &#x27;not-an-email&#x27;")
            || r.body.contains("email 'not-an-email'")
    );
    assert!(r.body.contains("1 row was not imported"));
    assert!(customer_id(&t, "X2").await.is_some());
    assert!(customer_id(&t, "X1").await.is_none());

    // Without the form's CSRF token: refused, nothing written.
    let r = upload_with(
        &t,
        &o,
        &[("csrf", "forged"), ("kind", "customers")],
        Some(("a.csv", "external_id,name\nZ9,Zed\n")),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(customer_id(&t, "Z9").await.is_none());

    // No kind chosen, no file, a file without the needed columns.
    let r = upload_with(
        &t,
        &o,
        &[("csrf", &o.csrf)],
        Some(("a.csv", "external_id,name\nZ9,Zed\n")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose what the file holds"));
    let r = upload_with(&t, &o, &[("csrf", &o.csrf), ("kind", "invoices")], None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("Choose a CSV file"));
    let r = upload(&t, &o, "customers", "name,email\nZed,z@example.com\n").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("missing: external_id"), "{}", r.body);
    assert!(customer_id(&t, "Z9").await.is_none());

    // Too large a file.
    let big = format!("external_id,name\n{}", "X,Y\n".repeat(600_000));
    let r = upload(&t, &o, "customers", &big).await;
    assert_eq!(
        r.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        &r.body[..r.body.len().min(300)]
    );

    // Another company's customers are not this company's: its external ids do
    // not resolve here.
    fieldpay::app::setup::create_company(
        &t.app.db,
        &fieldpay::app::setup::default_company("Other"),
        "other-import@example.com",
        "long enough pw",
    )
    .await
    .unwrap();
    let other = Office::sign_in(&t, "other-import@example.com", "long enough pw").await;
    let r = upload(
        &t,
        &other,
        "customers",
        "external_id,name,service_address,bill_to_external_id\nO1,Oleg,6 Pine,X2\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body.contains("&#x27;X2&#x27; matches no customer"),
        "{}",
        r.body
    );
    assert_eq!(
        t.count("SELECT count(*) FROM customers WHERE external_id = 'O1'")
            .await,
        0
    );
    let r = upload(&t, &other, "customers", "external_id,name\nX2,Olga\n").await;
    assert!(r.body.contains("Every row was imported"), "{}", r.body);
    // The same external id is another customer in the other company.
    assert_eq!(
        t.count("SELECT count(*) FROM customers WHERE external_id = 'X2'")
            .await,
        2
    );
}

#[test]
fn cli_import_prints_the_summary_and_exit_codes() {
    let dir =
        std::env::temp_dir().join(format!("fieldpay-import-{}", fieldpay::crypto::new_id("t")));
    std::fs::create_dir_all(&dir).unwrap();
    let run = |args: &[&str]| {
        crate::common::fieldpay_cmd(&format!("sqlite://{}/cli.db", dir.display()))
            .args(args)
            .output()
            .expect("the binary runs")
    };
    let out = run(&[
        "company",
        "create",
        "--name",
        "Acme Pest",
        "--owner-email",
        "owner@acme.example",
        "--owner-password",
        "long enough pw",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let company = json["company_id"].as_str().unwrap().to_string();
    let customers = dir.join("customers.csv");
    std::fs::write(&customers, CUSTOMERS).unwrap();
    let file = customers.to_str().unwrap();

    // Some rows fail: they are listed, the rest imported, exit code 2.
    let out = run(&["import", "customers", file, "--company", &company]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("line 3: failed C2: name is empty"),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("customers: 5 rows: 2 created, 0 updated, 0 unchanged, 0 skipped, 3 failed"),
        "{stdout}"
    );
    // No progress bar when stderr is not a terminal.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("rows ("));

    // Every row good: exit 0; by company name too.
    let invoices = dir.join("invoices.csv");
    // Due in 30 days by the system clock, which the process reads.
    let due = fieldpay::domain::Clock::system().today_in("UTC") + time::Duration::days(30);
    std::fs::write(
        &invoices,
        format!(
            "number,customer_external_id,due_date,total\nA-1,T1,{},80.00\n",
            fieldpay::domain::dates::iso(due)
        ),
    )
    .unwrap();
    let out = run(&[
        "import",
        "invoices",
        invoices.to_str().unwrap(),
        "--company-name",
        "Acme Pest",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("invoices: 1 rows: 1 created"), "{stdout}");

    // Nothing can be imported: exit 1 with a message.
    let out = run(&["import", "customers", file, "--company", "co_nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no company has the id 'co_nope'"));
    let missing = dir.join("missing.csv");
    let out = run(&[
        "import",
        "customers",
        missing.to_str().unwrap(),
        "--company",
        &company,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
    std::fs::write(
        &invoices,
        format!("number,due_date\n1,{}\n", fieldpay::domain::dates::iso(due)),
    )
    .unwrap();
    let out = run(&[
        "import",
        "invoices",
        invoices.to_str().unwrap(),
        "--company",
        &company,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("customer_external_id"));
    std::fs::remove_dir_all(&dir).ok();
}
