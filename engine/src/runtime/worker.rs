//! Workers: claim ready task steps in batches under a lease, run their handlers concurrently,
//! and record the results in batched transactions fenced by attempt number, so a worker whose
//! lease expired (and whose step was reclaimed) cannot overwrite the newer attempt.
//!
//! A worker wakes on an in-process notification or PostgreSQL `NOTIFY`, and otherwise polls;
//! it heartbeats its leases while handlers run, fires due timers, and on shutdown finishes or
//! releases what it holds.

use super::state::{
    decode_rows, write_history, Event, Inst, StoredInstance, Tx, INSTANCE_JSON, STALE_COPY,
};
use super::status::*;
use super::{retry_transient, Engine, Inner, COMPENSATE_PREFIX};
use crate::db::{Backend, CHUNK, NOTIFY_CHANNEL};
use crate::definition::{Definition, RetryPolicy, StageKind};
use crate::error::{EngineError, Result};
use crate::handler::{HandlerError, HandlerResult, TaskContext};
use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One step this worker holds a lease on.
#[derive(Debug, Clone)]
struct Claimed {
    id: String,
    /// The lease owner written at claim time: `{worker}/{claim number}`.
    owner: String,
    instance_id: String,
    stage: String,
    kind: String,
    handler: String,
    attempt: i64,
    failures: i64,
    comp_seq: Option<i64>,
    /// On SQLite, the instance as it was read at claim time (`None` if it was missing, and
    /// on PostgreSQL); recording the result reuses it instead of reading the row again.
    inst: Option<Arc<Inst>>,
    /// The handler's call, or why it cannot be made.
    call: std::result::Result<(TaskContext, Duration), String>,
}

/// A claimed step row as stored.
#[derive(Debug, serde::Deserialize)]
struct ClaimedRow {
    id: String,
    instance_id: String,
    stage: String,
    kind: String,
    handler: Option<String>,
    attempt: i64,
    failures: i64,
    comp_seq: Option<i64>,
}

impl ClaimedRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<ClaimedRow> {
        Ok(ClaimedRow {
            id: row.try_get("id")?,
            instance_id: row.try_get("instance_id")?,
            stage: row.try_get("stage")?,
            kind: row.try_get("kind")?,
            handler: row.try_get("handler")?,
            attempt: row.try_get("attempt")?,
            failures: row.try_get("failures")?,
            comp_seq: row.try_get("comp_seq")?,
        })
    }
}

