//! The order listener's hot path, batched: when a worker's transaction starts many item
//! workflows at once (one child per item of every order whose subflow began), their items
//! move to inProgress, their products are inserted pendingActive and their orders move to
//! inProgress in a handful of multi-row statements instead of eight statements per item.
//! [`super::rollup::OrderListener`] sends every item start here, one or many.

use super::rollup::SYSTEM_ACTOR;
use super::store::{items_in_progress, orders_in_progress};
use crate::error::{DeskError, DeskResult};
use crate::payload::business_key_order;
use crate::payload::{self, ItemInput};
use l2c_catalog::OrderAction;
use l2c_engine::db::Backend;
use l2c_engine::runtime::{Change, InstanceChange};
use sqlx::AnyConnection;
use std::collections::BTreeSet;

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
    let items: Vec<(&str, &str, &str)> = starts
        .iter()
        .map(|s| (s.order_id, s.item.item_id.as_str(), s.instance_id))
        .collect();
    items_in_progress(conn, backend, &items).await?;
    products_pending(conn, backend, now, &starts).await?;
    let orders: BTreeSet<&str> = starts.iter().map(|s| s.order_id).collect();
    orders_in_progress(conn, backend, now, &orders, SYSTEM_ACTOR).await
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
