//! The order listener's hot path, batched: when a worker's transaction starts many item
//! workflows at once (one child per item of every order whose subflow began), their items
//! move to inProgress, their products are inserted pendingActive and their orders move to
//! inProgress in a handful of multi-row statements instead of eight statements per item.
//! [`super::rollup::OrderListener`] sends every item start here, one or many.

use super::place::business_key_order;
use super::rollup::SYSTEM_ACTOR;
use super::state::OrderState;
use super::store::{insert_events, NewEvent};
use crate::error::{DeskError, DeskResult};
use crate::payload::{self, ItemInput};
use l2c_catalog::OrderAction;
use l2c_engine::db::Backend;
use l2c_engine::runtime::{Change, InstanceChange};
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};

/// Whether `change` is an item workflow starting (handled here, in bulk).
pub fn is_item_start(change: &InstanceChange) -> bool {
    change.parent_id.is_some()
        && change.change == Change::Started
        && change
            .business_key
            .as_deref()
            .and_then(business_key_order)
            .is_some()
}

struct Start<'a> {
    order_id: &'a str,
    instance_id: &'a str,
    item: ItemInput,
}

/// Applies every item start among `changes` (see [`is_item_start`]).
pub async fn apply(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    changes: &[&InstanceChange],
) -> DeskResult<()> {
    let mut starts = Vec::with_capacity(changes.len());
    for c in changes {
        let order_id = c
            .business_key
            .as_deref()
            .and_then(business_key_order)
            .ok_or_else(|| DeskError::Internal("item start without an order".into()))?;
        starts.push(Start {
            order_id,
            instance_id: &c.instance_id,
            item: payload::read(&c.input)?,
        });
    }
    if starts.is_empty() {
        return Ok(());
    }
    items_in_progress(conn, backend, &starts).await?;
    products_pending(conn, backend, now, &starts).await?;
    let orders: BTreeSet<&str> = starts.iter().map(|s| s.order_id).collect();
    orders_in_progress(conn, backend, now, &orders).await
}

/// Each item records its instance and, if still acknowledged, becomes inProgress.
async fn items_in_progress(
    conn: &mut AnyConnection,
    backend: Backend,
    starts: &[Start<'_>],
) -> DeskResult<()> {
    for chunk in starts.chunks(backend.chunk_rows(300, 3)) {
        let sql = format!(
            "WITH v (order_id, item_id, instance_id) AS (VALUES {}) \
             UPDATE order_items SET instance_id = v.instance_id, \
             state = CASE WHEN order_items.state = 'acknowledged' THEN 'inProgress' \
             ELSE order_items.state END \
             FROM v WHERE order_items.order_id = v.order_id AND order_items.item_id = v.item_id",
            backend.values_list(chunk.len(), 3, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for s in chunk {
            q = q
                .bind(s.order_id.to_string())
                .bind(s.item.item_id.clone())
                .bind(s.instance_id.to_string());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// An `add` item's product is inserted pendingActive (once).
async fn products_pending(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    starts: &[Start<'_>],
) -> DeskResult<()> {
    let products = starts
        .iter()
        .filter(|s| s.item.action == OrderAction::Add)
        .map(|s| super::rollup::new_product(&s.item))
        .collect::<Vec<_>>();
    crate::inventory::insert_pending(conn, backend, &products, now).await?;
    Ok(())
}

/// Orders whose state allows it become inProgress, with their state event; the rows are
/// locked in id order on PostgreSQL first.
async fn orders_in_progress(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    orders: &BTreeSet<&str>,
) -> DeskResult<()> {
    let ids: Vec<&str> = orders.iter().copied().collect();
    let mut from: BTreeMap<String, OrderState> = BTreeMap::new();
    for chunk in ids.chunks(backend.chunk_rows(500, 1)) {
        let sql = format!(
            "SELECT id, state FROM orders WHERE id IN ({}) ORDER BY id{}",
            backend.in_list(chunk.len(), 1),
            backend.lock_rows()
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for row in q.fetch_all(&mut *conn).await? {
            let state: String = row.try_get("state")?;
            let state: OrderState = state.parse().map_err(DeskError::Internal)?;
            if state != OrderState::InProgress && state.can_become(OrderState::InProgress) {
                from.insert(row.try_get("id")?, state);
            }
        }
    }
    let moving: Vec<(&String, &OrderState)> = from.iter().collect();
    for chunk in moving.chunks(backend.chunk_rows(500, 1)) {
        let sql = format!(
            "UPDATE orders SET state = 'inProgress', updated_at = {}, completed_at = NULL \
             WHERE id IN ({})",
            backend.param(1),
            backend.in_list(chunk.len(), 2)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
        for (id, _) in chunk {
            q = q.bind(id.to_string());
        }
        q.execute(&mut *conn).await?;
        let events: Vec<NewEvent<'_>> = chunk
            .iter()
            .map(|(id, state)| NewEvent {
                order_id: id,
                from: Some(**state),
                to: OrderState::InProgress,
                actor: Some(SYSTEM_ACTOR),
                reason: None,
            })
            .collect();
        insert_events(conn, backend, &events, now).await?;
    }
    Ok(())
}
