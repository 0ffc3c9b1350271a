//! Human tasks inside a transaction: what approval and manual stages put in a group's queue,
//! and what a decision on one does — approve, reject (a reason is required), done — with
//! quorum, the pluggable actor check ("nobody approves their own order") and SLA escalations.
//! The engine's calls that people make on tasks are in `task_calls`.

use super::actor::ActorCheckRequest;
use super::state::{Event, Tx};
use super::status::*;
use crate::definition::{SlaAction, StageKind};
use crate::error::{EngineError, Result};
use serde_json::{json, Value};
use sqlx::Row;

/// How a person completes a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Approve (approval stages).
    Approve,
    /// Reject, ending the instance as rejected (approval and manual stages).
    Reject {
        /// Why; required and shown in the order's timeline.
        reason: String,
    },
    /// Done (manual stages), with data merged into the instance's output.
    Done {
        /// An object, or null.
        data: Value,
    },
}

/// A task row as a transaction reads it.
pub(super) struct TaskRow {
    pub(super) instance_id: String,
    pub(super) stage: String,
    kind: String,
    group: String,
    pub(super) state: String,
    pub(super) claimed_by: Option<String>,
    required: i64,
    members: Option<Vec<String>>,
    approvals: i64,
}

/// Who acts: a person (checked) or the SLA (not checked).
#[derive(Clone, Copy)]
pub(super) enum Actor<'a> {
    Person(&'a str),
    System(&'a str),
}

impl Actor<'_> {
    fn name(&self) -> &str {
        match self {
            Actor::Person(a) | Actor::System(a) => a,
        }
    }
}

