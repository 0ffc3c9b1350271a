//! Subflows: one child instance per item, the parent waiting for all of them and reporting
//! the failed ones.

use super::timers::UNTIL;
use super::{logged, logging_handlers, status};
use crate::scenario::{count, harness, timeline};
use crate::support::Backend;
use l2c_engine::handler::HandlerError;
use serde_json::json;

crate::conformance!(
    subflow_reports_failed_children,
    subflow_waits_for_children_after_one_ends_at_once,
);

const PARENT: &str = r#"
[[stage]]
id = "items"
kind = "subflow"
items = "input.items"
workflow_field = "workflow"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "items"
to = "done"
"#;

const CHILD_OK: &str = r#"
[[stage]]
id = "work"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "work"
to = "done"
"#;

const CHILD_BAD: &str = r#"
[[stage]]
id = "work"
kind = "task"
handler = "boom"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "work"
to = "done"
"#;

async fn subflow_reports_failed_children(backend: Backend) {
    let (mut handlers, log) = logging_handlers(&["log"]);
    handlers.register("boom", |_ctx| async {
        Err(HandlerError::Fatal("port does not exist".into()))
    });
    let defs = [
        ("parent", PARENT),
        ("child-ok", CHILD_OK),
        ("child-bad", CHILD_BAD),
    ];
    let h = harness(backend, &defs, handlers).await;
    let items = json!({"items": [
        {"workflow": "child-ok", "sku": "a"},
        {"workflow": "child-bad", "sku": "b"},
        {"workflow": "child-ok", "sku": "c"},
    ]});
    let id = h.engine.start("parent", items, None).await.expect("start");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(logged(&log), ["work", "work"]);
    let parent = h.engine.instance(&id).await.expect("parent");
    assert_eq!(parent.status, "completed");
    assert_eq!(parent.output["items"]["failed"], json!([1]));
    let children = h.engine.children(&id).await.expect("children");
    let statuses: Vec<&str> = children.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, ["completed", "failed", "completed"]);
    assert_eq!(children[1].input["sku"], "b");
}

async fn subflow_waits_for_children_after_one_ends_at_once(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let defs = [("parent", PARENT), ("until", UNTIL), ("child-ok", CHILD_OK)];
    let h = harness(backend, &defs, handlers).await;
    // The first child's timer has no date: it fails in the transaction that creates it,
    // before its sibling exists. The subflow must still wait for the sibling.
    let items = json!({"items": [
        {"workflow": "until"},
        {"workflow": "child-ok", "sku": "b"},
    ]});
    let id = h.engine.start("parent", items, None).await.expect("start");
    assert_eq!(
        status(&h, &id).await,
        "running",
        "the sibling has not run yet"
    );
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(logged(&log), ["work"]);
    let parent = h.engine.instance(&id).await.expect("parent");
    assert_eq!(parent.status, "completed");
    assert_eq!(parent.output["items"]["failed"], json!([0]));
    let reported = parent.output["items"]["children"].as_array().map(Vec::len);
    assert_eq!(reported, Some(2), "{}", parent.output);
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.completed:items"), 1, "{t:?}");
    // When every child ends at once, the subflow ends in the same transaction.
    let items = json!({"items": [{"workflow": "until"}, {"workflow": "until"}]});
    let id = h.engine.start("parent", items, None).await.expect("start");
    let parent = h.engine.instance(&id).await.expect("parent");
    assert_eq!(parent.status, "completed");
    assert_eq!(parent.output["items"]["failed"], json!([0, 1]));
}
