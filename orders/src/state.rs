//! TMF622 order and item states, and the one place that says which transitions are allowed.
//! docs/orders.md draws the machine and records where l2c chose within TMF622.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A product order's state (TMF622 `ProductOrderStateType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum OrderState {
    /// Received, validated, stored; waiting for commercial approval or the start of delivery.
    Acknowledged,
    /// Refused (commercial approval rejected it, with a reason).
    Rejected,
    /// Delivery has started: at least one item is in progress.
    InProgress,
    /// Waiting for the customer.
    Pending,
    /// Held by the provider (an issue on its side).
    Held,
    /// A cancellation request is being assessed.
    AssessingCancellation,
    /// The cancellation was accepted and is being carried out (compensations running).
    PendingCancellation,
    /// Cancelled.
    Cancelled,
    /// Every item completed.
    Completed,
    /// Every item failed.
    Failed,
    /// Some items completed, others failed.
    Partial,
}

use OrderState::*;

/// Every order state, in the order TMF622 lists them.
pub const ORDER_STATES: [OrderState; 11] = [
    Acknowledged,
    Rejected,
    InProgress,
    Pending,
    Held,
    AssessingCancellation,
    PendingCancellation,
    Cancelled,
    Completed,
    Failed,
    Partial,
];

impl OrderState {
    /// The TMF622 name, e.g. `inProgress`.
    pub fn as_str(self) -> &'static str {
        match self {
            Acknowledged => "acknowledged",
            Rejected => "rejected",
            InProgress => "inProgress",
            Pending => "pending",
            Held => "held",
            AssessingCancellation => "assessingCancellation",
            PendingCancellation => "pendingCancellation",
            Cancelled => "cancelled",
            Completed => "completed",
            Failed => "failed",
            Partial => "partial",
        }
    }

    /// Whether the order can no longer change.
    pub fn is_final(self) -> bool {
        matches!(self, Rejected | Cancelled | Completed | Failed | Partial)
    }

    /// Whether TMF622 (as l2c reads it, see docs/orders.md) allows `self -> to`.
    pub fn can_become(self, to: OrderState) -> bool {
        match self {
            Acknowledged => matches!(
                to,
                InProgress | Rejected | Pending | Held | AssessingCancellation
            ),
            InProgress => matches!(
                to,
                Pending | Held | AssessingCancellation | Completed | Failed | Partial
            ),
            Pending | Held => matches!(to, InProgress | AssessingCancellation),
            // A refused cancellation goes back where the order was.
            AssessingCancellation => matches!(
                to,
                PendingCancellation | Acknowledged | InProgress | Pending | Held
            ),
            PendingCancellation => to == Cancelled,
            Rejected | Cancelled | Completed | Failed | Partial => false,
        }
    }

    /// Checks `self -> to`, naming both states when TMF622 does not allow it.
    pub fn check(self, to: OrderState) -> Result<(), String> {
        if self.can_become(to) {
            Ok(())
        } else {
            Err(format!("an order cannot go from {self} to {to}"))
        }
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OrderState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ORDER_STATES
            .iter()
            .copied()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown order state {s:?}"))
    }
}

/// An order item's state (TMF622 `ProductOrderItemStateType`, the part l2c uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ItemState {
    /// Stored; its workflow has not started.
    Acknowledged,
    /// Its workflow is running.
    InProgress,
    /// Its workflow completed: the product is in the inventory.
    Completed,
    /// Its workflow failed or was rejected.
    Failed,
    /// Cancelled with its order (or never started because the order was rejected).
    Cancelled,
}

/// Every item state.
pub const ITEM_STATES: [ItemState; 5] = [
    ItemState::Acknowledged,
    ItemState::InProgress,
    ItemState::Completed,
    ItemState::Failed,
    ItemState::Cancelled,
];

