//! Fixtures: currencies, dates, tax rates, parties (the seller with its contact and SEPA
//! payment means, as l2c's settings require) and lines, composed and issued into documents,
//! and writing one out and checking it against every rule.

use super::rules::broken_rules;
use super::tree::{parse, Node};
use chrono::NaiveDate;
use l2c_billing::{
    ubl, Contact, Currency, DocumentKind, Invoice, InvoiceLine, IssuedDocument, Money, Party,
    PaymentMeans, Period, Rounding, TaxCategory, TaxRate,
};
use rust_decimal::Decimal;

pub(super) fn cur(code: &str) -> Currency {
    Currency::from_code(code).expect("known currency")
}

pub(super) fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

pub(super) fn standard(percent: Decimal) -> TaxRate {
    TaxRate::new(TaxCategory::Standard, percent).expect("valid rate")
}

pub(super) fn zero_rate(category: TaxCategory) -> TaxRate {
    TaxRate::new(category, Decimal::ZERO).expect("valid category")
}

/// The seller's contact (BG-6), which the German rules DE-R-002, DE-R-005..007 ask for.
pub(super) fn seller_contact() -> Contact {
    Contact {
        name: "Accounts receivable".into(),
        phone: "+49 30 1234567".into(),
        email: "ar@netz.example.de".into(),
    }
}

/// SEPA credit transfer (58) to a German IBAN with its BIC.
pub(super) fn sepa() -> PaymentMeans {
    PaymentMeans {
        code: "58".into(),
        account: "DE89370400440532013000".into(),
        account_name: None,
        bic: Some("COBADEFFXXX".into()),
    }
}

pub(super) fn party(name: &str, country: &str, vat_id: Option<&str>) -> Party {
    Party {
        name: name.into(),
        street: "Hauptstraße 1".into(),
        city: "Berlin".into(),
        postcode: "10115".into(),
        country: country.into(),
        vat_id: vat_id.map(Into::into),
        endpoint_scheme: "0088".into(),
        endpoint_id: "4000001000005".into(),
        contact: None,
        payment: None,
    }
}

pub(super) fn line(
    description: &str,
    quantity: Decimal,
    price: &str,
    currency: Currency,
    tax: TaxRate,
) -> InvoiceLine {
    let price = Money::parse(price, currency).expect("price");
    InvoiceLine::new(description, None, quantity, price, tax, Rounding::default()).expect("line")
}

pub(super) fn compose(kind: DocumentKind, currency: Currency, lines: Vec<InvoiceLine>) -> Invoice {
    Invoice::compose(
        kind,
        currency,
        lines,
        Money::zero(currency),
        Rounding::default(),
    )
    .expect("composes")
}

pub(super) fn issued(invoice: Invoice) -> IssuedDocument {
    IssuedDocument {
        number: "INV-2026-000042".into(),
        issue_date: d("2026-02-01"),
        due_date: Some(d("2026-03-03")),
        buyer_reference: "ACC-1001".into(),
        period: Some(Period::new(d("2026-02-01"), d("2026-03-01")).expect("period")),
        payment_terms: Some("Net 30 days".into()),
        preceding: None,
        seller: Party {
            contact: Some(seller_contact()),
            payment: Some(sepa()),
            ..party("Netz & Co GmbH", "DE", Some("DE123456789"))
        },
        buyer: party("Acme Industries AG", "DE", Some("DE987654321")),
        invoice,
    }
}

pub(super) fn xml_of(doc: &IssuedDocument) -> String {
    let bytes = ubl::write(doc, Vec::new()).expect("writes");
    String::from_utf8(bytes).expect("UTF-8")
}

/// Every rule the written document breaks.
pub(super) fn broken(xml: &str) -> Vec<String> {
    broken_rules(&parse(xml))
}

/// `xml` with its one occurrence of `from` replaced by `to`; panics if `from` is not there
/// exactly once, so a tampering test cannot pass by missing its target.
pub(super) fn replaced(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(xml.matches(from).count(), 1, "{from:?} once in\n{xml}");
    xml.replacen(from, to, 1)
}

/// Asserts that `rule` is among what the rules report for `xml`.
pub(super) fn assert_breaks(xml: &str, rule: &str) {
    let broken = broken(xml);
    let prefix = format!("{rule}:");
    assert!(
        broken.iter().any(|b| b.starts_with(&prefix)),
        "{rule} not reported; reported: {broken:#?}\n{xml}"
    );
}

/// Writes, parses and checks every rule; returns the tree for further assertions.
pub(super) fn written_and_valid(doc: &IssuedDocument) -> Node {
    let xml = xml_of(doc);
    let root = parse(&xml);
    let broken = broken_rules(&root);
    assert!(broken.is_empty(), "broken rules: {broken:#?}\n{xml}");
    root
}

pub(super) fn texts<'a>(nodes: impl Iterator<Item = &'a Node>, path: &str) -> Vec<String> {
    nodes
        .map(|n| n.text_at(path).unwrap_or_default().to_string())
        .collect()
}
