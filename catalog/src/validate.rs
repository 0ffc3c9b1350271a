//! Validation of an order item against its offering: every problem at once, each with the
//! path of the field and the rule it broke.

use crate::catalog::Catalog;
use crate::error::Problem;
use crate::model::{Eligibility, LifecycleStatus, Offering, OrderAction};
use crate::value::Value;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most units one item may order; larger orders are split or quoted by hand.
pub const MAX_QUANTITY: i64 = 9_999;

fn one() -> i64 {
    1
}

/// An order item as a requester sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// The offering id, e.g. `wan-link`.
    pub offering: String,
    /// A version to pin; the newest orderable version when absent.
    #[serde(default)]
    pub version: Option<u32>,
    /// add, modify or delete.
    pub action: OrderAction,
    /// How many (default 1).
    #[serde(default = "one")]
    pub quantity: i64,
    /// Characteristic values by name.
    #[serde(default)]
    pub characteristics: BTreeMap<String, serde_json::Value>,
}

/// Who orders and when: what eligibility and validity dates are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderContext {
    /// The customer's segment, e.g. `enterprise`.
    pub segment: String,
    /// The customer's country (ISO 3166-1 alpha-2).
    pub country: String,
    /// The order date.
    pub date: NaiveDate,
}

/// An item that passed validation, pinned to the offering version it was checked against,
/// with defaults filled in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidItem {
    /// The offering id.
    pub offering: String,
    /// The pinned version.
    pub version: u32,
    /// add, modify or delete.
    pub action: OrderAction,
    /// How many, 1..=[`MAX_QUANTITY`].
    pub quantity: u32,
    /// Every characteristic with a value, typed.
    pub characteristics: BTreeMap<String, Value>,
}

struct Report<'a> {
    path: &'a str,
    problems: Vec<Problem>,
}

impl Report<'_> {
    fn add(&mut self, field: &str, rule: &'static str, message: impl Into<String>) {
        let path = if field.is_empty() {
            self.path.to_owned()
        } else {
            format!("{}.{field}", self.path)
        };
        self.problems.push(Problem {
            path,
            rule,
            message: message.into(),
        });
    }
}

impl Catalog {
    /// The offering version an item orders on `date`: the pinned one, or the newest orderable.
    /// A version that takes no orders is still returned (with a problem recorded) so that the
    /// rest of the item is checked too.
    fn resolve<'a>(
        &'a self,
        item: &'a ItemRequest,
        date: NaiveDate,
        r: &mut Report<'_>,
    ) -> Option<&'a Offering> {
        let mut versions = self.versions(&item.offering).peekable();
        if versions.peek().is_none() {
            r.add(
                "offering",
                "unknown_offering",
                format!("`{}` is not in the catalog", item.offering),
            );
            return None;
        }
        let chosen = match item.version {
            Some(v) => self.get(&item.offering, v),
            None => self
                .versions(&item.offering)
                .filter(|o| o.orderable_on(date))
                .last()
                .or_else(|| versions.last()),
        };
        let Some(offering) = chosen else {
            r.add(
                "version",
                "unknown_version",
                format!(
                    "`{}` has no version {}",
                    item.offering,
                    item.version.unwrap_or(0)
                ),
            );
            return None;
        };
        let (from, to) = offering.validity();
        let why = match offering.status() {
            LifecycleStatus::Retired => Some("is retired and takes no new orders".to_owned()),
            LifecycleStatus::Draft => Some("is a draft and takes no orders yet".to_owned()),
            LifecycleStatus::Active => match (from, to) {
                (Some(f), _) if date < f => Some(format!("can be ordered from {f}")),
                (_, Some(t)) if date > t => Some(format!("could be ordered until {t}")),
                _ => None,
            },
        };
        if let Some(why) = why {
            let version = offering.version();
            r.add(
                "offering",
                "lifecycle",
                format!("`{}` v{version} {why}", offering.id()),
            );
        }
        Some(offering)
    }

    /// Checks `item` (at `path`, e.g. `items[0]`) for `ctx`. For a modify of a running
    /// product, `current` holds that product's characteristics, so "increase only" rules
    /// can be checked; the order layer passes it.
    pub fn validate_item(
        &self,
        path: &str,
        item: &ItemRequest,
        ctx: &OrderContext,
        current: Option<&BTreeMap<String, Value>>,
    ) -> Result<ValidItem, Vec<Problem>> {
        let mut r = Report {
            path,
            problems: Vec::new(),
        };
        let Some(offering) = self.resolve(item, ctx.date, &mut r) else {
            return Err(r.problems);
        };
        check_terms(offering, item, ctx, &mut r);
        let characteristics = if item.action == OrderAction::Delete {
            for name in item.characteristics.keys() {
                let message =
                    "a delete disconnects the running product and takes no characteristics";
                r.add(
                    &format!("characteristics.{name}"),
                    "delete_characteristics",
                    message,
                );
            }
            BTreeMap::new()
        } else {
            check_characteristics(offering, item, &mut r)
        };
        if let (Some(m), Some(current)) = (offering.modifies(), current) {
            check_increase(&m.increase, &characteristics, current, &mut r);
        }
        if !r.problems.is_empty() {
            return Err(r.problems);
        }
        Ok(ValidItem {
            offering: offering.id().to_owned(),
            version: offering.version(),
            action: item.action,
            quantity: u32::try_from(item.quantity).unwrap_or(1),
            characteristics,
        })
    }
}

