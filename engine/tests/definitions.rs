//! Loading workflow definitions: sound files load into the graph the runtime relies on; each
//! kind of mistake is refused with its rule, the file and the stage or edge; every mistake in
//! a file is reported at once; the documented example loads; drawings show the graph.

use l2c_engine::definition::{
    load_groups, parse_groups, render, ChildFailure, ChildWorkflow, Definition, DefinitionError,
    Definitions, Known, Problem, Quorum, RetryPolicy, SlaAction, StageKind, Wait,
};
use proptest::prelude::*;
use std::path::Path;
use std::time::Duration;

const FILE: &str = "wan-link.toml";

fn known() -> Known {
    Known::new(
        ["noop", "network.reserve-port", "network.release-port"],
        [
            "network-engineering",
            "network-leads",
            "sales-managers",
            "field-engineers",
        ],
    )
}

fn fixtures() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
}

/// A sound three-stage workflow the invalid cases below change one thing in.
const BASE: &str = r#"
description = "Test workflow"

[[stage]]
id = "feasibility"
kind = "approval"
group = "network-engineering"

[[stage]]
id = "reserve-port"
kind = "task"
handler = "network.reserve-port"

[[stage]]
id = "done"
kind = "end"

[[edge]]
from = "feasibility"
to = "reserve-port"

[[edge]]
from = "reserve-port"
to = "done"
"#;

/// BASE with the stage `reserve-port` given these extra lines.
fn with_task_lines(lines: &str) -> String {
    BASE.replacen(
        "handler = \"network.reserve-port\"\n",
        &format!("handler = \"network.reserve-port\"\n{lines}\n"),
        1,
    )
}

/// BASE with the approval stage `feasibility` given these extra lines.
fn with_approval_lines(lines: &str) -> String {
    BASE.replacen(
        "group = \"network-engineering\"\n",
        &format!("group = \"network-engineering\"\n{lines}\n"),
        1,
    )
}

/// BASE with more stages and edges appended.
fn plus(more: &str) -> String {
    format!("{BASE}\n{more}\n")
}

fn edge(from: &str, to: &str) -> String {
    format!("[[edge]]\nfrom = \"{from}\"\nto = \"{to}\"\n")
}

fn load(text: &str) -> Result<Definition, DefinitionError> {
    Definition::from_toml(FILE, text, &known())
}

fn problems(text: &str) -> Vec<Problem> {
    match load(text) {
        Err(DefinitionError::Invalid(problems)) => {
            assert!(!problems.is_empty(), "an error without problems");
            problems
        }
        Err(other) => panic!("expected rule problems, got {other}"),
        Ok(_) => panic!("a broken definition loaded:\n{text}"),
    }
}

fn listing(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("[{}] {p}", p.rule))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that `text` is refused under `rule` at `location`, the shown problem naming the
/// file and the location, and returns that problem for checks of its message.
fn refused(text: &str, rule: &str, location: &str) -> Problem {
    let found = problems(text);
    let problem = found
        .iter()
        .find(|p| p.rule == rule && p.location == location)
        .unwrap_or_else(|| panic!("no {rule} at {location}; found:\n{}", listing(&found)));
    assert_eq!(problem.file, FILE);
    let shown = problem.to_string();
    let prefix = if location.is_empty() {
        format!("{FILE}: ")
    } else {
        format!("{FILE}: {location}: ")
    };
    assert!(shown.starts_with(&prefix), "{shown}");
    problem.clone()
}

/// As [`refused`], and no other rule fired: the mistake does not cascade into others.
fn refused_alone(text: &str, rule: &str, location: &str) -> Problem {
    let problem = refused(text, rule, location);
    let found = problems(text);
    assert!(
        found.iter().all(|p| p.rule == rule),
        "only {rule} expected:\n{}",
        listing(&found)
    );
    problem
}

