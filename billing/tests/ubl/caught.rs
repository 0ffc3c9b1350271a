//! Each Peppol and German rule catching a document that breaks it. A document l2c would
//! refuse to write is made by editing the written XML, as a broken exporter or a hand edit
//! would; the rest are written from documents l2c accepts but Peppol does not.

use super::fixtures::{
    assert_breaks, broken, compose, cur, d, issued, line, replaced, standard, written_and_valid,
    xml_of, zero_rate,
};
use l2c_billing::{
    DocumentKind, InvoiceLine, IssuedDocument, Money, Period, Rounding, TaxCategory,
};
use rust_decimal_macros::dec;

/// Two lines, the first for Feb 10..20 within the February document period, the buyer in
/// München with a German VAT id as electronic address, so every value below occurs once.
fn base() -> IssuedDocument {
    let eur = cur("EUR");
    let part = Period::new(d("2026-02-10"), d("2026-02-21")).expect("period");
    let price = Money::parse("100.00", eur).expect("price");
    let wan = InvoiceLine::new(
        "WAN link",
        Some(part),
        dec!(1),
        price,
        standard(dec!(19)),
        Rounding::default(),
    )
    .expect("line");
    let router = line("Router rental", dec!(1), "50.00", eur, standard(dec!(19)));
    let mut doc = issued(compose(DocumentKind::Invoice, eur, vec![wan, router]));
    doc.buyer.city = "München".into();
    doc.buyer.postcode = "80331".into();
    doc.buyer.endpoint_scheme = "9930".into();
    doc.buyer.endpoint_id = "DE987654321".into();
    doc
}

fn base_xml() -> String {
    xml_of(&base())
}

/// `xml` without the first element that opens with `<name>` or `<name ...>` (`name` may
/// include attributes, as in `cbc:EndpointID schemeID="0088"`).
fn without(xml: &str, name: &str) -> String {
    let start = [format!("<{name}>"), format!("<{name} ")]
        .iter()
        .filter_map(|open| xml.find(open.as_str()))
        .min()
        .unwrap_or_else(|| panic!("no {name} in\n{xml}"));
    let tag = name.split(' ').next().unwrap_or(name);
    let close = format!("</{tag}>");
    let end = start + xml[start..].find(&close).expect("closed") + close.len();
    format!("{}{}", &xml[..start], &xml[end..])
}

/// The first `<name>...</name>` element of `xml`, as text.
fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let start = xml.find(&format!("<{name}>")).expect("present");
    let close = format!("</{name}>");
    let end = start + xml[start..].find(&close).expect("closed") + close.len();
    &xml[start..end]
}

#[test]
fn the_base_document_passes_every_rule() {
    written_and_valid(&base());
}

#[test]
fn empty_elements_r008() {
    let xml = replaced(
        &base_xml(),
        "<cbc:Name>Router rental</cbc:Name>",
        "<cbc:Name/>",
    );
    assert_breaks(&xml, "PEPPOL-EN16931-R008");
    let xml = replaced(&base_xml(), ">Net 30 days<", "> \n <");
    assert_breaks(&xml, "PEPPOL-EN16931-R008");
}

#[test]
fn document_level_r003_r007_r010_r020_p0100_p0101_f001() {
    let xml = without(&base_xml(), "cbc:BuyerReference");
    assert_breaks(&xml, "PEPPOL-EN16931-R003");
    assert_breaks(&xml, "DE-R-015");
    let xml = replaced(&base_xml(), "billing:01:1.0", "billing:02:1.0");
    assert_breaks(&xml, "PEPPOL-EN16931-R007");
    let buyer = without(&base_xml(), "cbc:EndpointID schemeID=\"9930\"");
    assert_breaks(&buyer, "PEPPOL-EN16931-R010");
    let seller = without(&base_xml(), "cbc:EndpointID schemeID=\"0088\"");
    assert_breaks(&seller, "PEPPOL-EN16931-R020");
    let xml = replaced(&base_xml(), ">380<", ">999<");
    assert_breaks(&xml, "PEPPOL-EN16931-P0100");
    let note = xml_of(&issued(base().invoice.credit_note()));
    assert_breaks(&replaced(&note, ">381<", ">380<"), "PEPPOL-EN16931-P0101");
    let xml = replaced(
        &base_xml(),
        "<cbc:IssueDate>2026-02-01</cbc:IssueDate>",
        "<cbc:IssueDate>2026-2-1</cbc:IssueDate>",
    );
    assert_breaks(&xml, "PEPPOL-EN16931-F001");
}

