//! Reading and writing orders, their items and their state history.

use super::model::{ItemView, OrderEvent, OrderView};
use super::state::{ItemState, OrderState};
use crate::error::{DeskError, DeskResult};
use crate::hub::outbox;
use chrono::NaiveDate;
use l2c_catalog::{OrderAction, Quote, ValidItem};
use l2c_engine::clock::from_ms;
use l2c_engine::db::Backend;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An order about to be stored.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub(crate) id: String,
    pub(crate) requester: String,
    pub(crate) customer_account: String,
    pub(crate) billing_account: String,
    pub(crate) external_id: Option<String>,
    pub(crate) requested_completion_date: Option<NaiveDate>,
    pub(crate) notes: Option<String>,
    pub(crate) currency: String,
    pub(crate) one_time_total: String,
    pub(crate) monthly_total: String,
}

/// A validated, priced item about to be stored.
#[derive(Debug, Clone)]
pub struct NewItem {
    pub(crate) position: usize,
    pub(crate) item_id: String,
    pub(crate) action: OrderAction,
    pub(crate) valid: ValidItem,
    pub(crate) characteristics: Value,
    pub(crate) quote: Quote,
    pub(crate) workflow: String,
    pub(crate) product_id: String,
    /// The running product's characteristics (modify, delete).
    pub(crate) current: Option<Value>,
}

fn parse_state<T: std::str::FromStr<Err = String>>(s: &str) -> DeskResult<T> {
    s.parse().map_err(DeskError::Internal)
}

/// An order to insert: its row, its items, and the workflow instance already started for it.
pub struct OrderRows<'a> {
    /// The order.
    pub order: &'a NewOrder,
    /// Its items.
    pub items: &'a [NewItem],
    /// Its workflow instance.
    pub instance_id: &'a str,
}

