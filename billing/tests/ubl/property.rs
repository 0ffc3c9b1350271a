//! Property: every document l2c can compose exports as a document that passes every rule —
//! EN 16931, Peppol BIS Billing 3.0 and, when seller and buyer are both German, Peppol's German
//! rules.
//!
//! The generated documents are what a billing run issues: invoices and credit notes in EUR,
//! USD, GBP, CHF, JPY, BHD and SEK; lines of every VAT category billing a month (the base
//! period, on any cycle day from 2026 to 2028), adjustments of periods billed before
//! (negative quantities, periods before the base period), yearly charges billed ahead (a year
//! of 365 or 366 days from within the base period) and one-time charges without a period; the
//! seller with its contact and payment means (SEPA 58 with an IBAN, 30 or 31 with an account,
//! with or without BIC and account holder), buyers in and outside Germany with or without a
//! contact. The document period is the rule the application uses: the hull of the base period
//! and every line's period, so it starts at the earliest start and ends at the latest end.

use super::fixtures::{cur, d, issued, party, standard, texts, xml_of, zero_rate};
use super::rules::{broken_rules, names};
use super::tree::parse;
use chrono::{Days, Months, NaiveDate};
use l2c_billing::{
    Contact, Currency, DocumentKind, Invoice, InvoiceLine, IssuedDocument, Money, PaymentMeans,
    Period, PrecedingInvoice, Rounding, TaxCategory, TaxRate,
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

/// The month a run bills: from a cycle day 1..28 of a month in 2026..2028.
fn arb_base_period() -> impl Strategy<Value = Period> {
    (0u32..36, 0u64..28).prop_map(|(month, day)| {
        let start = d("2026-01-01") + Months::new(month) + Days::new(day);
        Period::new(start, start + Months::new(1)).expect("a month")
    })
}

/// What a line bills, relative to the base period.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Part or all of the base period, or no period.
    Regular,
    /// A credit or charge for a period invoiced before: a negative quantity, a period that
    /// ends on or before the base period's start.
    Adjustment,
    /// A yearly charge billed ahead: a year from a day within the base period.
    Yearly,
}

fn line_period(kind: Kind, base: Period, from: u64, days: u64) -> Option<Period> {
    let period = |start: NaiveDate, end: NaiveDate| Period::new(start, end).expect("non-empty");
    match kind {
        Kind::Regular if from.is_multiple_of(5) => None,
        Kind::Regular => {
            let start = base.start() + Days::new(from % base.days().unsigned_abs());
            Some(period(start, (start + Days::new(days)).min(base.end())))
        }
        Kind::Adjustment => {
            let end = base.start() - Days::new(from * 3);
            Some(period(end - Days::new(days * 3), end))
        }
        Kind::Yearly => {
            let start = base.start() + Days::new(from % base.days().unsigned_abs());
            Some(period(start, start + Months::new(12)))
        }
    }
}

fn arb_line(
    currency: Currency,
    rounding: Rounding,
    base: Period,
) -> impl Strategy<Value = InvoiceLine> {
    let kind = prop_oneof![
        3 => Just(Kind::Regular),
        1 => Just(Kind::Adjustment),
        1 => Just(Kind::Yearly),
    ];
    (
        arb_text(),
        kind,
        -3i64..=5,
        0i64..2_000_000,
        arb_rate(),
        (0u64..31, 1u64..31),
    )
        .prop_map(move |(text, kind, qty, minor, rate, (from, days))| {
            let price = Money::new(Decimal::new(minor, currency.minor_units()), currency);
            let quantity = match kind {
                Kind::Adjustment => -qty.abs().max(1),
                Kind::Yearly => qty.abs().max(1),
                Kind::Regular => qty,
            };
            let period = line_period(kind, base, from, days);
            InvoiceLine::new(text, period, Decimal::from(quantity), price, rate, rounding)
                .expect("valid line")
        })
}

/// The hull of `base` and every line's period: the application's document period.
fn hull(base: Period, lines: &[InvoiceLine]) -> Period {
    let periods = lines.iter().filter_map(InvoiceLine::period);
    let (start, end) = periods.fold((base.start(), base.end()), |(s, e), p| {
        (s.min(p.start()), e.max(p.end()))
    });
    Period::new(start, end).expect("non-empty")
}

/// IBANs with their checksum, SEPA and not.
const IBANS: [&str; 5] = [
    "DE89370400440532013000",
    "AT611904300234573201",
    "FR1420041010050500013M02606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
];

fn arb_payment() -> impl Strategy<Value = PaymentMeans> {
    let account = prop_oneof![
        prop::sample::select(IBANS.to_vec()).prop_map(String::from),
        "[0-9]{6,12}",
    ];
    (
        prop::sample::select(vec!["58", "30", "31"]),
        prop::sample::select(IBANS.to_vec()),
        account,
        prop::option::of(prop::sample::select(vec![
            "COBADEFFXXX",
            "DEUTDEFF",
            "BKAUATWW",
        ])),
        prop::option::of(arb_text()),
    )
        .prop_map(|(code, iban, account, bic, holder)| PaymentMeans {
            code: code.into(),
            account: if code == "58" { iban.into() } else { account },
            account_name: holder,
            bic: bic.map(Into::into),
        })
}

