//! What a requester sends to place an order, and what l2c shows of an order.

use super::state::{ItemState, OrderState};
use chrono::{DateTime, NaiveDate, Utc};
use l2c_catalog::{OrderAction, Quote};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The most items one order may carry.
pub const MAX_ITEMS: usize = 100;
/// The longest external id, in characters.
pub const MAX_EXTERNAL_ID: usize = 100;
/// The longest notes, in characters.
pub const MAX_NOTES: usize = 4000;

fn one() -> i64 {
    1
}

/// A new order, as `POST /api/v1/orders` takes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// The billing account the order's charges go to (one of the requester's account's).
    pub billing_account: String,
    /// The customer's own reference, e.g. their purchase order number.
    #[serde(default)]
    pub external_id: Option<String>,
    /// When the customer would like it delivered (YYYY-MM-DD, not in the past).
    #[serde(default)]
    pub requested_completion_date: Option<String>,
    /// Free text for the order desk.
    #[serde(default)]
    pub notes: Option<String>,
    /// What to order: 1 to 100 items.
    pub items: Vec<OrderItemRequest>,
}

/// One item of a new order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderItemRequest {
    /// add, modify or delete.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "add"))]
    pub action: OrderAction,
    /// The offering id, e.g. `wan-link`.
    pub offering: String,
    /// The offering version to pin; the newest orderable one when absent.
    #[serde(default)]
    pub version: Option<u32>,
    /// How many (default 1).
    #[serde(default = "one")]
    pub quantity: i64,
    /// Characteristic values by name.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub characteristics: BTreeMap<String, Value>,
    /// The running product a `modify` or `delete` changes (absent for `add`).
    #[serde(default)]
    pub product: Option<String>,
}

/// An order as l2c shows it.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderView {
    /// The order id.
    pub id: String,
    /// Who placed it (a user name).
    pub requester: String,
    /// The customer account.
    pub customer_account: String,
    /// The billing account.
    pub billing_account: String,
    /// The customer's reference.
    pub external_id: Option<String>,
    /// The requested completion date.
    pub requested_completion_date: Option<NaiveDate>,
    /// Notes.
    pub notes: Option<String>,
    /// The TMF622 state.
    pub state: OrderState,
    /// Why it was rejected or cancelled.
    pub reason: Option<String>,
    /// The currency of every amount.
    pub currency: String,
    /// One-time charges of all items (decimal string).
    pub one_time_total: String,
    /// Monthly recurring charges of all items (decimal string).
    pub monthly_total: String,
    /// The items.
    pub items: Vec<ItemView>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it reached a final state.
    pub completed_at: Option<DateTime<Utc>>,
}

/// One item of an order.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ItemView {
    /// The item id within the order (`1`, `2`, ...).
    pub id: String,
    /// add, modify or delete.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub action: OrderAction,
    /// The offering.
    pub offering: String,
    /// The pinned offering version.
    pub version: u32,
    /// How many.
    pub quantity: u32,
    /// The characteristics, with defaults filled in.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub characteristics: Value,
    /// The price agreed at order time.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub quote: Quote,
    /// The product it creates (add) or changes (modify, delete).
    pub product: String,
    /// The item's state.
    pub state: ItemState,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One state change of an order (its own audit trail, beside the engine's history).
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// From which state (none for placement).
    pub from: Option<OrderState>,
    /// To which state.
    pub to: OrderState,
    /// Who (a user, or `l2c` for workflow-driven changes).
    pub actor: Option<String>,
    /// Why.
    pub reason: Option<String>,
}

/// A line of an order's timeline: an order state change or an engine history event.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// `order` for state changes, else the item id the event belongs to (`1`, `2`, ...) or
    /// `workflow` for the order-level workflow.
    pub source: String,
    /// What happened (`state:inProgress`, `task.approved`, `step.completed`, ...).
    pub event: String,
    /// The stage concerned.
    pub stage: Option<String>,
    /// Who.
    pub actor: Option<String>,
    /// Details, when the event has any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub data: Option<Value>,
}

/// What placing returned: the order id and whether it was placed now or earlier with the
/// same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The order.
    pub order_id: String,
    /// False when an earlier request with the same key placed it.
    pub created: bool,
}
