//! Autopay stepped through a month with jobs run --once --now.
