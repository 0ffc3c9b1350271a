//! Documents l2c writes, checked element by element: invoices with several rates and credit
//! lines, line periods, credit notes, exemptions, out-of-scope lines, currencies without
//! decimals, escaped text, contacts and payment means, and blank optional values.

use super::fixtures::{
    compose, cur, d, issued, line, standard, texts, written_and_valid, xml_of, zero_rate,
};
use super::rules::broken_rules;
use super::tree::{parse, Node};
use l2c_billing::{
    Contact, DocumentKind, InvoiceLine, IssuedDocument, Money, PaymentMeans, Period,
    PrecedingInvoice, Rounding, TaxCategory,
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
    // The seller's SEPA means, with the due date a CreditNote has no other place for.
    let means = root.child("cac:PaymentMeans").expect("payment means");
    let order: Vec<&str> = means.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        order,
        [
            "cbc:PaymentMeansCode",
            "cbc:PaymentDueDate",
            "cbc:PaymentID",
            "cac:PayeeFinancialAccount"
        ]
    );
    assert_eq!(means.text_at("cbc:PaymentMeansCode"), Some("58"));
    assert_eq!(means.text_at("cbc:PaymentDueDate"), Some("2026-03-03"));
    assert_eq!(means.text_at("cbc:PaymentID"), Some("CN-2026-000003"));
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

/// A document with one line of `category`, the buyer in `buyer_country`.
fn one_line(category: TaxCategory, buyer_country: &str) -> IssuedDocument {
    let eur = cur("EUR");
    let lines = vec![line(
        "Road tax",
        dec!(1),
        "3200.00",
        eur,
        zero_rate(category),
    )];
    let mut doc = issued(compose(DocumentKind::Invoice, eur, lines));
    doc.buyer.country = buyer_country.into();
    doc
}

#[test]
fn out_of_scope_has_no_rate_and_a_vatex_code() {
    let root = written_and_valid(&one_line(TaxCategory::OutOfScope, "AT"));
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
fn out_of_scope_between_german_parties_states_a_zero_rate_in_its_breakdown_only() {
    let root = written_and_valid(&one_line(TaxCategory::OutOfScope, "DE"));
    let category = "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory";
    assert_eq!(
        root.text_at(&format!("{category}/cbc:Percent")),
        Some("0"),
        "DE-R-014"
    );
    let classified = "cac:InvoiceLine/cac:Item/cac:ClassifiedTaxCategory";
    assert!(
        root.at(&format!("{classified}/cbc:Percent")).is_none(),
        "BR-O-05"
    );
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

#[test]
fn seller_contact_and_payment_means_follow_the_schema() {
    let eur = cur("EUR");
    let mut doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "100.00", eur, standard(dec!(19)))],
    ));
    if let Some(means) = doc.seller.payment.as_mut() {
        means.account_name = Some("Netz & Co GmbH Treuhand".into());
    }
    let root = written_and_valid(&doc);
    let seller = root
        .at("cac:AccountingSupplierParty/cac:Party")
        .expect("seller");
    assert_eq!(
        seller.children.last().map(|c| c.name.as_str()),
        Some("cac:Contact"),
        "after PartyLegalEntity"
    );
    let contact = seller.child("cac:Contact").expect("contact");
    let fields: Vec<(&str, &str)> = contact
        .children
        .iter()
        .map(|c| (c.name.as_str(), c.text.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("cbc:Name", "Accounts receivable"),
            ("cbc:Telephone", "+49 30 1234567"),
            ("cbc:ElectronicMail", "ar@netz.example.de")
        ]
    );
    let buyer = "cac:AccountingCustomerParty/cac:Party";
    assert!(root.at(&format!("{buyer}/cac:Contact")).is_none());

    let means = root.child("cac:PaymentMeans").expect("payment means");
    let code = means.child("cbc:PaymentMeansCode").expect("code");
    assert_eq!(code.text, "58");
    assert_eq!(code.attrs["name"], "SEPA credit transfer");
    assert!(
        means.child("cbc:PaymentDueDate").is_none(),
        "an invoice has cbc:DueDate"
    );
    assert_eq!(root.text_at("cbc:DueDate"), Some("2026-03-03"));
    assert_eq!(means.text_at("cbc:PaymentID"), Some("INV-2026-000042"));
    let account = means.child("cac:PayeeFinancialAccount").expect("account");
    assert_eq!(account.text_at("cbc:ID"), Some("DE89370400440532013000"));
    assert_eq!(account.text_at("cbc:Name"), Some("Netz & Co GmbH Treuhand"));
    assert_eq!(
        account.text_at("cac:FinancialInstitutionBranch/cbc:ID"),
        Some("COBADEFFXXX")
    );
    let after: Vec<&str> = root
        .children
        .iter()
        .map(|c| c.name.as_str())
        .skip_while(|n| *n != "cac:AccountingCustomerParty")
        .take(3)
        .collect();
    assert_eq!(
        after,
        [
            "cac:AccountingCustomerParty",
            "cac:PaymentMeans",
            "cac:PaymentTerms"
        ]
    );
}

