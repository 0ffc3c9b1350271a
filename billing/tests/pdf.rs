//! The PDF export, checked from the file alone.
//!
//! Every test renders an [`IssuedDocument`] with `pdf::to_vec` / `pdf::write`, reads the text
//! back with `pdf-extract` (which decodes the WinAnsi bytes of the standard fonts through its
//! own tables, independent of the writer's) and asserts on what a reader would see: numbers,
//! amounts, parties, periods, page footers. Expected amounts are worked out by hand here,
//! never taken from the `Invoice` the document was built from.

use chrono::NaiveDate;
use l2c_billing::{
    pdf, BillingError, Contact, Currency, DocumentKind, Invoice, InvoiceLine, IssuedDocument,
    Money, Party, PaymentMeans, Period, PrecedingInvoice, Rounding, TaxCategory, TaxRate,
};
use rust_decimal::Decimal;
use std::io;

const IBAN: &str = "DE89370400440532013000";

fn eur() -> Currency {
    Currency::from_code("EUR").expect("EUR")
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("valid date")
}

fn period(start: &str, end: &str) -> Period {
    Period::new(d(start), d(end)).expect("period")
}

fn standard(percent: i64) -> TaxRate {
    TaxRate::new(TaxCategory::Standard, Decimal::from(percent)).expect("rate")
}

fn party(name: &str) -> Party {
    Party {
        name: name.into(),
        street: "Hauptstraße 1".into(),
        city: "Berlin".into(),
        postcode: "10115".into(),
        country: "DE".into(),
        vat_id: Some("DE987654321".into()),
        endpoint_scheme: "0088".into(),
        endpoint_id: "4000001000005".into(),
        contact: None,
        payment: None,
    }
}

fn seller() -> Party {
    Party {
        vat_id: Some("DE123456789".into()),
        contact: Some(Contact {
            name: "Accounts receivable".into(),
            phone: "+49 30 1234567".into(),
            email: "ar@netz.example".into(),
        }),
        payment: Some(PaymentMeans {
            code: "58".into(),
            account: IBAN.into(),
            account_name: None,
            bic: Some("COBADEFFXXX".into()),
        }),
        ..party("Netz & Co GmbH")
    }
}

fn line(
    description: &str,
    period: Option<Period>,
    qty: i64,
    price: &str,
    tax: TaxRate,
) -> InvoiceLine {
    let price = Money::parse(price, eur()).expect("price");
    InvoiceLine::new(
        description,
        period,
        Decimal::from(qty),
        price,
        tax,
        Rounding::default(),
    )
    .expect("line")
}

fn compose(lines: Vec<InvoiceLine>) -> Invoice {
    let (kind, zero) = (DocumentKind::Invoice, Money::zero(eur()));
    Invoice::compose(kind, eur(), lines, zero, Rounding::default()).expect("composes")
}

fn issued(invoice: Invoice) -> IssuedDocument {
    IssuedDocument {
        number: "INV-2026-000042".into(),
        issue_date: d("2026-02-01"),
        due_date: Some(d("2026-03-03")),
        buyer_reference: "ACC-1001".into(),
        period: Some(period("2026-02-01", "2026-03-01")),
        payment_terms: Some("Net 30 days".into()),
        preceding: None,
        seller: seller(),
        buyer: party("Acme Industries AG"),
        invoice,
    }
}

/// Two standard rates and a credit line: 19 % on 99.80 + 1250.00 - 25.00 = 1324.80 is
/// 251.712 -> 251.71; 7 % on 37.05 is 2.5935 -> 2.59; 1361.85 + 254.30 = 1616.15.
fn four_lines() -> IssuedDocument {
    let feb = Some(period("2026-02-01", "2026-03-01"));
    issued(compose(vec![
        line("WAN link 100 Mbit/s", feb, 2, "49.90", standard(19)),
        line("LAN setup", None, 1, "1250.00", standard(19)),
        line(
            "Credit: unused part of old plan",
            feb,
            -1,
            "25.00",
            standard(19),
        ),
        line("Printed manual", None, 3, "12.35", standard(7)),
    ]))
}

/// Renders `doc`, and keeps the file in `target/tmp/pdf-samples/` to look at, as a reader would.
fn render(doc: &IssuedDocument) -> Vec<u8> {
    let bytes = pdf::to_vec(doc).expect("renders");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("pdf-samples");
    let name = format!(
        "{}-{}-{}-lines.pdf",
        doc.number,
        doc.invoice.kind().code(),
        doc.invoice.lines().len()
    );
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(name), &bytes))
        .expect("a sample to look at");
    bytes
}

/// The text of each page, as a PDF reader extracts it.
fn pages(bytes: &[u8]) -> Vec<String> {
    pdf_extract::extract_text_from_mem_by_pages(bytes).expect("a readable PDF")
}

fn text(doc: &IssuedDocument) -> String {
    pages(&render(doc)).concat()
}

fn assert_contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "{needle:?} not found in:\n{haystack}"
        );
    }
}

