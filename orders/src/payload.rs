//! The input an order's workflows receive, as one serde type each: [`OrderInput`] for the
//! order workflow, [`ItemInput`] for each item's workflow (the order workflow's subflow stage
//! starts one child per entry of `items`). [`crate::place`] builds them; the roll-up listener,
//! the actor check and the step handlers read them through these types, never by JSON
//! pointer. The field names are also what workflow conditions read (`order.monthly_total`,
//! `item.characteristics.bandwidth_mbps`): renaming one is a change of the workflow contract.

use crate::error::{DeskError, DeskResult};
use l2c_catalog::{OrderAction, Quote};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The business key of an order's workflow instances.
pub fn business_key(order_id: &str) -> String {
    format!("order:{order_id}")
}

/// The order id in a business key made by [`business_key`].
pub fn business_key_order(key: &str) -> Option<&str> {
    key.strip_prefix("order:")
}

/// The workflow every `delete` item runs.
pub const DISCONNECT_WORKFLOW: &str = "disconnect";
/// The order-level workflow.
pub const ORDER_WORKFLOW: &str = "order";

/// What the order workflow (`workflows/order.toml`) is started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderInput {
    /// The order's header.
    pub order: OrderHeader,
    /// Who placed the order (nobody acts on a task of their own order).
    pub requester: String,
    /// One entry per item, each the input of that item's workflow.
    pub items: Vec<ItemInput>,
}

/// The order as its workflow conditions see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderHeader {
    /// The order id.
    pub id: String,
    /// Who placed it.
    pub requester: String,
    /// The customer account.
    pub customer_account: String,
    /// The billing account its subscriptions go to.
    pub billing_account: String,
    /// ISO 4217 code.
    pub currency: String,
    /// The sum of the one-time charges, a decimal string.
    pub one_time_total: String,
    /// The sum of the monthly recurring charges, a decimal string.
    pub monthly_total: String,
    /// `YYYY-MM-DD`, when the requester asked for one.
    pub requested_completion_date: Option<String>,
    /// Whether the order's yearly value exceeds the commercial approval threshold.
    pub needs_commercial_approval: bool,
}

/// What one item's workflow (`workflows/wan-link.toml`, ...) is started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemInput {
    /// The workflow the item runs.
    pub workflow: String,
    /// The order.
    pub order_id: String,
    /// The item's id within the order.
    pub item_id: String,
    /// Who placed the order.
    pub requester: String,
    /// The customer account.
    pub customer_account: String,
    /// The billing account.
    pub billing_account: String,
    /// ISO 4217 code.
    pub currency: String,
    /// add, modify or delete.
    pub action: OrderAction,
    /// The offering ordered.
    pub offering: String,
    /// Its pinned version.
    pub version: u32,
    /// How many.
    pub quantity: u32,
    /// The item's characteristics, typed by the catalog (for modify: the changes).
    pub characteristics: Map<String, Value>,
    /// The product the item creates (add) or changes (modify, delete).
    pub product: ProductRef,
    /// The item's prices at the pinned version.
    pub quote: Quote,
}

/// The product an item is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductRef {
    /// Its id (new for an add item).
    pub id: String,
    /// The running product's characteristics (empty for an add item).
    pub characteristics: Map<String, Value>,
}

/// The one field every order and item workflow input carries: who placed the order (read by
/// the check that nobody acts on a task of their own order).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PlacedBy {
    /// The requester's user name.
    pub requester: String,
}

/// Reads a workflow input as `T`. l2c built every input it reads, so a mismatch is an internal
/// error, and its message names the field that did not fit.
pub fn read<T: DeserializeOwned>(input: &Value) -> DeskResult<T> {
    l2c_engine::payload::decode("workflow input", input)
        .map_err(|e| DeskError::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Value {
        serde_json::json!({
            "workflow": "wan-link", "order_id": "o1", "item_id": "1", "requester": "rita",
            "customer_account": "ACME", "billing_account": "ACME-EUR", "currency": "EUR",
            "action": "add", "offering": "wan-link", "version": 1, "quantity": 1,
            "characteristics": {"bandwidth_mbps": 100},
            "product": {"id": "p1", "characteristics": {}},
            "quote": {"offering": "wan-link", "version": 1, "currency": "EUR",
                      "one_time": [], "recurring": []}
        })
    }

    #[test]
    fn an_item_reads_back_what_it_was_built_from() {
        let parsed: ItemInput = read(&item()).expect("item");
        assert_eq!(parsed.action, OrderAction::Add);
        assert_eq!(
            parsed.characteristics.get("bandwidth_mbps"),
            Some(&Value::from(100))
        );
        let again = serde_json::to_value(&parsed).expect("serializes");
        assert_eq!(again, item());
    }

    #[test]
    fn a_bad_field_is_named() {
        let mut bad = item();
        bad["action"] = Value::from("ad");
        let err = read::<ItemInput>(&bad).expect_err("an unknown action is refused");
        assert!(err.to_string().contains("action"), "{err}");
    }
}
