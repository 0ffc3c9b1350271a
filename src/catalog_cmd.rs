//! `l2c catalog check` and `l2c catalog show`: the catalog as people read it.

use anyhow::{bail, Result};
use l2c_catalog::{Catalog, CharacteristicSpec, LifecycleStatus, Offering, Price, PriceAmount};
use std::fmt::Write as _;
use std::path::Path;

/// Loads `file`, or the catalog shipped with l2c.
pub fn load(file: Option<&Path>) -> Result<Catalog> {
    Ok(match file {
        Some(path) => Catalog::from_file(path)?,
        None => Catalog::builtin()?,
    })
}

/// Checks a catalog and prints a one-line-per-offering summary.
pub fn check(file: Option<&Path>) -> Result<()> {
    let catalog = load(file)?;
    let offerings = catalog.offerings();
    let count = |s: LifecycleStatus| offerings.iter().filter(|o| o.status() == s).count();
    let prices: usize = offerings.iter().map(|o| o.prices().len()).sum();
    let mut currencies: Vec<&str> = offerings
        .iter()
        .flat_map(|o| o.currencies())
        .map(|c| c.code())
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    println!("{}: OK", catalog.source());
    println!(
        "  {} offering versions ({} active, {} retired, {} draft), {prices} prices in {}",
        offerings.len(),
        count(LifecycleStatus::Active),
        count(LifecycleStatus::Retired),
        count(LifecycleStatus::Draft),
        currencies.join(", ")
    );
    for o in offerings {
        println!(
            "  {:<34} {:<8} {:<28} {} characteristics, {} prices, workflow {}",
            format!("{} v{}", o.id(), o.version()),
            o.status(),
            o.name(),
            o.characteristics().len(),
            o.prices().len(),
            o.workflow()
        );
    }
    Ok(())
}

/// Prints offerings with their characteristics, prices and service definitions.
pub fn show(file: Option<&Path>, only: Option<&str>) -> Result<()> {
    let catalog = load(file)?;
    let chosen: Vec<&Offering> = catalog
        .offerings()
        .iter()
        .filter(|o| only.is_none_or(|id| o.id() == id))
        .collect();
    if chosen.is_empty() {
        bail!(
            "no offering `{}` in {}",
            only.unwrap_or_default(),
            catalog.source()
        );
    }
    let text: Vec<String> = chosen.into_iter().map(render_offering).collect();
    print!("{}", text.join("\n"));
    Ok(())
}

fn render_offering(o: &Offering) -> String {
    let mut s = String::new();
    let (from, to) = o.validity();
    let dates = match (from, to) {
        (Some(f), Some(t)) => format!(", {f} to {t}"),
        (Some(f), None) => format!(", from {f}"),
        (None, Some(t)) => format!(", until {t}"),
        (None, None) => String::new(),
    };
    let _ = writeln!(
        s,
        "{} v{} — {} [{}{dates}]",
        o.id(),
        o.version(),
        o.name(),
        o.status()
    );
    let actions: Vec<String> = o.actions().iter().map(ToString::to_string).collect();
    let _ = writeln!(
        s,
        "  workflow {}; accepts {}",
        o.workflow(),
        actions.join(", ")
    );
    let e = o.eligibility();
    let any = |v: &[String]| {
        if v.is_empty() {
            "any".to_owned()
        } else {
            v.join(", ")
        }
    };
    let _ = writeln!(
        s,
        "  for segments: {}; countries: {}",
        any(&e.segments),
        any(&e.countries)
    );
    if let Some(m) = o.modifies() {
        let _ = writeln!(
            s,
            "  modifies running {} (may only raise: {})",
            m.offering,
            m.increase.join(", ")
        );
    }
    render_service(&mut s, o);
    if !o.characteristics().is_empty() {
        s.push_str("  Characteristics:\n");
        for c in o.characteristics() {
            let _ = writeln!(s, "    {:<16} {}", c.name(), describe(c));
        }
    }
    s.push_str("  Prices:\n");
    for p in o.prices() {
        let _ = writeln!(s, "    {}", render_price(p));
    }
    s
}

fn render_service(s: &mut String, o: &Offering) {
    let d = o.service();
    let _ = writeln!(s, "  Service: {}", d.description);
    let _ = writeln!(s, "    includes: {}", d.includes.join("; "));
    if !d.limits.is_empty() {
        let _ = writeln!(s, "    limits: {}", d.limits.join("; "));
    }
    let _ = writeln!(
        s,
        "    lead time: {} working days; hours: {}",
        d.lead_time_days, d.service_hours
    );
    let _ = writeln!(s, "    SLA: {}", d.sla_target);
    let _ = writeln!(s, "    request: {}", d.how_to_request);
    let _ = writeln!(s, "    help: {}", d.how_to_get_help);
}

fn describe(c: &CharacteristicSpec) -> String {
    let mut parts = vec![c.value_type().to_string()];
    match (c.required(), c.default()) {
        (_, Some(d)) => parts.push(format!("default {d}")),
        (true, None) => parts.push("required".into()),
        (false, None) => parts.push("optional".into()),
    }
    if !c.allowed().is_empty() {
        let list: Vec<String> = c.allowed().iter().map(ToString::to_string).collect();
        parts.push(format!("one of {}", list.join(", ")));
    }
    let (min, max) = c.bounds();
    if min.is_some() || max.is_some() {
        let show = |v: Option<&l2c_catalog::Value>| v.map_or(String::new(), ToString::to_string);
        parts.push(format!("{}..{}", show(min), show(max)));
    }
    if let Some(p) = c.pattern() {
        parts.push(format!("pattern {p}"));
    }
    if let Some(u) = c.unit() {
        parts.push(format!("in {u}"));
    }
    parts.join(", ")
}

fn render_price(p: &Price) -> String {
    let per = p.per_unit().map_or(String::new(), |u| format!(" per {u}"));
    let amount = match p.amount() {
        PriceAmount::Flat(m) => m.to_string(),
        PriceAmount::Tiered { by, tiers } => {
            let list: Vec<String> = tiers
                .iter()
                .map(|t| format!("{} → {}", t.when, t.amount.amount()))
                .collect();
            format!("{} by {by}: {}", p.currency(), list.join(", "))
        }
    };
    format!("{:<18} {:<9} {amount}{per}", p.id(), p.kind().to_string())
}
