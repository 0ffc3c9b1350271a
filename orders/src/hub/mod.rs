//! TMF622 event notifications: listeners registered on the hub, an outbox of events written
//! in the same transaction as the order change each announces, and per-listener deliveries
//! that the application's deliverer sends (docs/api.md, "Event notifications").
//!
//! - [`outbox`]: the events (`hub_events`), recorded by [`crate::store`] and the roll-up.
//! - [`filter`]: the small TMF630 query subset a listener may filter on.
//! - [`listeners`]: registering and removing listeners (`hub_listeners`).
//! - [`delivery`]: fan-out to listeners, claiming, outcomes with backoff, dead letters
//!   and replay (`hub_deliveries`).
//!
//! Writing is one multi-row insert per batch of changes whether or not anyone listens;
//! everything else (which listener gets what) happens at fan-out, off the order's path.

pub mod delivery;
pub mod filter;
pub mod listeners;
pub mod outbox;

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A TMF622 event type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum EventType {
    /// An order was placed.
    #[serde(rename = "ProductOrderCreateEvent")]
    Create,
    /// An order's state changed.
    #[serde(rename = "ProductOrderStateChangeEvent")]
    StateChange,
    /// An attribute of an order changed (an item's state).
    #[serde(rename = "ProductOrderAttributeValueChangeEvent")]
    AttributeValueChange,
    /// An order waits on the requester (it became `pending`).
    #[serde(rename = "ProductOrderInformationRequiredEvent")]
    InformationRequired,
    /// A cancellation of an order moved on.
    #[serde(rename = "CancelProductOrderStateChangeEvent")]
    CancelStateChange,
}

/// Every event type, in the order docs/api.md lists them.
pub const EVENT_TYPES: [EventType; 5] = [
    EventType::Create,
    EventType::StateChange,
    EventType::AttributeValueChange,
    EventType::InformationRequired,
    EventType::CancelStateChange,
];

impl EventType {
    /// Its TMF name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Create => "ProductOrderCreateEvent",
            EventType::StateChange => "ProductOrderStateChangeEvent",
            EventType::AttributeValueChange => "ProductOrderAttributeValueChangeEvent",
            EventType::InformationRequired => "ProductOrderInformationRequiredEvent",
            EventType::CancelStateChange => "CancelProductOrderStateChangeEvent",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        EVENT_TYPES
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = EVENT_TYPES.iter().map(|t| t.as_str()).collect();
                format!("{s:?} is not one of {}", names.join(", "))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_read_back_from_their_names() {
        for t in EVENT_TYPES {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(t.as_str().into()));
        }
        assert!("ProductOrderDeleteEvent".parse::<EventType>().is_err());
    }
}