/// A handler's result for a claimed step.
struct Done {
    step: Claimed,
    result: HandlerResult,
}

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
        let timers = super::timers::fire_due(inner, inner.options.batch_size).await?;
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
        // Guards: if this task is aborted (a crash, in tests) the helpers die with it, so a
        // dead worker stops extending its leases and its steps can be reclaimed.
        let _listener = self.listen().await.map(AbortOnDrop);
        let _heartbeat = AbortOnDrop(tokio::spawn(heartbeat(inner.clone(), self.id.clone())));
        let _checkpointer = (inner.db.backend == Backend::Sqlite).then(|| {
            AbortOnDrop(tokio::spawn(checkpointer(
                inner.clone(),
                self.checkpoint.clone(),
            )))
        });
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
                    match self.record_and_claim(&results, want).await {
                        Ok(claimed) => running.extend(claimed.into_iter().map(|c| self.execute(c))),
                        Err(e) => {
                            // The transaction rolled back. A busy or briefly unreachable
                            // database: keep the results for the next round (the leases stay
                            // ours while the worker heartbeats). Anything else cannot be cured
                            // by retrying the same batch (a listener refuses a result, a row
                            // cannot be read): record the results one by one so that only the
                            // bad ones become incidents. Either way, pause: a failing claim
                            // must not spin the loop.
                            done = if e.is_transient() {
                                results
                            } else {
                                tracing::error!(worker = %self.id, error = %e, "a batch of results cannot be recorded; recording them one by one");
                                self.isolate(results).await
                            };
                            self.pause_after(&e, &mut stopped).await;
                            continue;
                        }
                    }
                }
                let fired = match super::timers::fire_due(&inner, batch).await {
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

/// Records a batch of results (in the caller's transaction); true when new work is ready.
/// With `copies` it starts from the instances as read at claim time (see [`Tx::adopt`]).
async fn record(
    inner: &Inner,
    conn: &mut sqlx::AnyConnection,
    done: &[Done],
    copies: bool,
) -> Result<bool> {
    let mut t = Tx::new(inner, conn);
    let ok: Vec<&Done> = done.iter().filter(|d| d.result.is_ok()).collect();
    let still_ours = fenced_complete(&mut t, &ok).await?;

    // On SQLite each step carries its instance as read at claim time; a copy that changed
    // since (another transaction raised its rev) fails the instance update, and the caller
    // runs the batch again without copies. Instances without a copy are read (and on
    // PostgreSQL locked) here.
    if copies {
        t.adopt(done.iter().filter_map(|d| d.step.inst.as_deref()));
    }
    let mut ids: Vec<String> = done.iter().map(|d| d.step.instance_id.clone()).collect();
    ids.sort();
    ids.dedup();
    t.load(&ids).await?;
    t.read_joins(&ids).await?;
    for d in done {
        match &d.result {
            Ok(output) if still_ours.contains(d.step.id.as_str()) => {
                succeeded(&mut t, &d.step, output.clone()).await?
            }
            Ok(_) => {}
            Err(error) => failed(&mut t, &d.step, error).await?,
        }
    }
    t.finish().await
}

/// Leases up to `limit` ready steps (or steps whose lease expired) under the claim token
/// `owner` (in the caller's transaction), and gives each its handler's context.
async fn claim(
    inner: &Inner,
    conn: &mut sqlx::AnyConnection,
    worker: &str,
    owner: &str,
    limit: usize,
) -> Result<Vec<Claimed>> {
    let now = inner.clock.now_ms();
    let lease_until = now.saturating_add(inner.options.lease.as_millis() as i64);
    let backend = inner.db.backend;
    let sql = match backend {
        // Ready steps and expired leases each come from the claim index in ready_at order;
        // SQLite merges the two ranges instead of sorting every due step (`state IN (..)`
        // would sort the whole backlog on each claim). The steps are picked by rowid, which
        // the claim index holds: picking them by id would read every step's row for its id
        // and then search the id index for it.
        Backend::Sqlite => {
            "UPDATE OR FAIL wf_steps SET state = 'running', attempt = attempt + 1, \
             lease_owner = $1, ready_at = $2 WHERE rowid IN (SELECT rid FROM (\
             SELECT rowid AS rid, ready_at FROM wf_steps \
             WHERE state = 'ready' AND ready_at <= $3 \
             UNION ALL \
             SELECT rowid AS rid, ready_at FROM wf_steps \
             WHERE state = 'running' AND ready_at <= $3 \
             ORDER BY ready_at LIMIT $4))"
        }
        Backend::Postgres => {
            "UPDATE wf_steps SET state = 'running', attempt = attempt + 1, lease_owner = $1, \
             ready_at = $2 WHERE id IN (SELECT id FROM wf_steps \
             WHERE state IN ('ready', 'running') AND ready_at <= $3 \
             ORDER BY ready_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING id, instance_id, stage, kind, handler, attempt, failures, comp_seq"
        }
    };
    let q = sqlx::query(sql)
        .bind(owner.to_string())
        .bind(lease_until)
        .bind(now)
        .bind(limit as i64);
    let (rows, instances) = match backend {
        // PostgreSQL workers keep no instance copies: recording locks the instance rows in id
        // order anyway, and reading them whole costs no more than reading their revs, while
        // reading whole rows here would cost more than the handlers' columns (see
        // `attach_contexts`).
        Backend::Postgres => {
            let rows = q.fetch_all(&mut *conn).await?;
            (
                decode_rows(backend, &rows, ClaimedRow::from_row)?,
                Vec::new(),
            )
        }
        Backend::Sqlite => {
            q.execute(&mut *conn).await?;
            // The claimed steps and their instances in one round trip, each as one JSON array.
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT (SELECT json_group_array(json_array(id, instance_id, stage, kind, \
                 handler, attempt, failures, comp_seq)) FROM wf_steps \
                 WHERE state = 'running' AND ready_at = $1 AND lease_owner = $2) AS steps, \
                 (SELECT json_group_array({INSTANCE_JSON}) FROM wf_instances WHERE id IN \
                 (SELECT instance_id FROM wf_steps \
                 WHERE state = 'running' AND ready_at = $1 AND lease_owner = $2)) AS instances"
            )))
            .bind(lease_until)
            .bind(owner.to_string())
            .fetch_one(&mut *conn)
            .await?;
            let steps: Vec<ClaimedRow> = serde_json::from_str(&row.try_get::<String, _>("steps")?)?;
            let instances: Vec<StoredInstance> =
                serde_json::from_str(&row.try_get::<String, _>("instances")?)?;
            (steps, instances)
        }
    };
    let mut held = HashMap::with_capacity(instances.len());
    for stored in instances {
        let inst = stored.into_inst(inner, conn).await?;
        held.insert(inst.id.clone(), Arc::new(inst));
    }
    let mut claimed = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    let deadline_base = inner.clock.now();
    for r in rows {
        let event = Event::new(&r.instance_id, "step.started").stage(&r.stage);
        events.push(event.attempt(r.attempt).actor(worker));
        let inst = held.get(&r.instance_id).cloned();
        let call = match &inst {
            Some(inst) => Ok(task_context(
                &inst.id,
                &inst.def,
                inst.input.clone(),
                Arc::new(inst.output.clone()),
                &r.stage,
                r.attempt,
                deadline_base,
            )),
            None => Err(format!("instance {} of the step is missing", r.instance_id)),
        };
        claimed.push(Claimed {
            id: r.id,
            owner: owner.to_string(),
            instance_id: r.instance_id,
            stage: r.stage,
            kind: r.kind,
            handler: r.handler.unwrap_or_default(),
            attempt: r.attempt,
            failures: r.failures,
            comp_seq: r.comp_seq,
            inst,
            call,
        });
    }
    write_history(&mut *conn, backend, now, &events).await?;
    if backend == Backend::Postgres {
        attach_contexts(inner, conn, &mut claimed).await?;
    }
    Ok(claimed)
}

