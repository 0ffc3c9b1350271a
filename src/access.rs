//! Who a bearer token is, cached per node and kept honest. A token's user is looked up once
//! and then served from memory; the cache is dropped whenever the access epoch moves (a token
//! revoked, a user deactivated, on any node: [`spawn`] polls it every [`POLL_EVERY`]), and an
//! entry past its token's expiry is never served. When each token was last used is kept in
//! memory and written every [`TOUCH_EVERY`], never on a request's path.

use crate::app::App;
use l2c_engine::db::Db;
use l2c_orders::error::{DeskError, DeskResult};
use l2c_orders::tokens;
use l2c_orders::users::{self, hash_token, User};
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Who the audit log says made a change from the command line (`l2c user ...`,
/// `l2c account ...`, the demo's set-up).
pub const CLI_ACTOR: &str = "l2c-cli";

/// How often a node reads the access epoch: a revocation anywhere takes effect here within it.
pub const POLL_EVERY: Duration = Duration::from_millis(250);
/// How often token use is written.
pub const TOUCH_EVERY: Duration = Duration::from_secs(10);
/// How many tokens the cache holds before it starts again.
const CACHE: usize = 10_000;

struct Cached {
    user: User,
    token_id: String,
    expires_at: Option<i64>,
}

#[derive(Default)]
struct Cache {
    /// The epoch the entries are valid for (None until first read).
    epoch: Option<i64>,
    by_hash: HashMap<String, Cached>,
}

/// Now on the wall clock, in milliseconds: tokens and sessions expire in real time, whatever
/// the sandbox's clock says (moving it a month signs nobody out).
pub fn wall_now() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// This node's view of who the tokens are.
#[derive(Default)]
pub struct Access {
    cache: RwLock<Cache>,
    used: Mutex<HashMap<String, i64>>,
}

impl Access {
    /// The active user whose live token `secret` is at `now` (wall-clock ms), if any.
    pub async fn caller(&self, db: &Db, secret: &str, now: i64) -> DeskResult<Option<User>> {
        let hash = hash_token(secret);
        let seen_epoch = {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if let Some(hit) = cache.by_hash.get(&hash) {
                if hit.expires_at.is_some_and(|at| at <= now) {
                    return Ok(None);
                }
                self.note_use(&hit.token_id, now);
                return Ok(Some(hit.user.clone()));
            }
            cache.epoch
        };
        let Some(found) = tokens::authenticate(db, secret, now).await? else {
            return Ok(None);
        };
        self.note_use(&found.token_id, now);
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        // A lookup that raced with a revocation must not outlive it: keep it only if the
        // epoch has not moved since before the lookup.
        if cache.epoch == seen_epoch && seen_epoch.is_some() {
            if cache.by_hash.len() >= CACHE {
                cache.by_hash.clear();
            }
            let entry = Cached {
                user: found.user.clone(),
                token_id: found.token_id,
                expires_at: found.expires_at,
            };
            cache.by_hash.insert(hash, entry);
        }
        Ok(Some(found.user))
    }

    fn note_use(&self, token_id: &str, now: i64) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        // Every request passes here: a token already noted costs no allocation.
        match used.get_mut(token_id) {
            Some(at) => *at = now,
            None => {
                used.insert(token_id.to_string(), now);
            }
        }
    }

    /// Reads the access epoch; when it moved, drops every cached caller. Returns whether it
    /// moved.
    pub async fn sync(&self, db: &Db) -> DeskResult<bool> {
        let epoch = tokens::epoch(db).await?;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.epoch == Some(epoch) {
            return Ok(false);
        }
        cache.epoch = Some(epoch);
        cache.by_hash.clear();
        Ok(true)
    }

    /// Writes when tokens were last used; kept for the next try on failure.
    pub async fn touch(&self, db: &Db) -> DeskResult<()> {
        let used: Vec<(String, i64)> = {
            let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
            used.drain().collect()
        };
        if let Err(e) = tokens::touch(db, &used).await {
            let mut kept = self.used.lock().unwrap_or_else(|e| e.into_inner());
            for (id, at) in used {
                let slot = kept.entry(id).or_insert(at);
                *slot = (*slot).max(at);
            }
            return Err(e);
        }
        Ok(())
    }
}

/// Keeps `app`'s access honest: polls the epoch (re-reading group membership when it moves,
/// as a deactivated member no longer counts for `quorum = "all"`) and writes token use.
pub fn spawn(app: App) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let touch_every = (TOUCH_EVERY.as_millis() / POLL_EVERY.as_millis()).max(1);
        for n in 1u128.. {
            tick.tick().await;
            match app.access.sync(&app.db).await {
                Ok(true) => {
                    if let Err(e) = app.refresh_directory().await {
                        tracing::warn!(error = %e, "group members not re-read");
                    }
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "access epoch not read"),
            }
            if n % touch_every == 0 {
                if let Err(e) = app.access.touch(&app.db).await {
                    tracing::warn!(error = %e, "token use not written; kept for the next try");
                }
            }
        }
    })
}

/// Taking access away and giving it back: the one way the API, the pages and the CLI do it,
/// each change audited and this node's cache brought up to date at once.
impl App {
    /// Revokes user `name`'s token `id`; this node forgets it at once, the others within
    /// [`POLL_EVERY`].
    pub async fn revoke_token(
        &self,
        by: &str,
        name: &str,
        id: &str,
    ) -> DeskResult<tokens::TokenInfo> {
        let revoked = tokens::revoke(&self.db, by, name, id, wall_now()).await?;
        self.access.sync(&self.db).await?;
        Ok(revoked)
    }

    /// Replaces user `name`'s token `id` with a new secret (same name and lifetime).
    pub async fn rotate_token(
        &self,
        by: &str,
        name: &str,
        id: &str,
    ) -> DeskResult<(tokens::TokenInfo, String)> {
        let rotated = tokens::rotate(&self.db, by, name, id, wall_now()).await?;
        self.access.sync(&self.db).await?;
        Ok(rotated)
    }

    /// Deactivates user `name`: their tokens and sessions stop working on every node within
    /// [`POLL_EVERY`], they leave their groups' `quorum = "all"`, and the tasks
    /// they had claimed go back to their groups' queues.
    /// Nobody deactivates themselves (so the last admin cannot lock everyone out); `by` is
    /// the admin's name, or the CLI's.
    pub async fn deactivate_user(&self, by: &str, name: &str) -> DeskResult<users::Deactivation> {
        if by == name {
            return Err(DeskError::Conflict(
                "nobody can deactivate themselves; ask another admin".into(),
            ));
        }
        let mut done = match users::deactivate(&self.db, by, name, wall_now()).await {
            Ok(done) => done,
            Err(e @ DeskError::Conflict(_)) => {
                // Already deactivated: claims an earlier attempt could not release still go
                // back, so asking again finishes the job (and still says it was done before).
                self.engine
                    .release_claims_of(name, "the user was deactivated")
                    .await?;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.access.sync(&self.db).await?;
        self.refresh_directory()
            .await
            .map_err(|e| DeskError::Internal(e.to_string()))?;
        let released = self
            .engine
            .release_claims_of(name, "the user was deactivated")
            .await?;
        done.claims_released = released as u64;
        Ok(done)
    }

    /// Lets deactivated user `name` sign in again (with a new token or their password).
    pub async fn reactivate_user(&self, by: &str, name: &str) -> DeskResult<()> {
        users::reactivate(&self.db, by, name, wall_now()).await?;
        self.refresh_directory()
            .await
            .map_err(|e| DeskError::Internal(e.to_string()))
    }
}
