//! SIGKILL at random moments during a thousand payments (SECURITY.md 15-17):
//! payers keep retrying with their idempotency keys across restarts, then
//! reconciliation runs; every charge the sandbox processor made is recorded
//! exactly once and no invoice is over-collected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::support::{self, Api, Rng, Server, TempDir};

const CUSTOMERS: usize = 200;
const INVOICES_PER_CUSTOMER: usize = 5;
const PAYMENTS: usize = CUSTOMERS * INVOICES_PER_CUSTOMER;
const CLIENTS: usize = 16;
const KILLS: usize = 10;

/// One payer's payment: the invoices it selects and its idempotency key.
struct Job {
    link: String,
    invoices: Vec<String>,
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// 201: the payment's id.
    Paid(String),
    /// 402: declined (a charge cut short by a kill is `not_charged`).
    Declined(String),
    /// 409: another payment took (or holds) an invoice; nothing charged.
    NotPayable,
    /// 409 idempotency_in_progress: the attempt waits for reconciliation.
    InProgress,
}

#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    transport_errors: usize,
    unexpected: Vec<String>,
}

/// Pays until a definite answer, retrying the same key (and card token)
/// through transport errors while the server is down.
async fn run_job(api: &Api, job: &Job, card: &mut Option<String>, tally: &Mutex<Tally>) -> Outcome {
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "payment {} got no answer within 60 s",
            job.key
        );
        let token = match card {
            Some(t) => t.clone(),
            None => match api.try_card().await {
                Ok(r) if r.status == 200 => {
                    let t = r.json()["id"].as_str().unwrap().to_string();
                    *card = Some(t.clone());
                    t
                }
                Ok(r) => {
                    tally
                        .lock()
                        .await
                        .unexpected
                        .push(format!("card token: {} {}", r.status, r.body));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(_) => {
                    tally.lock().await.transport_errors += 1;
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    continue;
                }
            },
        };
        let r = match api
            .try_pay(&job.link, &job.key, &job.invoices, &token)
            .await
        {
            Ok(r) => r,
            Err(_) => {
                tally.lock().await.transport_errors += 1;
                tokio::time::sleep(Duration::from_millis(30)).await;
                continue;
            }
        };
        *tally.lock().await.statuses.entry(r.status).or_default() += 1;
        match (r.status, r.code().as_str()) {
            (201, _) => return Outcome::Paid(r.json()["id"].as_str().unwrap().to_string()),
            (402, code) => return Outcome::Declined(code.to_string()),
            (409, "idempotency_in_progress") => return Outcome::InProgress,
            (409, "invoice_not_payable" | "invoice_being_paid") => return Outcome::NotPayable,
            _ => {
                tally
                    .lock()
                    .await
                    .unexpected
                    .push(format!("pay {}: {} {}", job.key, r.status, r.body));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_a_thousand_payments_loses_and_doubles_nothing() {
    let seed = support::seed();
    eprintln!("faults::kill seed {seed} (rerun with FAULTS_SEED={seed})");
    let started = Instant::now();
    let dir = TempDir::new("faults-kill");
    let db_path = dir.0.join("app.db");
    let db_url = format!("sqlite://{}", db_path.display());
    let key = support::create_company(&db_url);
    let mut server = Server::new(&dir.0, &db_url);
    server.start().await;
    let api = Api::new(&server.base, &key);

    // 200 customers with 5 invoices each, through the API, 8 at a time.
    let mut rng = Rng(seed);
    let amounts: Vec<Vec<i64>> = (0..CUSTOMERS)
        .map(|_| {
            (0..INVOICES_PER_CUSTOMER)
                .map(|_| 2_500 + 100 * rng.below(400) as i64)
                .collect()
        })
        .collect();
    let mut seeded = Vec::with_capacity(CUSTOMERS);
    for chunk in (0..CUSTOMERS).collect::<Vec<_>>().chunks(8) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|&n| {
                let (api, amounts) = (api.clone(), amounts[n].clone());
                tokio::spawn(async move { support::seed_customer(&api, n, &amounts).await })
            })
            .collect();
        for t in tasks {
            seeded.push(t.await.unwrap());
        }
    }
    eprintln!(
        "faults::kill seeded {CUSTOMERS} customers, {PAYMENTS} invoices in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // A thousand payments: each one invoice, one in five adding another of
    // the same customer's, so payers also race for invoices.
    let mut jobs = Vec::with_capacity(PAYMENTS);
    for i in 0..PAYMENTS {
        let c = i % CUSTOMERS;
        let k = i / CUSTOMERS;
        let (_, link, ids) = &seeded[c];
        let mut invoices = vec![ids[k].clone()];
        if rng.below(5) == 0 {
            let other = ids[rng.below(INVOICES_PER_CUSTOMER as u64) as usize].clone();
            if other != invoices[0] {
                invoices.push(other);
            }
        }
        jobs.push(Job {
            link: link.clone(),
            invoices,
            key: format!("faults-{seed}-{i}"),
        });
    }
    let jobs = Arc::new(jobs);
    let outcomes: Arc<Mutex<Vec<Option<Outcome>>>> = Arc::new(Mutex::new(vec![None; PAYMENTS]));
    let cards: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; PAYMENTS]));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));

    let pay_started = Instant::now();
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let (api, jobs, outcomes, cards, tally, next, done) = (
            api.clone(),
            jobs.clone(),
            outcomes.clone(),
            cards.clone(),
            tally.clone(),
            next.clone(),
            done.clone(),
        );
        clients.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let mut card = None;
                let outcome = run_job(&api, job, &mut card, &tally).await;
                cards.lock().await[i] = card;
                outcomes.lock().await[i] = Some(outcome);
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // The killer: SIGKILL when as many payments have been answered as each
    // of KILLS marks drawn from the seed (between 2% and 92% of them, so the
    // kills land mid-run however fast the payments go), restart at once. A
    // kill waits for at least one answer from the restarted server. Should
    // every payment be answered before a mark (a very fast machine), the
    // remaining kills are not made; what was made is checked all the same.
    let mut marks: Vec<usize> = (0..KILLS)
        .map(|_| PAYMENTS / 50 + rng.below((PAYMENTS * 9 / 10) as u64) as usize)
        .collect();
    marks.sort_unstable();
    let mut kills = 0;
    let mut kill_log = Vec::new();
    let mut answered_at_restart = 0;
    for mark in marks {
        let at = loop {
            let at = done.load(Ordering::Relaxed);
            if at >= PAYMENTS || (at >= mark && at > answered_at_restart) {
                break at;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if at >= PAYMENTS {
            break;
        }
        server.kill();
        kills += 1;
        kill_log.push(format!("at {at} answered (mark {mark})"));
        server.start().await;
        answered_at_restart = done.load(Ordering::Relaxed);
    }
    for c in clients {
        c.await.unwrap();
    }
    eprintln!(
        "faults::kill {PAYMENTS} payments answered in {:.1} s with {kills} kills ({})",
        pay_started.elapsed().as_secs_f64(),
        kill_log.join("; ")
    );
    // The first mark is at 2% of the payments: a kill there cannot miss.
    assert!(
        kills >= 1,
        "no kill landed while payments were being made (seed {seed})"
    );

    // Reconciliation of what the kills left pending, while the server runs,
    // once no request for them can still be in flight (a charge not found
    // before then is not yet "never charged").
    let later = time::OffsetDateTime::now_utc()
        + fieldpay::app::payments::NOT_FOUND_AFTER
        + time::Duration::minutes(1);
    let report = support::jobs_run_once(&db_url, later);
    eprintln!("faults::kill reconciliation: {}", report.trim());

    // The payers left waiting ask again with the same keys: a definite answer now.
    let waiting: Vec<usize> = outcomes
        .lock()
        .await
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Some(Outcome::InProgress)))
        .map(|(i, _)| i)
        .collect();
    for &i in &waiting {
        let mut card = cards.lock().await[i].clone();
        let outcome = run_job(&api, &jobs[i], &mut card, &tally).await;
        assert_ne!(
            outcome,
            Outcome::InProgress,
            "payment {} still in progress after reconciliation (seed {seed})",
            jobs[i].key
        );
        outcomes.lock().await[i] = Some(outcome);
    }

    let tally = tally.lock().await;
    assert!(
        tally.unexpected.is_empty(),
        "unexpected answers (seed {seed}):\n{}",
        tally
            .unexpected
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    let books = support::check_books(&db_path, &dir.0.join("app.sandbox.db")).await;

    // Every 201 a payer saw is one of the recorded payments.
    let outcomes = outcomes.lock().await;
    let paid: Vec<&String> = outcomes
        .iter()
        .filter_map(|o| match o {
            Some(Outcome::Paid(id)) => Some(id),
            _ => None,
        })
        .collect();
    let mut conn = support::open_read(&db_path).await;
    for id in &paid {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            n, 1,
            "payment {id} answered 201 but is not recorded (seed {seed})"
        );
    }
    let declined = outcomes
        .iter()
        .filter(|o| matches!(o, Some(Outcome::Declined(_))))
        .count();
    let not_payable = outcomes
        .iter()
        .filter(|o| matches!(o, Some(Outcome::NotPayable)))
        .count();
    eprintln!(
        "faults::kill seed {seed}: {} paid, {declined} declined (cut short), {not_payable} refused (invoice taken), \
         {} left for reconciliation; sandbox charges {}, payments {}, invoices paid {}; \
         statuses {:?}, transport errors {}; {:.1} s in all",
        paid.len(),
        waiting.len(),
        books.charges,
        books.payments,
        books.paid_invoices,
        tally.statuses,
        tally.transport_errors,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        paid.len() + declined + not_payable,
        PAYMENTS,
        "every payment got a definite answer"
    );
    // Every 201 (a payer's own or a replay) is a distinct payment.
    let mut distinct = paid.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        paid.len(),
        "two payers were told the same payment"
    );
    assert!(
        books.payments >= paid.len(),
        "payments the payers saw are recorded"
    );
    assert!(server.alive(), "the server is still running");
    let logs = server.logs();
    assert!(
        !logs.contains("panicked"),
        "the server panicked (seed {seed}):\n{logs}"
    );
}
