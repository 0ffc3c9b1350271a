//! Loading catalog files: the shipped one loads, broken ones are refused with every problem
//! named by file and entry.

use l2c_catalog::{Catalog, CatalogError};

fn problems(text: &str) -> Vec<String> {
    match Catalog::from_toml("broken.toml", text) {
        Err(CatalogError::Invalid { file, problems }) => {
            assert_eq!(file, "broken.toml");
            problems.iter().map(ToString::to_string).collect()
        }
        Err(other) => panic!("expected rule problems, got {other}"),
        Ok(_) => panic!("a broken catalog loaded"),
    }
}

#[test]
fn the_shipped_catalog_loads() {
    let c = Catalog::builtin().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.offerings().len(), 6);
}

#[test]
fn every_mistake_is_reported_with_its_entry() {
    let found = problems(include_str!("fixtures/broken.toml"));
    let expected = [
        "offering `wan-link` v1: eligibility: segment `consumer` is not in the catalog's segments (enterprise)",
        "offering `wan-link` v1: eligibility: `XX` is not an ISO 3166-1 alpha-2 country code",
        "offering `wan-link` v1, characteristic `site`: pattern `[A-Z{3}` does not compile",
        "offering `wan-link` v1, price `service`: currency `EUX` is not an ISO 4217 code with a minor unit (e.g. EUR, USD, JPY)",
        "offering `wan-link` v1, price `install`: tier 2 (250) can never apply: no allowed value of `bandwidth_mbps` falls in it",
        "offering `wan-link` v1, price `install`: no tier covers `bandwidth_mbps` = 1000: an item with it could not be priced",
        "offering `wan-link` v1, price `router`: amount 12.345 has more decimals than EUR's 2",
        "offering `wan-link` v1: defined twice (entries 1 and 2): publish a change as a new version",
        "offering `lan-setup` v1, characteristic `port_count`: default 0 is not a valid value: 0 is below the minimum 1",
        "offering `lan-setup` v1, price `ports`: per_unit: `speed` must be an integer characteristic with min 0 or more",
        "offering `lan-setup` v1, price `bands`: tier 2 (50..200) overlaps tier 1 (1..100): numeric tiers must not overlap",
        "offering `lan-setup` v1, price `bands`: tier 3 (500..) can never apply: it lies outside `port_count`'s range 1..480",
        "offering `upgrade` v1, price `fee`: a one_time price has no period",
        "offering `upgrade` v1, price `fee`: tier_by: no characteristic `colour` in this offering",
        "offering `upgrade` v1: modifies: no offering `moon-link` in the catalog",
    ];
    for e in expected {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing: {e}\nfound:\n{}",
            found.join("\n")
        );
    }
    assert_eq!(found.len(), expected.len(), "found:\n{}", found.join("\n"));
}

#[test]
fn unreachable_and_missing_tiers_are_refused() {
    let base = include_str!("../catalog.toml");
    let unreachable = base.replacen(
        "{ value = 10, amount = \"195.00\" },",
        "{ value = 10, amount = \"195.00\" },\n  { value = 250, amount = \"600.00\" },",
        1,
    );
    let found = problems(&unreachable);
    assert_eq!(
        found,
        ["offering `wan-link` v2, price `service`: tier 2 (250) can never apply: no allowed value of `bandwidth_mbps` falls in it"]
    );
    let uncovered = base.replacen("  { value = 10000, amount = \"3950.00\" },\n", "", 1);
    let found = problems(&uncovered);
    assert_eq!(
        found,
        ["offering `wan-link` v2, price `service`: no tier covers `bandwidth_mbps` = 10000: an item with it could not be priced"]
    );
    let shadowed = base.replacen(
        "{ value = 10000, amount = \"1450.00\" },",
        "{ value = 10000, amount = \"1450.00\" },\n  { value = 500, amount = \"9.00\" },",
        1,
    );
    let found = problems(&shadowed);
    assert_eq!(
        found,
        ["offering `bandwidth-upgrade` v1, price `reconfiguration`: tier 3 (500) can never apply: every value it covers is taken by an earlier tier"]
    );
}

#[test]
fn syntax_errors_and_unknown_keys_name_the_line() {
    let err = Catalog::from_toml("x.toml", "[[offering]]\nid = \"a\"\nversion = \n")
        .expect_err("bad toml");
    assert!(matches!(err, CatalogError::Syntax { .. }));
    assert!(
        err.to_string()
            .starts_with("x.toml: TOML parse error at line 3"),
        "{err}"
    );
    let typo = include_str!("../catalog.toml").replacen("lead_time_days = 30", "lead_time = 30", 1);
    let err = Catalog::from_toml("x.toml", &typo).expect_err("unknown key");
    assert!(
        err.to_string().contains("unknown field `lead_time`"),
        "{err}"
    );
    let float =
        include_str!("../catalog.toml").replacen("amount = \"650.00\"", "amount = 650.00", 1);
    let err = Catalog::from_toml("x.toml", &float).expect_err("float amount");
    assert!(err.to_string().contains("expected a string"), "{err}");
}

#[test]
fn every_currency_carries_the_same_prices_and_per_unit_is_bounded() {
    let base = include_str!("../catalog.toml");
    let start = base.find("id = \"sla-premium-usd\"").expect("usd price");
    let block_start = base[..start].rfind("[[offering.price]]").expect("block");
    let block_end = start + base[start..].find("]\n").expect("tiers end") + 2;
    let eur_only = format!("{}{}", &base[..block_start], &base[block_end..]);
    assert_eq!(
        problems(&eur_only),
        ["offering `wan-link` v2: price `Premium SLA` (monthly) has no USD version: every currency the offering is sold in needs the same prices"]
    );
    let unbounded = base.replacen("min = 1\nmax = 480\n", "min = 1\n", 1);
    let found = problems(&unbounded);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|f| f.ends_with("must be an integer characteristic with min 0 or more and a max")),
        "{found:?}"
    );
}
