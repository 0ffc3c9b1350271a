//! An order form as data: the inputs an offering's characteristic specs call for, the
//! posted values read back into the API's [`OrderRequest`], and the API's field problems
//! (`items[0].characteristics.bandwidth_mbps`) put back at the inputs they belong to.

use l2c_catalog::{rule_words, CharacteristicSpec, Offering, OrderAction, ValueType, MAX_QUANTITY};
use l2c_orders::error::{DeskError, FieldProblem};
use l2c_orders::model::{OrderItemRequest, OrderRequest};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// A posted form: its fields in order, as sent.
pub type Fields = Vec<(String, String)>;

/// The value of field `name`, if sent.
pub fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// How an input is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<input type=number>`.
    Number,
    /// `<select>`.
    Select,
    /// A checkbox.
    Checkbox,
    /// A text input.
    Text,
    /// A date input.
    Date,
    /// A multi-line text.
    Area,
}

/// One option of a select.
#[derive(Debug, Clone)]
pub struct Choice {
    /// The value sent.
    pub value: String,
    /// What it says.
    pub label: String,
    /// Whether it is chosen.
    pub selected: bool,
}

/// One input of the order form.
#[derive(Debug, Clone)]
pub struct Input {
    /// The form field's name (`c.<characteristic>` for characteristics).
    pub name: String,
    /// The label.
    pub label: String,
    /// How it is drawn.
    pub kind: Kind,
    /// What was typed (or the default, or the running product's value).
    pub value: String,
    /// The choices of a select.
    pub choices: Vec<Choice>,
    /// Bounds and step of a number input.
    pub min: String,
    /// See `min`.
    pub max: String,
    /// `1` for integers, `any` for decimals.
    pub step: &'static str,
    /// The rule in words.
    pub help: String,
    /// Whether it must be filled in.
    pub required: bool,
    /// The problem with what was sent, if any.
    pub error: Option<String>,
}

impl Input {
    /// The id of the input's help text (for `aria-describedby`).
    pub fn help_id(&self) -> String {
        format!("{}-help", self.name.replace('.', "-"))
    }

    /// The HTML id of the input.
    pub fn id(&self) -> String {
        self.name.replace('.', "-")
    }

    /// Whether a checkbox is ticked.
    pub fn checked(&self) -> bool {
        self.value == "true" || self.value == "on"
    }
}

/// A plain input named `name` holding `value` (the consoles' forms draw theirs with it too).
pub fn input(name: &str, label: &str, kind: Kind, value: impl Into<String>, help: &str) -> Input {
    Input {
        name: name.to_string(),
        label: label.to_string(),
        kind,
        value: value.into(),
        choices: Vec::new(),
        min: String::new(),
        max: String::new(),
        step: "1",
        help: help.to_string(),
        required: false,
        error: None,
    }
}

/// The inputs about the order as a whole: billing account (`accounts`: id and name), the
/// quantity (new products only), requested completion date, the customer's reference and
/// notes.
pub fn order_inputs(
    accounts: &[(String, String)],
    with_quantity: bool,
    fields: Option<&Fields>,
) -> Vec<Input> {
    let value = |name: &str, default: &str| {
        fields
            .and_then(|f| field(f, name))
            .unwrap_or(default)
            .to_string()
    };
    let chosen = value(
        "billing_account",
        accounts.first().map_or("", |a| a.0.as_str()),
    );
    let mut billing = input(
        "billing_account",
        "Billing account",
        Kind::Select,
        chosen.clone(),
        "Where the charges are invoiced.",
    );
    billing.required = true;
    billing.choices = accounts
        .iter()
        .map(|(id, name)| Choice {
            selected: *id == chosen,
            label: format!("{name} ({id})"),
            value: id.clone(),
        })
        .collect();
    let mut inputs = vec![billing];
    if with_quantity {
        let mut q = input(
            "quantity",
            "Quantity",
            Kind::Number,
            value("quantity", "1"),
            &format!("How many, 1 to {MAX_QUANTITY}; the charges are multiplied by it."),
        );
        q.min = "1".into();
        q.max = MAX_QUANTITY.to_string();
        q.required = true;
        inputs.push(q);
    }
    inputs.push(input(
        "requested_completion_date",
        "Requested completion date",
        Kind::Date,
        value("requested_completion_date", ""),
        "Optional. When you would like it delivered; not in the past.",
    ));
    inputs.push(input(
        "external_id",
        "Your reference",
        Kind::Text,
        value("external_id", ""),
        "Optional. Your purchase order number or ticket, shown on the order.",
    ));
    inputs.push(input(
        "notes",
        "Notes",
        Kind::Area,
        value("notes", ""),
        "Optional. Anything the order desk should know.",
    ));
    inputs
}

