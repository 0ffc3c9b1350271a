//! The loaded, checked catalog model (TMF620-like): offerings with their characteristic
//! specifications, prices and service definitions. Built only by the loader, so every value
//! here has passed the load checks.

use crate::value::{Value, ValueType};
use chrono::NaiveDate;
use l2c_billing::{BillingFrequency, Currency, Money};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where an offering is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStatus {
    /// Being prepared; takes no orders.
    Draft,
    /// Orderable within its validity dates.
    Active,
    /// Takes no new orders; existing orders keep their pinned version.
    Retired,
}

impl fmt::Display for LifecycleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            LifecycleStatus::Draft => "draft",
            LifecycleStatus::Active => "active",
            LifecycleStatus::Retired => "retired",
        })
    }
}

/// What an order item does with an offering (TMF622 item action).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    /// Provide a new product.
    Add,
    /// Change a running product.
    Modify,
    /// Disconnect a running product.
    Delete,
}

impl fmt::Display for OrderAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OrderAction::Add => "add",
            OrderAction::Modify => "modify",
            OrderAction::Delete => "delete",
        })
    }
}

/// Who may order an offering; an empty list allows everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// Customer segments, e.g. `enterprise`.
    pub segments: Vec<String>,
    /// ISO 3166-1 alpha-2 country codes.
    pub countries: Vec<String>,
}

/// The service definition as ITIL describes one: what the customer gets and how to use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDefinition {
    /// What the service is, in the customer's words.
    pub description: String,
    /// What is included.
    pub includes: Vec<String>,
    /// Limits and exclusions.
    #[serde(default)]
    pub limits: Vec<String>,
    /// Working days from order acceptance to delivery.
    pub lead_time_days: u32,
    /// When the service is supported, e.g. `24x7`.
    pub service_hours: String,
    /// The service level target.
    pub sla_target: String,
    /// How to request it.
    pub how_to_request: String,
    /// How to get help.
    pub how_to_get_help: String,
}

/// A characteristic an order item sets, with its rules.
#[derive(Clone, Debug)]
pub struct CharacteristicSpec {
    pub(crate) name: String,
    pub(crate) value_type: ValueType,
    pub(crate) required: bool,
    pub(crate) default: Option<Value>,
    pub(crate) min: Option<Value>,
    pub(crate) max: Option<Value>,
    pub(crate) allowed: Vec<Value>,
    pub(crate) pattern: Option<(String, Regex)>,
    pub(crate) unit: Option<String>,
    pub(crate) description: Option<String>,
}

impl CharacteristicSpec {
    /// The characteristic's name, e.g. `bandwidth_mbps`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Its value type.
    pub fn value_type(&self) -> ValueType {
        self.value_type
    }
    /// Whether an item must set it (when it has no default).
    pub fn required(&self) -> bool {
        self.required
    }
    /// The value used when an item leaves it out.
    pub fn default(&self) -> Option<&Value> {
        self.default.as_ref()
    }
    /// The permitted values, if the characteristic has a fixed list.
    pub fn allowed(&self) -> &[Value] {
        &self.allowed
    }
    /// The unit of measure, e.g. `Mbit/s`.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }
    /// A human description.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// Inclusive bounds for numeric characteristics.
    pub fn bounds(&self) -> (Option<&Value>, Option<&Value>) {
        (self.min.as_ref(), self.max.as_ref())
    }
    /// The full-match pattern for strings, as written in the catalog.
    pub fn pattern(&self) -> Option<&str> {
        self.pattern.as_ref().map(|(text, _)| text.as_str())
    }

    /// Every rule `value` breaks, each as `(rule, message)`.
    pub fn check(&self, value: &Value) -> Vec<(&'static str, String)> {
        let mut broken = Vec::new();
        if let Some(min) = &self.min {
            if value.compare(min) == Some(std::cmp::Ordering::Less) {
                broken.push(("minimum", format!("{value} is below the minimum {min}")));
            }
        }
        if let Some(max) = &self.max {
            if value.compare(max) == Some(std::cmp::Ordering::Greater) {
                broken.push(("maximum", format!("{value} is above the maximum {max}")));
            }
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| same_value(a, value)) {
            let list: Vec<String> = self.allowed.iter().map(Value::to_string).collect();
            broken.push((
                "allowed_values",
                format!("{value} is not one of {}", list.join(", ")),
            ));
        }
        if let (Some((text, re)), Value::String(s)) = (&self.pattern, value) {
            if !re.is_match(s) {
                broken.push((
                    "pattern",
                    format!("{s:?} does not match the pattern {text}"),
                ));
            }
        }
        broken
    }
}

/// Numeric equality across integer and decimal, plain equality otherwise.
pub(crate) fn same_value(a: &Value, b: &Value) -> bool {
    a.compare(b)
        .map_or(a == b, |o| o == std::cmp::Ordering::Equal)
}

/// Whether a price is charged once or every period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "period")]
pub enum PriceKind {
    /// A non-recurring charge, e.g. installation.
    OneTime,
    /// A charge billed in advance each period.
    Recurring(BillingFrequency),
}

impl fmt::Display for PriceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceKind::OneTime => f.write_str("one-time"),
            PriceKind::Recurring(freq) => write!(f, "{freq}"),
        }
    }
}

/// Which values of the tiering characteristic a tier covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TierMatch {
    /// Exactly this value.
    Equals(Value),
    /// Numeric values in `from..=to`; an open end is unbounded.
    Range {
        /// Lowest value covered, inclusive.
        from: Option<Value>,
        /// Highest value covered, inclusive.
        to: Option<Value>,
    },
}

