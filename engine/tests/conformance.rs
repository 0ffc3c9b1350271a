//! The engine's conformance suite: every scenario runs on SQLite and on PostgreSQL (a fresh
//! database per test). The PostgreSQL twins are ignored unless the tests were built with
//! `L2C_TEST_DATABASE_URL` set; then they need it at run time too.

#[path = "support/scenario.rs"]
mod scenario;
mod support;

use l2c_engine::handler::{HandlerError, Handlers};
use l2c_engine::runtime::{InstanceStatus, Outcome};
use l2c_engine::EngineError;
use scenario::{count, harness, harness_with, timeline, Harness};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::Backend;

conformance!(
    linear_flow,
    fork_and_join,
    join_across_transactions,
    dead_path_false_condition,
    live_path_true_condition,
    quorum_any,
    quorum_all,
    quorum_count,
    forbidden_actor_is_refused,
    reject_needs_a_reason,
    retry_then_success,
    incident_retry_and_skip,
    compensation_in_reverse_on_reject,
    timer_stage_waits_for_the_clock,
    sla_reminds_reassigns_and_rejects,
    subflow_reports_failed_children,
    subflow_waits_for_children_after_one_ends_at_once,
    a_branch_that_succeeds_after_its_sibling_failed_is_undone,
    cancellation_compensates,
    start_joins_the_callers_transaction,
    timer_until_a_date_from_the_input,
    release_lets_another_approver_act,
    handler_timeout_counts_as_a_retryable_failure,
);

/// Handlers that append `stage` (or `undo:stage`) to a shared log and return `{stage: true}`.
fn logging_handlers(names: &[&str]) -> (Handlers, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut handlers = Handlers::new();
    for name in names {
        let log = log.clone();
        let name = name.to_string();
        handlers.register(name.clone(), move |ctx| {
            let log = log.clone();
            let entry = if ctx.compensating {
                format!("undo:{}", ctx.stage.trim_start_matches("compensate:"))
            } else {
                ctx.stage.clone()
            };
            let key = ctx.stage.replace('-', "_");
            async move {
                log.lock().expect("log").push(entry);
                Ok(json!({ key: true }))
            }
        });
    }
    (handlers, log)
}

fn logged(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().expect("log").clone()
}

async fn status(h: &Harness, id: &str) -> InstanceStatus {
    h.engine.instance(id).await.expect("instance").status
}

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

fn approval(quorum: &str) -> String {
    format!(
        r#"
[[stage]]
id = "approve"
kind = "approval"
group = "approvers"
quorum = {quorum}
[[stage]]
id = "after"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "approve"
to = "after"
[[edge]]
from = "after"
to = "done"
"#
    )
}

async fn one_task(h: &Harness, id: &str) -> String {
    let tasks = h.engine.instance_tasks(id).await.expect("tasks");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks[0].id.clone()
}

