//! Workflow definitions: TOML files in `workflows/` loaded into validated petgraph graphs.
//!
//! - [`model`]: the validated definition the runtime runs ([`Definition`], [`Stage`], ...).
//! - `file`: the TOML shape as written (private; `docs/workflows.md` documents it).
//! - `load`: checks and builds definitions ([`Definitions`], [`Known`], [`load_groups`]),
//!   reporting every [`Problem`] at once, in three passes over each file:
//!   - `shape`: TOML syntax, known keys and value types;
//!   - `stages`: each stage and edge on its own (kinds, handlers, groups, durations,
//!     expressions);
//!   - `graph`: the petgraph graph as a whole (cycles, one start, reachability, ends).
//! - [`render`]: dot, Mermaid and text drawings.
//! - [`svg`]: an SVG drawing, laid out here, coloured by an instance's stage states.

mod error;
mod file;
mod graph;
mod known;
mod load;
pub mod model;
pub mod render;
mod shape;
mod stages;
pub mod svg;

pub use error::{DefinitionError, Problem};
pub use known::{Known, DEFAULT_TIMEOUT, GROUPS_FILE};
pub use load::{load_groups, parse_groups, Definitions};
pub use model::*;
