//! Tests of loading, validating and quoting against the shipped catalog.

use crate::*;
use chrono::NaiveDate;
use rust_decimal_macros::dec;
use serde_json::json;

fn builtin() -> Catalog {
    Catalog::builtin().unwrap_or_else(|e| panic!("the shipped catalog must load: {e}"))
}

fn ctx() -> OrderContext {
    OrderContext {
        segment: "enterprise".into(),
        country: "DE".into(),
        date: NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date"),
    }
}

fn item(offering: &str, chars: serde_json::Value) -> ItemRequest {
    serde_json::from_value(json!({"offering": offering, "action": "add", "characteristics": chars}))
        .expect("well-formed item")
}

fn eur() -> l2c_billing::Currency {
    l2c_billing::Currency::from_code("EUR").expect("known")
}

#[test]
fn shipped_catalog_has_the_required_offerings() {
    let c = builtin();
    for id in [
        "wan-link",
        "lan-setup",
        "bandwidth-upgrade",
        "network-element-replacement",
    ] {
        assert!(
            c.versions(id).any(|o| o.orderable_on(ctx().date)),
            "{id} is orderable"
        );
    }
    let wan = c.get("wan-link", 2).expect("wan-link v2");
    let bw = wan.characteristic("bandwidth_mbps").expect("bandwidth");
    let allowed: Vec<String> = bw.allowed().iter().map(ToString::to_string).collect();
    assert_eq!(allowed, ["10", "50", "100", "500", "1000", "10000"]);
}

#[test]
fn reports_every_problem_with_its_path() {
    let c = builtin();
    let bad = item(
        "wan-link",
        json!({"bandwidth_mbps": 250, "a_end_site": "frankfurt", "colour": "red", "sla_class": "gold"}),
    );
    let problems = c
        .validate_item("items[0]", &bad, &ctx(), None)
        .expect_err("invalid");
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "items[0].characteristics.colour: `wan-link` has no characteristic `colour` (it has bandwidth_mbps, a_end_site, b_end_site, sla_class)",
            "items[0].characteristics.bandwidth_mbps: 250 is not one of 10, 50, 100, 500, 1000, 10000",
            "items[0].characteristics.a_end_site: \"frankfurt\" does not match the pattern [A-Z]{3}-[0-9]{3}",
            "items[0].characteristics.b_end_site: is required",
            "items[0].characteristics.sla_class: gold is not one of standard, premium",
        ]
    );
    let rules: Vec<&str> = problems.iter().map(|p| p.rule).collect();
    assert_eq!(
        rules,
        [
            "unknown_characteristic",
            "allowed_values",
            "pattern",
            "required",
            "allowed_values"
        ]
    );
}

#[test]
fn type_quantity_action_and_eligibility_problems() {
    let c = builtin();
    let mut bad = item(
        "lan-setup",
        json!({"site": "FRA-001", "port_count": "24", "poe": 1}),
    );
    bad.quantity = 0;
    bad.action = OrderAction::Modify;
    let ctx = OrderContext {
        segment: "wholesale".into(),
        country: "US".into(),
        ..ctx()
    };
    let problems = c
        .validate_item("items[2]", &bad, &ctx, None)
        .expect_err("invalid");
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "items[2].action: `lan-setup` does not accept `modify` (accepts add, delete)",
            "items[2].quantity: 0 is outside 1..=9999",
            "items[2].offering: `lan-setup` is not available to the `wholesale` segment (available to enterprise, public-sector, smb)",
            "items[2].offering: `lan-setup` is not available in US (available in DE, AT, CH, FR, NL, BE, GB)",
            "items[2].characteristics.port_count: expected an integer, got the string \"24\"",
            "items[2].characteristics.poe: expected true or false, got 1",
        ]
    );
}

