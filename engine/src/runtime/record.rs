//! Recording handler results, in the worker's transaction: completions are fenced by the
//! claim's lease owner and attempt (a step reclaimed by another worker is not completed by
//! the stale one), a success advances the instance (or the compensation it belongs to), and
//! a failure backs off, becomes an incident, or fails the instance.

use super::claim::{task_stage, Claimed};
use super::inner::Inner;
use super::state::{Event, Tx};
use super::status::*;
use crate::db::{Backend, CHUNK};
use crate::definition::{Definition, RetryPolicy};
use crate::error::Result;
use crate::handler::{HandlerError, HandlerResult};
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{HashMap, HashSet};

/// A handler's result for a claimed step.
pub(super) struct Done {
    pub(super) step: Claimed,
    pub(super) result: HandlerResult,
}

/// Records a batch of results (in the caller's transaction); true when new work is ready.
/// With `copies` it starts from the instances as read at claim time (see [`Tx::adopt`]).
pub(super) async fn record(
    inner: &Inner,
    conn: &mut sqlx::AnyConnection,
    done: &[Done],
    copies: bool,
) -> Result<bool> {
    let mut t = Tx::new(inner, conn);
    let ok: Vec<&Done> = done.iter().filter(|d| d.result.is_ok()).collect();
    let still_ours = fenced_complete(&mut t, &ok).await?;

    // On SQLite each step carries its instance as read at claim time; a copy that changed
    // since (another transaction raised its rev) fails the instance update, and the caller
    // runs the batch again without copies. Instances without a copy are read (and on
    // PostgreSQL locked) here.
    if copies {
        t.adopt(done.iter().filter_map(|d| d.step.inst.as_deref()));
    }
    let mut ids: Vec<String> = done.iter().map(|d| d.step.instance_id.clone()).collect();
    ids.sort();
    ids.dedup();
    t.load(&ids).await?;
    t.read_joins(&ids).await?;
    for d in done {
        match &d.result {
            Ok(output) if still_ours.contains(d.step.id.as_str()) => {
                succeeded(&mut t, &d.step, output.clone()).await?
            }
            Ok(_) => {}
            Err(error) => failed(&mut t, &d.step, error).await?,
        }
    }
    t.finish().await
}

/// Marks steps completed where this claim still holds the lease at the same attempt; returns
/// the ids it completed (a step reclaimed by another worker is not among them).
async fn fenced_complete(t: &mut Tx<'_>, ok: &[&Done]) -> Result<HashSet<String>> {
    let mut by_owner: HashMap<&str, Vec<&Done>> = HashMap::new();
    for d in ok {
        by_owner.entry(d.step.owner.as_str()).or_default().push(d);
    }
    let backend = t.inner.db.backend;
    let mut ours = HashSet::with_capacity(ok.len());
    for (owner, group) in by_owner {
        for chunk in group.chunks(backend.chunk_rows(CHUNK / 2, 2)) {
            let sql = format!(
                "UPDATE{} wf_steps SET state = 'completed', finished_at = {} \
                 WHERE state = 'running' AND lease_owner = {} AND (id, attempt) IN (VALUES {}){}",
                backend.or_fail(),
                backend.param(1),
                backend.param(2),
                backend.values_list(chunk.len(), 2, 3),
                if backend == Backend::Postgres {
                    " RETURNING id"
                } else {
                    ""
                }
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(t.now)
                .bind(owner.to_string());
            for d in chunk {
                q = q.bind(d.step.id.clone()).bind(d.step.attempt);
            }
            if backend == Backend::Postgres {
                for row in q.fetch_all(&mut *t.conn).await? {
                    ours.insert(row.try_get::<String, _>("id")?);
                }
                continue;
            }
            let done = q.execute(&mut *t.conn).await?.rows_affected();
            if done as usize == chunk.len() {
                ours.extend(chunk.iter().map(|d| d.step.id.clone()));
            } else {
                ours.extend(completed_by(t, owner, chunk).await?);
            }
        }
    }
    Ok(ours)
}

/// Which of these steps the claim `owner` completed just now (the rare path where some were
/// reclaimed under it).
async fn completed_by(t: &mut Tx<'_>, owner: &str, chunk: &[&Done]) -> Result<Vec<String>> {
    let backend = t.inner.db.backend;
    let sql = format!(
        "SELECT id FROM wf_steps WHERE state = 'completed' AND lease_owner = {} \
         AND finished_at = {} AND id IN ({})",
        backend.param(1),
        backend.param(2),
        backend.in_list(chunk.len(), 3)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner.to_string())
        .bind(t.now);
    for d in chunk {
        q = q.bind(d.step.id.clone());
    }
    let rows = q.fetch_all(&mut *t.conn).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?)
}

