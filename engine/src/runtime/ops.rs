//! Operator and order-desk actions on instances: retrying or skipping an incident, and
//! cancelling a running instance (which stops its work and compensates).

use super::engine::Engine;
use super::state::{Event, Tx};
use super::status::*;
use super::transient::retry_transient;
use crate::error::{EngineError, Result};
use serde_json::Value;
use sqlx::{AnyConnection, Row};

impl Engine {
    /// Puts an incident's step back in the queue with a fresh retry budget.
    pub async fn retry_incident(&self, step_id: &str, operator: &str) -> Result<()> {
        retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let mut t = Tx::new(&self.inner, &mut tx);
            let (instance, stage, _) = t.incident(step_id).await?;
            sqlx::query(
                "UPDATE wf_steps SET state = 'ready', ready_at = $1, failures = 0, error = NULL, \
                 finished_at = NULL WHERE id = $2",
            )
            .bind(t.now)
            .bind(step_id.to_string())
            .execute(&mut *t.conn)
            .await?;
            t.announce = true;
            t.push_event(
                Event::new(&instance, "incident.retried")
                    .stage(&stage)
                    .actor(operator),
            );
            t.finish().await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.wake();
        Ok(())
    }

    /// Skips an incident's step as if it had succeeded with `output`, and moves on.
    pub async fn skip_incident(&self, step_id: &str, operator: &str, output: Value) -> Result<()> {
        retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let mut t = Tx::new(&self.inner, &mut tx);
            let (instance, stage, comp_seq) = t.incident(step_id).await?;
            sqlx::query("UPDATE wf_steps SET state = 'skipped', finished_at = $1 WHERE id = $2")
                .bind(t.now)
                .bind(step_id.to_string())
                .execute(&mut *t.conn)
                .await?;
            t.load(std::slice::from_ref(&instance)).await?;
            let event = Event::new(&instance, "incident.skipped")
                .stage(&stage)
                .actor(operator);
            if let Some(seq) = comp_seq {
                t.push_event(event);
                t.compensation_done(&instance, seq).await?;
            } else {
                let def = t.inst(&instance)?.def.clone();
                let index = def
                    .stage_index(&stage)
                    .ok_or_else(|| EngineError::not_found("stage", stage.clone()))?;
                t.stage_completed(&instance, index, output.clone(), event)
                    .await?;
            }
            t.finish().await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.wake();
        Ok(())
    }

    /// Cancels a running instance: pending work stops and completed tasks compensate.
    pub async fn cancel(&self, instance_id: &str, actor: &str, reason: &str) -> Result<()> {
        retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            self.cancel_in(&mut tx, instance_id, actor, reason).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.wake();
        Ok(())
    }

    /// [`Engine::cancel`] inside the caller's transaction (so an order's cancellation state
    /// and its workflow's commit together). Call [`Engine::wake`] after committing.
    pub async fn cancel_in(
        &self,
        conn: &mut AnyConnection,
        instance_id: &str,
        actor: &str,
        reason: &str,
    ) -> Result<()> {
        if reason.trim().is_empty() {
            return Err(EngineError::Invalid {
                field: "reason",
                rule: "required",
                message: "a cancellation needs a reason".into(),
            });
        }
        let mut t = Tx::new(&self.inner, conn);
        t.load(&[instance_id.to_string()]).await?;
        let status = t.inst(instance_id)?.status.clone();
        if status != RUNNING {
            return Err(EngineError::Conflict(format!(
                "instance {instance_id} is {status}; only a running instance can be cancelled"
            )));
        }
        t.push_event(Event::new(instance_id, "instance.cancel-requested").actor(actor));
        t.begin_compensation(instance_id, CANCELLED, Some(actor), reason.trim())
            .await?;
        t.finish().await?;
        Ok(())
    }
}

impl Tx<'_> {
    /// The (instance, stage, compensation position) of a step in incident, locked for this
    /// transaction.
    async fn incident(&mut self, step_id: &str) -> Result<(String, String, Option<i64>)> {
        let sql = format!(
            "SELECT instance_id, stage, state, comp_seq FROM wf_steps WHERE id = $1{}",
            self.inner.db.backend.lock_rows()
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(step_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?
            .ok_or_else(|| EngineError::not_found("step", step_id))?;
        let state: String = row.try_get("state")?;
        if state != INCIDENT {
            return Err(EngineError::Conflict(format!(
                "step {step_id} is {state}, not an incident"
            )));
        }
        Ok((
            row.try_get("instance_id")?,
            row.try_get("stage")?,
            row.try_get("comp_seq")?,
        ))
    }
}