impl TierMatch {
    /// Whether `value` falls in this tier.
    pub fn matches(&self, value: &Value) -> bool {
        use std::cmp::Ordering::{Greater, Less};
        match self {
            TierMatch::Equals(v) => same_value(v, value),
            TierMatch::Range { from, to } => {
                let above = from
                    .as_ref()
                    .is_none_or(|f| value.compare(f).is_some_and(|o| o != Less));
                let below = to
                    .as_ref()
                    .is_none_or(|t| value.compare(t).is_some_and(|o| o != Greater));
                above && below
            }
        }
    }
}

impl fmt::Display for TierMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TierMatch::Equals(v) => write!(f, "{v}"),
            TierMatch::Range { from, to } => {
                let show = |v: &Option<Value>| v.as_ref().map_or(String::new(), Value::to_string);
                write!(f, "{}..{}", show(from), show(to))
            }
        }
    }
}

/// One tier of a tiered price.
#[derive(Clone, Debug)]
pub struct Tier {
    /// The values it covers.
    pub when: TierMatch,
    /// The amount for one unit in this tier.
    pub amount: Money,
}

/// How a price's amount is found.
#[derive(Clone, Debug)]
pub enum PriceAmount {
    /// The same amount for every item.
    Flat(Money),
    /// The first tier whose range holds the characteristic `by`.
    Tiered {
        /// The characteristic that picks the tier.
        by: String,
        /// The tiers, in file order.
        tiers: Vec<Tier>,
    },
}

/// A product offering price (TMF620 ProductOfferingPrice).
#[derive(Clone, Debug)]
pub struct Price {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) kind: PriceKind,
    pub(crate) currency: Currency,
    pub(crate) amount: PriceAmount,
    pub(crate) per_unit: Option<String>,
}

impl Price {
    /// The price's id within its offering.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// A human name, e.g. `Installation`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// One-time or recurring.
    pub fn kind(&self) -> PriceKind {
        self.kind
    }
    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }
    /// Flat or tiered amount.
    pub fn amount(&self) -> &PriceAmount {
        &self.amount
    }
    /// The integer characteristic the amount is multiplied by (e.g. `port_count`).
    pub fn per_unit(&self) -> Option<&str> {
        self.per_unit.as_deref()
    }
}

/// What a modify offering changes on a running product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModifySpec {
    /// The offering whose running products this one changes.
    pub offering: String,
    /// Characteristics that may only go up (an upgrade).
    pub increase: Vec<String>,
}

/// A versioned product offering (TMF620 ProductOffering with its ProductSpecification).
#[derive(Clone, Debug)]
pub struct Offering {
    pub(crate) id: String,
    pub(crate) version: u32,
    pub(crate) name: String,
    pub(crate) status: LifecycleStatus,
    pub(crate) valid_from: Option<NaiveDate>,
    pub(crate) valid_to: Option<NaiveDate>,
    pub(crate) workflow: String,
    pub(crate) actions: Vec<OrderAction>,
    pub(crate) eligibility: Eligibility,
    pub(crate) service: ServiceDefinition,
    pub(crate) characteristics: Vec<CharacteristicSpec>,
    pub(crate) prices: Vec<Price>,
    pub(crate) modifies: Option<ModifySpec>,
}

impl Offering {
    /// The offering id, e.g. `wan-link`.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// The version number.
    pub fn version(&self) -> u32 {
        self.version
    }
    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Lifecycle status.
    pub fn status(&self) -> LifecycleStatus {
        self.status
    }
    /// First and last day the offering can be ordered (inclusive), if limited.
    pub fn validity(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        (self.valid_from, self.valid_to)
    }
    /// The workflow (a file name under `workflows/`, without `.toml`).
    pub fn workflow(&self) -> &str {
        &self.workflow
    }
    /// The order actions it accepts.
    pub fn actions(&self) -> &[OrderAction] {
        &self.actions
    }
    /// Who may order it.
    pub fn eligibility(&self) -> &Eligibility {
        &self.eligibility
    }
    /// The ITIL service definition.
    pub fn service(&self) -> &ServiceDefinition {
        &self.service
    }
    /// Its characteristic specifications.
    pub fn characteristics(&self) -> &[CharacteristicSpec] {
        &self.characteristics
    }
    /// One characteristic by name.
    pub fn characteristic(&self, name: &str) -> Option<&CharacteristicSpec> {
        self.characteristics.iter().find(|c| c.name == name)
    }
    /// Its prices.
    pub fn prices(&self) -> &[Price] {
        &self.prices
    }
    /// What it modifies, for modify offerings.
    pub fn modifies(&self) -> Option<&ModifySpec> {
        self.modifies.as_ref()
    }
    /// The currencies it is priced in.
    pub fn currencies(&self) -> Vec<Currency> {
        let mut c: Vec<Currency> = self.prices.iter().map(|p| p.currency).collect();
        c.sort();
        c.dedup();
        c
    }
    /// Reads stored characteristic values (a JSON object, e.g. a running product's) back as
    /// typed values by this offering's specifications; names it does not specify are left
    /// out. A value of the wrong type is an error naming the characteristic.
    pub fn typed_characteristics(
        &self,
        stored: &serde_json::Value,
    ) -> Result<std::collections::BTreeMap<String, Value>, String> {
        let mut typed = std::collections::BTreeMap::new();
        for spec in &self.characteristics {
            if let Some(raw) = stored.get(&spec.name) {
                let value = Value::parse(spec.value_type, raw)
                    .map_err(|e| format!("characteristic `{}`: {e}", spec.name))?;
                typed.insert(spec.name.clone(), value);
            }
        }
        Ok(typed)
    }

    /// Whether it takes new orders on `date`.
    pub fn orderable_on(&self, date: NaiveDate) -> bool {
        self.status == LifecycleStatus::Active
            && self.valid_from.is_none_or(|f| f <= date)
            && self.valid_to.is_none_or(|t| date <= t)
    }
}
