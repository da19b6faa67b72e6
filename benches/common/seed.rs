//! Seed data shared by the benchmarks: a deterministic generator, so every
//! run seeds the same shape of data, and realistic invoice lines.
#![allow(dead_code)]

use anyhow::Context;
use fieldpay::domain::ids::CompanyId;
use fieldpay::domain::money::Currency;
use fieldpay::domain::{LineInput, price_lines};
use fieldpay::store::customers::NewCustomer;
use fieldpay::store::invoices::{self, NewInvoice};

use crate::batch::Batch;

/// Deterministic xorshift64*.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> i64 {
        (self.next() % n) as i64
    }
}

/// The seed every benchmark starts its `Rng` from.
pub const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

pub const SERVICES: &[&str] = &[
    "Quarterly pest control",
    "Termite inspection",
    "Rodent exclusion, garage",
    "Mosquito treatment",
    "Wasp nest removal",
    "Bed bug heat treatment",
    "Ant barrier treatment",
    "Attic insulation check",
];

pub const FIRST_NAMES: &[&str] = &[
    "Jane", "Luis", "Priya", "Tom", "Mei", "Omar", "Grace", "Sven",
];

/// 1 to 3 lines of services, $25.00 to $474.00 each, quantity 1 to 3.
pub fn invoice_lines(rng: &mut Rng) -> Vec<LineInput> {
    let n_lines = 1 + rng.below(3) as usize;
    (0..n_lines)
        .map(|_| LineInput {
            description: SERVICES[rng.below(SERVICES.len() as u64) as usize].to_string(),
            quantity: 1 + rng.below(3),
            unit_price: 2_500 + 100 * rng.below(450),
        })
        .collect()
}

/// The `n`th seeded customer, named `name`: a mailbox, a phone and a
/// billing address of its own, so alerts reach it by email and SMS.
pub fn customer(name: String, n: usize) -> NewCustomer {
    NewCustomer {
        name,
        email: Some(format!("customer{n:06}@bench.example")),
        phone: Some(format!("(512) 555-{:04}", n % 10_000)),
        billing_address: Some(format!("PO Box {n}, Austin, TX 78767")),
        language: None,
    }
}

/// An open invoice in dollars with `lines`, written in `batch`; its id.
pub async fn open_invoice(
    batch: &mut Batch<'_>,
    company_id: &CompanyId,
    property_id: &str,
    bill_to: &str,
    (issue_date, due_date): (time::Date, time::Date),
    lines: &[LineInput],
) -> anyhow::Result<String> {
    let (amounts, total) =
        price_lines(lines).map_err(|e| anyhow::anyhow!("bad seed lines: {e:?}"))?;
    let invoice = invoices::create(
        batch.tx(),
        &NewInvoice {
            company_id,
            number: None,
            property_id,
            bill_to_customer_id: bill_to,
            issue_date,
            due_date,
            currency: Currency::USD,
            lines,
            amounts: &amounts,
            total,
        },
    )
    .await?;
    batch.wrote(1 + lines.len()).await?;
    Ok(invoice.id.into())
}

/// A positive whole number from the environment, or `default`.
pub fn env_positive(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{name} must be a positive whole number, got '{s}'")),
        Err(_) => Ok(default),
    }
}

/// Whether an environment switch is on (`1`, `true`, `yes`).
pub fn env_flag(name: &str) -> bool {
    std::env::var(name)
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
}
