//! The third pass over a workflow file: the graph. The stages become the nodes of a petgraph
//! [`DiGraph`] (node `i` is stage `i`) and the edges its edges, carrying their conditions;
//! then the graph is checked as a whole: no cycles (each reported once, with a concrete
//! path), exactly one start, every stage reachable from it, and every stage able to reach an
//! `end`.

use super::error::{stage_at, Problems};
use super::stages::{EdgeSpec, Kind, Slot};
use crate::expr::Expr;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Node `i` has weight `i`, the stage's index, as the model promises; edges in file order.
pub(super) fn build_graph(slots: &[Slot], edges: Vec<EdgeSpec>) -> DiGraph<usize, Option<Expr>> {
    let mut graph = DiGraph::with_capacity(slots.len(), edges.len());
    for index in 0..slots.len() {
        graph.add_node(index);
    }
    for e in edges {
        graph.add_edge(NodeIndex::new(e.from), NodeIndex::new(e.to), e.when);
    }
    graph
}

fn successors(graph: &DiGraph<usize, Option<Expr>>, node: usize) -> Vec<usize> {
    graph
        .neighbors_directed(NodeIndex::new(node), Direction::Outgoing)
        .map(|n| n.index())
        .collect()
}

fn predecessors(graph: &DiGraph<usize, Option<Expr>>, node: usize) -> Vec<usize> {
    graph
        .neighbors_directed(NodeIndex::new(node), Direction::Incoming)
        .map(|n| n.index())
        .collect()
}

/// Runs the whole-graph checks and returns the start stage when there is exactly one.
pub(super) fn check_graph(
    slots: &[Slot],
    graph: &DiGraph<usize, Option<Expr>>,
    p: &mut Problems,
) -> Option<usize> {
    if slots.is_empty() {
        return None;
    }
    check_cycles(slots, graph, p);
    let starts: Vec<usize> = (0..slots.len())
        .filter(|&i| predecessors(graph, i).is_empty())
        .collect();
    check_starts(slots, &starts, p);
    check_reachable(slots, graph, &starts, p);
    check_ends(slots, graph, p);
    match starts.as_slice() {
        [start] => Some(*start),
        _ => None,
    }
}

/// Reports each strongly connected group of stages once, with one concrete cycle through it.
fn check_cycles(slots: &[Slot], graph: &DiGraph<usize, Option<Expr>>, p: &mut Problems) {
    for component in petgraph::algo::tarjan_scc(graph) {
        if component.len() < 2 {
            continue; // self-loops never enter the graph; they are reported as such
        }
        let members: BTreeSet<usize> = component.iter().map(|n| n.index()).collect();
        let Some(&first) = members.first() else {
            continue;
        };
        let within = |n: usize| {
            successors(graph, n)
                .into_iter()
                .filter(|m| members.contains(m))
                .collect()
        };
        let path = path_between(first, first, within).unwrap_or_default();
        let mut message = format!(
            "is on a cycle {}: a workflow must be acyclic, so remove or redirect one of these \
             edges",
            ids(slots, &path).join(" -> ")
        );
        let others: Vec<usize> = members
            .iter()
            .copied()
            .filter(|m| !path.contains(m))
            .collect();
        if !others.is_empty() {
            message.push_str(&format!(
                " (stages {} are on cycles with it too)",
                ids(slots, &others).join(", ")
            ));
        }
        p.add(&stage_at(&slots[first].id), "cycle", message);
    }
}

/// The shortest path from `from` to `to` of at least one edge (so `from == to` gives a
/// cycle), both ends included, following `next`.
pub(super) fn path_between(
    from: usize,
    to: usize,
    next: impl Fn(usize) -> Vec<usize>,
) -> Option<Vec<usize>> {
    let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for succ in next(node) {
            if succ == to {
                let mut path = vec![to, node];
                let mut current = node;
                while current != from {
                    current = *parent.get(&current)?;
                    path.push(current);
                }
                path.reverse();
                return Some(path);
            }
            if seen.insert(succ) {
                parent.insert(succ, node);
                queue.push_back(succ);
            }
        }
    }
    None
}

fn ids<'a>(slots: &'a [Slot], indices: &[usize]) -> Vec<&'a str> {
    indices.iter().map(|&i| slots[i].id.as_str()).collect()
}

fn quoted_ids(slots: &[Slot], indices: &[usize]) -> String {
    indices
        .iter()
        .map(|&i| format!("{:?}", slots[i].id))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_starts(slots: &[Slot], starts: &[usize], p: &mut Problems) {
    match starts {
        [] => p.add(
            "",
            "no-start",
            "every stage has an incoming edge, so none can start the workflow: the start stage \
             is the one stage without incoming edges (remove the edges into it)",
        ),
        [_] => {}
        several => {
            let message = format!(
                "have no incoming edge, so each would be a start stage: a workflow has exactly \
                 one start, so add edges into all but one of them (stages {})",
                quoted_ids(slots, several)
            );
            p.add(
                &format!("stages {}", quoted_ids(slots, several)),
                "several-starts",
                message,
            );
        }
    }
}

fn reach(from: &[usize], count: usize, next: impl Fn(usize) -> Vec<usize>) -> Vec<bool> {
    let mut seen = vec![false; count];
    let mut stack: Vec<usize> = from.to_vec();
    while let Some(node) = stack.pop() {
        if let Some(flag) = seen.get_mut(node) {
            if !*flag {
                *flag = true;
                stack.extend(next(node));
            }
        }
    }
    seen
}

fn check_reachable(
    slots: &[Slot],
    graph: &DiGraph<usize, Option<Expr>>,
    starts: &[usize],
    p: &mut Problems,
) {
    // Without a start every stage would be unreachable; "no-start" already says what to fix.
    if starts.is_empty() {
        return;
    }
    let reached = reach(starts, slots.len(), |n| successors(graph, n));
    let from = match starts {
        [start] => format!("the start stage {:?}", slots[*start].id),
        _ => "any start stage".to_owned(),
    };
    for (slot, _) in slots.iter().zip(&reached).filter(|(_, r)| !**r) {
        let message = format!(
            "cannot be reached from {from}: add an edge into it from a stage before it, or \
             remove it"
        );
        p.add(&stage_at(&slot.id), "unreachable", message);
    }
}

fn check_ends(slots: &[Slot], graph: &DiGraph<usize, Option<Expr>>, p: &mut Problems) {
    for (index, slot) in slots.iter().enumerate() {
        let out = successors(graph, index);
        if slot.kind == Some(Kind::End) && !out.is_empty() {
            let message = format!(
                "is an end stage but has edges to {}: remove them, or change its kind",
                quoted_ids(slots, &out)
            );
            p.add(&stage_at(&slot.id), "end-with-edges", message);
        }
    }
    // A stage of unknown kind might be an end; its own problem says what to fix.
    let ends: Vec<usize> = (0..slots.len())
        .filter(|&i| matches!(slots[i].kind, Some(Kind::End) | None))
        .collect();
    if ends.is_empty() {
        let message = "the workflow has no end stage: add a stage with kind = \"end\" and edges \
                       into it";
        p.add("", "no-end", message);
        return;
    }
    let reaches_end = reach(&ends, slots.len(), |n| predecessors(graph, n));
    for (slot, _) in slots.iter().zip(&reaches_end).filter(|(_, r)| !**r) {
        let message = "cannot reach an end stage: add an edge from it to an end (or to a \
                       stage that reaches one)";
        p.add(&stage_at(&slot.id), "no-end", message);
    }
}
