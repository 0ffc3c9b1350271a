//! l2c-orders: the order desk's domain. Requesters place orders for their customer account;
//! each order is validated against the catalog and the inventory, priced, and stored with the
//! start of its workflow in one transaction; the engine's listener rolls the workflow's
//! progress up into TMF622 states of the order, its items and the running products.
//!
//! The crate's door is [`Orders`] ([`context`]), the context every operation takes
//! (database, engine, catalog, clock, settings), built once by the application after the
//! engine.
//!
//! - [`state`]: the TMF622 states and the one table of allowed transitions.
//! - [`place`]: placing an order, with idempotency keys; [`intake`]: their group commit;
//!   [`prepare`]: what the writer checks again and builds for each order.
//! - [`view`]: who sees which orders, and an order's timeline.
//! - [`settings`]: the desk's rules that settings change.
//! - [`payload`]: the typed input an order's workflows receive.
//! - [`rollup`]: the engine listener that moves orders, items and products with workflows;
//!   [`started`]: what a started item workflow changes in the inventory.
//! - [`cancel`]: cancellation through assessingCancellation and pendingCancellation.
//! - [`model`]: requests and views; [`store`]: the order tables.
//! - [`inventory`]: the running products; [`accounts`]: customer and billing accounts;
//!   [`users`]: users, roles and API tokens; [`passwords`]: sign-in passwords (argon2id);
//!   [`sessions`]: web desk sessions with their CSRF tokens.
//! - [`hub`]: TMF622 event notifications: listeners, the outbox written with each change,
//!   deliveries with retries and dead letters.
//! - [`work`]: the task queues, who may act on which task, and acting on it.
//! - [`error`]: the desk's one error type (shared by l2c-invoicing).

pub mod accounts;
pub mod audit;
pub mod cancel;
pub mod context;
pub mod error;
pub mod event_chain;
pub mod hub;
pub mod intake;
pub mod inventory;
pub mod model;
pub mod passwords;
pub mod payload;
pub mod place;
pub mod prepare;
pub mod rollup;
pub mod sessions;
pub mod settings;
pub mod shapes;
pub mod started;
pub mod state;
pub mod store;
pub mod tokens;
pub mod users;
pub mod view;
pub mod work;

pub use context::Orders;
pub use settings::OrderSettings;
pub use view::{list, may_see, timeline, visible};

/// The crate's embedded migrations for `backend` (`migrations/<backend>/orders/`; the
/// application applies them together with every other crate's).
pub fn migrations(backend: l2c_engine::db::Backend) -> Vec<sqlx::migrate::Migration> {
    let migrator = match backend {
        l2c_engine::db::Backend::Sqlite => sqlx::migrate!("../migrations/sqlite/orders"),
        l2c_engine::db::Backend::Postgres => sqlx::migrate!("../migrations/postgres/orders"),
    };
    migrator.iter().cloned().collect()
}
