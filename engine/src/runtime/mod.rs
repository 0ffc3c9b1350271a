//! The durable runtime: starting instances, the worker loop, human tasks, timers, incidents
//! and cancellation, all persisted through [`crate::db::Db`] with history in the same
//! transaction as every state change.
//!
//! This module only declares the parts and re-exports the API. The parts depend on each other
//! in layers, lowest first, so that no circle runs through more than two of them:
//!
//! - `status`, `listener`, `actor`, `transient`, `rows`: names, the listener's view of a
//!   change, who may act, retrying transient failures, backend-shaped rows.
//! - `inner`: the state every part shares ([`EngineOptions`] and the engine's `Inner`).
//! - `state` with `pending`, and the transaction's steps in `advance`, `compensate` and
//!   `tasks`: one state-changing transaction (`Tx`) and what it does to instances.
//! - `claim`, `record`, `timers`: the worker's claims, recorded results and due timers.
//! - `engine` and the calls on [`Engine`] in `task_calls`, `ops`, `query` and `worker`.

mod actor;
mod advance;
mod claim;
mod compensate;
mod engine;
mod inner;
mod listener;
mod ops;
mod pending;
mod query;
mod record;
mod rows;
mod state;
pub mod status;
mod task_calls;
mod tasks;
mod timers;
mod transient;
mod verify;
mod worker;

pub use actor::{ActorCheck, ActorCheckRequest, Directory};
pub use compensate::COMPENSATE_PREFIX;
pub use engine::{Engine, EngineBuilder};
pub use inner::EngineOptions;
pub use listener::{Change, InstanceChange, Listener};
pub use query::{DefinitionVersion, HistoryEvent, IncidentView, InstanceView, StepView, TaskView};
pub use status::{InstanceStatus, UnknownStatus};
pub use tasks::Outcome;
pub use transient::retry;
pub use verify::{ChainedRow, HistoryChain};
pub use worker::{Worker, WorkerHandle};
