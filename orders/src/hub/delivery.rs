//! Deliveries (`hub_deliveries`): each event for each listener whose account and query it
//! passes, made at fan-out; claimed with a lease by the node that sends it; deleted once
//! delivered, retried with exponential backoff, and after the last attempt kept as a dead
//! letter an admin can replay.
//!
//! Per-order order: a delivery is claimable only while no earlier delivery of the same
//! order to the same listener remains (pending, leased or dead), so event n+1 never goes
//! before event n succeeded; fan-out is serialized across nodes (`hub_fanout`'s row) and
//! walks events in `seq` order, so the earlier delivery always exists first. Claims use
//! `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite has one writer), and an attempt number
//! fences a node whose lease expired.

use super::filter::Filter;
use super::outbox::{self, OutboxEvent};
use crate::error::{DeskError, DeskResult};
use crate::state::OrderState;
use l2c_engine::db::{Backend, Db};
use serde::Serialize;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const PENDING: &str = "pending";
const DEAD: &str = "dead";

/// Retries: how many attempts, and the backoff between them (milliseconds).
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Attempts before a delivery is a dead letter.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles after each next one.
    pub backoff_initial_ms: i64,
    /// The longest wait.
    pub backoff_max_ms: i64,
}

impl Policy {
    /// The wait after failed attempt number `attempt` (1 for the first).
    pub fn backoff_ms(&self, attempt: i64) -> i64 {
        let doublings = u32::try_from((attempt - 1).clamp(0, 40)).unwrap_or(40);
        self.backoff_initial_ms
            .saturating_mul(1_i64 << doublings)
            .min(self.backoff_max_ms)
    }
}

struct Target {
    id: String,
    account: Option<String>,
    filter: Filter,
}

async fn targets(conn: &mut AnyConnection) -> DeskResult<Vec<Target>> {
    let rows = sqlx::query("SELECT id, account_id, query FROM hub_listeners ORDER BY id")
        .fetch_all(conn)
        .await?;
    let mut targets = Vec::with_capacity(rows.len());
    for r in rows {
        let query: Option<String> = r.try_get("query")?;
        let filter = Filter::parse(query.as_deref())
            .map_err(|_| DeskError::Internal(format!("stored query {query:?} does not parse")))?;
        targets.push(Target {
            id: r.try_get("id")?,
            account: r.try_get("account_id")?,
            filter,
        });
    }
    Ok(targets)
}

/// One event waiting for fan-out.
struct Unfanned {
    seq: i64,
    order_id: String,
    event_type: super::EventType,
    state: OrderState,
    account: String,
}

async fn unfanned(conn: &mut AnyConnection, limit: i64) -> DeskResult<Vec<Unfanned>> {
    let rows = sqlx::query(
        "SELECT e.seq, e.order_id, e.event_type, e.state, o.customer_account_id \
         FROM hub_events e JOIN orders o ON o.id = e.order_id \
         WHERE e.fanned = 0 ORDER BY e.seq LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let event_type: String = r.try_get("event_type")?;
            let state: String = r.try_get("state")?;
            Ok(Unfanned {
                seq: r.try_get("seq")?,
                order_id: r.try_get("order_id")?,
                event_type: event_type.parse().map_err(DeskError::Internal)?,
                state: state.parse().map_err(DeskError::Internal)?,
                account: r.try_get("customer_account_id")?,
            })
        })
        .collect()
}

/// Makes the deliveries of up to `limit` events not yet fanned out, for every listener
/// registered now; answers how many events it took.
pub async fn fan_out(db: &Db, now: i64, limit: i64) -> DeskResult<usize> {
    let backend = db.backend;
    // A read first: an idle node must not take SQLite's write lock every poll.
    let waiting = sqlx::query("SELECT seq FROM hub_events WHERE fanned = 0 LIMIT 1")
        .fetch_optional(&db.pool)
        .await?;
    if waiting.is_none() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    let lock = format!(
        "SELECT id FROM hub_fanout WHERE id = 1{}",
        backend.lock_rows()
    );
    sqlx::query(sqlx::AssertSqlSafe(lock))
        .fetch_optional(&mut *tx)
        .await?;
    let events = unfanned(&mut tx, limit).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let targets = targets(&mut tx).await?;
    let mut rows: Vec<(&str, &Unfanned)> = Vec::new();
    let (mut kept, mut unwanted) = (Vec::new(), Vec::new());
    for event in &events {
        let before = rows.len();
        for t in &targets {
            let account_ok = t.account.as_ref().is_none_or(|a| *a == event.account);
            if account_ok && t.filter.matches(event.event_type, event.state) {
                rows.push((&t.id, event));
            }
        }
        if rows.len() > before {
            kept.push(event.seq);
        } else {
            unwanted.push(event.seq);
        }
    }
    insert(&mut tx, backend, &rows, now).await?;
    outbox::fanned(&mut tx, backend, &kept, &unwanted).await?;
    tx.commit().await?;
    Ok(events.len())
}

