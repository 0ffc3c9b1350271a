//! The outbox (`hub_events`): one row per event, inserted by the transaction that makes the
//! change it announces, so an event exists exactly when its change was committed. Callers
//! hold the order's row (PostgreSQL `FOR UPDATE`, SQLite's single writer) so an order's
//! events get increasing `seq` in commit order; delivery relies on that for per-order order.

use super::EventType;
use crate::error::{DeskError, DeskResult};
use crate::state::OrderState;
use l2c_engine::db::Backend;
use serde_json::{json, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// An order's state change, as the outbox announces it.
pub struct StateChange<'a> {
    /// The order.
    pub order_id: &'a str,
    /// From which state (none when placed).
    pub from: Option<OrderState>,
    /// To which state.
    pub to: OrderState,
    /// Why (a rejection's or cancellation's reason).
    pub reason: Option<&'a str>,
}

/// One event about to be written.
struct NewEvent<'a> {
    order_id: &'a str,
    event_type: EventType,
    state: OrderState,
    detail: Value,
}

/// A stored event.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    /// Its position among all events (an order's events in the order they happened).
    pub seq: i64,
    /// The TMF `eventId`.
    pub id: String,
    /// The order it is about.
    pub order_id: String,
    /// Its type.
    pub event_type: EventType,
    /// The order's state once the change was made.
    pub state: OrderState,
    /// What changed: `from` and `reason` of a state change, `cancellationState` of a
    /// cancellation, `item` and `itemState` of an attribute change.
    pub detail: Value,
    /// When it happened (ms on the desk's clock).
    pub at: i64,
}

/// The state of the cancellation request a change of `change` moves, if it is part of one
/// (TMF622 CancelProductOrder states).
fn cancellation_state(change: &StateChange<'_>) -> Option<&'static str> {
    match (change.from, change.to) {
        (_, OrderState::AssessingCancellation) => Some("acknowledged"),
        (_, OrderState::PendingCancellation) => Some("inProgress"),
        (_, OrderState::Cancelled) => Some("done"),
        // Assessed and refused: the order went back where it was.
        (Some(OrderState::AssessingCancellation), _) => Some("terminatedWithError"),
        _ => None,
    }
}

/// The events of one state change: a create event for a new order, else a state change
/// event, with an information-required event when the order now waits on its requester and
/// a cancel event when the change belongs to a cancellation.
fn events_of<'a>(change: &StateChange<'a>) -> Vec<NewEvent<'a>> {
    let detail = json!({
        "from": change.from.map(|s| s.as_str()),
        "reason": change.reason,
    });
    let event = |event_type, detail| NewEvent {
        order_id: change.order_id,
        event_type,
        state: change.to,
        detail,
    };
    if change.from.is_none() {
        return vec![event(EventType::Create, detail)];
    }
    let mut events = vec![event(EventType::StateChange, detail.clone())];
    if change.to == OrderState::Pending {
        events.push(event(EventType::InformationRequired, detail.clone()));
    }
    if let Some(cancel) = cancellation_state(change) {
        let mut detail = detail;
        detail["cancellationState"] = json!(cancel);
        events.push(event(EventType::CancelStateChange, detail));
    }
    events
}

