//! Manual runs left unfinished — their process died, or lost its database for good — are
//! resumed by the scheduler of any `l2c serve` or `l2c worker` once they have shown no
//! progress for [`STALLED_AFTER`], so a run started with `"wait": false` before a restart
//! still ends. A run shows progress whenever it starts, resumes, commits a page or ends
//! (`billing_runs.updated_at`); a resume claims the run by moving that time with a
//! conditional update, so one node takes it per stall. Two nodes working on one run anyway
//! share its pages (see [`super::run`]), so a slow page that looks stalled costs time, never
//! a double bill.
//!
//! Scheduled runs are not resumed here: their occurrence's engine step retries them.

use super::run::{run, RunRequest};
use super::{AsOf, Invoicing, RunScope};
use crate::error::AppResult;
use sqlx::Row;
use std::time::Duration;

/// How long a running run may show no progress before another node resumes it: far longer
/// than one page takes (a page of accounts commits in well under a second).
pub const STALLED_AFTER: Duration = Duration::from_secs(60);

/// Marks the run as making progress now.
pub(super) async fn touch(ctx: &Invoicing, id: &str) -> AppResult<()> {
    let mut tx = ctx.db.begin_write().await?;
    sqlx::query("UPDATE billing_runs SET updated_at = $1 WHERE id = $2")
        .bind(ctx.clock.now_ms())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Claims every manual run that has stalled and returns what resumes each (the same request
/// that started it). The caller runs them, each in a task of its own.
pub async fn claim_stalled(ctx: &Invoicing) -> AppResult<Vec<RunRequest>> {
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
        let key: String = row.try_get("as_of")?;
        let Some(as_of) = AsOf::from_key(&key) else {
            tracing::error!(run = %id, as_of = %key, "a stalled billing run has an unreadable date; not resumed");
            continue;
        };
        let mut tx = ctx.db.begin_write().await?;
        let taken = sqlx::query(
            "UPDATE billing_runs SET updated_at = $1 WHERE id = $2 AND status = 'running' \
             AND COALESCE(updated_at, started_at) = $3",
        )
        .bind(now)
        .bind(id.clone())
        .bind(row.try_get::<i64, _>("seen")?)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        if taken {
            tracing::warn!(run = %id, "resuming a stalled billing run");
            claimed.push(RunRequest {
                scope: RunScope { as_of, zones: None },
                dry_run: false,
                issue: row.try_get::<i64, _>("issue")? != 0,
                trigger: "manual".into(),
            });
        }
    }
    Ok(claimed)
}

/// Resumes every stalled manual run in a task of its own; returns how many it started.
pub async fn resume_stalled(ctx: &Invoicing) -> AppResult<usize> {
    let requests = claim_stalled(ctx).await?;
    let started = requests.len();
    for request in requests {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = run(&ctx, request).await {
                tracing::error!(error = %e, "a resumed billing run stopped again");
            }
        });
    }
    Ok(started)
}
