//! One state-changing transaction: the instances it touches, held in memory, and the rows it
//! will write, buffered so a batch of step completions becomes a handful of multi-row
//! statements instead of several statements per step.
//!
//! Anything that reads steps, tasks, timers or children back from the database calls
//! [`Tx::sync`] first, so a query never misses a row this transaction has buffered. Join
//! arrivals are counted in memory instead (see [`Pending`]).

use super::inner::Inner;
use super::listener::{Change, InstanceChange};
use super::pending::Pending;
use super::rows::decode_rows;
use crate::db::{Backend, CHUNK};
use crate::definition::Definition;
use crate::error::{EngineError, Result};
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;
use std::sync::Arc;

/// An instance as this transaction sees it.
#[derive(Debug, Clone)]
pub(crate) struct Inst {
    pub id: String,
    pub workflow: String,
    pub def: Arc<Definition>,
    pub parent_id: Option<String>,
    pub parent_step: Option<String>,
    pub child_index: Option<i64>,
    pub business_key: Option<String>,
    pub status: String,
    pub outcome: Option<String>,
    pub input: Arc<Value>,
    pub output: Value,
    pub open_steps: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    /// The row's `rev` when it was read (every update raises it).
    pub rev: i64,
    /// Not yet in the database (inserted at the next sync).
    pub new: bool,
    /// Changed since the last sync.
    pub dirty: bool,
}

/// An instance row as stored.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct StoredInstance {
    id: String,
    workflow: String,
    version: String,
    parent_id: Option<String>,
    parent_step: Option<String>,
    child_index: Option<i64>,
    business_key: Option<String>,
    status: String,
    outcome: Option<String>,
    input: Value,
    output: Value,
    open_steps: i64,
    created_at: i64,
    finished_at: Option<i64>,
    rev: i64,
}

impl StoredInstance {
    pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredInstance> {
        let input: String = row.try_get("input")?;
        let output: String = row.try_get("output")?;
        Ok(StoredInstance {
            id: row.try_get("id")?,
            workflow: row.try_get("workflow")?,
            version: row.try_get("version")?,
            parent_id: row.try_get("parent_id")?,
            parent_step: row.try_get("parent_step")?,
            child_index: row.try_get("child_index")?,
            business_key: row.try_get("business_key")?,
            status: row.try_get("status")?,
            outcome: row.try_get("outcome")?,
            input: serde_json::from_str(&input)?,
            output: serde_json::from_str(&output)?,
            open_steps: row.try_get("open_steps")?,
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
            rev: row.try_get("rev")?,
        })
    }

    /// The instance as a transaction holds it, run by `def` (its recorded version).
    pub(crate) async fn into_inst(self, inner: &Inner, conn: &mut AnyConnection) -> Result<Inst> {
        let def = inner
            .definition_version(conn, &self.workflow, &self.version)
            .await?;
        Ok(self.with_definition(def))
    }

    fn with_definition(self, def: Arc<Definition>) -> Inst {
        Inst {
            id: self.id,
            workflow: self.workflow,
            def,
            parent_id: self.parent_id,
            parent_step: self.parent_step,
            child_index: self.child_index,
            business_key: self.business_key,
            status: self.status,
            outcome: self.outcome,
            input: Arc::new(self.input),
            output: self.output,
            open_steps: self.open_steps,
            created_at: self.created_at,
            finished_at: self.finished_at,
            rev: self.rev,
            new: false,
            dirty: false,
        }
    }
}

/// A step row to insert.
#[derive(Debug, Clone)]
pub(crate) struct NewStep {
    pub id: String,
    pub instance_id: String,
    pub stage: String,
    pub kind: &'static str,
    pub handler: Option<String>,
    pub state: &'static str,
    pub ready_at: i64,
    pub comp_seq: Option<i64>,
    pub finished_at: Option<i64>,
}

/// A history row to append.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub instance_id: String,
    pub event: &'static str,
    pub stage: Option<String>,
    pub actor: Option<String>,
    pub attempt: Option<i64>,
    pub data: Option<Value>,
}