async fn succeeded(t: &mut Tx<'_>, step: &Claimed, output: Value) -> Result<()> {
    let mut event = Event::new(&step.instance_id, "step.completed")
        .stage(&step.stage)
        .attempt(step.attempt);
    if !output.is_null() {
        event = event.data(output.clone());
    }
    if step.kind == COMPENSATION {
        t.push_event(event);
        return t
            .compensation_done(&step.instance_id, step.comp_seq.unwrap_or_default())
            .await;
    }
    let def = t.inst(&step.instance_id)?.def.clone();
    match def.stage_index(&step.stage) {
        Some(stage) => {
            t.stage_completed(&step.instance_id, stage, output, event)
                .await
        }
        None => Ok(()),
    }
}

/// A retryable error backs off (or becomes an incident after the last attempt); a fatal one
/// fails the instance (a failing compensation becomes an incident instead).
async fn failed(t: &mut Tx<'_>, step: &Claimed, error: &HandlerError) -> Result<()> {
    let def = t.inst(&step.instance_id)?.def.clone();
    let policy = retry_policy(&def, &step.stage);
    let failures = step.failures + 1;
    let (state, message, ready_at) = match error {
        HandlerError::Retryable(m) if failures < i64::from(policy.max_attempts) => (
            READY,
            m,
            t.now.saturating_add(backoff_ms(&policy, failures)),
        ),
        HandlerError::Retryable(m) => (INCIDENT, m, t.now),
        HandlerError::Fatal(m) if step.kind == COMPENSATION => (INCIDENT, m, t.now),
        HandlerError::Fatal(m) => (FAILED, m, t.now),
    };
    let updated = sqlx::query(
        "UPDATE wf_steps SET state = $1, ready_at = $2, failures = $3, error = $4, \
         lease_owner = NULL, finished_at = $5 \
         WHERE id = $6 AND attempt = $7 AND lease_owner = $8 AND state = 'running'",
    )
    .bind(state)
    .bind(ready_at)
    .bind(failures)
    .bind(message.clone())
    .bind((state == FAILED).then_some(t.now))
    .bind(step.id.clone())
    .bind(step.attempt)
    .bind(step.owner.clone())
    .execute(&mut *t.conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(());
    }
    let (name, data) = match state {
        READY => (
            "step.retry",
            json!({"error": message, "retry_at": crate::clock::from_ms(ready_at)}),
        ),
        INCIDENT => (
            "step.incident",
            json!({"error": message, "attempts": failures}),
        ),
        _ => ("step.failed", json!({"error": message})),
    };
    let event = Event::new(&step.instance_id, name)
        .stage(&step.stage)
        .attempt(step.attempt)
        .data(data);
    t.push_event(event);
    if state == READY {
        t.announce = true;
    }
    if state == FAILED {
        let reason = format!("stage {} failed: {message}", step.stage);
        t.begin_compensation(&step.instance_id, FAILED, None, &reason)
            .await?;
    }
    Ok(())
}

fn retry_policy(def: &Definition, step_stage: &str) -> RetryPolicy {
    task_stage(def, step_stage)
        .map(|t| t.retry.clone())
        .unwrap_or_default()
}

/// Exponential backoff with equal jitter: half the delay fixed, half random.
fn backoff_ms(policy: &RetryPolicy, failures: i64) -> i64 {
    let base = policy.backoff.as_millis() as f64;
    let cap = policy.max_backoff.as_millis() as f64;
    let exponent = (failures - 1).clamp(0, 30) as i32;
    let delay = (base * 2f64.powi(exponent)).min(cap).max(1.0);
    let half = delay / 2.0;
    (half + rand::random::<f64>() * half) as i64
}
