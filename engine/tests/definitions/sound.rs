//! Sound definitions load into the graph the runtime relies on, with their settings and
//! defaults and a version hash; the repository's groups file and the annotated example in
//! docs/workflows.md load too.

use super::{good_set, load, BASE};
use l2c_engine::definition::{
    load_groups, parse_groups, ChildFailure, ChildWorkflow, Definitions, Known, Quorum,
    RetryPolicy, SlaAction, StageKind, Wait,
};
use std::path::Path;
use std::time::Duration;

#[test]
fn the_base_workflow_loads() {
    let d = load(BASE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.name, "wan-link");
    assert_eq!(d.description, "Test workflow");
    assert_eq!(d.stages.len(), 3);
    assert_eq!(d.start, 0);
    assert_eq!(d.version.number, None);
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

/// The ```toml blocks of docs/workflows.md as (file name, text), the file name taken from the
/// block's first line `# workflows/<file>`.
fn doc_blocks() -> Vec<(String, String)> {
    let doc = include_str!("../../../docs/workflows.md");
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
