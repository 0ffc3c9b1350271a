//! Finance's pages (role finance, and admins): billing runs (list, a new run with its dry-run
//! preview, a run's progress, totals, documents and exports), invoices (filters, void, credit
//! notes with a preview) and billing schedules. They call `l2c_invoicing` as the API does.

use super::WebState;
use axum::Router;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
}