/// Writes the events of `changes` (see [`events_of`]), a few multi-row statements for any
/// number.
pub async fn state_changes(
    conn: &mut AnyConnection,
    backend: Backend,
    changes: &[StateChange<'_>],
    now: i64,
) -> DeskResult<()> {
    let events: Vec<NewEvent<'_>> = changes.iter().flat_map(events_of).collect();
    insert(conn, backend, &events, now).await
}

/// Writes an attribute change event: an item of `order_id` (now `state`) moved to
/// `item_state`.
pub async fn item_changed(
    conn: &mut AnyConnection,
    backend: Backend,
    order_id: &str,
    state: OrderState,
    item_id: &str,
    item_state: &str,
    now: i64,
) -> DeskResult<()> {
    let event = NewEvent {
        order_id,
        event_type: EventType::AttributeValueChange,
        state,
        detail: json!({
            "item": item_id,
            "itemState": item_state,
            "changed": ["productOrderItem.state"],
        }),
    };
    insert(conn, backend, &[event], now).await
}

async fn insert(
    conn: &mut AnyConnection,
    backend: Backend,
    events: &[NewEvent<'_>],
    now: i64,
) -> DeskResult<()> {
    for chunk in events.chunks(backend.chunk_rows(200, 6)) {
        let sql = format!(
            "INSERT INTO hub_events (id, order_id, event_type, state, detail, at) VALUES {}",
            backend.values_list(chunk.len(), 6, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(e.order_id.to_string())
                .bind(e.event_type.as_str())
                .bind(e.state.as_str())
                .bind(e.detail.to_string())
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The columns [`from_row`] reads.
pub(crate) const COLUMNS: &str = "seq, id, order_id, event_type, state, detail, at";

/// An event from a row with [`COLUMNS`].
pub(crate) fn from_row(r: &AnyRow) -> DeskResult<OutboxEvent> {
    let event_type: String = r.try_get("event_type")?;
    let state: String = r.try_get("state")?;
    let detail: String = r.try_get("detail")?;
    Ok(OutboxEvent {
        seq: r.try_get("seq")?,
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        event_type: event_type.parse().map_err(DeskError::Internal)?,
        state: state.parse().map_err(DeskError::Internal)?,
        detail: serde_json::from_str(&detail)?,
        at: r.try_get("at")?,
    })
}

/// Runs `statement` (SQL ending in `seq IN (`) over `seqs`, a chunk at a time.
async fn by_seqs(
    conn: &mut AnyConnection,
    backend: Backend,
    statement: &str,
    seqs: &[i64],
) -> DeskResult<()> {
    for chunk in seqs.chunks(backend.chunk_rows(500, 1)) {
        let sql = format!("{statement}{})", backend.in_list(chunk.len(), 1));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for seq in chunk {
            q = q.bind(*seq);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks events fanned out (`fanned`), or deletes them when no listener wanted them.
pub(crate) async fn fanned(
    conn: &mut AnyConnection,
    backend: Backend,
    kept: &[i64],
    unwanted: &[i64],
) -> DeskResult<()> {
    let mark = "UPDATE hub_events SET fanned = 1 WHERE seq IN (";
    by_seqs(conn, backend, mark, kept).await?;
    by_seqs(
        conn,
        backend,
        "DELETE FROM hub_events WHERE seq IN (",
        unwanted,
    )
    .await
}

/// Deletes fanned-out events of `seqs` that no delivery needs any more (all of them when
/// `seqs` is `None`).
pub(crate) async fn prune(
    conn: &mut AnyConnection,
    backend: Backend,
    seqs: Option<&[i64]>,
) -> DeskResult<()> {
    let orphan = "DELETE FROM hub_events WHERE fanned = 1 AND NOT EXISTS \
        (SELECT 1 FROM hub_deliveries d WHERE d.event_seq = hub_events.seq)";
    match seqs {
        None => {
            sqlx::query(orphan).execute(&mut *conn).await?;
            Ok(())
        }
        Some(seqs) => by_seqs(conn, backend, &format!("{orphan} AND seq IN ("), seqs).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(from: Option<OrderState>, to: OrderState) -> Vec<EventType> {
        let change = StateChange {
            order_id: "o",
            from,
            to,
            reason: None,
        };
        events_of(&change).iter().map(|e| e.event_type).collect()
    }

    #[test]
    fn each_change_announces_its_events() {
        use EventType::*;
        use OrderState::*;
        assert_eq!(types(None, Acknowledged), [Create]);
        assert_eq!(types(Some(Acknowledged), InProgress), [StateChange]);
        assert_eq!(
            types(Some(InProgress), Pending),
            [StateChange, InformationRequired]
        );
        assert_eq!(
            types(Some(InProgress), AssessingCancellation),
            [StateChange, CancelStateChange]
        );
        assert_eq!(
            types(Some(AssessingCancellation), InProgress),
            [StateChange, CancelStateChange],
            "a refused cancellation ends its request"
        );
        assert_eq!(
            types(Some(PendingCancellation), Cancelled),
            [StateChange, CancelStateChange]
        );
        assert_eq!(types(Some(InProgress), Completed), [StateChange]);
    }

    #[test]
    fn a_cancellation_names_its_request_state() {
        let refused = StateChange {
            order_id: "o",
            from: Some(OrderState::AssessingCancellation),
            to: OrderState::InProgress,
            reason: Some("delivered"),
        };
        let events = events_of(&refused);
        assert_eq!(events[1].detail["cancellationState"], "terminatedWithError");
        assert_eq!(events[1].detail["reason"], "delivered");
        assert_eq!(events[1].detail["from"], "assessingCancellation");
    }
}
