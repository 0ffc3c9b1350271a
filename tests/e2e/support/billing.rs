//! Billing fixtures shared by the billing tests: accounts, subscriptions stored as billing
//! activation stores them, runs, and comparable pictures of what was invoiced.

use super::{world_with, Backend, World};
use chrono::{DateTime, NaiveDate, Utc};
use l2c::app::App;
use l2c::settings::Settings;
use l2c_invoicing::export::{self, Format};
use l2c_invoicing::read::{self, InvoiceFilter, InvoiceView};
use l2c_invoicing::{run, AsOf, RunOutcome, RunRequest, RunScope};
use l2c_orders::accounts::{self, BillingAccount};
use rust_decimal::Decimal;
use std::str::FromStr;

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

pub async fn open(backend: Backend, per_chunk: usize) -> World {
    let mut settings = Settings::default();
    settings.billing.accounts_per_chunk = per_chunk;
    world_with(backend, settings).await
}

/// A billing account of ACME with these settings.
pub async fn account(app: &App, id: &str, cycle_day: u32, zone: &str, currency: &str) {
    let account = BillingAccount {
        id: id.into(),
        customer_account: "ACME".into(),
        name: format!("Acme {id}"),
        currency: currency.into(),
        cycle_day,
        time_zone: zone.into(),
        ..Default::default()
    };
    accounts::add_billing(&app.db, "test", &account, app.now_ms())
        .await
        .expect("billing account");
}

/// One charge of a subscription: price id, kind, unit price, units, from, to.
pub struct Charge<'a>(
    pub &'a str,
    pub &'a str,
    pub &'a str,
    pub i64,
    pub &'a str,
    pub Option<&'a str>,
);

