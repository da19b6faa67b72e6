//! Bad input gets a clear 4xx and writes nothing.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn requests_without_a_valid_key_are_401() {
    let t = TestApp::new().await;
    let r = t.request(Method::GET, "/api/v1/customers", &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    let r = t
        .api_with_key("fpk_wrong", Method::GET, "/api/v1/customers", None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn invoice_input_is_checked() {
    let t = TestApp::new().await;
    let c = t.customer("Val Idation").await;
    let p = t.property("1 Check St", &c, None).await;
    let due = t.day(30);
    let cases = [
        (
            json!({"property_id": p, "due_date": due, "lines": [{"description": "x", "quantity": 1, "unit_price": 12.5}]}),
            "lines[0].unit_price",
        ),
        (
            json!({"property_id": p, "due_date": due, "lines": [{"description": "x", "quantity": 1, "unit_price": -5}]}),
            "lines[0].unit_price",
        ),
        (
            json!({"property_id": p, "due_date": due, "lines": [{"description": "x", "quantity": -1, "unit_price": 5}]}),
            "lines[0].quantity",
        ),
        (
            json!({"property_id": p, "due_date": due, "lines": [{"description": "x", "quantity": 1.5, "unit_price": 5}]}),
            "lines[0].quantity",
        ),
        (
            json!({"property_id": p, "due_date": "12/01/2026", "lines": [{"description": "x", "quantity": 1, "unit_price": 5}]}),
            "due_date",
        ),
        (
            json!({"property_id": p, "due_date": t.no_such_day(), "lines": [{"description": "x", "quantity": 1, "unit_price": 5}]}),
            "due_date",
        ),
        (
            json!({"property_id": p, "due_date": due, "lines": []}),
            "lines",
        ),
        (
            json!({"property_id": p, "due_date": due, "lines": [{"description": " ", "quantity": 1, "unit_price": 5}]}),
            "lines[0].description",
        ),
    ];
    for (body, field) in cases {
        let r = t
            .api(Method::POST, "/api/v1/invoices", Some(body.clone()))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], field, "{body}");
        assert!(!r.json()["error"]["message"].as_str().unwrap().is_empty());
    }
    let r = t
        .api(Method::POST, "/api/v1/invoices", Some(json!({"property_id": "prop_nope", "due_date": due, "lines": [{"description": "x", "quantity": 1, "unit_price": 5}]})))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": p, "due_date": due, "lines": [], "surprise": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(t.count("SELECT COUNT(*) FROM invoices").await, 0);

    // Malformed JSON, wrong content type, a huge body.
    let auth = format!("Bearer {}", t.api_key);
    let r = t
        .request(
            Method::POST,
            "/api/v1/invoices",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some("{\"property_id\": ".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "malformed_json");
    let r = t
        .request(
            Method::POST,
            "/api/v1/customers",
            &[("authorization", &auth)],
            Some("{}".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = json!({"name": "x".repeat(200_000)}).to_string();
    let r = t
        .request(
            Method::POST,
            "/api/v1/customers",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            Some(huge),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(t.count("SELECT COUNT(*) FROM customers").await, 1);
}

#[tokio::test]
async fn invoice_numbers_are_unique_per_company_and_totals_computed() {
    let t = TestApp::new().await;
    let c = t.customer("Num Bers").await;
    let p = t.property("2 Count Rd", &c, None).await;
    let due = t.day(30);
    let body = json!({"property_id": p, "number": "INV-7", "due_date": due,
        "lines": [{"description": "Treatment", "quantity": 3, "unit_price": 4500}, {"description": "Trip", "quantity": 1, "unit_price": 1999}]});
    let r = t
        .api(Method::POST, "/api/v1/invoices", Some(body.clone()))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let inv = r.json();
    assert_eq!(inv["total"], 15499);
    assert_eq!(inv["balance"], 15499);
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["bill_to_customer_id"], c.as_str());
    let again = t.api(Method::POST, "/api/v1/invoices", Some(body)).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.json()["error"]["code"], "invoice_number_taken");
    // Generated numbers follow on.
    let r = t
        .api(Method::POST, "/api/v1/invoices", Some(json!({"property_id": p, "due_date": due, "lines": [{"description": "x", "quantity": 1, "unit_price": 1}]})))
        .await;
    assert_eq!(r.json()["number"], "1001");
    let list = t
        .api(
            Method::GET,
            &format!("/api/v1/invoices?customer_id={c}&status=open"),
            None,
        )
        .await
        .json();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let bad = t
        .api(Method::GET, "/api/v1/invoices?status=lost", None)
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_database_refuses_a_broken_balance() {
    let t = TestApp::new().await;
    let c = t.customer("Check Constraint").await;
    let p = t.property("3 Invariant Ave", &c, None).await;
    let inv = t.invoice(&p, 1000, &t.day(30)).await;
    for sql in [
        "UPDATE invoices SET balance = -1, applied = 1001",
        "UPDATE invoices SET balance = 10",
        "UPDATE invoices SET status = 'paid'",
    ] {
        let r = fieldpay::store::sql::query(sql)
            .execute(t.app.db.writer())
            .await;
        assert!(r.is_err(), "{sql} was accepted");
    }
    assert_eq!(t.balance(&inv).await, 1000);
}

#[tokio::test]
async fn customer_search() {
    let t = TestApp::new().await;
    let c = t.customer("Searchable Sue").await;
    t.property("77 Findme Blvd", &c, None).await;
    t.customer("Other Otto").await;
    let by_name = t
        .api(Method::GET, "/api/v1/customers?q=sue", None)
        .await
        .json();
    assert_eq!(by_name["data"].as_array().unwrap().len(), 1);
    let by_address = t
        .api(Method::GET, "/api/v1/customers?q=findme", None)
        .await
        .json();
    assert_eq!(by_address["data"][0]["id"], c.as_str());
}
