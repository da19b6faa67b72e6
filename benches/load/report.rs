//! What the benchmark prints: each phase's figures, the aims beside them.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::seeding::Seeded;
use crate::traffic::{GetResult, PayResult, PdfResult, Queued};
use crate::{
    CUSTOMERS, DEFAULT_SECONDS, GET_CONNECTIONS, LOAD_AT_START, PAY_CLIENTS, PDF_CONNECTIONS,
    SHORT_CUSTOMERS, fsync, load_average,
};

pub(crate) struct Figures<'a> {
    pub(crate) database: &'a str,
    pub(crate) processes: usize,
    pub(crate) nproc: usize,
    pub(crate) seconds: u64,
    pub(crate) short: bool,
    pub(crate) seeded: &'a Seeded,
    pub(crate) health: &'a GetResult,
    pub(crate) page: &'a GetResult,
    pub(crate) pdfs: &'a PdfResult,
    pub(crate) pays: &'a PayResult,
    /// Companies whose invoices the payments phase paid.
    pub(crate) companies: usize,
    /// PostgreSQL, 2 processes: payments of one company, then of all.
    pub(crate) by_company: Option<&'a (PayResult, PayResult)>,
    /// SQLite: one-row `synchronous=FULL` commits per second on this disk.
    pub(crate) fsync_limit: Option<&'a fsync::FsyncLimit>,
    /// `None` with `BENCH_ONLY_PAYMENTS`: the other phases were not run.
    pub(crate) queued: Option<&'a Queued>,
    pub(crate) hwm_kb: Option<u64>,
    /// VmHWM after each phase, in order.
    pub(crate) peaks: &'a [(&'a str, Option<u64>)],
}

/// Nearest-rank percentile of sorted latencies, in milliseconds.
pub(crate) fn pct_ms(sorted: &[Duration], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e3)
}

