//! Turns a catalog file into checked [`Offering`]s, collecting every problem with the entry
//! it is in, so one run of `l2c catalog check` shows all the mistakes at once.

use crate::error::{CatalogError, LoadProblem};
use crate::file::{
    RawCatalog, RawCharacteristic, RawEligibility, RawOffering, RawPrice, RawPriceKind, RawTier,
};
use crate::model::{
    CharacteristicSpec, ModifySpec, Offering, OrderAction, Price, PriceAmount, PriceKind, Tier,
    TierMatch,
};
use crate::tiers::check_tiers;
use crate::value::{Value, ValueType};
use chrono::NaiveDate;
use l2c_billing::{Currency, Money};
use regex::Regex;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

#[derive(Default)]
struct Problems(Vec<LoadProblem>);

impl Problems {
    fn add(&mut self, entry: &str, message: impl Into<String>) {
        self.0.push(LoadProblem {
            entry: entry.to_owned(),
            message: message.into(),
        });
    }
}

fn is_kebab(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.ends_with('-')
}

fn is_snake(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Parses and checks `text`, read from `file`.
pub(crate) fn load(file: &str, text: &str) -> Result<Vec<Offering>, CatalogError> {
    let raw: RawCatalog = toml::from_str(text).map_err(|e| CatalogError::Syntax {
        file: file.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })?;
    let mut p = Problems::default();
    for segment in &raw.segments {
        if !is_kebab(segment) {
            p.add(
                "segments",
                format!("`{segment}` must be lower-case kebab-case"),
            );
        }
    }
    let mut seen: BTreeMap<(String, u32), usize> = BTreeMap::new();
    let mut offerings = Vec::new();
    for (index, raw_offering) in raw.offerings.into_iter().enumerate() {
        let key = (raw_offering.id.clone(), raw_offering.version);
        if let Some(first) = seen.insert(key, index) {
            p.add(
                &format!("offering `{}` v{}", raw_offering.id, raw_offering.version),
                format!(
                    "defined twice (entries {} and {}): publish a change as a new version",
                    first + 1,
                    index + 1
                ),
            );
            continue;
        }
        offerings.push(load_offering(raw_offering, &raw.segments, &mut p));
    }
    check_modify_targets(&offerings, &mut p);
    if p.0.is_empty() {
        offerings.sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
        Ok(offerings)
    } else {
        Err(CatalogError::Invalid {
            file: file.to_owned(),
            problems: p.0,
        })
    }
}

fn date(
    entry: &str,
    field: &str,
    raw: Option<toml::value::Datetime>,
    p: &mut Problems,
) -> Option<NaiveDate> {
    let raw = raw?;
    let parsed = match (raw.date, raw.time) {
        (Some(d), None) => NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into()),
        _ => None,
    };
    if parsed.is_none() {
        p.add(
            entry,
            format!("{field}: `{raw}` must be a plain date like 2026-01-31"),
        );
    }
    parsed
}

/// Builds the offering even when parts of it are wrong, so that checks across offerings
/// still run; any problem recorded makes the whole load fail.
fn load_offering(raw: RawOffering, segments: &[String], p: &mut Problems) -> Offering {
    let entry = format!("offering `{}` v{}", raw.id, raw.version);
    check_header(&entry, &raw, p);
    let valid_from = date(&entry, "valid_from", raw.valid_from, p);
    let valid_to = date(&entry, "valid_to", raw.valid_to, p);
    if let (Some(f), Some(t)) = (valid_from, valid_to) {
        if f > t {
            p.add(&entry, format!("valid_from {f} is after valid_to {t}"));
        }
    }
    check_eligibility(&entry, &raw.eligibility, segments, p);
    let characteristics = load_characteristics(&entry, &raw.characteristics, p);
    let prices = load_prices(&entry, &raw.prices, &characteristics, p);
    if prices.len() == raw.prices.len() {
        check_currency_coverage(&entry, &prices, p);
    }
    let modifies = raw.modifies.map(|m| ModifySpec {
        offering: m.offering,
        increase: m.increase,
    });
    if let Some(m) = &modifies {
        check_modifies(&entry, m, &raw.actions, &characteristics, p);
    }
    Offering {
        id: raw.id,
        version: raw.version,
        name: raw.name,
        status: raw.status,
        valid_from,
        valid_to,
        workflow: raw.workflow,
        actions: raw.actions,
        eligibility: raw.eligibility.into(),
        service: raw.service,
        characteristics,
        prices,
        modifies,
    }
}

