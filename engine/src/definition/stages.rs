//! The second pass over a workflow file: each stage and edge on its own. A stage's kind is
//! parsed, the fields that do not apply to it refused, and its settings built (groups and
//! handlers checked against [`Known`], durations, quorums, SLA steps, retry policies, CEL
//! expressions compiled); an edge's ends must be stages of the file and its condition must
//! compile. What comes out ([`Slot`]s and [`EdgeSpec`]s) is what the `graph` pass checks as a
//! whole.

use super::error::{edge_at, stage_at, Problems};
use super::file::{RawEdge, RawEscalation, RawRetry, RawStage};
use super::known::{is_kebab, Known, DEFAULT_TIMEOUT, GROUPS_FILE};
use super::model::{
    ChildFailure, ChildWorkflow, Escalation, HumanStage, Quorum, RetryPolicy, SlaAction, StageKind,
    SubflowStage, TaskStage, Wait,
};
use super::render::human_duration;
use super::shape::deserialize;
use crate::expr::Expr;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What a stage is, as far as the graph checks need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Approval,
    Manual,
    Task,
    Timer,
    Subflow,
    End,
}

const KINDS: [(&str, Kind); 6] = [
    ("approval", Kind::Approval),
    ("manual", Kind::Manual),
    ("task", Kind::Task),
    ("timer", Kind::Timer),
    ("subflow", Kind::Subflow),
    ("end", Kind::End),
];

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("", |(n, _)| n)
    }

    /// The optional fields that apply to this kind (besides `id`, `title` and `kind`).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Kind::Approval | Kind::Manual => &["group", "quorum", "sla"],
            Kind::Task => &["handler", "compensation", "timeout", "retry"],
            Kind::Timer => &["duration", "until"],
            Kind::Subflow => &["items", "workflow", "workflow_field", "on_child_failure"],
            Kind::End => &[],
        }
    }
}

/// A stage as the graph checks see it. `kind` is `None` when the stage's kind is unknown; such
/// a stage is assumed able to end the workflow, so one mistake does not cascade into others.
pub(super) struct Slot {
    pub(super) id: String,
    pub(super) title: String,
    pub(super) kind: Option<Kind>,
    pub(super) built: Option<StageKind>,
}

/// A `workflow = "..."` of a subflow stage, for the checks across files.
pub(super) struct SubflowRef {
    pub(super) stage: String,
    pub(super) target: String,
}

pub(super) struct EdgeSpec {
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) when: Option<Expr>,
}

pub(super) fn load_stages(
    tables: Vec<toml::Table>,
    known: &Known,
    p: &mut Problems,
    subflows: &mut Vec<SubflowRef>,
) -> Vec<Slot> {
    let given = tables.len();
    let mut slots: Vec<Slot> = Vec::with_capacity(given);
    let mut positions: BTreeMap<String, usize> = BTreeMap::new();
    for (index, table) in tables.into_iter().enumerate() {
        let id = table.get("id").and_then(|v| v.as_str()).map(str::to_owned);
        let at = id
            .as_deref()
            .map_or_else(|| format!("stage #{}", index + 1), stage_at);
        let slot = match deserialize::<RawStage>(table, &at, p) {
            Some(raw) => load_stage(raw, &at, known, p, subflows),
            // Keep a stage with a readable id, so edges to it are not reported as well.
            None => match id {
                Some(id) => Slot {
                    title: id.clone(),
                    id,
                    kind: None,
                    built: None,
                },
                None => continue,
            },
        };
        if let Some(first) = positions.get(&slot.id) {
            let message = format!(
                "is defined twice (stages #{} and #{}): give each stage its own id",
                first + 1,
                index + 1
            );
            p.add(&at, "duplicate-stage", message);
            continue;
        }
        positions.insert(slot.id.clone(), index);
        slots.push(slot);
    }
    // Stages that failed to parse were reported already; only a file without any is news.
    if given == 0 {
        p.add(
            "",
            "no-stages",
            "the workflow has no stages: add [[stage]] tables and [[edge]]s between them",
        );
    }
    slots
}

