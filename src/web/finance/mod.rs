//! Finance's pages (role finance, and admins): billing runs (list, a new run with its dry-run
//! preview, a run's progress, totals, documents and exports: [`runs`]) and billing schedules
//! (list, create with a preview of the next occurrences, delete: [`schedules`]). Invoices
//! (filters, void, credit notes with a preview) are in [`super::invoices`]. Every page calls
//! `l2c_invoicing` as the API does, and admits the API's roles ([`FinanceAndAdmins`]).

pub mod runs;
pub mod schedules;

use super::session::Viewer;
use super::WebState;
use crate::http::extract::{require, FinanceAndAdmins, Roles};
use axum::response::Response;
use axum::Router;
use l2c_orders::users::User;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .merge(runs::router())
        .merge(schedules::router())
}

/// The viewer, if finance or an admin; anyone else gets the API's 403 page.
#[allow(
    clippy::result_large_err,
    reason = "the error is the rendered page every handler returns as its `Page` error"
)]
pub fn finance(viewer: &Viewer) -> Result<&User, Response> {
    require(&viewer.user, FinanceAndAdmins::ROLES).map_err(|e| viewer.error(e))
}

/// A checkbox's posted value as a bool (browsers send `on`, or nothing).
pub fn ticked(value: Option<&str>) -> bool {
    matches!(value, Some("on" | "true" | "1" | "yes"))
}

/// `Some(notice)` for the `did` query value of a page reached after an action.
pub fn notice(did: Option<&str>, words: &[(&str, &str)]) -> Option<String> {
    let did = did?;
    words
        .iter()
        .find(|(k, _)| *k == did)
        .map(|(_, w)| w.to_string())
}
