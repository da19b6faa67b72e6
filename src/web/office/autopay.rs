//! Office autopay: enrollment, upcoming charges, problems, settings.

use axum::Router;

use crate::web::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
