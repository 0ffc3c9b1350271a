//! Conformance scenarios about concurrency and durability, on SQLite and PostgreSQL (ignored
//! unless built with `L2C_TEST_DATABASE_URL` set): racing workers, lease fencing, a crashed
//! runtime resuming, and definition versions.

#[path = "support/scenario.rs"]
mod scenario;
mod support;

use l2c_engine::handler::Handlers;
use l2c_engine::runtime::Outcome;
use scenario::{count, harness, harness_with, timeline, Harness};
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{build, Backend};
use tokio::sync::Notify;

conformance!(
    racing_workers_run_each_step_once,
    expired_lease_is_fenced,
    crashed_runtime_resumes_without_repeats,
    definition_change_keeps_running_instances,
    shutdown_releases_unfinished_steps,
    handlers_that_write_do_not_stall_workers,
    branch_recorded_meanwhile_is_kept,
    an_unrecordable_result_becomes_an_incident,
    panicking_handlers_fail_their_step_not_the_worker,
);

const THREE_STEPS: &str = r#"
[[stage]]
id = "a"
kind = "task"
handler = "step"
[[stage]]
id = "b"
kind = "task"
handler = "step"
[[stage]]
id = "c"
kind = "task"
handler = "step"
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

/// A `step` handler counting calls per idempotency key; it hangs on stage `b` while `hang`.
fn counting(hang: Arc<AtomicBool>) -> (Handlers, Arc<Mutex<HashMap<String, usize>>>) {
    let calls = Arc::new(Mutex::new(HashMap::new()));
    let mut handlers = Handlers::new();
    let seen = calls.clone();
    handlers.register("step", move |ctx| {
        *seen
            .lock()
            .expect("calls")
            .entry(ctx.idempotency_key.clone())
            .or_insert(0) += 1;
        let hang = hang.load(Ordering::SeqCst) && ctx.stage == "b";
        async move {
            if hang {
                futures::future::pending::<()>().await;
            }
            Ok(json!({ ctx.stage.clone(): ctx.attempt }))
        }
    });
    (handlers, calls)
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..1500 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn all_completed(h: &Harness, ids: &[String]) -> bool {
    for id in ids {
        if h.engine.instance(id).await.expect("instance").status != "completed" {
            return false;
        }
    }
    true
}

async fn racing_workers_run_each_step_once(backend: Backend) {
    let (handlers, calls) = counting(Arc::new(AtomicBool::new(false)));
    let h = harness(backend, &[("three", THREE_STEPS)], handlers).await;
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(
            h.engine
                .start("three", json!({"n": n}), None)
                .await
                .expect("start"),
        );
    }
    let workers: Vec<_> = (0..3).map(|_| h.engine.worker().spawn()).collect();
    wait_for("every instance to complete", async || {
        all_completed(&h, &ids).await
    })
    .await;
    for w in workers {
        w.shutdown().await.expect("clean shutdown");
    }
    let calls = calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 180, "every step ran");
    assert!(
        calls.values().all(|&n| n == 1),
        "no step ran twice: {calls:?}"
    );
    for id in &ids {
        let t = timeline(&h.engine, id).await;
        for stage in ["a", "b", "c"] {
            assert_eq!(count(&t, &format!("step.completed:{stage}")), 1, "{t:?}");
            assert_eq!(count(&t, &format!("step.started:{stage}")), 1, "{t:?}");
        }
    }
}

const SLOW: &str = r#"
[[stage]]
id = "slow"
kind = "task"
handler = "slow"
timeout = "1h"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "slow"
to = "done"
"#;

async fn expired_lease_is_fenced(backend: Backend) {
    let gate = Arc::new(Notify::new());
    let mut handlers = Handlers::new();
    let first_gate = gate.clone();
    handlers.register("slow", move |ctx| {
        let gate = first_gate.clone();
        async move {
            if ctx.attempt == 1 {
                gate.notified().await;
                return Ok(json!({"by": "first"}));
            }
            Ok(json!({"by": "second"}))
        }
    });
    let h = harness(backend, &[("slow", SLOW)], handlers).await;
    let id = h
        .engine
        .start("slow", json!({}), None)
        .await
        .expect("start");
    let stale = h.engine.worker();
    let first = tokio::spawn(async move { stale.tick().await });
    wait_for("the first attempt to start", async || {
        let steps = h.engine.instance(&id).await.expect("instance").steps;
        steps[0].state == "running"
    })
    .await;
    h.clock.advance(chrono::Duration::minutes(2));
    let fresh = h.engine.worker();
    fresh
        .tick()
        .await
        .expect("the second worker reclaims and completes");
    gate.notify_one();
    first
        .await
        .expect("join")
        .expect("the stale worker's write is fenced, not an error");
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(
        inst.output,
        json!({"by": "second"}),
        "the newer attempt's result stands"
    );
    assert_eq!(inst.steps[0].attempt, 2);
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.completed:slow"), 1, "{t:?}");
    assert_eq!(count(&t, "instance.completed"), 1);
}

