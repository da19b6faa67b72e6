//! Office: the home dashboard.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;

use super::{OfficeUser, page};
use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/office/dashboard", get(dashboard))
}

async fn dashboard(State(state): State<AppState>, user: OfficeUser) -> Response {
    page(
        &state,
        &user,
        "office/dashboard.html",
        "dashboard",
        minijinja::context! {},
    )
}
