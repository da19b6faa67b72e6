//! Invoice PDFs per second on one thread (render only, data in memory), next
//! to headless Chromium printing the same invoice's HTML to PDF when
//! `chromium` is on PATH.
//!
//! `cargo bench --bench pdf` (add `-- --quick` for fewer runs). The PDF it
//! drew is left in `target/pdf-bench/invoice.pdf`.

use std::alloc::{GlobalAlloc, Layout};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use fieldpay::domain::money::Money;
use fieldpay::pdf::{self, InvoiceDoc};

// The server's allocator (src/main.rs), so a render costs here what it
// costs there, counted: the bytes live now, the most live since the last
// reset, and the number of allocations.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(live, Relaxed);
            CALLS.fetch_add(1, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            let live = LIVE.fetch_add(new_size, Relaxed) + new_size;
            PEAK.fetch_max(live, Relaxed);
            CALLS.fetch_add(1, Relaxed);
        }
        p
    }
}

/// Runs `work` and returns its result with the most bytes it had allocated
/// at once (above what was live before) and its number of allocations.
fn measured<T>(work: impl FnOnce() -> T) -> (T, usize, usize) {
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    let calls = CALLS.load(Relaxed);
    let out = work();
    (out, PEAK.load(Relaxed) - base, CALLS.load(Relaxed) - calls)
}

fn kb(bytes: usize) -> String {
    format!("{:.0} KB", bytes as f64 / 1024.0)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let doc = pdf::sample_invoice(4);
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pdf-bench");
    std::fs::create_dir_all(&out).expect("create target/pdf-bench");

    // Warm up (fonts are parsed once per process), then count for ~3 s.
    let first = pdf::render_invoice(&doc).expect("render");
    std::fs::write(out.join("invoice.pdf"), &first).expect("write the PDF");
    for _ in 0..20 {
        std::hint::black_box(pdf::render_invoice(&doc).expect("render"));
    }
    let budget = Duration::from_secs(if quick { 1 } else { 3 });
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        std::hint::black_box(pdf::render_invoice(std::hint::black_box(&doc)).expect("render"));
        n += 1;
    }
    let per = start.elapsed().as_secs_f64() / f64::from(n);
    println!(
        "krilla: {n} one-page invoices with QR in {:.2} s on one thread: {:.0} PDFs/s, {:.3} ms per invoice, {} bytes each",
        start.elapsed().as_secs_f64(),
        1.0 / per,
        per * 1000.0,
        first.len()
    );

    let other = beyond_prepared(&doc);
    let (m, ms) = per_invoice_ms(&other, 1);
    println!(
        "krilla: {m} of the same invoice with {:?} in it (letters beyond the prepared glyphs, so both fonts are subset and compressed): {ms:.3} ms per invoice",
        other.bill_to_name
    );

    memory(&doc, &first);

    let Some(chromium) = find_on_path("chromium") else {
        println!("chromium: not on PATH, no comparison (apt-get install chromium)");
        return;
    };
    let html = out.join("invoice.html");
    std::fs::write(&html, invoice_html(&doc)).expect("write the HTML");
    let runs = if quick { 2 } else { 5 };
    let mut times = Vec::new();
    for i in 0..runs {
        let profile = out.join(format!("chromium-profile-{i}"));
        let target = out.join("invoice-chromium.pdf");
        std::fs::remove_file(&target).ok();
        let t = Instant::now();
        let status = Command::new(&chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--no-pdf-header-footer",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--print-to-pdf={}", target.display()))
            .arg(format!("file://{}", html.display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let elapsed = t.elapsed();
        std::fs::remove_dir_all(&profile).ok();
        match status {
            Ok(s) if s.success() && target.exists() => times.push(elapsed.as_secs_f64()),
            other => {
                println!("chromium: run {i} failed ({other:?}); no comparison");
                return;
            }
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let median = times[times.len() / 2];
    println!(
        "chromium --headless --print-to-pdf: median of {runs} runs {:.0} ms per invoice (min {:.0} ms, max {:.0} ms)",
        median * 1000.0,
        times[0] * 1000.0,
        times[times.len() - 1] * 1000.0
    );
    println!(
        "ratio: krilla is {:.0}x faster than headless Chromium for the same invoice",
        median / per
    );
}

/// One render's peak of allocated memory, and the parts of a render that
/// hold the most at once, each measured alone.
fn memory(doc: &InvoiceDoc, pdf: &[u8]) {
    let (_, peak, calls) = measured(|| pdf::render_invoice(doc).expect("render"));
    println!(
        "memory: one render allocates at most {} at once ({calls} allocations); the PDF is {}",
        kb(peak),
        kb(pdf.len())
    );
    let url = doc.pay_url.clone().unwrap_or_default();
    let (_, qr, _) = measured(|| pdf::layout::qr_matrix(&url));
    // Letters beyond the glyphs prepared once per process
    // (`pdf::layout::PREPARED`) in both fonts: that PDF subsets both fonts
    // and compresses the subsets, each with its own zlib level-6 encoder.
    let (_, other, _) = measured(|| pdf::render_invoice(&beyond_prepared(doc)).expect("render"));
    println!(
        "memory: of which the QR code's masks {}; a render whose text has letters beyond the prepared glyphs allocates at most {} at once",
        kb(qr),
        kb(other)
    );
}

/// The invoice billed to a name, and with a line, with letters outside
/// `pdf::layout::PREPARED` (in the bold and in the regular font).
fn beyond_prepared(doc: &InvoiceDoc) -> InvoiceDoc {
    let mut doc = doc.clone();
    doc.bill_to_name = "Łukasz Żółć".into();
    if let Some(line) = doc.lines.first_mut() {
        line.description = format!("{} (Łódź)", line.description);
    }
    doc
}

/// Times renders of `doc` for about `seconds`; milliseconds per invoice.
fn per_invoice_ms(doc: &InvoiceDoc, seconds: u64) -> (u32, f64) {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_secs(seconds) {
        std::hint::black_box(pdf::render_invoice(std::hint::black_box(doc)).expect("render"));
        n += 1;
    }
    (n, start.elapsed().as_secs_f64() * 1000.0 / f64::from(n))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| Path::new(p).is_file())
    })
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain HTML page of the same invoice, with the QR code as inline SVG.
fn invoice_html(d: &InvoiceDoc) -> String {
    let money = |m: i64| Money::new(m, d.currency).format();
    let mut rows = String::new();
    for l in &d.lines {
        rows.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&l.description),
            l.quantity,
            money(l.unit_price),
            money(l.amount)
        ));
    }
    let url = d.pay_url.clone().unwrap_or_default();
    let mut qr = String::new();
    if let Some((w, dark)) = pdf::layout::qr_matrix(&url) {
        let mut path = String::new();
        for (row, col, len) in pdf::layout::qr_runs(w, &dark) {
            path.push_str(&format!("M{} {}h{len}v1h-{len}z", col + 4, row + 4));
        }
        qr = format!(
            "<svg viewBox=\"0 0 {s} {s}\" width=\"104\" height=\"104\"><path d=\"{path}\"/></svg>",
            s = w + 8
        );
    }
    format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Invoice {num}</title>