impl Eligibility {
    /// Whether customers of `segment` may order (an empty list admits every segment).
    pub fn admits_segment(&self, segment: &str) -> bool {
        self.segments.is_empty() || self.segments.iter().any(|s| s == segment)
    }

    /// Whether customers in `country` may order (an empty list admits every country).
    pub fn admits_country(&self, country: &str) -> bool {
        self.countries.is_empty() || self.countries.iter().any(|c| c == country)
    }
}

impl Catalog {
    /// What a customer may order: for each offering id, the newest version that takes orders
    /// on the context's date and whose eligibility admits the customer, in id order. This is
    /// the rule [`Catalog::validate_item`] applies to an item without a pinned version.
    pub fn orderable(&self, ctx: &OrderContext) -> Vec<&Offering> {
        let mut ids: Vec<&str> = self.offerings().iter().map(Offering::id).collect();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| {
                let newest = self
                    .versions(id)
                    .filter(|o| o.orderable_on(ctx.date))
                    .last()?;
                let e = newest.eligibility();
                (e.admits_segment(&ctx.segment) && e.admits_country(&ctx.country)).then_some(newest)
            })
            .collect()
    }
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

fn check_terms(offering: &Offering, item: &ItemRequest, ctx: &OrderContext, r: &mut Report<'_>) {
    if !offering.actions().contains(&item.action) {
        let accepted: Vec<String> = offering.actions().iter().map(ToString::to_string).collect();
        r.add(
            "action",
            "action",
            format!(
                "`{}` does not accept `{}` (accepts {})",
                offering.id(),
                item.action,
                list(&accepted)
            ),
        );
    }
    if !(1..=MAX_QUANTITY).contains(&item.quantity) {
        r.add(
            "quantity",
            "quantity",
            format!("{} is outside 1..={MAX_QUANTITY}", item.quantity),
        );
    }
    let e = offering.eligibility();
    if !e.admits_segment(&ctx.segment) {
        r.add(
            "offering",
            "eligibility",
            format!(
                "`{}` is not available to the `{}` segment (available to {})",
                offering.id(),
                ctx.segment,
                list(&e.segments)
            ),
        );
    }
    if !e.admits_country(&ctx.country) {
        r.add(
            "offering",
            "eligibility",
            format!(
                "`{}` is not available in {} (available in {})",
                offering.id(),
                ctx.country,
                list(&e.countries)
            ),
        );
    }
}

fn check_characteristics(
    offering: &Offering,
    item: &ItemRequest,
    r: &mut Report<'_>,
) -> BTreeMap<String, Value> {
    let mut values = BTreeMap::new();
    for name in item.characteristics.keys() {
        if offering.characteristic(name).is_none() {
            let known: Vec<String> = offering
                .characteristics()
                .iter()
                .map(|c| c.name().to_owned())
                .collect();
            r.add(
                &format!("characteristics.{name}"),
                "unknown_characteristic",
                format!(
                    "`{}` has no characteristic `{name}` (it has {})",
                    offering.id(),
                    list(&known)
                ),
            );
        }
    }
    for spec in offering.characteristics() {
        let field = format!("characteristics.{}", spec.name());
        let value = match item.characteristics.get(spec.name()) {
            Some(raw) => match Value::parse(spec.value_type(), raw) {
                Ok(v) => v,
                Err(message) => {
                    r.add(&field, "type", message);
                    continue;
                }
            },
            None => match spec.default() {
                Some(d) => d.clone(),
                None if spec.required() => {
                    r.add(&field, "required", "is required");
                    continue;
                }
                None => continue,
            },
        };
        for (rule, message) in spec.check(&value) {
            r.add(&field, rule, message);
        }
        values.insert(spec.name().to_owned(), value);
    }
    values
}

fn check_increase(
    names: &[String],
    new: &BTreeMap<String, Value>,
    current: &BTreeMap<String, Value>,
    r: &mut Report<'_>,
) {
    for name in names {
        if let (Some(n), Some(c)) = (new.get(name), current.get(name)) {
            if n.compare(c) != Some(std::cmp::Ordering::Greater) {
                r.add(
                    &format!("characteristics.{name}"),
                    "increase_only",
                    format!("{n} is not an upgrade of the current {c}"),
                );
            }
        }
    }
}