async fn crashed_runtime_resumes_without_repeats(backend: Backend) {
    let hang = Arc::new(AtomicBool::new(true));
    let defs = [("three", THREE_STEPS)];
    let (handlers, before) = counting(hang.clone());
    let h = harness(backend, &defs, handlers).await;
    let id = h
        .engine
        .start("three", json!({}), None)
        .await
        .expect("start");
    let worker = h.engine.worker().spawn();
    // The claim commits before the handler is called: wait for both, so the crash below
    // really interrupts a running handler.
    let key_b = format!("{id}:b");
    wait_for("stage b to start", async || {
        count(&timeline(&h.engine, &id).await, "step.started:b") == 1
            && before.lock().expect("calls").contains_key(&key_b)
    })
    .await;
    worker.abort();

    let (handlers, after) = counting(Arc::new(AtomicBool::new(false)));
    let restarted = build(&h.db, &h.clock, &defs, handlers, |b| b).await;
    restarted.run_until_idle().await.expect("run");
    assert_eq!(
        restarted.instance(&id).await.expect("i").status,
        "running",
        "the crashed worker's lease has not expired yet"
    );
    h.clock.advance(chrono::Duration::minutes(2));
    restarted.run_until_idle().await.expect("run");
    let inst = restarted.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(inst.output, json!({"a": 1, "b": 2, "c": 1}));
    let t = timeline(&restarted, &id).await;
    for stage in ["a", "b", "c"] {
        assert_eq!(count(&t, &format!("step.completed:{stage}")), 1, "{t:?}");
    }
    assert_eq!(
        count(&t, "step.started:b"),
        2,
        "attempt 1 crashed, attempt 2 ran"
    );
    assert_eq!(count(&t, "instance.completed"), 1);
    assert_eq!(before.lock().expect("calls").get(&key_b), Some(&1));
    assert_eq!(after.lock().expect("calls").get(&key_b), Some(&1));
    assert_eq!(
        after.lock().expect("calls").get(&format!("{id}:a")),
        None,
        "a is not run again"
    );
}

const APPROVE_V1: &str = r#"
[[stage]]
id = "approve"
kind = "approval"
group = "approvers"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "approve"
to = "done"
"#;

const APPROVE_V2: &str = r#"
[[stage]]
id = "approve"
kind = "approval"
group = "approvers"
[[stage]]
id = "extra"
kind = "task"
handler = "step"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "approve"
to = "extra"
[[edge]]
from = "extra"
to = "done"
"#;

async fn definition_change_keeps_running_instances(backend: Backend) {
    let (handlers, _) = counting(Arc::new(AtomicBool::new(false)));
    let h = harness(backend, &[("appr", APPROVE_V1)], handlers).await;
    let old = h
        .engine
        .start("appr", json!({}), None)
        .await
        .expect("start v1");
    h.engine.run_until_idle().await.expect("run");

    let (handlers, calls) = counting(Arc::new(AtomicBool::new(false)));
    let updated = build(&h.db, &h.clock, &[("appr", APPROVE_V2)], handlers, |b| b).await;
    let new = updated
        .start("appr", json!({}), None)
        .await
        .expect("start v2");
    updated.run_until_idle().await.expect("run");
    for task in updated.open_tasks("approvers").await.expect("queue") {
        updated
            .complete_task(&task.id, "alice", Outcome::Approve)
            .await
            .expect("approve");
    }
    updated.run_until_idle().await.expect("run");

    let old = updated.instance(&old).await.expect("old");
    let new = updated.instance(&new).await.expect("new");
    assert_eq!(
        (old.status.as_str(), new.status.as_str()),
        ("completed", "completed")
    );
    assert_ne!(old.version, new.version);
    assert!(
        old.steps.iter().all(|s| s.stage != "extra"),
        "v1 has no extra stage"
    );
    assert!(new
        .steps
        .iter()
        .any(|s| s.stage == "extra" && s.state == "completed"));
    assert_eq!(
        calls.lock().expect("calls").len(),
        1,
        "only the v2 instance ran extra"
    );
}

