//! The web desk: server-rendered pages for requesters, approvers and engineers, under `/` on
//! the API's listener. docs/web.md describes the pages, sessions and CSRF.
//!
//! How a page is built:
//! 1. A handler takes [`session::Viewer`] (the signed-in user, or a redirect to the sign-in
//!    page) or, for a form post, [`session::Posted`] (the viewer and the form, refused with 403
//!    unless its CSRF token is the session's).
//! 2. It calls the domain crates' public functions (`l2c_orders::place`, `work`, `view`, ...)
//!    exactly as the API does: the web layer holds no rule of its own.
//! 3. It fills a template struct (compile-time checked askama, in `templates/`, each extending
//!    `base.html` through a [`page::Chrome`]) and returns it through [`page::render`]; errors
//!    become [`error::WebError`] pages with the API's status and message.
//!
//! Modules: [`assets`] (embedded CSS and scripts), [`headers`] (CSP and friends),
//! [`session`], [`sign_in`] with [`throttle`], [`page`], [`error`], and the pages:
//! [`catalog`], [`order_form`] (with [`form`]), [`orders`], [`timeline`], [`products`],
//! [`invoices`], [`tasks`], and the consoles of finance ([`finance`]) and admins ([`admin`]), and the operating [`report`].

pub mod admin;
pub mod assets;
pub mod catalog;
pub mod error;
pub mod finance;
pub mod form;
pub mod headers;
pub mod invoices;
pub mod order_form;
pub mod orders;
pub mod page;
pub mod products;
pub mod report;
pub mod session;
pub mod sign_in;
pub mod tasks;
pub mod throttle;
pub mod timeline;

use crate::app::App;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// What every page handler gets.
#[derive(Clone)]
pub struct WebState {
    /// The app.
    pub app: App,
    /// Failed sign-ins per user name and per client address.
    pub throttle: Arc<throttle::Throttle>,
}

impl WebState {
    /// State for `app`.
    pub fn new(app: App) -> WebState {
        WebState {
            app,
            throttle: Arc::new(throttle::Throttle::sign_ins()),
        }
    }
}

impl WebState {
    /// A database connection, for the domain functions that read through one.
    pub async fn conn(
        &self,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, l2c_orders::error::DeskError> {
        Ok(self.app.db.pool.acquire().await?)
    }
}

/// Every page, the sign-in and the static assets, with the pages' security headers.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/", get(catalog::home))
        .merge(sign_in::router())
        .merge(catalog::router())
        .merge(order_form::router())
        .merge(orders::router())
        .merge(tasks::router())
        .merge(products::router())
        .merge(invoices::router())
        .merge(finance::router())
        .merge(admin::router())
        .merge(report::router())
        .merge(assets::router())
        .layer(axum::middleware::from_fn(headers::secure))
        .with_state(WebState::new(app))
}

/// The page for a path nothing serves.
pub async fn not_found() -> axum::response::Response {
    let mut page = error::WebError::NotFound("There is no page at this address.".into()).page(None);
    headers::apply(&mut page);
    page
}
