//! Timers: rows with a due time — timer stages and SLA escalations — fired exactly once however
//! many workers or nodes poll, because firing marks the row in the same transaction that acts
//! on it (and PostgreSQL skips rows another node has locked).

use super::inner::Inner;
use super::state::{Event, Tx};
use super::transient::retry_transient;
use crate::error::Result;
use sqlx::Row;

/// Fires up to `limit` timers due at the clock's current time; returns how many fired.
pub(crate) async fn fire_due(inner: &Inner, limit: usize) -> Result<usize> {
    // Workers call this on every loop; a plain read keeps the usual "nothing due" case from
    // taking the database's write lock.
    let due =
        sqlx::query("SELECT id FROM wf_timers WHERE state = 'pending' AND due_at <= $1 LIMIT 1")
            .bind(inner.clock.now_ms())
            .fetch_optional(&inner.db.pool)
            .await?;
    if due.is_none() {
        return Ok(0);
    }
    let (fired, announce) = retry_transient(|| async {
        let mut tx = inner.db.begin_write().await?;
        let mut t = Tx::new(inner, &mut tx);
        let sql = format!(
            "UPDATE wf_timers SET state = 'fired', fired_at = $1 WHERE id IN (SELECT id FROM wf_timers \
             WHERE state = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT $2{}) \
             RETURNING instance_id, step_id, purpose, escalation",
            inner.db.backend.claim_rows()
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(t.now)
            .bind(limit as i64)
            .fetch_all(&mut *t.conn)
            .await?;
        if rows.is_empty() {
            return Ok((0, false));
        }
        let mut timers = Vec::with_capacity(rows.len());
        for row in &rows {
            let instance: String = row.try_get("instance_id")?;
            let step: String = row.try_get("step_id")?;
            let purpose: String = row.try_get("purpose")?;
            let escalation: Option<i64> = row.try_get("escalation")?;
            timers.push((instance, step, purpose, escalation));
        }
        let ids: Vec<String> = timers.iter().map(|t| t.0.clone()).collect();
        t.load(&ids).await?;
        for (instance, step, purpose, escalation) in &timers {
            match escalation {
                Some(index) if purpose == "sla" => t.escalate(step, *index as usize).await?,
                _ => t.timer_elapsed(instance, step).await?,
            }
        }
        let announce = t.finish().await?;
        tx.commit().await?;
        Ok((timers.len(), announce))
    })
    .await?;
    if announce {
        inner.notify.notify_waiters();
    }
    Ok(fired)
}

impl Tx<'_> {
    /// A timer stage's wait is over: complete it and move on.
    async fn timer_elapsed(&mut self, inst_id: &str, step_id: &str) -> Result<()> {
        self.sync().await?;
        let row = sqlx::query("SELECT stage FROM wf_steps WHERE id = $1")
            .bind(step_id.to_string())
            .fetch_optional(&mut *self.conn)
            .await?;
        let Some(row) = row else { return Ok(()) };
        let stage_id: String = row.try_get("stage")?;
        if !self.finish_waiting_step(step_id, "completed").await? {
            return Ok(());
        }
        let def = self.inst(inst_id)?.def.clone();
        let Some(stage) = def.stage_index(&stage_id) else {
            return Ok(());
        };
        let event = Event::new(inst_id, "timer.fired").stage(&stage_id);
        self.stage_completed(inst_id, stage, serde_json::Value::Null, event)
            .await
    }
}
