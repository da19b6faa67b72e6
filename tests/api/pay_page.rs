//! The quick payment page shows exactly the invoices billed to its customer.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, customer_with_invoices};

#[tokio::test]
async fn lists_exactly_the_invoices_billed_to_the_customer() {
    let t = TestApp::new().await;
    let landlord = t.customer("Lena Landlord").await;
    let tenant = t.customer("Tom Tenant").await;
    let own = t.property("418 Oak Hollow Dr", &landlord, None).await;
    let rental = t
        .property("22 Riverside Ct, Unit B", &tenant, Some(&landlord))
        .await;
    let tenants_own = t.property("9 Tenant Side St", &tenant, None).await;
    let a = t.invoice(&own, 8900, &t.day(-21)).await;
    let b = t.invoice(&rental, 21500, &t.day(17)).await;
    let c = t.invoice(&rental, 7500, &t.day(22)).await;
    let tenant_inv = t.invoice(&tenants_own, 4000, &t.day(3)).await;
    // Another customer and another company.
    let (_, stranger) = customer_with_invoices(&t, "Sam Stranger", &[1000]).await;

    let token = t.token(&landlord).await;
    let r = t.get(&format!("/api/v1/pay/{token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = r.json();
    assert_eq!(page["customer"]["name"], "Lena Landlord");
    assert_eq!(page["company"]["name"], "Greenleaf Pest Control");
    let mut seen: Vec<String> = Vec::new();
    for p in page["properties"].as_array().unwrap() {
        let on_behalf = p["billed_on_behalf_of_resident"].as_bool().unwrap();
        let addr = p["address"].as_str().unwrap();
        assert_eq!(on_behalf, addr.starts_with("22 Riverside"), "{addr}");
        for i in p["invoices"].as_array().unwrap() {
            seen.push(i["id"].as_str().unwrap().to_string());
        }
    }
    seen.sort();
    let mut expected = vec![a.clone(), b.clone(), c.clone()];
    expected.sort();
    assert_eq!(seen, expected);
    assert!(!r.body.contains(&tenant_inv) && !r.body.contains(&stranger[0]));
    // Privacy: no email or phone on the page data.
    assert!(!r.body.contains("x@example.com"));

    // The HTML page: grouped by property, the rental marked, lines viewable.
    let html = t.get(&format!("/pay/{token}")).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains("Invoices for Lena Landlord"));
    assert!(
        html.body
            .contains("You are responsible for billing this property")
    );
    assert!(html.body.contains("22 Riverside Ct, Unit B"));
    assert!(html.body.contains("$215.00"));
    assert!(html.body.contains("Quarterly pest control"));
    // Only the overdue invoice is due now, so only it is preselected.
    assert!(
        html.body
            .contains("Total selected: <strong id=\"total\" data-currency=\"usd\">$89.00</strong>")
    );
    assert!(html.body.contains("Pay $89.00"));
    assert!(html.body.contains("Select all"));
    assert!(!html.body.contains(&tenant_inv));

    // The tenant sees only the invoice billed to them.
    let tenant_token = t.token(&tenant).await;
    let r = t.get(&format!("/api/v1/pay/{tenant_token}")).await;
    let ids: Vec<String> = r.json()["properties"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["invoices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(ids, vec![tenant_inv]);
}

#[tokio::test]
async fn paid_up_customer_sees_thanks() {
    let t = TestApp::new().await;
    let c = t.customer("Paid Up Paula").await;
    let token = t.token(&c).await;
    let html = t.get(&format!("/pay/{token}")).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.body.contains("You're all paid up. Thank you!"));
    assert!(!html.body.contains("<form"));
}

#[tokio::test]
async fn markup_in_names_and_lines_renders_as_text() {
    let t = TestApp::new().await;
    let c = t.customer("<script>alert(1)</script>").await;
    let p = t.property("<img src=x onerror=alert(2)>", &c, None).await;
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": p, "due_date": t.day(33),
                "lines": [{"description": "<b>bold</b>", "quantity": 1, "unit_price": 100}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let token = t.token(&c).await;
    let html = t.get(&format!("/pay/{token}")).await;
    assert!(!html.body.contains("<script>alert(1)"));
    assert!(!html.body.contains("<img src=x"));
    assert!(!html.body.contains("<b>bold</b>"));
    assert!(
        html.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
            || html.body.contains("&lt;script&gt;")
    );
}

#[tokio::test]
async fn page_is_light_and_self_contained() {
    let t = TestApp::new().await;
    let (c, _) = customer_with_invoices(
        &t,
        "Maria Homeowner",
        &[8900, 15400, 4500, 9900, 12000, 6000],
    )
    .await;
    let token = t.token(&c).await;
    let html = t.get(&format!("/pay/{token}")).await;
    let css = t.get("/static/pay.css").await;
    let js = t.get("/static/pay.js").await;
    let card_js = t.get("/static/card.js").await;
    assert_eq!(card_js.status, StatusCode::OK);
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(js.status, StatusCode::OK);
    let total = html.body.len() + css.body.len() + js.body.len() + card_js.body.len();
    assert!(total < 30 * 1024, "page, CSS and JS weigh {total} bytes");
    // No third-party resources: every src/href is local or a tel: link.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.body.match_indices(attr) {
            let rest = &html.body[i + attr.len()..];
            assert!(
                rest.starts_with('/') || rest.starts_with("tel:"),
                "external resource: {}",
                &rest[..40.min(rest.len())]
            );
        }
    }
    // Card inputs carry no name, so a card number can never be posted to us.
    for id in ["cc-number", "cc-cvc"] {
        let at = html.body.find(&format!("id=\"{id}\"")).unwrap();
        let tag_end = html.body[at..].find('>').unwrap();
        assert!(
            !html.body[at..at + tag_end].contains("name="),
            "{id} has a name"
        );
    }
    assert!(
        html.body
            .contains("inputmode=\"numeric\" autocomplete=\"cc-number\"")
    );
}

#[tokio::test]
async fn the_page_query_looks_invoices_up_by_customer() {
    if crate::support::on_postgres() {
        eprintln!("SQLite's query plan: not asked of PostgreSQL");
        return;
    }
    let t = TestApp::new().await;
    let steps = t.sqlite_plan(fieldpay::store::paypage::PAGE_SQL).await;
    assert!(
        steps
            .iter()
            .any(|d| d.contains("SEARCH i USING INDEX invoices_bill_to (bill_to_customer_id=?")),
        "the page would walk the company's invoices: {steps:?}"
    );
    assert!(!steps.iter().any(|d| d.starts_with("SCAN")), "{steps:?}");
}

#[tokio::test]
async fn the_page_opens_again_after_postgres_closed_its_connections() {
    if !crate::support::on_postgres() {
        eprintln!("PostgreSQL's own connections for the page: not on SQLite");
        return;
    }
    let t = TestApp::new().await;
    let (customer, _) = customer_with_invoices(&t, "Rita Reader", &[1200]).await;
    let token = t.token(&customer).await;
    assert_eq!(t.get(&format!("/pay/{token}")).await.status, StatusCode::OK);
    // As a restart or an idle timeout would: every other connection ends.
    fieldpay::store::sql::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    // The page's own connection fails; the read runs again on the pool.
    let r = t.get(&format!("/pay/{token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = t.get(&format!("/pay/{token}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
