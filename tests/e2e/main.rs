//! The end-to-end tests, one test binary (one link on two cores): the real server on port 0
//! with its workers, the `l2c` binary, and orders through their real workflows, on SQLite and
//! on PostgreSQL. The PostgreSQL twin of each scenario is built in when
//! `L2C_TEST_DATABASE_URL` is set at build time (`.ci/run` sets it) and reported as ignored
//! otherwise; a twin that runs and cannot reach PostgreSQL fails.
//!
//! - [`api`]: orders over HTTP from placement to completion, rejection, cancellation, upgrades,
//!   validation, idempotency, the sandbox clock and the operational endpoints.
//! - [`access`]: named tokens, revocation, deactivation, across two nodes.
//! - [`audit`]: the hash chains of orders, workflows and the audit log, and their verifying.
//! - [`api_access`]: who may do what, nobody approving their own order, racing approvers.
//! - [`api_billing`]: billing over HTTP after a real order; exports; problems.
//! - [`billing`], [`billing_exports`], [`billing_schedules`]: billing runs on the database.
//! - [`hub`]: TMF622 event notifications against a real receiver, and a killed server.
//! - [`cli`]: the binary's commands; [`nodes`]: two nodes on one database.
//! - [`hostile`]: clients that hold connections, security headers, write limits; [`tls`]: HTTPS.
//! - [`orders`]: orders through their workflows; [`schema`]: the schema and its migrations;
//!   [`records`]: the operating records the monthly report reads; [`report`]: the report;
//!   [`webhook`]: webhook handlers against a real HTTP receiver.
//! - [`web`]: the web desk's pages, through the router and in a real Chromium.
//! - [`support`]: the worlds, clients and fixtures the tests share.

// First, so that its `scenarios!` macro is in scope in the modules below.
#[macro_use]
mod support;

mod access;
mod api;
mod api_access;
mod api_billing;
mod audit;
mod billing;
mod billing_exports;
mod billing_schedules;
mod cli;
mod hostile;
mod hub;
mod nodes;
mod orders;
mod records;
mod report;
mod schema;
mod sessions;
mod tls;
mod web;
mod webhook;