/// The offering's id, version, name, workflow and actions.
fn check_header(entry: &str, raw: &RawOffering, p: &mut Problems) {
    if !is_kebab(&raw.id) {
        p.add(entry, "id must be lower-case kebab-case, e.g. `wan-link`");
    }
    if raw.version == 0 {
        p.add(entry, "version must be 1 or more");
    }
    if raw.name.trim().is_empty() {
        p.add(entry, "name must not be empty");
    }
    if !is_kebab(&raw.workflow) {
        p.add(
            entry,
            format!(
                "workflow `{}` must name a file under workflows/ in kebab-case",
                raw.workflow
            ),
        );
    }
    let mut actions = raw.actions.clone();
    actions.sort();
    actions.dedup();
    if actions.is_empty() || actions.len() != raw.actions.len() {
        p.add(
            entry,
            "actions must list add, modify and/or delete, each once",
        );
    }
}

/// Eligibility names known segments and real countries.
fn check_eligibility(
    entry: &str,
    eligibility: &RawEligibility,
    segments: &[String],
    p: &mut Problems,
) {
    for s in &eligibility.segments {
        if !segments.contains(s) {
            p.add(
                entry,
                format!(
                    "eligibility: segment `{s}` is not in the catalog's segments ({})",
                    segments.join(", ")
                ),
            );
        }
    }
    for c in &eligibility.countries {
        if c.len() != 2 || iso_country::Country::from_str(c).is_err() {
            p.add(
                entry,
                format!("eligibility: `{c}` is not an ISO 3166-1 alpha-2 country code"),
            );
        }
    }
}

/// A modify offering needs the modify action, and increases only numeric characteristics.
fn check_modifies(
    entry: &str,
    m: &ModifySpec,
    actions: &[OrderAction],
    characteristics: &[CharacteristicSpec],
    p: &mut Problems,
) {
    if !actions.contains(&OrderAction::Modify) {
        p.add(entry, "modifies is set, so actions must include `modify`");
    }
    for name in &m.increase {
        let numeric = characteristics
            .iter()
            .any(|c| &c.name == name && c.value_type.is_numeric());
        if !numeric {
            p.add(
                entry,
                format!(
                    "modifies.increase: `{name}` is not a numeric characteristic of this offering"
                ),
            );
        }
    }
}

/// Every currency an offering is sold in carries the same prices (by name and kind), so a
/// quote in any of them is complete rather than silently missing a charge.
fn check_currency_coverage(entry: &str, prices: &[Price], p: &mut Problems) {
    let mut currencies: Vec<Currency> = prices.iter().map(|pr| pr.currency).collect();
    currencies.sort();
    currencies.dedup();
    let mut seen = HashSet::new();
    for price in prices {
        if !seen.insert((price.name.as_str(), price.kind)) {
            continue;
        }
        let priced_in = |c: &Currency| {
            prices
                .iter()
                .any(|q| q.name == price.name && q.kind == price.kind && q.currency == *c)
        };
        for missing in currencies.iter().filter(|c| !priced_in(c)) {
            let message = format!(
                "price `{}` ({}) has no {missing} version: every currency the offering is sold in needs the same prices",
                price.name, price.kind
            );
            p.add(entry, message);
        }
    }
}

fn check_modify_targets(offerings: &[Offering], p: &mut Problems) {
    for o in offerings {
        let Some(m) = &o.modifies else { continue };
        let entry = format!("offering `{}` v{}", o.id, o.version);
        let targets: Vec<&Offering> = offerings.iter().filter(|t| t.id == m.offering).collect();
        if targets.is_empty() {
            p.add(
                &entry,
                format!("modifies: no offering `{}` in the catalog", m.offering),
            );
        }
        for t in targets {
            for name in &m.increase {
                let numeric = t.characteristic(name).map(|c| c.value_type.is_numeric());
                if numeric != Some(true) {
                    let (id, v) = (&t.id, t.version);
                    let message = format!(
                        "modifies.increase: `{id}` v{v} has no numeric characteristic `{name}`"
                    );
                    p.add(&entry, message);
                }
            }
        }
    }
}

fn load_characteristics(
    entry: &str,
    raw: &[RawCharacteristic],
    p: &mut Problems,
) -> Vec<CharacteristicSpec> {
    let mut names = HashSet::new();
    let mut specs = Vec::new();
    for c in raw {
        if !names.insert(c.name.as_str()) {
            p.add(
                entry,
                format!("characteristic `{}` is defined twice", c.name),
            );
            continue;
        }
        specs.push(load_characteristic(
            &format!("{entry}, characteristic `{}`", c.name),
            c,
            p,
        ));
    }
    specs
}