/// An instance's data as a handler sees it.
#[derive(Debug)]
struct ContextRow {
    id: String,
    workflow: String,
    version: String,
    input: Value,
    output: Value,
}

impl ContextRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<ContextRow> {
        let input: String = row.try_get("input")?;
        let output: String = row.try_get("output")?;
        Ok(ContextRow {
            id: row.try_get("id")?,
            workflow: row.try_get("workflow")?,
            version: row.try_get("version")?,
            input: serde_json::from_str(&input)?,
            output: serde_json::from_str(&output)?,
        })
    }
}

/// Gives each claimed step its handler's call from its instance's data (PostgreSQL, where
/// the claim keeps no instance copies).
async fn attach_contexts(
    inner: &Inner,
    conn: &mut sqlx::AnyConnection,
    claimed: &mut [Claimed],
) -> Result<()> {
    let mut ids: Vec<String> = claimed.iter().map(|c| c.instance_id.clone()).collect();
    ids.sort();
    ids.dedup();
    let backend = inner.db.backend;
    let mut instances = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(backend.chunk_rows(CHUNK, 1)) {
        let sql = format!(
            "SELECT id, workflow, version, input, output FROM wf_instances WHERE id IN ({})",
            backend.in_list(chunk.len(), 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.clone());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let c = ContextRow::from_row(&row)?;
            let def = inner
                .definition_version(conn, &c.workflow, &c.version)
                .await?;
            instances.insert(c.id, (def, Arc::new(c.input), Arc::new(c.output)));
        }
    }
    let now = inner.clock.now();
    for step in claimed.iter_mut() {
        step.call = match instances.get(&step.instance_id) {
            Some((def, input, output)) => Ok(task_context(
                &step.instance_id,
                def,
                input.clone(),
                output.clone(),
                &step.stage,
                step.attempt,
                now,
            )),
            None => Err(format!(
                "instance {} of the step is missing",
                step.instance_id
            )),
        };
    }
    Ok(())
}

