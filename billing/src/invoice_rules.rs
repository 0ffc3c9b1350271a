//! EN 16931 business rules on composed documents, each recomputed from its definition.
//!
//! These are the rules that concern totals (BR-CO-10 to BR-CO-17) and the standard-rated
//! breakdown (BR-S-08). The UBL export checks them again on the XML it produces.

use crate::{Invoice, Money};
use rust_decimal::Decimal;

/// The sum of `amounts` in the invoice's currency; `None` on another currency or overflow.
fn total(invoice: &Invoice, mut amounts: impl Iterator<Item = Money>) -> Option<Decimal> {
    amounts.try_fold(Decimal::ZERO, |sum, m| {
        (m.currency() == invoice.currency()).then_some(())?;
        sum.checked_add(m.amount())
    })
}

/// `a + b - c`, or `None` on overflow.
fn plus_minus(a: Decimal, b: Decimal, c: Decimal) -> Option<Decimal> {
    a.checked_add(b)?.checked_sub(c)
}

/// Returns one message per broken rule; empty when the document is consistent. Amounts too
/// large to add up are reported as broken rules, never a panic.
pub(crate) fn check(invoice: &Invoice) -> Vec<String> {
    let t = invoice.totals();
    let mut broken = Vec::new();
    let mut rule = |ok: bool, text: String| {
        if !ok {
            broken.push(text);
        }
    };
    let lines_sum = total(invoice, invoice.lines().iter().map(|l| l.net()));
    rule(
        lines_sum == Some(t.line_net_total.amount()),
        format!(
            "BR-CO-10: sum of line nets {lines_sum:?} != BT-106 {}",
            t.line_net_total
        ),
    );
    let (net, allowances, charges) = (t.line_net_total, t.allowance_total, t.charge_total);
    let bt109 = plus_minus(net.amount(), charges.amount(), allowances.amount());
    rule(
        bt109 == Some(t.tax_exclusive.amount()),
        format!(
            "BR-CO-13: BT-106 - BT-107 + BT-108 = {bt109:?} != BT-109 {}",
            t.tax_exclusive
        ),
    );
    let vat_sum = total(invoice, invoice.tax_subtotals().iter().map(|s| s.tax));
    rule(
        vat_sum == Some(t.tax_total.amount()),
        format!(
            "BR-CO-14: sum of BT-117 {vat_sum:?} != BT-110 {}",
            t.tax_total
        ),
    );
    let bt112 = t.tax_exclusive.amount().checked_add(t.tax_total.amount());
    rule(
        bt112 == Some(t.tax_inclusive.amount()),
        format!(
            "BR-CO-15: BT-109 + BT-110 = {bt112:?} != BT-112 {}",
            t.tax_inclusive
        ),
    );
    let (inclusive, prepaid, rounding) = (t.tax_inclusive, t.prepaid, t.rounding_amount);
    let bt115 = plus_minus(inclusive.amount(), rounding.amount(), prepaid.amount());
    rule(
        bt115 == Some(t.payable.amount()),
        format!(
            "BR-CO-16: BT-112 - BT-113 + BT-114 = {bt115:?} != BT-115 {}",
            t.payable
        ),
    );
    broken.extend(vat_breakdown(invoice));
    broken
}