#[test]
fn lifecycle_refuses_retired_draft_and_unknown_offerings() {
    let c = builtin();
    let mut old = item(
        "wan-link",
        json!({"bandwidth_mbps": 10, "a_end_site": "FRA-001", "b_end_site": "MUC-001"}),
    );
    old.version = Some(1);
    let p = c
        .validate_item("items[0]", &old, &ctx(), None)
        .expect_err("retired");
    assert_eq!(
        p[0].to_string(),
        "items[0].offering: `wan-link` v1 is retired and takes no new orders"
    );
    let draft = item("sd-wan-edge", json!({}));
    let p = c
        .validate_item("items[0]", &draft, &ctx(), None)
        .expect_err("draft");
    assert_eq!(p[0].rule, "lifecycle");
    let unknown = item("moon-link", json!({}));
    let p = c
        .validate_item("items[0]", &unknown, &ctx(), None)
        .expect_err("unknown");
    assert_eq!(
        p[0].to_string(),
        "items[0].offering: `moon-link` is not in the catalog"
    );
    let mut missing = item("lan-setup", json!({}));
    missing.version = Some(9);
    let p = c
        .validate_item("items[0]", &missing, &ctx(), None)
        .expect_err("no such version");
    assert_eq!(p[0].path, "items[0].version");
    let early = OrderContext {
        date: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"),
        ..ctx()
    };
    let v2 = item(
        "wan-link",
        json!({"bandwidth_mbps": 10, "a_end_site": "FRA-001", "b_end_site": "MUC-001"}),
    );
    let p = c
        .validate_item("items[0]", &v2, &early, None)
        .expect_err("not yet valid");
    assert_eq!(
        p[0].to_string(),
        "items[0].offering: `wan-link` v2 can be ordered from 2026-07-01"
    );
}

#[test]
fn quotes_tiers_per_unit_and_defaults() {
    let c = builtin();
    let wan = item(
        "wan-link",
        json!({"bandwidth_mbps": 1000, "a_end_site": "FRA-001", "b_end_site": "MUC-004", "sla_class": "premium"}),
    );
    let valid = c
        .validate_item("items[0]", &wan, &ctx(), None)
        .expect("valid");
    assert_eq!(valid.version, 2);
    let q = c.quote(&valid, eur()).expect("priced");
    assert_eq!(
        q.one_time_total().expect("no overflow").amount(),
        dec!(2500.00)
    );
    assert_eq!(
        q.recurring_total(l2c_billing::BillingFrequency::Monthly)
            .expect("no overflow")
            .amount(),
        dec!(1470.00)
    );
    let lan = item(
        "lan-setup",
        json!({"site": "FRA-001", "port_count": 48, "poe": true}),
    );
    let mut lan_valid = c
        .validate_item("items[1]", &lan, &ctx(), None)
        .expect("valid");
    lan_valid.quantity = 2;
    let q = c.quote(&lan_valid, eur()).expect("priced");
    // (650 + 48 x 18) x 2 = 3028; 48 x 6.90 x 2 = 662.40
    assert_eq!(
        q.one_time_total().expect("no overflow").amount(),
        dec!(3028.00)
    );
    assert_eq!(
        q.recurring_total(l2c_billing::BillingFrequency::Monthly)
            .expect("no overflow")
            .amount(),
        dec!(662.40)
    );
    assert_eq!(q.recurring[0].units, 96);
    let ner = item(
        "network-element-replacement",
        json!({"device_model": "juniper-mx204", "site": "BER-002", "reason": "end-of-life"}),
    );
    let valid = c
        .validate_item("items[0]", &ner, &ctx(), None)
        .expect("valid");
    assert_eq!(
        valid.characteristics.get("expedite"),
        Some(&Value::Boolean(false)),
        "default filled in"
    );
    let q = c.quote(&valid, eur()).expect("priced");
    assert_eq!(q.one_time.len(), 1, "the zero expedite charge is left out");
    assert_eq!(
        q.recurring_total(l2c_billing::BillingFrequency::Yearly)
            .expect("no overflow")
            .amount(),
        dec!(2350.00)
    );
}

