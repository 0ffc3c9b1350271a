//! Operating records: what the Monthly Operating Report needs that nothing else keeps (requests
//! per minute with their latency spread, 401 and 403 answers, failed sign-ins, and that a node
//! was up). A request only adds to counters in memory; [`spawn`] writes them in one short
//! transaction every few seconds (and once more at shutdown), so recording never waits on the
//! database on a request's path. Minutes are the app clock's, so a sandbox run's months have
//! their own records. Tables: `node_heartbeats`, `request_minutes`, `sign_in_failures`.

use l2c_engine::db::Db;
use l2c_orders::error::DeskResult;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Upper bounds (ms) of the latency buckets; a last bucket takes everything slower.
pub const LATENCY_BOUNDS_MS: [u64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/// Buckets in a latency histogram: one per bound and one beyond the last.
pub const BUCKETS: usize = LATENCY_BOUNDS_MS.len() + 1;

const MINUTE_MS: i64 = 60_000;

/// One node's requests in one minute.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MinuteCounts {
    /// API requests answered.
    pub requests: u64,
    /// 401 answers (API and pages).
    pub unauthorized: u64,
    /// 403 answers (API and pages).
    pub forbidden: u64,
    /// 5xx answers.
    pub server_errors: u64,
    /// Order requests refused for field problems (API and pages).
    pub order_refusals: u64,
    /// API requests per latency bucket ([`LATENCY_BOUNDS_MS`]).
    pub latency: [u64; BUCKETS],
}

impl MinuteCounts {
    fn add(&mut self, other: &MinuteCounts) {
        self.requests += other.requests;
        self.unauthorized += other.unauthorized;
        self.forbidden += other.forbidden;
        self.server_errors += other.server_errors;
        self.order_refusals += other.order_refusals;
        for (mine, theirs) in self.latency.iter_mut().zip(other.latency) {
            *mine += theirs;
        }
    }
}

#[derive(Default)]
struct Pending {
    minutes: BTreeMap<i64, MinuteCounts>,
    failures: Vec<(i64, String, String)>,
    beats: BTreeSet<i64>,
    spans: Vec<(i64, i64)>,
}

impl Pending {
    fn merge(&mut self, older: Pending) {
        for (minute, counts) in older.minutes {
            self.minutes.entry(minute).or_default().add(&counts);
        }
        self.failures.splice(0..0, older.failures);
        self.beats.extend(older.beats);
        self.spans.splice(0..0, older.spans);
    }
}

/// This node's records not yet written.
pub struct Recorder {
    node: String,
    pending: Mutex<Pending>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder({})", self.node)
    }
}

/// The minute `at_ms` falls in, as the epoch milliseconds it starts at.
pub fn minute_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(MINUTE_MS) * MINUTE_MS
}

/// The latency bucket of `elapsed`.
pub fn bucket_of(elapsed: Duration) -> usize {
    let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
    LATENCY_BOUNDS_MS
        .iter()
        .position(|bound| ms < *bound)
        .unwrap_or(LATENCY_BOUNDS_MS.len())
}

impl Recorder {
    /// A recorder for this process, named by a fresh id (a node is a process).
    pub fn new() -> Recorder {
        Recorder::named(format!("node-{}", uuid::Uuid::now_v7().simple()))
    }