<style>body{{font-family:sans-serif;font-size:10pt;margin:0}}table{{width:100%;border-collapse:collapse}}
td,th{{padding:4px;border-bottom:1px solid #ddd;text-align:left}}.n{{text-align:right}}
.head{{display:flex;justify-content:space-between}}.pay{{border:1px solid #888;padding:12px;display:flex;justify-content:space-between;margin-top:16px}}</style></head>
<body><div class=head><div><h2>{company}</h2><p>{addr}<br>Phone {phone}<br>{email}</p></div>
<div><h1>INVOICE</h1><p>Invoice number {num}<br>Issue date {issue}<br>Due date {due}<br>Balance due {balance}</p></div></div>
<div class=head><div><b>BILL TO</b><br>{bill}</div><div><b>SERVICE ADDRESS</b><br>{prop}<br>Billed on behalf of the resident, {res}</div></div>
<table><thead><tr><th>Description</th><th class=n>Qty</th><th class=n>Unit price</th><th class=n>Amount</th></tr></thead><tbody>{rows}</tbody></table>
<p class=n>Subtotal {total}<br>Total {total}<br>Payments applied {paid}<br><b>Balance due {balance}</b></p>
<div class=pay><div><b>Pay online</b><p>Scan the code or type this address:</p><p>{url}</p></div>{qr}</div>
<p>Terms: payment of {balance} is due by {due}.</p></body></html>",
        num = esc(&d.number),
        company = esc(&d.company.name),
        addr = esc(&d.company.address).replace('\n', "<br>"),
        phone = esc(&d.company.phone),
        email = esc(&d.company.email),
        issue = fieldpay::domain::dates::display(d.issue_date),
        due = fieldpay::domain::dates::display(d.due_date),
        balance = money(d.balance),
        bill = esc(&d.bill_to_name),
        prop = esc(&d.property_address),
        res = esc(d.on_behalf_of.as_deref().unwrap_or("")),
        total = money(d.total),
        paid = money(-d.paid),
        url = esc(&url),
    )
}