/// Marks steps completed where this claim still holds the lease at the same attempt; returns
/// the ids it completed (a step reclaimed by another worker is not among them).
async fn fenced_complete(t: &mut Tx<'_>, ok: &[&Done]) -> Result<HashSet<String>> {
    let mut by_owner: HashMap<&str, Vec<&Done>> = HashMap::new();
    for d in ok {
        by_owner.entry(d.step.owner.as_str()).or_default().push(d);
    }
    let backend = t.inner.db.backend;
    let mut ours = HashSet::with_capacity(ok.len());
    for (owner, group) in by_owner {
        for chunk in group.chunks(backend.chunk_rows(CHUNK / 2, 2)) {
            let sql = format!(
                "UPDATE{} wf_steps SET state = 'completed', finished_at = {} \
                 WHERE state = 'running' AND lease_owner = {} AND (id, attempt) IN (VALUES {}){}",
                backend.or_fail(),
                backend.param(1),
                backend.param(2),
                backend.values_list(chunk.len(), 2, 3),
                if backend == Backend::Postgres {
                    " RETURNING id"
                } else {
                    ""
                }
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(t.now)
                .bind(owner.to_string());
            for d in chunk {
                q = q.bind(d.step.id.clone()).bind(d.step.attempt);
            }
            if backend == Backend::Postgres {
                for row in q.fetch_all(&mut *t.conn).await? {
                    ours.insert(row.try_get::<String, _>("id")?);
                }
                continue;
            }
            let done = q.execute(&mut *t.conn).await?.rows_affected();
            if done as usize == chunk.len() {
                ours.extend(chunk.iter().map(|d| d.step.id.clone()));
            } else {
                ours.extend(completed_by(t, owner, chunk).await?);
            }
        }
    }
    Ok(ours)
}

/// Which of these steps the claim `owner` completed just now (the rare path where some were
/// reclaimed under it).
async fn completed_by(t: &mut Tx<'_>, owner: &str, chunk: &[&Done]) -> Result<Vec<String>> {
    let backend = t.inner.db.backend;
    let sql = format!(
        "SELECT id FROM wf_steps WHERE state = 'completed' AND lease_owner = {} \
         AND finished_at = {} AND id IN ({})",
        backend.param(1),
        backend.param(2),
        backend.in_list(chunk.len(), 3)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(owner.to_string())
        .bind(t.now);
    for d in chunk {
        q = q.bind(d.step.id.clone());
    }
    let rows = q.fetch_all(&mut *t.conn).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?)
}

async fn succeeded(t: &mut Tx<'_>, step: &Claimed, output: Value) -> Result<()> {
    let mut event = Event::new(&step.instance_id, "step.completed")
        .stage(&step.stage)
        .attempt(step.attempt);
    if !output.is_null() {
        event = event.data(output.clone());
    }
    if step.kind == COMPENSATION {
        t.push_event(event);
        return t
            .compensation_done(&step.instance_id, step.comp_seq.unwrap_or_default())
            .await;
    }
    let def = t.inst(&step.instance_id)?.def.clone();
    match def.stage_index(&step.stage) {
        Some(stage) => {
            t.stage_completed(&step.instance_id, stage, output, event)
                .await
        }
        None => Ok(()),
    }
}

/// A retryable error backs off (or becomes an incident after the last attempt); a fatal one
/// fails the instance (a failing compensation becomes an incident instead).
async fn failed(t: &mut Tx<'_>, step: &Claimed, error: &HandlerError) -> Result<()> {
    let def = t.inst(&step.instance_id)?.def.clone();
    let policy = retry_policy(&def, &step.stage);
    let failures = step.failures + 1;
    let (state, message, ready_at) = match error {
        HandlerError::Retryable(m) if failures < i64::from(policy.max_attempts) => (
            READY,
            m,
            t.now.saturating_add(backoff_ms(&policy, failures)),
        ),
        HandlerError::Retryable(m) => (INCIDENT, m, t.now),
        HandlerError::Fatal(m) if step.kind == COMPENSATION => (INCIDENT, m, t.now),
        HandlerError::Fatal(m) => (FAILED, m, t.now),
    };
    let updated = sqlx::query(
        "UPDATE wf_steps SET state = $1, ready_at = $2, failures = $3, error = $4, \
         lease_owner = NULL, finished_at = $5 \
         WHERE id = $6 AND attempt = $7 AND lease_owner = $8 AND state = 'running'",
    )
    .bind(state)
    .bind(ready_at)
    .bind(failures)
    .bind(message.clone())
    .bind((state == FAILED).then_some(t.now))
    .bind(step.id.clone())
    .bind(step.attempt)
    .bind(step.owner.clone())
    .execute(&mut *t.conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(());
    }
    let (name, data) = match state {
        READY => (
            "step.retry",
            json!({"error": message, "retry_at": crate::clock::from_ms(ready_at)}),
        ),
        INCIDENT => (
            "step.incident",
            json!({"error": message, "attempts": failures}),
        ),
        _ => ("step.failed", json!({"error": message})),
    };
    let event = Event::new(&step.instance_id, name)
        .stage(&step.stage)
        .attempt(step.attempt)
        .data(data);
    t.push_event(event);
    if state == READY {
        t.announce = true;
    }
    if state == FAILED {
        let reason = format!("stage {} failed: {message}", step.stage);
        t.begin_compensation(&step.instance_id, FAILED, None, &reason)
            .await?;
    }
    Ok(())
}

/// The stage a step runs for (a compensation step runs for the stage it undoes).
fn task_stage<'a>(
    def: &'a Definition,
    step_stage: &str,
) -> Option<&'a crate::definition::TaskStage> {
    let stage = step_stage
        .strip_prefix(COMPENSATE_PREFIX)
        .unwrap_or(step_stage);
    def.stage_index(stage)
        .and_then(|i| match &def.stages[i].kind {
            StageKind::Task(t) => Some(t),
            _ => None,
        })
}

