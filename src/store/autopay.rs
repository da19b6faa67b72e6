//! Autopay schedules, charge runs and retries.