fn arb_contact() -> impl Strategy<Value = Contact> {
    (
        arb_text(),
        "\\+[0-9]{2} [0-9]{2,4} [0-9]{4,8}",
        "[a-z]{1,8}@[a-z]{1,8}\\.(de|com|at)",
    )
        .prop_map(|(name, phone, email)| Contact { name, phone, email })
}

/// Seller and buyer names, the seller's contact and payment means, and the buyer's country,
/// electronic address and contact.
type Parties = (
    (String, String),
    (Contact, PaymentMeans),
    (&'static str, bool, Option<Contact>),
);

fn arb_parties() -> impl Strategy<Value = Parties> {
    (
        (arb_text(), arb_text()),
        (arb_contact(), arb_payment()),
        (
            prop::sample::select(vec!["DE", "DE", "AT", "FR", "US"]),
            any::<bool>(),
            prop::option::of(arb_contact()),
        ),
    )
}

fn with_parties(doc: &mut IssuedDocument, parties: Parties) {
    let ((seller, buyer), (contact, payment), (country, gln, buyer_contact)) = parties;
    doc.seller.name = seller;
    doc.seller.contact = Some(contact);
    doc.seller.payment = Some(payment);
    doc.buyer = party(&buyer, country, None);
    if !gln {
        doc.buyer.endpoint_scheme = "9930".into();
        doc.buyer.endpoint_id = "DE987654321".into();
    }
    doc.buyer.contact = buyer_contact;
}

fn arb_document() -> impl Strategy<Value = (IssuedDocument, Period)> {
    let setup = (
        prop::sample::select(vec!["EUR", "USD", "GBP", "CHF", "JPY", "BHD", "SEK"]),
        prop::sample::select(vec![Rounding::HalfAwayFromZero, Rounding::HalfEven]),
        arb_base_period(),
    );
    setup.prop_flat_map(|(code, rounding, base)| {
        let currency = cur(code);
        (
            prop::collection::vec(arb_line(currency, rounding, base), 1..8),
            prop::sample::select(vec![DocumentKind::Invoice, DocumentKind::CreditNote]),
            0i64..50_000,
            (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()),
            arb_parties(),
        )
            .prop_map(move |(lines, kind, prepaid, flags, parties)| {
                let (due, terms, period, preceding) = flags;
                let prepaid = Money::new(Decimal::new(prepaid, currency.minor_units()), currency);
                let covered = hull(base, &lines);
                let invoice =
                    Invoice::compose(kind, currency, lines, prepaid, rounding).expect("composes");
                let mut doc = issued(invoice);
                with_parties(&mut doc, parties);
                doc.issue_date = base.start();
                doc.due_date = due.then(|| base.start() + Days::new(30));
                doc.payment_terms = (terms || !due).then(|| "Net 30 days".into());
                doc.period = period.then_some(covered);
                doc.preceding = preceding.then(|| PrecedingInvoice {
                    number: "INV-2025-000007".into(),
                    issue_date: d("2025-12-01"),
                });
                (doc, covered)
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_composed_document_passes_every_rule((doc, covered) in arb_document()) {
        let xml = xml_of(&doc);
        let root = parse(&xml);
        let broken = broken_rules(&root);
        prop_assert!(broken.is_empty(), "broken rules: {:#?}\n{}", broken, xml);
        let n = names(&root);
        prop_assert_eq!(root.all(n.line).count(), doc.invoice.lines().len());
        let seller = "cac:AccountingSupplierParty/cac:Party";
        let seller_name = root.text_at(&format!("{seller}/cac:PartyLegalEntity/cbc:RegistrationName"));
        prop_assert_eq!(seller_name, Some(doc.seller.name.as_str()));
        let names_back = texts(root.all(n.line), "cac:Item/cbc:Name");
        let names_in: Vec<&str> = doc.invoice.lines().iter().map(|l| l.description()).collect();
        prop_assert_eq!(names_back, names_in);

        let contact = doc.seller.contact.as_ref().expect("generated");
        let phone = root.text_at(&format!("{seller}/cac:Contact/cbc:Telephone"));
        prop_assert_eq!(phone, Some(contact.phone.as_str()));
        let means = doc.seller.payment.as_ref().expect("generated");
        prop_assert_eq!(root.text_at("cac:PaymentMeans/cbc:PaymentMeansCode"), Some(means.code.as_str()));
        prop_assert_eq!(root.text_at("cac:PaymentMeans/cbc:PaymentID"), Some(doc.number.as_str()));
        let account = "cac:PaymentMeans/cac:PayeeFinancialAccount";
        prop_assert_eq!(root.text_at(&format!("{account}/cbc:ID")), Some(means.account.as_str()));
        let bic = root.text_at(&format!("{account}/cac:FinancialInstitutionBranch/cbc:ID"));
        prop_assert_eq!(bic, means.bic.as_deref());
        let buyer_contact = "cac:AccountingCustomerParty/cac:Party/cac:Contact";
        prop_assert_eq!(root.at(buyer_contact).is_some(), doc.buyer.contact.is_some());

        if doc.period.is_some() {
            let start = covered.start().format("%Y-%m-%d").to_string();
            let end = covered.last_day().format("%Y-%m-%d").to_string();
            prop_assert_eq!(root.text_at("cac:InvoicePeriod/cbc:StartDate"), Some(start.as_str()));
            prop_assert_eq!(root.text_at("cac:InvoicePeriod/cbc:EndDate"), Some(end.as_str()));
        }
    }
}
