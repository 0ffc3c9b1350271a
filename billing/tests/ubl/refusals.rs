//! What the export refuses or reports: a tampered document breaks the rules, incomplete
//! documents are refused naming the field, and write errors are billing errors.

use super::fixtures::{compose, cur, issued, line, standard, xml_of};
use super::rules::broken_rules;
use super::tree::parse;
use l2c_billing::{ubl, BillingError, DocumentKind};
use rust_decimal_macros::dec;

#[test]
fn the_rules_catch_a_tampered_document() {
    let eur = cur("EUR");
    let doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "100.00", eur, standard(dec!(19)))],
    ));
    let xml = xml_of(&doc);
    let currency = "<cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>";
    let issue_date = "<cbc:IssueDate>2026-02-01</cbc:IssueDate>";
    let tampered = xml
        .replace(">119.00</cbc:PayableAmount>", ">118.00</cbc:PayableAmount>")
        .replace("<cbc:Name>WAN link</cbc:Name>", "<cbc:Name> </cbc:Name>")
        .replace(currency, "")
        .replace(issue_date, &format!("{currency}{issue_date}"));
    assert_ne!(tampered, xml, "the replacements must hit");
    let broken = broken_rules(&parse(&tampered));
    assert!(
        broken.iter().any(|b| b.starts_with("BR-CO-16")),
        "{broken:?}"
    );
    assert!(broken.iter().any(|b| b.starts_with("BR-25")), "{broken:?}");
    let misplaced = "UBL-order: cbc:IssueDate after cbc:DocumentCurrencyCode in Invoice";
    assert!(broken.iter().any(|b| b == misplaced), "{broken:?}");
}

#[test]
fn incomplete_documents_are_refused() {
    let eur = cur("EUR");
    let mut doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("  ", dec!(1), "1.00", eur, standard(dec!(19)))],
    ));
    let err = ubl::write(&doc, Vec::new()).expect_err("blank item name");
    let blank_name = "invoice.lines[0].description";
    assert!(
        matches!(&err, BillingError::Document { field, .. } if field == blank_name),
        "{err}"
    );
    doc.invoice = compose(
        DocumentKind::Invoice,
        eur,
        vec![line("ok", dec!(1), "1.00", eur, standard(dec!(19)))],
    );
    doc.buyer.country = "Germany".into();
    let err = ubl::write(&doc, Vec::new()).expect_err("bad country");
    assert!(
        matches!(&err, BillingError::Document { field, .. } if field == "buyer.country"),
        "{err}"
    );
}

/// An output that fails every write, like a full disk.
#[derive(Debug)]
struct FullDisk;

impl std::io::Write for FullDisk {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("no space left on device"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_billing_errors() {
    let eur = cur("EUR");
    let doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "1.00", eur, standard(dec!(19)))],
    ));
    let err = ubl::write(&doc, FullDisk).expect_err("cannot write");
    let BillingError::Export { format, reason } = err else {
        panic!("not an export error: {err}");
    };
    assert_eq!(format, "UBL");
    assert!(reason.contains("no space left"), "{reason}");
}