#[test]
fn quote_refuses_a_currency_the_offering_is_not_sold_in() {
    let c = builtin();
    let lan = item("lan-setup", json!({"site": "FRA-001", "port_count": 8}));
    let valid = c
        .validate_item("items[0]", &lan, &ctx(), None)
        .expect("valid");
    let usd = l2c_billing::Currency::from_code("USD").expect("known");
    let err = c.quote(&valid, usd).expect_err("EUR only");
    assert_eq!(
        err.to_string(),
        "cannot price `lan-setup`: not sold in USD (sold in EUR)"
    );
}

#[test]
fn upgrade_must_raise_the_bandwidth() {
    let c = builtin();
    let current = [("bandwidth_mbps".to_owned(), Value::Integer(500))]
        .into_iter()
        .collect();
    let mut up = item("bandwidth-upgrade", json!({"bandwidth_mbps": 100}));
    up.action = OrderAction::Modify;
    let p = c
        .validate_item("items[0]", &up, &ctx(), Some(&current))
        .expect_err("downgrade");
    assert_eq!(
        p[0].to_string(),
        "items[0].characteristics.bandwidth_mbps: 100 is not an upgrade of the current 500"
    );
    up.characteristics
        .insert("bandwidth_mbps".into(), json!(10000));
    let valid = c
        .validate_item("items[0]", &up, &ctx(), Some(&current))
        .expect("upgrade");
    assert_eq!(
        c.quote(&valid, eur())
            .expect("priced")
            .one_time_total()
            .expect("no overflow")
            .amount(),
        dec!(1450.00)
    );
}

#[test]
fn a_new_version_never_changes_a_pinned_quote() {
    let before = builtin();
    let wan = item(
        "wan-link",
        json!({"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-004"}),
    );
    let pinned = before
        .validate_item("items[0]", &wan, &ctx(), None)
        .expect("valid");
    let agreed = before.quote(&pinned, eur()).expect("priced");
    // Publish v3 with new prices and retire v2, as a catalog change would.
    let v2_block = BUILTIN_CATALOG
        .split("[[offering]]")
        .nth(2)
        .expect("v2 block");
    let v3 = v2_block
        .replacen("version = 2", "version = 3", 1)
        .replace("\"450.00\"", "\"499.00\"");
    let retired = BUILTIN_CATALOG.replacen(
        "version = 2\nname = \"Managed WAN Link\"\nstatus = \"active\"",
        "version = 2\nname = \"Managed WAN Link\"\nstatus = \"retired\"",
        1,
    );
    let after =
        Catalog::from_toml("next.toml", &format!("{retired}\n[[offering]]{v3}")).expect("loads");
    assert_eq!(after.quote(&pinned, eur()).expect("still priced"), agreed);
    let fresh = after
        .validate_item("items[0]", &wan, &ctx(), None)
        .expect("valid");
    assert_eq!(fresh.version, 3);
    assert_eq!(
        after.quote(&fresh, eur()).expect("priced").recurring[0]
            .amount
            .amount(),
        dec!(499.00)
    );
    let p = after.validate_item(
        "items[0]",
        &ItemRequest {
            version: Some(2),
            ..wan
        },
        &ctx(),
        None,
    );
    assert_eq!(p.expect_err("retired")[0].rule, "lifecycle");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(json!(null)),
            any::<bool>().prop_map(|b| json!(b)),
            prop::sample::select(vec![
                0i64, 1, 10, 24, 48, 50, 100, 250, 480, 481, 500, 1000, 10000, -1
            ])
            .prop_map(|n| json!(n)),
            any::<i64>().prop_map(|n| json!(n)),
            (-1e12f64..1e12).prop_map(|f| json!(f)),
            prop::sample::select(vec![
                "FRA-001",
                "MUC-004",
                "frankfurt",
                "",
                "standard",
                "premium",
                "juniper-mx204",
                "end-of-life",
                "capacity",
                "gold",
                "1e400",
            ])
            .prop_map(|s| json!(s)),
            ".{0,12}".prop_map(|s| json!(s)),
            Just(json!([1, 2])),
            Just(json!({"a": 1})),
        ]
    }

    proptest! {
        /// Any values at all never panic, and whatever validates can be priced: the load-time
        /// tier checks guarantee a tier for every permitted value.
        #[test]
        fn whatever_validates_can_be_priced(
            offering in prop::sample::select(vec!["wan-link", "lan-setup", "bandwidth-upgrade", "network-element-replacement"]),
            names in prop::collection::vec(prop::sample::select(vec![
                "bandwidth_mbps", "a_end_site", "b_end_site", "sla_class", "site", "port_count",
                "poe", "device_model", "reason", "expedite", "colour",
            ]), 0..8),
            values in prop::collection::vec(any_json(), 8),
            quantity in -2i64..12_000,
        ) {
            let c = builtin();
            let base = match offering {
                "wan-link" => json!({"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-004"}),
                "lan-setup" => json!({"site": "FRA-001", "port_count": 24}),
                "bandwidth-upgrade" => json!({"bandwidth_mbps": 500}),
                _ => json!({"device_model": "juniper-mx204", "site": "FRA-001", "reason": "capacity"}),
            };
            let mut request = item(offering, base);
            request.action = c.versions(offering).last().expect("offering").actions()[0];
            request.quantity = quantity;
            for (name, value) in names.iter().zip(values) {
                request.characteristics.insert((*name).to_owned(), value);
            }
            if let Ok(valid) = c.validate_item("items[0]", &request, &ctx(), None) {
                let q = c.quote(&valid, eur());
                prop_assert!(q.is_ok(), "{:?} validated but did not price: {:?}", request, q);
            }
        }
    }
}

