//! Rating against a ledger of billed lines: golden cases from Kill Bill and Stripe, month ends,
//! leap years, cycle day 31, changes mid-period and back-dated, and a property test that
//! rating is repeatable and bills every charge exactly once over time.

use chrono::NaiveDate;
use l2c_billing::{
    rate, BilledLine, BillingCycle, BillingCycleDay, BillingFrequency, ChargeKind, ChargeTerm,
    Currency, DocumentKind, Invoice, Money, Period, RatedLine, Rounding, TaxCategory, TaxRate,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::BTreeMap;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

fn eur(a: Decimal) -> Money {
    Money::new(a, Currency::from_code("EUR").expect("known"))
}

fn vat() -> TaxRate {
    TaxRate::new(TaxCategory::Standard, dec!(19)).expect("valid")
}

fn monthly(key: &str, price: Decimal, from: &str, to: Option<&str>) -> ChargeTerm {
    ChargeTerm {
        key: key.into(),
        subscription: "S1".into(),
        description: format!("{key} fee"),
        kind: ChargeKind::Recurring(BillingFrequency::Monthly),
        unit_price: eur(price),
        units: Decimal::ONE,
        from: d(from),
        to: to.map(d),
        tax: vat(),
    }
}

/// An account's billing history: rates each period and records what was billed.
struct Ledger {
    cycle: BillingCycle,
    billed: Vec<BilledLine>,
}

impl Ledger {
    fn new(day: u32) -> Ledger {
        Ledger {
            cycle: BillingCycle::monthly(BillingCycleDay::new(day).expect("valid")),
            billed: Vec::new(),
        }
    }

    /// Books a credit note that gives back all of `lines`.
    fn credit(&mut self, lines: &[RatedLine]) {
        self.billed.extend(lines.iter().map(|l| BilledLine {
            quantity: -l.line.quantity(),
            ..l.billed()
        }));
    }

    /// Rates the period containing `date` and books the result.
    fn bill(&mut self, date: &str, charges: &[ChargeTerm]) -> Vec<RatedLine> {
        let due = self.cycle.period_containing(d(date)).expect("period");
        let lines = rate(
            &self.cycle,
            &due,
            charges,
            &self.billed,
            Rounding::HalfAwayFromZero,
        )
        .expect("rated");
        self.billed.extend(lines.iter().map(RatedLine::billed));
        assert!(
            rate(
                &self.cycle,
                &due,
                charges,
                &self.billed,
                Rounding::HalfAwayFromZero
            )
            .expect("rated")
            .is_empty(),
            "rating {date} again after booking it must give nothing"
        );
        lines
    }
}

/// `(description, service from, service to, quantity, net)` of each line, for comparisons.
fn summary(lines: &[RatedLine]) -> Vec<(String, String, String, Decimal, Decimal)> {
    lines
        .iter()
        .map(|l| {
            (
                l.line.description().to_string(),
                l.service.start().to_string(),
                l.service.end().to_string(),
                l.line.quantity(),
                l.line.net().amount(),
            )
        })
        .collect()
}

fn row(
    desc: &str,
    from: &str,
    to: &str,
    q: Decimal,
    net: Decimal,
) -> (String, String, String, Decimal, Decimal) {
    (desc.into(), from.into(), to.into(), q, net)
}

#[test]
fn a_monthly_charge_is_billed_in_advance_once_per_period() {
    let mut ledger = Ledger::new(1);
    let charges = [monthly("port", dec!(100), "2026-01-01", None)];
    let jan = ledger.bill("2026-01-01", &charges);
    assert_eq!(
        summary(&jan),
        [row(
            "port fee",
            "2026-01-01",
            "2026-02-01",
            dec!(1),
            dec!(100.00)
        )]
    );
    let feb = ledger.bill("2026-02-01", &charges);
    assert_eq!(
        summary(&feb),
        [row(
            "port fee",
            "2026-02-01",
            "2026-03-01",
            dec!(1),
            dec!(100.00)
        )]
    );
}

#[test]
fn activation_after_the_period_was_invoiced_is_an_adjustment_on_the_next_invoice() {
    let mut ledger = Ledger::new(1);
    assert!(ledger.bill("2026-01-01", &[]).is_empty());
    let charges = [monthly("port", dec!(100), "2026-01-16", None)];
    let feb = ledger.bill("2026-02-01", &charges);
    // 16 of January's 31 days: 100 * 16 / 31 = 51.6129 -> 51.61.
    assert_eq!(
        summary(&feb),
        [
            row("port fee", "2026-01-16", "2026-02-01", dec!(1), dec!(51.61)),
            row(
                "port fee",
                "2026-02-01",
                "2026-03-01",
                dec!(1),
                dec!(100.00)
            ),
        ]
    );
}

/// Kill Bill's upgrade: a $20 plan billed for 04-11..05-11, upgraded on 04-26 to $30:
/// a credit of 10.00 and a charge of 15.00 (here in EUR).
#[test]
fn an_upgrade_mid_period_credits_the_unused_old_price_and_charges_the_new() {
    let mut ledger = Ledger::new(11);
    let before = [monthly("plan-20", dec!(20), "2013-04-11", None)];
    ledger.bill("2013-04-11", &before);
    let after = [
        monthly("plan-20", dec!(20), "2013-04-11", Some("2013-04-26")),
        monthly("plan-30", dec!(30), "2013-04-26", None),
    ];
    let may = ledger.bill("2013-05-11", &after);
    assert_eq!(
        summary(&may),
        [
            row(
                "plan-20 fee (credit)",
                "2013-04-26",
                "2013-05-11",
                dec!(-1),
                dec!(-10.00)
            ),
            row(
                "plan-30 fee",
                "2013-04-26",
                "2013-05-11",
                dec!(1),
                dec!(15.00)
            ),
            row(
                "plan-30 fee",
                "2013-05-11",
                "2013-06-11",
                dec!(1),
                dec!(30.00)
            ),
        ]
    );
}

#[test]
fn a_downgrade_mid_period_gives_a_net_credit_for_the_rest_of_the_period() {
    let mut ledger = Ledger::new(1);
    ledger.bill(
        "2026-06-01",
        &[monthly("big", dec!(300), "2026-06-01", None)],
    );
    let after = [
        monthly("big", dec!(300), "2026-06-01", Some("2026-06-16")),
        monthly("small", dec!(90), "2026-06-16", None),
    ];
    let july = ledger.bill("2026-07-01", &after);
    // 15 of June's 30 days: -150.00 for the big plan, +45.00 for the small one.
    assert_eq!(
        summary(&july),
        [
            row(
                "big fee (credit)",
                "2026-06-16",
                "2026-07-01",
                dec!(-1),
                dec!(-150.00)
            ),
            row(
                "small fee",
                "2026-06-16",
                "2026-07-01",
                dec!(1),
                dec!(45.00)
            ),
            row(
                "small fee",
                "2026-07-01",
                "2026-08-01",
                dec!(1),
                dec!(90.00)
            ),
        ]
    );
}

#[test]
fn a_back_dated_cancellation_credits_every_period_billed_since() {
    let mut ledger = Ledger::new(1);
    let running = [monthly("port", dec!(31), "2026-01-01", None)];
    ledger.bill("2026-01-01", &running);
    ledger.bill("2026-02-01", &running);
    let ended = [monthly("port", dec!(31), "2026-01-01", Some("2026-01-21"))];
    let march = ledger.bill("2026-03-01", &ended);
    // January 21..31 is 11 of 31 days (11.00); all of February goes back (31.00).
    assert_eq!(
        summary(&march),
        [
            row(
                "port fee (credit)",
                "2026-01-21",
                "2026-02-01",
                dec!(-1),
                dec!(-11.00)
            ),
            row(
                "port fee (credit)",
                "2026-02-01",
                "2026-03-01",
                dec!(-1),
                dec!(-31.00)
            ),
        ]
    );
}

#[test]
fn cycle_day_31_bills_month_ends_and_leap_february() {
    let mut ledger = Ledger::new(31);
    let charges = [monthly("port", dec!(29), "2024-01-31", None)];
    let mut periods = Vec::new();
    for date in ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"] {
        let lines = ledger.bill(date, &charges);
        assert_eq!(lines.len(), 1, "{date}");
        periods.push((
            lines[0].service.start().to_string(),
            lines[0].service.end().to_string(),
        ));
    }
    assert_eq!(
        periods,
        [
            ("2024-01-31".into(), "2024-02-29".into()),
            ("2024-02-29".into(), "2024-03-31".into()),
            ("2024-03-31".into(), "2024-04-30".into()),
            ("2024-04-30".into(), "2024-05-31".into()),
        ]
    );
    // Cancelled on 2024-03-15: 16 of the 31 days from Feb 29 to Mar 31 go back: 29 * 16 / 31.
    let ended = [monthly("port", dec!(29), "2024-01-31", Some("2024-03-15"))];
    let lines = ledger.bill("2024-05-31", &ended);
    assert_eq!(
        lines[0].service,
        Period::new(d("2024-03-15"), d("2024-03-31")).expect("period")
    );
    assert_eq!(lines[0].line.net().amount(), dec!(-14.97));
}