fn load_stage(
    raw: RawStage,
    at: &str,
    known: &Known,
    p: &mut Problems,
    subflows: &mut Vec<SubflowRef>,
) -> Slot {
    if !is_kebab(&raw.id) {
        p.add(
            at,
            "bad-id",
            "a stage id is lower-case kebab-case, e.g. `reserve-port`: rename it",
        );
    }
    let kind = Kind::parse(&raw.kind);
    let built = match kind {
        Some(kind) => {
            check_fields_apply(&raw, kind, at, p);
            build_kind(kind, &raw, at, known, p)
        }
        None => {
            let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
            let message = format!(
                "kind `{}` is not one of {}: fix the kind",
                raw.kind,
                names.join(", ")
            );
            p.add(at, "unknown-kind", message);
            None
        }
    };
    // Only an unambiguous target is followed across files; "both given" is reported above.
    let named = raw
        .workflow
        .as_ref()
        .filter(|_| raw.workflow_field.is_none());
    if let (Some(Kind::Subflow), Some(target)) = (kind, named) {
        subflows.push(SubflowRef {
            stage: raw.id.clone(),
            target: target.clone(),
        });
    }
    Slot {
        title: raw.title.clone().unwrap_or_else(|| raw.id.clone()),
        id: raw.id,
        kind,
        built,
    }
}

/// Refuses fields that belong to another kind, so a stage never silently ignores a setting
/// (a `timeout` on an approval stage would otherwise look like it meant something).
fn check_fields_apply(raw: &RawStage, kind: Kind, at: &str, p: &mut Problems) {
    let given = [
        ("group", raw.group.is_some()),
        ("quorum", raw.quorum.is_some()),
        ("sla", raw.sla.is_some()),
        ("handler", raw.handler.is_some()),
        ("compensation", raw.compensation.is_some()),
        ("timeout", raw.timeout.is_some()),
        ("retry", raw.retry.is_some()),
        ("duration", raw.duration.is_some()),
        ("until", raw.until.is_some()),
        ("items", raw.items.is_some()),
        ("workflow", raw.workflow.is_some()),
        ("workflow_field", raw.workflow_field.is_some()),
        ("on_child_failure", raw.on_child_failure.is_some()),
    ];
    for (field, present) in given {
        if !present || kind.fields().contains(&field) {
            continue;
        }
        let owners: Vec<&str> = KINDS
            .iter()
            .filter(|(_, k)| k.fields().contains(&field))
            .map(|(n, _)| *n)
            .collect();
        let message = format!(
            "`{field}` does not apply to a {} stage (only to {}): remove it",
            kind.name(),
            owners.join(" and ")
        );
        p.add(at, "misplaced-field", message);
    }
}

fn build_kind(
    kind: Kind,
    raw: &RawStage,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<StageKind> {
    match kind {
        Kind::Approval => human(raw, false, at, known, p).map(StageKind::Approval),
        Kind::Manual => human(raw, true, at, known, p).map(StageKind::Manual),
        Kind::Task => task(raw, at, known, p).map(StageKind::Task),
        Kind::Timer => timer(raw, at, p).map(StageKind::Timer),
        Kind::Subflow => subflow(raw, at, p).map(StageKind::Subflow),
        Kind::End => Some(StageKind::End),
    }
}

fn list_or_none(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn check_group(group: &str, field: &str, at: &str, known: &Known, p: &mut Problems) {
    if !known.groups.contains(group) {
        let message = format!(
            "{field} `{group}` is not a known group (known: {}): fix the name or declare it in \
             workflows/{GROUPS_FILE}",
            list_or_none(&known.groups)
        );
        p.add(at, "unknown-group", message);
    }
}

fn check_handler(handler: &str, field: &str, at: &str, known: &Known, p: &mut Problems) {
    if !known.handlers.contains(handler) {
        let message = format!(
            "{field} `{handler}` is not a registered handler (registered: {}): fix the name",
            list_or_none(&known.handlers)
        );
        p.add(at, "unknown-handler", message);
    }
}

/// Parses a duration such as `30s`, `15m`, `4h` or `2d`; zero is refused, since no wait,
/// timeout or backoff of zero means anything useful.
fn duration(text: &str, field: &str, at: &str, p: &mut Problems) -> Option<Duration> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            let message = format!("{field} `{text}` is zero: give a positive duration");
            p.add(at, "bad-duration", message);
            None
        }
        Err(e) => {
            let message = format!(
                "{field} `{text}` is not a duration ({e}): write it like 30s, 15m, 4h or 2d"
            );
            p.add(at, "bad-duration", message);
            None
        }
    }
}

