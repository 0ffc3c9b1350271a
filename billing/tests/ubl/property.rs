//! Property: every document l2c can compose exports as a document that passes every rule.

use super::fixtures::{cur, d, issued, standard, texts, xml_of, zero_rate};
use super::rules::{broken_rules, names};
use super::tree::parse;
use l2c_billing::{
    Currency, DocumentKind, Invoice, InvoiceLine, IssuedDocument, Money, Period, PrecedingInvoice,
    Rounding, TaxCategory, TaxRate,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

fn arb_rate() -> impl Strategy<Value = TaxRate> {
    let percents = vec![
        dec!(19),
        dec!(7),
        dec!(20),
        dec!(5.5),
        dec!(21),
        dec!(25),
        dec!(8.1),
    ];
    let others = vec![
        TaxCategory::ZeroRated,
        TaxCategory::Exempt,
        TaxCategory::ReverseCharge,
        TaxCategory::IntraCommunity,
        TaxCategory::Export,
        TaxCategory::OutOfScope,
    ];
    prop_oneof![
        4 => prop::sample::select(percents).prop_map(standard),
        1 => prop::sample::select(others).prop_map(zero_rate),
    ]
}

/// Names and descriptions, with the XML special characters and some non-ASCII.
fn arb_text() -> impl Strategy<Value = String> {
    "[A-Za-zäöü][A-Za-z0-9 <&>\"'äéß/]{0,15}"
}

fn arb_line(currency: Currency, rounding: Rounding) -> impl Strategy<Value = InvoiceLine> {
    let with_period = prop::option::of((0i64..27, 1i64..28));
    (
        arb_text(),
        -3i64..=5,
        0i64..2_000_000,
        arb_rate(),
        with_period,
    )
        .prop_map(move |(text, qty, minor, rate, period)| {
            let price = Money::new(Decimal::new(minor, currency.minor_units()), currency);
            let period = period.map(|(from, days)| {
                let start = d("2026-02-01") + chrono::Duration::days(from);
                Period::new(start, start + chrono::Duration::days(days)).expect("non-empty")
            });
            InvoiceLine::new(text, period, Decimal::from(qty), price, rate, rounding)
                .expect("valid line")
        })
}

fn arb_document() -> impl Strategy<Value = IssuedDocument> {
    let setup = (
        prop::sample::select(vec!["EUR", "USD", "GBP", "CHF", "JPY", "BHD", "SEK"]),
        prop::sample::select(vec![Rounding::HalfAwayFromZero, Rounding::HalfEven]),
    );
    setup.prop_flat_map(|(code, rounding)| {
        let currency = cur(code);
        (
            prop::collection::vec(arb_line(currency, rounding), 1..8),
            prop::sample::select(vec![DocumentKind::Invoice, DocumentKind::CreditNote]),
            0i64..50_000,
            (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
            (arb_text(), arb_text()),
        )
            .prop_map(
                move |(lines, kind, prepaid, (due, terms, period, preceding), (seller, buyer))| {
                    let prepaid =
                        Money::new(Decimal::new(prepaid, currency.minor_units()), currency);
                    let invoice = Invoice::compose(kind, currency, lines, prepaid, rounding)
                        .expect("composes");
                    let mut doc = issued(invoice);
                    doc.seller.name = seller;
                    doc.buyer.name = buyer;
                    doc.buyer.vat_id = None;
                    doc.due_date = due.then(|| d("2026-03-03"));
                    doc.payment_terms = (terms || !due).then(|| "Net 30 days".into());
                    if !period {
                        doc.period = None;
                    }
                    doc.preceding = preceding.then(|| PrecedingInvoice {
                        number: "INV-2025-000007".into(),
                        issue_date: d("2025-12-01"),
                    });
                    doc
                },
            )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_composed_document_passes_every_rule(doc in arb_document()) {
        let xml = xml_of(&doc);
        let root = parse(&xml);
        let broken = broken_rules(&root);
        prop_assert!(broken.is_empty(), "broken rules: {:#?}\n{}", broken, xml);
        let n = names(&root);
        prop_assert_eq!(root.all(n.line).count(), doc.invoice.lines().len());
        let seller = "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity";
        let seller_name = root.text_at(&format!("{seller}/cbc:RegistrationName"));
        prop_assert_eq!(seller_name, Some(doc.seller.name.as_str()));
        let names_back = texts(root.all(n.line), "cac:Item/cbc:Name");
        let names_in: Vec<&str> = doc.invoice.lines().iter().map(|l| l.description()).collect();
        prop_assert_eq!(names_back, names_in);
    }
}