#[test]
fn tax_totals_r053_r054_r051() {
    let xml = base_xml();
    let total = element(&xml, "cac:TaxTotal").to_string();
    let twice = replaced(&xml, &total, &format!("{total}{total}"));
    assert_breaks(&twice, "PEPPOL-EN16931-R053");
    let bare =
        "<cac:TaxTotal><cbc:TaxAmount currencyID=\"EUR\">28.50</cbc:TaxAmount></cac:TaxTotal>";
    let extra = replaced(&xml, &total, &format!("{total}{bare}"));
    assert_breaks(&extra, "PEPPOL-EN16931-R054");
    assert!(
        !broken(&extra)
            .iter()
            .any(|b| b.starts_with("PEPPOL-EN16931-R053")),
        "one total with subtotals is still one"
    );
    let dollars = replaced(
        &xml,
        "<cbc:PriceAmount currencyID=\"EUR\">50.00</cbc:PriceAmount>",
        "<cbc:PriceAmount currencyID=\"USD\">50.00</cbc:PriceAmount>",
    );
    assert_breaks(&dollars, "PEPPOL-EN16931-R051");
}

#[test]
fn payment_br_49_br_50_br_61_and_r061() {
    let xml = base_xml();
    assert_breaks(&without(&xml, "cbc:PaymentMeansCode"), "BR-49");
    let no_account = without(&xml, "cac:PayeeFinancialAccount");
    assert_breaks(&no_account, "BR-61");
    assert_breaks(&no_account, "DE-R-023-1");
    let blank = replaced(
        &xml,
        "<cbc:ID>DE89370400440532013000</cbc:ID>",
        "<cbc:ID></cbc:ID>",
    );
    assert_breaks(&blank, "BR-50");
    let debit = replaced(
        &xml,
        ">58</cbc:PaymentMeansCode>",
        ">59</cbc:PaymentMeansCode>",
    );
    assert_breaks(&debit, "PEPPOL-EN16931-R061");
}

#[test]
fn line_periods_outside_the_document_period_r110_r111() {
    // The line runs Feb 10..20; the document period is narrowed to Feb 11..19.
    let xml = replaced(
        &base_xml(),
        "<cbc:StartDate>2026-02-01</cbc:StartDate>",
        "<cbc:StartDate>2026-02-11</cbc:StartDate>",
    );
    let xml = replaced(
        &xml,
        "<cbc:EndDate>2026-02-28</cbc:EndDate>",
        "<cbc:EndDate>2026-02-19</cbc:EndDate>",
    );
    let broken = broken(&xml);
    for rule in ["PEPPOL-EN16931-R110", "PEPPOL-EN16931-R111"] {
        let n = broken.iter().filter(|b| b.starts_with(rule)).count();
        assert_eq!(n, 1, "{rule} once, for line 1: {broken:#?}");
    }
}

#[test]
fn an_adjustment_before_or_a_year_ahead_needs_a_period_that_covers_it() {
    // What a run writes if it kept the month it bills as the document period.
    let eur = cur("EUR");
    let january = Period::new(d("2026-01-10"), d("2026-02-01")).expect("period");
    let year = Period::new(d("2026-02-01"), d("2027-02-01")).expect("period");
    let price = Money::parse("10.00", eur).expect("price");
    let tax = standard(dec!(19));
    let lines = vec![
        InvoiceLine::new(
            "Credit",
            Some(january),
            dec!(-1),
            price,
            tax,
            Rounding::default(),
        ),
        InvoiceLine::new(
            "Support",
            Some(year),
            dec!(1),
            price,
            tax,
            Rounding::default(),
        ),
    ];
    let lines = lines
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .expect("lines");
    let mut doc = issued(compose(DocumentKind::Invoice, eur, lines));
    doc.period = Some(Period::new(d("2026-01-10"), d("2027-02-01")).expect("hull"));
    let xml = xml_of(&doc);
    assert!(broken(&xml).is_empty(), "{:#?}", broken(&xml));
    let month = replaced(
        &xml,
        "<cbc:StartDate>2026-01-10</cbc:StartDate>\n    <cbc:EndDate>2027-01-31</cbc:EndDate>",
        "<cbc:StartDate>2026-02-01</cbc:StartDate>\n    <cbc:EndDate>2026-02-28</cbc:EndDate>",
    );
    assert_breaks(&month, "PEPPOL-EN16931-R110");
    assert_breaks(&month, "PEPPOL-EN16931-R111");
}

