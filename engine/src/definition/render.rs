//! Drawings of a definition for people: Graphviz dot (through petgraph's `Dot`), Mermaid
//! flowcharts (for Markdown pages and issues) and a plain-text listing for the terminal.

use super::model::{
    ChildFailure, ChildWorkflow, Definition, HumanStage, Quorum, SlaAction, Stage, StageKind,
    TaskStage, Wait,
};
use crate::expr::Expr;
use petgraph::dot::Dot;
use petgraph::graph::{DiGraph, EdgeReference, NodeIndex};
use petgraph::visit::EdgeRef;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt::{self, Write as _};
use std::time::Duration;

type Graph = DiGraph<usize, Option<Expr>>;

/// Graphviz dot: one node per stage labelled with its id and kind and shaped by kind, edges
/// labelled with their conditions (conditional edges dashed), the start stage drawn bold.
pub fn dot(definition: &Definition) -> String {
    DotDrawing(definition).to_string()
}

struct DotDrawing<'a>(&'a Definition);

impl fmt::Display for DotDrawing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let node_attributes = |_: &Graph, (node, _): (NodeIndex, &usize)| {
            let mut attributes = format!("shape = {} ", dot_shape(kind_of(d, node.index())));
            if node.index() == d.start {
                attributes.push_str("penwidth = 2 ");
            }
            attributes
        };
        let edge_attributes = |_: &Graph, edge: EdgeReference<'_, Option<Expr>>| {
            let conditional = edge.weight().is_some();
            if conditional {
                "style = dashed ".to_owned()
            } else {
                String::new()
            }
        };
        let drawing = Dot::with_attr_getters(&d.graph, &[], &edge_attributes, &node_attributes);
        // `Dot` escapes what the closures write; each "\n" becomes a left-aligned line break.
        drawing.graph_fmt(
            f,
            |&stage, f| match d.stages.get(stage) {
                Some(s) => write!(f, "{}\n({})\n", s.id, s.kind.name()),
                None => write!(f, "{stage}"),
            },
            |condition, f| match condition {
                Some(expr) => f.write_str(expr.source()),
                None => Ok(()),
            },
        )
    }
}

fn kind_of(definition: &Definition, stage: usize) -> Option<&StageKind> {
    definition.stages.get(stage).map(|s| &s.kind)
}

fn dot_shape(kind: Option<&StageKind>) -> &'static str {
    match kind {
        Some(StageKind::Approval(_)) => "diamond",
        Some(StageKind::Manual(_)) => "parallelogram",
        Some(StageKind::Task(_)) => "box",
        Some(StageKind::Timer(_)) => "hexagon",
        Some(StageKind::Subflow(_)) => "box3d",
        Some(StageKind::End) => "doublecircle",
        None => "ellipse",
    }
}

/// A Mermaid flowchart (top-down): node shapes by kind (approval rhombus, manual
/// parallelogram, task rectangle, timer hexagon, subflow subroutine, end stadium), conditions
/// as edge labels. Nodes are named `s0`, `s1`, ... because stage ids may contain characters
/// Mermaid reads as syntax; labels are quoted, with quotes and markup characters escaped.
pub fn mermaid(definition: &Definition) -> String {
    let mut out = String::from("flowchart TD\n");
    for (index, stage) in definition.stages.iter().enumerate() {
        let label = mermaid_escape(&format!("{}<br/>{}", stage.id, stage.kind.name()));
        let (open, close) = mermaid_shape(&stage.kind);
        let _ = writeln!(out, "    s{index}{open}\"{label}\"{close}");
    }
    for edge in definition.graph.edge_references() {
        let (from, to) = (edge.source().index(), edge.target().index());
        let _ = match edge.weight() {
            Some(expr) => writeln!(
                out,
                "    s{from} -->|\"{}\"| s{to}",
                mermaid_escape(expr.source())
            ),
            None => writeln!(out, "    s{from} --> s{to}"),
        };
    }
    out
}

fn mermaid_shape(kind: &StageKind) -> (&'static str, &'static str) {
    match kind {
        StageKind::Approval(_) => ("{", "}"),
        StageKind::Manual(_) => ("[/", "/]"),
        StageKind::Task(_) => ("[", "]"),
        StageKind::Timer(_) => ("{{", "}}"),
        StageKind::Subflow(_) => ("[[", "]]"),
        StageKind::End => ("([", "])"),
    }
}

/// Mermaid entity codes for the characters that would end a quoted label or be read as
/// markup; the `<br/>` the label itself uses is added after escaping the parts.
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("<br/>") {
        escape_into(&mut out, before);
        out.push_str("<br/>");
        rest = after;
    }
    escape_into(&mut out, rest);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            _ => out.push(c),
        }
    }
}

