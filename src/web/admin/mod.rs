//! Admins' pages (role admin): incidents (retry, skip with an output), users, customer and
//! billing accounts, workflows with their drawings and versions, and the sandbox clock. They
//! call the engine and `l2c_orders` as the API does.

use super::WebState;
use axum::Router;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
}