/// A characteristic's label: its name in words (`bandwidth_mbps` → `Bandwidth mbps`).
pub fn label(name: &str) -> String {
    let words = name.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The inputs for `offering`'s characteristics, filled from `fields` when posted, else from
/// `current` (a running product's values) or the specs' defaults.
pub fn inputs(offering: &Offering, fields: Option<&Fields>, current: Option<&Value>) -> Vec<Input> {
    offering
        .characteristics()
        .iter()
        .map(|spec| characteristic_input(spec, fields, current))
        .collect()
}

fn characteristic_input(
    spec: &CharacteristicSpec,
    fields: Option<&Fields>,
    current: Option<&Value>,
) -> Input {
    let name = format!("c.{}", spec.name());
    let kind = match spec.value_type() {
        _ if !spec.allowed().is_empty() => Kind::Select,
        ValueType::Integer | ValueType::Decimal => Kind::Number,
        ValueType::Boolean => Kind::Checkbox,
        ValueType::String | ValueType::Enumeration => Kind::Text,
    };
    let value = match fields {
        Some(f) => field(f, &name).unwrap_or_default().to_string(),
        None => current
            .and_then(|c| c.get(spec.name()))
            .map(text)
            .or_else(|| spec.default().map(ToString::to_string))
            .unwrap_or_default(),
    };
    let choices = spec
        .allowed()
        .iter()
        .map(|a| Choice {
            value: a.to_string(),
            label: match spec.unit() {
                Some(u) => format!("{a} {u}"),
                None => a.to_string(),
            },
            selected: a.to_string() == value,
        })
        .collect();
    let (min, max) = spec.bounds();
    let mut help = rule_words(spec);
    if let Some(d) = spec.description() {
        help = format!("{d}. {help}");
    }
    Input {
        label: label(spec.name()),
        kind,
        choices,
        min: min.map(ToString::to_string).unwrap_or_default(),
        max: max.map(ToString::to_string).unwrap_or_default(),
        step: if spec.value_type() == ValueType::Integer {
            "1"
        } else {
            "any"
        },
        help,
        required: spec.required() && spec.value_type() != ValueType::Boolean,
        error: None,
        value,
        name,
    }
}

/// The value to send for characteristic `spec` from what the form holds: numbers that parse
/// as numbers, everything else as text, for the catalog to judge (an empty optional input is
/// left out).
fn characteristic_value(spec: &CharacteristicSpec, raw: Option<&str>) -> Option<Value> {
    let raw = raw.map(str::trim).unwrap_or_default();
    match spec.value_type() {
        ValueType::Boolean => Some(Value::Bool(raw == "on" || raw == "true")),
        _ if raw.is_empty() => None,
        ValueType::Integer => Some(
            raw.parse::<i64>()
                .map_or_else(|_| Value::String(raw.to_string()), Value::from),
        ),
        _ => Some(Value::String(raw.to_string())),
    }
}

/// What the form says about the item beside its characteristics.
pub struct ItemTerms<'a> {
    /// add, modify or delete.
    pub action: OrderAction,
    /// The running product a modify or delete changes.
    pub product: Option<&'a str>,
}