fn typed(
    entry: &str,
    field: &str,
    ty: ValueType,
    raw: Option<&toml::Value>,
    p: &mut Problems,
) -> Option<Value> {
    let raw = raw?;
    Value::parse_toml(ty, raw)
        .map_err(|e| p.add(entry, format!("{field}: {e}")))
        .ok()
}

/// The spec is returned even with problems so that prices can still be checked against it.
fn load_characteristic(entry: &str, c: &RawCharacteristic, p: &mut Problems) -> CharacteristicSpec {
    let ty = c.value_type;
    if !is_snake(&c.name) {
        p.add(
            entry,
            "name must be lower-case snake_case, e.g. `port_count`",
        );
    }
    let min = typed(entry, "min", ty, c.min.as_ref(), p);
    let max = typed(entry, "max", ty, c.max.as_ref(), p);
    if (c.min.is_some() || c.max.is_some()) && !ty.is_numeric() {
        p.add(
            entry,
            "min and max apply only to integer and decimal characteristics",
        );
    }
    if let (Some(lo), Some(hi)) = (&min, &max) {
        if lo.compare(hi) == Some(std::cmp::Ordering::Greater) {
            p.add(entry, format!("min {lo} is greater than max {hi}"));
        }
    }
    let allowed: Vec<Value> = c
        .allowed
        .iter()
        .filter_map(|v| typed(entry, "allowed", ty, Some(v), p))
        .collect();
    if ty == ValueType::Enumeration && c.allowed.is_empty() {
        p.add(entry, "an enumeration needs its allowed values");
    }
    if allowed
        .iter()
        .enumerate()
        .any(|(i, v)| allowed[..i].iter().any(|w| crate::model::same_value(v, w)))
    {
        p.add(entry, "allowed lists a value twice");
    }
    let pattern = c.pattern.as_ref().and_then(|text| {
        if ty != ValueType::String {
            p.add(entry, "pattern applies only to string characteristics");
        }
        Regex::new(&format!("^(?:{text})$"))
            .map(|re| (text.clone(), re))
            .map_err(|e| {
                p.add(
                    entry,
                    format!("pattern `{text}` does not compile: {}", regex_reason(&e)),
                )
            })
            .ok()
    });
    let mut spec = CharacteristicSpec {
        name: c.name.clone(),
        value_type: ty,
        required: c.required,
        default: None,
        min,
        max,
        allowed,
        pattern,
        unit: c.unit.clone(),
        description: c.description.clone(),
    };
    for v in spec.allowed.clone() {
        for (_, message) in spec.check(&v) {
            p.add(
                entry,
                format!("allowed value can never be ordered: {message}"),
            );
        }
    }
    spec.default = typed(entry, "default", ty, c.default.as_ref(), p);
    if let Some(d) = &spec.default {
        for (_, message) in spec.check(d) {
            p.add(
                entry,
                format!("default {d} is not a valid value: {message}"),
            );
        }
    }
    spec
}

fn load_prices(
    entry: &str,
    raw: &[RawPrice],
    specs: &[CharacteristicSpec],
    p: &mut Problems,
) -> Vec<Price> {
    if raw.is_empty() {
        p.add(entry, "needs at least one price");
    }
    let mut ids = HashSet::new();
    let mut prices = Vec::new();
    for price in raw {
        if !ids.insert(price.id.as_str()) {
            p.add(entry, format!("price `{}` is defined twice", price.id));
            continue;
        }
        if let Some(loaded) = load_price(&format!("{entry}, price `{}`", price.id), price, specs, p)
        {
            prices.push(loaded);
        }
    }
    prices
}

/// An amount from the file: exact decimal text, not negative, at the currency's minor unit.
fn amount(entry: &str, text: &str, currency: Currency, p: &mut Problems) -> Option<Money> {
    let Ok(value) = Decimal::from_str(text.trim()) else {
        p.add(
            entry,
            format!("amount `{text}` is not a decimal number (write it like \"1250.00\")"),
        );
        return None;
    };
    let money = Money::new(value, currency);
    if value.is_sign_negative() && !value.is_zero() {
        p.add(
            entry,
            format!("amount {text} is negative: prices are never negative"),
        );
        None
    } else if !money.is_rounded() {
        p.add(
            entry,
            format!(
                "amount {text} has more decimals than {currency}'s {}",
                currency.minor_units()
            ),
        );
        None
    } else {
        Some(money.round(l2c_billing::Rounding::default()))
    }
}

