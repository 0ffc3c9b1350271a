//! l2c-orders: the order desk's domain. Requesters place orders for their customer account;
//! each order is validated against the catalog and the inventory, priced, and stored with the
//! start of its workflow in one transaction; the engine's listener rolls the workflow's
//! progress up into TMF622 states of the order, its items and the running products.
//!
//! The crate's door is [`Orders`], the context every operation takes (database, engine,
//! catalog, clock, settings), built once by the application after the engine.
//!
//! - [`state`]: the TMF622 states and the one table of allowed transitions.
//! - [`place`]: placing an order, with idempotency keys; [`intake`]: their group commit.
//! - [`payload`]: the typed input an order's workflows receive.
//! - [`rollup`]: the engine listener that moves orders, items and products with workflows;
//!   [`started`]: what a started item workflow changes in the inventory.
//! - [`cancel`]: cancellation through assessingCancellation and pendingCancellation.
//! - [`model`]: requests and views; [`store`]: the order tables.
//! - [`inventory`]: the running products; [`accounts`]: customer and billing accounts;
//!   [`users`]: users, roles and API tokens.
//! - [`error`]: the desk's one error type (shared by l2c-invoicing).

pub mod accounts;
pub mod cancel;
pub mod error;
pub mod intake;
pub mod inventory;
pub mod model;
pub mod payload;
pub mod place;
pub mod rollup;
pub mod started;
pub mod state;
pub mod store;
pub mod users;

use chrono::NaiveDate;
use error::{DeskError, DeskResult};
use l2c_catalog::Catalog;
use l2c_engine::clock::Clock;
use l2c_engine::db::Db;
use l2c_engine::Engine;
use model::{OrderView, TimelineEntry};
use rust_decimal::Decimal;
use std::sync::Arc;
use users::{Role, User};

/// The order desk's rules that settings may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSettings {
    /// Orders whose monthly recurring value exceeds this (in the order's currency) need
    /// commercial approval.
    pub commercial_approval_threshold: Decimal,
}

impl Default for OrderSettings {
    fn default() -> Self {
        OrderSettings {
            commercial_approval_threshold: Decimal::from(1000),
        }
    }
}

/// What order operations need: the database, the engine that runs the workflows, the catalog
/// that prices items, the clock and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Orders {
    /// The database.
    pub db: Db,
    /// The workflow engine.
    pub engine: Engine,
    /// The product catalog.
    pub catalog: Arc<Catalog>,
    /// The clock (the sandbox's in tests and demos).
    pub clock: Arc<dyn Clock>,
    /// The desk's rules.
    pub settings: Arc<OrderSettings>,
    intake: intake::Intake,
}

impl Orders {
    /// The order desk on these parts; starts the task that writes placed orders, so it must
    /// be called inside a Tokio runtime.
    pub fn start(
        db: Db,
        engine: Engine,
        catalog: Arc<Catalog>,
        clock: Arc<dyn Clock>,
        settings: OrderSettings,
    ) -> Orders {
        let (intake, writer) = intake::channel();
        let orders = Orders {
            db,
            engine,
            catalog,
            clock,
            settings: Arc::new(settings),
            intake,
        };
        intake::start(orders.clone(), writer);
        orders
    }

    /// Now, in milliseconds since the epoch, on the desk's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Today's date (UTC) on the desk's clock.
    pub fn today(&self) -> NaiveDate {
        self.clock.now().date_naive()
    }
}

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
    for h in ctx
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

/// The crate's embedded migrations for `backend` (`migrations/<backend>/orders/`; the
/// application applies them together with every other crate's).
pub fn migrations(backend: l2c_engine::db::Backend) -> Vec<sqlx::migrate::Migration> {
    let migrator = match backend {
        l2c_engine::db::Backend::Sqlite => sqlx::migrate!("../migrations/sqlite/orders"),
        l2c_engine::db::Backend::Postgres => sqlx::migrate!("../migrations/postgres/orders"),
    };
    migrator.iter().cloned().collect()
}
