//! Mistakes in the graph, each refused naming the stages: duplicate stages and edges, edges
//! to unknown stages, self-loops, cycles, no start or several, unreachable stages, stages
//! that cannot reach an end, and end stages with edges.

use super::{assert_mentions, edge, plus, problems, refused, refused_alone, BASE};

#[test]
fn duplicate_stage_ids_are_refused() {
    let text = plus("[[stage]]\nid = \"done\"\nkind = \"end\"\n");
    let p = refused_alone(&text, "duplicate-stage", "stage \"done\"");
    assert_mentions(&p, &["defined twice", "#3 and #4"]);
}

#[test]
fn edges_naming_unknown_stages_are_refused() {
    let text = plus(&edge("reserve-port", "configure"));
    let p = refused_alone(&text, "unknown-stage", "edge reserve-port -> configure");
    assert_mentions(
        &p,
        &[
            "`configure` is not a stage",
            "feasibility, reserve-port, done",
        ],
    );
}

#[test]
fn duplicate_edges_are_refused() {
    let text = plus(&edge("reserve-port", "done"));
    let p = refused_alone(&text, "duplicate-edge", "edge reserve-port -> done");
    assert_mentions(&p, &["twice"]);
}

#[test]
fn self_loops_are_refused() {
    let text = plus(&edge("reserve-port", "reserve-port"));
    let p = refused_alone(&text, "self-loop", "edge reserve-port -> reserve-port");
    assert_mentions(&p, &["itself"]);
}

#[test]
fn cycles_are_refused_naming_the_stages_on_them() {
    // feasibility -> reserve-port -> check -> reserve-port; check -> done
    let text = BASE.replace("to = \"done\"", "to = \"check\"")
        + "\n[[stage]]\nid = \"check\"\nkind = \"task\"\nhandler = \"noop\"\n\n"
        + &edge("check", "reserve-port")
        + &edge("check", "done");
    let p = refused_alone(&text, "cycle", "stage \"reserve-port\"");
    assert_mentions(&p, &["reserve-port -> check -> reserve-port", "acyclic"]);
}

#[test]
fn a_workflow_without_a_start_is_refused() {
    let text = plus(&edge("reserve-port", "feasibility"));
    let found = problems(&text);
    let p = refused(&text, "no-start", "");
    assert_mentions(&p, &["every stage has an incoming edge"]);
    assert!(found.iter().any(|p| p.rule == "cycle"
        && p.message
            .contains("feasibility -> reserve-port -> feasibility")));
}

#[test]
fn several_start_stages_are_refused_naming_them() {
    let text = plus("[[stage]]\nid = \"credit-check\"\nkind = \"task\"\nhandler = \"noop\"\n\n")
        + &edge("credit-check", "done");
    let p = refused_alone(
        &text,
        "several-starts",
        "stages \"feasibility\", \"credit-check\"",
    );
    assert_mentions(&p, &["exactly one start"]);
}

#[test]
fn unreachable_stages_are_refused() {
    // x and y feed each other and reach the end, but nothing leads into them.
    let text = plus(
        "[[stage]]\nid = \"x\"\nkind = \"task\"\nhandler = \"noop\"\n\n\
         [[stage]]\nid = \"y\"\nkind = \"task\"\nhandler = \"noop\"\n\n",
    ) + &edge("x", "y")
        + &edge("y", "x")
        + &edge("x", "done");
    let p = refused(&text, "unreachable", "stage \"x\"");
    assert_mentions(
        &p,
        &["cannot be reached from the start stage \"feasibility\""],
    );
    refused(&text, "unreachable", "stage \"y\"");
    refused(&text, "cycle", "stage \"x\"");
}

#[test]
fn stages_that_cannot_reach_an_end_are_refused() {
    let text = plus("[[stage]]\nid = \"configure\"\nkind = \"task\"\nhandler = \"noop\"\n\n")
        + &edge("feasibility", "configure");
    let p = refused_alone(&text, "no-end", "stage \"configure\"");
    assert_eq!(
        p.to_string(),
        "wan-link.toml: stage \"configure\": cannot reach an end stage: add an edge from it to \
         an end (or to a stage that reaches one)"
    );
    let no_end_at_all = BASE.replace("kind = \"end\"", "kind = \"task\"\nhandler = \"noop\"");
    let p = refused_alone(&no_end_at_all, "no-end", "");
    assert_mentions(&p, &["no end stage"]);
}

#[test]
fn end_stages_with_outgoing_edges_are_refused() {
    let text = plus("[[stage]]\nid = \"closed\"\nkind = \"end\"\n\n") + &edge("done", "closed");
    let p = refused_alone(&text, "end-with-edges", "stage \"done\"");
    assert_mentions(&p, &["\"closed\""]);
}