    /// A recorder for the node `name`.
    pub fn named(name: impl Into<String>) -> Recorder {
        Recorder {
            node: name.into(),
            pending: Mutex::new(Pending::default()),
        }
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    fn pending(&self) -> MutexGuard<'_, Pending> {
        // A panic while holding the lock leaves only counters behind: keep counting.
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A request answered at `at_ms` with `status` after `elapsed`; `api` says whether it was
    /// an API request (latency and volume are the API's; 401/403/5xx count for pages too).
    pub fn request(&self, at_ms: i64, api: bool, status: u16, elapsed: Duration) {
        let mut pending = self.pending();
        let counts = pending.minutes.entry(minute_of(at_ms)).or_default();
        match status {
            401 => counts.unauthorized += 1,
            403 => counts.forbidden += 1,
            500..=599 => counts.server_errors += 1,
            _ => {}
        }
        if api {
            counts.requests += 1;
            counts.latency[bucket_of(elapsed)] += 1;
        }
    }

    /// A failed sign-in for `name` from `address`.
    pub fn sign_in_failure(&self, at_ms: i64, name: &str, address: &str) {
        let name: String = name.trim().chars().take(100).collect();
        self.pending()
            .failures
            .push((at_ms, name, address.to_string()));
    }

    /// An order request refused at `at_ms` for field problems.
    pub fn order_refusal(&self, at_ms: i64) {
        self.pending()
            .minutes
            .entry(minute_of(at_ms))
            .or_default()
            .order_refusals += 1;
    }

    /// The sandbox clock jumped from `from_ms` to `to_ms` with this node running: the minutes
    /// in between count as up.
    pub fn ran_through(&self, from_ms: i64, to_ms: i64) {
        if to_ms > from_ms {
            self.pending().spans.push((minute_of(from_ms), to_ms));
        }
    }

    /// Writes everything recorded so far, and that this node is up at `now_ms`, in one
    /// transaction; on failure the records stay pending for the next flush.
    pub async fn flush(&self, db: &Db, now_ms: i64) -> DeskResult<()> {
        let mut batch = std::mem::take(&mut *self.pending());
        batch.beats.insert(minute_of(now_ms));
        let written = self.write(db, &batch).await;
        if written.is_err() {
            let mut pending = self.pending();
            let newer = std::mem::take(&mut *pending);
            *pending = batch;
            pending.merge(newer);
        }
        written
    }

    async fn write(&self, db: &Db, batch: &Pending) -> DeskResult<()> {
        let mut tx = db.begin_write().await?;
        for minute in &batch.beats {
            sqlx::query(
                "INSERT INTO node_heartbeats (node, minute) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(self.node.clone())
            .bind(*minute)
            .execute(&mut *tx)
            .await?;
        }
        for (from, to) in &batch.spans {
            beats_between(&mut tx, &self.node, *from, *to).await?;
        }
        for (minute, counts) in &batch.minutes {
            let mut total = stored(&mut tx, &self.node, *minute).await?;
            total.add(counts);
            upsert(&mut tx, &self.node, *minute, &total).await?;
        }
        for (at, name, address) in &batch.failures {
            sqlx::query("INSERT INTO sign_in_failures (at, name, address) VALUES ($1, $2, $3)")
                .bind(*at)
                .bind(name.clone())
                .bind(address.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// A heartbeat for every minute of `node` from `from` (a minute) to before `to`, in one
/// statement: a six-month sandbox jump is a quarter of a million rows. (`WHERE true` tells
/// SQLite the `ON CONFLICT` belongs to the insert, not to a join.)
async fn beats_between(
    conn: &mut sqlx::AnyConnection,
    node: &str,
    from: i64,
    to: i64,
) -> DeskResult<()> {
    sqlx::query(
        "WITH RECURSIVE m (minute) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
         SELECT minute + 60000 FROM m WHERE minute + 60000 < $2) \
         INSERT INTO node_heartbeats (node, minute) SELECT $3, minute FROM m WHERE true \
         ON CONFLICT DO NOTHING",
    )
    .bind(from)
    .bind(to)
    .bind(node.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// What `node` has stored for `minute` already (only this node writes its own rows).
async fn stored(
    conn: &mut sqlx::AnyConnection,
    node: &str,
    minute: i64,
) -> DeskResult<MinuteCounts> {
    let row = sqlx::query(
        "SELECT requests, unauthorized, forbidden, server_errors, order_refusals, latency \
         FROM request_minutes \
         WHERE node = $1 AND minute = $2",
    )
    .bind(node.to_string())
    .bind(minute)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(MinuteCounts::default());
    };
    let count = |name: &str| -> DeskResult<u64> {
        Ok(u64::try_from(row.try_get::<i64, _>(name)?).unwrap_or_default())
    };
    let latency: String = row.try_get("latency")?;
    Ok(MinuteCounts {
        requests: count("requests")?,
        unauthorized: count("unauthorized")?,
        forbidden: count("forbidden")?,
        server_errors: count("server_errors")?,
        order_refusals: count("order_refusals")?,
        latency: histogram(&latency),
    })
}

/// A stored latency histogram; a malformed one (never written by l2c) reads as empty rather
/// than failing the flush that would repair it.
pub fn histogram(text: &str) -> [u64; BUCKETS] {
    let counts: Vec<u64> = serde_json::from_str(text).unwrap_or_default();
    let mut out = [0; BUCKETS];
    for (slot, n) in out.iter_mut().zip(counts) {
        *slot = n;
    }
    out
}

async fn upsert(
    conn: &mut sqlx::AnyConnection,
    node: &str,
    minute: i64,
    counts: &MinuteCounts,
) -> DeskResult<()> {
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    sqlx::query(
        "INSERT INTO request_minutes (node, minute, requests, unauthorized, forbidden, \
         server_errors, order_refusals, latency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (node, minute) DO UPDATE SET requests = excluded.requests, \
         unauthorized = excluded.unauthorized, forbidden = excluded.forbidden, \
         server_errors = excluded.server_errors, order_refusals = excluded.order_refusals, \
         latency = excluded.latency",
    )
    .bind(node.to_string())
    .bind(minute)
    .bind(int(counts.requests))
    .bind(int(counts.unauthorized))
    .bind(int(counts.forbidden))
    .bind(int(counts.server_errors))
    .bind(int(counts.order_refusals))
    .bind(serde_json::to_string(&counts.latency.to_vec())?)
    .execute(conn)
    .await?;
    Ok(())
}

/// How often a node writes its records.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// Writes `recorder`'s records every `every` with `now` as the clock; a failed write is
/// logged and retried with the next.
pub fn spawn(
    recorder: Arc<Recorder>,
    db: Db,
    now: impl Fn() -> i64 + Send + 'static,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = recorder.flush(&db, now()).await {
                tracing::warn!(error = %e, "operating records not written; kept for the next try");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_fall_in_the_bucket_below_their_bound() {
        assert_eq!(bucket_of(Duration::from_micros(300)), 0);
        assert_eq!(bucket_of(Duration::from_millis(1)), 1);
        assert_eq!(bucket_of(Duration::from_millis(49)), 5);
        assert_eq!(bucket_of(Duration::from_secs(9)), BUCKETS - 1);
    }

    #[test]
    fn requests_count_by_minute_and_class() {
        let r = Recorder::named("n1");
        r.request(61_000, true, 200, Duration::from_millis(3));
        r.request(119_999, true, 403, Duration::from_millis(3));
        r.request(120_000, false, 401, Duration::from_millis(3));
        let pending = r.pending();
        let first = &pending.minutes[&60_000];
        assert_eq!((first.requests, first.forbidden), (2, 1));
        assert_eq!(first.latency[2], 2);
        let second = &pending.minutes[&120_000];
        assert_eq!((second.requests, second.unauthorized), (0, 1));
    }

    #[test]
    fn minutes_before_1970_are_floored_not_truncated() {
        assert_eq!(minute_of(-1), -60_000);
        assert_eq!(minute_of(59_999), 0);
    }
}
