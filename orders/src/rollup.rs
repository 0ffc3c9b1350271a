//! Moves orders, items and the product inventory as their workflows move: the engine's
//! [`Listener`], called inside the engine's own transaction so nothing is missed or applied
//! twice.

use super::started;
use super::state::{roll_up, ItemState, OrderState};
use super::store::{
    cancel_open_items, item_states, lock_state, record_decision, set_item_error, set_item_state,
    transition,
};
use crate::error::{DeskError, DeskResult};
use crate::inventory::{self, status, NewProduct};
use crate::payload::business_key_order;
use crate::payload::{self, ItemInput};
use futures::future::BoxFuture;
use l2c_catalog::OrderAction;
use l2c_engine::clock::Clock;
use l2c_engine::db::Backend;
use l2c_engine::runtime::InstanceStatus;
use l2c_engine::runtime::{Change, InstanceChange, Listener};
use l2c_engine::EngineError;
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
pub(super) fn new_product(item: &ItemInput) -> NewProduct<'_> {
    NewProduct {
        id: &item.product.id,
        customer_account: &item.customer_account,
        billing_account: &item.billing_account,
        offering: &item.offering,
        version: item.version,
        quantity: item.quantity,
        characteristics: &item.characteristics,
        order_id: &item.order_id,
    }
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
                record_decision(self.conn, self.order_id, reason, actor.as_deref()).await
            }
            Change::Ended { .. } => self.order_ended(self.change.status()).await,
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

    async fn order_ended(&mut self, status: Option<InstanceStatus>) -> DeskResult<()> {
        let (reason, actor) = self.decision().await?;
        let (reason, actor) = (reason.as_deref(), actor.as_deref());
        match status {
            Some(InstanceStatus::Completed) => {
                let states = item_states(self.conn, self.order_id).await?;
                let Some(to) = roll_up(&states) else {
                    return Err(DeskError::Internal(
                        "order workflow ended with open items".into(),
                    ));
                };
                self.move_order(OrderState::InProgress, None, None).await?;
                self.move_order(to, None, None).await
            }
            Some(InstanceStatus::Rejected) => {
                self.cancel_open_items().await?;
                self.move_order(OrderState::Rejected, actor, reason).await
            }
            Some(InstanceStatus::Cancelled) => {
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
        cancel_open_items(self.conn, self.order_id).await
    }

    async fn item(mut self) -> DeskResult<()> {
        let item: ItemInput = payload::read(&self.change.input)?;
        let item_id = item.item_id.as_str();
        match &self.change.change {
            // Applied in bulk for the whole transaction before this loop (started::apply).
            Change::Started => Ok(()),
            Change::Compensating { reason, .. } => {
                set_item_error(self.conn, self.order_id, item_id, reason).await
            }
            Change::Ended { .. } => {
                // The order's row first: a cancellation assessing this order at the same
                // moment either sees this item's end or waits for it (PostgreSQL).
                let order_state = lock_state(self.conn, self.backend, self.order_id).await?;
                let to = match self.change.status() {
                    Some(InstanceStatus::Completed) => ItemState::Completed,
                    Some(InstanceStatus::Cancelled) => ItemState::Cancelled,
                    _ => ItemState::Failed,
                };
                let moved = set_item_state(self.conn, self.order_id, item_id, to, None).await?;
                if let (true, Some(state)) = (moved, order_state) {
                    crate::hub::outbox::item_changed(
                        self.conn,
                        self.backend,
                        self.order_id,
                        state,
                        item_id,
                        to.as_str(),
                        self.now,
                    )
                    .await?;
                }
                self.apply_to_inventory(&item, to).await?;
                self.finish_cancellation().await
            }
        }
    }

    async fn apply_to_inventory(&mut self, item: &ItemInput, outcome: ItemState) -> DeskResult<()> {
        let (now, product_id) = (self.now, item.product.id.as_str());
        match (item.action, outcome) {
            (OrderAction::Add, ItemState::Completed) => {
                inventory::set_status(self.conn, product_id, status::ACTIVE, now).await
            }
            (OrderAction::Add, _) => {
                inventory::set_status(self.conn, product_id, status::TERMINATED, now).await
            }
            (OrderAction::Modify, ItemState::Completed) => {
                inventory::modify(self.conn, product_id, &item.characteristics, now).await
            }
            (OrderAction::Delete, ItemState::Completed) => {
                inventory::set_status(self.conn, product_id, status::TERMINATED, now).await
            }
            _ => Ok(()),
        }
    }
}
