//! Claiming ready steps: one statement leases up to a batch of ready steps (or steps whose
//! lease expired) under a claim token, in the caller's transaction, and each claimed step
//! gets its handler's call (the instance's data, idempotency key, deadline and timeout).
//!
//! The claim is the one place the backends differ in shape:
//!
//! - SQLite ([`claim_sqlite`]) has one writer, so no row locks are needed; the claim picks
//!   steps by rowid from the two ranges of the claim index, then reads the claimed steps and
//!   their instances back in one round trip. The worker keeps the instance copies for
//!   recording the results (see `Tx::adopt`).
//! - PostgreSQL ([`claim_postgres`]) takes the steps with `FOR UPDATE SKIP LOCKED`, so
//!   workers on several nodes never wait for or take each other's steps, and `RETURNING`
//!   gives the rows; the handlers' columns of the instances are read afterwards
//!   ([`attach_contexts`]) and no copies are kept.

use super::compensate::COMPENSATE_PREFIX;
use super::inner::Inner;
use super::rows::decode_rows;
use super::state::{write_history, Event, Inst, StoredInstance, INSTANCE_JSON};
use crate::db::{Backend, CHUNK};
use crate::definition::{Definition, StageKind, TaskStage};
use crate::error::Result;
use crate::handler::TaskContext;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// One step this worker holds a lease on.
#[derive(Debug, Clone)]
pub(super) struct Claimed {
    pub(super) id: String,
    /// The lease owner written at claim time: `{worker}/{claim number}`.
    pub(super) owner: String,
    pub(super) instance_id: String,
    pub(super) stage: String,
    pub(super) kind: String,
    pub(super) handler: String,
    pub(super) attempt: i64,
    pub(super) failures: i64,
    pub(super) comp_seq: Option<i64>,
    /// On SQLite, the instance as it was read at claim time (`None` if it was missing, and
    /// on PostgreSQL); recording the result reuses it instead of reading the row again.
    pub(super) inst: Option<Arc<Inst>>,
    /// The handler's call, or why it cannot be made.
    pub(super) call: std::result::Result<(TaskContext, Duration), String>,
}

/// A claimed step row as stored.
#[derive(Debug, serde::Deserialize)]
struct ClaimedRow {
    id: String,
    instance_id: String,
    stage: String,
    kind: String,
    handler: Option<String>,
    attempt: i64,
    failures: i64,
    comp_seq: Option<i64>,
}

impl ClaimedRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<ClaimedRow> {
        Ok(ClaimedRow {
            id: row.try_get("id")?,
            instance_id: row.try_get("instance_id")?,
            stage: row.try_get("stage")?,
            kind: row.try_get("kind")?,
            handler: row.try_get("handler")?,
            attempt: row.try_get("attempt")?,
            failures: row.try_get("failures")?,
            comp_seq: row.try_get("comp_seq")?,
        })
    }
}

/// The lease a claim writes: its owner token, until when, and how many steps at most.
struct Lease<'a> {
    owner: &'a str,
    /// The clock's time now, in milliseconds: steps due by then are claimable.
    now: i64,
    /// When the lease runs out unless a heartbeat extends it.
    until: i64,
    limit: usize,
}

/// Leases up to `limit` ready steps (or steps whose lease expired) under the claim token
/// `owner` (in the caller's transaction), and gives each its handler's context.
pub(super) async fn claim(
    inner: &Inner,
    conn: &mut AnyConnection,
    worker: &str,
    owner: &str,
    limit: usize,
) -> Result<Vec<Claimed>> {
    let now = inner.clock.now_ms();
    let lease = Lease {
        owner,
        now,
        until: now.saturating_add(inner.options.lease.as_millis() as i64),
        limit,
    };
    let backend = inner.db.backend;
    let (rows, instances) = match backend {
        Backend::Sqlite => claim_sqlite(conn, &lease).await?,
        // PostgreSQL workers keep no instance copies: recording locks the instance rows in id
        // order anyway, and reading them whole costs no more than reading their revs, while
        // reading whole rows here would cost more than the handlers' columns (see
        // `attach_contexts`).
        Backend::Postgres => (claim_postgres(conn, &lease).await?, Vec::new()),
    };
    let mut held = HashMap::with_capacity(instances.len());
    for stored in instances {
        let inst = stored.into_inst(inner, conn).await?;
        held.insert(inst.id.clone(), Arc::new(inst));
    }
    let (mut claimed, events) = claimed_steps(inner, rows, &held, worker, owner);
    write_history(&mut *conn, backend, now, &events).await?;
    if backend == Backend::Postgres {
        attach_contexts(inner, conn, &mut claimed).await?;
    }
    Ok(claimed)
}