async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    rows: &[(&str, &Unfanned)],
    now: i64,
) -> DeskResult<()> {
    for chunk in rows.chunks(backend.chunk_rows(200, 7)) {
        let sql = format!(
            "INSERT INTO hub_deliveries (id, listener_id, event_seq, order_id, status, next_at, \
             updated_at) VALUES {}",
            backend.values_list(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (listener, event) in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(listener.to_string())
                .bind(event.seq)
                .bind(event.order_id.clone())
                .bind(PENDING)
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A delivery this node holds the lease of, with what it takes to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery's id.
    pub id: String,
    /// This attempt's number (1 for the first), which fences its outcome.
    pub attempt: i64,
    /// The listener's id.
    pub listener: String,
    /// Where to POST.
    pub callback: String,
    /// The listener's signing secret.
    pub secret: String,
    /// The event.
    pub event: OutboxEvent,
}

/// Claims up to `limit` due deliveries, each the earliest still owed of its order to its
/// listener, leased until `lease_until`.
pub async fn claim(db: &Db, now: i64, lease_until: i64, limit: i64) -> DeskResult<Vec<Claimed>> {
    let backend = db.backend;
    // A read first, as in fan-out: nothing due, no write lock.
    let due = sqlx::query(
        "SELECT id FROM hub_deliveries WHERE status = 'pending' AND next_at <= $1 \
         AND (lease_until IS NULL OR lease_until <= $1) LIMIT 1",
    )
    .bind(now)
    .fetch_optional(&db.pool)
    .await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin_write().await?;
    let sql = format!(
        "SELECT d.id, d.attempts FROM hub_deliveries d \
         WHERE d.status = 'pending' AND d.next_at <= $1 \
         AND (d.lease_until IS NULL OR d.lease_until <= $1) \
         AND NOT EXISTS (SELECT 1 FROM hub_deliveries e WHERE e.listener_id = d.listener_id \
         AND e.order_id = d.order_id AND e.event_seq < d.event_seq) \
         ORDER BY d.event_seq LIMIT $2{}",
        backend.claim_rows()
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let mut attempts: HashMap<String, i64> = HashMap::new();
    for r in rows {
        attempts.insert(r.try_get("id")?, r.try_get::<i64, _>("attempts")? + 1);
    }
    if attempts.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&String> = attempts.keys().collect();
    let update = format!(
        "UPDATE hub_deliveries SET attempts = attempts + 1, lease_until = {} WHERE id IN ({})",
        backend.param(1),
        backend.in_list(ids.len(), 2)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(update)).bind(lease_until);
    for id in &ids {
        q = q.bind(id.to_string());
    }
    q.execute(&mut *tx).await?;
    let select = format!(
        "SELECT d.id AS delivery, d.listener_id, l.callback, l.secret, {} \
         FROM hub_deliveries d JOIN hub_events e ON e.seq = d.event_seq \
         JOIN hub_listeners l ON l.id = d.listener_id WHERE d.id IN ({}) ORDER BY e.seq",
        prefixed("e.", outbox::COLUMNS),
        backend.in_list(ids.len(), 1)
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(select));
    for id in &ids {
        q = q.bind(id.to_string());
    }
    let rows = q.fetch_all(&mut *tx).await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("delivery")?;
            Ok(Claimed {
                attempt: attempts.get(&id).copied().unwrap_or(1),
                id,
                listener: r.try_get("listener_id")?,
                callback: r.try_get("callback")?,
                secret: r.try_get("secret")?,
                event: outbox::from_row(r)?,
            })
        })
        .collect()
}

fn prefixed(prefix: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{prefix}{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How sending one claimed delivery went.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The listener answered 2xx.
    Delivered,
    /// It did not (the status, or why no answer came).
    Failed(String),
}

/// Records outcomes: a delivered delivery goes (with its event once no listener still needs
/// it); a failed one is due again after its backoff, or dead after `policy.max_attempts`.
/// A node whose lease expired and was claimed again changes nothing (the attempt fences it).
pub async fn record(
    db: &Db,
    now: i64,
    policy: &Policy,
    outcomes: &[(Claimed, Outcome)],
) -> DeskResult<()> {
    let backend = db.backend;
    let mut tx = db.begin_write().await?;
    let mut delivered = Vec::new();
    let mut done: Vec<&str> = Vec::new();
    for (claimed, outcome) in outcomes {
        match outcome {
            Outcome::Delivered => {
                done.push(&claimed.id);
                delivered.push(claimed.event.seq);
            }
            Outcome::Failed(error) => {
                let dead = claimed.attempt >= i64::from(policy.max_attempts);
                let status = if dead { DEAD } else { PENDING };
                sqlx::query(
                    "UPDATE hub_deliveries SET status = $1, next_at = $2, lease_until = NULL, \
                     last_error = $3, updated_at = $4 WHERE id = $5 AND attempts = $6",
                )
                .bind(status)
                .bind(now + policy.backoff_ms(claimed.attempt))
                .bind(error.chars().take(500).collect::<String>())
                .bind(now)
                .bind(claimed.id.clone())
                .bind(claimed.attempt)
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    for chunk in done.chunks(backend.chunk_rows(500, 1)) {
        let sql = format!(
            "DELETE FROM hub_deliveries WHERE id IN ({})",
            backend.in_list(chunk.len(), 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *tx).await?;
    }
    outbox::prune(&mut tx, backend, Some(&delivered)).await?;
    tx.commit().await?;
    Ok(())
}

/// A delivery whose last attempt failed.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// The dead letter's id (what replay takes).
    pub id: String,
    /// The listener.
    pub listener: String,
    /// Its callback.
    pub callback: String,
    /// The TMF `eventId`.
    pub event_id: String,
    /// The TMF `eventType`.
    pub event_type: String,
    /// The order.
    pub order_id: String,
    /// Attempts made.
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the last attempt failed (ms since the epoch).
    pub failed_at: i64,
    /// Later events of the same order for the same listener, waiting behind this one.
    pub waiting_behind: i64,
}

/// Dead letters, oldest event first (at most `limit`).
pub async fn dead_letters(db: &Db, limit: i64) -> DeskResult<Vec<DeadLetter>> {
    let rows = sqlx::query(
        "SELECT d.id, d.listener_id, l.callback, e.id AS event_id, e.event_type, d.order_id, \
         d.attempts, d.last_error, d.updated_at, \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM hub_deliveries w WHERE w.listener_id = d.listener_id \
          AND w.order_id = d.order_id AND w.event_seq > d.event_seq) AS waiting \
         FROM hub_deliveries d JOIN hub_events e ON e.seq = d.event_seq \
         JOIN hub_listeners l ON l.id = d.listener_id \
         WHERE d.status = 'dead' ORDER BY d.event_seq LIMIT $1",
    )
    .bind(limit.clamp(1, 500))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DeadLetter {
                id: r.try_get("id")?,
                listener: r.try_get("listener_id")?,
                callback: r.try_get("callback")?,
                event_id: r.try_get("event_id")?,
                event_type: r.try_get("event_type")?,
                order_id: r.try_get("order_id")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                failed_at: r.try_get("updated_at")?,
                waiting_behind: r.try_get("waiting")?,
            })
        })
        .collect()
}

/// Puts a dead letter (`Some(id)`) or all of them back in the queue with a fresh set of
/// attempts, due now; the events waiting behind each follow once it is delivered. Answers
/// how many; replaying an id that is not a dead letter is not found.
pub async fn replay(db: &Db, id: Option<&str>, now: i64) -> DeskResult<u64> {
    let set = "UPDATE hub_deliveries SET status = 'pending', attempts = 0, next_at = $1, \
               lease_until = NULL, updated_at = $1 WHERE status = 'dead'";
    let done = match id {
        Some(id) => {
            let sql = format!("{set} AND id = $2");
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(now)
                .bind(id.to_string())
                .execute(&db.pool)
                .await?;
            if done.rows_affected() == 0 {
                return Err(DeskError::not_found("dead letter", id));
            }
            done
        }
        None => sqlx::query(set).bind(now).execute(&db.pool).await?,
    };
    Ok(done.rows_affected())
}

/// Drops every delivery owed to a listener being removed, and the events only it needed.
pub(crate) async fn forget_listener(
    conn: &mut AnyConnection,
    backend: Backend,
    listener: &str,
) -> DeskResult<()> {
    sqlx::query("DELETE FROM hub_deliveries WHERE listener_id = $1")
        .bind(listener.to_string())
        .execute(&mut *conn)
        .await?;
    outbox::prune(conn, backend, None).await
}

/// How many deliveries are pending and dead (for metrics and tests).
pub async fn backlog(db: &Db) -> DeskResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT) AS p, \
         CAST(COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) AS d \
         FROM hub_deliveries",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok((row.try_get("p")?, row.try_get("d")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = Policy {
            max_attempts: 5,
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
        };
        let waits: Vec<i64> = (1..=6).map(|a| p.backoff_ms(a)).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_ms(1000), 1000, "no overflow");
    }
}