pub(crate) fn ms(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

pub(crate) fn per_sec(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

pub(crate) fn statuses(map: &BTreeMap<u16, u64>, transport: u64) -> String {
    let mut parts: Vec<String> = map.iter().map(|(s, n)| format!("{s}\u{d7}{n}")).collect();
    if transport > 0 {
        parts.push(format!("transport-error\u{d7}{transport}"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" ")
    }
}

pub(crate) fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".into(),
    }
}

pub(crate) fn print_report(f: &Figures<'_>) {
    let (h, p, y) = (f.health, f.page, f.pays);
    println!();
    println!("==================== fieldpay load benchmark ====================");
    println!(
        "reproduce : cargo bench --bench load   (BENCH_SECONDS=N per phase, default {DEFAULT_SECONDS}; \
         BENCH_SHORT=1 for the CI form; BENCH_POSTGRES=URL of a server, BENCH_PROCESSES=N)"
    );
    println!(
        "database  : {}, {} server process{}",
        f.database,
        f.processes,
        if f.processes == 1 { "" } else { "es" }
    );
    if f.short {
        println!(
            "SHORT FORM: {SHORT_CUSTOMERS} customers instead of {CUSTOMERS}; a smoke run, not the documented figures"
        );
    }
    println!(
        "machine   : nproc {} (load generator and server share these CPUs); load average {} at the start, {} at the end",
        f.nproc,
        LOAD_AT_START.get().map_or("unavailable", String::as_str),
        load_average()
    );
    println!(
        "phase     : {} s each, HTTP/1.1 keep-alive, server = {} serve",
        f.seconds,
        match std::env::var_os("BENCH_SERVER").filter(|p| !p.is_empty()) {
            Some(p) => format!("BENCH_SERVER {}", p.to_string_lossy()),
            None => "this release build of `fieldpay`".to_string(),
        }
    );
    println!(
        "data      : {} customers, {} open invoices, {} lines; seeded in {:.1} s",
        f.seeded.customers,
        f.seeded.invoices,
        f.seeded.lines,
        f.seeded.took.as_secs_f64()
    );
    println!(
        "page      : measured customer has {} open invoices on 2 properties (1 billed on behalf of a tenant)",
        f.seeded.page_invoices
    );
    let all_phases = f.queued.is_some();
    if all_phases {
        println!();
        println!(
            "{:<22} {:>5} {:>11} {:>11} {:>9} {:>9}  statuses",
            "GET", "conns", "2xx req/s", "all req/s", "p50 ms", "p99 ms"
        );
        for (name, r) in [("/healthz", h), ("/pay/{token}", p)] {
            println!(
                "{:<22} {:>5} {:>11.0} {:>11.0} {:>9} {:>9}  {}",
                name,
                GET_CONNECTIONS,
                per_sec(r.ok.len(), r.elapsed),
                per_sec(r.all.len(), r.elapsed),
                ms(pct_ms(&r.ok, 50.0)),
                ms(pct_ms(&r.ok, 99.0)),
                statuses(&r.statuses, r.transport_errors)
            );
        }
        println!("  (p50/p99 are over 2xx answers only)");
        println!(
            "ratio pay/healthz     : throughput {}   p50 {}   p99 {}",
            ratio(
                Some(per_sec(p.ok.len(), p.elapsed)),
                Some(per_sec(h.ok.len(), h.elapsed))
            ),
            ratio(pct_ms(&p.ok, 50.0), pct_ms(&h.ok, 50.0)),
            ratio(pct_ms(&p.ok, 99.0), pct_ms(&h.ok, 99.0)),
        );
        let non_ok: u64 = p
            .statuses
            .iter()
            .filter(|(s, _)| **s >= 300)
            .map(|(_, n)| n)
            .sum();
        if non_ok > 0 {
            println!(
                "  note: {non_ok} /pay answers were not 2xx (429 = the per-link limit, 120/min by default); \
                 the 2xx figures cover only {} requests",
                p.ok.len()
            );
        }
    }
    println!();
    let committed = y.committed as usize;
    let pay_only = committed as f64 / (y.pay_busy.as_secs_f64() / PAY_CLIENTS as f64).max(1e-9);
    println!(
        "payments  : {PAY_CLIENTS} clients, each: POST /sandbox/v1/tokens then POST /api/v1/pay/{{token}}/payments ({} compan{})",
        f.companies,
        if f.companies == 1 { "y" } else { "ies" }
    );
    println!(
        "  committed (201)          : {committed} in {:.2} s",
        y.elapsed.as_secs_f64()
    );
    println!(
        "  full loop rate           : {:.1} payments/s (201s / wall time; token call included)",
        per_sec(committed, y.elapsed)
    );
    println!(
        "  pay-only rate            : {pay_only:.1} payments/s (201s / time the {PAY_CLIENTS} clients spent inside the pay POST)"
    );
    if let Some(limit) = f.fsync_limit {
        println!(
            "  disk's own limit         : {:.0} commits/s (bare SQLite, one row per synchronous=FULL commit, same disk, {:.1} s); payments ÷ that: {}",
            limit.per_sec(),
            limit.elapsed.as_secs_f64(),
            ratio(Some(per_sec(committed, y.elapsed)), Some(limit.per_sec()))
        );
    }
    if let Some((a, b)) = y.server_use.filter(|_| committed > 0) {
        println!(
            "  server per payment       : {:.3} ms of CPU (user + system), {:.1} context switches",
            (b.cpu_ticks - a.cpu_ticks) as f64 * 10.0 / committed as f64,
            b.switches.saturating_sub(a.switches) as f64 / committed as f64
        );
    }
    println!("  aim                      : >= 3,000 payments/s with synchronous=FULL");
    println!(
        "  latency p50/p99 ms       : token {}/{}   pay {}/{}   loop {}/{}",
        ms(pct_ms(&y.token_lat, 50.0)),
        ms(pct_ms(&y.token_lat, 99.0)),
        ms(pct_ms(&y.pay_lat, 50.0)),
        ms(pct_ms(&y.pay_lat, 99.0)),
        ms(pct_ms(&y.loop_lat, 50.0)),
        ms(pct_ms(&y.loop_lat, 99.0)),
    );
    println!(
        "  token POST statuses      : {}",
        statuses(&y.token_statuses, 0)
    );
    println!(
        "  pay POST statuses        : {}",
        statuses(&y.pay_statuses, y.transport_errors)
    );
    if let Some(at) = y.queue_empty_at {
        println!(
            "  queue of {} (link, invoice) pairs ran out after {:.2} s",
            f.seeded.queue.len(),
            at.as_secs_f64()
        );
    }
    if let Some(e) = &y.sample_error {
        println!(
            "  first error              : {}",
            e.chars().take(300).collect::<String>()
        );
    }
    if let Some((one, all)) = f.by_company {
        let (r1, rn) = (
            per_sec(one.committed as usize, one.elapsed),
            per_sec(all.committed as usize, all.elapsed),
        );
        println!();
        println!(
            "payments by company: PostgreSQL, 2 processes, {PAY_CLIENTS} clients (writes of different companies in parallel)"
        );
        println!("  1 company                : {r1:.1} payments/s");
        println!(
            "  {} companies              : {rn:.1} payments/s",
            f.companies
        );
        println!(
            "  ratio                    : {}   (aim: >= 1.8 with 4 companies)",
            ratio(Some(rn), Some(r1))
        );
        for (name, r) in [("1 company", one), ("all", all)] {
            if let Some(e) = &r.sample_error {
                println!(
                    "  first error ({name})      : {}",
                    e.chars().take(300).collect::<String>()
                );
            }
        }
    }
    let d = f.pdfs;
    if let Some(q) = f.queued {
        println!();
        println!(
            "PDFs      : {PDF_CONNECTIONS} connections, GET /api/v1/invoices/{{id}}/pdf, a different invoice each time"
        );
        println!(
            "  rendered and served      : {} in {:.2} s = {:.1} PDFs/s ({:.0} KB each on average)",
            d.ok.len(),
            d.elapsed.as_secs_f64(),
            per_sec(d.ok.len(), d.elapsed),
            d.bytes as f64 / 1024.0 / d.ok.len().max(1) as f64
        );
        println!(
            "  latency p50/p99 ms       : {}/{}   statuses: {}",
            ms(pct_ms(&d.ok, 50.0)),
            ms(pct_ms(&d.ok, 99.0)),
            statuses(&d.statuses, d.transport_errors)
        );
        if let Some(e) = &d.sample_error {
            println!("  first error              : {e}");
        }
        println!();
        println!(
            "alerts    : alerts::queue_due at {} over {} rules (3 days after due: email + SMS; 3 days before due; at issue)",
            q.now, q.rules
        );
        println!(
            "  queued                   : {} messages in {:.2} s = {:.0} alerts queued/s; 100,000 at that rate: {:.2} s (aim <= 1 s)",
            q.report.queued,
            q.took.as_secs_f64(),
            per_sec(q.report.queued, q.took),
            100_000.0 / per_sec(q.report.queued, q.took).max(1e-9)
        );
        println!(
            "  report                   : too early {}, duplicates {}, not sendable {}",
            q.report.too_early, q.report.duplicates, q.report.not_sendable
        );
    }
    println!();
    match f.hwm_kb {
        Some(kb) => println!("server peak RSS (VmHWM)  : {:.1} MB", kb as f64 / 1024.0),
        None => println!("server peak RSS (VmHWM)  : unavailable (no /proc?)"),
    }
    let after: Vec<String> = f
        .peaks
        .iter()
        .map(|(phase, kb)| match kb {
            Some(kb) => format!("{phase} {:.1}", *kb as f64 / 1024.0),
            None => format!("{phase} -"),
        })
        .collect();
    println!("  VmHWM MB after each phase: {}", after.join(", "));
    println!();
    println!("summary (one run, one server; ratios are against /healthz of this run):");
    let hz = per_sec(h.ok.len(), h.elapsed);
    let pz = per_sec(p.ok.len(), p.elapsed);
    if all_phases {
        println!(
            "  /healthz                 : {hz:.0} req/s, p50 {} ms, p99 {} ms",
            ms(pct_ms(&h.ok, 50.0)),
            ms(pct_ms(&h.ok, 99.0))
        );
        println!(
            "  pay page                 : {pz:.0} req/s ({} x /healthz), p50 {} ms, p99 {} ms",
            ratio(Some(pz), Some(hz)),
            ms(pct_ms(&p.ok, 50.0)),
            ms(pct_ms(&p.ok, 99.0))
        );
    }
    println!(
        "  payments                 : {:.0} payments/s",
        per_sec(y.committed as usize, y.elapsed)
    );
    if let Some((one, all)) = f.by_company {
        let (r1, rn) = (
            per_sec(one.committed as usize, one.elapsed),
            per_sec(all.committed as usize, all.elapsed),
        );
        println!(
            "  payments, {} companies ÷ 1 : {} ({rn:.0} ÷ {r1:.0} payments/s, 2 processes; aim >= 1.8)",
            f.companies,
            ratio(Some(rn), Some(r1))
        );
    }
    if let Some(q) = f.queued {
        println!(
            "  PDFs                     : {:.1} PDFs/s",
            per_sec(d.ok.len(), d.elapsed)
        );
        println!(
            "  alerts                   : {:.0} alerts queued/s",
            per_sec(q.report.queued, q.took)
        );
    }
    println!(
        "  peak RSS                 : {}",
        f.hwm_kb
            .map(|kb| format!("{:.1} MB", kb as f64 / 1024.0))
            .unwrap_or_else(|| "-".into())
    );
    println!("==================================================================");
}
