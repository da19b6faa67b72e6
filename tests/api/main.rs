//! Integration tests: each drives the real HTTP application (the axum router)
//! over a fresh SQLite database.

mod support;

mod api_validation;
mod cli;
mod links;
mod pay_form;
mod pay_page;
mod payments;
mod security;
