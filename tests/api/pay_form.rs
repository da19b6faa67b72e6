//! The HTML form journey: select, pay, receipt; decline; double submit.

use axum::http::{Method, StatusCode};

use crate::support::{TestApp, customer_with_invoices};

pub(crate) fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

pub(crate) async fn submit(
    t: &TestApp,
    token: &str,
    fields: &[(&str, &str)],
) -> crate::support::Resp {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    t.request(
        Method::POST,
        &format!("/pay/{token}"),
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", crate::support::BASE_URL),
            ("user-agent", "TestPhone/1.0"),
        ],
        Some(body),
    )
    .await
}

#[tokio::test]
async fn pay_two_of_three_and_see_the_receipt() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Form Filler", &[8900, 21500, 7500]).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    let nonce = hidden(&page.body, "form_nonce");
    let sig = hidden(&page.body, "form_sig");
    let card = t.card("4242424242424242").await;
    let fields = [
        ("form_nonce", nonce.as_str()),
        ("form_sig", sig.as_str()),
        ("invoice_ids", inv[0].as_str()),
        ("invoice_ids", inv[1].as_str()),
        ("payment_method", "new_card"),
        ("card_token", card.as_str()),
        ("plan", "once"),
    ];
    let r = submit(&t, &token, &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt_path = r.header("location").to_string();
    assert!(receipt_path.starts_with(&format!("/pay/{token}/receipts/pay_")));
    // A second submit of the same form (double click, reload) lands on the same receipt.
    let again = submit(&t, &token, &fields).await;
    assert_eq!(again.header("location"), receipt_path);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        1
    );

    let receipt = t.get(&receipt_path).await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert!(
        receipt.body.contains("Paid $304.00 — thank you"),
        "{}",
        receipt.body
    );
    assert!(receipt.body.contains("Visa ending 4242"));
    // One row per invoice paid, each paid in full, and none for the third.
    let rows: Vec<&str> = receipt
        .body
        .split("<tr>")
        .skip(1)
        .map(|r| &r[..r.find("</tr>").unwrap()])
        .filter(|r| r.starts_with("<td>"))
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, (id, paid)) in rows.iter().zip([(&inv[0], "$89.00"), (&inv[1], "$215.00")]) {
        let number = t.invoice_json(id).await["number"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            row.starts_with(&format!("<td>{number} "))
                && row.contains(&format!("/pay/{token}/invoices/{id}/pdf"))
                && row.contains(&format!(
                    "<td class=\"n\">{paid}</td><td class=\"n\">$0.00</td>"
                )),
            "invoice {number} ({id}): {row}"
        );
    }
    let third = t.invoice_json(&inv[2]).await["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !receipt.body.contains(&inv[2])
            && !receipt.body.contains("$75.00")
            && !rows.iter().any(|r| r.starts_with(&format!("<td>{third} "))),
        "the unpaid invoice {third} is on the receipt: {}",
        receipt.body
    );
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 0);
    assert_eq!(t.balance(&inv[2]).await, 7500);
    // Another customer's link cannot open this receipt.
    let (other, _) = customer_with_invoices(&t, "Nosy Neighbour", &[100]).await;
    let other_token = t.token(&other).await;
    let payment_id = receipt_path.rsplit('/').next().unwrap();
    let peek = t
        .get(&format!("/pay/{other_token}/receipts/{payment_id}"))
        .await;
    assert_eq!(peek.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_decline_keeps_the_selection_and_says_why() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Declined Dora", &[8900, 4500]).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    let card = t.card("4000000000009995").await;
    let nonce = hidden(&page.body, "form_nonce");
    let sig = hidden(&page.body, "form_sig");
    let r = submit(
        &t,
        &token,
        &[
            ("form_nonce", &nonce),
            ("form_sig", &sig),
            ("invoice_ids", &inv[1]),
            ("payment_method", "new_card"),
            ("card_token", &card),
            ("plan", "once"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED);
    assert!(
        r.body
            .contains("The card has insufficient funds. Try another card or call your bank.")
    );
    assert!(r.body.contains("role=\"alert\""));
    // Only the invoice that was chosen stays selected, and the total says so.
    assert!(r.body.contains(&format!(
        "value=\"{}\" id=\"inv-{}\" data-balance=\"4500\" checked",
        inv[1], inv[1]
    )));
    assert!(!r.body.contains("data-balance=\"8900\" checked"));
    assert!(r.body.contains("Pay $45.00"));
    assert_eq!(t.balance(&inv[1]).await, 4500);
    // A new form token for the retry.
    assert_ne!(hidden(&r.body, "form_nonce"), nonce);
}

#[tokio::test]
async fn autopay_without_the_consent_box_is_refused() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Hasty Harry", &[8900]).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    let card = t.card("4242424242424242").await;
    let nonce = hidden(&page.body, "form_nonce");
    let sig = hidden(&page.body, "form_sig");
    let base = [
        ("form_nonce", nonce.as_str()),
        ("form_sig", sig.as_str()),
        ("invoice_ids", inv[0].as_str()),
        ("payment_method", "new_card"),
        ("card_token", card.as_str()),
        ("plan", "autopay"),
    ];
    let r = submit(&t, &token, &base).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("tick the box to authorize"));
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );
    let mut with_consent = base.to_vec();
    with_consent.push(("autopay_consent", "yes"));
    let r = submit(&t, &token, &with_consent).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt = t.get(r.header("location")).await;
    assert!(receipt.body.contains("Autopay is on for Visa ending 4242"));
    assert_eq!(
        t.count("SELECT COUNT(*) FROM autopay_enrollments WHERE cancelled_at IS NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn forged_or_foreign_forms_are_refused() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Csrf Target", &[8900]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let forged = submit(
        &t,
        &token,
        &[
            ("form_nonce", "abc"),
            ("form_sig", "def"),
            ("invoice_ids", &inv[0]),
            ("payment_method", "new_card"),
            ("card_token", &card),
        ],
    )
    .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
    let cross = t
        .request(
            Method::POST,
            &format!("/pay/{token}"),
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            Some(format!("invoice_ids={}", inv[0])),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(
        t.sandbox_count("SELECT COUNT(*) FROM sandbox_charges")
            .await,
        0
    );
    assert_eq!(t.balance(&inv[0]).await, 8900);
}

fn data_attr(html: &str, name: &str) -> String {
    let marker = format!("{name}=\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[tokio::test]
async fn a_card_asking_for_the_banks_check_is_completed_on_the_page() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Careful Carla", &[8900, 4500]).await;
    let token = t.token(&c).await;
    let page = t.get(&format!("/pay/{token}")).await;
    assert!(!page.body.contains("id=\"authenticate\""));
    let card = t.card("4000002760003184").await;
    let nonce = hidden(&page.body, "form_nonce");
    let sig = hidden(&page.body, "form_sig");
    let r = submit(
        &t,
        &token,
        &[
            ("form_nonce", &nonce),
            ("form_sig", &sig),
            ("invoice_ids", &inv[0]),
            ("payment_method", "new_card"),
            ("card_token", &card),
            ("plan", "once"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert!(r.body.contains("Confirm with your bank"), "{}", r.body);
    assert!(r.body.contains("check (test card)"), "{}", r.body);
    let attempt = data_attr(&r.body, "data-attempt-id");
    let secret = data_attr(&r.body, "data-client-secret");
    assert!(attempt.starts_with("att_"));
    assert_eq!(t.balance(&inv[0]).await, 8900);
    // What card.js does: the sandbox's check, then the form posted back.
    let charge = secret.split("_secret_").next().unwrap();
    let done = t
        .request(
            Method::POST,
            &format!("/sandbox/v1/authenticate/{charge}"),
            &[],
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let nonce = hidden(&r.body, "form_nonce");
    let sig = hidden(&r.body, "form_sig");
    let confirm = [
        ("form_nonce", nonce.as_str()),
        ("form_sig", sig.as_str()),
        ("invoice_ids", inv[0].as_str()),
        ("payment_method", "new_card"),
        ("plan", "once"),
        ("confirm_attempt", attempt.as_str()),
    ];
    let paid = submit(&t, &token, &confirm).await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    let receipt = paid.header("location").to_string();
    assert!(receipt.starts_with(&format!("/pay/{token}/receipts/pay_")));
    assert_eq!(t.balance(&inv[0]).await, 0);
    assert_eq!(t.balance(&inv[1]).await, 4500);
    // Posted twice (reload): the same receipt, one payment.
    let again = submit(&t, &token, &confirm).await;
    assert_eq!(again.header("location"), receipt);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 1);
    // Another customer's page cannot confirm it.
    let (other, _) = customer_with_invoices(&t, "Other Oscar", &[100]).await;
    let other_token = t.token(&other).await;
    let other_page = t.get(&format!("/pay/{other_token}")).await;
    let n = hidden(&other_page.body, "form_nonce");
    let s = hidden(&other_page.body, "form_sig");
    let foreign = submit(
        &t,
        &other_token,
        &[
            ("form_nonce", n.as_str()),
            ("form_sig", s.as_str()),
            ("confirm_attempt", attempt.as_str()),
        ],
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
}

#[tokio::test]
async fn the_portal_completes_the_banks_check_through_its_own_form() {
    use fieldpay::store::portal::Purpose;
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Portal Pete", &[6000]).await;
    let link = t.portal_link(&c, Purpose::SignIn).await;
    let signed_in = t
        .request(
            Method::POST,
            &format!("/portal/link/{link}"),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(String::new()),
        )
        .await;
    assert_eq!(
        signed_in.status,
        StatusCode::SEE_OTHER,
        "{}",
        signed_in.body
    );
    let cookie = signed_in
        .header("set-cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let post = |fields: Vec<(&'static str, String)>| {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::office_auth::urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let cookie = cookie.clone();
        let t = &t;
        async move {
            t.request(
                Method::POST,
                "/portal/pay",
                &[
                    ("cookie", cookie.as_str()),
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("origin", crate::support::BASE_URL),
                    ("user-agent", "PortalBrowser/2.0"),
                ],
                Some(body),
            )
            .await
        }
    };
    let page = t
        .request(Method::GET, "/portal", &[("cookie", cookie.as_str())], None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let card = t.card("4000002760003184").await;
    let r = post(vec![
        ("form_nonce", hidden(&page.body, "form_nonce")),
        ("form_sig", hidden(&page.body, "form_sig")),
        ("invoice_ids", inv[0].clone()),
        ("payment_method", "new_card".into()),
        ("card_token", card),
        ("plan", "once".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::PAYMENT_REQUIRED, "{}", r.body);
    assert!(r.body.contains("Confirm with your bank"), "{}", r.body);
    let attempt = data_attr(&r.body, "data-attempt-id");
    let secret = data_attr(&r.body, "data-client-secret");
    let charge = secret.split("_secret_").next().unwrap().to_string();
    let done = t
        .request(
            Method::POST,
            &format!("/sandbox/v1/authenticate/{charge}"),
            &[],
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let paid = post(vec![
        ("form_nonce", hidden(&r.body, "form_nonce")),
        ("form_sig", hidden(&r.body, "form_sig")),
        ("confirm_attempt", attempt),
    ])
    .await;
    assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.body);
    assert!(paid.header("location").starts_with("/portal/receipts/pay_"));
    assert_eq!(t.balance(&inv[0]).await, 0);
    let channel: String =
        fieldpay::store::sql::query_scalar("SELECT channel FROM payment_attempts")
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
    assert_eq!(channel, "portal");
}