/// SQLite: leases the steps, then reads the claimed steps and their instances back.
///
/// Ready steps and expired leases each come from the claim index in ready_at order; SQLite
/// merges the two ranges instead of sorting every due step (`state IN (..)` would sort the
/// whole backlog on each claim). The steps are picked by rowid, which the claim index holds:
/// picking them by id would read every step's row for its id and then search the id index
/// for it.
async fn claim_sqlite(
    conn: &mut AnyConnection,
    lease: &Lease<'_>,
) -> Result<(Vec<ClaimedRow>, Vec<StoredInstance>)> {
    sqlx::query(
        "UPDATE OR FAIL wf_steps SET state = 'running', attempt = attempt + 1, \
         lease_owner = $1, ready_at = $2 WHERE rowid IN (SELECT rid FROM (\
         SELECT rowid AS rid, ready_at FROM wf_steps \
         WHERE state = 'ready' AND ready_at <= $3 \
         UNION ALL \
         SELECT rowid AS rid, ready_at FROM wf_steps \
         WHERE state = 'running' AND ready_at <= $3 \
         ORDER BY ready_at LIMIT $4))",
    )
    .bind(lease.owner.to_string())
    .bind(lease.until)
    .bind(lease.now)
    .bind(lease.limit as i64)
    .execute(&mut *conn)
    .await?;
    // The claimed steps and their instances in one round trip, each as one JSON array.
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT (SELECT json_group_array(json_array(id, instance_id, stage, kind, \
         handler, attempt, failures, comp_seq)) FROM wf_steps \
         WHERE state = 'running' AND ready_at = $1 AND lease_owner = $2) AS steps, \
         (SELECT json_group_array({INSTANCE_JSON}) FROM wf_instances WHERE id IN \
         (SELECT instance_id FROM wf_steps \
         WHERE state = 'running' AND ready_at = $1 AND lease_owner = $2)) AS instances"
    )))
    .bind(lease.until)
    .bind(lease.owner.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let steps: Vec<ClaimedRow> = serde_json::from_str(&row.try_get::<String, _>("steps")?)?;
    let instances: Vec<StoredInstance> =
        serde_json::from_str(&row.try_get::<String, _>("instances")?)?;
    Ok((steps, instances))
}

/// PostgreSQL: leases the steps with `FOR UPDATE SKIP LOCKED`, so concurrent claims (on any
/// node) skip each other's rows instead of waiting, and returns the claimed rows.
async fn claim_postgres(conn: &mut AnyConnection, lease: &Lease<'_>) -> Result<Vec<ClaimedRow>> {
    let rows = sqlx::query(
        "UPDATE wf_steps SET state = 'running', attempt = attempt + 1, lease_owner = $1, \
         ready_at = $2 WHERE id IN (SELECT id FROM wf_steps \
         WHERE state IN ('ready', 'running') AND ready_at <= $3 \
         ORDER BY ready_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
         RETURNING id, instance_id, stage, kind, handler, attempt, failures, comp_seq",
    )
    .bind(lease.owner.to_string())
    .bind(lease.until)
    .bind(lease.now)
    .bind(lease.limit as i64)
    .fetch_all(&mut *conn)
    .await?;
    decode_rows(Backend::Postgres, &rows, ClaimedRow::from_row)
}

