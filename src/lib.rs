//! l2c: the application around the domain crates — the HTTP API, the commissioning handlers
//! (the simulated network, webhooks), settings, metrics and the wiring that puts the order
//! desk (`l2c-orders`) and billing (`l2c-invoicing`) on the engine. The binary (`main.rs`)
//! adds the command line.
//!
//! - [`app`]: opens the database, loads catalog and workflows, builds the engine and the
//!   domain contexts.
//! - [`handlers`]: what `task` stages call, and every handler name in one list.
//! - [`settings`], [`workflows`]: configuration and the shipped definitions.
//! - [`schema`]: every crate's migrations, applied together.
//! - [`hub`]: the deliverer of TMF622 event notifications.
//! - [`http`]: the HTTP API; [`web`]: the web desk's pages; [`metrics`]: Prometheus metrics;
//!   [`records`]: the operating records the monthly report reads; [`report`]: the report;
//!   [`server`]: `l2c serve`, where the API and the web desk are wired together.

pub mod access;
pub mod app;
pub mod audit_trail;
pub mod handlers;
pub mod http;
pub mod hub;
pub mod limits;
pub mod metrics;
pub mod records;
pub mod report;
pub mod schema;
pub mod server;
pub mod settings;
pub mod tls;
pub mod web;
pub mod workflows;
