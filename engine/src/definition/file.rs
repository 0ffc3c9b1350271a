//! The shape of a workflow file as written (TOML), before any rule is checked.
//!
//! Unknown keys are refused, so a misspelt field is an error rather than silently ignored.
//! Stages and edges are kept as plain tables at the top level and deserialized one by one by
//! the loader, so a mistake in one stage does not hide the mistakes in the others.
//! Values with a closed set of choices (`kind`, `quorum`, SLA actions, `on_child_failure`) are
//! read as plain values and checked by the loader, which can say what the choices are.
//! `docs/workflows.md` documents every key.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The top level of `workflows/<name>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    pub description: String,
    pub version: Option<u32>,
    #[serde(default)]
    pub stage: Vec<toml::Table>,
    #[serde(default)]
    pub edge: Vec<toml::Table>,
}

/// One `[[stage]]`, with the fields of every kind; the loader checks which apply.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStage {
    pub id: String,
    pub title: Option<String>,
    pub kind: String,
    // approval and manual
    pub group: Option<String>,
    pub quorum: Option<toml::Value>,
    pub sla: Option<Vec<RawEscalation>>,
    // task
    pub handler: Option<String>,
    pub compensation: Option<String>,
    pub timeout: Option<String>,
    pub retry: Option<RawRetry>,
    // timer
    pub duration: Option<String>,
    pub until: Option<String>,
    // subflow
    pub items: Option<String>,
    pub workflow: Option<String>,
    pub workflow_field: Option<String>,
    pub on_child_failure: Option<String>,
}

/// One SLA step of a human stage.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEscalation {
    pub after: String,
    pub action: String,
    pub group: Option<String>,
}

/// A task stage's retry policy; absent fields take `RetryPolicy::default()`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRetry {
    pub max_attempts: Option<u32>,
    pub backoff: Option<String>,
    pub max_backoff: Option<String>,
}

/// One `[[edge]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEdge {
    pub from: String,
    pub to: String,
    pub when: Option<String>,
}

/// `workflows/groups.toml`: the groups whose queues approval and manual stages use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroups {
    /// Each group is deserialized on its own, so one bad group does not hide the others.
    #[serde(default)]
    pub groups: BTreeMap<String, toml::Table>,
}

/// One `[groups.<name>]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGroup {
    pub description: String,
}