async fn shutdown_releases_unfinished_steps(backend: Backend) {
    let hang = Arc::new(AtomicBool::new(true));
    let (handlers, calls) = counting(hang.clone());
    let short_lease = |b: l2c_engine::runtime::EngineBuilder| {
        b.options(l2c_engine::runtime::EngineOptions {
            lease: Duration::from_millis(300),
            batch_size: 64,
            poll_interval: Duration::from_millis(20),
        })
    };
    let h = harness_with(backend, &[("three", THREE_STEPS)], handlers, short_lease).await;
    let id = h
        .engine
        .start("three", json!({}), None)
        .await
        .expect("start");
    let worker = h.engine.worker().spawn();
    let key_b = format!("{id}:b");
    wait_for("stage b's handler to run", async || {
        calls.lock().expect("calls").get(&key_b) == Some(&1)
    })
    .await;
    worker
        .shutdown()
        .await
        .expect("shutdown waits one lease, then releases");
    let b = h.engine.instance(&id).await.expect("instance").steps[1].clone();
    assert_eq!(
        (b.stage.as_str(), b.state.as_str()),
        ("b", "ready"),
        "released, not lost"
    );
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.released:b"), 1, "{t:?}");

    hang.store(false, Ordering::SeqCst);
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(
        h.engine.instance(&id).await.expect("instance").status,
        "completed"
    );
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.completed:b"), 1, "{t:?}");
    assert_eq!(
        calls.lock().expect("calls").get(&format!("{id}:b")),
        Some(&2)
    );
}

/// Handlers that write through the engine's database (as billing and the simulated network
/// do) while several spawned workers claim and record: on SQLite all of them share one
/// writer, and a handler must never wait for a worker that waits for it.
async fn handlers_that_write_do_not_stall_workers(backend: Backend) {
    let db = support::test_db(backend).await;
    sqlx::query("CREATE TABLE handler_writes (id TEXT PRIMARY KEY)")
        .execute(&db.db.pool)
        .await
        .expect("scratch table");
    let mut handlers = Handlers::new();
    let writer = db.db.clone();
    handlers.register("step", move |ctx| {
        let db = writer.clone();
        async move {
            let fail = |e: sqlx::Error| l2c_engine::handler::HandlerError::Retryable(e.to_string());
            let mut tx = db.begin_write().await.map_err(fail)?;
            sqlx::query("INSERT INTO handler_writes (id) VALUES ($1)")
                .bind(ctx.idempotency_key.clone())
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            Ok(json!({}))
        }
    });
    let clock = l2c_engine::clock::TestClock::at(support::start_time());
    let engine = build(&db, &clock, &[("three", THREE_STEPS)], handlers, |b| b).await;
    let h = Harness { engine, clock, db };
    let mut ids = Vec::new();
    for i in 0..60 {
        let id = h
            .engine
            .start("three", json!({}), Some(&format!("w{i}")))
            .await
            .expect("start");
        ids.push(id);
    }
    let workers: Vec<_> = (0..2).map(|_| h.engine.worker().spawn()).collect();
    wait_for("every instance to complete", async || {
        all_completed(&h, &ids).await
    })
    .await;
    for w in workers {
        w.shutdown().await.expect("worker stops");
    }
    let writes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM handler_writes")
        .fetch_one(&h.db.db.pool)
        .await
        .expect("count");
    assert_eq!(writes, 180, "each of 60 x 3 steps wrote exactly once");
}

const FORK: &str = r#"
[[stage]]
id = "start"
kind = "task"
handler = "quick"
[[stage]]
id = "left"
kind = "task"
handler = "quick"
[[stage]]
id = "right"
kind = "task"
handler = "gated"
[[stage]]
id = "join"
kind = "task"
handler = "quick"
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

/// Two branches claimed together; one is recorded while the other still runs. Recording the
/// second must build on the instance as the first left it, not on the copy read at claim
/// time (its output and open steps would lose the first branch).
async fn branch_recorded_meanwhile_is_kept(backend: Backend) {
    let gate = Arc::new(Notify::new());
    let mut handlers = Handlers::new();
    handlers.register("quick", |ctx| async move {
        Ok(json!({ ctx.stage.clone(): "done" }))
    });
    let right_gate = gate.clone();
    handlers.register("gated", move |ctx| {
        let gate = right_gate.clone();
        async move {
            gate.notified().await;
            Ok(json!({ ctx.stage.clone(): "done" }))
        }
    });
    let h = harness(backend, &[("fork", FORK)], handlers).await;
    let id = h
        .engine
        .start("fork", json!({}), None)
        .await
        .expect("start");
    let worker = h.engine.worker().spawn();
    wait_for("the left branch to be recorded", async || {
        let t = timeline(&h.engine, &id).await;
        count(&t, "step.completed:left") == 1 && count(&t, "step.started:right") == 1
    })
    .await;
    gate.notify_one();
    wait_for("the instance to complete", async || {
        h.engine.instance(&id).await.expect("instance").status == "completed"
    })
    .await;
    worker.shutdown().await.expect("shutdown");
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(
        inst.output,
        json!({"start": "done", "left": "done", "right": "done", "join": "done"})
    );
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.completed:join"), 1, "{t:?}");
    assert_eq!(count(&t, "instance.completed"), 1, "{t:?}");
}

