//! The history chains: a run's history verifies; a row changed, deleted or moved, or the
//! chain's end cut off, is found at the first link that no longer holds.

use super::logging_handlers;
use crate::scenario::{harness, Harness};
use crate::support::Backend;
use l2c_engine::runtime::Outcome;
use serde_json::json;

crate::conformance!(history_tampering_is_found_at_its_first_broken_link);

const FLOW: &str = r#"
[[stage]]
id = "approve"
kind = "approval"
group = "approvers"
[[stage]]
id = "work"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "approve"
to = "work"
[[edge]]
from = "work"
to = "done"
"#;

/// Two finished instances; returns their ids.
async fn two_runs(h: &Harness) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = h
            .engine
            .start("flow", json!({}), None)
            .await
            .expect("start");
        h.engine.run_until_idle().await.expect("run");
        let task = h.engine.open_tasks("approvers").await.expect("queue")[0].clone();
        h.engine.claim_task(&task.id, "alice").await.expect("claim");
        h.engine
            .complete_task(&task.id, "alice", Outcome::Approve)
            .await
            .expect("approve");
        h.engine.run_until_idle().await.expect("run");
        ids.push(id);
    }
    ids
}

async fn exec(h: &Harness, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&h.db.db.pool)
        .await
        .expect(sql);
}

/// The seqs of `instance`'s history, in order.
async fn seqs(h: &Harness, instance: &str) -> Vec<i64> {
    let sql = format!("SELECT seq FROM wf_history WHERE instance_id = '{instance}' ORDER BY seq");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(&h.db.db.pool)
        .await
        .expect("seqs")
}

/// The first break: (chain, row, position).
async fn broken(h: &Harness) -> Option<(String, String, u64)> {
    let b = h.engine.verify_history(None).await.expect("verified");
    b.map(|b| (b.chain, b.row, b.position))
}

/// `instance`'s first break: (row, position, problem).
async fn broken_in(h: &Harness, instance: &str) -> Option<(String, u64, String)> {
    let ids = [instance.to_string()];
    let b = h.engine.verify_history(Some(&ids)).await.expect("verified");
    b.map(|b| (b.row, b.position, b.problem))
}

async fn history_tampering_is_found_at_its_first_broken_link(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("flow", FLOW)], handlers).await;
    let mut ids = two_runs(&h).await;
    ids.extend(two_runs(&h).await);
    assert_eq!(broken(&h).await, None, "an untouched history verifies");
    for id in &ids {
        assert_eq!(broken_in(&h, id).await, None);
    }
    let [changed, deleted, moved, cut] = [0, 1, 2, 3].map(|i| ids[i].clone());

    // Changed: the approver's name on the third row.
    let rows = seqs(&h, &changed).await;
    assert!(rows.len() >= 5, "{rows:?}");
    exec(
        &h,
        &format!(
            "UPDATE wf_history SET actor = 'mallory' WHERE seq = {}",
            rows[2]
        ),
    )
    .await;
    assert_eq!(
        broken(&h).await,
        Some((changed.clone(), rows[2].to_string(), 3))
    );

    // Deleted: a row in the middle; the next one no longer follows.
    let rows = seqs(&h, &deleted).await;
    exec(
        &h,
        &format!("DELETE FROM wf_history WHERE seq = {}", rows[1]),
    )
    .await;
    let found = broken_in(&h, &deleted).await.expect("found");
    assert_eq!((found.0, found.1), (rows[2].to_string(), 2));

    // Moved: the second row taken out and put back at the end (a new seq, its old hash).
    let rows = seqs(&h, &moved).await;
    let columns = "instance_id, at, event, stage, actor, attempt, data, hash";
    exec(
        &h,
        &format!(
            "CREATE TABLE moved AS SELECT {columns} FROM wf_history WHERE seq = {}",
            rows[1]
        ),
    )
    .await;
    exec(
        &h,
        &format!("DELETE FROM wf_history WHERE seq = {}", rows[1]),
    )
    .await;
    exec(
        &h,
        &format!("INSERT INTO wf_history ({columns}) SELECT {columns} FROM moved"),
    )
    .await;
    let found = broken_in(&h, &moved).await.expect("found");
    assert_eq!((found.0, found.1), (rows[2].to_string(), 2));

    // Cut off: the last row, which only the instance's head still knows of.
    let rows = seqs(&h, &cut).await;
    exec(
        &h,
        &format!(
            "DELETE FROM wf_history WHERE seq = {}",
            rows[rows.len() - 1]
        ),
    )
    .await;
    let found = broken_in(&h, &cut).await.expect("found");
    assert_eq!(
        (found.0.as_str(), found.1),
        (cut.as_str(), rows.len() as u64)
    );
    assert!(found.2.contains("ends before its head"), "{}", found.2);
}
