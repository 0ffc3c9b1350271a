//! Moves orders, items and the product inventory as their workflows move: the engine's
//! [`Listener`], called inside the engine's own transaction so nothing is missed or applied
//! twice.

use super::place::business_key_order;
use super::started;
use super::state::{roll_up, ItemState, OrderState};
use super::store::{item_states, lock_state, set_item_state, transition};
use crate::error::{DeskError, DeskResult};
use crate::inventory::{self, status, NewProduct};
use futures::future::BoxFuture;
use l2c_engine::clock::Clock;
use l2c_engine::db::Backend;
use l2c_engine::runtime::{Change, InstanceChange, Listener};
use l2c_engine::EngineError;
use serde_json::Value;
use sqlx::AnyConnection;
use std::sync::Arc;

/// The actor recorded for state changes the workflows cause.
pub const SYSTEM_ACTOR: &str = "l2c";

/// The order layer's engine listener.
pub struct OrderListener {
    backend: Backend,
    clock: Arc<dyn Clock>,
}

impl OrderListener {
    /// A listener for a database of this backend, on this clock.
    pub fn new(backend: Backend, clock: Arc<dyn Clock>) -> OrderListener {
        OrderListener { backend, clock }
    }
}

impl Listener for OrderListener {
    fn on_changes<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
        changes: &'c [InstanceChange],
    ) -> BoxFuture<'c, l2c_engine::Result<()>> {
        Box::pin(async move {
            let now = self.clock.now_ms();
            // Item workflows starting (many per worker transaction) go in bulk first; they
            // touch only their own items, products and orders' first move.
            let starts: Vec<&InstanceChange> = changes
                .iter()
                .filter(|c| started::is_item_start(c))
                .collect();
            started::apply(conn, self.backend, now, &starts)
                .await
                .map_err(|e| listener_error(None, e))?;
            for change in changes.iter().filter(|c| !started::is_item_start(c)) {
                let Some(order_id) = change.business_key.as_deref().and_then(business_key_order)
                else {
                    continue;
                };
                let step = Apply {
                    conn: &mut *conn,
                    backend: self.backend,
                    now,
                    order_id,
                    change,
                };
                let result = if change.parent_id.is_none() {
                    step.order().await
                } else {
                    step.item().await
                };
                result.map_err(|e| listener_error(Some(order_id), e))?;
            }
            Ok(())
        })
    }
}

/// The product an `add` item's workflow creates, from the item's input.
pub(super) fn new_product<'v>(input: &'v Value, order_id: &'v str) -> DeskResult<NewProduct<'v>> {
    let number = |field: &str| -> DeskResult<u32> {
        input
            .get(field)
            .and_then(Value::as_u64)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| DeskError::Internal(format!("item input has no {field}")))
    };
    Ok(NewProduct {
        id: input
            .pointer("/product/id")
            .and_then(Value::as_str)
            .ok_or_else(|| DeskError::Internal("item input has no product id".into()))?,
        customer_account: item_text(input, "customer_account")?,
        billing_account: item_text(input, "billing_account")?,
        offering: item_text(input, "offering")?,
        version: number("version")?,
        quantity: number("quantity")?,
        characteristics: input
            .get("characteristics")
            .ok_or_else(|| DeskError::Internal("item input has no characteristics".into()))?,
        order_id,
    })
}

/// The engine's error for a change the order records refuse (a database error stays one, so
/// the engine can tell a busy database from a real refusal).
fn listener_error(order_id: Option<&str>, e: DeskError) -> EngineError {
    match e {
        DeskError::Database(db) => EngineError::Database(db),
        DeskError::Engine(e) => e,
        other => match order_id {
            Some(id) => EngineError::Listener(format!("order {id}: {other}")),
            None => EngineError::Listener(other.to_string()),
        },
    }
}

struct Apply<'a> {
    conn: &'a mut AnyConnection,
    backend: Backend,
    now: i64,
    order_id: &'a str,
    change: &'a InstanceChange,
}

/// A text field of an item workflow's input.
pub(super) fn item_text<'v>(input: &'v Value, field: &str) -> DeskResult<&'v str> {
    input
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| DeskError::Internal(format!("item input has no {field}")))
}

