//! Manual runs left unfinished — their process died, or lost its database for good — are
//! resumed by the scheduler of any `l2c serve` or `l2c worker` once they have shown no
//! progress for [`STALLED_AFTER`], so a run started with `"wait": false` before a restart
//! still ends. A run shows progress whenever it starts, resumes or ends, and while a process
//! works on it a heartbeat moves `billing_runs.updated_at` every quarter of that time, however
//! long a page takes. A resume claims the run by moving that time with a conditional update,
//! so one node takes it per stall, and goes on with that very run from its cursor. Two nodes
//! working on one run anyway share its pages (see [`super::run`]), so a run wrongly taken
//! for stalled costs time, never a double bill; the first to end it records how it ended.
//!
//! Scheduled runs are not resumed here: their occurrence's engine step retries them.

use super::run::{self, RunRequest};
use crate::context::{AsOf, Invoicing, RunScope};
use l2c_orders::error::DeskResult;
use sqlx::Row;
use std::time::Duration;
use tokio::task::JoinHandle;

/// How long a running run may show no progress before another node resumes it.
pub const STALLED_AFTER: Duration = Duration::from_secs(60);

/// Marks the run as making progress now.
pub(super) async fn touch(ctx: &Invoicing, id: &str) -> DeskResult<()> {
    super::run::beat(ctx, id, None).await.map(|_| ())
}

/// While a process works on a run: its heartbeat. Dropping it stops the beats.
pub(super) struct Alive(JoinHandle<()>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Moves the run's progress time every quarter of [`STALLED_AFTER`] until dropped.
pub(super) fn keep_alive(ctx: &Invoicing, id: &str) -> Alive {
    let (ctx, id) = (ctx.clone(), id.to_string());
    Alive(tokio::spawn(async move {
        loop {
            tokio::time::sleep(STALLED_AFTER / 4).await;
            if let Err(e) = touch(&ctx, &id).await {
                tracing::warn!(run = %id, error = %e, "billing run heartbeat");
            }
        }
    }))
}

/// Claims every manual run that has stalled and returns each with what resumes it (the
/// request that started it). The caller runs them, each in a task of its own.
pub async fn claim_stalled(ctx: &Invoicing) -> DeskResult<Vec<(String, RunRequest)>> {
    let now = ctx.clock.now_ms();
    let before = now.saturating_sub(STALLED_AFTER.as_millis() as i64);
    let rows = sqlx::query(
        "SELECT id, as_of, issue, COALESCE(updated_at, started_at) AS seen FROM billing_runs \
         WHERE status = 'running' AND trigger_name = 'manual' \
         AND COALESCE(updated_at, started_at) < $1 ORDER BY started_at",
    )
    .bind(before)
    .fetch_all(&ctx.db.pool)
    .await?;
    let mut claimed = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        let seen: i64 = row.try_get("seen")?;
        if !super::run::beat(ctx, &id, Some(seen)).await? {
            continue;
        }
        // Claimed first, so a run that cannot be resumed is reported once per stall.
        let key: String = row.try_get("as_of")?;
        let Some(as_of) = AsOf::from_key(&key) else {
            tracing::error!(run = %id, as_of = %key, "a stalled billing run has an unreadable date; not resumed");
            continue;
        };
        tracing::warn!(run = %id, "resuming a stalled billing run");
        let request = RunRequest {
            scope: RunScope { as_of, zones: None },
            dry_run: false,
            issue: row.try_get::<i64, _>("issue")? != 0,
            trigger: "manual".into(),
            // Resumed runs were accepted when they began.
            ahead: true,
        };
        claimed.push((id, request));
    }
    Ok(claimed)
}

/// Resumes every stalled manual run in a task of its own; returns how many it started.
pub async fn resume_stalled(ctx: &Invoicing) -> DeskResult<usize> {
    let claimed = claim_stalled(ctx).await?;
    let started = claimed.len();
    for (id, request) in claimed {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let resumed = match run::started(&ctx, &id).await {
                Ok(started) => run::complete(&ctx, &request, started).await,
                Err(e) => Err(e),
            };
            if let Err(e) = resumed {
                tracing::error!(run = %id, error = %e, "a resumed billing run stopped again");
            }
        });
    }
    Ok(started)
}
