//! `l2c demo`: a newcomer's first look — a customer's order validated against the shipped
//! catalog, priced, and invoiced with proration and a mid-period upgrade, to the cent.
//!
//! It runs on pure domain code only (no database yet): orders, workflows and the server join
//! it as they are built, and the demo grows into the full order-to-invoice walk-through.

use anyhow::{Context, Result};
use chrono::NaiveDate;
use l2c_billing::{
    mid_period_change, BillingCycle, BillingCycleDay, Currency, DocumentKind, Invoice, InvoiceLine,
    Money, Period, Rounding, TaxCategory, TaxRate,
};
use l2c_catalog::{Catalog, Charge, ItemRequest, OrderContext, PriceKind, Quote, ValidItem};
use rust_decimal::Decimal;
use serde_json::json;

struct Account {
    currency: Currency,
    cycle: BillingCycle,
    vat: TaxRate,
    rounding: Rounding,
}

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d).context("demo date")
}

fn item(offering: &str, action: &str, characteristics: serde_json::Value) -> Result<ItemRequest> {
    let raw = json!({"offering": offering, "action": action, "characteristics": characteristics});
    Ok(serde_json::from_value(raw)?)
}

/// Runs the demo and prints it.
pub fn run() -> Result<()> {
    let catalog = Catalog::builtin()?;
    println!("l2c demo — ACME GmbH (enterprise, DE) orders on 2026-11-10\n");
    println!(
        "Catalog: {} offering versions loaded from {}\n",
        catalog.offerings().len(),
        catalog.source()
    );
    let ctx = OrderContext {
        segment: "enterprise".into(),
        country: "DE".into(),
        date: date(2026, 11, 10)?,
    };
    show_rejected_item(&catalog, &ctx)?;
    let wan_request = item(
        "wan-link",
        "add",
        json!({"bandwidth_mbps": 1000, "a_end_site": "FRA-001", "b_end_site": "MUC-004", "sla_class": "premium"}),
    )?;
    let lan_request = item(
        "lan-setup",
        "add",
        json!({"site": "FRA-001", "port_count": 48, "poe": true}),
    )?;
    let account = Account {
        currency: Currency::from_code("EUR")?,
        cycle: BillingCycle::monthly(BillingCycleDay::new(1)?),
        vat: TaxRate::new(TaxCategory::Standard, Decimal::from(19))?,
        rounding: Rounding::HalfAwayFromZero,
    };
    let wan = validate(&catalog, "items[0]", &wan_request, &ctx)?;
    let lan = validate(&catalog, "items[1]", &lan_request, &ctx)?;
    let wan_quote = catalog.quote(&wan, account.currency)?;
    let lan_quote = catalog.quote(&lan, account.currency)?;
    print_quote("items[0]", &wan_quote);
    print_quote("items[1]", &lan_quote);
    let first = first_invoice(&account, &[&wan_quote, &lan_quote], ctx.date)?;
    print_invoice("draft 1, on activation 2026-11-10", &first);
    println!("(The invoice of 2026-12-01 bills December in advance at 1 Gbit/s.)\n");
    let second = upgrade_invoice(&catalog, &account, &wan, &wan_quote, &lan_quote)?;
    print_invoice(
        "draft 3, on 2027-01-01: January in advance, December's upgrade on the 16th",
        &second,
    );
    Ok(())
}

fn show_rejected_item(catalog: &Catalog, ctx: &OrderContext) -> Result<()> {
    let bad = item(
        "wan-link",
        "add",
        json!({"bandwidth_mbps": 250, "a_end_site": "Frankfurt", "vlan": 12}),
    )?;
    println!("A first attempt is refused, with every problem at once:");
    if let Err(problems) = catalog.validate_item("items[0]", &bad, ctx, None) {
        for p in problems {
            println!("  ✗ {p}  [{}]", p.rule);
        }
    }
    println!();
    Ok(())
}

fn validate(
    catalog: &Catalog,
    path: &str,
    request: &ItemRequest,
    ctx: &OrderContext,
) -> Result<ValidItem> {
    catalog
        .validate_item(path, request, ctx, None)
        .map_err(l2c_catalog::CatalogError::Validation)
        .context("demo item")
}

fn print_quote(path: &str, q: &Quote) {
    println!("Quote for {path}: {} v{} (pinned)", q.offering, q.version);
    for c in q.one_time.iter().chain(&q.recurring) {
        println!(
            "  {:<30} {:<9} {:>5} x {:>9} = {:>12}",
            c.name,
            c.kind.to_string(),
            c.units,
            c.unit_amount.amount(),
            c.amount.to_string()
        );
    }
    println!();
}

fn line(
    account: &Account,
    c: &Charge,
    period: Option<Period>,
    full: Option<&Period>,
) -> Result<InvoiceLine> {
    let qty = Decimal::from(c.units);
    Ok(match (period, full) {
        (Some(part), Some(full)) if part != *full => InvoiceLine::prorated(
            format!("{} (prorated)", c.name),
            part,
            full,
            qty,
            c.unit_amount,
            account.vat,
            account.rounding,
        )?,
        _ => InvoiceLine::new(
            c.name.clone(),
            period,
            qty,
            c.unit_amount,
            account.vat,
            account.rounding,
        )?,
    })
}