#[test]
fn an_invoice_shows_its_number_lines_vat_totals_and_how_to_pay() {
    let text = text(&four_lines());
    assert_contains(
        &text,
        &["Invoice", "INV-2026-000042", "2026-02-01", "2026-03-03"],
    );
    // Each line's net, then the VAT breakdown (taxable, tax) and the totals.
    assert_contains(&text, &["99.80", "1250.00", "-25.00", "37.05"]);
    assert_contains(&text, &["S 19%", "S 7%", "1324.80", "251.71", "2.59"]);
    assert_contains(
        &text,
        &["1361.85 EUR", "254.30 EUR", "Amount due 1616.15 EUR"],
    );
    assert_contains(
        &text,
        &["IBAN: DE89 3704 0044 0532 0130 00", "BIC: COBADEFFXXX"],
    );
    assert_contains(
        &text,
        &[
            "SEPA credit transfer",
            "Reference: INV-2026-000042",
            "Net 30 days",
        ],
    );
    assert_contains(
        &text,
        &["Accounts receivable", "+49 30 1234567", "ar@netz.example"],
    );
    assert_contains(
        &text,
        &["VAT ID: DE123456789", "VAT ID: DE987654321", "ACC-1001"],
    );
    assert_contains(&text, &["Page 1 of 1"]);
    assert!(!text.contains("Credit note"), "{text}");
}

#[test]
fn a_row_shows_position_description_period_quantity_price_rate_and_net_in_order() {
    let text = text(&four_lines());
    let row = "1 WAN link 100 Mbit/s 2026-02-01 – 2026-02-28 2 49.90 S 19% 99.80";
    let credit = "-1 25.00 S 19% -25.00";
    assert_contains(&text, &[row, credit, "4 Printed manual 3 12.35 S 7% 37.05"]);
}

#[test]
fn every_line_period_prints_from_its_first_to_its_last_day() {
    // A document period that covers every line (PEPPOL-EN16931-R110/R111).
    let spring = period("2026-02-01", "2026-06-01");
    let lines = vec![
        line(
            "Old price",
            Some(period("2026-02-01", "2026-02-15")),
            1,
            "10.00",
            standard(19),
        ),
        line(
            "New price",
            Some(period("2026-02-15", "2026-03-01")),
            1,
            "20.00",
            standard(19),
        ),
        line(
            "Next quarter",
            Some(period("2026-03-01", "2026-06-01")),
            1,
            "30.00",
            standard(19),
        ),
    ];
    let doc = IssuedDocument {
        period: Some(spring),
        ..issued(compose(lines))
    };
    let text = text(&doc);
    for printed in [
        "2026-02-01 – 2026-02-14",
        "2026-02-15 – 2026-02-28",
        "2026-03-01 – 2026-05-31",
    ] {
        assert_contains(&text, &[printed]);
    }
    assert_contains(&text, &["Period 2026-02-01 – 2026-05-31"]);
}

#[test]
fn a_credit_note_names_the_invoice_it_corrects_and_asks_for_no_payment() {
    let original = four_lines();
    let doc = IssuedDocument {
        number: "CN-2026-000007".into(),
        due_date: None,
        preceding: Some(PrecedingInvoice {
            number: original.number.clone(),
            issue_date: original.issue_date,
        }),
        invoice: original.invoice.credit_note(),
        ..original
    };
    let text = text(&doc);
    assert_contains(
        &text,
        &[
            "Credit note",
            "CN-2026-000007",
            "Amount credited 1616.15 EUR",
        ],
    );
    assert_contains(&text, &["Corrects invoice INV-2026-000042 of 2026-02-01"]);
    assert_contains(&text, &["Reference: CN-2026-000007"]);
    assert!(
        !text.contains("IBAN"),
        "a refund does not ask the buyer to pay:\n{text}"
    );
}

#[test]
fn sixty_lines_run_over_several_pages_with_the_header_and_page_numbers_on_each() {
    let lines = (1..=60)
        .map(|i| {
            line(
                &format!("Service item {i:02}"),
                None,
                1,
                &format!("{}.00", 100 + i),
                standard(19),
            )
        })
        .collect();
    let bytes = render(&issued(compose(lines)));
    let pages = pages(&bytes);
    let n = pages.len();
    assert!(n >= 2, "60 lines on {n} page(s)");
    for (i, page) in pages.iter().enumerate() {
        assert_contains(page, &[&format!("Page {} of {n}", i + 1)]);
        // A page with lines on it has the table header above them.
        if page.contains("Service item") {
            assert_contains(
                page,
                &["Pos. Description Period Qty Unit price EUR VAT Net EUR"],
            );
        }
    }
    assert_contains(&pages[1], &["Invoice INV-2026-000042 (continued)"]);
    // Every line exactly once, in order across the pages, with its net amount.
    let all = pages.concat();
    let mut from = 0;
    for i in 1..=60 {
        let row = format!("{i} Service item {i:02} 1 {0}.00 S 19% {0}.00", 100 + i);
        let at = all[from..]
            .find(&row)
            .unwrap_or_else(|| panic!("{row:?} missing or out of order"));
        from += at + row.len();
        assert_eq!(
            all.matches(&format!("Service item {i:02}")).count(),
            1,
            "line {i}"
        );
    }
    // 19 % of 101 + ... + 160 = 7830.00 is 1487.70; the totals follow the last line.
    assert_contains(
        &all[from..],
        &["7830.00", "1487.70", "Amount due 9317.70 EUR"],
    );
    let count = format!("/Count {n}");
    assert!(
        bytes.windows(count.len()).any(|w| w == count.as_bytes()),
        "page tree {count}"
    );
}

