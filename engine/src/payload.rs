//! Typed workflow payloads: an instance's input and output are JSON in the database, and the
//! handlers, listeners and checks that read them do so through one serde type per payload
//! (see `../shared/DESIGN.md`, "Workflow payloads are typed").
//!
//! [`decode`] reads a [`Value`] as such a type; when it does not fit, the [`PayloadError`]
//! names the payload, the path of the field at fault and what was wrong with it, e.g.
//! `input: items[0].action: unknown variant `ad`, expected `add` or `modify``. The readers
//! built on it: [`crate::handler::TaskContext::input_as`] and
//! [`crate::handler::TaskContext::output_as`] for handlers,
//! [`crate::runtime::ActorCheckRequest::input_as`] for actor checks,
//! [`crate::runtime::InstanceChange::input_as`] for listeners, and
//! [`crate::runtime::InstanceView::input_as`] and [`crate::runtime::InstanceView::output_as`]
//! for reads.

use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;

/// A payload that does not have the shape of the type it was read as.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{what}: {}{message}", at(path))]
pub struct PayloadError {
    /// Which payload: `input`, `output`, or what the caller named it.
    pub what: String,
    /// The path of the field at fault, e.g. `items[0].action`; empty when the payload as a
    /// whole does not fit (say, a string where an object was expected).
    pub path: String,
    /// What was wrong, e.g. ``unknown variant `ad`, expected `add` or `modify` ``.
    pub message: String,
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// Reads `value` as `T`; `what` names the payload in the error (`input`, `output`, ...).
///
/// ```
/// #[derive(Debug, serde::Deserialize)]
/// struct Order {
///     items: Vec<Item>,
/// }
/// #[derive(Debug, serde::Deserialize)]
/// struct Item {
///     action: Action,
/// }
/// #[derive(Debug, serde::Deserialize)]
/// #[serde(rename_all = "lowercase")]
/// enum Action {
///     Add,
///     Modify,
/// }
///
/// let input = serde_json::json!({"items": [{"action": "ad"}]});
/// let error = l2c_engine::payload::decode::<Order>("input", &input).unwrap_err();
/// assert_eq!(error.path, "items[0].action");
/// assert_eq!(
///     error.to_string(),
///     "input: items[0].action: unknown variant `ad`, expected `add` or `modify`"
/// );
/// ```
pub fn decode<T: DeserializeOwned>(what: &str, value: &Value) -> Result<T, PayloadError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = if e.path().iter().next().is_some() {
            e.path().to_string()
        } else {
            String::new()
        };
        PayloadError {
            what: what.to_owned(),
            path,
            message: e.inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, PartialEq, Deserialize)]
    struct Order {
        requester: String,
        items: Vec<Item>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Item {
        action: Action,
        quantity: u32,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Action {
        Add,
        Modify,
    }

    fn order() -> Value {
        json!({"requester": "rita", "items": [{"action": "add", "quantity": 2}]})
    }

    #[test]
    fn a_fitting_payload_is_read() {
        let read: Order = decode("input", &order()).expect("fits");
        assert_eq!(
            read,
            Order {
                requester: "rita".into(),
                items: vec![Item {
                    action: Action::Add,
                    quantity: 2
                }],
            }
        );
    }

    #[test]
    fn an_unknown_variant_is_named_with_its_path() {
        let mut input = order();
        input["items"][0]["action"] = json!("ad");
        let error = decode::<Order>("input", &input).expect_err("unknown action");
        assert_eq!(error.what, "input");
        assert_eq!(error.path, "items[0].action");
        assert_eq!(
            error.message,
            "unknown variant `ad`, expected `add` or `modify`"
        );
        assert_eq!(
            error.to_string(),
            "input: items[0].action: unknown variant `ad`, expected `add` or `modify`"
        );
    }

    #[test]
    fn a_missing_or_mistyped_field_is_named() {
        let mut input = order();
        input["items"][0]["quantity"] = json!("two");
        let error = decode::<Order>("output", &input).expect_err("mistyped quantity");
        assert_eq!(error.path, "items[0].quantity");
        assert!(
            error
                .to_string()
                .starts_with("output: items[0].quantity: invalid type: string \"two\""),
            "{error}"
        );

        let error = decode::<Order>("input", &json!({"items": []})).expect_err("no requester");
        assert_eq!(error.path, "");
        assert_eq!(error.to_string(), "input: missing field `requester`");
    }

    #[test]
    fn a_payload_of_the_wrong_kind_has_no_path() {
        let error = decode::<Order>("input", &json!("an order")).expect_err("not an object");
        assert_eq!(error.path, "");
        assert!(
            error.to_string().starts_with("input: invalid type: string"),
            "{error}"
        );
    }
}
