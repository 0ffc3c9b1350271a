//! Documents l2c writes, checked element by element: invoices with several rates and credit
//! lines, line periods, credit notes, exemptions, out-of-scope lines, currencies without
//! decimals, and escaped text.

use super::fixtures::{
    compose, cur, d, issued, line, standard, texts, written_and_valid, xml_of, zero_rate,
};
use super::rules::broken_rules;
use super::tree::{parse, Node};
use l2c_billing::{
    DocumentKind, InvoiceLine, Money, Period, PrecedingInvoice, Rounding, TaxCategory,
};
use rust_decimal_macros::dec;

#[test]
fn invoice_with_two_rates_and_a_credit_line() {
    let eur = cur("EUR");
    let lines = vec![
        line(
            "WAN link 100 Mbit/s, February",
            dec!(1),
            "1290.00",
            eur,
            standard(dec!(19)),
        ),
        line("Router rental", dec!(2), "15.50", eur, standard(dec!(7))),
        line(
            "Credit: unused days of 50 Mbit/s",
            dec!(-1),
            "200.00",
            eur,
            standard(dec!(19)),
        ),
    ];
    let doc = issued(compose(DocumentKind::Invoice, eur, lines));
    let root = written_and_valid(&doc);
    assert_header(&root);
    assert_seller(&root);
    assert_tax_and_total(&root);
    assert_credit_line(&root);
}

/// The Invoice's type, number, dates and terms, and no billing reference.
fn assert_header(root: &Node) {
    assert_eq!(root.name, "Invoice");
    assert_eq!(
        root.namespace,
        "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
    );
    assert_eq!(root.text_at("cbc:InvoiceTypeCode"), Some("380"));
    assert_eq!(root.text_at("cbc:ID"), Some("INV-2026-000042"));
    assert_eq!(root.text_at("cbc:DueDate"), Some("2026-03-03"));
    assert_eq!(
        root.text_at("cac:InvoicePeriod/cbc:StartDate"),
        Some("2026-02-01")
    );
    assert_eq!(
        root.text_at("cac:InvoicePeriod/cbc:EndDate"),
        Some("2026-02-28"),
        "last day, not the exclusive end"
    );
    assert_eq!(
        root.text_at("cac:PaymentTerms/cbc:Note"),
        Some("Net 30 days")
    );
    assert!(root.at("cac:BillingReference").is_none());
}

/// The seller's endpoint, VAT id and address.
fn assert_seller(root: &Node) {
    let seller = root
        .at("cac:AccountingSupplierParty/cac:Party")
        .expect("seller");
    assert_eq!(
        seller
            .at("cbc:EndpointID")
            .map(|e| e.attrs["schemeID"].as_str()),
        Some("0088")
    );
    assert_eq!(
        seller.text_at("cac:PartyTaxScheme/cbc:CompanyID"),
        Some("DE123456789")
    );
    assert_eq!(
        seller.text_at("cac:PartyTaxScheme/cac:TaxScheme/cbc:ID"),
        Some("VAT")
    );
    assert_eq!(
        seller.text_at("cac:PostalAddress/cbc:StreetName"),
        Some("Hauptstraße 1")
    );
}

/// One tax subtotal per rate, the tax total and the payable amount.
fn assert_tax_and_total(root: &Node) {
    // 19%: 1290.00 - 200.00 = 1090.00 -> 207.10; 7%: 31.00 -> 2.17.
    let tax = root.at("cac:TaxTotal").expect("tax total");
    assert_eq!(tax.text_at("cbc:TaxAmount"), Some("209.27"));
    let subtotals: Vec<&Node> = tax.all("cac:TaxSubtotal").collect();
    assert_eq!(
        texts(subtotals.iter().copied(), "cac:TaxCategory/cbc:Percent"),
        ["7", "19"]
    );
    assert_eq!(
        texts(subtotals.iter().copied(), "cbc:TaxableAmount"),
        ["31.00", "1090.00"]
    );
    assert_eq!(
        texts(subtotals.iter().copied(), "cbc:TaxAmount"),
        ["2.17", "207.10"]
    );
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        Some("1330.27")
    );
}

