//! Seed data shared by the benchmarks: a deterministic generator, so every
//! run seeds the same shape of data, and realistic invoice lines.
#![allow(dead_code)]

use anyhow::Context;
use fieldpay::domain::LineInput;

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