#[test]
fn one_time_charges_are_billed_once_on_the_first_invoice_after_activation() {
    let mut ledger = Ledger::new(1);
    let mut setup = monthly("setup", dec!(250), "2026-03-10", None);
    setup.kind = ChargeKind::OneTime;
    let charges = [setup];
    assert!(ledger.bill("2026-03-01", &[]).is_empty());
    let april = ledger.bill("2026-04-01", &charges);
    assert_eq!(
        summary(&april),
        [row(
            "setup fee",
            "2026-03-10",
            "2026-03-11",
            dec!(1),
            dec!(250.00)
        )]
    );
    assert!(ledger.bill("2026-05-01", &charges).is_empty());
}

#[test]
fn a_yearly_charge_is_billed_for_its_year_and_prorated_when_it_starts_late() {
    let mut ledger = Ledger::new(1);
    let mut licence = monthly("licence", dec!(365), "2026-07-02", None);
    licence.kind = ChargeKind::Recurring(BillingFrequency::Yearly);
    let charges = [licence];
    let july = ledger.bill("2026-07-01", &charges);
    // 2026-07-02..2027-01-01 is 183 of 365 days.
    assert_eq!(
        summary(&july),
        [row(
            "licence fee",
            "2026-07-02",
            "2027-01-01",
            dec!(1),
            dec!(183.00)
        )]
    );
    assert!(ledger.bill("2026-08-01", &charges).is_empty());
    let jan = ledger.bill("2027-01-01", &charges);
    assert_eq!(jan[0].line.net().amount(), dec!(365.00));
}