/// BR-CO-17, BR-S-08 and BR-CO-18: each VAT subtotal is its rate times its base, rounded;
/// its base is the sum of its lines; every line's rate has a subtotal.
fn vat_breakdown(invoice: &Invoice) -> Vec<String> {
    let mut broken = Vec::new();
    let mut rule = |ok: bool, text: String| {
        if !ok {
            broken.push(text);
        }
    };
    let minor = invoice.currency().minor_units();
    let half_unit = Decimal::new(5, minor + 1);
    for s in invoice.tax_subtotals() {
        let exact = s
            .taxable
            .amount()
            .checked_mul(s.rate.percent())
            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED));
        let off = exact
            .and_then(|e| s.tax.amount().checked_sub(e))
            .map(|d| d.abs());
        let rounded = s.tax.amount().normalize().scale() <= minor;
        rule(
            rounded && off.is_some_and(|d| d <= half_unit),
            format!(
                "BR-CO-17: VAT {} for {} is not {} x {} rounded",
                s.tax, s.rate, s.taxable, s.rate
            ),
        );
        let at_rate = invoice.lines().iter().filter(|l| l.tax() == s.rate);
        let base = total(invoice, at_rate.map(|l| l.net()));
        rule(
            base == Some(s.taxable.amount()),
            format!(
                "BR-S-08: lines at {} sum to {base:?}, not BT-116 {}",
                s.rate, s.taxable
            ),
        );
    }
    for line in invoice.lines() {
        let covered = invoice.tax_subtotals().iter().any(|s| s.rate == line.tax());
        rule(
            covered,
            format!(
                "BR-CO-18: line `{}` has no VAT breakdown",
                line.description()
            ),
        );
    }
    broken
}

#[cfg(test)]
mod tests {
    use crate::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;

    fn eur() -> Currency {
        Currency::from_code("EUR").expect("known")
    }

    fn vat(percent: Decimal) -> TaxRate {
        TaxRate::new(TaxCategory::Standard, percent).expect("valid rate")
    }

    fn line(desc: &str, qty: Decimal, price: Decimal, tax: TaxRate) -> InvoiceLine {
        let price = Money::new(price, eur());
        InvoiceLine::new(desc, None, qty, price, tax, Rounding::default()).expect("valid line")
    }

    fn eur_invoice(lines: Vec<InvoiceLine>, prepaid: Decimal) -> Invoice {
        let prepaid = Money::new(prepaid, eur());
        Invoice::compose(
            DocumentKind::Invoice,
            eur(),
            lines,
            prepaid,
            Rounding::default(),
        )
        .expect("composes")
    }

    /// The rules an invoice breaks after `edit` changes its serialized form.
    fn broken_after(inv: &Invoice, edit: impl FnOnce(&mut serde_json::Value)) -> Vec<String> {
        let mut json = serde_json::to_value(inv).expect("serializes");
        edit(&mut json);
        let tampered: Invoice = serde_json::from_value(json).expect("parses");
        tampered.check_rules()
    }

    #[test]
    fn tax_is_computed_once_on_the_summed_base() {
        // Three lines of 0.05 at 19%: per-line tax would be 3 x 0.01 = 0.03;
        // EN 16931 taxes the base 0.15 once: 0.0285 -> 0.03. With 0.10 x 3 at 7%,
        // per line 0.007 -> 0.01 each (0.03) but on the base 0.30 -> 0.021 -> 0.02.
        let lines = vec![
            line("a", dec!(1), dec!(0.10), vat(dec!(7))),
            line("b", dec!(1), dec!(0.10), vat(dec!(7))),
            line("c", dec!(1), dec!(0.10), vat(dec!(7))),
        ];
        let inv = eur_invoice(lines, Decimal::ZERO);
        assert_eq!(inv.tax_subtotals().len(), 1);
        assert_eq!(inv.totals().tax_total.amount(), dec!(0.02));
        assert_eq!(inv.totals().payable.amount(), dec!(0.32));
        assert!(inv.check_rules().is_empty(), "{:?}", inv.check_rules());
    }

