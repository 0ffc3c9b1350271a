//! The durable runtime: starting instances, the worker loop, human tasks, timers, incidents
//! and cancellation, all persisted through [`crate::db::Db`] with history in the same
//! transaction as every state change.

mod advance;
mod claim;
mod compensate;
mod listener;
mod ops;
mod pending;
mod query;
mod record;
mod state;
pub mod status;
mod tasks;
mod timers;
mod worker;

pub use compensate::COMPENSATE_PREFIX;
pub use listener::{Change, InstanceChange, Listener};
pub use query::{HistoryEvent, IncidentView, InstanceView, StepView, TaskView};
pub use status::{InstanceStatus, UnknownStatus};
pub use tasks::Outcome;
pub use worker::{Worker, WorkerHandle};

use crate::clock::{Clock, SystemClock};
use crate::db::Db;
use crate::definition::{Definition, Definitions, HumanStage, Known, Quorum};
use crate::error::{EngineError, Result};
use crate::handler::Handlers;
use crate::payload::{decode, PayloadError};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use state::Tx;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Decides whether an actor may act on a task; `Err` carries the reason for the refusal.
pub type ActorCheck = Arc<dyn Fn(&ActorCheckRequest<'_>) -> Result<(), String> + Send + Sync>;

/// Lists a group's members (for `quorum = "all"`).
pub type Directory = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// What an [`ActorCheck`] sees.
#[derive(Debug)]
pub struct ActorCheckRequest<'a> {
    /// Who wants to act.
    pub actor: &'a str,
    /// The task's workflow, stage and group.
    pub workflow: &'a str,
    /// The stage id.
    pub stage: &'a str,
    /// The group whose queue holds the task.
    pub group: &'a str,
    /// The instance's input (e.g. the order, with its requester).
    pub input: &'a Value,
}

impl ActorCheckRequest<'_> {
    /// The instance's input as `T` (e.g. the order, to find its requester); the error names
    /// the field that does not fit (see [`crate::payload`]).
    pub fn input_as<T: DeserializeOwned>(&self) -> Result<T, PayloadError> {
        decode("input", self.input)
    }
}

/// Tuning of leases, batches and polling.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How long a claimed step stays leased without a heartbeat.
    pub lease: Duration,
    /// Steps claimed per round trip.
    pub batch_size: usize,
    /// How long an idle worker sleeps when no wake-up arrives.
    pub poll_interval: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lease: Duration::from_secs(60),
            batch_size: 256,
            poll_interval: Duration::from_millis(500),
        }
    }
}

/// The workflow engine: cheap to clone, shared by the API and the workers.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub handlers: Handlers,
    pub options: EngineOptions,
    pub notify: Notify,
    known: Known,
    current: RwLock<BTreeMap<String, Arc<Definition>>>,
    versions: RwLock<HashMap<(String, String), Arc<Definition>>>,
    actor_check: Option<ActorCheck>,
    directory: Option<Directory>,
    pub listener: Option<Arc<dyn Listener>>,
}

/// Sets up an [`Engine`].
pub struct EngineBuilder {
    db: Db,
    definitions: Definitions,
    known: Known,
    handlers: Handlers,
    clock: Arc<dyn Clock>,
    options: EngineOptions,
    actor_check: Option<ActorCheck>,
    directory: Option<Directory>,
    listener: Option<Arc<dyn Listener>>,
}

