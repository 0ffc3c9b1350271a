//! Read-only views: instances with their steps, history (the order's timeline), task queues and
//! incidents.

use super::engine::Engine;
use super::status::InstanceStatus;
use crate::clock::from_ms;
use crate::error::{EngineError, Result};
use crate::payload::{decode, PayloadError};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;

/// An instance and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    /// The id.
    pub id: String,
    /// The workflow name.
    pub workflow: String,
    /// The definition version (content hash) it runs.
    pub version: String,
    /// Running, compensating, or how it ended.
    pub status: InstanceStatus,
    /// The parent instance, for subflow children.
    pub parent_id: Option<String>,
    /// The caller's key (e.g. an order id).
    pub business_key: Option<String>,
    /// What it was started with.
    pub input: Value,
    /// The merged outputs of its stages.
    pub output: Value,
    /// Steps in creation order.
    pub steps: Vec<StepView>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
}

impl InstanceView {
    /// What the instance was started with, as `T`; the error names the field that does not
    /// fit (see [`crate::payload`]).
    pub fn input_as<T: DeserializeOwned>(&self) -> std::result::Result<T, PayloadError> {
        decode("input", &self.input)
    }

    /// The merged outputs of its stages, as `T`; see [`InstanceView::input_as`].
    pub fn output_as<T: DeserializeOwned>(&self) -> std::result::Result<T, PayloadError> {
        decode("output", &self.output)
    }
}

/// One step of an instance.
#[derive(Debug, Clone, Serialize)]
pub struct StepView {
    /// The id (also the task id of a human stage).
    pub id: String,
    /// The stage id (`compensate:<stage>` for compensations).
    pub stage: String,
    /// The stage kind, or `compensation`.
    pub kind: String,
    /// See [`super::status`].
    pub state: String,
    /// Attempts made so far.
    pub attempt: i64,
    /// The last error, if any.
    pub error: Option<String>,
}

/// One entry of an instance's append-only history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEvent {
    /// Position in the global history (increasing).
    pub seq: i64,
    /// The instance.
    pub instance_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened (`step.completed`, `task.rejected`, ...; see docs/engine.md).
    pub event: String,
    /// The stage concerned.
    pub stage: Option<String>,
    /// Who (a person, a worker, `sla`).
    pub actor: Option<String>,
    /// The attempt, for step events.
    pub attempt: Option<i64>,
    /// Details (output, error, reason, ...).
    pub data: Option<Value>,
}

/// A human task in a queue.
#[derive(Debug, Clone, Serialize)]
pub struct TaskView {
    /// The id.
    pub id: String,
    /// The instance.
    pub instance_id: String,
    /// The stage id.
    pub stage: String,
    /// approval or manual.
    pub kind: String,
    /// The group whose queue holds it.
    pub group: String,
    /// open, completed, rejected or cancelled.
    pub state: String,
    /// Who claimed it.
    pub claimed_by: Option<String>,
    /// Approvals needed.
    pub required: i64,
    /// Approvals given.
    pub approvals: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The business key of its instance (e.g. the order it belongs to).
    pub business_key: Option<String>,
    /// When its next SLA escalation fires, if one is pending.
    pub sla_due: Option<DateTime<Utc>>,
}

/// A step whose retries are exhausted, waiting for an operator.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentView {
    /// The step id (what retry and skip take).
    pub step_id: String,
    /// The instance.
    pub instance_id: String,
    /// The stage.
    pub stage: String,
    /// Attempts made.
    pub attempt: i64,
    /// The last error.
    pub error: Option<String>,
    /// The business key of its instance (e.g. the order it belongs to).
    pub business_key: Option<String>,
}

/// A stored version of a workflow definition and how many instances run it.
#[derive(Debug, Clone, Serialize)]
pub struct DefinitionVersion {
    /// The workflow's name.
    pub name: String,
    /// The version's content hash (what instances record).
    pub hash: String,
    /// `version = N` from its file, when given.
    pub number: Option<i64>,
    /// When this process or another first registered it.
    pub first_seen: DateTime<Utc>,
    /// Instances on it that have not finished (running or compensating).
    pub running: i64,
    /// Instances on it in all, finished or not.
    pub instances: i64,
}

const TASK_COLUMNS: &str = "t.id, t.instance_id, t.stage, t.kind, t.group_name, t.state, \
    t.claimed_by, t.required, t.approvals, t.created_at, i.business_key, \
    (SELECT MIN(w.due_at) FROM wf_timers w WHERE w.step_id = t.id AND w.purpose = 'sla' \
     AND w.state = 'pending') AS sla_due";
const TASK_FROM: &str = "wf_tasks t JOIN wf_instances i ON i.id = t.instance_id";