    #[test]
    fn breakdown_per_rate_and_credit_lines() {
        let reduced = vat(dec!(7));
        let exempt = TaxRate::new(TaxCategory::Exempt, dec!(0)).expect("valid");
        let lines = vec![
            line(
                "WAN link 1 Gbps, March",
                dec!(1),
                dec!(1450.00),
                vat(dec!(19)),
            ),
            line(
                "Credit: unused 100 Mbps",
                dec!(-1),
                dec!(325.81),
                vat(dec!(19)),
            ),
            line("Manual", dec!(3), dec!(12.50), reduced),
            line("Deposit", dec!(1), dec!(100), exempt),
        ];
        let inv = eur_invoice(lines, dec!(50));
        let t = inv.totals();
        assert_eq!(t.line_net_total.amount(), dec!(1261.69));
        // 19% of 1124.19 = 213.5961 -> 213.60; 7% of 37.50 = 2.625 -> 2.63; exempt 0
        let taxes: Vec<Decimal> = inv.tax_subtotals().iter().map(|s| s.tax.amount()).collect();
        assert_eq!(
            taxes,
            [dec!(2.63), dec!(213.60), dec!(0)],
            "ordered by category, then rate"
        );
        assert_eq!(t.tax_total.amount(), dec!(216.23));
        assert_eq!(t.tax_inclusive.amount(), dec!(1477.92));
        assert_eq!(t.payable.amount(), dec!(1427.92));
        assert!(inv.check_rules().is_empty(), "{:?}", inv.check_rules());
        let note = inv.credit_note();
        assert_eq!(note.kind(), DocumentKind::CreditNote);
        assert_eq!(note.totals().payable.amount(), dec!(1477.92));
        assert!(note.check_rules().is_empty(), "{:?}", note.check_rules());
    }

    #[test]
    fn check_rules_catches_a_tampered_total() {
        let lines = vec![line("x", dec!(2), dec!(10), vat(dec!(20)))];
        let inv = eur_invoice(lines, Decimal::ZERO);
        let broken = broken_after(&inv, |json| {
            json["totals"]["tax_total"]["amount"] = "4.01".into();
        });
        assert!(
            broken.iter().any(|b| b.starts_with("BR-CO-14")),
            "{broken:?}"
        );
        assert!(
            broken.iter().any(|b| b.starts_with("BR-CO-15")),
            "{broken:?}"
        );
    }

    #[test]
    fn check_rules_reports_overflow_instead_of_panicking() {
        let lines = vec![line("x", dec!(1), dec!(10), vat(dec!(20)))];
        let inv = eur_invoice(lines, Decimal::ZERO);
        let broken = broken_after(&inv, |json| {
            let huge = Decimal::MAX.to_string();
            json["tax_subtotals"][0]["taxable"]["amount"] = huge.clone().into();
            json["totals"]["tax_total"]["amount"] = huge.into();
        });
        assert!(
            broken.iter().any(|b| b.starts_with("BR-CO-17")),
            "{broken:?}"
        );
        assert!(
            broken.iter().any(|b| b.starts_with("BR-CO-15")),
            "{broken:?}"
        );
    }

    #[test]
    fn prepaid_is_rounded_before_the_amount_due() {
        let lines = vec![line("x", dec!(1), dec!(10), vat(dec!(19)))];
        let inv = eur_invoice(lines, dec!(0.005));
        assert_eq!(inv.totals().prepaid.amount(), dec!(0.01));
        assert_eq!(inv.totals().payable.amount(), dec!(11.89));
        assert!(inv.check_rules().is_empty(), "{:?}", inv.check_rules());
    }

    #[test]
    fn refuses_bad_rates_prices_mixed_currencies_and_empty_invoices() {
        assert!(TaxRate::new(TaxCategory::Standard, dec!(0)).is_err());
        assert!(TaxRate::new(TaxCategory::Standard, dec!(101)).is_err());
        assert!(TaxRate::new(TaxCategory::Exempt, dec!(5)).is_err());
        let negative = Money::new(dec!(-1), eur());
        let err = InvoiceLine::new(
            "x",
            None,
            dec!(1),
            negative,
            vat(dec!(19)),
            Rounding::default(),
        );
        assert!(matches!(err, Err(BillingError::NegativePrice(_))));
        let usd = Currency::from_code("USD").expect("known");
        let lines = vec![line("x", dec!(1), dec!(1), vat(dec!(19)))];
        let mixed = Invoice::compose(
            DocumentKind::Invoice,
            usd,
            lines,
            Money::zero(usd),
            Rounding::default(),
        );
        assert!(matches!(mixed, Err(BillingError::CurrencyMismatch { .. })));
        let empty = Invoice::compose(
            DocumentKind::Invoice,
            usd,
            vec![],
            Money::zero(usd),
            Rounding::default(),
        );
        assert_eq!(empty, Err(BillingError::NoLines));
    }

