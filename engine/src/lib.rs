//! l2c-engine: the durable workflow engine (petgraph definitions, persistent runtime).
//!
//! It knows nothing of products or money; orders, approvals and billing plug into it through
//! its API and step handlers (see `../shared/DESIGN.md`, "Engine semantics").
//!
//! - [`definition`]: workflow files -> validated [`definition::Definition`] graphs.
//! - [`expr`]: CEL conditions and expressions over an instance's input and output.

pub mod definition;
pub mod expr;
