//! Orders: placing (validation, pricing, storage and workflow start in one transaction), the
//! TMF622 lifecycle, cancellation, and the views requesters and the order desk read.
//!
//! - [`state`]: the TMF622 states and the one table of allowed transitions.
//! - [`place`]: placing an order, with idempotency keys; [`intake`]: their group commit.
//! - [`rollup`]: the engine listener that moves orders, items and products with workflows.
//! - [`cancel`]: cancellation through assessingCancellation and pendingCancellation.
//! - [`store`]: the tables.

pub mod cancel;
pub mod intake;
pub mod model;
pub mod place;
pub mod rollup;
pub mod started;
pub mod state;
pub mod store;

use crate::app::App;
use crate::auth::{Role, User};
use crate::error::{AppError, AppResult};
use model::{OrderView, TimelineEntry};

/// The order, if `user` may see it: requesters see their account's orders, the order desk
/// (admins) and the people working its tasks (approvers, engineers) and finance see all.
/// Anything else is reported as not found, so ids of other accounts' orders leak nothing.
pub async fn visible(app: &App, user: &User, order_id: &str) -> AppResult<OrderView> {
    let mut conn = app.db.pool.acquire().await?;
    let order = store::get(&mut conn, order_id).await?;
    match order {
        Some(o) if may_see(user, &o.customer_account) => Ok(o),
        _ => Err(AppError::not_found("order", order_id)),
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
pub async fn list(app: &App, user: &User, limit: i64) -> AppResult<Vec<OrderView>> {
    let mut conn = app.db.pool.acquire().await?;
    let account = user.account_scope()?;
    store::list(&mut conn, account, limit.clamp(1, 500)).await
}

/// The order's timeline: its state changes and its workflows' history, oldest first.
pub async fn timeline(app: &App, order_id: &str) -> AppResult<Vec<TimelineEntry>> {
    let mut conn = app.db.pool.acquire().await?;
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
    for h in app
        .engine
        .history_by_key(&place::business_key(order_id))
        .await?
    {
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
