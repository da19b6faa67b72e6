//! PDF downloads: office, quick payment page, portal and API.

use axum::Router;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