async fn quorum_any(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let def = approval("\"any\"");
    let h = harness(backend, &[("appr", &def)], handlers).await;
    let id = h
        .engine
        .start("appr", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let open = h.engine.open_tasks("approvers").await.expect("queue");
    assert_eq!(open.len(), 1);
    assert!(logged(&log).is_empty(), "nothing runs before approval");
    h.engine
        .claim_task(&open[0].id, "alice")
        .await
        .expect("claim");
    let taken = h
        .engine
        .complete_task(&open[0].id, "bob", Outcome::Approve)
        .await;
    assert!(matches!(taken, Err(EngineError::Conflict(_))), "{taken:?}");
    h.engine
        .complete_task(&open[0].id, "alice", Outcome::Approve)
        .await
        .expect("approve");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(logged(&log), ["after"]);
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(inst.output["approve"]["approved_by"], json!(["alice"]));
    assert!(h
        .engine
        .open_tasks("approvers")
        .await
        .expect("queue")
        .is_empty());
}

async fn quorum_all(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let def = approval("\"all\"");
    let directory: l2c_engine::runtime::Directory =
        Arc::new(|_group: &str| vec!["alice".to_string(), "bob".to_string()]);
    let h = harness_with(backend, &[("appr", &def)], handlers, |b| {
        b.directory(directory)
    })
    .await;
    let id = h
        .engine
        .start("appr", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let task = one_task(&h, &id).await;
    h.engine
        .complete_task(&task, "alice", Outcome::Approve)
        .await
        .expect("alice");
    let again = h
        .engine
        .complete_task(&task, "alice", Outcome::Approve)
        .await;
    assert!(matches!(again, Err(EngineError::Conflict(_))), "{again:?}");
    let outsider = h
        .engine
        .complete_task(&task, "carol", Outcome::Approve)
        .await;
    assert!(
        matches!(outsider, Err(EngineError::Forbidden(_))),
        "{outsider:?}"
    );
    assert_eq!(status(&h, &id).await, "running");
    h.engine
        .complete_task(&task, "bob", Outcome::Approve)
        .await
        .expect("bob");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "completed");
}

async fn quorum_count(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let def = approval("2");
    let h = harness(backend, &[("appr", &def)], handlers).await;
    let id = h
        .engine
        .start("appr", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let task = one_task(&h, &id).await;
    h.engine
        .complete_task(&task, "alice", Outcome::Approve)
        .await
        .expect("alice");
    assert_eq!(
        h.engine.open_tasks("approvers").await.expect("queue")[0].approvals,
        1
    );
    assert_eq!(status(&h, &id).await, "running");
    h.engine
        .complete_task(&task, "bob", Outcome::Approve)
        .await
        .expect("bob");
    h.engine.run_until_idle().await.expect("run");
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(
        inst.output["approve"]["approved_by"],
        json!(["alice", "bob"])
    );
}

async fn forbidden_actor_is_refused(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let def = approval("\"any\"");
    let check: l2c_engine::runtime::ActorCheck = Arc::new(|req| {
        if req.input.get("requester").and_then(Value::as_str) == Some(req.actor) {
            Err(format!(
                "{} requested this order and cannot approve it",
                req.actor
            ))
        } else {
            Ok(())
        }
    });
    let h = harness_with(backend, &[("appr", &def)], handlers, |b| {
        b.actor_check(check)
    })
    .await;
    let id = h
        .engine
        .start("appr", json!({"requester": "alice"}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let task = one_task(&h, &id).await;
    for attempt in [
        h.engine.claim_task(&task, "alice").await,
        h.engine
            .complete_task(&task, "alice", Outcome::Approve)
            .await,
    ] {
        match attempt {
            Err(EngineError::Forbidden(m)) => assert!(m.contains("cannot approve"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    h.engine
        .complete_task(&task, "bob", Outcome::Approve)
        .await
        .expect("bob approves");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "completed");
}

async fn reject_needs_a_reason(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let def = approval("\"any\"");
    let h = harness(backend, &[("appr", &def)], handlers).await;
    let id = h
        .engine
        .start("appr", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let task = one_task(&h, &id).await;
    let blank = Outcome::Reject {
        reason: "  ".into(),
    };
    match h.engine.complete_task(&task, "alice", blank).await {
        Err(EngineError::Invalid { field, rule, .. }) => {
            assert_eq!((field, rule), ("reason", "required"))
        }
        other => panic!("expected an invalid reason, got {other:?}"),
    }
    assert_eq!(status(&h, &id).await, "running");
    let reason = Outcome::Reject {
        reason: "no capacity at the PoP".into(),
    };
    h.engine
        .complete_task(&task, "alice", reason)
        .await
        .expect("reject");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "rejected");
    assert!(logged(&log).is_empty());
    let history = h.engine.history(&id).await.expect("history");
    let rejected = history
        .iter()
        .find(|e| e.event == "task.rejected")
        .expect("rejection");
    assert_eq!(rejected.actor.as_deref(), Some("alice"));
    assert_eq!(
        rejected.data,
        Some(json!({"reason": "no capacity at the PoP"}))
    );
}

const FLAKY: &str = r#"
[[stage]]
id = "call"
kind = "task"
handler = "flaky"
retry = { max_attempts = 3, backoff = "1s", max_backoff = "10s" }
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "call"
to = "done"
"#;

/// A handler that fails with a retryable error while the counter is below `fail_first`.
fn flaky(fail_first: Arc<AtomicUsize>, calls: Arc<AtomicUsize>) -> Handlers {
    let mut handlers = Handlers::new();
    handlers.register("flaky", move |ctx| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let fail = n < fail_first.load(Ordering::SeqCst);
        async move {
            if fail {
                Err(HandlerError::Retryable(format!(
                    "503 from the provisioner ({})",
                    ctx.idempotency_key
                )))
            } else {
                Ok(json!({"provisioned": true}))
            }
        }
    });
    handlers
}

/// Runs, then moves the clock past any backoff, `rounds` times.
async fn run_with_backoff(h: &Harness, rounds: usize) {
    for _ in 0..rounds {
        h.engine.run_until_idle().await.expect("run");
        h.clock.advance(chrono::Duration::minutes(1));
    }
}

async fn retry_then_success(backend: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let handlers = flaky(Arc::new(AtomicUsize::new(2)), calls.clone());
    let h = harness(backend, &[("flaky", FLAKY)], handlers).await;
    let id = h
        .engine
        .start("flaky", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the retry waits for its backoff"
    );
    run_with_backoff(&h, 4).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(inst.steps[0].attempt, 3);
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.retry:call"), 2, "{t:?}");
    assert_eq!(count(&t, "step.completed:call"), 1);
}

async fn incident_retry_and_skip(backend: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let fail_first = Arc::new(AtomicUsize::new(usize::MAX));
    let handlers = flaky(fail_first.clone(), calls.clone());
    let h = harness(backend, &[("flaky", FLAKY)], handlers).await;
    let retried = h
        .engine
        .start("flaky", json!({}), None)
        .await
        .expect("start");
    let skipped = h
        .engine
        .start("flaky", json!({}), None)
        .await
        .expect("start");
    run_with_backoff(&h, 5).await;
    let incidents = h.engine.incidents().await.expect("incidents");
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert!(incidents[0]
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("503"));
    assert_eq!(calls.load(Ordering::SeqCst), 6, "three attempts each");
    assert_eq!(status(&h, &retried).await, "running");

    fail_first.store(0, Ordering::SeqCst);
    let step = |id: &str| {
        incidents
            .iter()
            .find(|i| i.instance_id == id)
            .expect("incident")
            .step_id
            .clone()
    };
    h.engine
        .retry_incident(&step(&retried), "oscar")
        .await
        .expect("retry");
    h.engine
        .skip_incident(
            &step(&skipped),
            "oscar",
            json!({"skipped_by_operator": true}),
        )
        .await
        .expect("skip");
    let again = h.engine.retry_incident(&step(&skipped), "oscar").await;
    assert!(matches!(again, Err(EngineError::Conflict(_))), "{again:?}");
    h.engine.run_until_idle().await.expect("run");
    assert!(h.engine.incidents().await.expect("incidents").is_empty());
    assert_eq!(
        h.engine.instance(&retried).await.expect("i").output,
        json!({"provisioned": true})
    );
    let skip = h.engine.instance(&skipped).await.expect("i");
    assert_eq!(skip.status, "completed");
    assert_eq!(skip.output, json!({"skipped_by_operator": true}));
    assert_eq!(skip.steps[0].state, "skipped");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        7,
        "the skipped step is not called again"
    );
}

const COMPENSATED: &str = r#"
[[stage]]
id = "reserve"
kind = "task"
handler = "log"
compensation = "log"
[[stage]]
id = "configure"
kind = "task"
handler = "log"
compensation = "log"
[[stage]]
id = "notify"
kind = "task"
handler = "log"
[[stage]]
id = "sign-off"
kind = "approval"
group = "approvers"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "reserve"
to = "configure"
[[edge]]
from = "configure"
to = "notify"
[[edge]]
from = "notify"
to = "sign-off"
[[edge]]
from = "sign-off"
to = "done"
"#;

async fn compensation_in_reverse_on_reject(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("comp", COMPENSATED)], handlers).await;
    let id = h
        .engine
        .start("comp", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let task = one_task(&h, &id).await;
    let reason = Outcome::Reject {
        reason: "customer withdrew".into(),
    };
    h.engine
        .complete_task(&task, "alice", reason)
        .await
        .expect("reject");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(
        logged(&log),
        [
            "reserve",
            "configure",
            "notify",
            "undo:configure",
            "undo:reserve"
        ]
    );
    assert_eq!(status(&h, &id).await, "rejected");
    let t = timeline(&h.engine, &id).await;
    let first = t
        .iter()
        .position(|e| e == "step.completed:compensate:configure");
    let second = t
        .iter()
        .position(|e| e == "step.completed:compensate:reserve");
    assert!(first.is_some() && first < second, "{t:?}");
    assert_eq!(t.last().map(String::as_str), Some("instance.rejected"));
}

const TIMER: &str = r#"
[[stage]]
id = "wait"
kind = "timer"
duration = "2h"
[[stage]]
id = "after"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "wait"
to = "after"
[[edge]]
from = "after"
to = "done"
"#;

async fn timer_stage_waits_for_the_clock(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("timer", TIMER)], handlers).await;
    let id = h
        .engine
        .start("timer", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    h.clock.advance(chrono::Duration::minutes(119));
    h.engine.run_until_idle().await.expect("run");
    assert!(logged(&log).is_empty(), "the timer has not elapsed");
    h.clock.advance(chrono::Duration::minutes(1));
    h.engine.run_until_idle().await.expect("run");
    h.engine
        .run_until_idle()
        .await
        .expect("run again fires nothing twice");
    assert_eq!(logged(&log), ["after"]);
    assert_eq!(status(&h, &id).await, "completed");
    assert_eq!(
        count(&timeline(&h.engine, &id).await, "timer.fired:wait"),
        1
    );
}

const SLA: &str = r#"
[[stage]]
id = "approve"
kind = "approval"
group = "approvers"
sla = [ { after = "1h", action = "remind" },
        { after = "2h", action = "reassign", group = "leads" },
        { after = "3h", action = "auto-reject" } ]
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "approve"
to = "done"
"#;

async fn sla_reminds_reassigns_and_rejects(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("sla", SLA)], handlers).await;
    let id = h.engine.start("sla", json!({}), None).await.expect("start");
    h.engine.run_until_idle().await.expect("run");
    h.clock.advance(chrono::Duration::minutes(61));
    h.engine.run_until_idle().await.expect("run");
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "task.reminder:approve"), 1, "{t:?}");
    assert_eq!(h.engine.open_tasks("approvers").await.expect("q").len(), 1);
    h.clock.advance(chrono::Duration::minutes(60));
    h.engine.run_until_idle().await.expect("run");
    assert!(h
        .engine
        .open_tasks("approvers")
        .await
        .expect("q")
        .is_empty());
    assert_eq!(
        h.engine.open_tasks("leads").await.expect("q").len(),
        1,
        "reassigned"
    );
    h.clock.advance(chrono::Duration::minutes(60));
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "rejected");
    let t = timeline(&h.engine, &id).await;
    assert_eq!(
        count(&t, "task.reminder:approve"),
        1,
        "each escalation fires once: {t:?}"
    );
    assert_eq!(count(&t, "task.rejected:approve"), 1);
}

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

