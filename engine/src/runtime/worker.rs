//! Workers: claim ready task steps in batches under a lease, run their handlers concurrently,
//! and record the results in batched transactions fenced by attempt number, so a worker whose
//! lease expired (and whose step was reclaimed) cannot overwrite the newer attempt.
//!
//! A worker wakes on an in-process notification or PostgreSQL `NOTIFY`, and otherwise polls;
//! it heartbeats its leases while handlers run, fires due timers, and on shutdown finishes or
//! releases what it holds.
//!
//! The claim statements, which differ per backend, are in `claim`; recording the results
//! (fenced completion, retries, incidents) is in `record`. This module is the loop around
//! them: batching, concurrency, error isolation, heartbeats and shutdown.

use super::claim::{claim, Claimed};
use super::engine::Engine;
use super::inner::Inner;
use super::record::{record, Done};
use super::state::{write_history, Event, STALE_COPY};
use super::timers::fire_due;
use super::transient::retry_transient;
use crate::db::{Backend, NOTIFY_CHANNEL};
use crate::error::{EngineError, Result};
use crate::handler::HandlerError;
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use serde_json::json;
use sqlx::Row;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A worker; [`Worker::spawn`] runs it in the background.
pub struct Worker {
    engine: Engine,
    id: String,
    claims: std::sync::atomic::AtomicU64,
    /// Commits of results since the last request for a WAL checkpoint (SQLite).
    commits: std::sync::atomic::AtomicU64,
    /// Wakes this worker's background checkpointer (SQLite).
    checkpoint: Arc<tokio::sync::Notify>,
}

/// A running worker: stop it with [`WorkerHandle::shutdown`].
pub struct WorkerHandle {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<()>>,
}

impl WorkerHandle {
    /// Stops claiming, lets in-flight steps finish (or releases them) and waits.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(result) => result,
            Err(join) => Err(crate::error::EngineError::Conflict(format!(
                "worker task ended abnormally: {join}"
            ))),
        }
    }

    /// Kills the worker without any cleanup, as a crash would (for tests of recovery).
    pub fn abort(self) {
        self.task.abort();
    }
}