/// Issue 15's case: a quarterly EUR 0.01 charge whose end, learnt late, leaves one day of a
/// quarter due, worth 0.00. Rated at once that day is no line; rated bit by bit the quarter
/// was billed whole, so the credit gives all of it back and both agree on what is billed.
#[test]
fn days_worth_nothing_are_billed_neither_at_once_nor_bit_by_bit() {
    let mut term = monthly("tiny", dec!(0.01), "2025-01-02", None);
    term.kind = ChargeKind::Recurring(BillingFrequency::Quarterly);
    let mut ledger = Ledger::new(14);
    ledger.bill("2025-01-01", std::slice::from_ref(&term));
    ledger.bill("2025-01-20", std::slice::from_ref(&term));
    let mut ended = term.clone();
    ended.to = Some(d("2025-01-15"));
    let credit = ledger.bill("2025-02-20", std::slice::from_ref(&ended));
    let mut fresh = Ledger::new(14);
    fresh.bill("2025-02-20", std::slice::from_ref(&ended));
    assert_eq!(
        days_by_slot(ledger.billed.iter()),
        days_by_slot(fresh.billed.iter())
    );
    let quarter = credit
        .iter()
        .find(|l| l.charge_period.start() == d("2025-01-14"))
        .unwrap_or_else(|| panic!("a credit for the quarter from 2025-01-14: {credit:?}"));
    assert_eq!(
        quarter.service.start(),
        d("2025-01-14"),
        "the whole quarter is given back"
    );
    assert_eq!(quarter.line.net().amount(), dec!(-0.01));
}

#[test]
fn a_charge_removed_after_it_was_billed_is_credited_at_the_billed_price() {
    let mut ledger = Ledger::new(1);
    let mut two = monthly("port", dec!(40), "2026-01-01", None);
    two.units = dec!(2);
    ledger.bill("2026-01-01", &[two]);
    let feb = ledger.bill("2026-02-01", &[]);
    assert_eq!(
        summary(&feb),
        [row(
            "port fee (credit)",
            "2026-01-01",
            "2026-02-01",
            dec!(-2),
            dec!(-80.00)
        )]
    );
}

#[test]
fn rating_an_earlier_period_never_takes_back_later_advance_billing() {
    let mut ledger = Ledger::new(1);
    let charges = [monthly("port", dec!(31), "2026-11-10", None)];
    ledger.bill("2026-11-15", &charges);
    ledger.bill("2026-12-01", &charges);
    assert!(ledger.bill("2026-10-15", &charges).is_empty());
}

