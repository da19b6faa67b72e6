//! fieldpay: billing and payment collection for field-service companies.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod jobs;
pub mod messaging;
pub mod metrics;
pub mod pdf;
pub mod private_files;
pub mod processor;
pub mod store;
pub mod web;
