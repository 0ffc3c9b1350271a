//! The HTTP API (axum): JSON under `/api/v1`, the TMF622 product ordering endpoints, OpenAPI
//! at `/api/openapi.json` with a docs page at `/api/docs`, and `/healthz`, `/readyz`,
//! `/metrics`. docs/api.md describes the resources and the access matrix.
//!
//! - [`problem`]: RFC 9457 errors; [`extract`]: JSON bodies, paths and the bearer token.
//! - One `router()` per resource module: [`orders`], [`tasks`], [`admin`] (incidents, users,
//!   accounts, the sandbox clock), [`billing`] (runs, exports, schedules), [`invoices`], [`catalog`],
//!   [`inventory`], [`tmf`], [`hub`] (TMF622 event notifications), [`ops`].

pub mod admin;
pub mod audit;
pub mod billing;
pub mod catalog;
pub mod extract;
pub mod headers;
pub mod hub;
pub mod inventory;
pub mod invoices;
pub mod openapi;
mod openapi_problems;
pub mod ops;
pub mod orders;
pub mod problem;
pub mod reports;
pub mod tasks;
pub mod tmf;
pub mod users;

use crate::app::App;
use crate::metrics::Metrics;
use axum::Router;
use std::sync::Arc;

/// The largest request body the API reads (1 MiB: a 100-item order is far below it).
pub const MAX_BODY: usize = 1 << 20;

/// What every handler gets: the app (whose `access` knows the callers) and the metrics.
#[derive(Clone)]
pub struct ApiState {
    /// The app.
    pub app: App,
    /// Prometheus metrics (the app's).
    pub metrics: Arc<Metrics>,
}

impl ApiState {
    /// State for `app`.
    pub fn new(app: App) -> ApiState {
        ApiState {
            metrics: app.metrics.clone(),
            app,
        }
    }
}

/// The whole API: `/api/v1`, TMF622, OpenAPI and the operations endpoints, with the metrics
/// middleware and the body limit; no fallback (the server wiring adds one for the whole site).
pub fn router(state: ApiState) -> Router {
    let mut v1 = api_v1();
    let sandbox = state.app.sandbox.is_some();
    if sandbox {
        v1 = v1.merge(admin::sandbox_router());
    }
    Router::new()
        .nest("/api/v1", v1)
        .nest(
            "/tmf-api/productOrderingManagement/v4",
            tmf::router().merge(hub::tmf_router()),
        )
        .merge(ops::router())
        .merge(openapi::router(sandbox))
        .layer(axum::middleware::from_fn(headers::secure))
        .with_state(state)
}

/// The answer for a path no API route serves.
pub async fn no_route() -> problem::ApiError {
    problem::ApiError::no_route()
}

fn api_v1() -> Router<ApiState> {
    Router::new()
        .merge(orders::router())
        .merge(tasks::router())
        .merge(admin::router())
        .merge(users::router())
        .merge(audit::router())
        .merge(catalog::router())
        .merge(inventory::router())
        .merge(billing::router())
        .merge(invoices::router())
        .merge(reports::router())
        .merge(hub::router())
}
