//! Lifecycle notifications: the embedding application (the order layer) hears when an
//! instance starts, starts compensating or ends, **inside the transaction** that made the
//! change, so its own records (an order's state, the product inventory) move exactly once and
//! together with the engine's.

use super::status::InstanceStatus;
use crate::error::Result;
use crate::payload::{decode, PayloadError};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
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

impl Change {
    /// The instance's status once the change is made: running when it started, compensating,
    /// or the status it ended with. `None` only for an `Ended` whose status is not an instance
    /// status (the engine never sends one).
    pub fn status(&self) -> Option<InstanceStatus> {
        match self {
            Change::Started => Some(InstanceStatus::Running),
            Change::Compensating { .. } => Some(InstanceStatus::Compensating),
            Change::Ended { status } => InstanceStatus::parse(status),
        }
    }

    /// The final status the instance takes (`Ended`) or will take once compensated
    /// (`Compensating`); `None` when it has just started (or the name is not a status).
    pub fn outcome(&self) -> Option<InstanceStatus> {
        match self {
            Change::Started => None,
            Change::Compensating { outcome, .. } => InstanceStatus::parse(outcome),
            Change::Ended { status } => InstanceStatus::parse(status),
        }
    }
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

impl InstanceChange {
    /// The instance's status once the change is made; see [`Change::status`].
    pub fn status(&self) -> Option<InstanceStatus> {
        self.change.status()
    }

    /// The instance's input as `T`; the error names the field that does not fit (see
    /// [`crate::payload`]), and `?` turns it into an [`crate::EngineError::Payload`], which
    /// rolls the transaction back.
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode("input", &self.input)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Item {
        item_id: String,
        quantity: u32,
    }

    fn change(input: Value) -> InstanceChange {
        InstanceChange {
            instance_id: "i".into(),
            workflow: "wan-link".into(),
            parent_id: None,
            business_key: None,
            input: Arc::new(input),
            change: Change::Started,
        }
    }

    #[test]
    fn a_change_tells_the_status_it_leaves_the_instance_in() {
        let compensating = Change::Compensating {
            outcome: "rejected".into(),
            reason: "too dear".into(),
            actor: Some("mona".into()),
        };
        let ended = Change::Ended {
            status: "cancelled".into(),
        };
        assert_eq!(Change::Started.status(), Some(InstanceStatus::Running));
        assert_eq!(Change::Started.outcome(), None);
        assert_eq!(compensating.status(), Some(InstanceStatus::Compensating));
        assert_eq!(compensating.outcome(), Some(InstanceStatus::Rejected));
        assert_eq!(ended.status(), Some(InstanceStatus::Cancelled));
        assert_eq!(ended.outcome(), Some(InstanceStatus::Cancelled));
        let mut heard = change(Value::Null);
        heard.change = ended;
        assert_eq!(heard.status(), Some(InstanceStatus::Cancelled));
        let odd = Change::Ended {
            status: "done".into(),
        };
        assert_eq!(odd.status(), None);
    }

    #[test]
    fn a_listener_reads_the_input_typed_and_hears_which_field_does_not_fit() {
        let good = change(serde_json::json!({"item_id": "1", "quantity": 2}));
        let item: Item = good.input_as().expect("fits");
        assert_eq!(
            item,
            Item {
                item_id: "1".into(),
                quantity: 2
            }
        );
        let bad = change(serde_json::json!({"item_id": "1", "quantity": -2}));
        let error = bad.input_as::<Item>().expect_err("a negative quantity");
        assert_eq!(error.path, "quantity");
        let error = crate::EngineError::from(error);
        assert!(
            error
                .to_string()
                .starts_with("payload: input: quantity: invalid value"),
            "{error}"
        );
    }
}
