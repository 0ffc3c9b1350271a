//! The query a listener filters its events with: a small subset of TMF630 selection, in
//! URL query form. Supported: `eventType=T[,T...]` (TMF622 event type names) and
//! `event.productOrder.state=S[,S...]` (TMF622 order states: the order's state once the
//! change was made); several values of one key are alternatives, different keys must all
//! hold. Anything else is refused naming the key, never silently ignored.

use super::EventType;
use crate::error::{problem, FieldProblem};
use crate::state::{OrderState, ORDER_STATES};
use std::collections::BTreeSet;

/// The event type key.
pub const EVENT_TYPE: &str = "eventType";
/// The order state key.
pub const ORDER_STATE: &str = "event.productOrder.state";
/// The longest query accepted.
pub const MAX_QUERY: usize = 1000;

/// A parsed query; the default matches every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    types: Option<BTreeSet<EventType>>,
    states: Option<Vec<OrderState>>,
}

impl Filter {
    /// Parses a listener's `query` (none or empty: everything); problems name
    /// `query.<key>` and the rule.
    pub fn parse(query: Option<&str>) -> Result<Filter, Vec<FieldProblem>> {
        let query = query.map(str::trim).unwrap_or_default();
        let mut filter = Filter::default();
        if query.is_empty() {
            return Ok(filter);
        }
        if query.len() > MAX_QUERY {
            return Err(vec![problem(
                "query",
                "max_length",
                format!("a query has at most {MAX_QUERY} characters"),
            )]);
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
            vec![problem(
                "query",
                "query_syntax",
                format!("not a URL query such as eventType=ProductOrderStateChangeEvent: {e}"),
            )]
        })?;
        let mut problems = Vec::new();
        for (key, value) in pairs {
            filter.add(&key, &value, &mut problems);
        }
        if problems.is_empty() {
            Ok(filter)
        } else {
            Err(problems)
        }
    }

    fn add(&mut self, key: &str, value: &str, problems: &mut Vec<FieldProblem>) {
        let path = format!("query.{key}");
        let taken = match key {
            EVENT_TYPE => self.types.is_some(),
            ORDER_STATE => self.states.is_some(),
            _ => {
                problems.push(problem(
                    path,
                    "unsupported",
                    format!("filters are on {EVENT_TYPE} and {ORDER_STATE} only"),
                ));
                return;
            }
        };
        if taken {
            problems.push(problem(
                path,
                "duplicate",
                "give a key once, with alternatives separated by commas",
            ));
            return;
        }
        let values: Vec<&str> = value.split(',').map(str::trim).collect();
        if values.iter().any(|v| v.is_empty()) {
            problems.push(problem(path, "required", "a filter needs a value"));
            return;
        }
        match key {
            EVENT_TYPE => {
                let parsed: Result<BTreeSet<EventType>, String> =
                    values.iter().map(|v| v.parse()).collect();
                match parsed {
                    Ok(types) => self.types = Some(types),
                    Err(e) => problems.push(problem(path, "allowed_values", e)),
                }
            }
            _ => {
                let parsed: Result<Vec<OrderState>, String> =
                    values.iter().map(|v| v.parse()).collect();
                match parsed {
                    Ok(states) => self.states = Some(states),
                    Err(_) => problems.push(problem(
                        path,
                        "allowed_values",
                        format!(
                            "{value:?} names a state that is not one of {}",
                            state_names()
                        ),
                    )),
                }
            }
        }
    }

    /// Whether an event of `event_type` leaving the order in `state` passes.
    pub fn matches(&self, event_type: EventType, state: OrderState) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(&event_type))
            && self.states.as_ref().is_none_or(|s| s.contains(&state))
    }

    /// The query in one canonical spelling (none when it matches everything).
    pub fn canonical(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(types) = &self.types {
            let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
            parts.push(format!("{EVENT_TYPE}={}", names.join(",")));
        }
        if let Some(states) = &self.states {
            let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
            parts.push(format!("{ORDER_STATE}={}", names.join(",")));
        }
        (!parts.is_empty()).then(|| parts.join("&"))
    }
}

fn state_names() -> String {
    let names: Vec<&str> = ORDER_STATES.iter().map(|s| s.as_str()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use EventType::*;

    fn refused(query: &str) -> Vec<(String, &'static str)> {
        match Filter::parse(Some(query)) {
            Ok(f) => panic!("{query:?} was accepted as {f:?}"),
            Err(p) => p.into_iter().map(|p| (p.path, p.rule)).collect(),
        }
    }

    #[test]
    fn no_query_matches_everything() {
        for q in [None, Some(""), Some("  ")] {
            let f = Filter::parse(q).expect("empty");
            assert!(f.matches(Create, OrderState::Acknowledged));
            assert_eq!(f.canonical(), None);
        }
    }

    #[test]
    fn types_and_states_are_alternatives_within_a_key_and_all_must_hold() {
        let f = Filter::parse(Some(
            "eventType=ProductOrderStateChangeEvent,ProductOrderCreateEvent\
             &event.productOrder.state=completed,failed",
        ))
        .expect("valid");
        assert!(f.matches(StateChange, OrderState::Completed));
        assert!(f.matches(StateChange, OrderState::Failed));
        assert!(!f.matches(StateChange, OrderState::InProgress));
        assert!(!f.matches(AttributeValueChange, OrderState::Completed));
        assert_eq!(
            f.canonical().as_deref(),
            Some(
                "eventType=ProductOrderCreateEvent,ProductOrderStateChangeEvent\
                 &event.productOrder.state=completed,failed"
            )
        );
        let only_state = Filter::parse(Some("event.productOrder.state=cancelled")).expect("ok");
        assert!(only_state.matches(CancelStateChange, OrderState::Cancelled));
        assert!(!only_state.matches(CancelStateChange, OrderState::PendingCancellation));
    }

    #[test]
    fn percent_encoding_is_decoded() {
        let f = Filter::parse(Some(
            "eventType=ProductOrderCreateEvent%2CProductOrderStateChangeEvent",
        ))
        .expect("encoded comma");
        assert!(f.matches(StateChange, OrderState::InProgress));
    }

    #[test]
    fn anything_else_is_refused_naming_the_key_and_rule() {
        assert_eq!(
            refused("state=completed"),
            [("query.state".to_string(), "unsupported")]
        );
        assert_eq!(
            refused("eventType=OrderDone"),
            [("query.eventType".to_string(), "allowed_values")]
        );
        assert_eq!(
            refused("event.productOrder.state=finished"),
            [(
                "query.event.productOrder.state".to_string(),
                "allowed_values"
            )]
        );
        assert_eq!(
            refused("eventType=&event.productOrder.state=completed,"),
            [
                ("query.eventType".to_string(), "required"),
                ("query.event.productOrder.state".to_string(), "required")
            ]
        );
        assert_eq!(
            refused("eventType=ProductOrderCreateEvent&eventType=ProductOrderStateChangeEvent"),
            [("query.eventType".to_string(), "duplicate")]
        );
        assert_eq!(
            refused(&"x".repeat(MAX_QUERY + 1)),
            [("query".to_string(), "max_length")]
        );
    }
}
