//! Several fieldpay processes on one PostgreSQL database: a thousand invoices
//! fall due, three job processes run alerts, autopay and delivery at once,
//! one is killed mid-run, and a later run finishes its work. Each message is
//! sent once and each invoice charged once.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::TestApp;

/// Customers per group; each has `INVOICES_EACH` invoices.
const CUSTOMERS: usize = 125;
const INVOICES_EACH: usize = 4;
/// 9:00 in Chicago on the autopay due day; the alerts' trigger day too.
const RUN_AT: &str = "2026-12-15T15:00:00Z";
/// Past the outbox claim (5 min) and the reconciliation grace (2 min).
const FINISH_AT: &str = "2026-12-15T15:20:00Z";
/// The next day's run, at the same local hour.
const NEXT_DAY: &str = "2026-12-16T15:00:00Z";

fn jobs_process(t: &TestApp, now: &str) -> Child {
    jobs_command(t, now)
        .env("FIELDPAY_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts")
}

fn jobs_command(t: &TestApp, now: &str) -> Command {
    let mut cmd = crate::common::fieldpay_cmd_like(&t.app.config);
    cmd.args(["jobs", "run", "--once", "--now", now])
        .stdout(Stdio::piped());
    cmd
}

fn finished(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_the_work_and_a_killed_one_is_finished_by_the_others() {
    // A fixed calendar: the clock starts Dec 1, 2026, the autopay invoices'
    // issue date; the jobs run at `RUN_AT` and `FINISH_AT`.
    let Some(t) =
        TestApp::on_postgres_server_starting_at(time::macros::datetime!(2026-12-01 18:00 UTC))
            .await
    else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    let o = crate::autopay::office(&t).await;
    crate::autopay::settings(&t, &o, &[]).await;
    let email = crate::alerts::email_template(
        &t,
        "Invoice {{ invoice_number }} is past due",
        "<p>{{ customer_name }}, {{ invoice_balance }} is still owed.</p>",
    )
    .await;
    crate::alerts::rule(&t, json!({"email_template_id": email, "days_after_due": 3})).await;

    // Half the invoices are charged by autopay on Dec 15; the other half fell
    // due on Dec 12 and get their past-due alert on Dec 15.
    let mut autopay_invoices = Vec::new();
    let mut alert_invoices = Vec::new();
    for i in 0..CUSTOMERS {
        let (_, p, _) =
            crate::autopay::enrolled(&t, &o, &format!("Auto {i}"), "4242424242424242").await;
        for _ in 0..INVOICES_EACH {
            autopay_invoices
                .push(crate::autopay::invoice(&t, &p, 5000, "2026-12-01", "2026-12-15").await);
        }
        let c = crate::alerts::customer(&t, &format!("Late {i}"), "late@example.com", None).await;
        let p = t.property(&format!("{i} Late Lane"), &c, None).await;
        for _ in 0..INVOICES_EACH {
            alert_invoices.push(t.invoice(&p, 3000, "2026-12-12").await);
        }
    }
    assert_eq!(autopay_invoices.len() + alert_invoices.len(), 1000);

    // Three processes at once; one is killed while it works: as soon as it
    // has begun charging (its log of statements shows a payment attempt
    // written), and while it is still running.
    let survivors = [jobs_process(&t, RUN_AT), jobs_process(&t, RUN_AT)];
    let doomed_log = t.dir.join("doomed.log");
    let mut doomed = jobs_command(&t, RUN_AT)
        .env("FIELDPAY_LOG", "warn,sqlx::query=debug")
        .stderr(std::fs::File::create(&doomed_log).unwrap())
        .spawn()
        .expect("the binary starts");
    let started = Instant::now();
    loop {
        if let Some(status) = doomed.try_wait().unwrap() {
            panic!("the process to be killed ended ({status}) before it began charging");
        }
        let log = std::fs::read_to_string(&doomed_log).unwrap_or_default();
        if log.contains("INSERT INTO payment_attempts") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the process to be killed did not begin charging within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    doomed.kill().unwrap(); // SIGKILL
    let status = doomed.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "the process was killed mid-run, not finished: {status}"
    );
    eprintln!(
        "killed one process {} ms after the start, once it had begun charging; {} attempts in all, {} pending",
        started.elapsed().as_millis(),
        t.count("SELECT COUNT(*) FROM payment_attempts").await,
        t.count("SELECT COUNT(*) FROM payment_attempts WHERE status = 'pending'")
            .await
    );
    for p in survivors {
        eprintln!("survivor: {}", finished(p).trim());
    }
    // Later, past the dead process's claims: whatever it left is finished.
    let finisher = finished(jobs_process(&t, FINISH_AT));
    eprintln!("finisher: {}", finisher.trim());
    // Killed after writing an attempt but before sending it, the dead process
    // leaves a charge that never reached the processor: reconciliation
    // settles it as never charged, and as that day's idempotency key replays
    // it, the next day's run charges the invoice.
    if !finisher.contains(" 0 found never charged") {
        eprintln!("next day: {}", finished(jobs_process(&t, NEXT_DAY)).trim());
    }

    for id in &autopay_invoices {
        assert_eq!(t.balance(id).await, 0, "invoice {id} was not collected");
    }
    assert_eq!(
        crate::autopay::succeeded_charges(&t).await,
        autopay_invoices.len() as i64,
        "one charge per invoice"
    );
    assert_eq!(
        t.count(
            "SELECT COUNT(*) FROM (SELECT invoice_id FROM payment_allocations
             GROUP BY invoice_id HAVING COUNT(*) > 1) AS twice"
        )
        .await,
        0,
        "no invoice paid twice"
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM payments WHERE channel = 'autopay'")
            .await,
        autopay_invoices.len() as i64
    );

    // Each past-due alert sent once, none left queued or claimed.
    let mut per_invoice: HashMap<String, usize> = HashMap::new();
    for mail in crate::autopay::spool(&t, ".eml") {
        if let Some(at) = mail.find("is past due") {
            let number = mail[..at].rsplit("Invoice ").next().unwrap().trim();
            *per_invoice.entry(number.to_string()).or_default() += 1;
        }
    }
    assert_eq!(
        per_invoice.len(),
        alert_invoices.len(),
        "every alert arrived"
    );
    assert!(
        per_invoice.values().all(|n| *n == 1),
        "an alert was sent twice: {:?}",
        per_invoice
            .iter()
            .filter(|(_, n)| **n > 1)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')")
            .await,
        0
    );
}

