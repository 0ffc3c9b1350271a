//! Property tests over random graphs: loading never panics, forward-only graphs load, and a
//! back edge is always refused as a cycle.

use super::listing;
use l2c_engine::definition::{render, Definition, DefinitionError, Known};
use proptest::prelude::*;

const KINDS: [&str; 4] = ["task", "approval", "manual", "timer"];
const CONDITIONS: [&str; 3] = ["input.x > 1", "output.ok == true", "input.x >"];

fn stage_toml(index: usize, kind: usize) -> String {
    let body = match KINDS[kind % KINDS.len()] {
        "task" => "kind = \"task\"\nhandler = \"noop\"",
        "approval" => "kind = \"approval\"\ngroup = \"sales-managers\"",
        "manual" => "kind = \"manual\"\ngroup = \"field-engineers\"",
        _ => "kind = \"timer\"\nduration = \"1h\"",
    };
    format!("[[stage]]\nid = \"s{index}\"\n{body}\n\n")
}

/// A workflow of `kinds.len()` stages plus a final end stage `s{n}`, with the given edges.
fn random_workflow(kinds: &[usize], edges: &[(usize, usize, Option<usize>)]) -> String {
    let mut text = String::from("description = \"random\"\n\n");
    for (i, &k) in kinds.iter().enumerate() {
        text.push_str(&stage_toml(i, k));
    }
    text.push_str(&format!(
        "[[stage]]\nid = \"s{}\"\nkind = \"end\"\n\n",
        kinds.len()
    ));
    for &(from, to, when) in edges {
        text.push_str(&format!("[[edge]]\nfrom = \"s{from}\"\nto = \"s{to}\"\n"));
        if let Some(c) = when {
            text.push_str(&format!(
                "when = \"{}\"\n",
                CONDITIONS[c % CONDITIONS.len()]
            ));
        }
        text.push('\n');
    }
    text
}

/// Edges only from a lower to a higher index: a DAG, whatever is picked.
fn forward_edges(
    n: usize,
    picks: &[(usize, usize, Option<usize>)],
) -> Vec<(usize, usize, Option<usize>)> {
    let mut edges: Vec<(usize, usize, Option<usize>)> = picks
        .iter()
        .map(|&(a, b, c)| (a % n, b % n, c))
        .filter(|(a, b, _)| a < b)
        .collect();
    edges.sort_by_key(|&(a, b, _)| (a, b));
    edges.dedup_by_key(|&mut (a, b, _)| (a, b));
    edges
}

proptest! {
    #[test]
    fn random_dags_load_or_report_problems_and_never_panic(
        kinds in proptest::collection::vec(0usize..4, 1..9),
        picks in proptest::collection::vec((0usize..10, 0usize..10, proptest::option::of(0usize..3)), 0..25),
    ) {
        let n = kinds.len() + 1;
        let edges = forward_edges(n, &picks);
        let text = random_workflow(&kinds, &edges);
        let known = Known::new(["noop"], ["sales-managers", "field-engineers"]);
        match Definition::from_toml("random.toml", &text, &known) {
            Ok(d) => {
                prop_assert_eq!(d.stages.len(), n);
                prop_assert_eq!(d.graph.edge_count(), edges.len());
                prop_assert_eq!(d.in_degree(d.start), 0);
                prop_assert!((0..n).filter(|&i| d.in_degree(i) == 0).count() == 1);
                prop_assert!(render::dot(&d).starts_with("digraph"));
                prop_assert_eq!(render::text(&d).matches(" [").count(), n);
            }
            Err(DefinitionError::Invalid(found)) => {
                prop_assert!(!found.is_empty());
                for p in &found {
                    prop_assert_eq!(p.file.as_str(), "random.toml");
                    prop_assert!(p.rule != "cycle", "a DAG has no cycle: {}", p);
                }
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    #[test]
    fn chains_with_forward_edges_always_load(
        kinds in proptest::collection::vec(0usize..4, 1..9),
        picks in proptest::collection::vec((0usize..10, 0usize..10, proptest::option::of(0usize..2)), 0..25),
    ) {
        let n = kinds.len() + 1;
        let mut edges = forward_edges(n, &picks);
        edges.extend((0..n - 1).map(|i| (i, i + 1, None)));
        edges.sort_by_key(|&(a, b, _)| (a, b));
        edges.dedup_by_key(|&mut (a, b, _)| (a, b));
        let text = random_workflow(&kinds, &edges);
        let known = Known::new(["noop"], ["sales-managers", "field-engineers"]);
        let d = Definition::from_toml("chain.toml", &text, &known);
        prop_assert!(d.is_ok(), "{:?}\n{}", d.err().map(|e| e.to_string()), text);
    }

    #[test]
    fn graphs_with_a_back_edge_are_refused_as_cycles(
        kinds in proptest::collection::vec(0usize..4, 2..9),
        picks in proptest::collection::vec((0usize..10, 0usize..10, proptest::option::of(0usize..2)), 0..25),
        back in (0usize..100, 0usize..100),
    ) {
        let n = kinds.len() + 1;
        let mut edges = forward_edges(n, &picks);
        edges.extend((0..n - 1).map(|i| (i, i + 1, None)));
        edges.sort_by_key(|&(a, b, _)| (a, b));
        edges.dedup_by_key(|&mut (a, b, _)| (a, b));
        // A back edge from b to a < b, both before the end stage: a -> ... -> b -> a.
        let b = 1 + back.0 % (n - 2).max(1);
        let a = back.1 % b;
        edges.push((b, a, None));
        let text = random_workflow(&kinds, &edges);
        let known = Known::new(["noop"], ["sales-managers", "field-engineers"]);
        match Definition::from_toml("cyclic.toml", &text, &known) {
            Err(DefinitionError::Invalid(found)) => {
                let cycle = found.iter().find(|p| p.rule == "cycle");
                prop_assert!(cycle.is_some(), "no cycle problem:\n{}", listing(&found));
                let message = cycle.map(|p| p.message.clone()).unwrap_or_default();
                prop_assert!(message.contains(&format!("s{b} -> s{a}")), "{}", message);
            }
            other => prop_assert!(false, "a cyclic graph was not refused: {:?}", other.map(|d| d.name)),
        }
    }
}