/// The third line credits the unused days: a negative quantity at a positive price.
fn assert_credit_line(root: &Node) {
    let credit = root.all("cac:InvoiceLine").nth(2).expect("third line");
    assert_eq!(credit.text_at("cbc:ID"), Some("3"));
    assert_eq!(credit.text_at("cbc:InvoicedQuantity"), Some("-1"));
    assert_eq!(
        credit
            .at("cbc:InvoicedQuantity")
            .map(|q| q.attrs["unitCode"].as_str()),
        Some("C62")
    );
    assert_eq!(credit.text_at("cbc:LineExtensionAmount"), Some("-200.00"));
    assert_eq!(credit.text_at("cac:Price/cbc:PriceAmount"), Some("200.00"));
    assert_eq!(
        credit.text_at("cac:Item/cac:ClassifiedTaxCategory/cbc:ID"),
        Some("S")
    );
}

#[test]
fn line_period_prints_its_last_day() {
    let eur = cur("EUR");
    let part = Period::new(d("2026-02-10"), d("2026-03-01")).expect("period");
    let full = Period::new(d("2026-02-01"), d("2026-03-01")).expect("period");
    let price = Money::parse("280.00", eur).expect("price");
    let prorated = InvoiceLine::prorated(
        "WAN link from Feb 10",
        part,
        &full,
        dec!(1),
        price,
        standard(dec!(19)),
        Rounding::default(),
    )
    .expect("line");
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, eur, vec![prorated])));
    let l = root.child("cac:InvoiceLine").expect("line");
    assert_eq!(
        l.text_at("cac:InvoicePeriod/cbc:StartDate"),
        Some("2026-02-10")
    );
    assert_eq!(
        l.text_at("cac:InvoicePeriod/cbc:EndDate"),
        Some("2026-02-28")
    );
    assert_eq!(
        l.text_at("cac:Price/cbc:PriceAmount"),
        Some("190.00"),
        "280 x 19/28"
    );
}

#[test]
fn credit_note_refers_to_the_invoice_it_corrects() {
    let eur = cur("EUR");
    let original = compose(
        DocumentKind::Invoice,
        eur,
        vec![line(
            "WAN link",
            dec!(1),
            "1290.00",
            eur,
            standard(dec!(19)),
        )],
    );
    let mut doc = issued(original.credit_note());
    doc.number = "CN-2026-000003".into();
    doc.payment_terms = None;
    doc.preceding = Some(PrecedingInvoice {
        number: "INV-2026-000042".into(),
        issue_date: d("2026-02-01"),
    });
    let root = written_and_valid(&doc);

    assert_eq!(root.name, "CreditNote");
    assert_eq!(
        root.namespace,
        "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
    );
    assert_eq!(root.text_at("cbc:CreditNoteTypeCode"), Some("381"));
    assert!(root.at("cbc:InvoiceTypeCode").is_none());
    assert!(
        root.at("cbc:DueDate").is_none(),
        "UBL 2.1 CreditNote has no cbc:DueDate"
    );
    assert_eq!(
        root.text_at("cac:PaymentMeans/cbc:PaymentDueDate"),
        Some("2026-03-03")
    );
    assert_eq!(
        root.text_at("cac:PaymentMeans/cbc:PaymentMeansCode"),
        Some("1")
    );
    let reference = "cac:BillingReference/cac:InvoiceDocumentReference";
    assert_eq!(
        root.text_at(&format!("{reference}/cbc:ID")),
        Some("INV-2026-000042")
    );
    assert_eq!(
        root.text_at(&format!("{reference}/cbc:IssueDate")),
        Some("2026-02-01")
    );
    assert!(root.at("cac:InvoiceLine").is_none());
    let l = root.child("cac:CreditNoteLine").expect("credit note line");
    assert_eq!(l.text_at("cbc:CreditedQuantity"), Some("1"));
    assert_eq!(l.text_at("cbc:LineExtensionAmount"), Some("1290.00"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        Some("1535.10")
    );
}

#[test]
fn exempt_invoice_states_the_exemption_reason() {
    let eur = cur("EUR");
    let lines = vec![line(
        "Training course",
        dec!(3),
        "450.00",
        eur,
        zero_rate(TaxCategory::Exempt),
    )];
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, eur, lines)));
    let category = root
        .at("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory")
        .expect("category");
    assert_eq!(category.text_at("cbc:ID"), Some("E"));
    assert_eq!(category.text_at("cbc:Percent"), Some("0"));
    assert_eq!(
        category.text_at("cbc:TaxExemptionReason"),
        Some("Exempt from VAT")
    );
    assert_eq!(root.text_at("cac:TaxTotal/cbc:TaxAmount"), Some("0.00"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount"),
        Some("1350.00")
    );
}