fn assert_mentions(problem: &Problem, needles: &[&str]) {
    for needle in needles {
        assert!(
            problem.message.contains(needle),
            "{needle:?} missing in: {problem}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Sound definitions

#[test]
fn the_base_workflow_loads() {
    let d = load(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.name, "wan-link");
    assert_eq!(d.description, "Test workflow");
    assert_eq!(d.stages.len(), 3);
    assert_eq!(d.start, 0);
    assert_eq!(d.version.number, None);
}

fn good_set() -> Definitions {
    let dir = fixtures().join("good");
    let groups = load_groups(&dir.join("groups.toml")).unwrap_or_else(|e| panic!("{e}"));
    let known = Known::new(["noop"], groups);
    Definitions::load_dir(&dir, &known).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_fixture_with_every_kind_a_fork_and_a_join_loads_into_its_graph() {
    let set = good_set();
    assert_eq!(set.names().collect::<Vec<_>>(), ["order", "site-survey"]);
    assert_eq!(set.len(), 2);
    let d = set.get("order").expect("order loaded");
    let at = |id: &str| d.stage_index(id).unwrap_or_else(|| panic!("no stage {id}"));
    assert_eq!(d.name, "order");
    assert_eq!(d.version.number, Some(2));
    assert_eq!(d.start, at("commercial-approval"));
    // The node weights are the stage indices.
    for node in d.graph.node_indices() {
        assert_eq!(d.graph[node], node.index());
    }
    assert_eq!(d.graph.node_count(), 6);
    assert_eq!(d.graph.edge_count(), 6);

    let mut fork: Vec<(usize, Option<String>)> = d
        .outgoing(at("commercial-approval"))
        .map(|(to, when)| (to, when.map(|e| e.source().to_owned())))
        .collect();
    fork.sort();
    let mut expected = vec![
        (at("credit-check"), None),
        (at("site-visit"), Some("input.onsite == true".to_owned())),
    ];
    expected.sort();
    assert_eq!(fork, expected);
    let mut join: Vec<usize> = d.incoming(at("wait-for-date")).collect();
    join.sort();
    assert_eq!(join, [at("credit-check"), at("site-visit")]);
    assert_eq!(d.in_degree(at("wait-for-date")), 2);
    assert_eq!(d.in_degree(at("commercial-approval")), 0);
    assert_eq!(d.outgoing(at("done")).count(), 0);

    let kinds: Vec<&str> = d.stages.iter().map(|s| s.kind.name()).collect();
    assert_eq!(
        kinds,
        ["approval", "task", "manual", "timer", "subflow", "end"]
    );
    assert_eq!(
        d.stages[at("commercial-approval")].title,
        "Commercial approval"
    );
    assert_eq!(d.stages[at("credit-check")].title, "credit-check");
}

#[test]
fn stage_settings_are_read_with_their_defaults() {
    let set = good_set();
    let d = set.get("order").expect("order loaded");
    let kind = |id: &str| &d.stages[d.stage_index(id).expect("stage")].kind;
    let StageKind::Approval(approval) = kind("commercial-approval") else {
        panic!("approval")
    };
    assert_eq!(approval.group, "sales-managers");
    assert_eq!(approval.quorum, Quorum::Count(2));
    let actions: Vec<(u64, &SlaAction)> = approval
        .sla
        .iter()
        .map(|e| (e.after.as_secs(), &e.action))
        .collect();
    assert_eq!(
        actions,
        [
            (4 * 3600, &SlaAction::Remind),
            (
                86_400,
                &SlaAction::Reassign {
                    group: "network-leads".into()
                }
            ),
            (3 * 86_400, &SlaAction::AutoReject),
        ]
    );
    let StageKind::Task(task) = kind("credit-check") else {
        panic!("task")
    };
    assert_eq!(task.handler, "noop");
    assert_eq!(task.compensation.as_deref(), Some("noop"));
    assert_eq!(task.timeout, Duration::from_secs(30));
    assert_eq!(
        task.retry,
        RetryPolicy {
            max_attempts: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300)
        }
    );
    let StageKind::Manual(manual) = kind("site-visit") else {
        panic!("manual")
    };
    assert_eq!((manual.quorum, manual.sla.len()), (Quorum::Any, 0));
    let StageKind::Timer(Wait::Until(until)) = kind("wait-for-date") else {
        panic!("timer until")
    };
    assert_eq!(until.source(), "input.requested_date");
    let StageKind::Subflow(sub) = kind("items") else {
        panic!("subflow")
    };
    assert_eq!(sub.items.source(), "input.items");
    assert_eq!(sub.workflow, ChildWorkflow::Named("site-survey".into()));
    assert_eq!(sub.on_child_failure, ChildFailure::Fail);

    let child = set.get("site-survey").expect("child loaded");
    let StageKind::Task(task) = &child.stages[0].kind else {
        panic!("task")
    };
    assert_eq!(task.timeout, l2c_engine::definition::DEFAULT_TIMEOUT);
    assert_eq!(task.retry, RetryPolicy::default());
    assert!(matches!(
        child.stages[1].kind,
        StageKind::Timer(Wait::Duration(d)) if d == Duration::from_secs(7200)
    ));
}

#[test]
fn the_version_hash_is_the_sha256_of_the_text() {
    let d = load(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.source, BASE);
    assert_eq!(d.version.hash.len(), 64);
    assert!(d
        .version
        .hash
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    let again = load(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.version, d.version, "the same text, the same version");
    let changed =
        load(&BASE.replace("Test workflow", "Test workflow v2")).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(changed.version.hash, d.version.hash);
    // A known vector, computed with `sha256sum`.
    let tiny = "description = \"x\"\n[[stage]]\nid = \"done\"\nkind = \"end\"\n";
    let d = load(tiny).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((d.stages.len(), d.start), (1, 0));
    assert_eq!(
        d.version.hash,
        "7c4905aaf468f01bb134841bea6b64a83f2cd02abd1b70c30eda4197a43da3c1"
    );
}

#[test]
fn the_repository_groups_file_declares_the_required_groups() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../workflows/groups.toml"
    ));
    let groups = load_groups(path).unwrap_or_else(|e| panic!("{e}"));
    for g in [
        "sales-managers",
        "network-engineering",
        "network-leads",
        "field-engineers",
        "field-leads",
        "finance",
        "operations",
    ] {
        assert!(groups.contains(g), "{g} missing from {groups:?}");
    }
}

// The repository's own workflows/ name l2c's handlers, which the engine does not know; they
// are checked against them by tests/cli.rs (`workflow check`) and by every App::open.

// ---------------------------------------------------------------------------------------------
// The documented example

/// The ```toml blocks of docs/workflows.md as (file name, text), the file name taken from the
/// block's first line `# workflows/<file>`.
fn doc_blocks() -> Vec<(String, String)> {
    let doc = include_str!("../../docs/workflows.md");
    let mut blocks = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + "```toml\n".len()..];
        let end = body.find("```").expect("a closed code block");
        let text = &body[..end];
        let first = text.lines().next().unwrap_or_default();
        let file = first
            .strip_prefix("# workflows/")
            .and_then(|f| f.split_whitespace().next())
            .unwrap_or_else(|| {
                panic!("a toml block must start with `# workflows/<file>`: {first}")
            });
        blocks.push((file.to_owned(), text.to_owned()));
        rest = &body[end + 3..];
    }
    blocks
}

