//! What people see of orders: which orders a user may see (requesters their account's, the
//! desk all), and an order's timeline (its state changes and its workflows' history).

use crate::context::Orders;
use crate::error::{DeskError, DeskResult};
use crate::model::{OrderView, TimelineEntry};
use crate::payload::business_key;
use crate::store::{self, OrderFilter};
use crate::users::{Role, User};

/// The order, if `user` may see it: requesters see their account's orders, the order desk
/// (admins) and the people working its tasks (approvers, engineers) and finance see all.
/// Anything else is reported as not found, so ids of other accounts' orders leak nothing.
pub async fn visible(ctx: &Orders, user: &User, order_id: &str) -> DeskResult<OrderView> {
    let mut conn = ctx.db.pool.acquire().await?;
    let order = store::get(&mut conn, order_id).await?;
    match order {
        Some(o) if may_see(user, &o.customer_account) => Ok(o),
        _ => Err(DeskError::not_found("order", order_id)),
    }
}

/// Whether `user` may see things of `account`.
pub fn may_see(user: &User, account: &str) -> bool {
    match user.role {
        Role::Requester => user.account.as_deref() == Some(account),
        Role::Approver | Role::Engineer | Role::Finance | Role::Admin => true,
    }
}

/// Orders `user` may see, newest first.
pub async fn list(ctx: &Orders, user: &User, limit: i64) -> DeskResult<Vec<OrderView>> {
    let mut conn = ctx.db.pool.acquire().await?;
    let account = user.account_scope()?;
    store::list(&mut conn, account, limit.clamp(1, 500)).await
}

/// Orders `user` may see that match `filter`, newest first.
pub async fn search(ctx: &Orders, user: &User, filter: &OrderFilter) -> DeskResult<Vec<OrderView>> {
    let mut conn = ctx.db.pool.acquire().await?;
    let account = user.account_scope()?;
    store::search(&mut conn, account, filter).await
}

/// The order's timeline: its state changes and its workflows' history, oldest first.
pub async fn timeline(ctx: &Orders, order_id: &str) -> DeskResult<Vec<TimelineEntry>> {
    let mut conn = ctx.db.pool.acquire().await?;
    let mut entries: Vec<(i64, TimelineEntry)> = store::events(&mut conn, order_id)
        .await?
        .into_iter()
        .map(|e| {
            let entry = TimelineEntry {
                at: e.at,
                source: "order".into(),
                event: format!("state:{}", e.to),
                stage: None,
                actor: e.actor,
                data: e.reason.map(|r| serde_json::json!({ "reason": r })),
            };
            // A change opens with the order's new state and ends with its final one.
            let rank = if e.to.is_final() { i64::MAX } else { i64::MIN };
            (rank, entry)
        })
        .collect();
    let sources = store::item_instances(&mut conn, order_id).await?;
    drop(conn);
    for h in ctx.engine.history_by_key(&business_key(order_id)).await? {
        let source = sources
            .get(&h.instance_id)
            .map_or_else(|| "workflow".to_string(), |item| format!("item {item}"));
        let entry = TimelineEntry {
            at: h.at,
            source,
            event: h.event,
            stage: h.stage,
            actor: h.actor,
            data: h.data,
        };
        entries.push((h.seq, entry));
    }
    // Within one instant, an order's non-final states come before the engine's events (they
    // open the change) and its final state after them (the workflow's end closes it).
    entries.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(&b.0)));
    Ok(entries.into_iter().map(|(_, e)| e).collect())
}