/// The claimed steps, each with its handler's call when its instance copy is `held`, and
/// their `step.started` history events.
fn claimed_steps(
    inner: &Inner,
    rows: Vec<ClaimedRow>,
    held: &HashMap<String, Arc<Inst>>,
    worker: &str,
    owner: &str,
) -> (Vec<Claimed>, Vec<Event>) {
    let mut claimed = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    let deadline_base = inner.clock.now();
    for r in rows {
        let event = Event::new(&r.instance_id, "step.started").stage(&r.stage);
        events.push(event.attempt(r.attempt).actor(worker));
        let inst = held.get(&r.instance_id).cloned();
        let call = match &inst {
            Some(inst) => Ok(task_context(
                &inst.id,
                &inst.def,
                inst.input.clone(),
                Arc::new(inst.output.clone()),
                &r.stage,
                r.attempt,
                deadline_base,
            )),
            None => Err(format!("instance {} of the step is missing", r.instance_id)),
        };
        claimed.push(Claimed {
            id: r.id,
            owner: owner.to_string(),
            instance_id: r.instance_id,
            stage: r.stage,
            kind: r.kind,
            handler: r.handler.unwrap_or_default(),
            attempt: r.attempt,
            failures: r.failures,
            comp_seq: r.comp_seq,
            inst,
            call,
        });
    }
    (claimed, events)
}

/// An instance's data as a handler sees it.
#[derive(Debug)]
struct ContextRow {
    id: String,
    workflow: String,
    version: String,
    input: Value,
    output: Value,
}

impl ContextRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<ContextRow> {
        let input: String = row.try_get("input")?;
        let output: String = row.try_get("output")?;
        Ok(ContextRow {
            id: row.try_get("id")?,
            workflow: row.try_get("workflow")?,
            version: row.try_get("version")?,
            input: serde_json::from_str(&input)?,
            output: serde_json::from_str(&output)?,
        })
    }
}

/// Gives each claimed step its handler's call from its instance's data (PostgreSQL, where
/// the claim keeps no instance copies).
async fn attach_contexts(
    inner: &Inner,
    conn: &mut AnyConnection,
    claimed: &mut [Claimed],
) -> Result<()> {
    let mut ids: Vec<String> = claimed.iter().map(|c| c.instance_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let backend = inner.db.backend;
    let mut instances = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(backend.chunk_rows(CHUNK, 1)) {
        let sql = format!(
            "SELECT id, workflow, version, input, output FROM wf_instances WHERE id IN ({})",
            backend.in_list(chunk.len(), 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let c = ContextRow::from_row(&row)?;
            let def = inner
                .definition_version(conn, &c.workflow, &c.version)
                .await?;
            instances.insert(c.id, (def, Arc::new(c.input), Arc::new(c.output)));
        }
    }
    let now = inner.clock.now();
    for step in claimed.iter_mut() {
        step.call = match instances.get(&step.instance_id) {
            Some((def, input, output)) => Ok(task_context(
                &step.instance_id,
                def,
                input.clone(),
                output.clone(),
                &step.stage,
                step.attempt,
                now,
            )),
            None => Err(format!(
                "instance {} of the step is missing",
                step.instance_id
            )),
        };
    }
    Ok(())
}

/// The stage a step runs for (a compensation step runs for the stage it undoes).
pub(super) fn task_stage<'a>(def: &'a Definition, step_stage: &str) -> Option<&'a TaskStage> {
    let stage = step_stage
        .strip_prefix(COMPENSATE_PREFIX)
        .unwrap_or(step_stage);
    def.stage_index(stage)
        .and_then(|i| match &def.stages[i].kind {
            StageKind::Task(t) => Some(t),
            _ => None,
        })
}

/// A claimed step's handler call: the instance's data, idempotency key and deadline, and
/// the stage's timeout.
fn task_context(
    instance_id: &str,
    def: &Definition,
    input: Arc<Value>,
    output: Arc<Value>,
    stage: &str,
    attempt: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> (TaskContext, Duration) {
    let timeout = task_stage(def, stage)
        .map(|t| t.timeout)
        .unwrap_or(Duration::from_secs(60));
    let original = stage.strip_prefix(COMPENSATE_PREFIX).unwrap_or(stage);
    let ctx = TaskContext {
        instance_id: instance_id.to_string(),
        workflow: def.name.clone(),
        stage: stage.to_string(),
        idempotency_key: format!("{instance_id}:{stage}"),
        attempt,
        input,
        output,
        deadline: now + chrono::Duration::from_std(timeout).unwrap_or_default(),
        compensating: original != stage,
    };
    (ctx, timeout)
}