impl Engine {
    /// The status of each of these instances that exists, by id (for callers that keep
    /// instance ids and only need to know which still move); one query per 1,000 ids.
    pub async fn instance_statuses(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, InstanceStatus>> {
        let backend = self.inner.db.backend;
        let mut statuses = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(backend.chunk_rows(1000, 1)) {
            let sql = format!(
                "SELECT id, status FROM wf_instances WHERE id IN ({})",
                backend.in_list(chunk.len(), 1)
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.clone());
            }
            for row in q.fetch_all(&self.inner.db.pool).await? {
                statuses.insert(row.try_get("id")?, stored_status(row.try_get("status")?)?);
            }
        }
        Ok(statuses)
    }

    /// An instance with its steps.
    pub async fn instance(&self, id: &str) -> Result<InstanceView> {
        let pool = &self.inner.db.pool;
        let row = sqlx::query(
            "SELECT id, workflow, version, status, parent_id, business_key, input, output, \
             created_at, finished_at FROM wf_instances WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| EngineError::not_found("instance", id))?;
        let steps = sqlx::query(
            "SELECT id, stage, kind, state, attempt, error FROM wf_steps WHERE instance_id = $1 \
             ORDER BY created_at, id",
        )
        .bind(id.to_string())
        .fetch_all(pool)
        .await?;
        let input: String = row.try_get("input")?;
        let output: String = row.try_get("output")?;
        Ok(InstanceView {
            id: row.try_get("id")?,
            workflow: row.try_get("workflow")?,
            version: row.try_get("version")?,
            status: stored_status(row.try_get("status")?)?,
            parent_id: row.try_get("parent_id")?,
            business_key: row.try_get("business_key")?,
            input: serde_json::from_str(&input)?,
            output: serde_json::from_str(&output)?,
            steps: steps.iter().map(step_view).collect::<Result<_>>()?,
            created_at: from_ms(row.try_get("created_at")?),
            finished_at: row.try_get::<Option<i64>, _>("finished_at")?.map(from_ms),
        })
    }

    /// Child instances of a subflow-running instance, in item order.
    pub async fn children(&self, id: &str) -> Result<Vec<InstanceView>> {
        let rows =
            sqlx::query("SELECT id FROM wf_instances WHERE parent_id = $1 ORDER BY child_index")
                .bind(id.to_string())
                .fetch_all(&self.inner.db.pool)
                .await?;
        let mut children = Vec::with_capacity(rows.len());
        for row in rows {
            children.push(self.instance(&row.try_get::<String, _>("id")?).await?);
        }
        Ok(children)
    }

    /// An instance's history, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>> {
        let rows = sqlx::query(
            "SELECT seq, instance_id, at, event, stage, actor, attempt, data FROM wf_history \
             WHERE instance_id = $1 ORDER BY seq",
        )
        .bind(id.to_string())
        .fetch_all(&self.inner.db.pool)
        .await?;
        rows.iter().map(history_event).collect()
    }

    /// The history of every instance started with `business_key` (an order's workflow and
    /// its items' children, which inherit the key), oldest first, in one query.
    pub async fn history_by_key(&self, business_key: &str) -> Result<Vec<HistoryEvent>> {
        let rows = sqlx::query(
            "SELECT h.seq, h.instance_id, h.at, h.event, h.stage, h.actor, h.attempt, h.data \
             FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id \
             WHERE i.business_key = $1 ORDER BY h.seq",
        )
        .bind(business_key.to_string())
        .fetch_all(&self.inner.db.pool)
        .await?;
        rows.iter().map(history_event).collect()
    }

