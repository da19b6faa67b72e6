//! Invoice and statement PDFs as a reader sees them: the text `pdftotext`
//! extracts, `qpdf --check`, the QR code decoded from the rasterised page
//! (`pdftoppm`, then rqrr), page sizes from `pdfinfo`, and who may fetch what.
//!
//! The tools come from poppler-utils and qpdf. Under `CI=true` a missing tool
//! fails the test; elsewhere the test is skipped with a message.

use std::path::PathBuf;
use std::process::Command;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::office_auth::Office;
use crate::support::{BASE_URL, OWNER_PASSWORD, TestApp};

// ---------------------------------------------------------------- tools

/// Whether poppler-utils and qpdf are installed; under CI a missing one is a failure.
fn tools_present() -> bool {
    let missing: Vec<&str> = [
        ("pdftotext", "-v"),
        ("pdftoppm", "-v"),
        ("pdfinfo", "-v"),
        ("pdffonts", "-v"),
        ("qpdf", "--version"),
    ]
    .into_iter()
    .filter(|(tool, arg)| Command::new(tool).arg(arg).output().is_err())
    .map(|(tool, _)| tool)
    .collect();
    if missing.is_empty() {
        return true;
    }
    if crate::common::in_ci() {
        panic!(
            "missing {missing:?}: .ci/run installs poppler-utils and qpdf (apt-get install -y poppler-utils qpdf)"
        );
    }
    eprintln!(
        "SKIPPED the PDF test: {missing:?} not found (apt-get install -y poppler-utils qpdf)"
    );
    false
}

/// A PDF written to a file of the test's own folder.
struct Pdf {
    path: PathBuf,
}

