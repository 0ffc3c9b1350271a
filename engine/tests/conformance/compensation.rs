//! Undoing completed work: compensation in reverse order on a rejection, a branch that
//! succeeds after its sibling failed, and cancellation.

use super::{logged, logging_handlers, one_task, status};
use crate::scenario::{count, harness, timeline};
use crate::support::Backend;
use l2c_engine::handler::HandlerError;
use l2c_engine::runtime::Outcome;
use l2c_engine::EngineError;
use serde_json::json;

crate::conformance!(
    compensation_in_reverse_on_reject,
    a_branch_that_succeeds_after_its_sibling_failed_is_undone,
    cancellation_compensates,
);

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
    // `b` finishes only once `a` has failed, so its result comes later in the same recorded
    // batch whichever of the two the worker polls first: `a` fails without waiting, in the
    // poll that lets `b` go on.
    let failed = std::sync::Arc::new(tokio::sync::Notify::new());
    let signal = failed.clone();
    handlers.register("boom", move |_ctx| {
        signal.notify_one();
        async { Err(HandlerError::Fatal("no such port".into())) }
    });
    handlers.register("slow", move |_ctx| {
        let failed = failed.clone();
        async move {
            failed.notified().await;
            Ok(json!({"b": true}))
        }
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
