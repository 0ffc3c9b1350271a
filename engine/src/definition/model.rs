//! The validated, in-memory form of a workflow definition: stages, edges and their petgraph.
//!
//! Values of these types only come out of the loader (`super::load`), so the runtime can rely
//! on every invariant the loader checks: one start stage, no cycles, every stage reachable and
//! able to reach an `end`, known handlers and groups, compiled conditions.

use crate::expr::Expr;
use petgraph::graph::{DiGraph, NodeIndex};
use std::time::Duration;

/// A loaded, validated workflow definition.
#[derive(Debug, Clone)]
pub struct Definition {
    /// The workflow's name (the file name without `.toml`, e.g. `wan-link`).
    pub name: String,
    /// Which version of the definition this is.
    pub version: Version,
    /// A one-line description for listings.
    pub description: String,
    /// The stages; a stage's position is its index in `graph`.
    pub stages: Vec<Stage>,
    /// Edges as (from, to, condition), in file order; the graph holds the same.
    pub graph: DiGraph<usize, Option<Expr>>,
    /// The one stage without incoming edges.
    pub start: usize,
    /// The TOML text the definition was loaded from (stored with each version).
    pub source: String,
}

/// A definition version: the explicit number from the file, if any, and the content hash.
///
/// The hash identifies a version: a running instance records it and keeps running that
/// exact definition even after the file changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// `version = N` from the file, when given.
    pub number: Option<u32>,
    /// SHA-256 of the source text, lower-case hex.
    pub hash: String,
}

/// One stage of a workflow.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The stage id, unique within the definition (e.g. `reserve-port`).
    pub id: String,
    /// A human-readable title (defaults to the id).
    pub title: String,
    /// What the stage does.
    pub kind: StageKind,
}

/// What a stage does when it becomes ready.
#[derive(Debug, Clone)]
pub enum StageKind {
    /// A decision by people in a group's queue (approve or reject).
    Approval(HumanStage),
    /// Work done by a person, completed as done (or rejected).
    Manual(HumanStage),
    /// An automated step run by a registered handler.
    Task(TaskStage),
    /// Waits for a duration or until a date taken from the input.
    Timer(Wait),
    /// Starts one child instance per element of a list and waits for all of them.
    Subflow(SubflowStage),
    /// Ends the instance (when every other branch is done too).
    End,
}

impl StageKind {
    /// The kind's name as written in definition files.
    pub fn name(&self) -> &'static str {
        match self {
            StageKind::Approval(_) => "approval",
            StageKind::Manual(_) => "manual",
            StageKind::Task(_) => "task",
            StageKind::Timer(_) => "timer",
            StageKind::Subflow(_) => "subflow",
            StageKind::End => "end",
        }
    }
}

/// An approval or manual stage.
#[derive(Debug, Clone)]
pub struct HumanStage {
    /// The group whose queue receives the task.
    pub group: String,
    /// How many approvals complete an approval stage (manual stages use `Any`).
    pub quorum: Quorum,
    /// SLA escalations, in increasing `after` order.
    pub sla: Vec<Escalation>,
}

/// How many approvals an approval task needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    /// One approval from any member.
    Any,
    /// An approval from every member of the group when the task was created.
    All,
    /// This many approvals from distinct actors.
    Count(u32),
}

/// One SLA step on a human stage: after this long without completion, do this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// Time since the task was created.
    pub after: Duration,
    /// What happens then.
    pub action: SlaAction,
}

/// What an SLA escalation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlaAction {
    /// Record a reminder in the history (notifications hang off history events).
    Remind,
    /// Move the task to another group's queue (and release any claim).
    Reassign {
        /// The group that receives the task.
        group: String,
    },
    /// Complete the stage as approved by the system.
    AutoApprove,
    /// Reject the stage (and so the instance) by the system.
    AutoReject,
}

/// An automated stage.
#[derive(Debug, Clone)]
pub struct TaskStage {
    /// The registered handler's name.
    pub handler: String,
    /// A registered handler that undoes this stage's effect, if any.
    pub compensation: Option<String>,
    /// How long one attempt may run.
    pub timeout: Duration,
    /// What happens after a retryable error.
    pub retry: RetryPolicy,
}

/// Retry policy for a task stage: exponential backoff with full jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (>= 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt.
    pub backoff: Duration,
    /// Upper bound of any backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What a timer stage waits for.
#[derive(Debug, Clone)]
pub enum Wait {
    /// A fixed duration from when the stage becomes ready.
    Duration(Duration),
    /// A point in time: an expression over the input yielding an RFC 3339 timestamp string.
    Until(Expr),
}

/// A subflow stage: one child instance per list element.
#[derive(Debug, Clone)]
pub struct SubflowStage {
    /// Yields the list; each element becomes one child's input.
    pub items: Expr,
    /// Which workflow each child runs.
    pub workflow: ChildWorkflow,
    /// Whether a failed child fails this stage or is only reported.
    pub on_child_failure: ChildFailure,
}

/// How a subflow picks each child's workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildWorkflow {
    /// Every child runs this workflow.
    Named(String),
    /// Each element names its workflow in this string field (e.g. `workflow`).
    FromField(String),
}

/// What a failed (or rejected) child does to its subflow stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChildFailure {
    /// The stage completes and its output lists the failed children (the order rolls up).
    #[default]
    Report,
    /// The stage fails, and with it the parent instance.
    Fail,
}

impl Definition {
    /// The stage with this id.
    pub fn stage_index(&self, id: &str) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    /// Outgoing edges of a stage: (target stage, condition).
    pub fn outgoing(&self, stage: usize) -> impl Iterator<Item = (usize, Option<&Expr>)> + '_ {
        self.graph.edges(NodeIndex::new(stage)).map(|e| {
            (
                petgraph::visit::EdgeRef::target(&e).index(),
                e.weight().as_ref(),
            )
        })
    }

    /// Stages with an edge into this one.
    pub fn incoming(&self, stage: usize) -> impl Iterator<Item = usize> + '_ {
        self.graph
            .neighbors_directed(NodeIndex::new(stage), petgraph::Direction::Incoming)
            .map(|n| n.index())
    }

    /// How many edges lead into a stage.
    pub fn in_degree(&self, stage: usize) -> usize {
        self.incoming(stage).count()
    }

    /// Whether any stage waits for several incoming edges (a join).
    pub fn has_joins(&self) -> bool {
        (0..self.stages.len()).any(|stage| self.in_degree(stage) > 1)
    }
}
