//! l2c-engine: the durable workflow engine (petgraph definitions, persistent runtime).
//!
//! It knows nothing of products or money; orders, approvals and billing plug into it through
//! its API and step handlers (see `../shared/DESIGN.md`, "Engine semantics", and
//! `docs/engine.md`).
//!
//! - [`definition`]: workflow files -> validated [`definition::Definition`] graphs.
//! - [`expr`]: CEL conditions and expressions over an instance's input and output.
//! - [`db`]: connecting to SQLite or PostgreSQL, migrations, the dialect seam.
//! - [`runtime`]: the [`Engine`]: instances, workers, human tasks, timers, incidents.
//! - [`handler`]: the async step handlers `task` stages call.
//! - [`payload`]: reading an instance's input and output as typed payloads.
//! - [`clock`]: real and test time.

pub mod chain;
pub mod clock;
pub mod db;
pub mod definition;
pub mod error;
pub mod expr;
pub mod handler;
pub mod payload;
pub mod runtime;

pub use error::{EngineError, Result};
pub use payload::PayloadError;
pub use runtime::Engine;