/// A characteristic a price reads must always have a value: required or defaulted.
fn priced_by<'a>(
    entry: &str,
    field: &str,
    name: &str,
    specs: &'a [CharacteristicSpec],
    p: &mut Problems,
) -> Option<&'a CharacteristicSpec> {
    let Some(spec) = specs.iter().find(|s| s.name == name) else {
        p.add(
            entry,
            format!("{field}: no characteristic `{name}` in this offering"),
        );
        return None;
    };
    if !spec.required && spec.default.is_none() {
        p.add(entry, format!("{field}: `{name}` must be required or have a default, or the price cannot be computed"));
    }
    Some(spec)
}

fn load_price(
    entry: &str,
    raw: &RawPrice,
    specs: &[CharacteristicSpec],
    p: &mut Problems,
) -> Option<Price> {
    let before = p.0.len();
    let currency = Currency::from_code(&raw.currency)
        .map_err(|e| p.add(entry, e.to_string()))
        .ok();
    let kind = match (raw.kind, raw.period) {
        (RawPriceKind::OneTime, None) => Some(PriceKind::OneTime),
        (RawPriceKind::Recurring, Some(f)) => Some(PriceKind::Recurring(f)),
        (RawPriceKind::OneTime, Some(_)) => {
            p.add(entry, "a one_time price has no period");
            None
        }
        (RawPriceKind::Recurring, None) => {
            p.add(
                entry,
                "a recurring price needs a period: monthly, quarterly or yearly",
            );
            None
        }
    };
    if let Some(unit) = &raw.per_unit {
        if let Some(spec) = priced_by(entry, "per_unit", unit, specs, p) {
            let min = spec.min.as_ref().and_then(Value::as_integer);
            let bounded = min.is_some_and(|m| m >= 0) && spec.max.is_some();
            if spec.value_type != ValueType::Integer || !bounded {
                let message =
                    format!("per_unit: `{unit}` must be an integer characteristic with min 0 or more and a max");
                p.add(entry, message);
            }
        }
    }
    let amount = currency.and_then(|c| price_amount(entry, raw, c, specs, p));
    if p.0.len() != before {
        return None;
    }
    Some(Price {
        id: raw.id.clone(),
        name: raw.name.clone(),
        kind: kind?,
        currency: currency?,
        amount: amount?,
        per_unit: raw.per_unit.clone(),
    })
}

fn price_amount(
    entry: &str,
    raw: &RawPrice,
    currency: Currency,
    specs: &[CharacteristicSpec],
    p: &mut Problems,
) -> Option<PriceAmount> {
    match (&raw.amount, &raw.tier_by, raw.tiers.is_empty()) {
        (Some(text), None, true) => amount(entry, text, currency, p).map(PriceAmount::Flat),
        (None, Some(by), false) => {
            let spec = priced_by(entry, "tier_by", by, specs, p)?;
            let tiers: Vec<Tier> = raw
                .tiers
                .iter()
                .enumerate()
                .filter_map(|(i, t)| {
                    load_tier(&format!("{entry}, tier {}", i + 1), t, spec, currency, p)
                })
                .collect();
            if tiers.len() == raw.tiers.len() {
                for message in check_tiers(spec, &tiers) {
                    p.add(entry, message);
                }
            }
            Some(PriceAmount::Tiered {
                by: by.clone(),
                tiers,
            })
        }
        _ => {
            p.add(entry, "give either `amount`, or `tier_by` with `tiers`");
            None
        }
    }
}

fn load_tier(
    entry: &str,
    raw: &RawTier,
    spec: &CharacteristicSpec,
    currency: Currency,
    p: &mut Problems,
) -> Option<Tier> {
    let ty = spec.value_type;
    let when = match (&raw.value, &raw.from, &raw.to) {
        (Some(v), None, None) => TierMatch::Equals(typed(entry, "value", ty, Some(v), p)?),
        (None, from, to) if (from.is_some() || to.is_some()) && ty.is_numeric() => {
            let from = typed(entry, "from", ty, from.as_ref(), p);
            let to = typed(entry, "to", ty, to.as_ref(), p);
            if let (Some(f), Some(t)) = (&from, &to) {
                if f.compare(t) == Some(std::cmp::Ordering::Greater) {
                    p.add(entry, format!("from {f} is greater than to {t}"));
                }
            }
            TierMatch::Range { from, to }
        }
        (None, Some(_), _) | (None, _, Some(_)) => {
            p.add(
                entry,
                format!(
                    "from/to ranges need a numeric characteristic; `{}` is not",
                    spec.name
                ),
            );
            return None;
        }
        _ => {
            p.add(entry, "give either `value`, or `from` and/or `to`");
            return None;
        }
    };
    let amount = amount(entry, &raw.amount, currency, p)?;
    Some(Tier { when, amount })
}

/// The last line of a regex error ("unclosed character class"), without the caret diagram.
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text.lines().last().unwrap_or_default().trim();
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}
