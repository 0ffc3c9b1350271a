//! Moving through the graph: a linear flow, forks and joins (also across transactions),
//! conditions and dead-path elimination, and starting inside the caller's transaction.

use super::{logged, logging_handlers, one_task, status};
use crate::scenario::{count, harness, timeline};
use crate::support::Backend;
use l2c_engine::runtime::Outcome;
use l2c_engine::EngineError;
use serde_json::json;

crate::conformance!(
    linear_flow,
    fork_and_join,
    join_across_transactions,
    dead_path_false_condition,
    live_path_true_condition,
    start_joins_the_callers_transaction,
);

const LINEAR: &str = r#"
[[stage]]
id = "a"
kind = "task"
handler = "log"
[[stage]]
id = "b"
kind = "task"
handler = "log"
[[stage]]
id = "c"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "a"
to = "b"
[[edge]]
from = "b"
to = "c"
[[edge]]
from = "c"
to = "done"
"#;

async fn linear_flow(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("linear", LINEAR)], handlers).await;
    let id = h
        .engine
        .start("linear", json!({"n": 1}), Some("order-1"))
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(logged(&log), ["a", "b", "c"]);
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(inst.output, json!({"a": true, "b": true, "c": true}));
    assert_eq!(inst.business_key.as_deref(), Some("order-1"));
    let t = timeline(&h.engine, &id).await;
    for stage in ["a", "b", "c"] {
        assert_eq!(count(&t, &format!("step.completed:{stage}")), 1, "{t:?}");
    }
    assert_eq!(t.first().map(String::as_str), Some("instance.started"));
    assert_eq!(t.last().map(String::as_str), Some("instance.completed"));
}

const FORK_JOIN: &str = r#"
[[stage]]
id = "start"
kind = "task"
handler = "log"
[[stage]]
id = "left"
kind = "task"
handler = "log"
[[stage]]
id = "right"
kind = "task"
handler = "log"
[[stage]]
id = "join"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "start"
to = "left"
[[edge]]
from = "start"
to = "right"
[[edge]]
from = "left"
to = "join"
[[edge]]
from = "right"
to = "join"
[[edge]]
from = "join"
to = "done"
"#;

async fn fork_and_join(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("fork", FORK_JOIN)], handlers).await;
    let id = h
        .engine
        .start("fork", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let calls = logged(&log);
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[0], "start");
    assert_eq!(calls[3], "join", "the join runs once, after both branches");
    assert_eq!(status(&h, &id).await, "completed");
}

/// A fork whose branches end in different transactions: a task (a worker's) and an approval
/// (an approver's), so the join's first arrival is stored and read back for the second.
const FORK_APPROVAL: &str = r#"
[[stage]]
id = "start"
kind = "task"
handler = "log"
[[stage]]
id = "auto"
kind = "task"
handler = "log"
[[stage]]
id = "approve"
kind = "approval"
group = "approvers"
sla = [ { after = "1d", action = "remind" } ]
[[stage]]
id = "join"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "start"
to = "auto"
[[edge]]
from = "start"
to = "approve"
[[edge]]
from = "auto"
to = "join"
[[edge]]
from = "approve"
to = "join"
[[edge]]
from = "join"
to = "done"
"#;

async fn join_across_transactions(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("fa", FORK_APPROVAL)], handlers).await;
    // Three instances, so one worker batch carries several instances' arrivals.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(h.engine.start("fa", json!({}), None).await.expect("start"));
    }
    h.engine.run_until_idle().await.expect("run");
    let ran = |stage: &str| logged(&log).iter().filter(|s| *s == stage).count();
    assert_eq!(ran("auto"), 3);
    assert_eq!(ran("join"), 0, "each join waits for its approval");
    for (n, id) in ids.iter().enumerate() {
        let task = one_task(&h, id).await;
        h.engine
            .complete_task(&task, "alice", Outcome::Approve)
            .await
            .expect("approve");
        h.engine.run_until_idle().await.expect("run");
        assert_eq!(
            ran("join"),
            n + 1,
            "the join runs once its last edge arrives"
        );
        assert_eq!(status(&h, id).await, "completed");
        let t = timeline(&h.engine, id).await;
        assert_eq!(count(&t, "task.created:approve"), 1, "{t:?}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM wf_edges WHERE target = 'join'")
        .fetch_one(&h.db.db.pool)
        .await
        .expect("edges");
    assert_eq!(rows, 6, "two stored arrivals per join");
    let timers: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM wf_timers WHERE state = 'cancelled'")
            .fetch_one(&h.db.db.pool)
            .await
            .expect("timers");
    assert_eq!(timers, 3, "each decided task's SLA timer is cancelled");
}

const CONDITIONAL: &str = r#"
[[stage]]
id = "start"
kind = "task"
handler = "log"
[[stage]]
id = "extra"
kind = "task"
handler = "log"
[[stage]]
id = "always"
kind = "task"
handler = "log"
[[stage]]
id = "join"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "start"
to = "extra"
when = "input.mrc > 1000"
[[edge]]
from = "start"
to = "always"
[[edge]]
from = "extra"
to = "join"
[[edge]]
from = "always"
to = "join"
[[edge]]
from = "join"
to = "done"
"#;

async fn dead_path_false_condition(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("cond", CONDITIONAL)], handlers).await;
    let id = h
        .engine
        .start("cond", json!({"mrc": 10}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(logged(&log), ["start", "always", "join"]);
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    let extra = inst
        .steps
        .iter()
        .find(|s| s.stage == "extra")
        .expect("extra step");
    assert_eq!(extra.state, "dead");
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "branch.skipped:start"), 1, "{t:?}");
}

async fn live_path_true_condition(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("cond", CONDITIONAL)], handlers).await;
    let id = h
        .engine
        .start("cond", json!({"mrc": 5000}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let calls = logged(&log);
    assert_eq!(calls.len(), 4, "{calls:?}");
    assert_eq!(calls[3], "join");
    assert_eq!(status(&h, &id).await, "completed");
}

async fn start_joins_the_callers_transaction(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("linear", LINEAR)], handlers).await;
    let mut tx = h.engine.db().begin_write().await.expect("begin");
    let rolled_back = h
        .engine
        .start_in(&mut tx, "linear", json!({}), None)
        .await
        .expect("start");
    tx.rollback().await.expect("rollback");
    assert!(matches!(
        h.engine.instance(&rolled_back).await,
        Err(EngineError::NotFound { .. })
    ));
    let mut tx = h.engine.db().begin_write().await.expect("begin");
    let committed = h
        .engine
        .start_in(&mut tx, "linear", json!({}), None)
        .await
        .expect("start");
    tx.commit().await.expect("commit");
    h.engine.wake();
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &committed).await, "completed");
    assert!(h
        .engine
        .history(&rolled_back)
        .await
        .expect("history")
        .is_empty());
}
