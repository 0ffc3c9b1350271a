//! Group commit for order placement. Every order is validated and priced on its own request,
//! then queued; one writer task per process takes everything queued so far and writes it in
//! one transaction: each order is checked again and its idempotency key claimed (a refusal is
//! that order's answer alone), then all accepted orders, their items, first events and
//! workflow instances go in as a few multi-row statements. If the database refuses the batch,
//! each order is written on its own, so one bad order fails alone. One commit (and one fsync)
//! serves the whole batch, which is what lets the single SQLite writer accept orders by the
//! thousand. The writer, not the request, owns the write: a client that
//! goes away cannot leave its order half-written or hold up anyone else's.

use crate::context::Orders;
use crate::error::{DeskError, DeskResult};
use crate::model::Placed;
use crate::payload::{business_key, ORDER_WORKFLOW};
use crate::prepare::{claim_key, lookup_key, prepare, Job, Prepared};
use crate::store::{insert_orders, OrderRows};
use sqlx::AnyConnection;
use std::collections::HashSet;
use tokio::sync::{mpsc, oneshot};

/// The most orders one transaction writes.
const MAX_BATCH: usize = 256;

struct Queued {
    job: Job,
    reply: oneshot::Sender<DeskResult<Placed>>,
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

/// The intake's queue and its receiving end, for [`start`] once the ctx exists.
pub fn channel() -> (Intake, Receiver) {
    let (queue, receiver) = mpsc::unbounded_channel();
    (Intake { queue }, Receiver(receiver))
}

/// The writer's end of the queue.
pub struct Receiver(mpsc::UnboundedReceiver<Queued>);

/// Starts the writer task of `ctx`; it runs as long as the runtime does.
pub fn start(ctx: Orders, receiver: Receiver) {
    let mut receiver = receiver.0;
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
            // A panic fails this batch (its requesters hear that their order was dropped),
            // never the writer: later orders must still be taken.
            let written = std::panic::AssertUnwindSafe(write(&ctx, std::mem::take(&mut batch)));
            if futures::FutureExt::catch_unwind(written).await.is_err() {
                tracing::error!("writing a batch of orders panicked");
            }
        }
    });
}

/// Queues `job` for the writer and waits for what it placed.
pub(crate) async fn submit(ctx: &Orders, job: Job) -> DeskResult<Placed> {
    let (reply, placed) = oneshot::channel();
    ctx.intake
        .queue
        .send(Queued { job, reply })
        .map_err(|_| DeskError::Internal("the order writer has stopped".into()))?;
    placed
        .await
        .map_err(|_| DeskError::Internal("the order writer dropped a request".into()))?
}

/// Writes a batch in one transaction, retried whole while the database is busy. If the
/// database refuses the batch for any other reason, each order is written again on its own,
/// so one order the database refuses fails alone.
async fn write(ctx: &Orders, batch: Vec<Queued>) {
    let jobs: Vec<&Job> = batch.iter().map(|q| &q.job).collect();
    let outcomes = match write_together(ctx, &jobs).await {
        Ok(outcomes) => outcomes,
        Err(e)
            if batch.len() > 1
                && !e.is_transient()
                && !matches!(e, DeskError::OutcomeUnknown(_)) =>
        {
            tracing::warn!(error = %e, orders = batch.len(), "a batch of orders failed; writing them one by one");
            let mut outcomes = Vec::with_capacity(batch.len());
            for job in &jobs {
                outcomes.push(match write_together(ctx, &[job]).await {
                    Ok(mut one) => one.pop().unwrap_or_else(|| Err(lost())),
                    Err(e) => Err(failed(&e)),
                });
            }
            outcomes
        }
        Err(e) => batch.iter().map(|_| Err(failed(&e))).collect(),
    };
    let wrote = outcomes.iter().any(|o| matches!(o, Ok(p) if p.created));
    for (queued, outcome) in batch.into_iter().zip(outcomes) {
        let _ = queued.reply.send(outcome);
    }
    if wrote {
        ctx.engine.wake();
    }
}

fn lost() -> DeskError {
    DeskError::Internal("the order writer lost an outcome".into())
}

