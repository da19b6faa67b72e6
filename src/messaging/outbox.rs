//! Messaging: outbox.