/// Inserts orders in `acknowledged` with their items and their first state event, a few
/// multi-row statements for the whole batch.
pub async fn insert_orders(
    conn: &mut AnyConnection,
    backend: Backend,
    orders: &[OrderRows<'_>],
    now: i64,
) -> DeskResult<()> {
    for chunk in orders.chunks(backend.chunk_rows(200, 14)) {
        let sql = format!(
            "INSERT INTO orders (id, requester, customer_account_id, billing_account_id, \
             external_id, requested_completion_date, notes, state, currency, one_time_total, \
             monthly_total, instance_id, created_at, updated_at) VALUES {}",
            backend.values_list(chunk.len(), 14, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for r in chunk {
            let o = r.order;
            q = q
                .bind(o.id.clone())
                .bind(o.requester.clone())
                .bind(o.customer_account.clone())
                .bind(o.billing_account.clone())
                .bind(o.external_id.clone())
                .bind(o.requested_completion_date.map(|d| d.to_string()))
                .bind(o.notes.clone())
                .bind(OrderState::Acknowledged.as_str())
                .bind(o.currency.clone())
                .bind(o.one_time_total.clone())
                .bind(o.monthly_total.clone())
                .bind(r.instance_id.to_string())
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    let items: Vec<(&NewOrder, &NewItem)> = orders
        .iter()
        .flat_map(|r| r.items.iter().map(move |i| (r.order, i)))
        .collect();
    for chunk in items.chunks(backend.chunk_rows(200, 12)) {
        let sql = format!(
            "INSERT INTO order_items (order_id, item_id, position, action, offering, version, \
             quantity, characteristics, quote, workflow, product_id, state) VALUES {}",
            backend.values_list(chunk.len(), 12, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (order, item) in chunk {
            q = q
                .bind(order.id.clone())
                .bind(item.item_id.clone())
                .bind(item.position as i64)
                .bind(item.action.to_string())
                .bind(item.valid.offering.clone())
                .bind(i64::from(item.valid.version))
                .bind(i64::from(item.valid.quantity))
                .bind(item.characteristics.to_string())
                .bind(serde_json::to_string(&item.quote)?)
                .bind(item.workflow.clone())
                .bind(item.product_id.clone())
                .bind(ItemState::Acknowledged.as_str());
        }
        q.execute(&mut *conn).await?;
    }
    let events: Vec<NewEvent<'_>> = orders
        .iter()
        .map(|r| NewEvent {
            order_id: &r.order.id,
            from: None,
            to: OrderState::Acknowledged,
            actor: Some(&r.order.requester),
            reason: None,
        })
        .collect();
    insert_events(conn, backend, &events, now).await?;
    Ok(())
}

/// One state change of an order, to append to its own history.
pub struct NewEvent<'a> {
    /// The order.
    pub order_id: &'a str,
    /// From which state (none when placed).
    pub from: Option<OrderState>,
    /// To which state.
    pub to: OrderState,
    /// Who.
    pub actor: Option<&'a str>,
    /// Why.
    pub reason: Option<&'a str>,
}

/// Appends state changes to their orders' histories, and their events to the hub's outbox,
/// a few multi-row statements for any number. Callers hold the orders' rows (see
/// [`lock_state`]; new orders are their transaction's own).
pub async fn insert_events(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent<'_>],
    now: i64,
) -> DeskResult<()> {
    for chunk in events.chunks(backend.chunk_rows(200, 7)) {
        let sql = format!(
            "INSERT INTO order_events (id, order_id, at, from_state, to_state, actor, reason) \
             VALUES {}",
            backend.values_list(chunk.len(), 7, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(e.order_id.to_string())
                .bind(now)
                .bind(e.from.map(|s| s.as_str()))
                .bind(e.to.as_str())
                .bind(e.actor.map(str::to_string))
                .bind(e.reason.map(str::to_string));
        }
        q.execute(&mut *conn).await?;
    }
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
    outbox::state_changes(conn, backend, &changes, now).await?;
    Ok(())
}

/// The order's state, locked for this transaction on PostgreSQL (SQLite writers are already
/// serialized by `BEGIN IMMEDIATE`).
pub async fn lock_state(
    conn: &mut AnyConnection,
    backend: Backend,
    order_id: &str,
) -> DeskResult<Option<OrderState>> {
    let sql = format!(
        "SELECT state FROM orders WHERE id = $1{}",
        backend.lock_rows()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order_id.to_string())
        .fetch_optional(conn)
        .await?;
    row.map(|r| parse_state(&r.try_get::<String, _>("state")?))
        .transpose()
}

/// Moves an order to `to` if TMF622 allows it from where it is, recording the change.
pub async fn transition(
    conn: &mut AnyConnection,
    backend: Backend,
    order_id: &str,
    to: OrderState,
    actor: Option<&str>,
    reason: Option<&str>,
    now: i64,
) -> DeskResult<OrderState> {
    let from = lock_state(conn, backend, order_id)
        .await?
        .ok_or_else(|| DeskError::not_found("order", order_id))?;
    from.check(to).map_err(DeskError::Conflict)?;
    let completed_at = to.is_final().then_some(now);
    sqlx::query(
        "UPDATE orders SET state = $1, updated_at = $2, completed_at = $3, \
         reason = COALESCE($4, reason) WHERE id = $5",
    )
    .bind(to.as_str())
    .bind(now)
    .bind(completed_at)
    .bind(reason.map(str::to_string))
    .bind(order_id.to_string())
    .execute(&mut *conn)
    .await?;
    let event = NewEvent {
        order_id,
        from: Some(from),
        to,
        actor,
        reason,
    };
    insert_events(conn, backend, &[event], now).await?;
    Ok(from)
}

/// Sets an item's state (and its error), if the item may make that move.
pub async fn set_item_state(
    conn: &mut AnyConnection,
    order_id: &str,
    item_id: &str,
    to: ItemState,
    error: Option<&str>,
) -> DeskResult<bool> {
    let row = sqlx::query("SELECT state FROM order_items WHERE order_id = $1 AND item_id = $2")
        .bind(order_id.to_string())
        .bind(item_id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DeskError::not_found("order item", format!("{order_id}/{item_id}")))?;
    let from: ItemState = parse_state(&row.try_get::<String, _>("state")?)?;
    if !from.can_become(to) {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE order_items SET state = $1, error = COALESCE($2, error) \
         WHERE order_id = $3 AND item_id = $4",
    )
    .bind(to.as_str())
    .bind(error.map(str::to_string))
    .bind(order_id.to_string())
    .bind(item_id.to_string())
    .execute(conn)
    .await?;
    Ok(true)
}

/// Records why an order's workflow stopped and who decided (when it begins compensating).
pub async fn record_decision(
    conn: &mut AnyConnection,
    order_id: &str,
    reason: &str,
    actor: Option<&str>,
) -> DeskResult<()> {
    sqlx::query("UPDATE orders SET reason = $1, decided_by = $2 WHERE id = $3")
        .bind(reason.to_string())
        .bind(actor.map(str::to_string))
        .bind(order_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The items of an order that never started are cancelled with it.
pub async fn cancel_open_items(conn: &mut AnyConnection, order_id: &str) -> DeskResult<()> {
    sqlx::query(
        "UPDATE order_items SET state = 'cancelled' WHERE order_id = $1 AND state = 'acknowledged'",
    )
    .bind(order_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records why an item's workflow stopped.
pub async fn set_item_error(
    conn: &mut AnyConnection,
    order_id: &str,
    item_id: &str,
    error: &str,
) -> DeskResult<()> {
    sqlx::query("UPDATE order_items SET error = $1 WHERE order_id = $2 AND item_id = $3")
        .bind(error.to_string())
        .bind(order_id.to_string())
        .bind(item_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Each `(order, item, instance)` records its instance and, if still acknowledged, becomes
/// inProgress.
pub async fn items_in_progress(
    conn: &mut AnyConnection,
    backend: Backend,
    starts: &[(&str, &str, &str)],
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
        for (order_id, item_id, instance_id) in chunk {
            q = q
                .bind(order_id.to_string())
                .bind(item_id.to_string())
                .bind(instance_id.to_string());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Orders whose state allows it become inProgress, with their state event; the rows are
/// locked in id order on PostgreSQL first; `actor` is recorded as the events' actor.
pub async fn orders_in_progress(
    conn: &mut AnyConnection,
    backend: Backend,
    now: i64,
    orders: &BTreeSet<&str>,
    actor: &str,
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
                actor: Some(actor),
                reason: None,
            })
            .collect();
        insert_events(conn, backend, &events, now).await?;
    }
    Ok(())
}

/// The items' states, in position order.
pub async fn item_states(conn: &mut AnyConnection, order_id: &str) -> DeskResult<Vec<ItemState>> {
    let rows = sqlx::query("SELECT state FROM order_items WHERE order_id = $1 ORDER BY position")
        .bind(order_id.to_string())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| parse_state(&r.try_get::<String, _>("state")?))
        .collect()
}

const ORDER_COLUMNS: &str = "id, requester, customer_account_id, billing_account_id, external_id, \
    requested_completion_date, notes, state, reason, currency, one_time_total, monthly_total, \
    created_at, updated_at, completed_at";

fn order_from_row(r: &AnyRow) -> DeskResult<OrderView> {
    let date: Option<String> = r.try_get("requested_completion_date")?;
    Ok(OrderView {
        id: r.try_get("id")?,
        requester: r.try_get("requester")?,
        customer_account: r.try_get("customer_account_id")?,
        billing_account: r.try_get("billing_account_id")?,
        external_id: r.try_get("external_id")?,
        requested_completion_date: date.and_then(|d| d.parse().ok()),
        notes: r.try_get("notes")?,
        state: parse_state(&r.try_get::<String, _>("state")?)?,
        reason: r.try_get("reason")?,
        currency: r.try_get("currency")?,
        one_time_total: r.try_get("one_time_total")?,
        monthly_total: r.try_get("monthly_total")?,
        items: Vec::new(),
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
        completed_at: r.try_get::<Option<i64>, _>("completed_at")?.map(from_ms),
    })
}

fn item_from_row(r: &AnyRow) -> DeskResult<ItemView> {
    let action: String = r.try_get("action")?;
    let chars: String = r.try_get("characteristics")?;
    let quote: String = r.try_get("quote")?;
    let int = |name: &str| -> DeskResult<u32> {
        let v: i64 = r.try_get(name)?;
        u32::try_from(v).map_err(|e| DeskError::Internal(e.to_string()))
    };
    Ok(ItemView {
        id: r.try_get("item_id")?,
        action: serde_json::from_value(Value::String(action))?,
        offering: r.try_get("offering")?,
        version: int("version")?,
        quantity: int("quantity")?,
        characteristics: serde_json::from_str(&chars)?,
        quote: serde_json::from_str(&quote)?,
        product: r.try_get("product_id")?,
        state: parse_state(&r.try_get::<String, _>("state")?)?,
        error: r.try_get("error")?,
    })
}

/// One order with its items.
pub async fn get(conn: &mut AnyConnection, id: &str) -> DeskResult<Option<OrderView>> {
    let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1");
    let Some(row) = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let mut order = order_from_row(&row)?;
    let rows = sqlx::query(
        "SELECT item_id, action, offering, version, quantity, characteristics, quote, \
         product_id, state, error FROM order_items WHERE order_id = $1 ORDER BY position",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await?;
    order.items = rows.iter().map(item_from_row).collect::<DeskResult<_>>()?;
    Ok(Some(order))
}

/// The order's workflow instance.
pub async fn instance_id(conn: &mut AnyConnection, id: &str) -> DeskResult<Option<String>> {
    let row = sqlx::query("SELECT instance_id FROM orders WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.and_then(|r| r.try_get("instance_id").ok()).flatten())
}

/// The workflow instance of each item that has started, mapped to the item id.
pub async fn item_instances(
    conn: &mut AnyConnection,
    order_id: &str,
) -> DeskResult<std::collections::HashMap<String, String>> {
    let rows = sqlx::query(
        "SELECT instance_id, item_id FROM order_items WHERE order_id = $1 AND instance_id IS NOT NULL",
    )
    .bind(order_id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("instance_id")?, r.try_get("item_id")?)))
        .collect()
}

/// Orders (without items), newest first: of one customer account, or all for `None`.
pub async fn list(
    conn: &mut AnyConnection,
    account: Option<&str>,
    limit: i64,
) -> DeskResult<Vec<OrderView>> {
    let filter = OrderFilter {
        limit,
        ..OrderFilter::default()
    };
    search(conn, account, &filter).await
}

/// Which orders a list shows: a state, a search text (an order id, an external id, or part of
/// any characteristic value such as a site code, case-insensitive), and a page.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only orders in this state.
    pub state: Option<OrderState>,
    /// The search text.
    pub text: Option<String>,
    /// Orders to skip (newest first).
    pub offset: i64,
    /// At most this many.
    pub limit: i64,
}

/// `text` as a LIKE pattern that matches it anywhere, its wildcards taken literally.
fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Orders (without items) matching `filter`, newest first: of one customer account, or all
/// for `None`.
pub async fn search(
    conn: &mut AnyConnection,
    account: Option<&str>,
    filter: &OrderFilter,
) -> DeskResult<Vec<OrderView>> {
    let mut clauses = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    if let Some(a) = account {
        binds.push(a.to_string());
        clauses.push(format!("customer_account_id = ${}", binds.len()));
    }
    if let Some(state) = filter.state {
        binds.push(state.as_str().to_string());
        clauses.push(format!("state = ${}", binds.len()));
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        binds.push(text.to_string());
        let exact = binds.len();
        binds.push(contains_pattern(text));
        let like = binds.len();
        clauses.push(format!(
            "(id = ${exact} OR external_id = ${exact} OR EXISTS (SELECT 1 FROM order_items oi \
             WHERE oi.order_id = orders.id AND LOWER(oi.characteristics) LIKE ${like} ESCAPE '\\'))"
        ));
    }
    let filter_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {ORDER_COLUMNS} FROM orders {filter_sql} ORDER BY created_at DESC, id DESC \
         LIMIT ${} OFFSET ${}",
        binds.len() + 1,
        binds.len() + 2
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query
        .bind(filter.limit.clamp(1, 500))
        .bind(filter.offset.max(0))
        .fetch_all(conn)
        .await?;
    rows.iter().map(order_from_row).collect()
}

/// The offerings each of `order_ids` orders, in item order (for lists, which load no items).
pub async fn offerings_of(
    conn: &mut AnyConnection,
    order_ids: &[String],
) -> DeskResult<HashMap<String, Vec<String>>> {
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    if order_ids.is_empty() {
        return Ok(found);
    }
    let marks: Vec<String> = (1..=order_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT order_id, offering FROM order_items WHERE order_id IN ({}) \
         ORDER BY order_id, position",
        marks.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in order_ids {
        query = query.bind(id.clone());
    }
    for row in query.fetch_all(conn).await? {
        let offering: String = row.try_get("offering")?;
        let list = found.entry(row.try_get("order_id")?).or_default();
        if !list.contains(&offering) {
            list.push(offering);
        }
    }
    Ok(found)
}

/// The order's own state history, oldest first.
pub async fn events(conn: &mut AnyConnection, id: &str) -> DeskResult<Vec<OrderEvent>> {
    let rows = sqlx::query(
        "SELECT at, from_state, to_state, actor, reason FROM order_events WHERE order_id = $1 \
         ORDER BY at, id",
    )
    .bind(id.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            let from: Option<String> = r.try_get("from_state")?;
            Ok(OrderEvent {
                at: from_ms(r.try_get("at")?),
                from: from.map(|f| parse_state(&f)).transpose()?,
                to: parse_state(&r.try_get::<String, _>("to_state")?)?,
                actor: r.try_get("actor")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}

/// How many orders are in each state (states without orders are left out).
pub async fn count_by_state(db: &l2c_engine::db::Db) -> DeskResult<HashMap<String, i64>> {
    let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM orders GROUP BY state")
        .fetch_all(&db.pool)
        .await?;
    let mut counts = HashMap::new();
    for r in rows {
        counts.insert(r.try_get("state")?, r.try_get("n")?);
    }
    Ok(counts)
}
