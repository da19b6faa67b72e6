//! Fault tests: the real `fieldpay` binary (or the library) under a process
//! killed mid-payment or mid-refund, an SMTP server that goes away and comes back, and a
//! database that is locked or whose disk is full. Each ends by checking that
//! nothing was lost, doubled or half-written.

#[path = "../common/mod.rs"]
mod common;
mod kill;
mod refund_kill;
mod smtp;
mod storage;
mod support;
mod webhook_kill;