#[test]
fn line_net_r120_within_peppol_slack() {
    let xml = base_xml();
    let net = "<cbc:LineExtensionAmount currencyID=\"EUR\">100.00</cbc:LineExtensionAmount>";
    let off = replaced(&xml, net, &net.replace("100.00", "100.03"));
    assert_breaks(&off, "PEPPOL-EN16931-R120");
    // Two cents is inside the rule's slack (the totals rules still see it).
    let slack = replaced(&xml, net, &net.replace("100.00", "100.02"));
    let broken = broken(&slack);
    assert!(
        !broken.iter().any(|b| b.starts_with("PEPPOL-EN16931-R120")),
        "{broken:?}"
    );
    assert!(
        broken.iter().any(|b| b.starts_with("BR-CO-10")),
        "{broken:?}"
    );

    // Yen have no minor unit, yet the slack stays 0.02: one yen off is caught.
    let jpy = cur("JPY");
    let doc = issued(compose(
        DocumentKind::Invoice,
        jpy,
        vec![
            line("Leased line", dec!(3), "1234", jpy, standard(dec!(10))),
            line(
                "Credit for outage",
                dec!(-1),
                "100",
                jpy,
                standard(dec!(10)),
            ),
        ],
    ));
    let xml = xml_of(&doc);
    let net = "<cbc:LineExtensionAmount currencyID=\"JPY\">3702</cbc:LineExtensionAmount>";
    let off = replaced(&xml, net, &net.replace("3702", "3703"));
    assert_breaks(&off, "PEPPOL-EN16931-R120");
}

#[test]
fn base_quantity_r121_r130_and_its_share_in_r120() {
    let xml = base_xml();
    let price = "<cbc:PriceAmount currencyID=\"EUR\">100.00</cbc:PriceAmount>";
    let zero = format!("{price}<cbc:BaseQuantity unitCode=\"HUR\">0</cbc:BaseQuantity>");
    let zero = replaced(&xml, price, &zero);
    assert_breaks(&zero, "PEPPOL-EN16931-R121");
    assert_breaks(&zero, "PEPPOL-EN16931-R130");
    let broken_zero = broken(&zero);
    assert!(
        !broken_zero
            .iter()
            .any(|b| b.starts_with("PEPPOL-EN16931-R120")),
        "a zero base quantity counts as 1 in R120: {broken_zero:?}"
    );
    let two = format!("{price}<cbc:BaseQuantity unitCode=\"C62\">2</cbc:BaseQuantity>");
    let two = replaced(&xml, price, &two);
    let broken_two = broken(&two);
    assert!(
        broken_two
            .iter()
            .all(|b| b.starts_with("PEPPOL-EN16931-R120")),
        "price per 2 units halves the net: {broken_two:?}"
    );
    assert_eq!(broken_two.len(), 1);
}

#[test]
fn code_lists_cl008_gln_and_vatex() {
    let xml = base_xml();
    let scheme = replaced(&xml, "schemeID=\"9930\"", "schemeID=\"0037\"");
    assert_breaks(&scheme, "PEPPOL-EN16931-CL008");
    let gln = replaced(&xml, ">4000001000005<", ">4000001000006<");
    assert_breaks(&gln, "PEPPOL-COMMON-R040");
    let mut doc = base();
    doc.invoice = compose(
        DocumentKind::Invoice,
        cur("EUR"),
        vec![line(
            "Road tax",
            dec!(1),
            "10.00",
            cur("EUR"),
            zero_rate(TaxCategory::OutOfScope),
        )],
    );
    let vatex = replaced(&xml_of(&doc), ">VATEX-EU-O<", ">VATEX-EU-G<");
    assert_breaks(&vatex, "PEPPOL-EN16931-P0104");
}

