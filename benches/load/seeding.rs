//! The load benchmark's data: companies, customers, links and invoices
//! written through the library, as an office's import would.

use std::time::{Duration, Instant};

use fieldpay::app::setup;
use fieldpay::crypto::Secret;
use fieldpay::domain::ids::CustomerId;
use fieldpay::domain::money::Currency;
use fieldpay::store::{Db, customers};

use crate::batch::Batch;
use crate::seed::{Rng, invoice_lines};
use crate::{INVOICES_PER_CUSTOMER, ROWS_PER_TX, TIME_ZONE, seed};

pub(crate) struct Seeded {
    pub(crate) company_id: fieldpay::domain::ids::CompanyId,
    /// The company's API key (PDF downloads go through the API).
    pub(crate) api_key: String,
    pub(crate) customers: usize,
    pub(crate) invoices: usize,
    pub(crate) lines: usize,
    pub(crate) took: Duration,
    /// The measured customer's link token (6 open invoices on 2 properties).
    pub(crate) page_token: String,
    pub(crate) page_invoices: usize,
    /// (link token, open invoice id), ordered so consecutive entries belong to
    /// different customers; the measured customer is not in it.
    pub(crate) queue: Vec<(String, String)>,
    /// Invoices whose PDFs are downloaded, one per customer.
    pub(crate) pdf_invoices: Vec<String>,
}

pub(crate) struct Ctx<'a> {
    pub(crate) company_id: &'a fieldpay::domain::ids::CompanyId,
    pub(crate) today: time::Date,
}

/// Seeds company number `nth` (0: the measured one).
pub(crate) async fn seed_data(
    db_url: &str,
    secret: &Secret,
    customers: usize,
    nth: usize,
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let db = Db::connect(db_url).await?;
    db.migrate().await?;
    let name = match nth {
        0 => "Benchmark Pest Control".to_string(),
        n => format!("Benchmark Pest Control {}", n + 1),
    };
    let owner = match nth {
        0 => "owner@bench.example".to_string(),
        n => format!("owner{}@bench.example", n + 1),
    };
    let mut company = setup::default_company(&name);
    company.phone = "(512) 555-0199".into();
    company.email = "billing@bench.example".into();
    company.address = "1 Benchmark Way, Austin, TX 78701".into();
    company.currency = Currency::USD;
    company.time_zone = TIME_ZONE.into();
    let created = setup::create_company(&db, &company, &owner, "bench-owner-password").await?;
    let ctx = Ctx {
        company_id: &created.company_id,
        today: fieldpay::domain::Clock::system().today_in(TIME_ZONE),
    };
    let mut rng = Rng(seed::SEED);
    let mut batch = Batch::open(&db, ROWS_PER_TX).await?;
    let mut invoice_count = 0usize;
    let mut line_count = 0usize;

    // The measured customer: a landlord billed for their own home and for a
    // rental where another customer (the tenant) lives.
    let target = add_customer(&mut batch, &ctx, 0).await?;
    let tenant = add_customer(&mut batch, &ctx, 1).await?;
    let own = customers::create_property(
        batch.tx(),
        ctx.company_id,
        "100 Landlord Ln, Austin, TX 78704",
        &target,
        &target,
    )
    .await?;
    let rental = customers::create_property(
        batch.tx(),
        ctx.company_id,
        "22 Rental Ct, Unit B, Austin, TX 78741",
        &tenant,
        &target,
    )
    .await?;
    batch.wrote(2).await?;
    for property in [
        &own.id, &own.id, &own.id, &rental.id, &rental.id, &rental.id,
    ] {
        let (_, lines) = add_invoice(&mut batch, &ctx, &mut rng, property, &target).await?;
        invoice_count += 1;
        line_count += lines;
    }
    let page_token = add_link(&mut batch, &ctx, secret, &target).await?;

    // Everyone else (the tenant included): one home, four open invoices.
    let mut per_customer: Vec<(String, Vec<String>)> = Vec::with_capacity(customers - 1);
    for n in 1..customers {
        let id = if n == 1 {
            tenant.clone()
        } else {
            add_customer(&mut batch, &ctx, n).await?
        };
        let address = format!("{} Elm St, Austin, TX 787{:02}", 100 + n, n % 50);
        let home =
            customers::create_property(batch.tx(), ctx.company_id, &address, &id, &id).await?;
        batch.wrote(1).await?;
        let mut ids = Vec::with_capacity(INVOICES_PER_CUSTOMER);
        for _ in 0..INVOICES_PER_CUSTOMER {
            let (inv, lines) = add_invoice(&mut batch, &ctx, &mut rng, &home.id, &id).await?;
            ids.push(inv);
            invoice_count += 1;
            line_count += lines;
        }
        let token = add_link(&mut batch, &ctx, secret, &id).await?;
        per_customer.push((token, ids));
    }
    batch.commit().await?;
    db.close().await;

    // Round-robin over customers: 32 payments in flight never share a customer.
    let mut queue = Vec::with_capacity(per_customer.len() * INVOICES_PER_CUSTOMER);
    for k in 0..INVOICES_PER_CUSTOMER {
        for (token, ids) in &per_customer {
            queue.push((token.clone(), ids[k].clone()));
        }
    }
    // The PDFs downloaded: the last invoice of each customer (the payments
    // phase, which comes after, pays the first ones).
    let pdf_invoices = per_customer
        .iter()
        .filter_map(|(_, ids)| ids.last().cloned())
        .collect();
    Ok(Seeded {
        company_id: created.company_id.clone(),
        api_key: created.api_key.clone(),
        customers,
        invoices: invoice_count,
        lines: line_count,
        took: started.elapsed(),
        page_token,
        page_invoices: 6,
        queue,
        pdf_invoices,
    })
}

pub(crate) async fn add_customer(
    batch: &mut Batch<'_>,
    ctx: &Ctx<'_>,
    n: usize,
) -> anyhow::Result<CustomerId> {
    let c = customers::create(
        batch.tx(),
        ctx.company_id,
        &seed::customer(format!("Customer {n:05}"), n),
    )
    .await?;
    batch.wrote(1).await?;
    Ok(c.id)
}

pub(crate) async fn add_link(
    batch: &mut Batch<'_>,
    ctx: &Ctx<'_>,
    secret: &Secret,
    customer_id: &str,
) -> anyhow::Result<String> {
    let link = fieldpay::app::links::issue(batch.tx(), secret, ctx.company_id, &customer_id.into())
        .await?;
    batch.wrote(1).await?;
    Ok(link.token)
}

/// One open invoice with 1-3 lines; returns its id and line count.
pub(crate) async fn add_invoice(
    batch: &mut Batch<'_>,
    ctx: &Ctx<'_>,
    rng: &mut Rng,
    property_id: &str,
    bill_to: &str,
) -> anyhow::Result<(String, usize)> {
    let lines = invoice_lines(rng);
    let due_in = rng.below(70) - 40;
    let dates = (
        ctx.today + time::Duration::days(due_in - 30),
        ctx.today + time::Duration::days(due_in),
    );
    let id = seed::open_invoice(batch, ctx.company_id, property_id, bill_to, dates, &lines).await?;
    Ok((id, lines.len()))
}

/// One entry of each queue in turn, until all are empty.
pub(crate) fn interleave(queues: Vec<Vec<(String, String)>>) -> Vec<(String, String)> {
    let mut iters: Vec<_> = queues.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::new();
    loop {
        let before = out.len();
        out.extend(iters.iter_mut().filter_map(Iterator::next));
        if out.len() == before {
            return out;
        }
    }
}