#[test]
fn a_difference_of_two_is_stored_as_two_lines_and_billed_once() {
    let mut ledger = Ledger::new(1);
    let open = [monthly("port", dec!(31), "2026-01-01", None)];
    let jan = ledger.bill("2026-01-01", &open);
    // Cancelled back-dated to January 10, so February credits January 10..31.
    let ended = [monthly("port", dec!(31), "2026-01-01", Some("2026-01-10"))];
    let feb = ledger.bill("2026-02-01", &ended);
    assert_eq!(
        summary(&feb),
        [row(
            "port fee (credit)",
            "2026-01-10",
            "2026-02-01",
            dec!(-1),
            dec!(-22.00)
        )]
    );
    // The cancellation is undone, and finance credits the January invoice as well.
    ledger.credit(&jan);
    let march = ledger.bill("2026-03-01", &open);
    assert_eq!(
        summary(&march),
        [
            row("port fee", "2026-01-01", "2026-01-10", dec!(1), dec!(9.00)),
            row("port fee", "2026-01-10", "2026-02-01", dec!(1), dec!(22.00)),
            row("port fee", "2026-01-10", "2026-02-01", dec!(1), dec!(22.00)),
            row("port fee", "2026-02-01", "2026-03-01", dec!(1), dec!(31.00)),
            row("port fee", "2026-03-01", "2026-04-01", dec!(1), dec!(31.00)),
        ]
    );
    let april = ledger.bill("2026-04-01", &open);
    assert_eq!(
        summary(&april),
        [row(
            "port fee",
            "2026-04-01",
            "2026-05-01",
            dec!(1),
            dec!(31.00)
        )]
    );
}

#[test]
fn a_credit_gives_back_the_vat_that_was_last_charged() {
    let mut ledger = Ledger::new(1);
    let mut at_19 = monthly("port", dec!(100), "2026-01-01", None);
    let jan = ledger.bill("2026-01-01", std::slice::from_ref(&at_19));
    // January is credited in full (a credit note), and the VAT becomes 7%.
    ledger.credit(&jan);
    at_19.tax = TaxRate::new(TaxCategory::Standard, dec!(7)).expect("rate");
    let feb = ledger.bill("2026-02-01", std::slice::from_ref(&at_19));
    assert!(feb.iter().all(|l| l.line.tax().percent() == dec!(7)));
    // Cancelled back to January 16: what goes back is what was last charged, at 7%.
    at_19.to = Some(d("2026-01-16"));
    let march = ledger.bill("2026-03-01", std::slice::from_ref(&at_19));
    assert_eq!(march.len(), 2);
    for l in &march {
        assert_eq!(l.line.tax().percent(), dec!(7), "{l:?}");
        assert_eq!(l.line.description(), "port fee (credit)");
    }
}

/// A charge and when the billing system learns of it and of its end (in periods from the
/// first), so activations and cancellations can arrive back-dated.
fn arb_term(i: usize) -> impl Strategy<Value = (ChargeTerm, usize, usize)> {
    (
        0u32..400,
        prop::option::of(1u32..400),
        1u32..5000,
        1u32..4,
        0u8..5,
        0usize..4,
        0usize..4,
    )
        .prop_map(move |(start, len, cents, units, kind, seen, end_seen)| {
            let from = d("2025-01-01") + chrono::Days::new(u64::from(start));
            let kind = match kind {
                0 => ChargeKind::OneTime,
                1 => ChargeKind::Recurring(BillingFrequency::Quarterly),
                2 => ChargeKind::Recurring(BillingFrequency::Yearly),
                _ => ChargeKind::Recurring(BillingFrequency::Monthly),
            };
            let term = ChargeTerm {
                key: format!("k{i}"),
                subscription: format!("S{}", i % 3),
                description: format!("charge {i}"),
                kind,
                unit_price: eur(Decimal::new(i64::from(cents), 2)),
                units: Decimal::from(units),
                from,
                to: len.map(|l| from + chrono::Days::new(u64::from(l))),
                tax: if i.is_multiple_of(2) {
                    vat()
                } else {
                    TaxRate::new(TaxCategory::Standard, dec!(7)).expect("valid")
                },
            };
            (term, seen, seen + end_seen)
        })
}

fn arb_terms() -> impl Strategy<Value = Vec<(ChargeTerm, usize, usize)>> {
    (1usize..7).prop_flat_map(|n| (0..n).map(arb_term).collect::<Vec<_>>())
}

/// Signed days billed per (charge, charge period start).
fn days_by_slot<'a>(
    lines: impl Iterator<Item = &'a BilledLine>,
) -> BTreeMap<(String, NaiveDate), i64> {
    let mut out = BTreeMap::new();
    for b in lines {
        let sign = if b.quantity.is_sign_negative() { -1 } else { 1 };
        *out.entry((b.key.clone(), b.charge_period.start()))
            .or_insert(0) += sign * b.service.days();
    }
    out.retain(|_, days| *days != 0);
    out
}