impl Pdf {
    fn new(t: &TestApp, bytes: &[u8]) -> Pdf {
        assert!(
            bytes.starts_with(b"%PDF-"),
            "not a PDF: {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        );
        let path = t
            .dir
            .join(format!("{}.pdf", fieldpay::crypto::new_id("pdf")));
        std::fs::write(&path, bytes).unwrap();
        // To look at what the tests drew: FIELDPAY_TEST_PDF_DIR=/some/dir.
        if let Ok(dir) = std::env::var("FIELDPAY_TEST_PDF_DIR") {
            std::fs::create_dir_all(&dir).ok();
            std::fs::copy(&path, PathBuf::from(dir).join(path.file_name().unwrap())).ok();
        }
        Pdf { path }
    }

    fn run(&self, tool: &str, args: &[&str]) -> String {
        let out = Command::new(tool)
            .args(args)
            .arg(&self.path)
            .args(if tool == "pdftotext" {
                &["-"][..]
            } else {
                &[][..]
            })
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The text as `pdftotext -layout` reads it.
    fn text(&self) -> String {
        self.run("pdftotext", &["-layout"])
    }

    /// One string per page.
    fn pages(&self) -> Vec<String> {
        let text = self.text();
        let mut pages: Vec<String> = text.split('\x0c').map(String::from).collect();
        if pages.last().is_some_and(|p| p.trim().is_empty()) {
            pages.pop();
        }
        pages
    }

    fn check_structure(&self) {
        let out = self.run("qpdf", &["--check"]);
        assert!(out.contains("No syntax or stream encoding errors"), "{out}");
    }

    fn info(&self) -> String {
        self.run("pdfinfo", &[])
    }

    /// What the QR codes on page `page` decode to, read from the page
    /// rasterised in grey. rqrr misses some codes at one resolution that it
    /// reads at another, so a few are tried; the first that finds any wins.
    fn qr_codes(&self, page: u32) -> Vec<String> {
        for dpi in [150, 200, 300, 100] {
            let found = self.qr_codes_at(page, dpi);
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    fn qr_codes_at(&self, page: u32, dpi: u32) -> Vec<String> {
        let prefix = self.path.with_extension(format!("p{page}-{dpi}"));
        let n = page.to_string();
        let out = Command::new("pdftoppm")
            .args([
                "-r",
                &dpi.to_string(),
                "-gray",
                "-singlefile",
                "-f",
                &n,
                "-l",
                &n,
            ])
            .arg(&self.path)
            .arg(&prefix)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pgm = std::fs::read(prefix.with_extension(format!("p{page}-{dpi}.pgm"))).unwrap();
        let (w, h, pixels) = parse_pgm(&pgm);
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        img.detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, text)| text))
            .collect()
    }
}

/// A binary PGM (P5, 8-bit): width, height and the pixels.
fn parse_pgm(data: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while data[i].is_ascii_whitespace() {
            i += 1;
        }
        if data[i] == b'#' {
            while data[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while !data[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let w: usize = fields[1].parse().unwrap();
    let h: usize = fields[2].parse().unwrap();
    assert_eq!(fields[3], "255");
    let pixels = data[i + 1..].to_vec();
    assert_eq!(pixels.len(), w * h);
    (w, h, pixels)
}

// ---------------------------------------------------------------- HTTP

struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get(t: &TestApp, path: &str, headers: &[(&str, &str)]) -> Got {
    let mut b = Request::builder().method(Method::GET).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = t
        .router
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Got {
        status,
        headers,
        body,
    }
}

async fn api_get(t: &TestApp, key: &str, path: &str) -> Got {
    get(t, path, &[("authorization", &format!("Bearer {key}"))]).await
}

fn assert_pdf(g: &Got, filename: &str) {
    assert_eq!(g.status, StatusCode::OK, "{}", g.text());
    assert_eq!(g.header("content-type"), "application/pdf");
    assert_eq!(
        g.header("content-disposition"),
        format!("inline; filename=\"{filename}\"")
    );
    assert_eq!(g.header("cache-control"), "no-store");
    assert_eq!(g.header("x-content-type-options"), "nosniff");
}

// ---------------------------------------------------------------- data

async fn customer_with_address(t: &TestApp, name: &str, address: Option<&str>) -> String {
    let mut body = json!({"name": name, "email": "pdf@example.com"});
    if let Some(a) = address {
        body["billing_address"] = json!(a);
    }
    let r = t.api(Method::POST, "/api/v1/customers", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn invoice_with_lines(t: &TestApp, property: &str, lines: Value) -> Value {
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({
                "property_id": property,
                "issue_date": t.day(-26),
                "due_date": t.day(4),
                "lines": lines,
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()
}

async fn set_invoice_settings(t: &TestApp, body: Value) {
    let r = t
        .api(Method::PUT, "/api/v1/settings/invoice", Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A landlord billed for a tenant's home, with one two-line invoice.
struct Landlord {
    customer: String,
    invoice: String,
    number: String,
}

async fn landlord(t: &TestApp) -> Landlord {
    let landlord =
        customer_with_address(t, "Lena Landlord", Some("PO Box 118\nRound Rock, TX 78680")).await;
    let tenant = customer_with_address(t, "Tom Tenant", None).await;
    let property = t
        .property("77 Elm Street, Unit B, Austin", &tenant, Some(&landlord))
        .await;
    let inv = invoice_with_lines(
        t,
        &property,
        json!([
            {"description": "Quarterly pest control", "quantity": 1, "unit_price": 12500},
            {"description": "Termite inspection", "quantity": 2, "unit_price": 4250}
        ]),
    )
    .await;
    Landlord {
        customer: landlord,
        invoice: inv["id"].as_str().unwrap().to_string(),
        number: inv["number"].as_str().unwrap().to_string(),
    }
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn invoice_pdf_prints_the_invoice_and_the_public_link_with_its_qr_code() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let l = landlord(&t).await;
    let g = api_get(
        &t,
        &t.api_key,
        &format!("/api/v1/invoices/{}/pdf", l.invoice),
    )
    .await;
    assert_pdf(&g, &format!("invoice-{}.pdf", l.number));
    let pdf = Pdf::new(&t, &g.body);
    pdf.check_structure();
    let text = pdf.text();
    for expected in [
        "Greenleaf Pest Control",
        "(512) 555-0142",
        "INVOICE",
        &l.number,
        &fieldpay::domain::dates::display(t.date(-26)),
        &fieldpay::domain::dates::display(t.date(4)),
        "Lena Landlord",
        "PO Box 118",
        "Round Rock, TX 78680",
        "77 Elm Street, Unit B, Austin",
        "Billed on behalf of the resident, Tom Tenant",
        "Quarterly pest control",
        "Termite inspection",
        "$125.00",
        "$42.50",
        "$85.00",
        "$210.00",
        "Payments applied",
        "Balance due",
        "Page 1 of 1",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    // The link is the customer's quick payment URL, printed whole and as a QR code.
    let url = t.link_url(&l.customer).await;
    assert!(url.starts_with(&format!("{BASE_URL}/pay/")));
    assert!(text.contains(&url), "missing {url} in:\n{text}");
    assert_eq!(pdf.qr_codes(1), vec![url.clone()]);
    // Metadata and fonts.
    let info = pdf.info();
    assert!(
        info.contains(&format!(
            "Title:           Invoice {} from Greenleaf Pest Control",
            l.number
        )),
        "{info}"
    );
    assert!(
        info.contains("Page size:       612 x 792 pts (letter)"),
        "{info}"
    );
    let fonts = pdf.run("pdffonts", &[]);
    assert!(fonts.contains("DejaVuSans"), "{fonts}");
    assert!(
        fonts.lines().skip(2).all(|l| l.contains(" yes ")),
        "every font embedded:\n{fonts}"
    );
    // The text extracts as typed (no ligatures, no HTML escaping).
    assert!(!text.contains("&amp;") && !text.contains("&lt;"));

    // ?download=1 saves it instead of showing it.
    let g = api_get(
        &t,
        &t.api_key,
        &format!("/api/v1/invoices/{}/pdf?download=1", l.invoice),
    )
    .await;
    assert_eq!(
        g.header("content-disposition"),
        format!("attachment; filename=\"invoice-{}.pdf\"", l.number)
    );
}

#[tokio::test]
async fn the_link_follows_invoice_settings_portal_off_and_revoked() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let l = landlord(&t).await;
    let path = format!("/api/v1/invoices/{}/pdf", l.invoice);

    // Customer Portal: the portal URL, as text and as QR code.
    set_invoice_settings(
        &t,
        json!({"payment_link_enabled": true, "payment_link_target": "portal"}),
    )
    .await;
    let pdf = Pdf::new(&t, &api_get(&t, &t.api_key, &path).await.body);
    pdf.check_structure();
    let text = pdf.text();
    let portal = format!("{BASE_URL}/portal");
    assert!(text.contains(&portal), "{text}");
    assert!(!text.contains("/pay/"), "{text}");
    assert_eq!(pdf.qr_codes(1), vec![portal]);

    // Off: neither a link nor a code.
    set_invoice_settings(
        &t,
        json!({"payment_link_enabled": false, "payment_link_target": "public"}),
    )
    .await;
    let pdf = Pdf::new(&t, &api_get(&t, &t.api_key, &path).await.body);
    pdf.check_structure();
    let text = pdf.text();
    assert!(!text.contains(BASE_URL), "{text}");
    assert!(!text.contains("Pay online"), "{text}");
    assert!(text.contains("To pay, call (512) 555-0142."), "{text}");
    assert!(text.contains(&l.number));
    assert_eq!(pdf.qr_codes(1), Vec::<String>::new());

    // Public again, then the customer's link revoked: neither.
    set_invoice_settings(
        &t,
        json!({"payment_link_enabled": true, "payment_link_target": "public"}),
    )
    .await;
    let url = t.link_url(&l.customer).await;
    let pdf = Pdf::new(&t, &api_get(&t, &t.api_key, &path).await.body);
    assert!(pdf.text().contains(&url));
    let r = t
        .api(
            Method::POST,
            &format!("/api/v1/customers/{}/payment-link/revoke", l.customer),
            None,
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let pdf = Pdf::new(&t, &api_get(&t, &t.api_key, &path).await.body);
    let text = pdf.text();
    assert!(!text.contains(BASE_URL), "{text}");
    assert_eq!(pdf.qr_codes(1), Vec::<String>::new());
}

#[tokio::test]
async fn sixty_lines_paginate_with_the_header_on_every_page() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let c = t.customer("Paula Pages").await;
    let p = t.property("12 Long Road", &c, None).await;
    let lines: Vec<Value> = (1..=60)
        .map(|i| json!({"description": format!("Service visit number {i}"), "quantity": 1, "unit_price": 1000 + i}))
        .collect();
    let inv = invoice_with_lines(&t, &p, json!(lines)).await;
    let number = inv["number"].as_str().unwrap();
    let g = api_get(
        &t,
        &t.api_key,
        &format!("/api/v1/invoices/{}/pdf", inv["id"].as_str().unwrap()),
    )
    .await;
    let pdf = Pdf::new(&t, &g.body);
    pdf.check_structure();
    let pages = pdf.pages();
    let n = pages.len();
    assert!(n >= 2, "{n} pages");
    for (i, page) in pages.iter().enumerate() {
        assert!(
            page.contains("Greenleaf Pest Control"),
            "page {}: {page}",
            i + 1
        );
        assert!(page.contains("INVOICE"), "page {}", i + 1);
        assert!(page.contains(number), "page {}", i + 1);
        assert!(
            page.contains(&format!("Page {} of {n}", i + 1)),
            "page {}: {page}",
            i + 1
        );
    }
    // Every line once, in order; the table header repeats; totals at the end.
    let text = pages.join("\n");
    let mut at = 0;
    for i in 1..=60 {
        let needle = format!("Service visit number {i} ");
        let found = text[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("line {i} missing or out of order"));
        at += found + needle.len();
    }
    assert!(pages[1].contains("Description"));
    assert!(pages[n - 1].contains("Balance due"));
    let total: i64 = (1..=60).map(|i| 1000 + i).sum();
    assert!(
        text.contains(
            &fieldpay::domain::money::Money::new(total, fieldpay::domain::money::Currency::USD)
                .format()
        )
    );
    assert_eq!(pdf.qr_codes(n as u32), vec![t.link_url(&c).await]);
}

#[tokio::test]
async fn pay_page_and_portal_serve_only_the_customers_own_invoices() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let l = landlord(&t).await;
    let (other, other_invoices) =
        crate::support::customer_with_invoices(&t, "Oscar Other", &[5000]).await;
    let token = t.token(&l.customer).await;

    // The token's own invoice.
    let g = get(&t, &format!("/pay/{token}/invoices/{}/pdf", l.invoice), &[]).await;
    assert_pdf(&g, &format!("invoice-{}.pdf", l.number));
    assert!(Pdf::new(&t, &g.body).text().contains("Lena Landlord"));
    // Another customer's invoice under this token: the same 404 as any unknown page.
    let unknown = get(&t, "/no/such/page", &[]).await;
    let g = get(
        &t,
        &format!("/pay/{token}/invoices/{}/pdf", other_invoices[0]),
        &[],
    )
    .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert_eq!(g.body, unknown.body);
    // A bad token: 404 too.
    let g = get(
        &t,
        &format!("/pay/{}/invoices/{}/pdf", "A".repeat(43), l.invoice),
        &[],
    )
    .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert_eq!(g.body, unknown.body);

    // The statement: every open invoice billed to the token's customer.
    let inv2 = {
        let p2 = t.property("9 Oak Avenue", &l.customer, None).await;
        t.invoice(&p2, 9900, &t.day(22)).await
    };
    let g = get(&t, &format!("/pay/{token}/statement.pdf"), &[]).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.header("content-type"), "application/pdf");
    assert!(
        g.header("content-disposition")
            .starts_with("inline; filename=\"statement-")
    );
    let pdf = Pdf::new(&t, &g.body);
    pdf.check_structure();
    let text = pdf.text();
    let number2 = t.invoice_json(&inv2).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    for expected in [
        "STATEMENT",
        "Lena Landlord",
        "77 Elm Street, Unit B, Austin",
        "Billed on behalf of the resident, Tom Tenant",
        "9 Oak Avenue",
        &l.number,
        &number2,
        "$210.00",
        "$99.00",
        "$309.00",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    assert!(!text.contains("Oscar Other"));
    let url = t.link_url(&l.customer).await;
    assert!(text.contains(&url));
    assert_eq!(pdf.qr_codes(1), vec![url]);

    // The pay page links to both.
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(
        page.body
            .contains(&format!("/pay/{token}/invoices/{}/pdf", l.invoice)),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("/pay/{token}/statement.pdf")));

    // The portal: the signed-in customer's invoices only.
    let company: fieldpay::domain::ids::CompanyId =
        fieldpay::store::sql::query_scalar("SELECT company_id FROM customers WHERE id = $1")
            .bind(&l.customer)
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    let mut tx = t.app.db.begin_write().await.unwrap();
    let session = fieldpay::store::sessions::create(
        &mut tx,
        fieldpay::store::sessions::Kind::Portal,
        &l.customer,
        &company,
        time::Duration::hours(1),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let cookie = format!("fp_portal={session}");
    let g = get(
        &t,
        &format!("/portal/invoices/{}/pdf", l.invoice),
        &[("cookie", &cookie)],
    )
    .await;
    assert_pdf(&g, &format!("invoice-{}.pdf", l.number));
    let g = get(
        &t,
        &format!("/portal/invoices/{}/pdf", other_invoices[0]),
        &[("cookie", &cookie)],
    )
    .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    let g = get(&t, "/portal/statement.pdf", &[("cookie", &cookie)]).await;
    assert_eq!(g.status, StatusCode::OK);
    assert!(Pdf::new(&t, &g.body).text().contains("$309.00"));
    // Without a session: the sign-in page.
    let g = get(&t, &format!("/portal/invoices/{}/pdf", l.invoice), &[]).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    let home = get(&t, "/portal", &[("cookie", &cookie)]).await;
    assert!(
        home.text()
            .contains(&format!("/portal/invoices/{}/pdf", l.invoice)),
        "{}",
        home.text()
    );
    assert!(home.text().contains("/portal/statement.pdf"));
    let _ = other;
}

#[tokio::test]
async fn office_and_api_see_only_their_company_and_a4_changes_the_page() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let l = landlord(&t).await;
    let o = Office::sign_in(&t, &t.owner_email, OWNER_PASSWORD).await;
    let cookie = [("cookie", o.cookie.as_str())];

    let g = get(&t, &format!("/office/invoices/{}/pdf", l.invoice), &cookie).await;
    assert_pdf(&g, &format!("invoice-{}.pdf", l.number));
    let g = get(
        &t,
        &format!("/office/customers/{}/statement.pdf", l.customer),
        &cookie,
    )
    .await;
    assert_eq!(g.status, StatusCode::OK);
    assert!(Pdf::new(&t, &g.body).text().contains("Lena Landlord"));
    // The invoice page links to the PDF.
    let page = o.get(&t, &format!("/office/invoices/{}", l.invoice)).await;
    assert!(
        page.body
            .contains(&format!("/office/invoices/{}/pdf", l.invoice)),
        "{}",
        page.body
    );

    // Another company's invoice and customer: 404 in the office and the API.
    let other_key = t.other_company().await;
    let oc = {
        let r = t
            .api_with_key(
                &other_key,
                Method::POST,
                "/api/v1/customers",
                Some(json!({"name": "Theirs"})),
            )
            .await;
        r.json()["id"].as_str().unwrap().to_string()
    };
    let op = {
        let r = t
            .api_with_key(
                &other_key,
                Method::POST,
                "/api/v1/properties",
                Some(json!({"address": "1 Elsewhere", "resident_customer_id": oc})),
            )
            .await;
        r.json()["id"].as_str().unwrap().to_string()
    };
    let oi = {
        let r = t
            .api_with_key(
                &other_key,
                Method::POST,
                "/api/v1/invoices",
                Some(json!({"property_id": op, "due_date": t.day(3),
                    "lines": [{"description": "x", "quantity": 1, "unit_price": 100}]})),
            )
            .await;
        r.json()["id"].as_str().unwrap().to_string()
    };
    let g = get(&t, &format!("/office/invoices/{oi}/pdf"), &cookie).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    let g = get(
        &t,
        &format!("/office/customers/{oc}/statement.pdf"),
        &cookie,
    )
    .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    let g = api_get(&t, &t.api_key, &format!("/api/v1/invoices/{oi}/pdf")).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    assert!(g.text().contains("\"not_found\""), "{}", g.text());
    let g = api_get(
        &t,
        &other_key,
        &format!("/api/v1/invoices/{}/pdf", l.invoice),
    )
    .await;
    assert_eq!(g.status, StatusCode::NOT_FOUND);
    let g = api_get(&t, &other_key, &format!("/api/v1/invoices/{oi}/pdf")).await;
    assert_eq!(g.status, StatusCode::OK);
    let g = get(&t, &format!("/api/v1/invoices/{oi}/pdf"), &[]).await;
    assert_eq!(g.status, StatusCode::UNAUTHORIZED);
    // Signed out: the office login.
    let g = get(&t, &format!("/office/invoices/{}/pdf", l.invoice), &[]).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);

    // A4 from the Invoice Settings page changes the page size.
    let r = o
        .post(
            &t,
            "/office/settings/invoice",
            &[
                ("payment_link_enabled", "on"),
                ("payment_link_target", "public"),
                ("paper_size", "a4"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let settings = o.get(&t, "/office/settings/invoice").await;
    assert!(
        settings.body.contains("value=\"a4\" selected"),
        "{}",
        settings.body
    );
    let g = get(&t, &format!("/office/invoices/{}/pdf", l.invoice), &cookie).await;
    let pdf = Pdf::new(&t, &g.body);
    pdf.check_structure();
    let info = pdf.info();
    assert!(
        info.contains("Page size:       595.28 x 841.89 pts (A4)"),
        "{info}"
    );
    assert_eq!(pdf.qr_codes(1), vec![t.link_url(&l.customer).await]);
    // The API reads and sets it too; a bad value is refused and changes nothing.
    let r = t.api(Method::GET, "/api/v1/settings/invoice", None).await;
    assert_eq!(r.json()["paper_size"], "a4");
    let r = t
        .api(
            Method::PUT,
            "/api/v1/settings/invoice",
            Some(json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "legal"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "paper_size");
    set_invoice_settings(
        &t,
        json!({"payment_link_enabled": true, "payment_link_target": "public", "paper_size": "letter"}),
    )
    .await;
    let g = api_get(
        &t,
        &t.api_key,
        &format!("/api/v1/invoices/{}/pdf", l.invoice),
    )
    .await;
    assert!(
        Pdf::new(&t, &g.body)
            .info()
            .contains("612 x 792 pts (letter)")
    );
}

#[tokio::test]
async fn names_with_markup_print_as_typed() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let name = "<script>alert(1)</script> & Sons";
    let c = customer_with_address(&t, name, Some("<b>1 Tag Lane</b>")).await;
    let p = t.property("<i>9 Markup Way</i>", &c, None).await;
    let inv = invoice_with_lines(
        &t,
        &p,
        json!([{"description": "<img src=x onerror=alert(1)>", "quantity": 1, "unit_price": 100}]),
    )
    .await;
    let g = api_get(
        &t,
        &t.api_key,
        &format!("/api/v1/invoices/{}/pdf", inv["id"].as_str().unwrap()),
    )
    .await;
    let text = Pdf::new(&t, &g.body).text();
    for expected in [
        name,
        "<b>1 Tag Lane</b>",
        "<i>9 Markup Way</i>",
        "<img src=x onerror=alert(1)>",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}

#[tokio::test]
async fn a_spanish_customers_invoice_and_statement_print_in_spanish() {
    if !tools_present() {
        return;
    }
    let t = TestApp::new().await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Rosa Ríos", "language": "es"})),
        )
        .await;
    let c = r.json()["id"].as_str().unwrap().to_string();
    let p = t.property("14 Calle Olmo", &c, None).await;
    let due = t.date(30);
    let inv = t.invoice(&p, 123456, &t.day(30)).await;
    let es = fieldpay::domain::i18n::Lang::Es;

    let auth = format!("Bearer {}", t.api_key);
    let g = get(
        &t,
        &format!("/api/v1/invoices/{inv}/pdf"),
        &[("authorization", auth.as_str())],
    )
    .await;
    assert_eq!(g.status, StatusCode::OK);
    let text = Pdf::new(&t, &g.body).text();
    for words in [
        "FACTURA",
        "Número de factura",
        "Fecha de vencimiento",
        "FACTURAR A",
        "Saldo a pagar",
        "$1,234.56",
        "Pague en línea",
        "Página 1 de 1",
        &fieldpay::domain::i18n::date(es, due),
    ] {
        assert!(text.contains(words), "{words} in {text}");
    }
    assert!(!text.contains("Balance due"), "{text}");

    let token = t.token(&c).await;
    let g = get(&t, &format!("/pay/{token}/statement.pdf"), &[]).await;
    assert_eq!(g.status, StatusCode::OK);
    let text = Pdf::new(&t, &g.body).text();
    for words in ["ESTADO DE CUENTA", "Total a pagar", "Facturas abiertas al"] {
        assert!(text.contains(words), "{words} in {text}");
    }

    // An English customer's invoice stays English.
    let en = t.customer("Pat Plain").await;
    let p = t.property("1 Main St", &en, None).await;
    let inv = t.invoice(&p, 5000, &t.day(30)).await;
    let g = get(
        &t,
        &format!("/api/v1/invoices/{inv}/pdf"),
        &[("authorization", auth.as_str())],
    )
    .await;
    let text = Pdf::new(&t, &g.body).text();
    assert!(
        text.contains("INVOICE") && text.contains("Balance due"),
        "{text}"
    );
}