#[test]
fn out_of_scope_has_no_rate_and_a_vatex_code() {
    let eur = cur("EUR");
    let lines = vec![line(
        "Road tax",
        dec!(1),
        "3200.00",
        eur,
        zero_rate(TaxCategory::OutOfScope),
    )];
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, eur, lines)));
    let category = root
        .at("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory")
        .expect("category");
    assert!(category.at("cbc:Percent").is_none());
    assert_eq!(
        category.text_at("cbc:TaxExemptionReasonCode"),
        Some("VATEX-EU-O")
    );
    let classified = "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory";
    assert!(root.at(&format!("{classified}/cbc:Percent")).is_none());
}

#[test]
fn yen_amounts_have_no_decimals() {
    let jpy = cur("JPY");
    let lines = vec![
        line(
            "Leased line, Tokyo",
            dec!(1),
            "125000",
            jpy,
            standard(dec!(10)),
        ),
        line(
            "Credit for outage",
            dec!(-2),
            "1234",
            jpy,
            standard(dec!(10)),
        ),
    ];
    let root = written_and_valid(&issued(compose(DocumentKind::Invoice, jpy, lines)));
    assert_eq!(root.text_at("cbc:DocumentCurrencyCode"), Some("JPY"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:LineExtensionAmount"),
        Some("122532")
    );
    assert_eq!(root.text_at("cac:TaxTotal/cbc:TaxAmount"), Some("12253"));
    assert_eq!(
        root.text_at("cac:LegalMonetaryTotal/cbc:PayableAmount"),
        Some("134785")
    );
    let amounts = root
        .descendants()
        .into_iter()
        .filter(|n| n.attrs.contains_key("currencyID"));
    assert!(amounts.clone().count() > 10);
    for node in amounts {
        assert!(!node.text.contains('.'), "{} = {}", node.name, node.text);
        assert_eq!(node.attrs["currencyID"], "JPY");
    }
}

#[test]
fn special_characters_round_trip_escaped() {
    let eur = cur("EUR");
    let tricky = r#"Fish <&> Chips "Ltd" 's"#;
    let mut doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line(tricky, dec!(1), "9.99", eur, standard(dec!(19)))],
    ));
    doc.buyer.name = tricky.into();
    doc.payment_terms = Some("Net 10 & 2% <early>".into());
    let xml = xml_of(&doc);
    assert!(
        !xml.contains(tricky),
        "raw markup characters in the output:\n{xml}"
    );
    assert!(xml.contains("Fish &lt;&amp;&gt; Chips"), "{xml}");
    let root = parse(&xml);
    assert!(broken_rules(&root).is_empty());
    assert_eq!(
        root.text_at("cac:InvoiceLine/cac:Item/cbc:Name"),
        Some(tricky)
    );
    let buyer = "cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName";
    assert_eq!(root.text_at(buyer), Some(tricky));
    assert_eq!(
        root.text_at("cac:PaymentTerms/cbc:Note"),
        Some("Net 10 & 2% <early>")
    );
}