/// What `days` days of the charge period `slot` are worth at the price it was billed at.
fn worth_of_days(billed: &[BilledLine], slot: &(String, NaiveDate), days: i64) -> Decimal {
    let Some(b) = billed
        .iter()
        .find(|b| b.key == slot.0 && b.charge_period.start() == slot.1)
    else {
        return Decimal::MAX;
    };
    if b.kind == ChargeKind::OneTime {
        return b.list_price.amount() * Decimal::from(days);
    }
    let start = b.charge_period.start();
    let end = start + chrono::Days::new(u64::try_from(days).unwrap_or(0));
    l2c_billing::proration::prorate(
        b.list_price,
        start,
        end,
        &b.charge_period,
        Rounding::HalfAwayFromZero,
    )
    .map_or(Decimal::MAX, |m| m.amount() * b.quantity.abs())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Month by month, charges become known late (and their ends later still). Every invoice
    /// is repeatable and obeys the EN 16931 totals rules, and in the end the ledger bills each
    /// charge exactly the days that rating everything at once bills, to within a cent per line.
    #[test]
    fn late_news_is_billed_exactly_once(terms in arb_terms(), cycle_day in 1u32..32) {
        let eur_currency = Currency::from_code("EUR").expect("known");
        let mut ledger = Ledger::new(cycle_day);
        let mut due = ledger.cycle.period_containing(d("2025-01-01")).expect("period");
        for month in 0..30 {
            let known: Vec<ChargeTerm> = terms
                .iter()
                .filter(|(_, seen, _)| *seen <= month)
                .map(|(t, _, end_seen)| {
                    let mut t = t.clone();
                    if *end_seen > month {
                        t.to = None;
                    }
                    t
                })
                .collect();
            let lines = ledger.bill(&due.start().to_string(), &known);
            if !lines.is_empty() {
                let net: Decimal = lines.iter().map(|l| l.line.net().amount()).sum();
                let kind = if net.is_sign_negative() { DocumentKind::CreditNote } else { DocumentKind::Invoice };
                let lines = lines.into_iter().map(|l| l.line).collect();
                let invoice = Invoice::compose(kind, eur_currency, lines, eur(Decimal::ZERO), Rounding::HalfAwayFromZero)
                    .expect("composed");
                prop_assert!(invoice.check_rules().is_empty(), "{:?}", invoice.check_rules());
            }
            due = ledger.cycle.next_period(&due).expect("next");
        }
        let all: Vec<ChargeTerm> = terms.iter().map(|(t, _, _)| t.clone()).collect();
        let mut fresh = Ledger { cycle: ledger.cycle, billed: Vec::new() };
        fresh.bill(&due.start().to_string(), &all);
        ledger.bill(&due.start().to_string(), &all);
        // Both ways bill each charge period the same days, except days whose price rounds to
        // nothing: a difference worth 0.00 is no invoice line, so it is never billed either way.
        let (bit_by_bit, at_once) = (days_by_slot(ledger.billed.iter()), days_by_slot(fresh.billed.iter()));
        for slot in bit_by_bit.keys().chain(at_once.keys()) {
            let (a, b) = (bit_by_bit.get(slot).copied().unwrap_or(0), at_once.get(slot).copied().unwrap_or(0));
            if a != b {
                let worth = worth_of_days(&ledger.billed, slot, (a - b).abs());
                prop_assert!(worth.is_zero(), "{:?}: {} days bit by bit, {} at once, {} apart", slot, a, b, worth);
            }
        }
        for (t, _, _) in &terms {
            let net = |l: &Ledger| -> (Decimal, usize) {
                let lines: Vec<_> = l.billed.iter().filter(|b| b.key == t.key).collect();
                let net = lines.iter().map(|b| {
                    let unit = match b.kind {
                        ChargeKind::OneTime => b.list_price.amount(),
                        ChargeKind::Recurring(_) => l2c_billing::proration::prorate(
                            b.list_price, b.service.start(), b.service.end(), &b.charge_period,
                            Rounding::HalfAwayFromZero,
                        ).expect("inside").amount(),
                    };
                    unit * b.quantity
                }).sum();
                (net, lines.len())
            };
            let (incremental, pieces) = net(&ledger);
            let (at_once, _) = net(&fresh);
            let tolerance = dec!(0.01) * Decimal::from(pieces) * t.units;
            prop_assert!((incremental - at_once).abs() <= tolerance,
                "{}: {} billed in {} lines vs {} at once", t.key, incremental, pieces, at_once);
        }
    }
}