impl EngineBuilder {
    /// The definitions new instances start from, and what they were checked against.
    pub fn definitions(mut self, definitions: Definitions, known: Known) -> Self {
        self.definitions = definitions;
        self.known = known;
        self
    }
    /// The task handlers.
    pub fn handlers(mut self, handlers: Handlers) -> Self {
        self.handlers = handlers;
        self
    }
    /// The clock (a [`crate::clock::TestClock`] in tests and the sandbox).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Leases, batch size, polling.
    pub fn options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }
    /// Who may not act on a task (e.g. nobody approves their own order).
    pub fn actor_check(mut self, check: ActorCheck) -> Self {
        self.actor_check = Some(check);
        self
    }
    /// Group membership, for `quorum = "all"`.
    pub fn directory(mut self, directory: Directory) -> Self {
        self.directory = Some(directory);
        self
    }

    /// Who hears instances start, compensate and end, inside the engine's transactions.
    pub fn listener(mut self, listener: Arc<dyn Listener>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Records the definitions' versions in the database and returns the engine.
    pub async fn build(self) -> Result<Engine> {
        let mut current = BTreeMap::new();
        let mut versions = HashMap::new();
        let now = self.clock.now_ms();
        for (_, def) in self.definitions.iter() {
            sqlx::query(
                "INSERT INTO wf_definitions (name, hash, number, source, registered_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(def.name.clone())
            .bind(def.version.hash.clone())
            .bind(def.version.number.map(i64::from))
            .bind(def.source.clone())
            .bind(now)
            .execute(&self.db.pool)
            .await?;
            current.insert(def.name.clone(), def.clone());
            versions.insert((def.name.clone(), def.version.hash.clone()), def.clone());
        }
        Ok(Engine {
            inner: Arc::new(Inner {
                db: self.db,
                clock: self.clock,
                handlers: self.handlers,
                options: self.options,
                notify: Notify::new(),
                known: self.known,
                current: RwLock::new(current),
                versions: RwLock::new(versions),
                actor_check: self.actor_check,
                directory: self.directory,
                listener: self.listener,
            }),
        })
    }
}

impl Engine {
    /// Starts configuring an engine on a migrated database.
    pub fn builder(db: Db) -> EngineBuilder {
        EngineBuilder {
            db,
            definitions: Definitions::default(),
            known: Known::default(),
            handlers: Handlers::new(),
            clock: Arc::new(SystemClock),
            options: EngineOptions::default(),
            actor_check: None,
            directory: None,
            listener: None,
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The engine's clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock.clone()
    }

    /// The newest loaded definition of a workflow.
    pub fn definition(&self, name: &str) -> Option<Arc<Definition>> {
        self.inner.current(name)
    }

    /// Starts an instance of the newest version of `workflow` in its own transaction.
    pub async fn start(
        &self,
        workflow: &str,
        input: Value,
        business_key: Option<&str>,
    ) -> Result<String> {
        let id = retry_transient(|| async {
            let mut tx = self.inner.db.begin_write().await?;
            let id = self
                .start_in(&mut tx, workflow, input.clone(), business_key)
                .await?;
            tx.commit().await?;
            Ok(id)
        })
        .await?;
        self.wake();
        Ok(id)
    }

    /// Starts an instance inside the caller's transaction, so that (say) an order and its
    /// workflow commit or roll back together. Call [`Engine::wake`] after committing.
    pub async fn start_in(
        &self,
        conn: &mut AnyConnection,
        workflow: &str,
        input: Value,
        business_key: Option<&str>,
    ) -> Result<String> {
        let start = (workflow, input, business_key.map(str::to_string));
        let mut ids = self.start_many_in(conn, vec![start]).await?;
        ids.pop()
            .ok_or_else(|| EngineError::Conflict("no instance was started".into()))
    }

    /// Starts several instances inside the caller's transaction, written together (one
    /// multi-row statement per table, not one round of statements per instance). Each start
    /// is (workflow, input, business key); the ids come back in the same order.
    pub async fn start_many_in(
        &self,
        conn: &mut AnyConnection,
        starts: Vec<(&str, Value, Option<String>)>,
    ) -> Result<Vec<String>> {
        let mut tx = Tx::new(&self.inner, conn);
        let mut ids = Vec::with_capacity(starts.len());
        for (workflow, input, business_key) in starts {
            let def = self
                .inner
                .current(workflow)
                .ok_or_else(|| EngineError::UnknownWorkflow(workflow.to_string()))?;
            ids.push(tx.create_instance(def, input, None, business_key).await?);
        }
        tx.finish().await?;
        Ok(ids)
    }

    /// Wakes this process's idle workers (other nodes hear PostgreSQL `NOTIFY`).
    pub fn wake(&self) {
        self.inner.notify.notify_waiters();
    }
}

impl Inner {
    pub(crate) fn current(&self, name: &str) -> Option<Arc<Definition>> {
        self.current
            .read()
            .ok()
            .and_then(|map| map.get(name).cloned())
    }

    /// A definition version, from memory or from its stored source.
    pub(crate) async fn definition_version(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        hash: &str,
    ) -> Result<Arc<Definition>> {
        let key = (name.to_string(), hash.to_string());
        if let Some(def) = self.versions.read().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok(def);
        }
        let row = sqlx::query("SELECT source FROM wf_definitions WHERE name = $1 AND hash = $2")
            .bind(name.to_string())
            .bind(hash.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        let stored = |message: String| EngineError::StoredDefinition {
            name: name.to_string(),
            hash: hash.to_string(),
            message,
        };
        let source: String = row
            .ok_or_else(|| stored("not in wf_definitions".into()))?
            .try_get("source")?;
        let def = self.parse_stored(name, source).map_err(stored)?;
        if let Ok(mut map) = self.versions.write() {
            map.insert(key, def.clone());
        }
        Ok(def)
    }

    /// Loads a stored version together with the current versions of the other workflows, so
    /// its subflows are checked against what they would start today.
    fn parse_stored(
        &self,
        name: &str,
        source: String,
    ) -> std::result::Result<Arc<Definition>, String> {
        let mut sources = vec![(format!("{name}.toml"), source)];
        if let Ok(current) = self.current.read() {
            for (other, def) in current.iter().filter(|(other, _)| other.as_str() != name) {
                sources.push((format!("{other}.toml"), def.source.clone()));
            }
        }
        let set = Definitions::from_sources(&sources, &self.known).map_err(|e| e.to_string())?;
        set.get(name)
            .ok_or_else(|| "the stored source defines no workflow".to_string())
    }

    /// Approvals a human task needs, and the members who must give them for `all`.
    pub(crate) fn quorum(&self, human: &HumanStage) -> (i64, Option<Vec<String>>) {
        match human.quorum {
            Quorum::Any => (1, None),
            Quorum::Count(n) => (i64::from(n), None),
            Quorum::All => {
                let mut members = self
                    .directory
                    .as_ref()
                    .map(|d| d(&human.group))
                    .unwrap_or_default();
                members.sort();
                members.dedup();
                if members.is_empty() {
                    // Nobody to wait for: one approval from whoever the group lets act.
                    (1, None)
                } else {
                    (members.len() as i64, Some(members))
                }
            }
        }
    }

    pub(crate) fn check_actor(&self, request: &ActorCheckRequest<'_>) -> Result<()> {
        match &self.actor_check {
            Some(check) => check(request).map_err(EngineError::Forbidden),
            None => Ok(()),
        }
    }
}

/// Runs a transaction again when it lost a race the database resolved by aborting it
/// (deadlock, serialization failure, SQLite busy).
/// Runs a transaction again (a few times, with a short jittered pause) while it fails with a
/// transient error: a busy SQLite database, a PostgreSQL deadlock or serialization failure.
pub async fn retry<T, E, F, Fut>(mut attempt: F) -> std::result::Result<T, E>
where
    E: crate::error::Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
{
    let mut tries = 0u32;
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && tries < 8 => {
                tries += 1;
                let jitter = rand::random_range(0..10u64);
                tokio::time::sleep(Duration::from_millis(5 * u64::from(tries) + jitter)).await;
            }
            result => return result,
        }
    }
}

/// [`retry`] for the engine's own transactions.
pub(crate) async fn retry_transient<T, F, Fut>(attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    retry(attempt).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct PlacedBy {
        requester: String,
    }

    #[test]
    fn an_actor_check_reads_the_input_typed_and_hears_which_field_does_not_fit() {
        let input = serde_json::json!({"requester": "rita"});
        let request = ActorCheckRequest {
            actor: "rita",
            workflow: "order",
            stage: "approve",
            group: "approvers",
            input: &input,
        };
        let placed: PlacedBy = request.input_as().expect("fits");
        assert_eq!(placed.requester, "rita");
        let input = serde_json::json!({"requester": ["rita"]});
        let request = ActorCheckRequest {
            input: &input,
            ..request
        };
        let error = request.input_as::<PlacedBy>().expect_err("a list");
        assert_eq!(error.path, "requester");
        assert!(
            error
                .to_string()
                .starts_with("input: requester: invalid type: sequence"),
            "{error}"
        );
    }
}
