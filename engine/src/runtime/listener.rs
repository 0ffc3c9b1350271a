//! Lifecycle notifications: the embedding application (the order layer) hears when an
//! instance starts, starts compensating or ends, **inside the transaction** that made the
//! change, so its own records (an order's state, the product inventory) move exactly once and
//! together with the engine's.

use crate::error::Result;
use futures::future::BoxFuture;
use serde_json::Value;
use sqlx::AnyConnection;
use std::sync::Arc;

/// What happened to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It was created (a subflow child, or a top-level start).
    Started,
    /// It stopped and began undoing its completed tasks; `outcome` is the status it will end
    /// with (rejected, failed or cancelled), `reason` why, `actor` who (if a person).
    Compensating {
        /// rejected, failed or cancelled.
        outcome: String,
        /// Why (a rejection reason, an error, a cancellation reason).
        reason: String,
        /// Who decided, if a person did.
        actor: Option<String>,
    },
    /// It ended with this status: completed, rejected, failed or cancelled.
    Ended {
        /// The final status.
        status: String,
    },
}

/// One instance's lifecycle change.
#[derive(Debug, Clone)]
pub struct InstanceChange {
    /// The instance.
    pub instance_id: String,
    /// Its workflow.
    pub workflow: String,
    /// Its parent, for subflow children.
    pub parent_id: Option<String>,
    /// The caller's key it was started with (for children: the parent's key).
    pub business_key: Option<String>,
    /// Its input.
    pub input: Arc<Value>,
    /// What happened.
    pub change: Change,
}

/// Hears lifecycle changes within the engine's transaction. An error rolls the whole
/// transaction back (and a worker retries it), so a listener must only fail when the change
/// must not happen.
pub trait Listener: Send + Sync {
    /// Called once per transaction with its changes, in the order they happened.
    fn on_changes<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
        changes: &'c [InstanceChange],
    ) -> BoxFuture<'c, Result<()>>;
}