    #[test]
    fn prorated_line_uses_a_rounded_unit_price() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let full = Period::new(d("2023-05-15"), d("2023-06-15")).expect("valid");
        let part = Period::new(d("2023-05-23"), d("2023-06-15")).expect("valid");
        let price = Money::new(dec!(100), eur());
        let l = InvoiceLine::prorated(
            "x",
            part,
            &full,
            dec!(3),
            price,
            vat(dec!(19)),
            Rounding::default(),
        )
        .expect("valid");
        // 100 x 23/31 = 74.1935... -> 74.19 per unit; 3 units = 222.57
        assert_eq!(l.unit_price().amount(), dec!(74.19));
        assert_eq!(l.net().amount(), dec!(222.57));
    }

    fn any_rate() -> impl Strategy<Value = TaxRate> {
        prop_oneof![
            prop::sample::select(vec![
                dec!(19),
                dec!(7),
                dec!(20),
                dec!(8.1),
                dec!(2.5),
                dec!(21)
            ])
            .prop_map(vat),
            Just(TaxRate::new(TaxCategory::ReverseCharge, dec!(0)).expect("valid")),
        ]
    }

    fn any_line() -> impl Strategy<Value = (i64, i64, u32, TaxRate)> {
        (-5i64..20, 0i64..100_000_000, 0u32..5, any_rate())
    }

    proptest! {
        #[test]
        fn every_composed_invoice_obeys_the_totals_rules(
            raw in prop::collection::vec(any_line(), 1..40),
            code in prop::sample::select(vec!["EUR", "JPY", "BHD", "CHF"]),
            half_even in any::<bool>(),
            prepaid_raw in 0i64..100_000,
            prepaid_scale in 0u32..5,
        ) {
            let currency = Currency::from_code(code).expect("known");
            let rounding = if half_even { Rounding::HalfEven } else { Rounding::HalfAwayFromZero };
            let lines: Vec<InvoiceLine> = raw
                .iter()
                .map(|(qty, price, scale, rate)| {
                    let price = Money::new(Decimal::new(*price, *scale), currency);
                    InvoiceLine::new("l", None, Decimal::from(*qty), price, *rate, rounding).expect("valid")
                })
                .collect();
            let prepaid = Money::new(Decimal::new(prepaid_raw, prepaid_scale), currency);
            let inv = Invoice::compose(DocumentKind::Invoice, currency, lines.clone(), prepaid, rounding)
                .expect("composes");
            prop_assert!(inv.check_rules().is_empty(), "{:?}", inv.check_rules());
            // Recompute VAT from the lines alone: one rounded tax per distinct rate.
            let nets: Decimal = lines.iter().map(|l| l.net().amount()).sum();
            let mut rates: Vec<TaxRate> = lines.iter().map(|l| l.tax()).collect();
            rates.sort();
            rates.dedup();
            let taxes: Decimal = rates
                .iter()
                .map(|r| {
                    let base: Decimal = lines.iter().filter(|l| l.tax() == *r).map(|l| l.net().amount()).sum();
                    Money::new(base * r.percent() / dec!(100), currency).round(rounding).amount()
                })
                .sum();
            let paid = prepaid.round(rounding).amount();
            prop_assert_eq!(inv.totals().payable.amount(), nets + taxes - paid);
            for amount in [inv.totals().payable, inv.totals().tax_total, inv.totals().line_net_total] {
                prop_assert!(amount.is_rounded(), "{} is not at the minor unit", amount);
            }
        }
    }
}
