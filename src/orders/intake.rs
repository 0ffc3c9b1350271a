//! Group commit for order placement. Every order is validated and priced on its own request,
//! then queued; one writer task per process takes everything queued so far and writes it in
//! one transaction, each order inside its own savepoint so one order's failure (a reused
//! idempotency key, a value the database refuses) leaves the others untouched. One commit
//! (and one fsync) then serves the whole batch, which is what lets the single SQLite writer
//! accept orders by the thousand. The writer, not the request, owns the write: a client that
//! goes away cannot leave its order half-written or hold up anyone else's.

use super::model::OrderRequest;
use super::place::{claim_key, store, Checked, Placed};
use crate::app::App;
use crate::auth::User;
use crate::error::{AppError, AppResult};
use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

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

/// The queue to the writer task.
#[derive(Debug, Clone)]
pub struct Intake {
    queue: mpsc::UnboundedSender<Queued>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queued")
    }
}

/// The intake's queue and its receiving end, for [`start`] once the app exists.
pub fn channel() -> (Intake, Receiver) {
    let (queue, receiver) = mpsc::unbounded_channel();
    (Intake { queue }, Receiver(receiver))
}

/// The writer's end of the queue.
pub struct Receiver(mpsc::UnboundedReceiver<Queued>);

/// Starts the writer task of `app`; it runs as long as the runtime does.
pub fn start(app: App, receiver: Receiver) {
    let mut receiver = receiver.0;
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            write(&app, std::mem::take(&mut batch)).await;
        }
    });
}

/// Queues `job` for the writer and waits for what it placed.
pub(super) async fn submit(app: &App, job: Job) -> AppResult<Placed> {
    let (reply, placed) = oneshot::channel();
    app.intake
        .queue
        .send(Queued { job, reply })
        .map_err(|_| AppError::Internal("the order writer has stopped".into()))?;
    placed
        .await
        .map_err(|_| AppError::Internal("the order writer dropped a request".into()))?
}

/// Writes a batch in one transaction, retried whole while the database is busy.
async fn write(app: &App, batch: Vec<Queued>) {
    let result = l2c_engine::runtime::retry(|| async {
        let mut tx = app.db.begin_write().await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        for queued in &batch {
            outcomes.push(write_one(app, &mut tx, &queued.job).await?);
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
            let busy = e.is_transient();
            for queued in batch {
                let answer = if busy {
                    AppError::Busy("the database is busy; the order was not stored".into())
                } else {
                    AppError::Internal(format!("the order could not be stored: {e}"))
                };
                let _ = queued.reply.send(Err(answer));
            }
        }
    }
}

/// One order inside its savepoint: `Ok(Err(_))` is this order's own failure, rolled back to
/// the savepoint (the others go on); `Err(_)` fails the batch, to be retried whole (a busy
/// database, or a savepoint that cannot be rolled back).
async fn write_one(app: &App, tx: &mut AnyConnection, job: &Job) -> AppResult<AppResult<Placed>> {
    sqlx::query("SAVEPOINT place_order")
        .execute(&mut *tx)
        .await?;
    match place_in(app, tx, job).await {
        Ok(placed) => {
            sqlx::query("RELEASE SAVEPOINT place_order")
                .execute(&mut *tx)
                .await?;
            Ok(Ok(placed))
        }
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            // PostgreSQL refuses every statement after an error until this rollback.
            sqlx::query("ROLLBACK TO SAVEPOINT place_order")
                .execute(&mut *tx)
                .await?;
            sqlx::query("RELEASE SAVEPOINT place_order")
                .execute(&mut *tx)
                .await?;
            if let AppError::Database(db) = &e {
                tracing::error!(error = %db, "the database refused an order");
            }
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
