//! What every part of the runtime shares: the engine's [`Inner`] state behind the [`Engine`]
//! handle (database, clock, handlers, options, definition versions, actor check, directory,
//! listener) and the [`EngineOptions`] that tune leases, batches and polling.
//!
//! It sits below the transactions ([`super::state::Tx`]) and the worker, which reach the
//! engine's state through it rather than through [`Engine`], whose methods live all over the
//! runtime.
//!
//! [`Engine`]: super::Engine

use super::actor::{ActorCheck, ActorCheckRequest, Directory};
use super::listener::Listener;
use crate::clock::Clock;
use crate::db::Db;
use crate::definition::{Definition, Definitions, HumanStage, Known, Quorum};
use crate::error::{EngineError, Result};
use crate::handler::Handlers;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

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

/// The engine's shared state, behind the [`Engine`](super::Engine)'s `Arc`.
pub(crate) struct Inner {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub handlers: Handlers,
    pub options: EngineOptions,
    pub notify: Notify,
    pub(super) known: Known,
    pub(super) current: RwLock<BTreeMap<String, Arc<Definition>>>,
    pub(super) versions: RwLock<HashMap<(String, String), Arc<Definition>>>,
    pub(super) actor_check: Option<ActorCheck>,
    pub(super) directory: Option<Directory>,
    pub listener: Option<Arc<dyn Listener>>,
}

impl Inner {
    pub(crate) fn current(&self, name: &str) -> Option<Arc<Definition>> {
        self.current
            .read()
            .ok()
            .and_then(|map| map.get(name).cloned())
    }

    /// A definition version already in memory.
    pub(crate) fn loaded_version(&self, name: &str, hash: &str) -> Option<Arc<Definition>> {
        let key = (name.to_string(), hash.to_string());
        self.versions.read().ok().and_then(|m| m.get(&key).cloned())
    }

    /// A definition version, from memory or from its stored source.
    pub(crate) async fn definition_version(
        &self,
        conn: &mut AnyConnection,
        name: &str,
        hash: &str,
    ) -> Result<Arc<Definition>> {
        if let Some(def) = self.loaded_version(name, hash) {
            return Ok(def);
        }
        let key = (name.to_string(), hash.to_string());
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
