//! Office: Settings › Configuration — Invoice Settings (`invoice`), Company
//! (`company`) and its logo (`logo`), Users (`users`) — and the JSON API for
//! invoice settings. Company settings and users are for owners only; staff
//! may read the invoice settings.

mod company;
mod invoice;
mod logo;
mod users;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use super::{OfficeUser, page_with_status};
use crate::web::AppState;
use crate::web::error::ApiError;

pub use company::{
    COUNTRIES, CURRENCIES, CompanyForm, MIN_CONTRAST, check_accent, contrast_with_white,
    parse_hex_color, relative_luminance, validate_company,
};
pub use invoice::parse_link_target;
pub use logo::{LOGO_MAX_BYTES, logo_media_type};
pub use users::{UserForm, validate_user};

/// The field errors of a form, by field name, shown next to each field.
pub type FieldErrors = BTreeMap<&'static str, String>;

use company::{company_page, save_company};
use invoice::{invoice_page, invoice_script, save_invoice};
use logo::{office_logo, public_logo, remove_logo, upload_logo};
use users::{add_user, disable_confirm, disable_user, users_page};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/office/settings/invoice",
            get(invoice_page).post(save_invoice),
        )
        .route("/office/settings/invoice.js", get(invoice_script))
        .route(
            "/office/settings/company",
            get(company_page).post(save_company),
        )
        .route(
            "/office/settings/logo",
            get(office_logo)
                .post(upload_logo)
                .layer(DefaultBodyLimit::max(LOGO_MAX_BYTES + 16 * 1024)),
        )
        .route("/office/settings/logo/remove", post(remove_logo))
        .route("/logo/{company_id}", get(public_logo))
        .route("/office/settings/users", get(users_page).post(add_user))
        .route(
            "/office/settings/users/{id}/disable",
            get(disable_confirm).post(disable_user),
        )
}

pub use invoice::api_routes;

// ---------------------------------------------------------------- shared

fn internal(e: impl Into<ApiError>) -> Response {
    e.into().into_response()
}

/// The page staff see when an action is for owners.
fn owners_only(state: &AppState, user: &OfficeUser, what: &str) -> Response {
    page_with_status(
        state,
        user,
        StatusCode::FORBIDDEN,
        "office/settings_forbidden.html",
        "settings",
        minijinja::context! { what => what },
    )
}
