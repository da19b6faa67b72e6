//! Autopay from the payment link: turn it off in one click.

use axum::Router;

use super::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
