//! An order's timeline in the requester's words ("Technical feasibility approved by nina",
//! "Install the CPE on site: done by fred", "Billing started"), from the entries
//! `l2c_orders::timeline` gives the API. Engine bookkeeping (steps becoming ready, timers
//! set) is left to the raw history, which the order page keeps one click away.

use l2c_engine::definition::{Definition, StageKind};
use l2c_orders::model::TimelineEntry;
use l2c_orders::state::OrderState;
use std::collections::HashMap;

/// The handler whose completion means billing has started.
const BILLING_ACTIVATION: &str = "billing.activate";

/// Stage titles and billing stages by stage id, across the workflows an order runs.
#[derive(Default)]
pub struct Stages {
    titles: HashMap<String, String>,
    billing: Vec<String>,
}

impl Stages {
    /// Adds `definition`'s stages.
    pub fn add(&mut self, definition: &Definition) {
        for s in &definition.stages {
            self.titles.insert(s.id.clone(), s.title.clone());
            if matches!(&s.kind, StageKind::Task(t) if t.handler == BILLING_ACTIVATION) {
                self.billing.push(s.id.clone());
            }
        }
    }

    /// A stage's title, or its id.
    pub fn title(&self, stage: &str) -> String {
        self.titles
            .get(stage)
            .filter(|t| !t.is_empty())
            .cloned()
            .unwrap_or_else(|| stage.to_string())
    }
}

/// One line of the readable timeline.
pub struct Line {
    /// When.
    pub at: String,
    /// What happened, in words.
    pub text: String,
    /// Whether it is an outcome (approved, delivered) rather than progress.
    pub milestone: bool,
}

/// What an order state means to the requester.
pub fn state_words(state: OrderState) -> &'static str {
    match state {
        OrderState::Acknowledged => "Order received",
        OrderState::InProgress => "Work has started",
        OrderState::Pending => "Waiting",
        OrderState::Held => "On hold",
        OrderState::AssessingCancellation => "Cancellation requested",
        OrderState::PendingCancellation => "Being cancelled",
        OrderState::Cancelled => "Order cancelled",
        OrderState::Rejected => "Order rejected",
        OrderState::Failed => "Order failed",
        OrderState::Partial => "Partly delivered",
        OrderState::Completed => "Order completed",
    }
}

fn text_of(data: Option<&serde_json::Value>, key: &str) -> Option<String> {
    data?.get(key)?.as_str().map(str::to_string)
}

/// The entry in words, or `None` for engine bookkeeping.
pub fn words(entry: &TimelineEntry, stages: &Stages, prefix: &str) -> Option<(String, bool)> {
    let by = entry
        .actor
        .as_deref()
        .map_or(String::new(), |a| format!(" by {a}"));
    let reason = text_of(entry.data.as_ref(), "reason").map_or(String::new(), |r| format!(": {r}"));
    if let Some(state) = entry.event.strip_prefix("state:") {
        let state: OrderState = state.parse().ok()?;
        let milestone = state.is_final();
        return Some((format!("{}{reason}", state_words(state)), milestone));
    }
    let title = entry
        .stage
        .as_deref()
        .map(|s| stages.title(s))
        .unwrap_or_default();
    let is_billing = entry
        .stage
        .as_deref()
        .is_some_and(|s| stages.billing.iter().any(|b| b == s));
    let (text, milestone) = match entry.event.as_str() {
        "task.created" => (format!("{title}: waiting for the team"), false),
        "task.claimed" => (format!("{title}: taken{by}"), false),
        "task.released" => (format!("{title}: handed back to the queue{by}"), false),
        "task.approved" => (format!("{title} approved{by}"), true),
        "task.auto-approved" => (format!("{title} approved automatically (SLA)"), true),
        "task.done" => (format!("{title}: done{by}"), true),
        "task.rejected" => (format!("{title} rejected{by}{reason}"), true),
        "task.reminder" => (format!("{title}: the team was reminded (SLA)"), false),
        "task.reassigned" => (format!("{title}: moved to another team (SLA)"), false),
        "step.completed" if is_billing => ("Billing started".to_string(), true),
        "step.completed" if entry.source.starts_with("item") && !title.is_empty() => {
            (format!("{title}: done"), false)
        }
        "step.incident" => (format!("{title}: failed; our operators are on it"), true),
        "step.failed" => (format!("{title} failed"), true),
        "incident.retried" => (format!("{title}: tried again{by}"), false),
        "incident.skipped" => (format!("{title}: skipped{by}"), false),
        "instance.completed" if entry.source.starts_with("item") => ("Delivered".to_string(), true),
        "instance.compensating" => ("Undoing the work done so far".to_string(), false),
        _ => return None,
    };
    Some((format!("{prefix}{text}"), milestone))
}

/// The readable timeline of an order's entries; `several_items` prefixes item lines with
/// the item they concern.
pub fn lines(entries: &[TimelineEntry], stages: &Stages, several_items: bool) -> Vec<Line> {
    entries
        .iter()
        .filter_map(|e| {
            let prefix = match e.source.strip_prefix("item ") {
                Some(item) if several_items => format!("Item {item}: "),
                _ => String::new(),
            };
            let (text, milestone) = words(e, stages, &prefix)?;
            Some(Line {
                at: super::page::when(&e.at),
                text,
                milestone,
            })
        })
        .collect()
}
