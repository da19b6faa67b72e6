//! fieldpay: billing and payment collection for field-service companies.

pub mod alerts;
pub mod app;
pub mod auth;
pub mod autopay;
pub mod config;
pub mod crypto;
pub mod dates;
pub mod demo;
pub mod domain;
pub mod import;
pub mod jobs;
pub mod messaging;
pub mod metrics;
pub mod money;
pub mod office_payments;
pub mod paylink;
pub mod payments;
pub mod pdf;
pub mod private_files;
pub mod processor;
pub mod refunds;
pub mod setup;
pub mod store;
pub mod web;
