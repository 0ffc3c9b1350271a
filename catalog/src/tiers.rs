//! Load-time checks of a tiered price against its characteristic: every tier must be
//! reachable by some permitted value, and every permitted value must find a tier.
//!
//! Tiers are tried in file order and the first match wins. For a characteristic with a fixed
//! list of values (allowed values, or a boolean) both rules are checked value by value. For an
//! open numeric range, tiers must not overlap and must meet the range; for integers the range
//! must also be covered without gaps. Open decimal and string domains cannot be enumerated, so
//! an uncovered value there is reported when an item is quoted.

use crate::model::{CharacteristicSpec, Tier, TierMatch};
use crate::value::{Value, ValueType};
use rust_decimal::Decimal;

/// Every problem with `tiers` as tiers over `spec`, as messages naming the tier.
pub(crate) fn check_tiers(spec: &CharacteristicSpec, tiers: &[Tier]) -> Vec<String> {
    let finite: Option<Vec<Value>> = if !spec.allowed.is_empty() {
        Some(spec.allowed.clone())
    } else if spec.value_type == ValueType::Boolean {
        Some(vec![Value::Boolean(true), Value::Boolean(false)])
    } else {
        None
    };
    match finite {
        Some(values) => check_finite(spec, tiers, &values),
        None if spec.value_type.is_numeric() => check_numeric(spec, tiers),
        None => check_strings(spec, tiers),
    }
}

fn check_finite(spec: &CharacteristicSpec, tiers: &[Tier], values: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, tier) in tiers.iter().enumerate() {
        let matched: Vec<&Value> = values.iter().filter(|v| tier.when.matches(v)).collect();
        let earlier = &tiers[..i];
        let fresh = matched
            .iter()
            .any(|v| !earlier.iter().any(|t| t.when.matches(v)));
        if matched.is_empty() {
            problems.push(format!(
                "tier {} ({}) can never apply: no allowed value of `{}` falls in it",
                i + 1,
                tier.when,
                spec.name
            ));
        } else if !fresh {
            problems.push(format!(
                "tier {} ({}) can never apply: every value it covers is taken by an earlier tier",
                i + 1,
                tier.when
            ));
        }
    }
    for v in values {
        if !tiers.iter().any(|t| t.when.matches(v)) {
            problems.push(format!(
                "no tier covers `{}` = {v}: an item with it could not be priced",
                spec.name
            ));
        }
    }
    problems
}

/// A tier as an inclusive interval; `None` is unbounded.
fn interval(when: &TierMatch) -> (Option<Decimal>, Option<Decimal>) {
    match when {
        TierMatch::Equals(v) => (v.as_decimal(), v.as_decimal()),
        TierMatch::Range { from, to } => (
            from.as_ref().and_then(Value::as_decimal),
            to.as_ref().and_then(Value::as_decimal),
        ),
    }
}

fn meets(a: (Option<Decimal>, Option<Decimal>), b: (Option<Decimal>, Option<Decimal>)) -> bool {
    let below = |lo: Option<Decimal>, hi: Option<Decimal>| match (lo, hi) {
        (Some(lo), Some(hi)) => lo <= hi,
        _ => true,
    };
    below(a.0, b.1) && below(b.0, a.1)
}

fn check_numeric(spec: &CharacteristicSpec, tiers: &[Tier]) -> Vec<String> {
    let mut problems = Vec::new();
    let domain = (
        spec.min.as_ref().and_then(Value::as_decimal),
        spec.max.as_ref().and_then(Value::as_decimal),
    );
    for (i, tier) in tiers.iter().enumerate() {
        let span = interval(&tier.when);
        if !meets(span, domain) {
            problems.push(format!(
                "tier {} ({}) can never apply: it lies outside `{}`'s range {}..{}",
                i + 1,
                tier.when,
                spec.name,
                domain.0.map_or(String::new(), |d| d.to_string()),
                domain.1.map_or(String::new(), |d| d.to_string()),
            ));
        }
        if let Some(j) = tiers[..i]
            .iter()
            .position(|t| meets(interval(&t.when), span))
        {
            problems.push(format!(
                "tier {} ({}) overlaps tier {} ({}): numeric tiers must not overlap",
                i + 1,
                tier.when,
                j + 1,
                tiers[j].when
            ));
        }
    }
    if spec.value_type == ValueType::Integer && problems.is_empty() {
        if let Some(gap) = integer_gap(domain, tiers) {
            problems.push(format!(
                "no tier covers `{}` = {gap}: an item with it could not be priced",
                spec.name
            ));
        }
    }
    problems
}

/// The first integer of the domain that no tier covers, if any (tiers do not overlap).
fn integer_gap(domain: (Option<Decimal>, Option<Decimal>), tiers: &[Tier]) -> Option<String> {
    let to_i = |d: Decimal| i128::try_from(d).unwrap_or(i128::MAX);
    let lo = domain.0.map_or(i128::from(i64::MIN), to_i);
    let hi = domain.1.map_or(i128::from(i64::MAX), to_i);
    let mut spans: Vec<(i128, i128)> = tiers
        .iter()
        .map(|t| {
            let (a, b) = interval(&t.when);
            (a.map_or(lo, to_i).max(lo), b.map_or(hi, to_i).min(hi))
        })
        .filter(|(a, b)| a <= b)
        .collect();
    spans.sort();
    let mut next = lo;
    for (a, b) in spans {
        if a > next {
            return Some(next.to_string());
        }
        next = next.max(b + 1);
    }
    (next <= hi).then(|| next.to_string())
}

fn check_strings(spec: &CharacteristicSpec, tiers: &[Tier]) -> Vec<String> {
    let mut problems = Vec::new();
    for (i, tier) in tiers.iter().enumerate() {
        if let TierMatch::Equals(v) = &tier.when {
            for (_, message) in spec.check(v) {
                problems.push(format!("tier {} can never apply: {message}", i + 1));
            }
            if tiers[..i].iter().any(|t| t.when == tier.when) {
                problems.push(format!("tier {} ({v}) repeats an earlier tier", i + 1));
            }
        }
    }
    problems
}