#[tokio::test]
async fn postgres_start_errors_say_what_to_fix() {
    let refused = fieldpay::store::Db::connect("postgres://fieldpay:secret@127.0.0.1:1/fieldpay")
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("cannot reach PostgreSQL"), "{refused}");
    assert!(
        !refused.contains("secret"),
        "the password is not shown: {refused}"
    );
    let bad = fieldpay::store::Db::connect("postgres://fieldpay@127.0.0.1:notaport/x")
        .await
        .unwrap_err()
        .to_string();
    assert!(bad.contains("bad database URL"), "{bad}");
    let Some(server) = crate::support::postgres_server() else {
        eprintln!("SKIPPED: no PostgreSQL server for the missing-database case");
        return;
    };
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path("fieldpay_never_created");
    let missing = fieldpay::store::Db::connect(url.as_str())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        missing.contains("does not exist: create it first"),
        "{missing}"
    );
}

#[tokio::test]
async fn copy_database_moves_everything_from_sqlite_to_postgres() {
    let Some(server) = crate::support::postgres_server() else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    let t = TestApp::on_sqlite().await;
    let (c, invoices) =
        crate::support::customer_with_invoices(&t, "Moving Marta", &[4500, 7000]).await;
    let token = t.token(&c).await;
    let card = t.card("4242424242424242").await;
    let paid = t
        .pay(
            &token,
            "move-1",
            json!({"invoice_ids": [invoices[0]], "payment_method": card}),
        )
        .await;
    assert_eq!(
        paid.status,
        axum::http::StatusCode::CREATED,
        "{}",
        paid.body
    );
    let target = crate::support::fresh_postgres_database(&server).await;

    let copy = || {
        crate::common::fieldpay_cmd_like(&t.app.config)
            .args(["copy-database", "--to", &target])
            .output()
            .unwrap()
    };
    let out = copy();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("payments: 1 rows"));

    // The same server on PostgreSQL shows the same customer and balances.
    let moved = fieldpay::app::App::open(fieldpay::config::Config {
        database_url: target.clone(),
        ..(*t.app.config).clone()
    })
    .await
    .unwrap();
    for table in crate::support::table_names(&t).await {
        let count = format!("SELECT COUNT(*) FROM \"{table}\"");
        let before: i64 = fieldpay::store::sql::query_scalar(sqlx::AssertSqlSafe(count.clone()))
            .fetch_one(t.app.db.reader())
            .await
            .unwrap();
        let after: i64 = fieldpay::store::sql::query_scalar(sqlx::AssertSqlSafe(count))
            .fetch_one(moved.db.reader())
            .await
            .unwrap();
        assert_eq!(before, after, "rows of {table}");
    }
    let page =
        fieldpay::store::paypage::load(&moved.db, &fieldpay::domain::paylink::token_hash(&token))
            .await
            .unwrap()
            .expect("the link opens on PostgreSQL");
    let balances: Vec<i64> = page.open_invoices().map(|i| i.balance).collect();
    assert_eq!(balances, vec![7000], "the paid invoice stays paid");

    // A second copy would mix two databases: refused, nothing changed.
    let again = copy();
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("copy into an empty database"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

/// A writer that gave up waiting for the write lock (a client that hung up)
/// leaves no transaction behind: the next write on that connection commits.
#[tokio::test]
async fn an_abandoned_wait_for_the_write_lock_leaves_no_transaction_open() {
    use sqlx::Connection;
    let Some(t) = TestApp::on_postgres_server().await else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    // Another process holds the write lock.
    let mut other = sqlx::PgConnection::connect(&t.app.config.database_url)
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN; SELECT pg_advisory_xact_lock(4242001);")
        .execute(&mut other)
        .await
        .unwrap();
    for _ in 0..8 {
        let waiting = t.app.db.begin_write();
        assert!(
            tokio::time::timeout(Duration::from_millis(50), waiting)
                .await
                .is_err(),
            "the lock is held elsewhere"
        );
    }
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();

    // Every write connection is usable and commits for real.
    for i in 0..8 {
        let mut tx = t.app.db.begin_write().await.unwrap();
        fieldpay::store::sql::query(
            "INSERT INTO rate_limits (scope, key, window_start, hits) VALUES ('test', $1, 0, 1)",
        )
        .bind(format!("k{i}"))
        .execute(&mut tx)
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        t.count("SELECT COUNT(*) FROM rate_limits WHERE scope = 'test'")
            .await,
        8
    );
}

/// Write transactions run at READ COMMITTED even when the database's
/// default is REPEATABLE READ: a check after the write lock reads every
/// write committed before it.
#[tokio::test]
async fn write_transactions_read_committed_whatever_the_default() {
    use sqlx::Connection;
    let Some(t) = TestApp::on_postgres_server().await else {
        eprintln!("SKIPPED: no PostgreSQL server (set FIELDPAY_TEST_POSTGRES)");
        return;
    };
    let url = url::Url::parse(&t.app.config.database_url).unwrap();
    let name = url.path().trim_start_matches('/').to_string();
    let mut admin = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} SET default_transaction_isolation = 'repeatable read'"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    // New connections take the new default.
    let db = fieldpay::store::Db::connect(url.as_str()).await.unwrap();
    let plain: String = fieldpay::store::sql::query_scalar("SHOW transaction_isolation")
        .fetch_one(db.reader())
        .await
        .unwrap();
    assert_eq!(plain, "repeatable read", "the default took effect");
    let mut tx = db.begin_write().await.unwrap();
    let level: String = fieldpay::store::sql::query_scalar("SHOW transaction_isolation")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(level, "read committed");
    tx.commit().await.unwrap();
    let grouped: String = db
        .write(|conn| {
            Box::pin(async move {
                Ok::<_, fieldpay::store::StoreError>(
                    fieldpay::store::sql::query_scalar("SHOW transaction_isolation")
                        .fetch_one(conn)
                        .await?,
                )
            })
        })
        .await
        .unwrap();
    assert_eq!(grouped, "read committed");
    db.close().await;
}
