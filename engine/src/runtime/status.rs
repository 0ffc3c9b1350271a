//! The state names stored in the database, in one place.
//!
//! Instance statuses: running, compensating, then completed, rejected, failed or cancelled.
//! Step states: ready (claimable), running (leased), waiting (human task, timer, children),
//! pending (a compensation waiting its turn), then completed, skipped, dead (dead path),
//! rejected, failed, cancelled; incident (retries exhausted, an operator decides).
//!
//! [`InstanceStatus`] is the instance status as a type, for the public API.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

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

/// An instance's status as the public API gives it: [`InstanceView::status`] and the
/// listener's [`Change::status`]. Stored as the lower-case names above (the constants), and
/// serialized as them too.
///
/// [`InstanceView::status`]: super::InstanceView::status
/// [`Change::status`]: super::Change::status
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    /// Moving through its graph.
    Running,
    /// Undoing completed tasks before taking its outcome (rejected, failed or cancelled).
    Compensating,
    /// Finished well.
    Completed,
    /// Rejected by a person or an SLA.
    Rejected,
    /// Failed for good.
    Failed,
    /// Stopped by cancellation.
    Cancelled,
}

impl InstanceStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [InstanceStatus; 6] = [
        InstanceStatus::Running,
        InstanceStatus::Compensating,
        InstanceStatus::Completed,
        InstanceStatus::Rejected,
        InstanceStatus::Failed,
        InstanceStatus::Cancelled,
    ];

    /// The stored name, e.g. `running`.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Running => RUNNING,
            InstanceStatus::Compensating => COMPENSATING,
            InstanceStatus::Completed => COMPLETED,
            InstanceStatus::Rejected => REJECTED,
            InstanceStatus::Failed => FAILED,
            InstanceStatus::Cancelled => CANCELLED,
        }
    }

    /// The status with this stored name, if it is one.
    pub fn parse(name: &str) -> Option<InstanceStatus> {
        InstanceStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the instance has ended: completed, rejected, failed or cancelled (running and
    /// compensating instances still move).
    pub fn is_final(self) -> bool {
        !matches!(self, InstanceStatus::Running | InstanceStatus::Compensating)
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Compares with a stored name: `status == "completed"`.
impl PartialEq<str> for InstanceStatus {
    fn eq(&self, name: &str) -> bool {
        self.as_str() == name
    }
}

/// Compares with a stored name: `status == "completed"`.
impl PartialEq<&str> for InstanceStatus {
    fn eq(&self, name: &&str) -> bool {
        self.as_str() == *name
    }
}

/// A name that is not an instance status.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not an instance status (running, compensating, completed, rejected, failed or cancelled)")]
pub struct UnknownStatus(pub String);

impl FromStr for InstanceStatus {
    type Err = UnknownStatus;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        InstanceStatus::parse(name).ok_or_else(|| UnknownStatus(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_from_their_names() {
        for status in InstanceStatus::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(InstanceStatus::parse(&status.to_string()), Some(status));
            let json = serde_json::to_value(status).expect("serializes");
            assert_eq!(json, serde_json::Value::from(status.as_str()));
            let back: InstanceStatus = serde_json::from_value(json).expect("deserializes");
            assert_eq!(back, status);
        }
        assert_eq!(
            "Completed".parse::<InstanceStatus>(),
            Err(UnknownStatus("Completed".into()))
        );
        assert_eq!(InstanceStatus::parse(READY), None);
        assert!(InstanceStatus::Failed == "failed" && InstanceStatus::Failed != "rejected");
        assert!(serde_json::from_value::<InstanceStatus>("done".into()).is_err());
    }

    #[test]
    fn only_ended_instances_are_final() {
        let finals: Vec<InstanceStatus> = InstanceStatus::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .collect();
        assert_eq!(
            finals,
            [
                InstanceStatus::Completed,
                InstanceStatus::Rejected,
                InstanceStatus::Failed,
                InstanceStatus::Cancelled
            ]
        );
    }
}