impl Event {
    pub fn new(instance_id: &str, event: &'static str) -> Event {
        Event {
            instance_id: instance_id.to_string(),
            event,
            stage: None,
            actor: None,
            attempt: None,
            data: None,
        }
    }
    pub fn stage(mut self, stage: &str) -> Event {
        self.stage = Some(stage.to_string());
        self
    }
    pub fn actor(mut self, actor: &str) -> Event {
        self.actor = Some(actor.to_string());
        self
    }
    pub fn attempt(mut self, attempt: i64) -> Event {
        self.attempt = Some(attempt);
        self
    }
    pub fn data(mut self, data: Value) -> Event {
        self.data = Some(data);
        self
    }
}

/// The transaction's working set.
pub(crate) struct Tx<'c> {
    pub inner: &'c Inner,
    pub conn: &'c mut AnyConnection,
    pub now: i64,
    pub instances: HashMap<String, Inst>,
    steps: Vec<NewStep>,
    events: Vec<Event>,
    /// Tasks, timers and join arrivals (see [`Pending`]).
    pub pending: Pending,
    /// Subflow steps whose children are being created, and whether one of those children
    /// already ended (it is heard once all its siblings exist).
    pub starting_subflows: HashMap<String, bool>,
    /// Lifecycle changes for the listener, heard in [`Tx::finish`].
    changes: Vec<InstanceChange>,
    /// New ready work was created: wake workers after commit.
    pub announce: bool,
    /// Instances this transaction created: their history heads are empty before its events.
    fresh: std::collections::HashSet<String>,
}

pub(crate) const INSTANCE_COLUMNS: &str =
    "id, workflow, version, parent_id, parent_step, child_index, \
     business_key, status, outcome, input, output, open_steps, created_at, finished_at";

/// The conflict of a transaction that held a copy of an instance which another transaction
/// changed meanwhile (see [`Tx::adopt`]); running it again without copies resolves it.
pub(crate) const STALE_COPY: &str = "an instance changed since it was read; run again";

/// An instance row as one JSON array in the field order of [`StoredInstance`] (SQLite).
pub(crate) const INSTANCE_JSON: &str = "json_array(id, workflow, version, parent_id, \
     parent_step, child_index, business_key, status, outcome, json(input), json(output), \
     open_steps, created_at, finished_at, rev)";