/// Refuses the end of any instance whose input says `poison`, as an application's listener
/// does when its records and the engine disagree.
struct Refuser;

impl l2c_engine::runtime::Listener for Refuser {
    fn on_changes<'c>(
        &'c self,
        _conn: &'c mut sqlx::AnyConnection,
        changes: &'c [l2c_engine::runtime::InstanceChange],
    ) -> futures::future::BoxFuture<'c, l2c_engine::Result<()>> {
        Box::pin(async move {
            let poisoned = changes.iter().any(|c| {
                c.input.get("poison") == Some(&json!(true))
                    && matches!(c.change, l2c_engine::runtime::Change::Ended { .. })
            });
            if poisoned {
                return Err(l2c_engine::EngineError::Listener("refused".into()));
            }
            Ok(())
        })
    }
}

/// A result the application refuses to record, batched with good ones: the good ones are
/// recorded, the bad step becomes an incident, and the worker keeps working.
async fn an_unrecordable_result_becomes_an_incident(backend: Backend) {
    let (handlers, _) = counting(Arc::new(AtomicBool::new(false)));
    let listen = |b: l2c_engine::runtime::EngineBuilder| b.listener(Arc::new(Refuser));
    let h = harness_with(backend, &[("three", THREE_STEPS)], handlers, listen).await;
    let mut ids = Vec::new();
    for i in 0..6 {
        let input = json!({ "poison": i == 3 });
        ids.push(h.engine.start("three", input, None).await.expect("start"));
    }
    let worker = h.engine.worker().spawn();
    let good: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3)
        .map(|(_, id)| id.clone())
        .collect();
    wait_for("the good instances to complete", async || {
        all_completed(&h, &good).await
    })
    .await;
    wait_for("an incident", async || {
        !h.engine.incidents().await.expect("incidents").is_empty()
    })
    .await;
    let incidents = h.engine.incidents().await.expect("incidents");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(
        (
            incidents[0].instance_id.as_str(),
            incidents[0].stage.as_str()
        ),
        (ids[3].as_str(), "c")
    );
    let later = h
        .engine
        .start("three", json!({}), None)
        .await
        .expect("start");
    wait_for("the worker to go on", async || {
        all_completed(&h, std::slice::from_ref(&later)).await
    })
    .await;
    worker.shutdown().await.expect("worker stops");
}

/// A handler that panics (while being called, on its first poll, or later in its own task)
/// fails its step with a retryable error; the worker lives on and runs everything else.
async fn panicking_handlers_fail_their_step_not_the_worker(backend: Backend) {
    let mut handlers = Handlers::new();
    handlers.register("step", |ctx| {
        if ctx.stage == "a" && ctx.input["panic"] == "call" {
            panic!("panics while being called");
        }
        async move {
            match (ctx.stage.as_str(), ctx.input["panic"].as_str()) {
                ("a", Some("poll")) => panic!("panics on the first poll"),
                ("a", Some("later")) => {
                    tokio::task::yield_now().await;
                    panic!("panics later, in its own task")
                }
                _ => Ok(json!({})),
            }
        }
    });
    let h = harness(backend, &[("three", THREE_STEPS)], handlers).await;
    let mut bad = Vec::new();
    for how in ["call", "poll", "later"] {
        bad.push(
            h.engine
                .start("three", json!({ "panic": how }), None)
                .await
                .expect("start"),
        );
    }
    let good = h
        .engine
        .start("three", json!({}), None)
        .await
        .expect("start");
    let worker = h.engine.worker().spawn();
    wait_for("the good instance", async || {
        all_completed(&h, std::slice::from_ref(&good)).await
    })
    .await;
    for id in &bad {
        wait_for("a retry of the panicking step", async || {
            count(&timeline(&h.engine, id).await, "step.retry:a") >= 1
        })
        .await;
    }
    let t = timeline(&h.engine, &bad[0]).await;
    assert_eq!(count(&t, "step.completed:a"), 0, "{t:?}");
    worker
        .shutdown()
        .await
        .expect("the worker is alive and stops cleanly");
}