impl Tx<'_> {
    pub(super) async fn task_row(&mut self, task_id: &str) -> Result<TaskRow> {
        self.sync().await?;
        let sql = format!(
            "SELECT instance_id, stage, kind, group_name, state, claimed_by, required, members, \
             approvals FROM wf_tasks WHERE id = $1{}",
            self.inner.db.backend.lock_rows()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(task_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?
            .ok_or_else(|| EngineError::not_found("task", task_id))?;
        let members: Option<String> = row.try_get("members")?;
        Ok(TaskRow {
            instance_id: row.try_get("instance_id")?,
            stage: row.try_get("stage")?,
            kind: row.try_get("kind")?,
            group: row.try_get("group_name")?,
            state: row.try_get("state")?,
            claimed_by: row.try_get("claimed_by")?,
            required: row.try_get("required")?,
            members: members.map(|m| serde_json::from_str(&m)).transpose()?,
            approvals: row.try_get("approvals")?,
        })
    }

    /// The task, if it is open, not claimed by someone else, and the actor may act on it.
    pub(super) async fn open_task(&mut self, task_id: &str, actor: Actor<'_>) -> Result<TaskRow> {
        let task = self.task_row(task_id).await?;
        if task.state != "open" {
            return Err(EngineError::Conflict(format!(
                "task {task_id} is {} and can no longer be acted on",
                task.state
            )));
        }
        self.load(std::slice::from_ref(&task.instance_id)).await?;
        let Actor::Person(person) = actor else {
            return Ok(task);
        };
        if let Some(other) = task.claimed_by.as_deref().filter(|c| *c != person) {
            return Err(EngineError::Conflict(format!(
                "task {task_id} is claimed by {other}"
            )));
        }
        let inst = self.inst(&task.instance_id)?;
        self.inner.check_actor(&ActorCheckRequest {
            actor: person,
            workflow: &inst.workflow,
            stage: &task.stage,
            group: &task.group,
            input: &inst.input,
        })?;
        if let Some(members) = &task.members {
            if !members.iter().any(|m| m == person) {
                return Err(EngineError::Forbidden(format!(
                    "{person} is not one of the members of {} whose approval this task needs",
                    task.group
                )));
            }
        }
        Ok(task)
    }

    pub(super) async fn refuse_repeat(&mut self, task_id: &str, actor: &str) -> Result<()> {
        let decided =
            sqlx::query("SELECT outcome FROM wf_task_decisions WHERE task_id = $1 AND actor = $2")
                .bind(task_id.to_string())
                .bind(actor.to_string())
                .fetch_optional(&mut *self.conn)
                .await?;
        match decided {
            Some(_) => Err(EngineError::Conflict(format!(
                "{actor} has already decided task {task_id}; another member must act"
            ))),
            None => Ok(()),
        }
    }

    pub(super) async fn decide(
        &mut self,
        task_id: &str,
        actor: Actor<'_>,
        outcome: Outcome,
    ) -> Result<()> {
        let task = self.open_task(task_id, actor).await?;
        check_outcome(&task.kind, &outcome)?;
        if let Actor::Person(person) = actor {
            self.refuse_repeat(task_id, person).await?;
        }
        let (name, reason) = match &outcome {
            Outcome::Approve => ("approve", None),
            Outcome::Reject { reason } => ("reject", Some(reason.trim().to_string())),
            Outcome::Done { .. } => ("done", None),
        };
        sqlx::query(
            "INSERT INTO wf_task_decisions (task_id, actor, outcome, reason, at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(task_id.to_string())
        .bind(actor.name().to_string())
        .bind(name)
        .bind(reason.clone())
        .bind(self.now)
        .execute(&mut *self.conn)
        .await?;
        match outcome {
            Outcome::Approve if task.approvals + 1 < task.required => {
                self.partial_approval(task_id, &task, actor).await
            }
            Outcome::Approve => {
                let approvers = self.approvers(task_id).await?;
                let output = json!({ task.stage.clone(): {"approved_by": approvers} });
                self.close_task(task_id, &task, actor, "task.approved", output)
                    .await
            }
            Outcome::Done { data } => {
                self.close_task(task_id, &task, actor, "task.done", data)
                    .await
            }
            Outcome::Reject { reason } => self.reject(task_id, &task, actor, reason.trim()).await,
        }
    }

    async fn partial_approval(
        &mut self,
        task_id: &str,
        task: &TaskRow,
        actor: Actor<'_>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE wf_tasks SET approvals = approvals + 1, claimed_by = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(self.now)
        .bind(task_id.to_string())
        .execute(&mut *self.conn)
        .await?;
        let data = json!({"approvals": task.approvals + 1, "required": task.required});
        let event = Event::new(&task.instance_id, "task.approved").stage(&task.stage);
        self.push_event(event.actor(actor.name()).data(data));
        Ok(())
    }

    async fn approvers(&mut self, task_id: &str) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT actor FROM wf_task_decisions WHERE task_id = $1 AND outcome = 'approve' ORDER BY at, actor",
        )
        .bind(task_id.to_string())
        .fetch_all(&mut *self.conn)
        .await?;
        Ok(rows
            .iter()
            .map(|r| r.try_get("actor"))
            .collect::<Result<_, _>>()?)
    }

    async fn set_task_state(&mut self, task_id: &str, state: &str, approvals: i64) -> Result<()> {
        sqlx::query(
            "UPDATE wf_tasks SET state = $1, approvals = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(state.to_string())
        .bind(approvals)
        .bind(self.now)
        .bind(task_id.to_string())
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn close_task(
        &mut self,
        task_id: &str,
        task: &TaskRow,
        actor: Actor<'_>,
        event: &'static str,
        output: Value,
    ) -> Result<()> {
        let approvals = task.approvals + i64::from(task.kind == "approval");
        self.set_task_state(task_id, COMPLETED, approvals).await?;
        if !self.finish_waiting_step(task_id, COMPLETED).await? {
            return Ok(());
        }
        let def = self.inst(&task.instance_id)?.def.clone();
        let Some(stage) = def.stage_index(&task.stage) else {
            return Ok(());
        };
        let event = Event::new(&task.instance_id, event)
            .stage(&task.stage)
            .actor(actor.name());
        self.stage_completed(&task.instance_id, stage, output, event)
            .await
    }

    async fn reject(
        &mut self,
        task_id: &str,
        task: &TaskRow,
        actor: Actor<'_>,
        reason: &str,
    ) -> Result<()> {
        self.set_task_state(task_id, REJECTED, task.approvals)
            .await?;
        self.finish_waiting_step(task_id, REJECTED).await?;
        let event = Event::new(&task.instance_id, "task.rejected")
            .stage(&task.stage)
            .actor(actor.name())
            .data(json!({ "reason": reason }));
        self.push_event(event);
        self.begin_compensation(&task.instance_id, REJECTED, Some(actor.name()), reason)
            .await
    }

    /// An SLA escalation fired for a task (a no-op once the task is decided).
    pub(crate) async fn escalate(&mut self, task_id: &str, escalation: usize) -> Result<()> {
        let task = self.task_row(task_id).await?;
        if task.state != "open" {
            return Ok(());
        }
        self.load(std::slice::from_ref(&task.instance_id)).await?;
        let def = self.inst(&task.instance_id)?.def.clone();
        let action = def
            .stage_index(&task.stage)
            .and_then(|i| match &def.stages[i].kind {
                StageKind::Approval(h) | StageKind::Manual(h) => h.sla.get(escalation).cloned(),
                _ => None,
            });
        let Some(escalation) = action else {
            return Ok(());
        };
        let after = humantime::format_duration(escalation.after).to_string();
        let sla = Actor::System("sla");
        match escalation.action {
            SlaAction::Remind => {
                let event = Event::new(&task.instance_id, "task.reminder").stage(&task.stage);
                self.push_event(event.data(json!({"group": task.group, "after": after})));
                Ok(())
            }
            SlaAction::Reassign { group } => {
                sqlx::query("UPDATE wf_tasks SET group_name = $1, claimed_by = NULL, updated_at = $2 WHERE id = $3")
                    .bind(group.clone())
                    .bind(self.now)
                    .bind(task_id.to_string())
                    .execute(&mut *self.conn)
                    .await?;
                let event = Event::new(&task.instance_id, "task.reassigned").stage(&task.stage);
                self.push_event(
                    event.data(json!({"from": task.group, "to": group, "after": after})),
                );
                Ok(())
            }
            SlaAction::AutoApprove if task.kind == "manual" => {
                self.decide(task_id, sla, Outcome::Done { data: Value::Null })
                    .await
            }
            SlaAction::AutoApprove => {
                self.close_task(
                    task_id,
                    &task,
                    sla,
                    "task.auto-approved",
                    json!({ task.stage.clone(): {"approved_by": ["sla"]} }),
                )
                .await
            }
            SlaAction::AutoReject => {
                let reason = format!("not decided within the SLA of {after}");
                self.decide(task_id, sla, Outcome::Reject { reason }).await
            }
        }
    }
}

/// The outcome must suit the stage kind; a rejection needs a reason.
fn check_outcome(kind: &str, outcome: &Outcome) -> Result<()> {
    match (kind, outcome) {
        (_, Outcome::Reject { reason }) if reason.trim().is_empty() => Err(EngineError::Invalid {
            field: "reason",
            rule: "required",
            message: "a rejection needs a reason; say why, it goes into the order's timeline"
                .into(),
        }),
        ("approval", Outcome::Done { .. }) => Err(EngineError::Invalid {
            field: "outcome",
            rule: "approval-outcome",
            message: "an approval task is approved or rejected, not done".into(),
        }),
        ("manual", Outcome::Approve) => Err(EngineError::Invalid {
            field: "outcome",
            rule: "manual-outcome",
            message: "a manual task is done or rejected, not approved".into(),
        }),
        (_, Outcome::Done { data }) if !(data.is_object() || data.is_null()) => {
            Err(EngineError::Invalid {
                field: "data",
                rule: "object",
                message: "data of a done task must be a JSON object (or absent)".into(),
            })
        }
        _ => Ok(()),
    }
}