impl<'c> Tx<'c> {
    pub fn new(inner: &'c Inner, conn: &'c mut AnyConnection) -> Tx<'c> {
        let now = inner.clock.now_ms();
        Tx {
            inner,
            conn,
            now,
            instances: HashMap::new(),
            steps: Vec::new(),
            events: Vec::new(),
            pending: Pending::default(),
            starting_subflows: HashMap::new(),
            changes: Vec::new(),
            announce: false,
            fresh: std::collections::HashSet::new(),
        }
    }

    pub fn push_step(&mut self, step: NewStep) {
        if step.state == "ready" {
            self.announce = true;
        }
        self.steps.push(step);
    }

    pub fn push_event(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Records a lifecycle change of a held instance for the listener.
    pub fn push_change(&mut self, inst_id: &str, change: Change) -> Result<()> {
        if self.inner.listener.is_none() {
            return Ok(());
        }
        let inst = self.inst(inst_id)?;
        let record = InstanceChange {
            instance_id: inst.id.clone(),
            workflow: inst.workflow.clone(),
            parent_id: inst.parent_id.clone(),
            business_key: inst.business_key.clone(),
            input: inst.input.clone(),
            change,
        };
        self.changes.push(record);
        Ok(())
    }

    pub fn inst(&self, id: &str) -> Result<&Inst> {
        self.instances
            .get(id)
            .ok_or_else(|| EngineError::not_found("instance", id))
    }

    pub fn inst_mut(&mut self, id: &str) -> Result<&mut Inst> {
        let inst = self
            .instances
            .get_mut(id)
            .ok_or_else(|| EngineError::not_found("instance", id))?;
        inst.dirty = true;
        Ok(inst)
    }

    /// Loads (and on PostgreSQL locks, in id order so two transactions cannot deadlock on
    /// them) the instances not yet held.
    pub async fn load(&mut self, ids: &[String]) -> Result<()> {
        let mut wanted: Vec<&String> = ids
            .iter()
            .filter(|id| !self.instances.contains_key(*id))
            .collect();
        wanted.sort();
        wanted.dedup();
        let backend = self.inner.db.backend;
        for chunk in wanted.chunks(backend.chunk_rows(CHUNK, 1)) {
            let sql = match backend {
                // One aggregated row instead of one row per instance: sqlx hands every SQLite
                // row across threads separately, which costs more than the query itself.
                Backend::Sqlite => format!(
                    "SELECT json_group_array({INSTANCE_JSON}) AS rows \
                     FROM wf_instances WHERE id IN ({})",
                    backend.in_list(chunk.len(), 1)
                ),
                Backend::Postgres => format!(
                    "SELECT {INSTANCE_COLUMNS}, rev FROM wf_instances WHERE id IN ({}) \
                     ORDER BY id{}",
                    backend.in_list(chunk.len(), 1),
                    backend.lock_rows()
                ),
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind((*id).clone());
            }
            let rows = q.fetch_all(&mut *self.conn).await?;
            for s in decode_rows(backend, &rows, StoredInstance::from_row)? {
                let inst = s.into_inst(self.inner, &mut *self.conn).await?;
                self.instances.insert(inst.id.clone(), inst);
            }
        }
        Ok(())
    }

    /// Reads the join arrivals of those held instances whose workflows have joins, in one
    /// statement, so that their joins decide in memory (see [`Pending`]).
    pub async fn read_joins(&mut self, ids: &[String]) -> Result<()> {
        let joining: Vec<&str> = ids
            .iter()
            .filter(|id| self.instances.get(*id).is_some_and(|i| i.def.has_joins()))
            .map(String::as_str)
            .collect();
        let backend = self.inner.db.backend;
        self.pending.read(&mut *self.conn, backend, &joining).await
    }

    /// Holds these copies of instances (read earlier, when their steps were claimed) instead
    /// of reading the rows again. Every update of an instance row requires the rev the
    /// transaction holds (see `write_dirty_instances`), so a copy that is no longer current
    /// fails the transaction with [`STALE_COPY`] rather than overwrite a newer change; the
    /// caller then runs it again without copies.
    ///
    /// Only SQLite workers keep copies: there the transaction holds the only write lock. On
    /// PostgreSQL [`Tx::load`] locks the rows in id order (so two transactions cannot
    /// deadlock on them), which adopted copies would skip.
    pub fn adopt<'a>(&mut self, copies: impl IntoIterator<Item = &'a Inst>) {
        for inst in copies {
            if !self.instances.contains_key(&inst.id) {
                self.instances.insert(inst.id.clone(), inst.clone());
            }
        }
    }

    /// Writes everything buffered so far, so later queries in this transaction see it.
    pub async fn sync(&mut self) -> Result<()> {
        self.write_new_instances().await?;
        self.write_dirty_instances().await?;
        self.write_steps().await?;
        self.write_events().await?;
        let backend = self.inner.db.backend;
        self.pending.write(&mut *self.conn, backend, self.now).await
    }

    /// Writes everything and announces new work (the caller commits).
    pub async fn finish(mut self) -> Result<bool> {
        self.sync().await?;
        if let Some(listener) = &self.inner.listener {
            if !self.changes.is_empty() {
                listener.on_changes(&mut *self.conn, &self.changes).await?;
            }
        }
        if self.announce {
            self.inner.db.announce(&mut *self.conn).await?;
        }
        Ok(self.announce)
    }

    async fn write_new_instances(&mut self) -> Result<()> {
        let Tx {
            inner,
            conn,
            now,
            instances,
            ..
        } = self;
        let mut new: Vec<&mut Inst> = instances.values_mut().filter(|i| i.new).collect();
        self.fresh.extend(new.iter().map(|i| i.id.clone()));
        for chunk in new.chunks_mut(inner.db.backend.chunk_rows(CHUNK / 4, 15)) {
            let sql = format!(
                "INSERT{} INTO wf_instances ({INSTANCE_COLUMNS}, updated_at) VALUES {}",
                inner.db.backend.or_fail(),
                inner.db.backend.values_list(chunk.len(), 15, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk.iter_mut() {
                i.new = false;
                i.dirty = false;
                q = q
                    .bind(i.id.clone())
                    .bind(i.workflow.clone())
                    .bind(i.def.version.hash.clone())
                    .bind(i.parent_id.clone())
                    .bind(i.parent_step.clone())
                    .bind(i.child_index)
                    .bind(i.business_key.clone())
                    .bind(i.status.clone())
                    .bind(i.outcome.clone())
                    .bind(i.input.to_string())
                    .bind(i.output.to_string())
                    .bind(i.open_steps)
                    .bind(i.created_at)
                    .bind(i.finished_at)
                    .bind(*now);
            }
            q.execute(&mut **conn).await?;
        }
        Ok(())
    }

    async fn write_dirty_instances(&mut self) -> Result<()> {
        let Tx {
            inner,
            conn,
            now,
            instances,
            ..
        } = self;
        let mut dirty: Vec<&mut Inst> = instances.values_mut().filter(|i| i.dirty).collect();
        for chunk in dirty.chunks_mut(inner.db.backend.chunk_rows(CHUNK / 2, 8)) {
            // Only rows still at the rev this transaction holds are updated: a copy adopted
            // without reading the row (see `Tx::adopt`) is proven current here.
            let sql = format!(
                "UPDATE{} wf_instances SET status = v.column2, outcome = v.column3, \
                 output = v.column4, open_steps = v.column5, finished_at = v.column6, \
                 updated_at = v.column7, rev = wf_instances.rev + 1 \
                 FROM (VALUES {}) AS v \
                 WHERE wf_instances.id = v.column1 AND wf_instances.rev = v.column8",
                inner.db.backend.or_fail(),
                inner.db.backend.values_list(chunk.len(), 8, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk.iter_mut() {
                q = q
                    .bind(i.id.clone())
                    .bind(i.status.clone())
                    .bind(i.outcome.clone())
                    .bind(i.output.to_string())
                    .bind(i.open_steps)
                    .bind(i.finished_at)
                    .bind(*now)
                    .bind(i.rev);
                i.dirty = false;
                i.rev += 1;
            }
            let updated = q.execute(&mut **conn).await?.rows_affected();
            if updated as usize != chunk.len() {
                return Err(EngineError::Conflict(STALE_COPY.to_string()));
            }
        }
        Ok(())
    }

    async fn write_steps(&mut self) -> Result<()> {
        let steps = std::mem::take(&mut self.steps);
        for chunk in steps.chunks(self.inner.db.backend.chunk_rows(CHUNK / 4, 12)) {
            let sql = format!(
                "INSERT{} INTO wf_steps (id, instance_id, stage, kind, handler, state, attempt, \
                 failures, ready_at, comp_seq, created_at, finished_at) VALUES {}",
                self.inner.db.backend.or_fail(),
                self.inner.db.backend.values_list(chunk.len(), 12, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                q = q
                    .bind(s.id.clone())
                    .bind(s.instance_id.clone())
                    .bind(s.stage.clone())
                    .bind(s.kind)
                    .bind(s.handler.clone())
                    .bind(s.state)
                    .bind(0i64)
                    .bind(0i64)
                    .bind(s.ready_at)
                    .bind(s.comp_seq)
                    .bind(self.now)
                    .bind(s.finished_at);
            }
            q.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    async fn write_events(&mut self) -> Result<()> {
        let events = std::mem::take(&mut self.events);
        let backend = self.inner.db.backend;
        write_history_after(&mut *self.conn, backend, self.now, &events, &self.fresh).await?;
        // Their heads are stored now: a later sync of this transaction must read them.
        self.fresh.clear();
        Ok(())
    }
}

/// Appends history rows (multi-row inserts), each chained to its instance's row before it
/// (`crate::chain`), and moves each instance's head. The heads are read with the instances'
/// rows locked (PostgreSQL; SQLite's writer is alone), so two transactions never chain to
/// the same row.
pub(crate) async fn write_history(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    now: i64,
    events: &[Event],
) -> Result<()> {
    write_history_after(
        conn,
        backend,
        now,
        events,
        &std::collections::HashSet::new(),
    )
    .await
}

/// [`write_history`], where the instances in `fresh` were created by this transaction, so
/// their heads need not be read.
async fn write_history_after(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    now: i64,
    events: &[Event],
    fresh: &std::collections::HashSet<String>,
) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut heads = history_heads(conn, backend, events, fresh).await?;
    let hashes: Vec<String> = events
        .iter()
        .map(|e| {
            let head = heads.entry(e.instance_id.clone()).or_default();
            let data = e.data.as_ref().map(|d| d.to_string());
            let hash =
                crate::chain::link(head.as_deref(), &history_fields(e, now, data.as_deref()));
            *head = Some(hash.clone());
            hash
        })
        .collect();
    let rows: Vec<(&Event, &String)> = events.iter().zip(&hashes).collect();
    for chunk in rows.chunks(backend.chunk_rows(CHUNK / 4, 8)) {
        let sql = format!(
            "INSERT{} INTO wf_history (instance_id, at, event, stage, actor, attempt, data, hash) \
             VALUES {}",
            backend.or_fail(),
            backend.values_list(chunk.len(), 8, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (e, hash) in chunk {
            q = q
                .bind(e.instance_id.clone())
                .bind(now)
                .bind(e.event)
                .bind(e.stage.clone())
                .bind(e.actor.clone())
                .bind(e.attempt)
                .bind(e.data.as_ref().map(|d| d.to_string()))
                .bind((*hash).clone());
        }
        q.execute(&mut *conn).await?;
    }
    write_heads(conn, backend, heads).await
}

fn history_fields(e: &Event, at: i64, data: Option<&str>) -> [Value; 7] {
    crate::chain::history_fields(
        &e.instance_id,
        at,
        e.event,
        e.stage.as_deref(),
        e.actor.as_deref(),
        e.attempt,
        data,
    )
}

/// The history heads of the events' instances, their rows locked for this transaction.
async fn history_heads(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    events: &[Event],
    fresh: &std::collections::HashSet<String>,
) -> Result<HashMap<String, Option<String>>> {
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e.instance_id.as_str())
        .filter(|id| !fresh.contains(*id))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let select = "SELECT id, history_head FROM wf_instances";
    let chunk = backend.chunk_rows(CHUNK, 1);
    let rows = crate::db::locked_rows_by(conn, backend, select, "id", &ids, chunk).await?;
    let mut heads = HashMap::with_capacity(rows.len());
    for row in rows {
        heads.insert(row.try_get("id")?, row.try_get("history_head")?);
    }
    Ok(heads)
}

/// Stores each instance's new history head (one statement per chunk).
async fn write_heads(
    conn: &mut AnyConnection,
    backend: crate::db::Backend,
    heads: HashMap<String, Option<String>>,
) -> Result<()> {
    let heads: Vec<(String, String)> = heads
        .into_iter()
        .filter_map(|(id, head)| head.map(|h| (id, h)))
        .collect();
    for chunk in heads.chunks(backend.chunk_rows(CHUNK / 2, 2)) {
        let sql = format!(
            // VALUES names its columns column1, column2 on both backends.
            "UPDATE wf_instances SET history_head = v.column2 FROM (VALUES {}) AS v \
             WHERE wf_instances.id = v.column1",
            backend.values_list(chunk.len(), 2, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, head) in chunk {
            q = q.bind(id.clone()).bind(head.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Merges a stage's output into the instance's: object keys overwrite, null adds nothing, any
/// other value is kept under the stage's id.
pub(crate) fn merge_output(into: &mut Value, stage: &str, output: Value) {
    match output {
        Value::Null => {}
        Value::Object(map) => {
            if !into.is_object() {
                *into = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(target) = into {
                target.extend(map);
            }
        }
        other => {
            if !into.is_object() {
                *into = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(target) = into {
                target.insert(stage.to_string(), other);
            }
        }
    }
}

/// A new time-ordered id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