impl Apply<'_> {
    async fn move_order(
        &mut self,
        to: OrderState,
        actor: Option<&str>,
        reason: Option<&str>,
    ) -> DeskResult<()> {
        let from = lock_state(self.conn, self.backend, self.order_id).await?;
        match from {
            Some(from) if from == to => Ok(()),
            Some(from) if from.can_become(to) => {
                let actor = actor.or(Some(SYSTEM_ACTOR));
                transition(
                    self.conn,
                    self.backend,
                    self.order_id,
                    to,
                    actor,
                    reason,
                    self.now,
                )
                .await?;
                Ok(())
            }
            Some(from) => {
                tracing::warn!(order = self.order_id, %from, %to, "workflow change does not fit the order's state; left as is");
                Ok(())
            }
            None => Err(DeskError::not_found("order", self.order_id)),
        }
    }

    async fn order(mut self) -> DeskResult<()> {
        match &self.change.change {
            Change::Started => Ok(()),
            Change::Compensating { reason, actor, .. } => {
                sqlx::query("UPDATE orders SET reason = $1, decided_by = $2 WHERE id = $3")
                    .bind(reason.clone())
                    .bind(actor.clone())
                    .bind(self.order_id.to_string())
                    .execute(&mut *self.conn)
                    .await?;
                Ok(())
            }
            Change::Ended { status } => self.order_ended(status).await,
        }
    }

    /// Why the order's workflow stopped, and who decided (set when it began compensating).
    async fn decision(&mut self) -> DeskResult<(Option<String>, Option<String>)> {
        let row = sqlx::query("SELECT reason, decided_by FROM orders WHERE id = $1")
            .bind(self.order_id.to_string())
            .fetch_one(&mut *self.conn)
            .await?;
        Ok((
            sqlx::Row::try_get(&row, "reason")?,
            sqlx::Row::try_get(&row, "decided_by")?,
        ))
    }

    async fn order_ended(&mut self, status: &str) -> DeskResult<()> {
        let (reason, actor) = self.decision().await?;
        let (reason, actor) = (reason.as_deref(), actor.as_deref());
        match status {
            "completed" => {
                let states = item_states(self.conn, self.order_id).await?;
                let Some(to) = roll_up(&states) else {
                    return Err(DeskError::Internal(
                        "order workflow ended with open items".into(),
                    ));
                };
                self.move_order(OrderState::InProgress, None, None).await?;
                self.move_order(to, None, None).await
            }
            "rejected" => {
                self.cancel_open_items().await?;
                self.move_order(OrderState::Rejected, actor, reason).await
            }
            "cancelled" => {
                self.cancel_open_items().await?;
                // Items still compensating (releasing a port, removing billing) keep the
                // order pendingCancellation; the last of them to end cancels it.
                if self.items_final().await? {
                    self.move_order(OrderState::Cancelled, actor, reason)
                        .await?;
                }
                Ok(())
            }
            _ => {
                self.cancel_open_items().await?;
                self.move_order(OrderState::InProgress, None, None).await?;
                self.move_order(OrderState::Failed, None, reason).await
            }
        }
    }

    async fn items_final(&mut self) -> DeskResult<bool> {
        let states = item_states(self.conn, self.order_id).await?;
        Ok(states.iter().all(|s| s.is_final()))
    }

    /// Cancels an order waiting in pendingCancellation once its last item has ended.
    async fn finish_cancellation(&mut self) -> DeskResult<()> {
        let state = lock_state(self.conn, self.backend, self.order_id).await?;
        if state != Some(OrderState::PendingCancellation) || !self.items_final().await? {
            return Ok(());
        }
        let (reason, actor) = self.decision().await?;
        self.move_order(OrderState::Cancelled, actor.as_deref(), reason.as_deref())
            .await
    }

    async fn cancel_open_items(&mut self) -> DeskResult<()> {
        sqlx::query(
            "UPDATE order_items SET state = 'cancelled' WHERE order_id = $1 AND state = 'acknowledged'",
        )
        .bind(self.order_id.to_string())
        .execute(&mut *self.conn)
        .await?;
        Ok(())
    }

    async fn item(mut self) -> DeskResult<()> {
        let input = self.change.input.clone();
        let item_id = item_text(&input, "item_id")?;
        let product_id = input
            .pointer("/product/id")
            .and_then(Value::as_str)
            .ok_or_else(|| DeskError::Internal("item input has no product id".into()))?;
        let action = item_text(&input, "action")?;
        match &self.change.change {
            // Applied in bulk for the whole transaction before this loop (started::apply).
            Change::Started => Ok(()),
            Change::Compensating { reason, .. } => {
                sqlx::query(
                    "UPDATE order_items SET error = $1 WHERE order_id = $2 AND item_id = $3",
                )
                .bind(reason.clone())
                .bind(self.order_id.to_string())
                .bind(item_id.to_string())
                .execute(&mut *self.conn)
                .await?;
                Ok(())
            }
            Change::Ended { status } => {
                // The order's row first: a cancellation assessing this order at the same
                // moment either sees this item's end or waits for it (PostgreSQL).
                lock_state(self.conn, self.backend, self.order_id).await?;
                let to = match status.as_str() {
                    "completed" => ItemState::Completed,
                    "cancelled" => ItemState::Cancelled,
                    _ => ItemState::Failed,
                };
                set_item_state(self.conn, self.order_id, item_id, to, None).await?;
                self.apply_to_inventory(action, to, product_id, &input)
                    .await?;
                self.finish_cancellation().await
            }
        }
    }

    async fn apply_to_inventory(
        &mut self,
        action: &str,
        outcome: ItemState,
        product_id: &str,
        input: &Value,
    ) -> DeskResult<()> {
        let now = self.now;
        match (action, outcome) {
            ("add", ItemState::Completed) => {
                inventory::set_status(self.conn, product_id, status::ACTIVE, now).await
            }
            ("add", _) => {
                inventory::set_status(self.conn, product_id, status::TERMINATED, now).await
            }
            ("modify", ItemState::Completed) => {
                let empty = Value::Object(Default::default());
                let changes = input.get("characteristics").unwrap_or(&empty);
                inventory::modify(self.conn, product_id, changes, now).await
            }
            ("delete", ItemState::Completed) => {
                inventory::set_status(self.conn, product_id, status::TERMINATED, now).await
            }
            _ => Ok(()),
        }
    }
}
