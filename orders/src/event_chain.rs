//! Orders' own histories as hash chains (`l2c_engine::chain`): each event carries its
//! position in its order's chain and the hash chaining it to the event before; the order row
//! keeps the count and the last hash. Appending reads them with the order's row locked
//! (PostgreSQL; SQLite's writer is alone), so no two transactions chain to the same event.
//! Appending also writes the events' notifications to the hub's outbox (`crate::hub`).

use crate::error::DeskResult;
use crate::hub::outbox;
use crate::store::NewEvent;
use futures::TryStreamExt;
use l2c_engine::chain::{self, Break, Chains};
use l2c_engine::db::{Backend, Db};
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const TABLE: &str = "order_events";

/// An order event's chained fields, in their fixed order: order, position, at (ms), from,
/// to, actor, reason.
pub fn event_fields(
    order_id: &str,
    position: i64,
    at: i64,
    from: Option<&str>,
    to: &str,
    actor: Option<&str>,
    reason: Option<&str>,
) -> [Value; 7] {
    [
        Value::String(order_id.to_string()),
        Value::from(position),
        Value::from(at),
        chain::text(from),
        Value::String(to.to_string()),
        chain::text(actor),
        chain::text(reason),
    ]
}

/// Each order's chain position and head, the rows locked for this transaction.
async fn heads(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent<'_>],
) -> DeskResult<HashMap<String, (i64, Option<String>)>> {
    let mut ids: Vec<&str> = events.iter().map(|e| e.order_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let select = "SELECT id, events_count, events_head FROM orders";
    let chunk = backend.chunk_rows(500, 1);
    let rows = l2c_engine::db::locked_rows_by(conn, backend, select, "id", &ids, chunk).await?;
    let mut heads = HashMap::with_capacity(rows.len());
    for row in rows {
        let count: i64 = row.try_get("events_count")?;
        heads.insert(row.try_get("id")?, (count, row.try_get("events_head")?));
    }
    Ok(heads)
}

/// Appends state changes to their orders' histories, chained, in a few multi-row
/// statements for any number, moves each order's head, and puts their events in the hub's
/// outbox. Callers hold the orders' rows (see `store::lock_state`; new orders are their
/// transaction's own).
pub async fn insert_events(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent<'_>],
    now: i64,
) -> DeskResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut heads = heads(conn, backend, events).await?;
    let chained: Vec<(i64, String)> = events
        .iter()
        .map(|e| {
            let (count, head) = heads.entry(e.order_id.to_string()).or_default();
            *count += 1;
            let fields = event_fields(
                e.order_id,
                *count,
                now,
                e.from.map(|s| s.as_str()),
                e.to.as_str(),
                e.actor,
                e.reason,
            );
            let hash = chain::link(head.as_deref(), &fields);
            *head = Some(hash.clone());
            (*count, hash)
        })
        .collect();
    let rows: Vec<_> = events.iter().zip(&chained).collect();
    for chunk in rows.chunks(backend.chunk_rows(200, 9)) {
        let sql = format!(
            "INSERT INTO order_events (id, order_id, at, from_state, to_state, actor, reason, \
             position, hash) VALUES {}",
            backend.values_list(chunk.len(), 9, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (e, (position, hash)) in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(e.order_id.to_string())
                .bind(now)
                .bind(e.from.map(|s| s.as_str()))
                .bind(e.to.as_str())
                .bind(e.actor.map(str::to_string))
                .bind(e.reason.map(str::to_string))
                .bind(*position)
                .bind(hash.clone());
        }
        q.execute(&mut *conn).await?;
    }
    write_heads(conn, backend, heads).await?;
    // The hub's outbox, in the same transaction: an event exists exactly when its change does.
    let changes: Vec<outbox::StateChange<'_>> = events
        .iter()
        .map(|e| outbox::StateChange {
            order_id: e.order_id,
            from: e.from,
            to: e.to,
            reason: e.reason,
        })
        .collect();
    outbox::state_changes(conn, backend, &changes, now).await
}

async fn write_heads(
    conn: &mut AnyConnection,
    backend: Backend,
    heads: HashMap<String, (i64, Option<String>)>,
) -> DeskResult<()> {
    let heads: Vec<(String, i64, String)> = heads
        .into_iter()
        .filter_map(|(id, (n, head))| head.map(|h| (id, n, h)))
        .collect();
    for chunk in heads.chunks(backend.chunk_rows(300, 3)) {
        // VALUES names its columns column1, column2, ... on both backends.
        let sql = format!(
            "UPDATE orders SET events_count = v.column2, events_head = v.column3 \
             FROM (VALUES {}) AS v WHERE orders.id = v.column1",
            backend.values_list(chunk.len(), 3, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, n, head) in chunk {
            q = q.bind(id.clone()).bind(*n).bind(head.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The first broken link of the chains of `orders` (every order: None).
pub async fn verify(db: &Db, orders: Option<&[String]>) -> DeskResult<Option<Break>> {
    let ids = orders.unwrap_or_default();
    let filter = |col: &str| match orders {
        Some(ids) => format!(" WHERE {col} IN ({})", db.backend.in_list(ids.len(), 1)),
        None => String::new(),
    };
    let sql = format!("SELECT id, events_head FROM orders{}", filter("id"));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id.clone());
    }
    let mut heads: HashMap<String, Option<String>> = HashMap::new();
    for row in q.fetch_all(&db.pool).await? {
        heads.insert(row.try_get("id")?, row.try_get("events_head")?);
    }
    // Events from before chaining have no position: they come first, in time order.
    let sql = format!(
        "SELECT id, order_id, position, at, from_state, to_state, actor, reason, hash \
         FROM order_events{} ORDER BY order_id, position IS NOT NULL, position, at, id",
        filter("order_id")
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        q = q.bind(id.clone());
    }
    let mut rows = q.fetch(&db.pool);
    let mut chains = Chains::new(TABLE, heads);
    while let Some(row) = rows.try_next().await? {
        let order: String = row.try_get("order_id")?;
        let position: Option<i64> = row.try_get("position")?;
        let fields = event_fields(
            &order,
            position.unwrap_or_default(),
            row.try_get("at")?,
            row.try_get::<Option<String>, _>("from_state")?.as_deref(),
            &row.try_get::<String, _>("to_state")?,
            row.try_get::<Option<String>, _>("actor")?.as_deref(),
            row.try_get::<Option<String>, _>("reason")?.as_deref(),
        );
        let hash: Option<String> = row.try_get("hash")?;
        let id: String = row.try_get("id")?;
        if !chains.row(&order, id, &fields, hash.as_deref()) {
            break;
        }
    }
    Ok(chains.finish())
}

/// An order's own events as stored, with their chain, for a third party to verify.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventChain {
    /// The order.
    pub order_id: String,
    /// Its stored head (the last event's hash).
    pub head: Option<String>,
    /// Its events in chain order, each field as it went into the hash.
    pub rows: Vec<ChainedEvent>,
}

/// An order event as stored.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainedEvent {
    /// Its id.
    pub id: String,
    /// Its place in the order's chain (none: from before chaining).
    pub position: Option<i64>,
    /// When (ms).
    pub at: i64,
    /// From which state.
    pub from_state: Option<String>,
    /// To which state.
    pub to_state: String,
    /// Who.
    pub actor: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// The chain hash.
    pub hash: Option<String>,
}

/// Order `id`'s event chain (None: no such order).
pub async fn chain_of(db: &Db, id: &str) -> DeskResult<Option<EventChain>> {
    let Some(head) = head_of(db, id).await? else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "SELECT id, position, at, from_state, to_state, actor, reason, hash FROM order_events \
         WHERE order_id = $1 ORDER BY position IS NOT NULL, position, at, id",
    )
    .bind(id.to_string())
    .fetch_all(&db.pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok(ChainedEvent {
                id: r.try_get("id")?,
                position: r.try_get("position")?,
                at: r.try_get("at")?,
                from_state: r.try_get("from_state")?,
                to_state: r.try_get("to_state")?,
                actor: r.try_get("actor")?,
                reason: r.try_get("reason")?,
                hash: r.try_get("hash")?,
            })
        })
        .collect::<DeskResult<_>>()?;
    Ok(Some(EventChain {
        order_id: id.to_string(),
        head,
        rows,
    }))
}

/// Order `id`'s events head (its last event's hash, if any); None: no such order.
pub async fn head_of(db: &Db, id: &str) -> DeskResult<Option<Option<String>>> {
    let row = sqlx::query("SELECT events_head FROM orders WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.map(|r| r.try_get("events_head")).transpose()?)
}