#[test]
fn a_retired_version_still_gets_its_other_problems_reported() {
    let c = builtin();
    let mut old = item(
        "wan-link",
        json!({"bandwidth_mbps": 10000, "a_end_site": "FRA-001"}),
    );
    old.version = Some(1);
    let p = c
        .validate_item("items[0]", &old, &ctx(), None)
        .expect_err("retired");
    let rules: Vec<&str> = p.iter().map(|p| p.rule).collect();
    assert_eq!(rules, ["lifecycle", "allowed_values", "required"]);
}

#[test]
fn a_delete_takes_no_characteristics_and_costs_nothing() {
    let c = builtin();
    let mut delete = item("wan-link", json!({"bandwidth_mbps": 100}));
    delete.action = OrderAction::Delete;
    let p = c
        .validate_item("items[0]", &delete, &ctx(), None)
        .expect_err("characteristics given");
    assert_eq!(p[0].to_string(), "items[0].characteristics.bandwidth_mbps: a delete disconnects the running product and takes no characteristics");
    delete.characteristics.clear();
    let valid = c
        .validate_item("items[0]", &delete, &ctx(), None)
        .expect("a plain delete");
    let q = c.quote(&valid, eur()).expect("priced");
    assert!(q.one_time.is_empty() && q.recurring.is_empty(), "{q:?}");
}

#[test]
fn orderable_lists_the_newest_version_each_customer_may_order() {
    let catalog = builtin();
    let ids = |c: &OrderContext| -> Vec<(String, u32)> {
        catalog
            .orderable(c)
            .into_iter()
            .map(|o| (o.id().to_owned(), o.version()))
            .collect()
    };
    let enterprise = ctx();
    let listed = ids(&enterprise);
    assert!(listed.contains(&("wan-link".into(), 2)), "{listed:?}");
    assert!(
        !listed.contains(&("wan-link".into(), 1)),
        "retired v1 is not offered"
    );
    assert!(
        !listed.iter().any(|(id, _)| id == "sd-wan-edge"),
        "a draft is not offered"
    );
    let smb = OrderContext {
        segment: "smb".into(),
        ..ctx()
    };
    assert_eq!(ids(&smb), vec![("lan-setup".to_owned(), 1)]);
    let us = OrderContext {
        country: "US".into(),
        ..ctx()
    };
    let listed = ids(&us);
    assert!(listed.contains(&("wan-link".into(), 2)), "{listed:?}");
    assert!(
        !listed.iter().any(|(id, _)| id == "lan-setup"),
        "lan-setup is not sold in the US"
    );
}