#[test]
fn a_long_description_wraps_inside_its_column() {
    let words = "Managed LAN setup with on-site installation, configuration of twelve switches \
                 and forty access points, acceptance test and handover documentation";
    let doc = issued(compose(vec![line(words, None, 1, "990.00", standard(19))]));
    let text = text(&doc);
    let lines_with_words = text
        .lines()
        .filter(|l| l.contains("switches") || l.contains("Managed"))
        .count();
    assert!(!text.contains(words), "not wrapped:\n{text}");
    assert!(lines_with_words >= 2, "{text}");
    let flowed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_contains(&flowed, &[words]);
}

#[test]
fn names_with_pdf_delimiters_umlauts_and_the_euro_sign_survive() {
    let seller_name = "Müller & Söhne (Süd) \\ Größe €";
    let description = "Wartung (Ausfälle) \\ 5 € Rabatt, Straße, café";
    let mut doc = issued(compose(vec![line(
        description,
        None,
        1,
        "5.00",
        standard(19),
    )]));
    doc.seller.name = seller_name.into();
    doc.buyer.name = "Ölmühle (Nord) GmbH".into();
    doc.buyer.city = "Köln".into();
    let text = text(&doc);
    assert_contains(&text, &[seller_name, "Ölmühle (Nord) GmbH", "10115 Köln"]);
    // The description wraps in its column; read it back as one flowed line.
    let flowed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_contains(&flowed, &[&format!("1 {description} 1 5.00 S 19% 5.00")]);
    // Outside WinAnsi (CP1252) there is no glyph: it prints as '?', not as a wrong letter.
    doc.buyer.name = "Łódź Sp. z o.o.".into();
    assert_contains(&self::text(&doc), &["?ód? Sp. z o.o."]);
}

#[test]
fn amounts_keep_the_currency_minor_units() {
    let jpy = Currency::from_code("JPY").expect("JPY");
    let price = Money::parse("1200", jpy).expect("price");
    let lines = vec![InvoiceLine::new(
        "Item",
        None,
        Decimal::from(3),
        price,
        standard(10),
        Rounding::default(),
    )
    .expect("line")];
    let invoice = Invoice::compose(
        DocumentKind::Invoice,
        jpy,
        lines,
        Money::zero(jpy),
        Rounding::default(),
    )
    .expect("composes");
    let text = text(&issued(invoice));
    assert_contains(
        &text,
        &[
            "1 Item 3 1200 S 10% 3600",
            "VAT total 360 JPY",
            "Amount due 3960 JPY",
        ],
    );
    assert!(!text.contains("3600.00"), "{text}");
}

#[test]
fn the_file_is_a4_with_compressed_content_the_number_as_title_and_l2c_as_producer() {
    let bytes = render(&four_lines());
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.starts_with("%PDF-1.7"), "{}", &raw[..20]);
    assert_contains(&raw, &["/MediaBox [0 0 595 842]", "/Filter /FlateDecode"]);
    assert_contains(&raw, &["/Title (INV-2026-000042)", "/Producer (l2c)"]);
    assert_contains(
        &raw,
        &["/BaseFont /Helvetica-Bold", "/Encoding /WinAnsiEncoding"],
    );
    assert!(
        !raw.contains("Amount due"),
        "content streams are not compressed"
    );
    // Same document, same bytes: nothing depends on the clock.
    assert_eq!(bytes, render(&four_lines()));
    assert_eq!(
        pdf::write(&four_lines(), Vec::new()).expect("writes"),
        bytes
    );
}

/// A sink that fails, as a full disk or a closed socket does.
struct Broken;

impl io::Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn incomplete_documents_and_failing_writers_are_errors() {
    let doc = IssuedDocument {
        number: " ".into(),
        ..four_lines()
    };
    assert!(
        matches!(pdf::to_vec(&doc), Err(BillingError::Document { field, .. }) if field == "number")
    );
    let mut doc = four_lines();
    doc.seller.country = "Germany".into();
    assert!(matches!(
        pdf::write(&doc, Vec::new()),
        Err(BillingError::Document { .. })
    ));
    match pdf::write(&four_lines(), Broken) {
        Err(BillingError::Export { format, reason }) => {
            assert_eq!(format, "PDF");
            assert!(reason.contains("disk full"), "{reason}");
        }
        other => panic!("expected an export error, got {:?}", other.map(|_| ())),
    }
}
