//! Integration tests: each drives the real HTTP application (the axum router)
//! over a fresh SQLite database.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod alert_reach;
mod alerts;
mod api_customers;
mod api_invoices;
mod api_money;
mod api_validation;
mod architecture;
mod attacks;
mod autopay;
mod checklist;
mod cli;
mod company_writes;
mod funnel;
mod import;
mod input_rules;
mod links;
mod messages;
mod money_records;
mod office_alerts;
mod office_auth;
mod office_communications;
mod office_customers;
mod office_invoices;
mod office_payments;
mod office_settings;
mod one_click_send;
mod openapi;
mod ops;
mod pay_form;
mod pay_groups;
mod pay_page;
mod payments;
mod pdf;
mod portal;
mod processes;
mod refunds;
mod rough_edges;
mod schema;
mod security;
mod setup;
mod spanish;
mod spanish_messages;
mod spanish_previews;
mod starter;
mod stripe;
mod stripe_refunds;
mod template_preview;
mod templates;
mod test_mode;
mod webhooks;
