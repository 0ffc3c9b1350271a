//! The [`Engine`] handle and its [`EngineBuilder`]: recording the loaded definitions' versions
//! and starting instances (alone, or inside the caller's transaction).
//!
//! [`Engine`] is a cheap clone of an `Arc` around [`Inner`]; its other calls live with what
//! they do: human tasks in `task_calls`, incidents and cancellation in `ops`, reading back in
//! `query`, workers in `worker`.

use super::actor::{ActorCheck, Directory};
use super::inner::{EngineOptions, Inner};
use super::listener::Listener;
use super::state::Tx;
use super::transient::retry_transient;
use crate::clock::{Clock, SystemClock};
use crate::db::Db;
use crate::definition::{Definition, Definitions, Known};
use crate::error::{EngineError, Result};
use crate::handler::Handlers;
use serde_json::Value;
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// The workflow engine: cheap to clone, shared by the API and the workers.
#[derive(Clone)]
pub struct Engine {
    pub(super) inner: Arc<Inner>,
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

    /// The definition version an instance runs (`instance.workflow`, `instance.version`): the
    /// one to draw it with, even after a newer version was loaded.
    pub async fn definition_of(&self, name: &str, version: &str) -> Result<Arc<Definition>> {
        // Pages draw instances on every view: a version in memory needs no connection.
        if let Some(def) = self.inner.loaded_version(name, version) {
            return Ok(def);
        }
        let mut conn = self.inner.db.pool.acquire().await?;
        self.inner
            .definition_version(&mut conn, name, version)
            .await
    }

    /// The newest loaded definition of every workflow, by name.
    pub fn definitions(&self) -> Vec<Arc<Definition>> {
        self.inner
            .current
            .read()
            .map(|map| map.values().cloned().collect())
            .unwrap_or_default()
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