/// The API's order request from a posted form, and the form's own problems (a quantity that
/// is not a number); everything else is for placing to check.
pub fn request(
    offering: &Offering,
    terms: &ItemTerms<'_>,
    fields: &Fields,
) -> (OrderRequest, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let optional = |name: &str| {
        field(fields, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let quantity = match optional("quantity") {
        None => 1,
        Some(q) => q.parse::<i64>().unwrap_or_else(|_| {
            problems.push(l2c_orders::error::problem(
                "items[0].quantity",
                "integer",
                format!("write a whole number from 1 to {MAX_QUANTITY}"),
            ));
            1
        }),
    };
    let characteristics: BTreeMap<String, Value> = if terms.action == OrderAction::Delete {
        BTreeMap::new()
    } else {
        offering
            .characteristics()
            .iter()
            .filter_map(|spec| {
                let raw = field(fields, &format!("c.{}", spec.name()));
                Some((spec.name().to_string(), characteristic_value(spec, raw)?))
            })
            .collect()
    };
    let request = OrderRequest {
        billing_account: field(fields, "billing_account")
            .unwrap_or_default()
            .to_string(),
        external_id: optional("external_id"),
        requested_completion_date: optional("requested_completion_date"),
        notes: optional("notes"),
        items: vec![OrderItemRequest {
            action: terms.action,
            offering: offering.id().to_string(),
            version: None,
            quantity,
            characteristics,
            product: terms.product.map(str::to_string),
        }],
    };
    (request, problems)
}

/// Field problems by the form input they belong to; problems of no input (the offering, the
/// product) under `""`.
pub fn problems_by_input(problems: &[FieldProblem]) -> HashMap<String, Vec<String>> {
    let mut by_input: HashMap<String, Vec<String>> = HashMap::new();
    for p in problems {
        let path = p.path.strip_prefix("items[0].").unwrap_or(&p.path);
        let input = match path.strip_prefix("characteristics.") {
            Some(c) => format!("c.{c}"),
            None => match path {
                "quantity"
                | "billing_account"
                | "external_id"
                | "notes"
                | "requested_completion_date" => path.to_string(),
                _ => String::new(),
            },
        };
        by_input.entry(input).or_default().push(p.message.clone());
    }
    by_input
}

/// A validation error's field problems (the engine's refused input too); any other error
/// comes back as it was, for an error page.
pub fn problems_of(e: DeskError) -> Result<Vec<FieldProblem>, DeskError> {
    match e {
        DeskError::Validation(p) => Ok(p),
        DeskError::Engine(l2c_engine::EngineError::Invalid {
            field,
            rule,
            message,
        }) => Ok(vec![l2c_orders::error::problem(field, rule, message)]),
        other => Err(other),
    }
}

/// Puts each problem at the input named by its path without a list index (`groups[1]` is
/// the groups input); returns, sorted, the problems no input holds (`path: message`), for the
/// top of the form. The consoles' forms place their problems with it.
pub fn place(inputs: &mut [Input], problems: &[FieldProblem]) -> Vec<String> {
    let mut by_input: HashMap<String, Vec<String>> = HashMap::new();
    for p in problems {
        let name = p
            .path
            .split_once('[')
            .map_or(p.path.as_str(), |(head, _)| head);
        by_input
            .entry(name.to_string())
            .or_default()
            .push(p.message.clone());
    }
    let mut rest: Vec<String> = attach(inputs, by_input)
        .into_iter()
        .flat_map(|(path, messages)| {
            messages.into_iter().map(move |m| {
                if path.is_empty() {
                    m
                } else {
                    format!("{path}: {m}")
                }
            })
        })
        .collect();
    rest.sort();
    rest
}

/// Puts each problem at its input; returns the ones that belong to no characteristic input.
pub fn attach(
    inputs: &mut [Input],
    mut problems: HashMap<String, Vec<String>>,
) -> HashMap<String, Vec<String>> {
    for input in inputs.iter_mut() {
        if let Some(messages) = problems.remove(&input.name) {
            input.error = Some(messages.join("; "));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use l2c_catalog::Catalog;

    fn wan() -> Offering {
        let catalog = Catalog::builtin().unwrap_or_else(|e| panic!("catalog: {e}"));
        catalog
            .versions("wan-link")
            .last()
            .cloned()
            .unwrap_or_else(|| panic!("wan-link ships"))
    }

    fn posted(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn indexed_paths_belong_to_their_list_input() {
        let mut inputs = vec![
            input("groups", "Groups", Kind::Text, "", ""),
            input("buyer.country", "Country", Kind::Text, "", ""),
        ];
        let problem = l2c_orders::error::problem;
        let rest = place(
            &mut inputs,
            &[
                problem("groups[1]", "known", "no such group"),
                problem("buyer.country", "iso", "not a country code"),
                problem("name", "unique", "taken"),
            ],
        );
        assert_eq!(inputs[0].error.as_deref(), Some("no such group"));
        assert_eq!(inputs[1].error.as_deref(), Some("not a country code"));
        assert_eq!(rest, ["name: taken"]);
    }

    #[test]
    fn a_posted_form_becomes_the_apis_request() {
        let o = wan();
        let fields = posted(&[
            ("billing_account", "BA-1"),
            ("c.bandwidth_mbps", "100"),
            ("c.a_end_site", " FRA-001 "),
            ("c.b_end_site", ""),
            ("quantity", "2"),
            ("notes", "  "),
        ]);
        let terms = ItemTerms {
            action: OrderAction::Add,
            product: None,
        };
        let (r, problems) = request(&o, &terms, &fields);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(r.billing_account, "BA-1");
        assert_eq!(r.notes, None, "blank text is not sent");
        let item = &r.items[0];
        assert_eq!(item.quantity, 2);
        assert_eq!(
            item.characteristics.get("bandwidth_mbps"),
            Some(&Value::from(100))
        );
        assert_eq!(
            item.characteristics.get("a_end_site"),
            Some(&Value::from("FRA-001"))
        );
        assert!(
            !item.characteristics.contains_key("b_end_site"),
            "empty is left out"
        );
    }

    #[test]
    fn text_in_a_number_input_goes_to_the_catalog_as_text() {
        let o = wan();
        let fields = posted(&[("c.bandwidth_mbps", "fast"), ("quantity", "two")]);
        let terms = ItemTerms {
            action: OrderAction::Add,
            product: None,
        };
        let (r, problems) = request(&o, &terms, &fields);
        assert_eq!(
            r.items[0].characteristics.get("bandwidth_mbps"),
            Some(&Value::from("fast"))
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path, "items[0].quantity");
    }

    #[test]
    fn problems_land_at_their_inputs() {
        let problems = vec![
            l2c_orders::error::problem(
                "items[0].characteristics.bandwidth_mbps",
                "range",
                "too big",
            ),
            l2c_orders::error::problem("billing_account", "unknown", "no such account"),
            l2c_orders::error::problem("items[0].offering", "eligibility", "not for you"),
        ];
        let mut inputs = inputs(&wan(), None, None);
        let rest = attach(&mut inputs, problems_by_input(&problems));
        let bw = inputs.iter().find(|i| i.name == "c.bandwidth_mbps");
        assert_eq!(bw.and_then(|i| i.error.as_deref()), Some("too big"));
        assert_eq!(rest.get("billing_account").map(Vec::len), Some(1));
        assert_eq!(rest.get("").map(Vec::len), Some(1));
    }

    #[test]
    fn inputs_follow_the_specs() {
        let inputs = inputs(&wan(), None, None);
        let bw = inputs
            .iter()
            .find(|i| i.name == "c.bandwidth_mbps")
            .unwrap_or_else(|| panic!("bandwidth input"));
        assert!(bw.required);
        let site = inputs
            .iter()
            .find(|i| i.name == "c.a_end_site")
            .unwrap_or_else(|| panic!("site input"));
        assert_eq!(site.kind, Kind::Text);
        assert!(site.help.contains("3 capital letters"), "{}", site.help);
    }
}
