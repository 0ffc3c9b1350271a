//! Workflow definitions: TOML files in `workflows/` loaded into validated petgraph graphs.

pub mod model;

pub use model::*;
