//! Group commit for order placement. Every order is validated and priced on its own, but the
//! writes of orders placed at the same time share one transaction: the first request to find
//! the commit free becomes the leader, takes every order queued so far and writes them
//! together, each inside its own savepoint so one order's failure (a reused idempotency key)
//! leaves the others untouched. One commit (and one fsync) then serves the whole batch,
//! which is what lets the single SQLite writer accept thousands of orders a second.

use super::model::OrderRequest;
use super::place::{claim_key, store, Checked, Placed};
use crate::app::App;
use crate::auth::User;
use crate::error::{AppError, AppResult};
use sqlx::AnyConnection;
use std::sync::Mutex;
use tokio::sync::oneshot;

/// The most orders one transaction writes.
const MAX_BATCH: usize = 256;

/// An order ready to be written.
pub(super) struct Job {
    pub user: User,
    pub request: OrderRequest,
    pub checked: Checked,
    pub key: Option<String>,
    pub hash: String,
}

struct Queued {
    job: Job,
    reply: oneshot::Sender<AppResult<Placed>>,
}

/// The queue of orders waiting to be written, and the right to write them.
#[derive(Default)]
pub struct Intake {
    queue: Mutex<Vec<Queued>>,
    commit: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Intake")
    }
}

impl Intake {
    fn take(&self, max: usize) -> Vec<Queued> {
        let Ok(mut queue) = self.queue.lock() else {
            return Vec::new();
        };
        let n = queue.len().min(max);
        queue.drain(..n).collect()
    }
}

/// Writes `job` (with whatever else is queued) and returns what it placed.
pub(super) async fn submit(app: &App, job: Job) -> AppResult<Placed> {
    let (reply, placed) = oneshot::channel();
    app.intake
        .queue
        .lock()
        .map_err(|_| AppError::Internal("the order queue is poisoned".into()))?
        .push(Queued { job, reply });
    loop {
        let leader = app.intake.commit.lock().await;
        let batch = app.intake.take(MAX_BATCH);
        if batch.is_empty() {
            drop(leader);
            break;
        }
        // Written by a task of its own, so a leader whose client goes away mid-commit does
        // not take the other requesters' orders down with it.
        let writer = tokio::spawn(write(app.clone(), batch));
        let _ = writer.await;
        drop(leader);
        if !placed.is_empty() {
            break;
        }
    }
    placed
        .await
        .map_err(|_| AppError::Internal("the order intake dropped a request".into()))?
}

/// Writes a batch in one transaction, retried whole while the database is busy.
async fn write(app: App, batch: Vec<Queued>) {
    let result = l2c_engine::runtime::retry(|| async {
        let mut tx = app.db.begin_write().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for queued in &batch {
            outcomes.push(write_one(&app, &mut tx, &queued.job).await?);
        }
        tx.commit().await?;
        Ok::<_, AppError>(outcomes)
    })
    .await;
    match result {
        Ok(outcomes) => {
            let wrote = outcomes.iter().any(Result::is_ok);
            for (queued, outcome) in batch.into_iter().zip(outcomes) {
                let _ = queued.reply.send(outcome);
            }
            if wrote {
                app.engine.wake();
            }
        }
        Err(e) => {
            tracing::error!(error = %e, orders = batch.len(), "writing a batch of orders failed");
            for queued in batch {
                let _ = queued.reply.send(Err(AppError::Internal(format!(
                    "the order could not be stored: {e}"
                ))));
            }
        }
    }
}

/// One order inside its savepoint: `Ok(Err(_))` is this order's own refusal (rolled back
/// to the savepoint), `Err(_)` fails the whole batch (a database error).
async fn write_one(app: &App, tx: &mut AnyConnection, job: &Job) -> AppResult<AppResult<Placed>> {
    sqlx::query("SAVEPOINT place_order")
        .execute(&mut *tx)
        .await?;
    let outcome = place_in(app, tx, job).await;
    match outcome {
        Ok(placed) => {
            sqlx::query("RELEASE SAVEPOINT place_order")
                .execute(&mut *tx)
                .await?;
            Ok(Ok(placed))
        }
        Err(e) if e.is_transient() => Err(e),
        Err(AppError::Database(e)) => Err(AppError::Database(e)),
        Err(e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT place_order")
                .execute(&mut *tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT place_order")
                .execute(&mut *tx)
                .await?;
            Ok(Err(e))
        }
    }
}

async fn place_in(app: &App, tx: &mut AnyConnection, job: &Job) -> AppResult<Placed> {
    let order_id = match &job.key {
        Some(key) => match claim_key(tx, app, &job.user, key, &job.hash).await? {
            Ok(id) => id,
            Err(earlier) => return Ok(earlier),
        },
        None => uuid::Uuid::now_v7().to_string(),
    };
    store(app, tx, &job.user, &job.request, &job.checked, order_id).await
}