impl Engine {
    /// A new worker with a unique id.
    pub fn worker(&self) -> Worker {
        Worker {
            engine: self.clone(),
            id: format!("worker-{}", uuid::Uuid::now_v7()),
            claims: std::sync::atomic::AtomicU64::new(0),
            commits: std::sync::atomic::AtomicU64::new(0),
            checkpoint: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Runs ready steps and due timers in this task until nothing is ready at the clock's
    /// current time (tests and the sandbox drive the engine with this). Returns how many steps
    /// and timers it processed.
    pub async fn run_until_idle(&self) -> Result<usize> {
        let worker = self.worker();
        let mut total = 0;
        loop {
            let n = worker.tick().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }
}

impl Worker {
    /// This worker's id (recorded as the lease owner and in history).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims one batch, runs it to the end, records the results and fires due timers.
    pub async fn tick(&self) -> Result<usize> {
        let inner = &self.engine.inner;
        let claimed = self.record_and_claim(&[], inner.options.batch_size).await?;
        let mut done = Vec::with_capacity(claimed.len());
        let mut running: FuturesUnordered<_> =
            claimed.into_iter().map(|c| self.execute(c)).collect();
        while let Some(d) = running.next().await {
            done.push(d);
        }
        let steps = done.len();
        if !done.is_empty() {
            self.record_and_claim(&done, 0).await?;
        }
        let timers = fire_due(inner, inner.options.batch_size).await?;
        Ok(steps + timers)
    }

    /// Runs until shut down.
    pub fn spawn(self) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        WorkerHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) -> Result<()> {
        let inner = self.engine.inner.clone();
        let _helpers = self.helpers().await;
        let batch = inner.options.batch_size;
        let mut running = FuturesUnordered::new();
        // Results not recorded yet: they go into the transaction that claims the next batch.
        let mut done: Vec<Done> = Vec::new();
        let result: Result<()> = async {
            loop {
                if *stopped.borrow() {
                    break;
                }
                let notified = inner.notify.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let want = if running.len() <= batch / 2 {
                    batch - running.len()
                } else {
                    0
                };
                if !done.is_empty() || want > 0 {
                    let results = std::mem::take(&mut done);
                    match self.round(results, want, &mut stopped).await {
                        Ok(claimed) => running.extend(claimed.into_iter().map(|c| self.execute(c))),
                        Err(again) => {
                            done = again;
                            continue;
                        }
                    }
                }
                let fired = match fire_due(&inner, batch).await {
                    Ok(fired) => fired,
                    Err(e) => {
                        self.pause_after(&e, &mut stopped).await;
                        continue;
                    }
                };

                if running.is_empty() {
                    if fired == 0 {
                        tokio::select! {
                            _ = &mut notified => {}
                            _ = tokio::time::sleep(inner.options.poll_interval) => {}
                            Ok(()) = stopped.changed() => {}
                        }
                    }
                    continue;
                }
                // A slow handler must not hold up shutdown, new claims or timers: wait for
                // the first result, or for a reason to go round the loop again.
                let first = tokio::select! {
                    d = running.next() => d,
                    // A dropped handle (Err) leaves the worker running rather than spinning.
                    Ok(()) = stopped.changed() => continue,
                    _ = &mut notified, if running.len() <= batch / 2 => continue,
                    _ = tokio::time::sleep(inner.options.poll_interval) => continue,
                };
                done.extend(first);
                while let Some(Some(d)) = running.next().now_or_never() {
                    done.push(d);
                }
            }
            self.drain(&mut running, done).await
        }
        .await;
        result
    }

    /// Starts the helpers of a running worker: the PostgreSQL `NOTIFY` listener, the lease
    /// heartbeat and the SQLite checkpointer. They are guards: if the worker's task is aborted
    /// (a crash, in tests) the helpers die with it, so a dead worker stops extending its
    /// leases and its steps can be reclaimed.
    async fn helpers(&self) -> Vec<AbortOnDrop> {
        let inner = &self.engine.inner;
        let mut helpers: Vec<AbortOnDrop> =
            self.listen().await.map(AbortOnDrop).into_iter().collect();
        helpers.push(AbortOnDrop(tokio::spawn(heartbeat(
            inner.clone(),
            self.id.clone(),
        ))));
        if inner.db.backend == Backend::Sqlite {
            helpers.push(AbortOnDrop(tokio::spawn(checkpointer(
                inner.clone(),
                self.checkpoint.clone(),
            ))));
        }
        helpers
    }

    /// Records `results` and claims up to `want` more steps in one transaction. If it fails
    /// (and rolled back), the results to record in a later round come back as `Err`, after a
    /// pause: a failing claim must not spin the loop.
    ///
    /// A busy or briefly unreachable database: all of them come back (the leases stay ours
    /// while the worker heartbeats). Anything else cannot be cured by retrying the same batch
    /// (a listener refuses a result, a row cannot be read): they are recorded one by one so
    /// that only the bad ones become incidents.
    async fn round(
        &self,
        results: Vec<Done>,
        want: usize,
        stopped: &mut watch::Receiver<bool>,
    ) -> std::result::Result<Vec<Claimed>, Vec<Done>> {
        match self.record_and_claim(&results, want).await {
            Ok(claimed) => Ok(claimed),
            Err(e) => {
                let again = if e.is_transient() {
                    results
                } else {
                    tracing::error!(worker = %self.id, error = %e, "a batch of results cannot be recorded; recording them one by one");
                    self.isolate(results).await
                };
                self.pause_after(&e, stopped).await;
                Err(again)
            }
        }
    }

    /// Records `results` one at a time; a result that cannot be recorded for a reason other
    /// than a busy database turns its step into an incident. Returns the results to try again.
    async fn isolate(&self, results: Vec<Done>) -> Vec<Done> {
        let mut again = Vec::new();
        for d in results {
            match self.record_and_claim(std::slice::from_ref(&d), 0).await {
                Ok(_) => {}
                Err(e) if e.is_transient() => again.push(d),
                Err(e) => {
                    tracing::error!(worker = %self.id, step = %d.step.id, error = %e, "the step's result cannot be recorded; it becomes an incident");
                    if let Err(q) = self.quarantine(&d.step).await {
                        tracing::error!(step = %d.step.id, error = %q, "the step could not be made an incident; trying again");
                        again.push(d);
                    }
                }
            }
        }
        again
    }

    /// Makes a claimed step an incident (fenced by its attempt and lease) with a history
    /// event, for an operator to retry or skip. The cause is in the logs, not the history,
    /// which the requester reads.
    async fn quarantine(&self, step: &Claimed) -> Result<()> {
        let inner = &self.engine.inner;
        let message = "the step ran but its result could not be recorded; see the logs";
        retry_transient(|| async {
            let mut tx = inner.db.begin_write().await?;
            let now = inner.clock.now_ms();
            let updated = sqlx::query(
                "UPDATE wf_steps SET state = 'incident', error = $1, lease_owner = NULL, \
                 ready_at = $2 WHERE id = $3 AND attempt = $4 AND lease_owner = $5 \
                 AND state = 'running'",
            )
            .bind(message)
            .bind(now)
            .bind(step.id.clone())
            .bind(step.attempt)
            .bind(step.owner.clone())
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 1 {
                let event = Event::new(&step.instance_id, "step.incident")
                    .stage(&step.stage)
                    .attempt(step.attempt)
                    .actor(&self.id)
                    .data(json!({ "error": message }));
                write_history(&mut tx, inner.db.backend, now, &[event]).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Logs a failed round and waits one poll interval (or until shutdown) before the next.
    async fn pause_after(&self, e: &crate::EngineError, stopped: &mut watch::Receiver<bool>) {
        tracing::warn!(worker = %self.id, error = %e, "worker round failed; retrying");
        tokio::select! {
            _ = tokio::time::sleep(self.engine.inner.options.poll_interval) => {}
            Ok(()) = stopped.changed() => {}
        }
    }

    /// Shutdown: give in-flight handlers one lease period, record them, release the rest.
    async fn drain<F>(&self, running: &mut FuturesUnordered<F>, mut done: Vec<Done>) -> Result<()>
    where
        F: std::future::Future<Output = Done>,
    {
        let grace = self.engine.inner.options.lease;
        let _ = tokio::time::timeout(grace, async {
            while let Some(d) = running.next().await {
                done.push(d);
            }
        })
        .await;
        // Handlers still running are stopped before their steps are released, so no other
        // worker can start a step whose old handler still runs.
        running.clear();
        if !done.is_empty() {
            if let Err(e) = self.record_and_claim(&done, 0).await {
                if e.is_transient() {
                    return Err(e);
                }
                for d in self.isolate(done).await {
                    tracing::error!(step = %d.step.id, "result left unrecorded at shutdown; the step runs again");
                }
            }
        }
        self.release_all().await
    }

    async fn release_all(&self) -> Result<()> {
        let inner = &self.engine.inner;
        retry_transient(|| async {
            let mut tx = inner.db.begin_write().await?;
            let now = inner.clock.now_ms();
            let rows = sqlx::query(
                "UPDATE wf_steps SET state = 'ready', ready_at = $1, lease_owner = NULL \
                 WHERE state = 'running' AND lease_owner LIKE $2 RETURNING instance_id, stage, attempt",
            )
            .bind(now)
            .bind(format!("{}/%", self.id))
            .fetch_all(&mut *tx)
            .await?;
            let mut events = Vec::with_capacity(rows.len());
            for row in &rows {
                let instance: String = row.try_get("instance_id")?;
                let stage: String = row.try_get("stage")?;
                let event = Event::new(&instance, "step.released").stage(&stage);
                events.push(event.attempt(row.try_get("attempt")?).actor(&self.id));
            }
            write_history(&mut tx, inner.db.backend, now, &events).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        self.engine.wake();
        Ok(())
    }

    /// Forwards PostgreSQL notifications about new work to this process's workers.
    async fn listen(&self) -> Option<JoinHandle<()>> {
        let inner = self.engine.inner.clone();
        if inner.db.backend != Backend::Postgres {
            return None;
        }
        let url = inner.db.url.clone();
        let mut listener = sqlx::postgres::PgListener::connect(&url).await.ok()?;
        listener.listen(NOTIFY_CHANNEL).await.ok()?;
        Some(tokio::spawn(async move {
            while listener.recv().await.is_ok() {
                inner.notify.notify_waiters();
            }
        }))
    }

    /// Records a batch of handler results and leases up to `want` more steps, in one
    /// transaction: one commit per batch. Either part may be empty.
    ///
    /// The claim comes after the results are written, so it sees the steps they made ready.
    async fn record_and_claim(&self, done: &[Done], want: usize) -> Result<Vec<Claimed>> {
        let inner = &self.engine.inner;
        let owner = (want > 0).then(|| {
            let n = self
                .claims
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            format!("{}/{n}", self.id)
        });
        let owner = &owner;
        let run = |copies: bool| {
            retry_transient(move || async move {
                let mut tx = inner.db.begin_write().await?;
                let announce = if done.is_empty() {
                    false
                } else {
                    record(inner, &mut tx, done, copies).await?
                };
                let claimed = match owner {
                    Some(owner) => claim(inner, &mut tx, &self.id, owner, want).await?,
                    None => Vec::new(),
                };
                tx.commit().await?;
                Ok((claimed, announce))
            })
        };
        let (claimed, announce) = match run(true).await {
            // An instance changed after its step was claimed, and the transaction rolled
            // back; run it again, reading every instance afresh.
            Err(EngineError::Conflict(m)) if m == STALE_COPY => run(false).await?,
            result => result?,
        };
        if announce {
            self.engine.wake();
        }
        if !done.is_empty() {
            let n = self
                .commits
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
                self.checkpoint.notify_one();
            }
        }
        Ok(claimed)
    }

    /// Calls the step's handler with the instance's data and the stage's timeout.
    async fn execute(&self, mut step: Claimed) -> Done {
        let inner = self.engine.inner.clone();
        let call = std::mem::replace(&mut step.call, Err(String::new()));
        let result = match call {
            Ok((ctx, timeout)) => {
                // A handler that finishes at once (no I/O) needs no task of its own. One that
                // waits goes on as its own task: this future is only polled when the worker
                // waits for results, and a handler that writes (billing, the network) must
                // not wait for the worker's own turn at the SQLite writer, or the two wait
                // for each other. Dropping this future (a crash) still stops the handler.
                // A panic while starting or first polling the call is the handler's
                // failure, not the worker's (as a panic inside its task would be).
                let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut call = Box::pin(tokio::time::timeout(
                        timeout,
                        inner.handlers.call(&step.handler, ctx),
                    ));
                    let now = (&mut call).now_or_never();
                    (call, now)
                }));
                let finished = match first {
                    Ok((_, Some(done))) => Ok(done),
                    Ok((call, None)) => AbortOnDrop::new(tokio::spawn(call)).join().await,
                    Err(_) => Ok(Ok(Err(HandlerError::Retryable(
                        "the handler panicked".into(),
                    )))),
                };
                match finished {
                    Ok(Ok(result)) => result,
                    Ok(Err(_)) => Err(HandlerError::Retryable(format!(
                        "timed out after {}",
                        humantime::format_duration(timeout)
                    ))),
                    Err(join) => Err(HandlerError::Retryable(format!(
                        "the handler task ended abnormally: {join}"
                    ))),
                }
            }
            Err(e) => Err(HandlerError::Fatal(e)),
        };
        Done { step, result }
    }
}

/// Aborts a background task when dropped.
struct AbortOnDrop<T = ()>(JoinHandle<T>);

impl<T> AbortOnDrop<T> {
    fn new(handle: JoinHandle<T>) -> Self {
        AbortOnDrop(handle)
    }

    async fn join(mut self) -> std::result::Result<T, tokio::task::JoinError> {
        (&mut self.0).await
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running worker asks for a SQLite WAL checkpoint after this many commits of results.
const CHECKPOINT_EVERY: u64 = 4;

/// Copies committed pages from the SQLite WAL into the database file when the worker asks,
/// on a connection of the pool, while the writer goes on (a passive checkpoint never blocks
/// it). Without it the write connection checkpoints itself (`wal_autocheckpoint`), and every
/// writer waits for that.
async fn checkpointer(inner: Arc<Inner>, wake: Arc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        let _ = inner.db.checkpoint().await;
    }
}

/// Extends the leases of everything this worker runs, every third of a lease.
async fn heartbeat(inner: Arc<Inner>, worker: String) {
    let period = inner.options.lease / 3;
    loop {
        tokio::time::sleep(period).await;
        let until = inner
            .clock
            .now_ms()
            .saturating_add(inner.options.lease.as_millis() as i64);
        let _ = sqlx::query(
            "UPDATE wf_steps SET ready_at = $1 WHERE state = 'running' AND lease_owner LIKE $2",
        )
        .bind(until)
        .bind(format!("{worker}/%"))
        .execute(&inner.db.pool)
        .await;
    }
}
