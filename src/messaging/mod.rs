//! Outgoing messages.

pub mod email;