/// What a requester hears when their order's write failed as a whole.
fn failed(e: &DeskError) -> DeskError {
    tracing::error!(error = %e, "an order could not be stored");
    if let DeskError::OutcomeUnknown(m) = e {
        DeskError::OutcomeUnknown(m.clone())
    } else if e.is_transient() {
        DeskError::Busy("the database is busy; the order was not stored".into())
    } else {
        DeskError::Internal(format!("the order could not be stored: {e}"))
    }
}

/// One transaction for `jobs`: each is checked again and its idempotency key claimed (its own
/// refusal is its outcome), then every accepted order is inserted and its workflow started in
/// a few multi-row statements. `Err` rolls the whole batch back.
async fn write_together(ctx: &Orders, jobs: &[&Job]) -> DeskResult<Vec<DeskResult<Placed>>> {
    l2c_engine::runtime::retry(|| async {
        let mut tx = ctx.db.begin_write().await?;
        let mut outcomes: Vec<Option<DeskResult<Placed>>> = jobs.iter().map(|_| None).collect();
        let mut accepted: Vec<(usize, Prepared)> = Vec::new();
        let mut taken = HashSet::new();
        for (i, job) in jobs.iter().enumerate() {
            match accept(ctx, &mut tx, job, &mut taken).await {
                Ok(Accepted::New(prepared)) => accepted.push((i, *prepared)),
                Ok(Accepted::Earlier(placed)) => outcomes[i] = Some(Ok(placed)),
                Err(e) if e.is_transient() || matches!(e, DeskError::Database(_)) => return Err(e),
                Err(e) => outcomes[i] = Some(Err(e)),
            }
        }
        let starts = accepted
            .iter()
            .map(|(_, p)| {
                (
                    ORDER_WORKFLOW,
                    p.input.clone(),
                    Some(business_key(&p.order.id)),
                )
            })
            .collect();
        let instances = ctx.engine.start_many_in(&mut tx, starts).await?;
        let rows: Vec<OrderRows<'_>> = accepted
            .iter()
            .zip(&instances)
            .map(|((i, p), instance)| OrderRows {
                order: &p.order,
                items: &jobs[*i].checked.items,
                instance_id: instance,
            })
            .collect();
        insert_orders(&mut tx, ctx.db.backend, &rows, ctx.now_ms()).await?;
        // A commit that fails may still have happened (PostgreSQL's connection lost midway):
        // neither retried nor written again order by order, which could store orders twice.
        tx.commit().await.map_err(|e| match e {
            e if !matches!(e, sqlx::Error::Io(_)) && l2c_engine::error::is_transient_db(&e) => {
                DeskError::Database(e)
            }
            e => DeskError::OutcomeUnknown(e.to_string()),
        })?;
        for (i, p) in &accepted {
            outcomes[*i] = Some(Ok(Placed {
                order_id: p.order.id.clone(),
                created: true,
            }));
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Err(lost())))
            .collect())
    })
    .await
}

enum Accepted {
    New(Box<Prepared>),
    Earlier(Placed),
}

/// Checks one order inside the batch's transaction and claims its idempotency key (after the
/// checks, so a refused order leaves no key behind).
async fn accept(
    ctx: &Orders,
    tx: &mut AnyConnection,
    job: &Job,
    taken: &mut HashSet<String>,
) -> DeskResult<Accepted> {
    let order_id = uuid::Uuid::now_v7().to_string();
    if let Some(key) = &job.key {
        if let Some(earlier) = lookup_key(tx, &job.user, key, &job.hash).await? {
            return Ok(Accepted::Earlier(earlier));
        }
    }
    let prepared = match prepare(tx, ctx.db.backend, &ctx.settings, job, order_id, taken).await {
        Ok(p) => p,
        Err(e) => {
            // Another node may have placed this very request meanwhile (its key became
            // visible while we waited for the product's lock): answer with its order.
            if let Some(key) = &job.key {
                if let Some(earlier) = lookup_key(tx, &job.user, key, &job.hash).await? {
                    return Ok(Accepted::Earlier(earlier));
                }
            }
            return Err(e);
        }
    };
    if let Some(key) = &job.key {
        if let Err(earlier) = claim_key(
            tx,
            ctx.now_ms(),
            &job.user,
            key,
            &job.hash,
            &prepared.order.id,
        )
        .await?
        {
            return Ok(Accepted::Earlier(earlier));
        }
    }
    taken.extend(prepared.changes.iter().cloned());
    Ok(Accepted::New(Box::new(prepared)))
}