impl ItemState {
    /// The TMF622 name.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Acknowledged => "acknowledged",
            ItemState::InProgress => "inProgress",
            ItemState::Completed => "completed",
            ItemState::Failed => "failed",
            ItemState::Cancelled => "cancelled",
        }
    }

    /// Whether the item can no longer change.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ItemState::Completed | ItemState::Failed | ItemState::Cancelled
        )
    }

    /// Whether `self -> to` is allowed.
    pub fn can_become(self, to: ItemState) -> bool {
        use ItemState as I;
        match self {
            I::Acknowledged => matches!(to, I::InProgress | I::Cancelled),
            I::InProgress => matches!(to, I::Completed | I::Failed | I::Cancelled),
            I::Completed | I::Failed | I::Cancelled => false,
        }
    }
}

impl fmt::Display for ItemState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ItemState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ITEM_STATES
            .iter()
            .copied()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| format!("unknown item state {s:?}"))
    }
}

/// The state an order with these final item states ends in: all completed -> completed, all
/// failed -> failed, a mix -> partial. Cancelled items count as not delivered. `None` while
/// any item is still open (or for no items).
pub fn roll_up(items: &[ItemState]) -> Option<OrderState> {
    if items.is_empty() || items.iter().any(|s| !s.is_final()) {
        return None;
    }
    let completed = items.iter().filter(|s| **s == ItemState::Completed).count();
    Some(if completed == items.len() {
        Completed
    } else if completed == 0 {
        Failed
    } else {
        Partial
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ORDER_STATES {
            assert_eq!(s.as_str().parse::<OrderState>(), Ok(s));
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
        for s in ITEM_STATES {
            assert_eq!(s.as_str().parse::<ItemState>(), Ok(s));
        }
        assert!("inprogress".parse::<OrderState>().is_err());
    }

    #[test]
    fn final_states_go_nowhere() {
        for from in ORDER_STATES.into_iter().filter(|s| s.is_final()) {
            for to in ORDER_STATES {
                assert!(!from.can_become(to), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn the_tmf622_transitions_and_only_those() {
        let allowed: Vec<(OrderState, OrderState)> = ORDER_STATES
            .into_iter()
            .flat_map(|f| ORDER_STATES.into_iter().map(move |t| (f, t)))
            .filter(|(f, t)| f.can_become(*t))
            .collect();
        let expected = [
            (Acknowledged, Rejected),
            (Acknowledged, InProgress),
            (Acknowledged, Pending),
            (Acknowledged, Held),
            (Acknowledged, AssessingCancellation),
            (InProgress, Pending),
            (InProgress, Held),
            (InProgress, AssessingCancellation),
            (InProgress, Completed),
            (InProgress, Failed),
            (InProgress, Partial),
            (Pending, InProgress),
            (Pending, AssessingCancellation),
            (Held, InProgress),
            (Held, AssessingCancellation),
            (AssessingCancellation, Acknowledged),
            (AssessingCancellation, InProgress),
            (AssessingCancellation, Pending),
            (AssessingCancellation, Held),
            (AssessingCancellation, PendingCancellation),
            (PendingCancellation, Cancelled),
        ];
        assert_eq!(allowed, expected);
        assert!(InProgress.check(Acknowledged).is_err());
        assert_eq!(
            Completed.check(Cancelled),
            Err("an order cannot go from completed to cancelled".to_string())
        );
    }

    #[test]
    fn cancellation_passes_through_assessment() {
        assert!(!InProgress.can_become(Cancelled));
        assert!(!InProgress.can_become(PendingCancellation));
        assert!(AssessingCancellation.can_become(PendingCancellation));
        assert!(PendingCancellation.can_become(Cancelled));
    }

    #[test]
    fn items_roll_up() {
        use ItemState as I;
        assert_eq!(roll_up(&[I::Completed, I::Completed]), Some(Completed));
        assert_eq!(roll_up(&[I::Failed, I::Failed]), Some(Failed));
        assert_eq!(roll_up(&[I::Completed, I::Failed]), Some(Partial));
        assert_eq!(roll_up(&[I::Completed, I::Cancelled]), Some(Partial));
        assert_eq!(roll_up(&[I::Completed, I::InProgress]), None);
        assert_eq!(roll_up(&[]), None);
        assert!(!I::Completed.can_become(I::Failed));
        assert!(I::Acknowledged.can_become(I::InProgress));
        assert!(!I::Acknowledged.can_become(I::Completed));
    }
}
