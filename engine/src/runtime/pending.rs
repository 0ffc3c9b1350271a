//! Rows a transaction writes besides instances, steps and history — human tasks, timers and
//! join arrivals — buffered like those (see [`super::state`]) so that a batch of orders
//! becomes a few multi-row statements, and the arrivals at each join a transaction needs,
//! counted in memory.
//!
//! On SQLite every statement is a round trip to the connection's thread while the single
//! writer is held, so a human task with two SLA timers and two join arrivals written one by
//! one cost about ten statements per order; buffered, they cost a few per batch.

use super::rows::decode_rows;
use crate::db::{Backend, CHUNK};
use crate::error::Result;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// A human task row to insert (open, unclaimed, no approvals yet).
#[derive(Debug)]
pub(crate) struct NewTask {
    pub id: String,
    pub instance_id: String,
    pub stage: String,
    pub kind: String,
    pub group: String,
    pub required: i64,
    pub members: Option<String>,
}

/// A pending timer row to insert.
#[derive(Debug)]
pub(crate) struct NewTimer {
    pub id: String,
    pub instance_id: String,
    pub step_id: String,
    pub purpose: String,
    pub escalation: Option<i64>,
    pub due_at: i64,
}

/// An edge that arrived at a join (a stage with several incoming edges).
#[derive(Debug)]
pub(crate) struct NewEdge {
    pub instance_id: String,
    pub source: String,
    pub target: String,
    pub live: bool,
}

/// Arrivals so far at one join: how many edges, and whether any was live.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Joined {
    pub arrived: i64,
    pub live: bool,
}

/// One join's arrivals as stored (SQLite: a JSON array in this field order).
#[derive(Debug, serde::Deserialize)]
struct StoredJoin {
    instance_id: String,
    target: String,
    arrived: i64,
    live: i64,
}

impl StoredJoin {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<StoredJoin> {
        use sqlx::Row;
        Ok(StoredJoin {
            instance_id: row.try_get("instance_id")?,
            target: row.try_get("target")?,
            arrived: row.try_get("arrived")?,
            live: row.try_get("live")?,
        })
    }
}

/// The buffered rows and the join counts of one transaction.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub tasks: Vec<NewTask>,
    pub timers: Vec<NewTimer>,
    edges: Vec<NewEdge>,
    /// Per instance whose arrivals are known (read, or new in this transaction): per join
    /// target, the arrivals stored and buffered.
    joins: HashMap<String, HashMap<String, Joined>>,
}

impl Pending {
    /// Marks an instance created in this transaction: it has no arrivals anywhere yet.
    pub fn created(&mut self, instance_id: &str) {
        self.joins.insert(instance_id.to_string(), HashMap::new());
    }

    /// Whether the arrivals of `instance_id` are known here.
    pub fn knows(&self, instance_id: &str) -> bool {
        self.joins.contains_key(instance_id)
    }

    /// Records an arrival at `edge.target` (buffered for the next write) and returns the
    /// join's arrivals including it. The instance's arrivals must be known ([`Pending::read`]).
    pub fn arrive(&mut self, edge: NewEdge) -> Joined {
        let joined = self
            .joins
            .entry(edge.instance_id.clone())
            .or_default()
            .entry(edge.target.clone())
            .or_default();
        joined.arrived += 1;
        joined.live |= edge.live;
        let now = *joined;
        self.edges.push(edge);
        now
    }

    /// Reads the stored arrivals of those `ids` not known yet, in one statement per chunk.
    /// The caller holds the instances (locked on PostgreSQL, the write lock on SQLite), so
    /// nobody else adds arrivals to them before this transaction ends.
    pub async fn read(
        &mut self,
        conn: &mut AnyConnection,
        backend: Backend,
        ids: &[&str],
    ) -> Result<()> {
        let wanted: Vec<&str> = ids.iter().copied().filter(|id| !self.knows(id)).collect();
        for chunk in wanted.chunks(backend.chunk_rows(CHUNK, 1)) {
            let grouped = format!(
                "SELECT instance_id, target, COUNT(*) AS arrived, MAX(live) AS live \
                 FROM wf_edges WHERE instance_id IN ({}) GROUP BY instance_id, target",
                backend.in_list(chunk.len(), 1)
            );
            let sql = match backend {
                Backend::Sqlite => format!(
                    "SELECT json_group_array(json_array(instance_id, target, arrived, live)) \
                     AS rows FROM ({grouped})"
                ),
                Backend::Postgres => grouped,
            };
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.to_string());
            }
            let rows = q.fetch_all(&mut *conn).await?;
            for id in chunk {
                self.joins.entry(id.to_string()).or_default();
            }
            for s in decode_rows(backend, &rows, StoredJoin::from_row)? {
                let joined = Joined {
                    arrived: s.arrived,
                    live: s.live > 0,
                };
                self.joins
                    .entry(s.instance_id)
                    .or_default()
                    .insert(s.target, joined);
            }
        }
        Ok(())
    }

    /// Writes the buffered tasks, timers and arrivals.
    pub async fn write(
        &mut self,
        conn: &mut AnyConnection,
        backend: Backend,
        now: i64,
    ) -> Result<()> {
        let tasks = std::mem::take(&mut self.tasks);
        for chunk in tasks.chunks(backend.chunk_rows(CHUNK / 4, 12)) {
            let sql = format!(
                "INSERT{} INTO wf_tasks (id, instance_id, stage, kind, group_name, state, \
                 claimed_by, required, members, approvals, created_at, updated_at) VALUES {}",
                backend.or_fail(),
                backend.values_list(chunk.len(), 12, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for t in chunk {
                q = q
                    .bind(t.id.clone())
                    .bind(t.instance_id.clone())
                    .bind(t.stage.clone())
                    .bind(t.kind.clone())
                    .bind(t.group.clone())
                    .bind("open")
                    .bind(None::<String>)
                    .bind(t.required)
                    .bind(t.members.clone())
                    .bind(0i64)
                    .bind(now)
                    .bind(now);
            }
            q.execute(&mut *conn).await?;
        }
        let timers = std::mem::take(&mut self.timers);
        for chunk in timers.chunks(backend.chunk_rows(CHUNK / 4, 7)) {
            let sql = format!(
                "INSERT{} INTO wf_timers (id, instance_id, step_id, purpose, escalation, state, \
                 due_at) VALUES {}",
                backend.or_fail(),
                backend.values_list(chunk.len(), 7, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for t in chunk {
                q = q
                    .bind(t.id.clone())
                    .bind(t.instance_id.clone())
                    .bind(t.step_id.clone())
                    .bind(t.purpose.clone())
                    .bind(t.escalation)
                    .bind("pending")
                    .bind(t.due_at);
            }
            q.execute(&mut *conn).await?;
        }
        let edges = std::mem::take(&mut self.edges);
        for chunk in edges.chunks(backend.chunk_rows(CHUNK / 4, 4)) {
            let sql = format!(
                "INSERT{} INTO wf_edges (instance_id, source, target, live) VALUES {}",
                backend.or_fail(),
                backend.values_list(chunk.len(), 4, 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for e in chunk {
                q = q
                    .bind(e.instance_id.clone())
                    .bind(e.source.clone())
                    .bind(e.target.clone())
                    .bind(i64::from(e.live));
            }
            q.execute(&mut *conn).await?;
        }
        Ok(())
    }
}
