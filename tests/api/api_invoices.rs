//! The office API's invoice changes (`PATCH /api/v1/invoices/{id}`,
//! `POST /api/v1/invoices/{id}/void`), and that the office's forms and the
//! API do each thing through the same use case: the same audit action, the
//! records ending the same.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::api_money::{audit_actors, pay, post_as};
use crate::office_payments::{office, payment_of, record, refund as office_refund};
use crate::support::{Resp, TestApp, customer_with_invoices};

async fn patch(t: &TestApp, invoice: &str, body: Value) -> Resp {
    t.api(
        Method::PATCH,
        &format!("/api/v1/invoices/{invoice}"),
        Some(body),
    )
    .await
}

async fn void(t: &TestApp, invoice: &str) -> Resp {
    post_as(
        t,
        &t.api_key,
        &format!("/api/v1/invoices/{invoice}/void"),
        None,
        None,
    )
    .await
}

fn code(r: &Resp) -> String {
    r.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn field(r: &Resp) -> String {
    r.json()["error"]["field"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn an_unpaid_invoice_is_edited_then_voided() {
    let t = TestApp::new().await;
    let (_, inv) = customer_with_invoices(&t, "Edna Edit", &[5000]).await;
    let id = &inv[0];

    let r = patch(&t, id, json!({"due_date": t.day(45)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["due_date"], t.day(45).as_str());
    assert_eq!(r.json()["total"], 5000, "lines kept");

    let lines = json!([
        {"description": "Interior service", "quantity": 2, "unit_price": 3000},
        {"description": "Rodent check", "quantity": 1, "unit_price": 1525},
    ]);
    let r = patch(&t, id, json!({"lines": lines})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let edited = r.json();
    assert_eq!(edited["total"], 7525);
    assert_eq!(edited["balance"], 7525);
    assert_eq!(edited["due_date"], t.day(45).as_str(), "due date kept");
    assert_eq!(edited["lines"].as_array().unwrap().len(), 2);
    assert_eq!(t.invoice_json(id).await, edited);
    assert_eq!(audit_actors(&t, "invoice.edited", id).await, ["api", "api"]);

    // Bad values: 422 naming the field, nothing changed.
    let cases = [
        (json!({"due_date": "15/12/2026"}), "due_date"),
        (json!({"due_date": t.day(-90)}), "due_date"),
        (
            json!({"lines": [{"description": "X", "quantity": 1, "unit_price": 10.5}]}),
            "lines[0].unit_price",
        ),
        (
            json!({"lines": [{"description": "X", "quantity": 0, "unit_price": 100}]}),
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"description": "", "quantity": 1, "unit_price": 100}]}),
            "lines[0].description",
        ),
        (json!({"lines": []}), "lines"),
    ];
    for (body, want) in cases {
        let r = patch(&t, id, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(field(&r), want, "{body}: {}", r.body);
    }
    let r = patch(&t, id, json!({"total": 1})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(t.invoice_json(id).await, edited);

    let r = void(&t, id).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["status"], "void");
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(audit_actors(&t, "invoice.voided", id).await, ["api"]);
    // Void is final.
    let r = void(&t, id).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(code(&r), "invoice_void");
    let r = patch(&t, id, json!({"due_date": t.day(50)})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(code(&r), "invoice_void");
    let r = void(&t, "inv_does_not_exist").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test]
async fn an_applied_payment_blocks_edits_and_voids() {
    let t = TestApp::new().await;
    let (c, inv) = customer_with_invoices(&t, "Pat Paid", &[5000]).await;
    let r = pay(
        &t,
        "part",
        json!({"customer_id": c, "method": "cash", "amount": 1000,
               "allocations": [{"invoice_id": inv[0], "amount": 1000}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let before = t.invoice_json(&inv[0]).await;

    let r = void(&t, &inv[0]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(code(&r), "invoice_has_payments");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Refund the payment first")
    );
    // Refused on its state: new dates or lines alike.
    for body in [
        json!({"due_date": t.day(60)}),
        json!({"lines": [{"description": "More work", "quantity": 1, "unit_price": 9000}]}),
    ] {
        let r = patch(&t, &inv[0], body).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
        assert_eq!(code(&r), "invoice_has_payments");
    }
    assert_eq!(t.invoice_json(&inv[0]).await, before);
    assert!(audit_actors(&t, "invoice.voided", &inv[0]).await.is_empty());
}

/// Everything of an invoice but what names it.
fn shape(mut invoice: Value) -> Value {
    for key in ["id", "number", "property_id", "bill_to_customer_id"] {
        invoice.as_object_mut().unwrap().remove(key);
    }
    invoice
}

#[tokio::test]
async fn the_office_and_the_api_take_one_path_for_each_action() {
    let t = TestApp::new().await;
    let o = office(&t).await;
    let (c, inv) = customer_with_invoices(
        &t,
        "Tess Twin",
        &[4000, 4000, 4000, 4000, 6000, 6000, 2500, 2500],
    )
    .await;
    let office_actor = |actors: Vec<String>| {
        assert_eq!(actors.len(), 1, "{actors:?}");
        assert!(actors[0].starts_with("office:usr_"), "{actors:?}");
    };

    // Issue: the office's form and the API both write `invoice.created`.
    let property = t.invoice_json(&inv[0]).await["property_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (issue, due) = (t.day(0), t.day(30));
    let r = o
        .post(
            &t,
            "/office/invoices",
            &[
                ("property_id", property.as_str()),
                ("number", ""),
                ("issue_date", issue.as_str()),
                ("due_date", due.as_str()),
                ("description", "Termite inspection"),
                ("quantity", "1"),
                ("unit_price", "75.00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let by_office = r
        .header("location")
        .trim_start_matches("/office/invoices/")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let r = t
        .api(
            Method::POST,
            "/api/v1/invoices",
            Some(json!({"property_id": property, "issue_date": issue, "due_date": due,
                "lines": [{"description": "Termite inspection", "quantity": 1, "unit_price": 7500}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let by_api = r.json()["id"].as_str().unwrap().to_string();
    office_actor(audit_actors(&t, "invoice.created", &by_office).await);
    assert_eq!(audit_actors(&t, "invoice.created", &by_api).await, ["api"]);
    assert_eq!(
        shape(t.invoice_json(&by_office).await),
        shape(t.invoice_json(&by_api).await)
    );

    // Edit: the same new lines and due date, one way each.
    let due = t.day(21);
    let r = o
        .post(
            &t,
            &format!("/office/invoices/{}/edit", inv[0]),
            &[
                ("issue_date", t.day(-60).as_str()),
                ("due_date", due.as_str()),
                ("description", "Interior service"),
                ("quantity", "2"),
                ("unit_price", "30.00"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = patch(
        &t,
        &inv[1],
        json!({"due_date": due, "lines": [{"description": "Interior service", "quantity": 2, "unit_price": 3000}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    office_actor(audit_actors(&t, "invoice.edited", &inv[0]).await);
    assert_eq!(audit_actors(&t, "invoice.edited", &inv[1]).await, ["api"]);
    let edited = shape(t.invoice_json(&inv[0]).await);
    assert_eq!(edited, shape(t.invoice_json(&inv[1]).await));
    assert_eq!(edited["total"], 6000);

    // Void.
    let r = o
        .post(&t, &format!("/office/invoices/{}/void", inv[2]), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(void(&t, &inv[3]).await.status, StatusCode::OK);
    office_actor(audit_actors(&t, "invoice.voided", &inv[2]).await);
    assert_eq!(audit_actors(&t, "invoice.voided", &inv[3]).await, ["api"]);
    assert_eq!(
        shape(t.invoice_json(&inv[2]).await),
        shape(t.invoice_json(&inv[3]).await)
    );
    let voided_at: Vec<Option<time::OffsetDateTime>> =
        fieldpay::store::sql::query_scalar("SELECT voided_at FROM invoices WHERE id IN ($1, $2)")
            .bind(&inv[2])
            .bind(&inv[3])
            .fetch_all(t.app.db.reader())
            .await
            .unwrap();
    assert!(voided_at.len() == 2 && voided_at.iter().all(Option::is_some));

    // A cash payment, then a refund of part of it: one way each.
    let r = record(&t, &o, &c, &[&inv[4]], &[("method", "cash")]).await;
    let office_payment = payment_of(&r);
    let r = pay(
        &t,
        "twin-cash",
        json!({"customer_id": c, "method": "cash", "amount": 6000,
               "allocations": [{"invoice_id": inv[5], "amount": 6000}]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let api_payment = r.json()["id"].as_str().unwrap().to_string();
    office_actor(audit_actors(&t, "payment.recorded", &office_payment).await);
    assert_eq!(
        audit_actors(&t, "payment.recorded", &api_payment).await,
        ["api"]
    );
    assert_eq!(
        shape(t.invoice_json(&inv[4]).await),
        shape(t.invoice_json(&inv[5]).await)
    );

    let r = office_refund(&t, &o, &office_payment, "25.00").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post_as(
        &t,
        &t.api_key,
        &format!("/api/v1/payments/{api_payment}/refunds"),
        Some("twin-refund"),
        Some(json!({"amount": 2500})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let refund_ids: Vec<(String, String)> = fieldpay::store::sql::query_as(
        "SELECT payment_id, id FROM refunds ORDER BY created_at, id",
    )
    .fetch_all(t.app.db.reader())
    .await
    .unwrap();
    assert_eq!(refund_ids.len(), 2);
    for (payment, refund) in &refund_ids {
        let actors = audit_actors(&t, "refund.created", refund).await;
        if *payment == office_payment {
            office_actor(actors);
        } else {
            assert_eq!(actors, ["api"]);
        }
    }
    assert_eq!(
        shape(t.invoice_json(&inv[4]).await),
        shape(t.invoice_json(&inv[5]).await)
    );
    assert_eq!(t.balance(&inv[5]).await, 2500);
}