#[test]
fn german_payment_instructions_de_r_001_019_023() {
    let mut doc = base();
    doc.seller.payment = None;
    let xml = xml_of(&doc);
    assert_breaks(&xml, "DE-R-001");
    // The same document to a buyer abroad is fine: the German rules ask both to be German.
    doc.buyer.country = "AT".into();
    written_and_valid(&doc);

    let xml = base_xml();
    assert_breaks(&without(&xml, "cac:PaymentMeans"), "DE-R-001");
    let checksum = replaced(&xml, ">DE89370400440532013000<", ">DE89370400440532013001<");
    assert_breaks(&checksum, "DE-R-019");
    let mandate = replaced(
        &xml,
        "</cac:PaymentMeans>",
        "<cac:PaymentMandate><cbc:ID>M-1</cbc:ID></cac:PaymentMandate></cac:PaymentMeans>",
    );
    assert_breaks(&mandate, "DE-R-023-2");
}

#[test]
fn german_seller_contact_de_r_002_005_006_007_027_028() {
    let mut doc = base();
    doc.seller.contact = None;
    assert_breaks(&xml_of(&doc), "DE-R-002");

    let xml = base_xml();
    assert_breaks(&without(&xml, "cbc:ElectronicMail"), "DE-R-007");
    assert_breaks(&without(&xml, "cbc:Telephone"), "DE-R-006");
    let contact = element(&xml, "cac:Contact").to_string();
    let unnamed = replaced(&xml, &contact, &without(&contact, "cbc:Name"));
    assert_breaks(&unnamed, "DE-R-005");
    let phone = replaced(&xml, ">+49 30 1234567<", ">n/a<");
    assert_breaks(&phone, "DE-R-027");
    let email = replaced(&xml, ">ar@netz.example.de<", ">ar@netz..de<");
    assert_breaks(&email, "DE-R-028");
}

#[test]
fn german_addresses_de_r_003_004_008_009() {
    let xml = base_xml();
    for (from, rule) in [
        ("<cbc:CityName>Berlin</cbc:CityName>", "DE-R-003"),
        ("<cbc:PostalZone>10115</cbc:PostalZone>", "DE-R-004"),
        ("<cbc:CityName>München</cbc:CityName>", "DE-R-008"),
        ("<cbc:PostalZone>80331</cbc:PostalZone>", "DE-R-009"),
    ] {
        assert_breaks(&replaced(&xml, from, ""), rule);
    }
}

#[test]
fn german_vat_de_r_014_016() {
    let mut doc = base();
    doc.invoice = compose(
        DocumentKind::Invoice,
        cur("EUR"),
        vec![line(
            "Road tax",
            dec!(1),
            "10.00",
            cur("EUR"),
            zero_rate(TaxCategory::OutOfScope),
        )],
    );
    let xml = xml_of(&doc);
    assert_breaks(
        &replaced(&xml, "<cbc:Percent>0</cbc:Percent>", ""),
        "DE-R-014",
    );
    // Out of scope only: the seller needs no VAT id.
    doc.seller.vat_id = None;
    written_and_valid(&doc);

    let mut doc = base();
    doc.seller.vat_id = None;
    assert_breaks(&xml_of(&doc), "DE-R-016");
}

#[test]
fn german_type_codes_de_r_017_026() {
    let xml = base_xml();
    assert_breaks(&replaced(&xml, ">380<", ">393<"), "DE-R-017");
    assert_breaks(&replaced(&xml, ">380<", ">384<"), "DE-R-026");
}

#[test]
fn german_skonto_terms_de_r_018() {
    let mut doc = base();
    doc.payment_terms = Some("#SKONTO#TAGE=14#PROZENT=2.00#\nNet 30 days".into());
    written_and_valid(&doc);
    for bad in [
        "#SKONTO#TAGE=14#PROZENT=2#\nNet 30 days",
        "#SKONTO#TAGE=14#PROZENT=2.00#",
        "# SKONTO#TAGE=14#PROZENT=2.00#\n",
    ] {
        doc.payment_terms = Some(bad.into());
        assert_breaks(&xml_of(&doc), "DE-R-018");
    }
}