const FAIL_AND_SUCCEED: &str = r#"
[[stage]]
id = "start"
kind = "task"
handler = "log"
[[stage]]
id = "a"
kind = "task"
handler = "boom"
[[stage]]
id = "b"
kind = "task"
handler = "slow"
compensation = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "start"
to = "a"
[[edge]]
from = "start"
to = "b"
[[edge]]
from = "a"
to = "done"
[[edge]]
from = "b"
to = "done"
"#;

async fn a_branch_that_succeeds_after_its_sibling_failed_is_undone(backend: Backend) {
    let (mut handlers, log) = logging_handlers(&["log"]);
    handlers.register("boom", |_ctx| async {
        Err(HandlerError::Fatal("no such port".into()))
    });
    // `b` finishes after `a` failed, so its result comes later in the same recorded batch.
    handlers.register("slow", |_ctx| async {
        tokio::task::yield_now().await;
        Ok(json!({"b": true}))
    });
    let h = harness(backend, &[("fs", FAIL_AND_SUCCEED)], handlers).await;
    let id = h.engine.start("fs", json!({}), None).await.expect("start");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(logged(&log), ["start", "undo:b"]);
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "failed");
    assert!(inst.output.get("b").is_none(), "{}", inst.output);
    let open: i64 = sqlx::query_scalar("SELECT open_steps FROM wf_instances WHERE id = $1")
        .bind(&id)
        .fetch_one(&h.db.db.pool)
        .await
        .expect("open steps");
    assert_eq!(open, 0, "nothing open once the compensation ran");
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.completed:b"), 1, "{t:?}");
}

