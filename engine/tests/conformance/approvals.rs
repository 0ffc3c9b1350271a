//! Human tasks: quorums, the actor check, rejections that need a reason, releasing a claim,
//! and SLA escalations.

use super::{logged, logging_handlers, one_task, status};
use crate::scenario::{count, harness, harness_with, timeline};
use crate::support::Backend;
use l2c_engine::runtime::Outcome;
use l2c_engine::EngineError;
use serde_json::{json, Value};
use std::sync::Arc;

crate::conformance!(
    quorum_any,
    quorum_all,
    quorum_count,
    forbidden_actor_is_refused,
    reject_needs_a_reason,
    sla_reminds_reassigns_and_rejects,
    release_lets_another_approver_act,
);

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