/// Compiles a CEL expression; the first line of CEL's message says where it went wrong.
fn expression(source: &str, field: &str, at: &str, p: &mut Problems) -> Option<Expr> {
    match Expr::compile(source) {
        Ok(expr) => Some(expr),
        Err(e) => {
            let first = e.lines().next().unwrap_or_default().trim();
            let reason = first
                .strip_prefix("ERROR: <input>:")
                .map_or_else(|| first.to_owned(), |r| format!("at {r}"));
            // The parser's list of every token it would have accepted is noise to a reader.
            let reason = reason
                .split_once(" expecting {")
                .map_or(reason.as_str(), |(before, _)| before);
            let message = format!(
                "{field} `{source}` does not compile: {reason}; write a CEL expression over \
                 `input` and `output`"
            );
            p.add(at, "bad-expression", message);
            None
        }
    }
}

fn human(
    raw: &RawStage,
    manual: bool,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<HumanStage> {
    let group = match &raw.group {
        Some(group) => {
            check_group(group, "group", at, known, p);
            Some(group.clone())
        }
        None => {
            let what = if manual { "a manual" } else { "an approval" };
            let message =
                format!("{what} stage needs `group`, the group whose queue receives its task");
            p.add(at, "missing-field", message);
            None
        }
    };
    let quorum = quorum(raw.quorum.as_ref(), manual, at, p);
    let sla = sla(raw.sla.as_deref().unwrap_or_default(), manual, at, known, p);
    Some(HumanStage {
        group: group?,
        quorum: quorum?,
        sla: sla?,
    })
}

fn quorum(raw: Option<&toml::Value>, manual: bool, at: &str, p: &mut Problems) -> Option<Quorum> {
    let quorum = match raw {
        None => Quorum::Any,
        Some(toml::Value::String(s)) if s == "any" => Quorum::Any,
        Some(toml::Value::String(s)) if s == "all" => Quorum::All,
        Some(toml::Value::Integer(n)) if *n > 0 => match u32::try_from(*n) {
            Ok(n) => Quorum::Count(n),
            Err(_) => {
                p.add(at, "bad-quorum", format!("quorum {n} is too large"));
                return None;
            }
        },
        Some(other) => {
            let message =
                format!("quorum {other} is not \"any\", \"all\" or a positive number of approvals");
            p.add(at, "bad-quorum", message);
            return None;
        }
    };
    if manual && quorum != Quorum::Any {
        let message = "a manual stage is done once, by one person: remove `quorum`";
        p.add(at, "bad-quorum", message);
        return None;
    }
    Some(quorum)
}

fn sla(
    raw: &[RawEscalation],
    manual: bool,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<Vec<Escalation>> {
    let built: Vec<Option<Escalation>> = raw
        .iter()
        .enumerate()
        .map(|(i, step)| escalation(step, i + 1, manual, at, known, p))
        .collect();
    let steps: Vec<Escalation> = built.into_iter().collect::<Option<_>>()?;
    let mut ok = true;
    for (i, pair) in steps.windows(2).enumerate() {
        if let [earlier, later] = pair {
            if later.after <= earlier.after {
                let message = format!(
                    "sla step {} (after {}) must come later than step {} (after {}): list the \
                     steps in increasing `after` order",
                    i + 2,
                    human_duration(later.after),
                    i + 1,
                    human_duration(earlier.after)
                );
                p.add(at, "bad-sla", message);
                ok = false;
            }
        }
    }
    let decisive =
        |e: &Escalation| matches!(e.action, SlaAction::AutoApprove | SlaAction::AutoReject);
    if let Some(i) = steps.iter().position(decisive) {
        if i + 1 < steps.len() {
            let message = format!(
                "sla steps after step {} can never run, because it decides the stage: remove \
                 them or move them before it",
                i + 1
            );
            p.add(at, "bad-sla", message);
            ok = false;
        }
    }
    ok.then_some(steps)
}

fn escalation(
    raw: &RawEscalation,
    number: usize,
    manual: bool,
    at: &str,
    known: &Known,
    p: &mut Problems,
) -> Option<Escalation> {
    let field = format!("sla step {number}");
    let after = duration(&raw.after, &format!("{field}: after"), at, p);
    let action = match (raw.action.as_str(), &raw.group) {
        ("reassign", Some(group)) => {
            check_group(group, &format!("{field}: group"), at, known, p);
            Ok(SlaAction::Reassign {
                group: group.clone(),
            })
        }
        ("reassign", None) => {
            Err("reassign needs `group`, the group that takes the task over".into())
        }
        ("remind" | "auto-approve" | "auto-reject", Some(_)) => {
            Err("`group` applies only to reassign: remove it".into())
        }
        ("remind", None) => Ok(SlaAction::Remind),
        ("auto-approve", None) if manual => Err(
            "auto-approve cannot complete a manual stage (only a person can say the work is \
             done): use remind, reassign or auto-reject"
                .into(),
        ),
        ("auto-approve", None) => Ok(SlaAction::AutoApprove),
        ("auto-reject", None) => Ok(SlaAction::AutoReject),
        (other, _) => Err(format!(
            "action `{other}` is not one of remind, reassign, auto-approve, auto-reject"
        )),
    };
    let action = action
        .map_err(|message: String| p.add(at, "bad-sla", format!("{field}: {message}")))
        .ok();
    Some(Escalation {
        after: after?,
        action: action?,
    })
}

fn task(raw: &RawStage, at: &str, known: &Known, p: &mut Problems) -> Option<TaskStage> {
    let handler = match &raw.handler {
        Some(handler) => {
            check_handler(handler, "handler", at, known, p);
            Some(handler.clone())
        }
        None => {
            let message = "a task stage needs `handler`, the registered handler that runs it";
            p.add(at, "missing-field", message);
            None
        }
    };
    if let Some(compensation) = &raw.compensation {
        check_handler(compensation, "compensation", at, known, p);
    }
    let timeout = match &raw.timeout {
        Some(text) => duration(text, "timeout", at, p),
        None => Some(DEFAULT_TIMEOUT),
    };
    let retry = match &raw.retry {
        Some(r) => retry(r, at, p),
        None => Some(RetryPolicy::default()),
    };
    Some(TaskStage {
        handler: handler?,
        compensation: raw.compensation.clone(),
        timeout: timeout?,
        retry: retry?,
    })
}

fn retry(raw: &RawRetry, at: &str, p: &mut Problems) -> Option<RetryPolicy> {
    let default = RetryPolicy::default();
    let max_attempts = raw.max_attempts.unwrap_or(default.max_attempts);
    if max_attempts == 0 {
        let message = "retry.max_attempts must be 1 or more (it counts the first attempt)";
        p.add(at, "bad-retry", message);
    }
    let backoff = match &raw.backoff {
        Some(text) => duration(text, "retry.backoff", at, p),
        None => Some(default.backoff),
    };
    let max_backoff = match &raw.max_backoff {
        Some(text) => duration(text, "retry.max_backoff", at, p),
        None => Some(default.max_backoff),
    };
    let (backoff, max_backoff) = (backoff?, max_backoff?);
    if backoff > max_backoff {
        let message = format!(
            "retry.backoff {} is longer than retry.max_backoff {}: raise max_backoff or lower \
             backoff",
            human_duration(backoff),
            human_duration(max_backoff)
        );
        p.add(at, "bad-retry", message);
        return None;
    }
    (max_attempts > 0).then_some(RetryPolicy {
        max_attempts,
        backoff,
        max_backoff,
    })
}

fn timer(raw: &RawStage, at: &str, p: &mut Problems) -> Option<Wait> {
    match (&raw.duration, &raw.until) {
        (Some(text), None) => duration(text, "duration", at, p).map(Wait::Duration),
        (None, Some(source)) => expression(source, "until", at, p).map(Wait::Until),
        (Some(_), Some(_)) => {
            let message = "give either `duration` or `until`, not both";
            p.add(at, "timer-wait", message);
            None
        }
        (None, None) => {
            let message = "a timer stage needs `duration` (e.g. \"2h\") or `until` (an \
                           expression giving an RFC 3339 time, e.g. \"input.requested_date\")";
            p.add(at, "timer-wait", message);
            None
        }
    }
}

fn subflow(raw: &RawStage, at: &str, p: &mut Problems) -> Option<SubflowStage> {
    let items = match &raw.items {
        Some(source) => expression(source, "items", at, p),
        None => {
            let message = "a subflow stage needs `items`, an expression giving the list with \
                           one element per child (e.g. \"input.items\")";
            p.add(at, "missing-field", message);
            None
        }
    };
    let mut refuse = |message: &str| {
        p.add(at, "subflow-target", message);
        None
    };
    let workflow = match (&raw.workflow, &raw.workflow_field) {
        (Some(name), None) => Some(ChildWorkflow::Named(name.clone())),
        (None, Some(field)) if !field.trim().is_empty() => {
            Some(ChildWorkflow::FromField(field.clone()))
        }
        (None, Some(_)) => refuse("workflow_field is empty: name the field of each element"),
        (Some(_), Some(_)) => refuse("give either `workflow` or `workflow_field`, not both"),
        (None, None) => refuse(
            "a subflow stage needs `workflow` (the workflow every child runs) or \
             `workflow_field` (the field of each element that names its workflow)",
        ),
    };
    let on_child_failure = match raw.on_child_failure.as_deref() {
        None | Some("report") => Some(ChildFailure::Report),
        Some("fail") => Some(ChildFailure::Fail),
        Some(other) => {
            let message =
                format!("on_child_failure `{other}` is not \"report\" or \"fail\": fix it");
            p.add(at, "bad-value", message);
            None
        }
    };
    Some(SubflowStage {
        items: items?,
        workflow: workflow?,
        on_child_failure: on_child_failure?,
    })
}

pub(super) fn load_edges(
    tables: Vec<toml::Table>,
    slots: &[Slot],
    p: &mut Problems,
) -> Vec<EdgeSpec> {
    let mut edges = Vec::with_capacity(tables.len());
    let mut seen = BTreeSet::new();
    for (index, table) in tables.into_iter().enumerate() {
        let end = |key: &str| table.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let at = match (end("from"), end("to")) {
            (Some(from), Some(to)) => edge_at(&from, &to),
            _ => format!("edge #{}", index + 1),
        };
        let Some(raw) = deserialize::<RawEdge>(table, &at, p) else {
            continue;
        };
        let when = raw
            .when
            .as_ref()
            .and_then(|w| expression(w, "when", &at, p));
        let (Some(from), Some(to)) = (
            stage_index(&raw.from, slots, &at, p),
            stage_index(&raw.to, slots, &at, p),
        ) else {
            continue;
        };
        if from == to {
            let message = "leads from a stage to itself: a workflow runs each stage once, so \
                           remove the edge";
            p.add(&at, "self-loop", message);
        } else if !seen.insert((from, to)) {
            let message = "is given twice: keep one edge (combine conditions with `||`)";
            p.add(&at, "duplicate-edge", message);
        } else {
            edges.push(EdgeSpec { from, to, when });
        }
    }
    edges
}

fn stage_index(id: &str, slots: &[Slot], at: &str, p: &mut Problems) -> Option<usize> {
    let index = slots.iter().position(|s| s.id == id);
    if index.is_none() {
        let ids: Vec<&str> = slots.iter().map(|s| s.id.as_str()).collect();
        let message = format!(
            "`{id}` is not a stage of this workflow (stages: {}): fix the id or add the stage",
            ids.join(", ")
        );
        p.add(at, "unknown-stage", message);
    }
    index
}