    /// A group's open tasks, oldest first.
    pub async fn open_tasks(&self, group: &str) -> Result<Vec<TaskView>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.group_name = $1 AND t.state = 'open' \
             ORDER BY t.created_at, t.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group.to_string())
            .fetch_all(&self.inner.db.pool)
            .await?;
        rows.iter().map(task_view).collect()
    }

    /// One task (any state).
    pub async fn task(&self, task_id: &str) -> Result<TaskView> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(task_id.to_string())
            .fetch_optional(&self.inner.db.pool)
            .await?
            .ok_or_else(|| EngineError::not_found("task", task_id))?;
        task_view(&row)
    }

    /// An instance's tasks (any state), oldest first.
    pub async fn instance_tasks(&self, instance_id: &str) -> Result<Vec<TaskView>> {
        let sql = format!(
            "SELECT {TASK_COLUMNS} FROM {TASK_FROM} WHERE t.instance_id = $1 \
             ORDER BY t.created_at, t.id"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(instance_id.to_string())
            .fetch_all(&self.inner.db.pool)
            .await?;
        rows.iter().map(task_view).collect()
    }

    /// How many tasks are open in each group that has any (for queue-depth metrics).
    pub async fn open_task_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT group_name, COUNT(*) AS n FROM wf_tasks WHERE state = 'open' \
             GROUP BY group_name ORDER BY group_name",
        )
        .fetch_all(&self.inner.db.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("group_name")?, r.try_get("n")?)))
            .collect()
    }

    /// How many steps wait for an operator.
    pub async fn incident_count(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM wf_steps WHERE state = 'incident'")
            .fetch_one(&self.inner.db.pool)
            .await?;
        Ok(row.try_get("n")?)
    }

    /// Every stored definition version, by workflow and then first seen, with how many
    /// instances run on it (one grouped statement; `wf_instances.version` is the hash).
    pub async fn definition_versions(&self) -> Result<Vec<DefinitionVersion>> {
        let rows = sqlx::query(
            "SELECT d.name, d.hash, d.number, d.registered_at, COUNT(i.id) AS instances, \
             COUNT(CASE WHEN i.status IN ('running', 'compensating') THEN 1 END) AS running \
             FROM wf_definitions d \
             LEFT JOIN wf_instances i ON i.workflow = d.name AND i.version = d.hash \
             GROUP BY d.name, d.hash, d.number, d.registered_at \
             ORDER BY d.name, d.registered_at, d.hash",
        )
        .fetch_all(&self.inner.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DefinitionVersion {
                    name: row.try_get("name")?,
                    hash: row.try_get("hash")?,
                    number: row.try_get("number")?,
                    first_seen: from_ms(row.try_get("registered_at")?),
                    running: row.try_get("running")?,
                    instances: row.try_get("instances")?,
                })
            })
            .collect()
    }

    /// Steps waiting for an operator.
    pub async fn incidents(&self) -> Result<Vec<IncidentView>> {
        let rows = sqlx::query(
            "SELECT s.id, s.instance_id, s.stage, s.attempt, s.error, i.business_key \
             FROM wf_steps s JOIN wf_instances i ON i.id = s.instance_id \
             WHERE s.state = 'incident' ORDER BY s.ready_at, s.id",
        )
        .fetch_all(&self.inner.db.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(IncidentView {
                    step_id: row.try_get("id")?,
                    instance_id: row.try_get("instance_id")?,
                    stage: row.try_get("stage")?,
                    attempt: row.try_get("attempt")?,
                    error: row.try_get("error")?,
                    business_key: row.try_get("business_key")?,
                })
            })
            .collect()
    }
}

/// A stored instance status; anything else is a column that cannot be decoded.
fn stored_status(name: String) -> Result<InstanceStatus> {
    name.parse::<InstanceStatus>()
        .map_err(|e| EngineError::Database(sqlx::Error::Decode(Box::new(e))))
}

fn step_view(row: &AnyRow) -> Result<StepView> {
    Ok(StepView {
        id: row.try_get("id")?,
        stage: row.try_get("stage")?,
        kind: row.try_get("kind")?,
        state: row.try_get("state")?,
        attempt: row.try_get("attempt")?,
        error: row.try_get("error")?,
    })
}

fn task_view(row: &AnyRow) -> Result<TaskView> {
    Ok(TaskView {
        id: row.try_get("id")?,
        instance_id: row.try_get("instance_id")?,
        stage: row.try_get("stage")?,
        kind: row.try_get("kind")?,
        group: row.try_get("group_name")?,
        state: row.try_get("state")?,
        claimed_by: row.try_get("claimed_by")?,
        required: row.try_get("required")?,
        approvals: row.try_get("approvals")?,
        created_at: from_ms(row.try_get("created_at")?),
        business_key: row.try_get("business_key")?,
        sla_due: row.try_get::<Option<i64>, _>("sla_due")?.map(from_ms),
    })
}

fn history_event(row: &AnyRow) -> Result<HistoryEvent> {
    let data: Option<String> = row.try_get("data")?;
    Ok(HistoryEvent {
        seq: row.try_get("seq")?,
        instance_id: row.try_get("instance_id")?,
        at: from_ms(row.try_get("at")?),
        event: row.try_get("event")?,
        stage: row.try_get("stage")?,
        actor: row.try_get("actor")?,
        attempt: row.try_get("attempt")?,
        data: data.map(|d| serde_json::from_str(&d)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Reserved {
        port: u16,
    }

    #[test]
    fn an_instance_view_reads_its_payloads_typed() {
        let view = InstanceView {
            id: "i".into(),
            workflow: "wan-link".into(),
            version: "h".into(),
            status: InstanceStatus::Running,
            parent_id: None,
            business_key: None,
            input: serde_json::json!({"port": "seven"}),
            output: serde_json::json!({"port": 7}),
            steps: Vec::new(),
            created_at: from_ms(0),
            finished_at: None,
        };
        assert_eq!(view.output_as::<Reserved>(), Ok(Reserved { port: 7 }));
        let error = view.input_as::<Reserved>().expect_err("a string port");
        assert_eq!(error.what, "input");
        assert_eq!(error.path, "port");
    }
}