#[test]
fn a_buyer_contact_and_a_credit_transfer_without_bic() {
    let eur = cur("EUR");
    let mut doc = issued(compose(
        DocumentKind::Invoice,
        eur,
        vec![line(
            "LAN setup",
            dec!(1),
            "450.00",
            eur,
            standard(dec!(19)),
        )],
    ));
    doc.buyer.contact = Some(Contact {
        name: "Purchasing".into(),
        phone: "+49 89 765432".into(),
        email: "purchasing@acme.example.com".into(),
    });
    doc.seller.payment = Some(PaymentMeans {
        code: "30".into(),
        account: "0532013000".into(),
        account_name: None,
        bic: None,
    });
    let root = written_and_valid(&doc);
    let buyer = "cac:AccountingCustomerParty/cac:Party/cac:Contact";
    assert_eq!(
        root.text_at(&format!("{buyer}/cbc:ElectronicMail")),
        Some("purchasing@acme.example.com")
    );
    let account = root
        .at("cac:PaymentMeans/cac:PayeeFinancialAccount")
        .expect("account");
    let children: Vec<&str> = account.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(children, ["cbc:ID"], "no empty name or branch");
    assert_eq!(
        root.text_at("cac:PaymentMeans/cbc:PaymentMeansCode"),
        Some("30")
    );
}

#[test]
fn without_seller_payment_means_a_credit_note_says_instrument_not_defined() {
    let eur = cur("EUR");
    let invoice = compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "100.00", eur, standard(dec!(19)))],
    );
    let mut doc = issued(invoice.credit_note());
    doc.seller.payment = None;
    let root = written_and_valid(&doc);
    let means = root.child("cac:PaymentMeans").expect("payment means");
    let order: Vec<&str> = means.children.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["cbc:PaymentMeansCode", "cbc:PaymentDueDate"]);
    assert_eq!(means.text_at("cbc:PaymentMeansCode"), Some("1"));

    // An invoice to a buyer abroad without payment means has none, and that is valid.
    let mut doc = issued(invoice);
    doc.seller.payment = None;
    doc.buyer.country = "AT".into();
    let root = written_and_valid(&doc);
    assert!(root.child("cac:PaymentMeans").is_none());
}

#[test]
fn credit_note_billing_reference_names_number_and_issue_date() {
    let eur = cur("EUR");
    let invoice = compose(
        DocumentKind::Invoice,
        eur,
        vec![line(
            "Router rental",
            dec!(2),
            "15.50",
            eur,
            standard(dec!(7)),
        )],
    );
    let mut doc = issued(invoice.credit_note());
    doc.number = "CN-2026-000004".into();
    doc.preceding = Some(PrecedingInvoice {
        number: "INV-2025-000913".into(),
        issue_date: d("2025-11-30"),
    });
    let root = written_and_valid(&doc);
    let reference = root
        .at("cac:BillingReference/cac:InvoiceDocumentReference")
        .expect("BG-3");
    assert_eq!(reference.text_at("cbc:ID"), Some("INV-2025-000913"));
    assert_eq!(reference.text_at("cbc:IssueDate"), Some("2025-11-30"));
    let header: Vec<&str> = root.children.iter().map(|c| c.name.as_str()).collect();
    let at = |name: &str| header.iter().position(|n| *n == name).expect(name);
    assert!(at("cac:InvoicePeriod") < at("cac:BillingReference"));
    assert!(at("cac:BillingReference") < at("cac:AccountingSupplierParty"));
}

#[test]
fn blank_optional_values_are_left_out_not_written_empty() {
    let eur = cur("EUR");
    let invoice = compose(
        DocumentKind::Invoice,
        eur,
        vec![line("WAN link", dec!(1), "100.00", eur, standard(dec!(19)))],
    );
    let mut doc = issued(invoice.credit_note());
    doc.payment_terms = Some("  ".into());
    doc.preceding = Some(PrecedingInvoice {
        number: String::new(),
        issue_date: d("2026-01-01"),
    });
    let root = written_and_valid(&doc);
    assert!(root.child("cac:PaymentTerms").is_none());
    assert!(root.child("cac:BillingReference").is_none());
}

/// BT-125: the document carries its own PDF, the same bytes `pdf::to_vec` gives, so a buyer
/// whose system shows no UBL reads the invoice l2c booked.
#[test]
fn the_document_embeds_its_own_pdf() {
    use base64::Engine as _;
    let eur = cur("EUR");
    for kind in [DocumentKind::Invoice, DocumentKind::CreditNote] {
        let lines = vec![line("Port", dec!(1), "100.00", eur, standard(dec!(19)))];
        let doc = issued(compose(kind, eur, lines));
        let root = written_and_valid(&doc);
        let reference = root
            .at("cac:AdditionalDocumentReference")
            .expect("an additional document reference");
        assert_eq!(reference.text_at("cbc:ID"), Some(doc.number.as_str()));
        let object = reference
            .at("cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
            .expect("an embedded object");
        assert_eq!(object.attrs["mimeCode"], "application/pdf");
        assert_eq!(object.attrs["filename"], format!("{}.pdf", doc.number));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(object.text.trim())
            .expect("base64");
        assert_eq!(bytes, l2c_billing::pdf::to_vec(&doc).expect("renders"));
        assert!(bytes.starts_with(b"%PDF-"));
    }
}
