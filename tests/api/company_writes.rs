//! On PostgreSQL, writes of different companies run in parallel: each takes
//! its company's lock (and the database lock shared), so one company's
//! write waits only for writes of the same company and for writes of the
//! whole database. On SQLite every write waits for every other (one writer),
//! which the rest of the suite covers.

use std::time::Duration;

use axum::http::StatusCode;
use fieldpay::store::sql::{PG_COMPANY_LOCK, query, query_scalar};
use fieldpay::store::{Conn, StoreError};
use serde_json::json;
use tokio::time::timeout;

use crate::support::{TestApp, customer_with_invoices};

/// Long enough for a write that is not held up to finish on a busy machine.
const GOES_THROUGH: Duration = Duration::from_secs(20);
/// Long enough to see that a write is held up.
const HELD: Duration = Duration::from_millis(400);

async fn company_of(t: &TestApp, customer: &str) -> String {
    query_scalar("SELECT company_id FROM customers WHERE id = $1")
        .bind(customer)
        .fetch_one(t.app.db.reader())
        .await
        .unwrap()
}

/// Another process's write transaction of `company`, holding its lock until
/// committed.
async fn hold_company_lock(t: &TestApp, company: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut other = sqlx::PgConnection::connect(&t.app.config.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut other).await.unwrap();
    sqlx::query(PG_COMPANY_LOCK)
        .bind(company)
        .execute(&mut other)
        .await
        .unwrap();
    other
}

fn insert_key(
    key: String,
) -> impl for<'c> FnOnce(&'c mut Conn) -> fieldpay::store::writer::BoxFuture<'c, Result<(), StoreError>>
+ Send
+ 'static {
    move |conn| {
        Box::pin(async move {
            query("INSERT INTO rate_limits (scope, key, window_start, hits) VALUES ('test', $1, 0, 1)")
                .bind(key)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }
}

/// A customer pays company A while another process holds A's write lock,
/// and a customer of company B pays at the same moment: B's payment is
/// recorded at once, A's when the lock is released; a write of the whole
/// database waits for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_company_waiting_for_its_lock_does_not_hold_up_another() {
    let Some(mut t) = TestApp::on_postgres_server().await else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    let (ann, ann_invoices) = customer_with_invoices(&t, "Ann A", &[5000]).await;
    let ann_token = t.token(&ann).await;
    // The helpers act for company B while `api_key` is B's.
    let b_key = t.other_company().await;
    let a_key = std::mem::replace(&mut t.api_key, b_key);
    let (bob, bob_invoices) = customer_with_invoices(&t, "Bob B", &[7000]).await;
    let bob_token = t.token(&bob).await;
    t.api_key = a_key;
    let (a, b) = (company_of(&t, &ann).await, company_of(&t, &bob).await);
    assert_ne!(a, b);

    let other = hold_company_lock(&t, &a).await;
    let ann_card = t.card("4242424242424242").await;
    let ann_pays = t.pay(
        &ann_token,
        "ann-1",
        json!({"invoice_ids": ann_invoices, "payment_method": ann_card}),
    );
    tokio::pin!(ann_pays);
    assert!(
        timeout(HELD, &mut ann_pays).await.is_err(),
        "company A's payment waits for A's lock"
    );

    let bob_card = t.card("4242424242424242").await;
    let bob_pays = t.pay(
        &bob_token,
        "bob-1",
        json!({"invoice_ids": bob_invoices, "payment_method": bob_card}),
    );
    let bob_paid = timeout(GOES_THROUGH, bob_pays)
        .await
        .expect("company B's payment does not wait for company A's lock");
    assert_eq!(bob_paid.status, StatusCode::CREATED, "{}", bob_paid.body);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payments").await,
        1,
        "B's payment is recorded, A's not yet"
    );

    // A write of the whole database waits for every company's writes.
    assert!(
        timeout(HELD, t.app.db.begin_write()).await.is_err(),
        "a write of the whole database waits for company A's"
    );

    sqlx::raw_sql("COMMIT")
        .execute(&mut { other })
        .await
        .unwrap();
    let ann_paid = timeout(GOES_THROUGH, ann_pays)
        .await
        .expect("company A's payment goes on once the lock is free");
    assert_eq!(ann_paid.status, StatusCode::CREATED, "{}", ann_paid.body);
    assert_eq!(t.count("SELECT COUNT(*) FROM payments").await, 2);
    assert_eq!(t.balance(&ann_invoices[0]).await, 0);
}

/// The store's two ways of writing (a transaction of one's own, and a job
/// in the group writer's next batch): while company A's transaction is
/// open, company B writes both ways, and a second write of A waits until
/// the first commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_transaction_holds_up_only_its_own_company() {
    let Some(mut t) = TestApp::on_postgres_server().await else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    let (ann, _) = customer_with_invoices(&t, "Ann A", &[5000]).await;
    let b_key = t.other_company().await;
    let a_key = std::mem::replace(&mut t.api_key, b_key);
    let (bob, _) = customer_with_invoices(&t, "Bob B", &[7000]).await;
    t.api_key = a_key;
    let (a, b) = (company_of(&t, &ann).await, company_of(&t, &bob).await);
    let db = &t.app.db;

    let mut first_a = db.begin_write_for(&a).await.unwrap();
    query("INSERT INTO rate_limits (scope, key, window_start, hits) VALUES ('test', 'a1', 0, 1)")
        .execute(&mut first_a)
        .await
        .unwrap();

    let mut of_b = timeout(GOES_THROUGH, db.begin_write_for(&b))
        .await
        .expect("B's transaction does not wait for A's")
        .unwrap();
    query("INSERT INTO rate_limits (scope, key, window_start, hits) VALUES ('test', 'b1', 0, 1)")
        .execute(&mut of_b)
        .await
        .unwrap();
    of_b.commit().await.unwrap();
    timeout(GOES_THROUGH, db.write_for(&b, insert_key("b2".into())))
        .await
        .expect("B's batch does not wait for A's transaction")
        .unwrap();

    let second_a = db.write_for(&a, insert_key("a2".into()));
    tokio::pin!(second_a);
    assert!(
        timeout(HELD, &mut second_a).await.is_err(),
        "a second write of A waits for the first"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM rate_limits WHERE scope = 'test'")
            .await,
        2,
        "B's two writes are committed, A's not yet"
    );
    first_a.commit().await.unwrap();
    timeout(GOES_THROUGH, second_a)
        .await
        .expect("A's second write goes on once the first commits")
        .unwrap();
    assert_eq!(
        t.count("SELECT COUNT(*) FROM rate_limits WHERE scope = 'test'")
            .await,
        4
    );
}
