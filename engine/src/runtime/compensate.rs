//! Ending an instance badly: on reject, fatal failure or cancellation its pending work stops and
//! the compensations of the task stages it completed run one at a time, newest first; then the
//! instance takes its final status. Children still running are cancelled the same way.

use super::listener::Change;
use super::state::{new_id, Event, NewStep, Tx};
use super::status::*;
use crate::definition::StageKind;
use crate::error::Result;
use futures::future::BoxFuture;
use serde_json::json;
use sqlx::Row;

/// Stage-id prefix of compensation steps (`compensate:reserve-port`).
pub const COMPENSATE_PREFIX: &str = "compensate:";

impl Tx<'_> {
    /// Stops a running instance and starts compensating; `outcome` is the status it ends with
    /// (rejected, failed or cancelled). Does nothing to an instance that is not running.
    pub(crate) fn begin_compensation<'a>(
        &'a mut self,
        inst_id: &'a str,
        outcome: &'static str,
        actor: Option<&'a str>,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if self.inst(inst_id)?.status != RUNNING {
                return Ok(());
            }
            self.sync().await?;
            let undo = self.stages_to_undo(inst_id).await?;
            self.stop_pending_work(inst_id).await?;
            let mut event = Event::new(inst_id, "instance.compensating")
                .data(json!({"outcome": outcome, "reason": reason, "compensations": undo.len()}));
            if let Some(actor) = actor {
                event = event.actor(actor);
            }
            self.push_event(event);
            let count = undo.len() as i64;
            {
                let inst = self.inst_mut(inst_id)?;
                inst.status = COMPENSATING.to_string();
                inst.outcome = Some(outcome.to_string());
                inst.open_steps = count;
            }
            self.push_change(
                inst_id,
                Change::Compensating {
                    outcome: outcome.to_string(),
                    reason: reason.to_string(),
                    actor: actor.map(str::to_string),
                },
            )?;
            for (seq, (stage, handler)) in undo.into_iter().enumerate() {
                self.push_step(NewStep {
                    id: new_id(),
                    instance_id: inst_id.to_string(),
                    stage: format!("{COMPENSATE_PREFIX}{stage}"),
                    kind: COMPENSATION,
                    handler: Some(handler),
                    state: if seq == 0 { READY } else { PENDING },
                    ready_at: self.now,
                    comp_seq: Some(seq as i64),
                    finished_at: None,
                });
            }
            self.cancel_children(inst_id, actor).await?;
            if count == 0 {
                self.finalize(inst_id).await?;
            }
            Ok(())
        })
    }

    /// Task stages that took (or may have taken) effect, newest first, with their
    /// compensation handlers. A step still running is included: its handler may yet act, so
    /// compensations must tolerate undoing something that never happened.
    async fn stages_to_undo(&mut self, inst_id: &str) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT stage FROM wf_steps WHERE instance_id = $1 AND kind = 'task' \
             AND state IN ('completed', 'running') \
             ORDER BY COALESCE(finished_at, $2) DESC, id DESC",
        )
        .bind(inst_id.to_string())
        .bind(i64::MAX)
        .fetch_all(&mut *self.conn)
        .await?;
        let def = self.inst(inst_id)?.def.clone();
        let mut undo = Vec::new();
        for row in rows {
            let stage: String = row.try_get("stage")?;
            let handler = def
                .stage_index(&stage)
                .and_then(|i| match &def.stages[i].kind {
                    StageKind::Task(t) => t.compensation.clone(),
                    _ => None,
                });
            if let Some(handler) = handler {
                undo.push((stage, handler));
            }
        }
        Ok(undo)
    }

    async fn stop_pending_work(&mut self, inst_id: &str) -> Result<()> {
        let statements = [
            "UPDATE wf_steps SET state = 'cancelled', finished_at = $2, lease_owner = NULL \
             WHERE instance_id = $1 AND state IN ('ready', 'running', 'waiting', 'incident')",
            "UPDATE wf_tasks SET state = 'cancelled', updated_at = $2 \
             WHERE instance_id = $1 AND state = 'open'",
            "UPDATE wf_timers SET state = 'cancelled', fired_at = $2 \
             WHERE instance_id = $1 AND state = 'pending'",
        ];
        for sql in statements {
            sqlx::query(sql)
                .bind(inst_id.to_string())
                .bind(self.now)
                .execute(&mut *self.conn)
                .await?;
        }
        Ok(())
    }

    async fn cancel_children(&mut self, inst_id: &str, actor: Option<&str>) -> Result<()> {
        let rows = sqlx::query(
            "SELECT id FROM wf_instances WHERE parent_id = $1 AND status = 'running' ORDER BY id",
        )
        .bind(inst_id.to_string())
        .fetch_all(&mut *self.conn)
        .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        self.load(&ids).await?;
        for id in &ids {
            let reason = format!("parent instance {inst_id} stopped");
            self.begin_compensation(id, CANCELLED, actor, &reason)
                .await?;
        }
        Ok(())
    }

    /// A compensation step finished (done or skipped): start the next, or end the instance.
    pub(crate) async fn compensation_done(&mut self, inst_id: &str, comp_seq: i64) -> Result<()> {
        self.inst_mut(inst_id)?.open_steps -= 1;
        self.sync().await?;
        let next = sqlx::query(
            "UPDATE wf_steps SET state = 'ready', ready_at = $1 \
             WHERE instance_id = $2 AND kind = 'compensation' AND state = 'pending' AND comp_seq = $3",
        )
        .bind(self.now)
        .bind(inst_id.to_string())
        .bind(comp_seq + 1)
        .execute(&mut *self.conn)
        .await?;
        if next.rows_affected() > 0 {
            self.announce = true;
            return Ok(());
        }
        self.finalize(inst_id).await
    }

    /// Gives a compensated instance its final status and tells its parent.
    async fn finalize(&mut self, inst_id: &str) -> Result<()> {
        let now = self.now;
        let inst = self.inst_mut(inst_id)?;
        let outcome = inst.outcome.clone().unwrap_or_else(|| FAILED.to_string());
        inst.status = outcome.clone();
        inst.finished_at = Some(now);
        let parent = inst.parent_id.clone().zip(inst.parent_step.clone());
        let event = match outcome.as_str() {
            REJECTED => "instance.rejected",
            CANCELLED => "instance.cancelled",
            _ => "instance.failed",
        };
        self.push_event(Event::new(inst_id, event));
        self.push_change(inst_id, Change::Ended { status: outcome })?;
        if let Some((parent_id, step_id)) = parent {
            self.child_finished(parent_id, step_id).await?;
        }
        Ok(())
    }
}
