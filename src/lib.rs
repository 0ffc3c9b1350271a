//! l2c: the order desk around the engine — accounts, users and roles, orders with their TMF622
//! lifecycle, the product inventory, the step handlers (simulated network, billing
//! activation), and the wiring that puts them on the engine.
//!
//! - [`app`]: opens the database, loads catalog and workflows, builds the engine.
//! - [`orders`]: placing, the lifecycle, cancellation, timelines.
//! - [`inventory`]: the running products.
//! - [`invoicing`]: billing runs, invoices and their exports.
//! - [`accounts`], [`auth`]: who orders and who may do what.
//! - [`handlers`]: what `task` stages call.
//! - [`settings`], [`workflows`]: configuration and the shipped definitions.
//! - [`http`]: the HTTP API; [`metrics`]: Prometheus metrics; [`server`]: `l2c serve`.

pub mod accounts;
pub mod app;
pub mod auth;
pub mod error;
pub mod handlers;
pub mod http;
pub mod inventory;
pub mod invoicing;
pub mod metrics;
pub mod orders;
pub mod server;
pub mod settings;
pub mod subscriptions;
pub mod workflows;