#[test]
fn the_annotated_example_in_the_docs_loads() {
    let blocks = doc_blocks();
    let names: Vec<&str> = blocks.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["wan-link.toml", "site-survey.toml", "groups.toml"]);
    let (groups_file, groups_text) = &blocks[2];
    let groups = parse_groups(groups_file, groups_text).unwrap_or_else(|e| panic!("{e}"));
    let known = Known::new(
        [
            "network.reserve-port",
            "network.release-port",
            "network.activate",
        ],
        groups,
    );
    let set = Definitions::from_sources(&blocks[..2], &known).unwrap_or_else(|e| panic!("{e}"));
    let d = set.get("wan-link").expect("the example loaded");
    assert_eq!(d.version.number, Some(3));
    assert_eq!(d.stages[d.start].id, "feasibility");
    let kinds: std::collections::BTreeSet<&str> = d.stages.iter().map(|s| s.kind.name()).collect();
    assert_eq!(
        kinds.len(),
        6,
        "the example shows every stage kind: {kinds:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Each mistake, refused with its rule, file and stage

#[test]
fn toml_syntax_errors_are_refused_at_their_line() {
    let text = BASE.replace("kind = \"end\"", "kind = \"end");
    let found = problems(&text);
    assert_eq!(found.len(), 1, "{}", listing(&found));
    assert_eq!(found[0].rule, "syntax");
    assert!(
        found[0].location.starts_with("line 16, column 12"),
        "{}",
        found[0]
    );
    assert!(found[0]
        .to_string()
        .starts_with("wan-link.toml: line 16, column 12: "));
}

#[test]
fn unknown_fields_are_refused_every_one() {
    let text = with_task_lines("timout = \"30s\"\nretries = 3");
    let p = refused_alone(&text, "unknown-field", "stage \"reserve-port\"");
    assert_mentions(&p, &["timeout", "remove it or correct its spelling"]);
    let found = problems(&text);
    assert_eq!(found.len(), 2, "both unknown keys: {}", listing(&found));
    assert!(found.iter().any(|p| p.message.contains("`timout`")));
    assert!(found.iter().any(|p| p.message.contains("`retries`")));

    let nested = with_approval_lines("sla = [ { after = \"4h\", acton = \"remind\" } ]");
    let p = refused(&nested, "unknown-field", "stage \"feasibility\"");
    assert_mentions(&p, &["`sla`", "acton"]);
    let top = format!("titel = \"x\"\n{BASE}");
    let p = refused_alone(&top, "unknown-field", "");
    assert_mentions(&p, &["titel"]);
}

#[test]
fn values_of_the_wrong_type_are_refused_naming_the_key() {
    let text = with_task_lines("timeout = 30");
    let p = refused_alone(&text, "bad-field", "stage \"reserve-port\"");
    assert_mentions(&p, &["`timeout`", "expected a string"]);
}

#[test]
fn missing_required_fields_are_refused() {
    let p = refused(
        &BASE.replace("handler = \"network.reserve-port\"\n", ""),
        "missing-field",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["needs `handler`"]);
    let p = refused(
        &BASE.replace("group = \"network-engineering\"\n", ""),
        "missing-field",
        "stage \"feasibility\"",
    );
    assert_mentions(&p, &["needs `group`"]);
    let p = refused(
        &BASE.replace("kind = \"end\"\n", ""),
        "missing-field",
        "stage \"done\"",
    );
    assert_mentions(&p, &["kind"]);
    refused(
        &BASE.replace("description = \"Test workflow\"\n", ""),
        "missing-field",
        "",
    );
}

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

#[test]
fn unknown_handlers_are_refused() {
    let text = BASE.replace("network.reserve-port", "network.reserv-port");
    let p = refused_alone(&text, "unknown-handler", "stage \"reserve-port\"");
    assert_mentions(
        &p,
        &[
            "handler `network.reserv-port`",
            "network.reserve-port, noop",
        ],
    );
    let text = with_task_lines("compensation = \"network.undo\"");
    let p = refused_alone(&text, "unknown-handler", "stage \"reserve-port\"");
    assert_mentions(&p, &["compensation `network.undo`"]);
}

#[test]
fn unknown_groups_are_refused() {
    let text = BASE.replace("network-engineering", "network-engineers");
    let p = refused_alone(&text, "unknown-group", "stage \"feasibility\"");
    assert_mentions(&p, &["group `network-engineers`", "groups.toml"]);
    let text = with_approval_lines(
        "sla = [ { after = \"1d\", action = \"reassign\", group = \"nobody\" } ]",
    );
    let p = refused_alone(&text, "unknown-group", "stage \"feasibility\"");
    assert_mentions(&p, &["sla step 1: group `nobody`"]);
}

#[test]
fn conditions_and_expressions_that_do_not_compile_are_refused() {
    let text = BASE.replacen(
        "to = \"reserve-port\"\n",
        "to = \"reserve-port\"\nwhen = \"input.mrc >\"\n",
        1,
    );
    let p = refused_alone(&text, "bad-expression", "edge feasibility -> reserve-port");
    assert_mentions(&p, &["when `input.mrc >` does not compile", "Syntax error"]);
    let text = BASE.replacen(
        "to = \"reserve-port\"\n",
        "to = \"reserve-port\"\nwhen = \"order.mrc > 1000\"\n",
        1,
    );
    let p = refused_alone(&text, "bad-expression", "edge feasibility -> reserve-port");
    assert_mentions(&p, &["order", "`input` and `output`"]);
}

#[test]
fn bad_durations_are_refused() {
    let p = refused_alone(
        &with_task_lines("timeout = \"soon\""),
        "bad-duration",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["timeout `soon` is not a duration"]);
    let p = refused_alone(
        &with_task_lines("timeout = \"0s\""),
        "bad-duration",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["zero"]);
    let p = refused_alone(
        &with_approval_lines("sla = [ { after = \"4 parsecs\", action = \"remind\" } ]"),
        "bad-duration",
        "stage \"feasibility\"",
    );
    assert_mentions(&p, &["sla step 1: after `4 parsecs`"]);
    let p = refused_alone(
        &with_task_lines("retry = { backoff = \"fast\" }"),
        "bad-duration",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["retry.backoff"]);
}

#[test]
fn bad_quorums_are_refused() {
    for (quorum, needle) in [
        ("0", "quorum 0"),
        ("-2", "quorum -2"),
        ("\"most\"", "quorum \"most\""),
    ] {
        let text = with_approval_lines(&format!("quorum = {quorum}"));
        let p = refused_alone(&text, "bad-quorum", "stage \"feasibility\"");
        assert_mentions(&p, &[needle, "positive number"]);
    }
    for quorum in ["\"all\"", "\"any\"", "3"] {
        let text = with_approval_lines(&format!("quorum = {quorum}"));
        load(&text).unwrap_or_else(|e| panic!("quorum {quorum}: {e}"));
    }
    let manual = BASE.replace("kind = \"approval\"", "kind = \"manual\"\nquorum = \"all\"");
    let p = refused_alone(&manual, "bad-quorum", "stage \"feasibility\"");
    assert_mentions(&p, &["manual stage is done once"]);
    let manual_any = BASE.replace("kind = \"approval\"", "kind = \"manual\"\nquorum = \"any\"");
    load(&manual_any).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn bad_sla_steps_are_refused() {
    let cases = [
        ("{ after = \"1h\", action = \"shout\" }", "action `shout`"),
        ("{ after = \"1h\", action = \"reassign\" }", "reassign needs `group`"),
        (
            "{ after = \"1h\", action = \"remind\", group = \"network-leads\" }",
            "applies only to reassign",
        ),
        (
            "{ after = \"4h\", action = \"remind\" }, { after = \"1h\", action = \"remind\" }",
            "increasing `after` order",
        ),
        (
            "{ after = \"1h\", action = \"auto-approve\" }, { after = \"4h\", action = \"remind\" }",
            "can never run",
        ),
    ];
    for (steps, needle) in cases {
        let text = with_approval_lines(&format!("sla = [ {steps} ]"));
        let p = refused_alone(&text, "bad-sla", "stage \"feasibility\"");
        assert_mentions(&p, &[needle]);
    }
    let manual = BASE.replace(
        "kind = \"approval\"",
        "kind = \"manual\"\nsla = [ { after = \"1h\", action = \"auto-approve\" } ]",
    );
    let p = refused_alone(&manual, "bad-sla", "stage \"feasibility\"");
    assert_mentions(&p, &["cannot complete a manual stage"]);
}

#[test]
fn bad_retry_policies_are_refused() {
    let p = refused_alone(
        &with_task_lines("retry = { max_attempts = 0 }"),
        "bad-retry",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["max_attempts must be 1 or more"]);
    let p = refused_alone(
        &with_task_lines("retry = { backoff = \"10m\" }"),
        "bad-retry",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["longer than retry.max_backoff 5m"]);
}

fn with_timer(lines: &str) -> String {
    BASE.replacen(
        "[[stage]]\nid = \"done\"",
        &format!("[[stage]]\nid = \"wait\"\nkind = \"timer\"\n{lines}\n\n[[stage]]\nid = \"done\""),
        1,
    )
    .replace(
        "from = \"reserve-port\"\nto = \"done\"",
        "from = \"reserve-port\"\nto = \"wait\"",
    ) + &edge("wait", "done")
}

#[test]
fn timers_need_exactly_one_of_duration_and_until() {
    load(&with_timer("duration = \"2h\"")).unwrap_or_else(|e| panic!("{e}"));
    load(&with_timer("until = \"input.requested_date\"")).unwrap_or_else(|e| panic!("{e}"));
    let p = refused_alone(
        &with_timer("duration = \"2h\"\nuntil = \"input.requested_date\""),
        "timer-wait",
        "stage \"wait\"",
    );
    assert_mentions(&p, &["not both"]);
    let p = refused_alone(&with_timer(""), "timer-wait", "stage \"wait\"");
    assert_mentions(&p, &["needs `duration`", "or `until`"]);
    let p = refused_alone(
        &with_timer("until = \"input.date +\""),
        "bad-expression",
        "stage \"wait\"",
    );
    assert_mentions(&p, &["until `input.date +`"]);
}

fn with_subflow(lines: &str) -> String {
    BASE.replace(
        "kind = \"task\"\nhandler = \"network.reserve-port\"",
        &format!("kind = \"subflow\"\n{lines}"),
    )
}

#[test]
fn subflows_need_exactly_one_of_workflow_and_workflow_field() {
    let ok = with_subflow("items = \"input.items\"\nworkflow_field = \"workflow\"");
    let d = load(&ok).unwrap_or_else(|e| panic!("{e}"));
    let StageKind::Subflow(sub) = &d.stages[1].kind else {
        panic!("subflow")
    };
    assert_eq!(sub.workflow, ChildWorkflow::FromField("workflow".into()));
    assert_eq!(sub.on_child_failure, ChildFailure::Report);
    let p = refused_alone(
        &with_subflow("items = \"input.items\"\nworkflow = \"lan\"\nworkflow_field = \"w\""),
        "subflow-target",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["not both"]);
    let p = refused_alone(
        &with_subflow("items = \"input.items\""),
        "subflow-target",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["needs `workflow`"]);
    let p = refused_alone(
        &with_subflow("items = \"input.items[\"\nworkflow_field = \"w\""),
        "bad-expression",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["items `input.items[`"]);
    let p = refused_alone(
        &with_subflow("items = \"input.items\"\nworkflow_field = \"w\"\non_child_failure = \"x\""),
        "bad-value",
        "stage \"reserve-port\"",
    );
    assert_mentions(&p, &["\"report\" or \"fail\""]);
}

#[test]
fn subflows_must_name_a_loaded_workflow() {
    let text = with_subflow("items = \"input.items\"\nworkflow = \"lan-setup\"");
    let p = refused_alone(&text, "unknown-workflow", "stage \"reserve-port\"");
    assert_mentions(&p, &["`lan-setup`", "wan-link"]);
    let lan = (
        "lan-setup.toml".to_owned(),
        "description = \"LAN\"\n[[stage]]\nid = \"done\"\nkind = \"end\"\n".to_owned(),
    );
    let set = Definitions::from_sources(&[(FILE.to_owned(), text), lan], &known())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.names().collect::<Vec<_>>(), ["lan-setup", "wan-link"]);
}

fn subflow_to(target: &str) -> String {
    format!(
        "description = \"calls {target}\"\n\
         [[stage]]\nid = \"children\"\nkind = \"subflow\"\nitems = \"input.items\"\nworkflow = \"{target}\"\n\
         [[stage]]\nid = \"done\"\nkind = \"end\"\n\
         [[edge]]\nfrom = \"children\"\nto = \"done\"\n"
    )
}

#[test]
fn subflows_leading_back_to_their_workflow_are_refused() {
    let sources = [
        ("a.toml".to_owned(), subflow_to("b")),
        ("b.toml".to_owned(), subflow_to("c")),
        ("c.toml".to_owned(), subflow_to("a")),
    ];
    let Err(DefinitionError::Invalid(found)) = Definitions::from_sources(&sources, &known()) else {
        panic!("a subflow cycle loaded")
    };
    assert_eq!(found.len(), 3, "{}", listing(&found));
    let a = &found[0];
    assert_eq!((a.file.as_str(), a.rule), ("a.toml", "subflow-cycle"));
    assert_eq!(a.location, "stage \"children\"");
    assert!(a.message.contains("a -> b -> c -> a"), "{a}");
    assert!(
        found[1].message.contains("b -> c -> a -> b"),
        "{}",
        found[1]
    );

    let own = Definitions::single("a.toml", &subflow_to("a"), &known());
    let Err(DefinitionError::Invalid(found)) = own else {
        panic!("a workflow starting itself loaded")
    };
    assert_eq!(found.len(), 1, "{}", listing(&found));
    assert_eq!(found[0].rule, "subflow-cycle");
    assert!(found[0].message.contains("a -> a"), "{}", found[0]);
}

#[test]
fn stage_ids_kinds_and_misplaced_fields_are_checked() {
    let p = refused_alone(
        &BASE.replace("kind = \"end\"", "kind = \"finish\""),
        "unknown-kind",
        "stage \"done\"",
    );
    assert_mentions(
        &p,
        &["`finish`", "approval, manual, task, timer, subflow, end"],
    );
    let p = refused_alone(
        &with_approval_lines("timeout = \"30s\""),
        "misplaced-field",
        "stage \"feasibility\"",
    );
    assert_mentions(
        &p,
        &[
            "`timeout` does not apply to a approval stage",
            "only to task",
        ],
    );
    let text = BASE.replace("\"done\"", "\"Done\"");
    refused_alone(&text, "bad-id", "stage \"Done\"");
}

#[test]
fn file_names_descriptions_and_versions_are_checked() {
    let found = match Definition::from_toml("WAN_link.toml", BASE, &known()) {
        Err(DefinitionError::Invalid(found)) => found,
        other => panic!("expected a bad name, got {other:?}"),
    };
    assert_eq!(found.len(), 1);
    assert_eq!(
        (found[0].rule, found[0].file.as_str()),
        ("bad-name", "WAN_link.toml")
    );
    refused_alone(&BASE.replace("Test workflow", " "), "empty-description", "");
    refused_alone(&format!("version = 0\n{BASE}"), "bad-version", "");
    let p = refused_alone("description = \"nothing\"\n", "no-stages", "");
    assert_mentions(&p, &["add [[stage]] tables"]);
    let same_name = [
        ("a/wan-link.toml".to_owned(), BASE.to_owned()),
        ("b/wan-link.toml".to_owned(), BASE.to_owned()),
    ];
    let Err(DefinitionError::Invalid(found)) = Definitions::from_sources(&same_name, &known())
    else {
        panic!("two definitions of one workflow loaded")
    };
    assert_eq!(found[0].rule, "duplicate-workflow");
    assert_eq!(found[0].file, "b/wan-link.toml");
    assert!(found[0].message.contains("a/wan-link.toml"));
}

#[test]
fn groups_files_are_checked() {
    let text =
        "[groups.Sales]\ndescription = \"x\"\n[groups.ops]\ndescription = \"\"\nowner = \"me\"\n";
    let Err(DefinitionError::Invalid(found)) = parse_groups("groups.toml", text) else {
        panic!("a broken groups file loaded")
    };
    let rules: Vec<(&str, &str)> = found
        .iter()
        .map(|p| (p.rule, p.location.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("bad-name", "group \"Sales\""),
            ("unknown-field", "group \"ops\""),
            ("empty-description", "group \"ops\""),
        ],
        "{}",
        listing(&found)
    );
}

#[test]
fn a_missing_directory_or_groups_file_is_an_io_error_naming_the_path() {
    let missing = fixtures().join("no-such-dir");
    let err = Definitions::load_dir(&missing, &known()).expect_err("no directory");
    assert!(matches!(err, DefinitionError::Read { .. }));
    assert!(
        err.to_string().contains("no-such-dir: cannot read it"),
        "{err}"
    );
    assert!(err.problems().is_empty());
    let err = load_groups(&missing.join("groups.toml")).expect_err("no file");
    assert!(err.to_string().contains("groups.toml"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Every mistake at once

#[test]
fn a_file_with_several_mistakes_reports_all_of_them() {
    let dir = fixtures().join("bad");
    let groups = load_groups(&dir.join("groups.toml")).unwrap_or_else(|e| panic!("{e}"));
    let err = Definitions::load_dir(&dir, &Known::new(["noop"], groups)).expect_err("refused");
    let found = err.problems();
    let expected = [
        ("broken.toml", "unknown-group", "stage \"feasibility\""),
        ("broken.toml", "bad-quorum", "stage \"feasibility\""),
        ("broken.toml", "unknown-handler", "stage \"configure\""),
        ("broken.toml", "bad-duration", "stage \"configure\""),
        ("broken.toml", "timer-wait", "stage \"wait\""),
        (
            "broken.toml",
            "bad-expression",
            "edge feasibility -> configure",
        ),
        ("broken.toml", "no-end", "stage \"configure\""),
        ("order.toml", "unknown-workflow", "stage \"items\""),
    ];
    let got: Vec<(String, &str, &str)> = found
        .iter()
        .map(|p| {
            let file = Path::new(&p.file)
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or_default()
                .to_owned();
            (file, p.rule, p.location.as_str())
        })
        .collect();
    let got: Vec<(&str, &str, &str)> = got.iter().map(|(f, r, l)| (f.as_str(), *r, *l)).collect();
    assert_eq!(got, expected, "{}", listing(found));
    let shown = err.to_string();
    assert!(
        shown.starts_with("8 problem(s) in workflow definitions:\n  - "),
        "{shown}"
    );
    assert!(
        shown.contains("bad/broken.toml: stage \"configure\": handler `network.configure`"),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// Drawings

#[test]
fn dot_output_shows_every_stage_kind_and_condition() {
    let set = good_set();
    let d = set.get("order").expect("order");
    let dot = render::dot(&d);
    assert!(dot.starts_with("digraph {"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    for needle in [
        "0 [ label = \"commercial-approval\\l(approval)\\l\" shape = diamond penwidth = 2 ]",
        "label = \"credit-check\\l(task)\\l\" shape = box ]",
        "(subflow)\\l\" shape = box3d",
        "(end)\\l\" shape = doublecircle",
        "0 -> 1 [ label = \"\" ]",
        "0 -> 2 [ label = \"input.onsite == true\" style = dashed ]",
    ] {
        assert!(dot.contains(needle), "{needle:?} missing in:\n{dot}");
    }
    assert_eq!(dot.matches(" -> ").count(), 6, "{dot}");
}

#[test]
fn mermaid_output_is_a_flowchart_with_escaped_labels() {
    let set = good_set();
    let d = set.get("order").expect("order");
    let m = render::mermaid(&d);
    assert!(m.starts_with("flowchart TD\n"), "{m}");
    for needle in [
        "    s0{\"commercial-approval<br/>approval\"}\n",
        "    s1[\"credit-check<br/>task\"]\n",
        "    s2[/\"site-visit<br/>manual\"/]\n",
        "    s3{{\"wait-for-date<br/>timer\"}}\n",
        "    s4[[\"items<br/>subflow\"]]\n",
        "    s5([\"done<br/>end\"])\n",
        "    s0 --> s1\n",
        "    s0 -->|\"input.onsite == true\"| s2\n",
    ] {
        assert!(m.contains(needle), "{needle:?} missing in:\n{m}");
    }
    let quoted = BASE.replacen(
        "to = \"reserve-port\"\n",
        "to = \"reserve-port\"\nwhen = 'input.segment == \"smb\" || input.mrc > 10'\n",
        1,
    );
    let m = render::mermaid(&load(&quoted).unwrap_or_else(|e| panic!("{e}")));
    assert!(
        m.contains("s0 -->|\"input.segment == #quot;smb#quot; #124;#124; input.mrc #gt; 10\"| s1"),
        "{m}"
    );
}

#[test]
fn text_output_lists_stages_in_topological_order_with_their_settings() {
    let set = good_set();
    let d = set.get("order").expect("order");
    let t = render::text(&d);
    assert!(
        t.starts_with("order — Fixture order workflow\nversion 2, sha256 "),
        "{t}"
    );
    assert!(t.contains("start: commercial-approval\n"), "{t}");
    for needle in [
        "1. commercial-approval [approval] — Commercial approval\n",
        "   group sales-managers, quorum 2\n",
        "   sla: after 4h remind; after 1d reassign to network-leads; after 3d auto-reject\n",
        "   -> site-visit when input.onsite == true\n",
        "2. credit-check [task]\n",
        "   handler noop, compensation noop, timeout 30s\n",
        "   retry: 5 attempts, backoff 1s up to 5m\n",
        "4. wait-for-date [timer]\n   wait until input.requested_date\n",
        "   one child per element of input.items, running workflow site-survey; a failed child fails the stage\n",
        "6. done [end]\n",
    ] {
        assert!(t.contains(needle), "{needle:?} missing in:\n{t}");
    }
}

// ---------------------------------------------------------------------------------------------
// Random graphs

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