fn retry_policy(def: &Definition, step_stage: &str) -> RetryPolicy {
    task_stage(def, step_stage)
        .map(|t| t.retry.clone())
        .unwrap_or_default()
}

/// Exponential backoff with equal jitter: half the delay fixed, half random.
fn backoff_ms(policy: &RetryPolicy, failures: i64) -> i64 {
    let base = policy.backoff.as_millis() as f64;
    let cap = policy.max_backoff.as_millis() as f64;
    let exponent = (failures - 1).clamp(0, 30) as i32;
    let delay = (base * 2f64.powi(exponent)).min(cap).max(1.0);
    let half = delay / 2.0;
    (half + rand::random::<f64>() * half) as i64
}

/// A claimed step's handler call: the instance's data, idempotency key and deadline, and
/// the stage's timeout.
fn task_context(
    instance_id: &str,
    def: &Definition,
    input: Arc<Value>,
    output: Arc<Value>,
    stage: &str,
    attempt: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> (TaskContext, Duration) {
    let timeout = task_stage(def, stage)
        .map(|t| t.timeout)
        .unwrap_or(Duration::from_secs(60));
    let original = stage.strip_prefix(COMPENSATE_PREFIX).unwrap_or(stage);
    let ctx = TaskContext {
        instance_id: instance_id.to_string(),
        workflow: def.name.clone(),
        stage: stage.to_string(),
        idempotency_key: format!("{instance_id}:{stage}"),
        attempt,
        input,
        output,
        deadline: now + chrono::Duration::from_std(timeout).unwrap_or_default(),
        compensating: original != stage,
    };
    (ctx, timeout)
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
