//! PDF rendering throughput: `l2c_billing::pdf::to_vec` on 10,000 issued documents of 1 to 12
//! lines each (varied descriptions, periods, quantities, EUR/USD/JPY, S 19 % / 7 %, reverse
//! charge, invoices and credit notes), single-threaded.
//!
//! Documents are composed before the clock starts; the measured loop renders each one to
//! bytes, which is the whole of the PDF work (layout, encoding, compression, file structure).
//! Prints PDFs per second, bytes per PDF and the per-document latency spread.
//!
//! ```text
//! cargo bench -p l2c-billing --bench pdf [-- --documents 10000]
//! ```

use chrono::{Days, NaiveDate};
use l2c_billing::{
    pdf, Contact, Currency, DocumentKind, Invoice, InvoiceLine, IssuedDocument, Money, Party,
    PaymentMeans, Period, PrecedingInvoice, Rounding, TaxCategory, TaxRate,
};
use rust_decimal::Decimal;
use std::time::{Duration, Instant};

/// A tiny deterministic generator (64-bit LCG), so every run renders the same documents.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const PRODUCTS: [&str; 6] = [
    "WAN link 100 Mbit/s",
    "Managed LAN setup, on-site installation and configuration of switches and access points",
    "Bandwidth upgrade 500 Mbit/s → 1 Gbit/s (prorated)",
    "CPE replacement Müller-Straße Süd",
    "Network element rental",
    "Support (24/7) \\ premium",
];

fn party(name: &str, payment: Option<PaymentMeans>) -> Party {
    Party {
        name: name.into(),
        street: "Hauptstraße 1".into(),
        city: "Berlin".into(),
        postcode: "10115".into(),
        country: "DE".into(),
        vat_id: Some("DE123456789".into()),
        endpoint_scheme: "0088".into(),
        endpoint_id: "4000001000005".into(),
        contact: Some(Contact {
            name: "Accounts receivable".into(),
            phone: "+49 30 1234567".into(),
            email: "ar@example.net".into(),
        }),
        payment,
    }
}

fn document(rng: &mut Lcg, n: usize) -> IssuedDocument {
    let code = ["EUR", "EUR", "USD", "JPY"][rng.below(4) as usize];
    let currency = Currency::from_code(code).expect("currency");
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).expect("date") + Days::new(rng.below(365));
    let period = Period::new(start, start + Days::new(30)).expect("period");
    let lines = (0..1 + rng.below(12))
        .map(|_| line(rng, currency, period))
        .collect();
    let kind = if rng.below(10) == 0 {
        DocumentKind::CreditNote
    } else {
        DocumentKind::Invoice
    };
    let prepaid = Money::zero(currency);
    let invoice =
        Invoice::compose(kind, currency, lines, prepaid, Rounding::default()).expect("composes");
    let sepa = PaymentMeans {
        code: "58".into(),
        account: "DE89370400440532013000".into(),
        account_name: None,
        bic: Some("COBADEFFXXX".into()),
    };
    IssuedDocument {
        number: format!("INV-2026-{n:06}"),
        issue_date: start,
        due_date: Some(start + Days::new(30)),
        buyer_reference: format!("ACC-{}", 1000 + n),
        period: Some(period),
        payment_terms: Some("Net 30 days".into()),
        preceding: (kind == DocumentKind::CreditNote).then(|| PrecedingInvoice {
            number: "INV-2025-000001".into(),
            issue_date: start,
        }),
        seller: party("Netz & Co GmbH", Some(sepa)),
        buyer: party("Acme Industries (Nord) AG", None),
        invoice,
    }
}

fn line(rng: &mut Lcg, currency: Currency, period: Period) -> InvoiceLine {
    let tax = match rng.below(5) {
        0 => TaxRate::new(TaxCategory::Standard, Decimal::new(7, 0)),
        1 => TaxRate::new(TaxCategory::ReverseCharge, Decimal::ZERO),
        _ => TaxRate::new(TaxCategory::Standard, Decimal::new(19, 0)),
    }
    .expect("rate");
    let price = Money::new(Decimal::new(rng.below(500_000) as i64 + 100, 2), currency);
    let quantity = Decimal::from(rng.below(8) as i64 - 1);
    let description = PRODUCTS[rng.below(PRODUCTS.len() as u64) as usize];
    InvoiceLine::new(
        description,
        Some(period),
        quantity,
        price,
        tax,
        Rounding::default(),
    )
    .expect("line")
}

fn documents_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--documents")
        .and_then(|i| args.get(i + 1))
        .map_or(10_000, |n| n.parse().expect("--documents takes a number"))
}

fn main() {
    let count = documents_arg();
    assert!(count > 0, "--documents must be at least 1");
    let mut rng = Lcg(42);
    let docs: Vec<IssuedDocument> = (0..count).map(|n| document(&mut rng, n)).collect();
    let lines: usize = docs.iter().map(|d| d.invoice.lines().len()).sum();
    // Warm-up: page in the code and let the allocator settle, outside the clock.
    for doc in docs.iter().take(200) {
        std::hint::black_box(pdf::to_vec(doc).expect("renders"));
    }
    let mut latencies = Vec::with_capacity(count);
    let mut bytes = Vec::with_capacity(count);
    let start = Instant::now();
    for doc in &docs {
        let t = Instant::now();
        let out = pdf::to_vec(doc).expect("renders");
        latencies.push(t.elapsed());
        bytes.push(out.len());
        std::hint::black_box(out);
    }
    let total = start.elapsed();
    report(count, lines, total, &mut latencies, &mut bytes);
}

fn report(count: usize, lines: usize, total: Duration, lat: &mut [Duration], bytes: &mut [usize]) {
    lat.sort_unstable();
    bytes.sort_unstable();
    let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
    let sum: usize = bytes.iter().sum();
    println!("pdf render: {count} documents, {lines} lines, 1 thread");
    println!("  total      {:.3} s", total.as_secs_f64());
    println!(
        "  throughput {:.0} PDFs/s",
        count as f64 / total.as_secs_f64()
    );
    println!(
        "  latency    p50 {:?}  p99 {:?}  max {:?}",
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    println!(
        "  size       mean {} bytes/PDF  min {}  max {}",
        sum / count.max(1),
        bytes[0],
        bytes[bytes.len() - 1]
    );
}
