//! Who may act on a human task: the pluggable actor check ("nobody approves their own order")
//! and the group directory that `quorum = "all"` asks for a group's members.

use crate::payload::{decode, PayloadError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::Arc;

/// Decides whether an actor may act on a task; `Err` carries the reason for the refusal.
pub type ActorCheck = Arc<dyn Fn(&ActorCheckRequest<'_>) -> Result<(), String> + Send + Sync>;

/// Lists a group's members (for `quorum = "all"`).
pub type Directory = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// What an [`ActorCheck`] sees.
#[derive(Debug)]
pub struct ActorCheckRequest<'a> {
    /// Who wants to act.
    pub actor: &'a str,
    /// The task's workflow, stage and group.
    pub workflow: &'a str,
    /// The stage id.
    pub stage: &'a str,
    /// The group whose queue holds the task.
    pub group: &'a str,
    /// The instance's input (e.g. the order, with its requester).
    pub input: &'a Value,
}

impl ActorCheckRequest<'_> {
    /// The instance's input as `T` (e.g. the order, to find its requester); the error names
    /// the field that does not fit (see [`crate::payload`]).
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode("input", self.input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct PlacedBy {
        requester: String,
    }

    #[test]
    fn an_actor_check_reads_the_input_typed_and_hears_which_field_does_not_fit() {
        let input = serde_json::json!({"requester": "rita"});
        let request = ActorCheckRequest {
            actor: "rita",
            workflow: "order",
            stage: "approve",
            group: "approvers",
            input: &input,
        };
        let placed: PlacedBy = request.input_as().expect("fits");
        assert_eq!(placed.requester, "rita");
        let input = serde_json::json!({"requester": ["rita"]});
        let request = ActorCheckRequest {
            input: &input,
            ..request
        };
        let error = request.input_as::<PlacedBy>().expect_err("a list");
        assert_eq!(error.path, "requester");
        assert!(
            error
                .to_string()
                .starts_with("input: requester: invalid type: sequence"),
            "{error}"
        );
    }
}
