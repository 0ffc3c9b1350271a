//! One state-changing transaction: the instances it touches, held in memory, and the rows it
//! will write, buffered so a batch of step completions becomes a handful of multi-row
//! statements instead of several statements per step.
//!
//! Anything that reads steps, edges or children back from the database calls [`Tx::sync`]
//! first, so a query never misses a row this transaction has buffered.

use super::Inner;
use crate::db::{in_list, values_list, CHUNK};
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
    /// Not yet in the database (inserted at the next sync).
    pub new: bool,
    /// Changed since the last sync.
    pub dirty: bool,
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
    /// New ready work was created: wake workers after commit.
    pub announce: bool,
}

const INSTANCE_COLUMNS: &str = "id, workflow, version, parent_id, parent_step, child_index, \
     business_key, status, outcome, input, output, open_steps, created_at, finished_at";

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
            announce: false,
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
        for chunk in wanted.chunks(CHUNK) {
            let sql = format!(
                "SELECT {INSTANCE_COLUMNS} FROM wf_instances WHERE id IN ({}) ORDER BY id{}",
                in_list(chunk.len(), 1),
                self.inner.db.backend.lock_rows()
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind((*id).clone());
            }
            let rows = q.fetch_all(&mut *self.conn).await?;
            for row in rows {
                let inst = self.inst_from_row(&row).await?;
                self.instances.insert(inst.id.clone(), inst);
            }
        }
        Ok(())
    }

    async fn inst_from_row(&mut self, row: &sqlx::any::AnyRow) -> Result<Inst> {
        let workflow: String = row.try_get("workflow")?;
        let version: String = row.try_get("version")?;
        let def = self
            .inner
            .definition_version(&mut *self.conn, &workflow, &version)
            .await?;
        let input: String = row.try_get("input")?;
        let output: String = row.try_get("output")?;
        Ok(Inst {
            id: row.try_get("id")?,
            workflow,
            def,
            parent_id: row.try_get("parent_id")?,
            parent_step: row.try_get("parent_step")?,
            child_index: row.try_get("child_index")?,
            business_key: row.try_get("business_key")?,
            status: row.try_get("status")?,
            outcome: row.try_get("outcome")?,
            input: Arc::new(serde_json::from_str(&input)?),
            output: serde_json::from_str(&output)?,
            open_steps: row.try_get("open_steps")?,
            created_at: row.try_get("created_at")?,
            finished_at: row.try_get("finished_at")?,
            new: false,
            dirty: false,
        })
    }

    /// Writes everything buffered so far, so later queries in this transaction see it.
    pub async fn sync(&mut self) -> Result<()> {
        self.write_new_instances().await?;
        self.write_dirty_instances().await?;
        self.write_steps().await?;
        self.write_events().await?;
        Ok(())
    }

    /// Writes everything and announces new work (the caller commits).
    pub async fn finish(mut self) -> Result<bool> {
        self.sync().await?;
        if self.announce {
            self.inner.db.announce(&mut *self.conn).await?;
        }
        Ok(self.announce)
    }

    async fn write_new_instances(&mut self) -> Result<()> {
        let new: Vec<Inst> = self
            .instances
            .values_mut()
            .filter(|i| i.new)
            .map(|i| {
                i.new = false;
                i.dirty = false;
                i.clone()
            })
            .collect();
        for chunk in new.chunks(CHUNK / 4) {
            let sql = format!(
                "INSERT INTO wf_instances ({INSTANCE_COLUMNS}, updated_at) VALUES {}",
                values_list(chunk.len(), 15, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk {
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
                    .bind(self.now);
            }
            q.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    async fn write_dirty_instances(&mut self) -> Result<()> {
        let dirty: Vec<Inst> = self
            .instances
            .values_mut()
            .filter(|i| i.dirty)
            .map(|i| {
                i.dirty = false;
                i.clone()
            })
            .collect();
        for chunk in dirty.chunks(CHUNK / 2) {
            let sql = format!(
                "UPDATE wf_instances SET status = v.column2, outcome = v.column3, \
                 output = v.column4, open_steps = v.column5, finished_at = v.column6, \
                 updated_at = v.column7 FROM (VALUES {}) AS v WHERE wf_instances.id = v.column1",
                values_list(chunk.len(), 7, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for i in chunk {
                q = q
                    .bind(i.id.clone())
                    .bind(i.status.clone())
                    .bind(i.outcome.clone())
                    .bind(i.output.to_string())
                    .bind(i.open_steps)
                    .bind(i.finished_at)
                    .bind(self.now);
            }
            q.execute(&mut *self.conn).await?;
        }
        Ok(())
    }

    async fn write_steps(&mut self) -> Result<()> {
        let steps = std::mem::take(&mut self.steps);
        for chunk in steps.chunks(CHUNK / 4) {
            let sql = format!(
                "INSERT INTO wf_steps (id, instance_id, stage, kind, handler, state, attempt, \
                 failures, ready_at, comp_seq, created_at, finished_at) VALUES {}",
                values_list(chunk.len(), 12, 1)
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
        write_history(&mut *self.conn, self.now, &events).await
    }
}

/// Appends history rows (multi-row inserts).
pub(crate) async fn write_history(
    conn: &mut AnyConnection,
    now: i64,
    events: &[Event],
) -> Result<()> {
    for chunk in events.chunks(CHUNK / 4) {
        let sql = format!(
            "INSERT INTO wf_history (instance_id, at, event, stage, actor, attempt, data) VALUES {}",
            values_list(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(e.instance_id.clone())
                .bind(now)
                .bind(e.event)
                .bind(e.stage.clone())
                .bind(e.actor.clone())
                .bind(e.attempt)
                .bind(e.data.as_ref().map(|d| d.to_string()));
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