/// A readable listing: name, version and start, then the stages in topological order (file
/// order among stages that could go either way) with their settings and outgoing edges.
pub fn text(definition: &Definition) -> String {
    let d = definition;
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", d.name, d.description);
    let number = d
        .version
        .number
        .map_or("unnumbered".to_owned(), |n| format!("version {n}"));
    let hash = d.version.hash.get(..12).unwrap_or(&d.version.hash);
    let _ = writeln!(out, "{number}, sha256 {hash}");
    let start = d.stages.get(d.start).map_or("?", |s| s.id.as_str());
    let _ = writeln!(out, "start: {start}");
    for (position, index) in topological_order(d).into_iter().enumerate() {
        let Some(stage) = d.stages.get(index) else {
            continue;
        };
        out.push('\n');
        write_stage(&mut out, position + 1, stage);
        for (target, condition) in d.outgoing(index) {
            let to = d.stages.get(target).map_or("?", |s| s.id.as_str());
            let _ = match condition {
                Some(expr) => writeln!(out, "   -> {to} when {}", expr.source()),
                None => writeln!(out, "   -> {to}"),
            };
        }
    }
    out
}

/// Kahn's algorithm taking the lowest stage index first, so the listing follows the file
/// wherever the graph allows. A loaded definition is acyclic, so every stage is listed.
fn topological_order(d: &Definition) -> Vec<usize> {
    let mut waiting: Vec<usize> = (0..d.stages.len()).map(|i| d.in_degree(i)).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..d.stages.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(d.stages.len());
    while let Some(Reverse(index)) = ready.pop() {
        order.push(index);
        for (target, _) in d.outgoing(index) {
            if let Some(count) = waiting.get_mut(target) {
                *count -= 1;
                if *count == 0 {
                    ready.push(Reverse(target));
                }
            }
        }
    }
    order
}

fn write_stage(out: &mut String, position: usize, stage: &Stage) {
    let title = if stage.title == stage.id {
        String::new()
    } else {
        format!(" — {}", stage.title)
    };
    let _ = writeln!(
        out,
        "{position}. {} [{}]{title}",
        stage.id,
        stage.kind.name()
    );
    match &stage.kind {
        StageKind::Approval(h) | StageKind::Manual(h) => write_human(out, h),
        StageKind::Task(t) => write_task(out, t),
        StageKind::Timer(Wait::Duration(d)) => {
            let _ = writeln!(out, "   wait {}", human_duration(*d));
        }
        StageKind::Timer(Wait::Until(expr)) => {
            let _ = writeln!(out, "   wait until {}", expr.source());
        }
        StageKind::Subflow(s) => {
            let runs = match &s.workflow {
                ChildWorkflow::Named(name) => format!("workflow {name}"),
                ChildWorkflow::FromField(field) => format!("the workflow named in `{field}`"),
            };
            let failure = match s.on_child_failure {
                ChildFailure::Report => "is reported",
                ChildFailure::Fail => "fails the stage",
            };
            let _ = writeln!(
                out,
                "   one child per element of {}, running {runs}; a failed child {failure}",
                s.items.source()
            );
        }
        StageKind::End => {}
    }
}

fn write_human(out: &mut String, h: &HumanStage) {
    let quorum = match h.quorum {
        Quorum::Any => "any".to_owned(),
        Quorum::All => "all".to_owned(),
        Quorum::Count(n) => n.to_string(),
    };
    let _ = writeln!(out, "   group {}, quorum {quorum}", h.group);
    if !h.sla.is_empty() {
        let steps: Vec<String> = h
            .sla
            .iter()
            .map(|e| {
                let action = match &e.action {
                    SlaAction::Remind => "remind".to_owned(),
                    SlaAction::Reassign { group } => format!("reassign to {group}"),
                    SlaAction::AutoApprove => "auto-approve".to_owned(),
                    SlaAction::AutoReject => "auto-reject".to_owned(),
                };
                format!("after {} {action}", human_duration(e.after))
            })
            .collect();
        let _ = writeln!(out, "   sla: {}", steps.join("; "));
    }
}

fn write_task(out: &mut String, t: &TaskStage) {
    let compensation = t
        .compensation
        .as_ref()
        .map_or(String::new(), |c| format!(", compensation {c}"));
    let _ = writeln!(
        out,
        "   handler {}{compensation}, timeout {}",
        t.handler,
        human_duration(t.timeout)
    );
    let _ = writeln!(
        out,
        "   retry: {} attempts, backoff {} up to {}",
        t.retry.max_attempts,
        human_duration(t.retry.backoff),
        human_duration(t.retry.max_backoff)
    );
}

/// A duration the way definition files write it (`90s` as `1m 30s`, a day as `1d`), so the
/// listing can be copied back into a file; sub-second parts fall back to `humantime`.
pub(crate) fn human_duration(d: Duration) -> String {
    if d.subsec_nanos() != 0 {
        return humantime::format_duration(d).to_string();
    }
    let secs = d.as_secs();
    let parts: Vec<String> = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n}{unit}"))
    .collect();
    if parts.is_empty() {
        "0s".to_owned()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use std::time::Duration;

    #[test]
    fn durations_are_written_as_files_write_them() {
        let cases = [
            (0, "0s"),
            (30, "30s"),
            (90, "1m 30s"),
            (4 * 3600, "4h"),
            (86_400, "1d"),
            (3 * 86_400 + 3600 + 1, "3d 1h 1s"),
        ];
        for (secs, text) in cases {
            assert_eq!(human_duration(Duration::from_secs(secs)), text);
            if secs > 0 {
                assert_eq!(
                    humantime::parse_duration(text),
                    Ok(Duration::from_secs(secs))
                );
            }
        }
        assert_eq!(human_duration(Duration::from_millis(1500)), "1s 500ms");
    }
}
