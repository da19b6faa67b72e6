//! Browser tests: real journeys through the quick payment page, the portal and
//! the office in headless Chromium (driven through chromedriver), with
//! accessibility checks by axe-core. Screenshots land in
//! `target/screenshots/`. See `support` for what is needed to run them.

mod a11y;
#[path = "../common/mod.rs"]
mod common;
mod journey;
mod layout;
mod office;
mod office_phone;
mod pay;
mod spanish;
mod support;
mod thumbs;
