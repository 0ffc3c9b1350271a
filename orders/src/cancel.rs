//! Cancelling an order the TMF622 way: assessingCancellation, then pendingCancellation while
//! the workflow stops and compensates, then cancelled — or back where it was when an item has
//! already been delivered (the point of no return).

use super::state::{ItemState, OrderState};
use super::store::{item_states, lock_state, transition};
use crate::context::Orders;
use crate::error::{DeskError, DeskResult};
use crate::users::User;
use sqlx::AnyConnection;

/// How a cancellation request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancellation {
    /// Accepted: the order is pendingCancellation (or already cancelled).
    Accepted,
    /// Refused after assessment; the order went back to this state.
    Refused(String),
}

/// Requests cancellation of an order the caller may see (see [`crate::view::visible`]).
pub async fn cancel(
    ctx: &Orders,
    user: &User,
    order_id: &str,
    reason: &str,
) -> DeskResult<Cancellation> {
    // Visibility first: an order the caller may not see is not found, whatever they sent.
    crate::view::visible(ctx, user, order_id).await?;
    if !crate::shapes::TEXT.fits(reason) {
        return Err(DeskError::field(
            "reason",
            "required",
            format!(
                "a cancellation needs a reason: {}",
                crate::shapes::TEXT.says
            ),
        ));
    }
    let reason = reason.trim_matches(|c: char| c.is_ascii_whitespace());
    let outcome = l2c_engine::runtime::retry(|| async {
        let mut tx = ctx.db.begin_write().await?;
        let outcome = assess(ctx, &mut tx, user, order_id, reason).await?;
        tx.commit().await?;
        Ok::<_, DeskError>(outcome)
    })
    .await?;
    ctx.engine.wake();
    Ok(outcome)
}

async fn assess(
    ctx: &Orders,
    tx: &mut AnyConnection,
    user: &User,
    order_id: &str,
    reason: &str,
) -> DeskResult<Cancellation> {
    let backend = ctx.db.backend;
    let now = ctx.now_ms();
    let state = lock_state(tx, backend, order_id)
        .await?
        .ok_or_else(|| DeskError::not_found("order", order_id))?;
    if !state.can_become(OrderState::AssessingCancellation) {
        return Err(DeskError::Conflict(format!(
            "order {order_id} is {state}; only an acknowledged, inProgress, pending or held order can be cancelled"
        )));
    }
    let actor = Some(user.name.as_str());
    transition(
        tx,
        backend,
        order_id,
        OrderState::AssessingCancellation,
        actor,
        Some(reason),
        now,
    )
    .await?;
    let delivered = item_states(tx, order_id)
        .await?
        .iter()
        .filter(|s| **s == ItemState::Completed)
        .count();
    if delivered > 0 {
        let why = format!("{delivered} item(s) already delivered: past the point of no return");
        transition(tx, backend, order_id, state, actor, Some(&why), now).await?;
        return Ok(Cancellation::Refused(why));
    }
    transition(
        tx,
        backend,
        order_id,
        OrderState::PendingCancellation,
        actor,
        Some(reason),
        now,
    )
    .await?;
    let instance = super::store::instance_id(tx, order_id)
        .await?
        .ok_or_else(|| DeskError::Internal(format!("order {order_id} has no workflow")))?;
    ctx.engine
        .cancel_in(tx, &instance, &user.name, reason)
        .await?;
    Ok(Cancellation::Accepted)
}