async fn cancellation_compensates(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("comp", COMPENSATED)], handlers).await;
    let id = h
        .engine
        .start("comp", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let blank = h.engine.cancel(&id, "rita", "").await;
    assert!(
        matches!(
            blank,
            Err(EngineError::Invalid {
                field: "reason",
                ..
            })
        ),
        "{blank:?}"
    );
    h.engine
        .cancel(&id, "rita", "customer cancelled the order")
        .await
        .expect("cancel");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "cancelled");
    assert_eq!(logged(&log)[3..], ["undo:configure", "undo:reserve"]);
    assert!(
        h.engine
            .open_tasks("approvers")
            .await
            .expect("q")
            .is_empty(),
        "its task is withdrawn"
    );
    let twice = h.engine.cancel(&id, "rita", "again").await;
    assert!(matches!(twice, Err(EngineError::Conflict(_))), "{twice:?}");
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

const UNTIL: &str = r#"
[[stage]]
id = "wait"
kind = "timer"
until = "input.due"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "wait"
to = "done"
"#;

async fn timer_until_a_date_from_the_input(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("until", UNTIL)], handlers).await;
    let due = (support::start_time() + chrono::Duration::hours(3)).to_rfc3339();
    let id = h
        .engine
        .start("until", json!({ "due": due }), None)
        .await
        .expect("start");
    h.clock.advance(chrono::Duration::minutes(179));
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "running");
    h.clock.advance(chrono::Duration::minutes(1));
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "completed");
}

