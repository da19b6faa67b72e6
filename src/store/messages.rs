//! Outbox rows and SMS opt-outs.
