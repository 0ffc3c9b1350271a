//! The engine's calls on human tasks, each in its own transaction: claim (others cannot act
//! on it until it is released or decided), release back to the group's queue, and complete
//! (approve, reject or done). What a decision does to the task and its instance is in
//! `tasks`.

use super::engine::Engine;
use super::state::{Event, Tx};
use super::tasks::{Actor, Outcome};
use super::transient::retry_transient;
use crate::error::{EngineError, Result};
use sqlx::Row;

impl Engine {
    /// Claims a task: others cannot act on it until it is released or decided.
    pub async fn claim_task(&self, task_id: &str, actor: &str) -> Result<()> {
        retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let mut t = Tx::new(&self.inner, &mut tx);
            let task = t.open_task(task_id, Actor::Person(actor)).await?;
            t.refuse_repeat(task_id, actor).await?;
            sqlx::query("UPDATE wf_tasks SET claimed_by = $1, updated_at = $2 WHERE id = $3")
                .bind(actor.to_string())
                .bind(t.now)
                .bind(task_id.to_string())
                .execute(&mut *t.conn)
                .await?;
            let event = Event::new(&task.instance_id, "task.claimed").stage(&task.stage);
            t.push_event(event.actor(actor));
            t.finish().await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Releases a task the actor claimed, back to the group's queue.
    pub async fn release_task(&self, task_id: &str, actor: &str) -> Result<()> {
        retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let mut t = Tx::new(&self.inner, &mut tx);
            let task = t.task_row(task_id).await?;
            if task.state != "open" || task.claimed_by.as_deref() != Some(actor) {
                return Err(EngineError::Conflict(format!(
                    "task {task_id} is not claimed by {actor}"
                )));
            }
            sqlx::query("UPDATE wf_tasks SET claimed_by = NULL, updated_at = $1 WHERE id = $2")
                .bind(t.now)
                .bind(task_id.to_string())
                .execute(&mut *t.conn)
                .await?;
            let event = Event::new(&task.instance_id, "task.released").stage(&task.stage);
            t.push_event(event.actor(actor));
            t.finish().await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Returns every open task `actor` has claimed to its group's queue, in one transaction
    /// (for a person who leaves: nobody else could act on them otherwise); each instance's
    /// history records the release with `reason`. Returns how many were released.
    pub async fn release_claims_of(&self, actor: &str, reason: &str) -> Result<usize> {
        retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let mut t = Tx::new(&self.inner, &mut tx);
            let claimed = sqlx::query(
                "SELECT id, instance_id, stage FROM wf_tasks \
                 WHERE claimed_by = $1 AND state = 'open' ORDER BY id",
            )
            .bind(actor.to_string())
            .fetch_all(&mut *t.conn)
            .await?;
            sqlx::query(
                "UPDATE wf_tasks SET claimed_by = NULL, updated_at = $1 \
                 WHERE claimed_by = $2 AND state = 'open'",
            )
            .bind(t.now)
            .bind(actor.to_string())
            .execute(&mut *t.conn)
            .await?;
            for row in &claimed {
                let instance: String = row.try_get("instance_id")?;
                let stage: String = row.try_get("stage")?;
                let event = Event::new(&instance, "task.released")
                    .stage(&stage)
                    .actor(actor)
                    .data(serde_json::json!({ "reason": reason }));
                t.push_event(event);
            }
            t.finish().await?;
            tx.commit().await?;
            Ok(claimed.len())
        })
        .await
    }

    /// Approves, rejects or completes a task.
    pub async fn complete_task(&self, task_id: &str, actor: &str, outcome: Outcome) -> Result<()> {
        let announce = retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let mut t = Tx::new(&self.inner, &mut tx);
            t.decide(task_id, Actor::Person(actor), outcome.clone())
                .await?;
            let announce = t.finish().await?;
            tx.commit().await?;
            Ok(announce)
        })
        .await?;
        if announce {
            self.wake();
        }
        Ok(())
    }
}