async fn release_lets_another_approver_act(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let def = approval("\"any\"");
    let h = harness(backend, &[("appr", &def)], handlers).await;
    let id = h
        .engine
        .start("appr", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let task = one_task(&h, &id).await;
    h.engine.claim_task(&task, "alice").await.expect("claim");
    let not_hers = h.engine.release_task(&task, "bob").await;
    assert!(
        matches!(not_hers, Err(EngineError::Conflict(_))),
        "{not_hers:?}"
    );
    h.engine
        .release_task(&task, "alice")
        .await
        .expect("release");
    assert_eq!(
        h.engine.open_tasks("approvers").await.expect("q")[0].claimed_by,
        None
    );
    h.engine.claim_task(&task, "bob").await.expect("bob claims");
    h.engine
        .complete_task(&task, "bob", Outcome::Approve)
        .await
        .expect("bob approves");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "completed");
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "task.released:approve"), 1, "{t:?}");
}

const SLOW_ONCE: &str = r#"
[[stage]]
id = "call"
kind = "task"
handler = "sleepy"
timeout = "50ms"
retry = { max_attempts = 1, backoff = "1s", max_backoff = "1s" }
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "call"
to = "done"
"#;

async fn handler_timeout_counts_as_a_retryable_failure(backend: Backend) {
    let mut handlers = Handlers::new();
    handlers.register("sleepy", |_ctx| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok(Value::Null)
    });
    let h = harness(backend, &[("slow", SLOW_ONCE)], handlers).await;
    let id = h
        .engine
        .start("slow", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let incidents = h.engine.incidents().await.expect("incidents");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].instance_id, id);
    assert!(
        incidents[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("timed out"),
        "{incidents:?}"
    );
}
