//! The state names stored in the database, in one place.
//!
//! Instance statuses: running, compensating, then completed, rejected, failed or cancelled.
//! Step states: ready (claimable), running (leased), waiting (human task, timer, children),
//! pending (a compensation waiting its turn), then completed, skipped, dead (dead path),
//! rejected, failed, cancelled; incident (retries exhausted, an operator decides).

/// Instance: moving through its graph.
pub const RUNNING: &str = "running";
/// Instance: undoing completed tasks before taking its outcome.
pub const COMPENSATING: &str = "compensating";
/// Instance or step: finished well.
pub const COMPLETED: &str = "completed";
/// Instance or human step: rejected by a person or an SLA.
pub const REJECTED: &str = "rejected";
/// Instance or step: failed for good.
pub const FAILED: &str = "failed";
/// Instance or step: stopped by cancellation (or a failed sibling path).
pub const CANCELLED: &str = "cancelled";
/// Step: claimable by a worker once `ready_at` has passed.
pub const READY: &str = "ready";
/// Step: waiting for people, a timer or children.
pub const WAITING: &str = "waiting";
/// Step: a compensation waiting for the one before it.
pub const PENDING: &str = "pending";
/// Step: on a dead path (a false condition upstream); never runs.
pub const DEAD: &str = "dead";
/// Step: skipped by an operator.
pub const SKIPPED: &str = "skipped";
/// Step: retries exhausted; an operator retries or skips it.
pub const INCIDENT: &str = "incident";
/// Step kind of compensation steps.
pub const COMPENSATION: &str = "compensation";