/// Stores a subscription with its charges, as billing activation does.
pub async fn subscribe(
    app: &App,
    account: &str,
    sub: &str,
    offering: &str,
    charges: &[Charge<'_>],
) {
    let mut tx = app.db.begin_write().await.expect("tx");
    sqlx::query(
        "INSERT INTO subscriptions (id, billing_account_id, product_id, offering, version, \
         currency, start_date, status, created_at, updated_at) \
         SELECT $1, $2, $3, $4, 1, currency, $5, 'active', 0, 0 FROM billing_accounts WHERE id = $2",
    )
    .bind(sub.to_string())
    .bind(account.to_string())
    .bind(format!("P-{sub}"))
    .bind(offering.to_string())
    .bind(charges.first().map(|c| c.4).unwrap_or("2026-01-01").to_string())
    .execute(&mut *tx)
    .await
    .expect("subscription");
    for Charge(price, kind, unit, units, from, to) in charges {
        let (kind, period) = match *kind {
            "one_time" => ("one_time", None),
            period => ("recurring", Some(period.to_string())),
        };
        let amount = dec(unit) * Decimal::from(*units);
        sqlx::query(
            "INSERT INTO subscription_charges (subscription_id, order_id, item_id, price_id, name, \
             kind, period, unit_amount, units, amount, effective_from, effective_to) \
             VALUES ($1, 'O1', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(sub.to_string())
        .bind(format!("{price}-{from}"))
        .bind(price.to_string())
        .bind(format!("{price} fee"))
        .bind(kind)
        .bind(period)
        .bind(unit.to_string())
        .bind(*units)
        .bind(amount.to_string())
        .bind(from.to_string())
        .bind(to.map(str::to_string))
        .execute(&mut *tx)
        .await
        .expect("charge");
    }
    tx.commit().await.expect("commit");
}

/// Ends the open charges of `sub` on `to` (as a disconnect or change does).
pub async fn end_charges(app: &App, sub: &str, to: &str) {
    let mut tx = app.db.begin_write().await.expect("tx");
    sqlx::query(
        "UPDATE subscription_charges SET effective_to = $1 WHERE subscription_id = $2 \
         AND effective_to IS NULL AND kind = 'recurring'",
    )
    .bind(to.to_string())
    .bind(sub.to_string())
    .execute(&mut *tx)
    .await
    .expect("end");
    tx.commit().await.expect("commit");
}

pub fn request(as_of: AsOf) -> RunRequest {
    RunRequest {
        scope: RunScope { as_of, zones: None },
        dry_run: false,
        issue: true,
        trigger: "manual".into(),
        ahead: true,
    }
}

pub async fn run_on(app: &App, date: &str) -> String {
    match run(&app.invoicing, request(AsOf::Date(d(date))))
        .await
        .expect("run")
    {
        RunOutcome::Stored(id) => id,
        RunOutcome::Dry { .. } => panic!("a stored run"),
    }
}

pub async fn all_invoices(app: &App) -> Vec<InvoiceView> {
    read::invoices(&app.db, &InvoiceFilter::default(), 100_000)
        .await
        .expect("invoices")
}

/// `(description, quantity, net)` of each line of `invoice`, as stored (credits negative).
pub async fn lines_of(app: &App, invoice: &InvoiceView) -> Vec<(String, Decimal, Decimal)> {
    let mut conn = app.db.pool.acquire().await.expect("conn");
    read::lines(&mut conn, invoice)
        .await
        .expect("lines")
        .iter()
        .map(|l| {
            (
                l.line.description().to_string(),
                l.line.quantity(),
                l.line.net().amount(),
            )
        })
        .collect()
}

/// A comparable picture of every document: account, period, kind, number, totals, lines.
pub async fn snapshot(app: &App) -> Vec<String> {
    let mut out = Vec::new();
    for i in all_invoices(app).await {
        let lines = lines_of(app, &i).await;
        out.push(format!(
            "{} {} {} {:?} {} {} {} {:?}",
            i.billing_account,
            i.period_start,
            i.kind,
            i.number,
            i.line_net_total,
            i.tax_total,
            i.payable,
            lines
        ));
    }
    out.sort();
    out
}

/// Six accounts with a monthly port and, for some, a one-time setup charge.
pub async fn six_accounts(app: &App) {
    for n in 0..6 {
        let id = format!("B{n}");
        account(app, &id, 1, "Europe/Berlin", "EUR").await;
        let mut charges = vec![Charge(
            "port",
            "monthly",
            "100.00",
            1 + n,
            "2026-03-01",
            None,
        )];
        if n % 2 == 0 {
            charges.push(Charge("setup", "one_time", "250.00", 1, "2026-03-01", None));
        }
        subscribe(app, &id, &format!("S{n}"), "wan-link", &charges).await;
    }
}

pub async fn run_at(app: &App, instant: &str) -> i64 {
    let at: DateTime<Utc> = instant.parse().expect("instant");
    let RunOutcome::Stored(id) = run(&app.invoicing, request(AsOf::Instant(at)))
        .await
        .expect("run")
    else {
        panic!("stored")
    };
    read::run(&app.db, &id).await.expect("run").invoices
}

pub async fn export_bytes(app: &App, run: &str, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    export::export_to(&app.db, run, None, format, &mut out, |_, _| {})
        .await
        .expect("export");
    out
}

pub async fn set_buyers(app: &App) {
    let buyer = l2c_billing::Party {
        name: "Acme Corp".into(),
        street: "Hauptstrasse 5".into(),
        city: "Frankfurt".into(),
        postcode: "60311".into(),
        country: "DE".into(),
        vat_id: Some("DE123456789".into()),
        endpoint_scheme: "9930".into(),
        endpoint_id: "DE123456789".into(),
        contact: None,
        payment: None,
    };
    let mut tx = app.db.begin_write().await.expect("tx");
    sqlx::query("UPDATE billing_accounts SET buyer = $1")
        .bind(serde_json::to_string(&buyer).expect("json"))
        .execute(&mut *tx)
        .await
        .expect("buyers");
    tx.commit().await.expect("commit");
}

/// Many accounts, each with one monthly port, written in one transaction.
pub async fn many_accounts(app: &App, n: usize) {
    for i in 0..n {
        account(app, &format!("K{i:05}"), 1, "Europe/Berlin", "EUR").await;
    }
    let mut tx = app.db.begin_write().await.expect("tx");
    for i in 0..n {
        sqlx::query(
            "INSERT INTO subscriptions (id, billing_account_id, product_id, offering, version, \
             currency, start_date, status, created_at, updated_at) \
             VALUES ($1, $2, $1, 'wan-link', 1, 'EUR', '2026-03-01', 'active', 0, 0)",
        )
        .bind(format!("KS{i:05}"))
        .bind(format!("K{i:05}"))
        .execute(&mut *tx)
        .await
        .expect("subscription");
        sqlx::query(
            "INSERT INTO subscription_charges (subscription_id, order_id, item_id, price_id, name, \
             kind, period, unit_amount, units, amount, effective_from) VALUES ($1, 'O', 'I', 'port', \
             'port fee', 'recurring', 'monthly', '10.00', 1, '10.00', '2026-03-01')",
        )
        .bind(format!("KS{i:05}"))
        .execute(&mut *tx)
        .await
        .expect("charge");
    }
    tx.commit().await.expect("commit");
}
