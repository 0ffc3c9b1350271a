//! Mistakes in a stage's settings, each refused naming the stage: unknown handlers and
//! groups, expressions that do not compile, durations, quorums, SLA steps, retry policies,
//! timers, and subflows (their targets across files included).

use super::{
    assert_mentions, edge, known, listing, load, refused_alone, with_approval_lines,
    with_task_lines, BASE, FILE,
};
use l2c_engine::definition::{
    ChildFailure, ChildWorkflow, DefinitionError, Definitions, StageKind,
};

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
