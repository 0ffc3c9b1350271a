//! l2c-engine: the durable workflow engine (petgraph definitions, persistent runtime).
//!
//! Nothing is built here yet: the engine issue fills this crate. It will know nothing of
//! products or money; orders, approvals and billing plug into it through its API and
//! step handlers (see `../shared/DESIGN.md`, "Engine semantics").