/// One-time charges plus the recurring charges prorated from activation to the period end.
fn first_invoice(account: &Account, quotes: &[&Quote], activated: NaiveDate) -> Result<Invoice> {
    let full = account.cycle.period_containing(activated)?;
    let part = Period::new(activated, full.end())?;
    let mut lines = Vec::new();
    for q in quotes {
        for c in &q.one_time {
            lines.push(line(account, c, None, None)?);
        }
        for c in &q.recurring {
            lines.push(line(account, c, Some(part), Some(&full))?);
        }
    }
    compose(account, lines)
}

/// January in advance at 10 Gbit/s, plus December's upgrade on the 16th: a credit for the
/// unused 1 Gbit/s days, the 10 Gbit/s price for the rest, and the reconfiguration fee.
fn upgrade_invoice(
    catalog: &Catalog,
    account: &Account,
    wan: &ValidItem,
    wan_quote: &Quote,
    lan_quote: &Quote,
) -> Result<Invoice> {
    let ctx = OrderContext {
        segment: "enterprise".into(),
        country: "DE".into(),
        date: date(2026, 12, 16)?,
    };
    let upgrade = item(
        "bandwidth-upgrade",
        "modify",
        json!({"bandwidth_mbps": 10000}),
    )?;
    let upgrade = catalog
        .validate_item("items[0]", &upgrade, &ctx, Some(&wan.characteristics))
        .map_err(l2c_catalog::CatalogError::Validation)?;
    let mut upgraded = wan.clone();
    upgraded
        .characteristics
        .insert("bandwidth_mbps".into(), l2c_catalog::Value::Integer(10_000));
    let new_quote = catalog.quote(&upgraded, account.currency)?;
    let december = account.cycle.period_containing(ctx.date)?;
    let january = account.cycle.next_period(&december)?;
    let old = service_charge(wan_quote)?;
    let new = service_charge(&new_quote)?;
    let change = mid_period_change(
        old.unit_amount,
        new.unit_amount,
        &december,
        ctx.date,
        account.rounding,
    )?;
    let rest = Period::new(ctx.date, december.end())?;
    let mut lines = vec![
        InvoiceLine::new(
            "Credit: unused 1 Gbit/s service",
            Some(rest),
            Decimal::NEGATIVE_ONE,
            -change.credit,
            account.vat,
            account.rounding,
        )?,
        InvoiceLine::new(
            "10 Gbit/s service (prorated)",
            Some(rest),
            Decimal::ONE,
            change.charge,
            account.vat,
            account.rounding,
        )?,
    ];
    for c in &catalog.quote(&upgrade, account.currency)?.one_time {
        lines.push(line(account, c, None, None)?);
    }
    for c in new_quote.recurring.iter().chain(&lan_quote.recurring) {
        lines.push(line(account, c, Some(january), Some(&january))?);
    }
    compose(account, lines)
}

fn compose(account: &Account, lines: Vec<InvoiceLine>) -> Result<Invoice> {
    let nothing_prepaid = Money::zero(account.currency);
    let kind = DocumentKind::Invoice;
    Ok(Invoice::compose(
        kind,
        account.currency,
        lines,
        nothing_prepaid,
        account.rounding,
    )?)
}

fn service_charge(q: &Quote) -> Result<&Charge> {
    q.recurring
        .iter()
        .find(|c| {
            c.price_id == "service"
                && c.kind == PriceKind::Recurring(l2c_billing::BillingFrequency::Monthly)
        })
        .context("the WAN quote has a monthly service charge")
}

fn print_invoice(title: &str, inv: &Invoice) {
    println!("Invoice {title} ({})", inv.currency());
    println!(
        "  {:<36} {:<23} {:>5} {:>10} {:>11}",
        "line", "period", "qty", "unit", "net"
    );
    for l in inv.lines() {
        let period = l.period().map_or(String::new(), |p| p.to_string());
        println!(
            "  {:<36} {:<23} {:>5} {:>10} {:>11}",
            l.description(),
            period,
            l.quantity(),
            l.unit_price().amount(),
            l.net().amount()
        );
    }
    let t = inv.totals();
    for s in inv.tax_subtotals() {
        println!(
            "  VAT {:<32} on {:>11} = {:>10}",
            s.rate.to_string(),
            s.taxable.amount(),
            s.tax.amount()
        );
    }
    println!(
        "  {:<60} {:>15}",
        "Total without VAT",
        t.tax_exclusive.to_string()
    );
    println!("  {:<60} {:>15}", "VAT", t.tax_total.to_string());
    println!("  {:<60} {:>15}", "Amount due", t.payable.to_string());
    let broken = inv.check_rules();
    if broken.is_empty() {
        println!("  EN 16931 BR-CO-10..17: all hold\n");
    } else {
        println!("  EN 16931 rules broken: {}\n", broken.join("; "));
    }
}
