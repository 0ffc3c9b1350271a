//! One billing run over many subscriptions: `l2c_invoicing::run` (stored, issuing invoices
//! with gapless numbers) for every account, on SQLite (a temporary file) or PostgreSQL (a
//! fresh database of its own).
//!
//! **Setup** (timed, but not part of the result): customer and billing accounts (EUR, USD,
//! GBP, JPY and CHF; the default VAT, S 19 % or S 7 % set on the account, and a 7 % override
//! for `lan-setup` on some; cycle days 1 to 31; six time zones), then `--subscriptions`
//! subscriptions, `--per-account` per account, and their charges inserted directly with
//! multi-row statements in large transactions (a fixture: the billing handlers that write
//! them in production are tested elsewhere). Every subscription has one monthly recurring
//! charge; in each account's period due on the run date (`--date`):
//!
//! - about 80 % started on the period's first day (one full-period line);
//! - about 10 % were activated later in the period (one prorated line);
//! - about 5 % changed price mid-period: the old charge ends on the change date and the new
//!   one starts that day (two prorated lines);
//! - about 5 % changed price in the *previous* period after it had been invoiced: setup runs
//!   billing for the previous period first (through the same `run`, as a history run), then
//!   applies the change, so the measured run credits the unused part of the old price, charges
//!   the new price for the rest of that period (two adjustment lines), and bills the new price
//!   for the due period;
//! - about 30 % of the first three kinds also have a one-time charge on their start date.
//!
//! **Measured**: the run alone, in a fresh process (this binary again, with the internal
//! flag `--measure-url`), as `l2c billing run` would do it: wall and CPU time, documents/s,
//! lines/s, subscriptions/s and peak RSS (VmHWM, reset through `/proc/self/clear_refs` just
//! before the run, so opening the app does not count either). Afterwards SQL counts check
//! that every account got exactly one document (an invoice, or a credit note where a steep
//! downgrade's credit outweighs the charges), all issued with numbers 1..=n in each series,
//! and that the lines (all, one-time, prorated, credits) are exactly what the fixture
//! implies; a mismatch exits non-zero.
//!
//! ```text
//! cargo bench --bench billing_run -- --subscriptions 1000000
//! cargo bench --bench billing_run -- [--subscriptions 1000000] [--per-account 10]
//!     [--backend sqlite|postgres] [--database-url URL] [--date 2027-01-20]
//!     [--accounts-per-chunk 500] [--phases]
//! ```
//!
//! `--phases` first times the run's phases (load, rate, store) page by page in transactions
//! that are rolled back, to see where the time goes.
//!
//! PostgreSQL needs `--database-url` or `L2C_TEST_DATABASE_URL` (a server URL; the bench
//! creates a database `l2c_billing_bench_<uuid>` there and leaves it for inspection). Setup
//! runs `ANALYZE` there after its bulk inserts, as autovacuum would have on a database that
//! grew over time.

mod common;

use chrono::{Days, Months, NaiveDate};
use common::{
    child_result, cpu_time, fresh_database, peak_rss_mib, reset_peak_rss, status_mib, Failure,
};
use l2c::app::{App, AppOptions};
use l2c_billing::{BillingCycle, BillingCycleDay, Period, TaxCategory, TaxRate};
use l2c_engine::db::Backend;
use l2c_invoicing::{write, AsOf, RunOutcome, RunRequest, RunScope};
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

struct Args {
    subscriptions: usize,
    per_account: usize,
    backend: String,
    url: Option<String>,
    date: NaiveDate,
    accounts_per_chunk: Option<usize>,
    /// Before the run, time its phases on each page in a rolled-back transaction.
    phases: bool,
    /// Internal: only the measured run, on this database (see [`measure`]).
    measure_url: Option<String>,
    /// Internal: only the CSV export of this run (with `--measure-url`; see [`measure_export`]).
    export_run: Option<String>,
}

fn parse_args() -> Result<Args, Failure> {
    let mut args = Args {
        subscriptions: 1_000_000,
        per_account: 10,
        backend: "sqlite".into(),
        url: std::env::var("L2C_TEST_DATABASE_URL").ok(),
        date: NaiveDate::from_ymd_opt(2027, 1, 20).ok_or("bad default date")?,
        accounts_per_chunk: None,
        phases: false,
        measure_url: None,
        export_run: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| {
            v.replace('_', "")
                .parse::<usize>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--subscriptions" => args.subscriptions = number(value()?)?,
            "--per-account" => args.per_account = number(value()?)?.max(1),
            "--backend" => args.backend = value()?,
            "--database-url" => args.url = Some(value()?),
            "--date" => args.date = NaiveDate::from_str(&value()?)?,
            "--accounts-per-chunk" => args.accounts_per_chunk = Some(number(value()?)?.max(1)),
            "--phases" => args.phases = true,
            "--measure-url" => args.measure_url = Some(value()?),
            "--export-run" => args.export_run = Some(value()?),
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if !["sqlite", "postgres"].contains(&args.backend.as_str()) {
        return Err(format!("--backend must be sqlite or postgres, not {}", args.backend).into());
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------
// The fixture: every account and subscription is a pure function of its index, so the
// expected invoice lines are counted while generating, and the changes applied after the
// history run are generated a second time instead of kept in memory.

const CURRENCIES: [&str; 5] = ["EUR", "USD", "GBP", "JPY", "CHF"];
/// Monthly prices per currency (JPY has no minor unit).
const PRICES: [[&str; 4]; 5] = [
    ["49.90", "129.00", "349.50", "1250.00"],
    ["59.00", "149.99", "399.00", "1490.00"],
    ["44.50", "119.00", "299.95", "1100.00"],
    ["6900", "18500", "52000", "185000"],
    ["54.90", "139.00", "379.00", "1390.00"],
];
/// One-time (installation) prices per currency.
const ONE_TIME: [&str; 5] = ["250.00", "290.00", "220.00", "35000", "270.00"];
const ZONES: [&str; 6] = [
    "Europe/Berlin",
    "UTC",
    "Europe/London",
    "America/New_York",
    "Asia/Tokyo",
    "Europe/Zurich",
];
const OFFERINGS: [&str; 3] = ["wan-link", "lan-setup", "sd-wan-edge"];

/// A well-mixed 64-bit hash of `x` (splitmix64), for deterministic choices.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A UUID-shaped id, increasing with `n` (so inserts append to the primary key's index).
fn id(n: u64, tag: u8) -> String {
    uuid::Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0000 | (u128::from(n) << 8) | u128::from(tag),
    )
    .to_string()
}

struct AccountPlan {
    id: String,
    customer: String,
    currency: usize,
    cycle_day: u32,
    zone: &'static str,
    tax: Option<TaxRate>,
    tax_by_offering: BTreeMap<String, TaxRate>,
    /// The period due on the run date.
    due: Period,
    /// The period before it (what the history run bills).
    previous: Period,
}

fn rate(percent: i64) -> Result<TaxRate, Failure> {
    Ok(TaxRate::new(TaxCategory::Standard, Decimal::from(percent))?)
}

fn account_plan(i: usize, date: NaiveDate) -> Result<AccountPlan, Failure> {
    let h = mix(i as u64 ^ 0xA11C_E5ED);
    let cycle_day = (h % 31) as u32 + 1;
    let cycle = BillingCycle::monthly(BillingCycleDay::new(cycle_day)?);
    let due = cycle.period_containing(date)?;
    let before = due.start().pred_opt().ok_or("date out of range")?;
    let previous = cycle.period_containing(before)?;
    // The history run bills `history_date(date)` for every account: it must fall in each
    // account's previous period.
    if !previous.contains(history_date(date)?) {
        return Err(format!(
            "--date {date}: a month earlier is not in the previous period of cycle day \
             {cycle_day}; choose a day of the month up to 28"
        )
        .into());
    }
    let (tax, tax_by_offering) = match (h >> 8) % 4 {
        0 => (None, BTreeMap::new()),
        1 => (Some(rate(19)?), BTreeMap::new()),
        2 => (Some(rate(7)?), BTreeMap::new()),
        _ => (
            Some(rate(19)?),
            BTreeMap::from([("lan-setup".to_string(), rate(7)?)]),
        ),
    };
    Ok(AccountPlan {
        id: format!("BA{i:08}"),
        customer: format!("CU{:08}", i / 2),
        currency: i % CURRENCIES.len(),
        cycle_day,
        zone: ZONES[(h >> 16) as usize % ZONES.len()],
        tax,
        tax_by_offering,
        due,
        previous,
    })
}

/// The date the history run bills for: a month before the run date.
fn history_date(date: NaiveDate) -> Result<NaiveDate, Failure> {
    Ok(date
        .checked_sub_months(Months::new(1))
        .ok_or("date out of range")?)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Started on the due period's first day.
    Plain,
    /// Activated on this day, later in the due period.
    Activated(NaiveDate),
    /// Changed price on this day of the due period.
    Changed(NaiveDate),
    /// Started on the previous period's first day, invoiced for it by the history run, then
    /// changed price on this day of that period.
    ChangedBilled(NaiveDate),
}

struct SubPlan {
    id: String,
    kind: Kind,
    offering: &'static str,
    start: NaiveDate,
    price: &'static str,
    new_price: &'static str,
    units: i64,
    one_time: bool,
}

/// A day in `[from + 1, from + span]`, `span >= 1`.
fn day_after(from: NaiveDate, span: i64, h: u64) -> Result<NaiveDate, Failure> {
    let offset = 1 + (h % span as u64);
    Ok(from
        .checked_add_days(Days::new(offset))
        .ok_or("date out of range")?)
}

fn sub_plan(account: &AccountPlan, s: usize, date: NaiveDate) -> Result<SubPlan, Failure> {
    let h = mix(s as u64);
    let pick = h % 100;
    let (due, previous) = (account.due, account.previous);
    // Activations and changes happen after the period starts and no later than the run date.
    let to_date = (date - due.start()).num_days();
    let kind = if pick < 5 && previous.days() > 1 {
        Kind::ChangedBilled(day_after(previous.start(), previous.days() - 1, h >> 8)?)
    } else if pick < 10 && to_date >= 1 {
        Kind::Changed(day_after(due.start(), to_date, h >> 8)?)
    } else if pick < 20 && to_date >= 1 {
        Kind::Activated(day_after(due.start(), to_date, h >> 8)?)
    } else {
        Kind::Plain
    };
    let start = match kind {
        Kind::Activated(d) => d,
        Kind::ChangedBilled(_) => previous.start(),
        Kind::Plain | Kind::Changed(_) => due.start(),
    };
    let prices = &PRICES[account.currency];
    let p = (h >> 24) as usize % prices.len();
    Ok(SubPlan {
        id: id(s as u64, 0),
        kind,
        offering: OFFERINGS[(h >> 32) as usize % OFFERINGS.len()],
        start,
        price: prices[p],
        // An upgrade or a downgrade, never the same price.
        new_price: prices[(p + 1 + (h >> 40) as usize % (prices.len() - 1)) % prices.len()],
        units: if (h >> 48).is_multiple_of(4) { 2 } else { 1 },
        one_time: !matches!(kind, Kind::ChangedBilled(_)) && (h >> 52) % 10 < 3,
    })
}

/// What the measured run must produce, counted while generating.
#[derive(Default, Debug, PartialEq, Eq)]
struct Expected {
    /// Invoices and credit notes (a credit note where an account's credits outweigh its
    /// charges, e.g. a steep downgrade after the previous period was invoiced).
    documents: i64,
    lines: i64,
    one_time: i64,
    /// Recurring lines for part of a charge period.
    prorated: i64,
    /// Lines giving back part of an invoiced period.
    credits: i64,
}

impl Expected {
    fn add(&mut self, sub: &SubPlan) {
        let one_time = i64::from(sub.one_time);
        self.one_time += one_time;
        let (lines, prorated, credits) = match sub.kind {
            Kind::Plain => (1, 0, 0),
            Kind::Activated(_) => (1, 1, 0),
            Kind::Changed(_) => (2, 2, 0),
            // credit old [change, end of previous), new [change, end of previous), new due.
            Kind::ChangedBilled(_) => (3, 2, 1),
        };
        self.lines += lines + one_time;
        self.prorated += prorated;
        self.credits += credits;
    }
}

// ---------------------------------------------------------------------------------------
// Multi-row inserts.

enum Val {
    Text(String),
    Int(i64),
    Null,
}

fn text(s: impl Into<String>) -> Val {
    Val::Text(s.into())
}

/// Inserts `rows` with `head` (`INSERT INTO t (a, b)`) in statements of as many rows as the
/// backend takes.
async fn insert_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    columns: usize,
    mut rows: Vec<Vec<Val>>,
) -> Result<(), Failure> {
    let per = backend.chunk_rows(500, columns);
    while !rows.is_empty() {
        let chunk: Vec<Vec<Val>> = rows.drain(..per.min(rows.len())).collect();
        let sql = format!(
            "{head} VALUES {}",
            backend.values_list(chunk.len(), columns, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in chunk.into_iter().flatten() {
            q = match v {
                Val::Text(s) => q.bind(s),
                Val::Int(i) => q.bind(i),
                Val::Null => q.bind(None::<String>),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

const CHARGE_HEAD: &str = "INSERT INTO subscription_charges (subscription_id, order_id, \
    item_id, price_id, name, kind, period, unit_amount, units, amount, effective_from, \
    effective_to, ended_by)";

fn charge_row(
    sub: &SubPlan,
    order: String,
    one_time: bool,
    price: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Result<Vec<Val>, Failure> {
    let amount = Decimal::from_str(price)? * Decimal::from(sub.units);
    let (price_id, name, kind, period) = if one_time {
        ("installation", "Installation", "one_time", Val::Null)
    } else {
        ("service", "Service", "recurring", text("monthly"))
    };
    Ok(vec![
        text(sub.id.clone()),
        text(order),
        text("1"),
        text(price_id),
        text(name),
        text(kind),
        period,
        text(price),
        Val::Int(sub.units),
        text(amount.to_string()),
        text(from.to_string()),
        to.map_or(Val::Null, |d| text(d.to_string())),
        to.map_or(Val::Null, |_| text("bench/change")),
    ])
}

/// The accounts' customers and billing accounts, in one transaction.
async fn insert_accounts(app: &App, accounts: usize, date: NaiveDate) -> Result<(), Failure> {
    let now = app.now_ms();
    let (mut customers, mut billing) = (Vec::new(), Vec::new());
    for i in 0..accounts {
        let a = account_plan(i, date)?;
        if i % 2 == 0 {
            customers.push(vec![
                text(a.customer.clone()),
                text(format!("Customer {}", i / 2)),
                text("enterprise"),
                text("DE"),
                Val::Int(now),
            ]);
        }
        billing.push(vec![
            text(a.id.clone()),
            text(a.customer.clone()),
            text(format!("Billing {i}")),
            text(CURRENCIES[a.currency]),
            Val::Int(i64::from(a.cycle_day)),
            text(a.zone),
            Val::Int(30),
            Val::Int(now),
            a.tax
                .map(|t| serde_json::to_string(&t))
                .transpose()?
                .map_or(Val::Null, Val::Text),
            text(serde_json::to_string(&a.tax_by_offering)?),
            Val::Null,
            text("INV"),
            text("CN"),
        ]);
    }
    let backend = app.db.backend;
    let mut tx = app.db.begin_write().await?;
    insert_rows(
        &mut tx,
        backend,
        "INSERT INTO customer_accounts (id, name, segment, country, created_at)",
        5,
        customers,
    )
    .await?;
    insert_rows(
        &mut tx,
        backend,
        "INSERT INTO billing_accounts (id, customer_account_id, name, currency, cycle_day, \
         time_zone, payment_terms_days, created_at, tax, tax_by_offering, buyer, \
         invoice_series, credit_series)",
        13,
        billing,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Subscriptions of the accounts and their charges as they stood before the changes made
/// after the history run; returns what the measured run must produce.
async fn insert_subscriptions(app: &App, args: &Args) -> Result<Expected, Failure> {
    const PER_TRANSACTION: usize = 50_000;
    let (backend, now) = (app.db.backend, app.now_ms());
    let mut expected = Expected::default();
    let accounts = args.subscriptions.div_ceil(args.per_account);
    let mut s = 0;
    for first in (0..accounts).step_by((PER_TRANSACTION / args.per_account).max(1)) {
        let last = (first + (PER_TRANSACTION / args.per_account).max(1)).min(accounts);
        let (mut subs, mut charges) = (Vec::new(), Vec::new());
        for i in first..last {
            let account = account_plan(i, args.date)?;
            expected.documents += 1;
            let currency = CURRENCIES[account.currency];
            while s < args.subscriptions && s < (i + 1) * args.per_account {
                let sub = sub_plan(&account, s, args.date)?;
                expected.add(&sub);
                subs.push(vec![
                    text(sub.id.clone()),
                    text(account.id.clone()),
                    text(id(s as u64, 1)),
                    text(sub.offering),
                    Val::Int(1),
                    text(currency),
                    text(sub.start.to_string()),
                    Val::Null,
                    text("active"),
                    Val::Int(now),
                    Val::Int(now),
                ]);
                let order = id(s as u64, 2);
                let change = match sub.kind {
                    Kind::Changed(d) => Some(d),
                    _ => None,
                };
                charges.push(charge_row(
                    &sub,
                    order.clone(),
                    false,
                    sub.price,
                    sub.start,
                    change,
                )?);
                if sub.one_time {
                    let price = ONE_TIME[account.currency];
                    charges.push(charge_row(&sub, order, true, price, sub.start, None)?);
                }
                if let Some(d) = change {
                    charges.push(charge_row(
                        &sub,
                        id(s as u64, 3),
                        false,
                        sub.new_price,
                        d,
                        None,
                    )?);
                }
                s += 1;
            }
        }
        let mut tx = app.db.begin_write().await?;
        insert_rows(
            &mut tx,
            backend,
            "INSERT INTO subscriptions (id, billing_account_id, product_id, offering, version, \
             currency, start_date, end_date, status, created_at, updated_at)",
            11,
            subs,
        )
        .await?;
        insert_rows(&mut tx, backend, CHARGE_HEAD, 13, charges).await?;
        tx.commit().await?;
    }
    Ok(expected)
}

/// The price changes of the subscriptions invoiced by the history run: the old charge ends
/// on the change date and the new one starts then. Returns how many.
async fn apply_billed_changes(app: &App, args: &Args) -> Result<usize, Failure> {
    let backend = app.db.backend;
    let accounts = args.subscriptions.div_ceil(args.per_account);
    let (mut ends, mut starts) = (Vec::new(), Vec::new());
    for i in 0..accounts {
        let account = account_plan(i, args.date)?;
        for s in i * args.per_account..((i + 1) * args.per_account).min(args.subscriptions) {
            let sub = sub_plan(&account, s, args.date)?;
            if let Kind::ChangedBilled(d) = sub.kind {
                ends.push(vec![text(sub.id.clone()), text(d.to_string())]);
                starts.push(charge_row(
                    &sub,
                    id(s as u64, 3),
                    false,
                    sub.new_price,
                    d,
                    None,
                )?);
            }
        }
    }
    let changed = ends.len();
    let mut tx = app.db.begin_write().await?;
    // Large chunks: PostgreSQL joins each chunk to the charges by a scan of them all.
    let per = backend.chunk_rows(10_000, 2);
    while !ends.is_empty() {
        let chunk: Vec<Vec<Val>> = ends.drain(..per.min(ends.len())).collect();
        // `VALUES` columns are column1, column2 on both backends.
        let sql = format!(
            "UPDATE subscription_charges SET effective_to = v.column2, ended_by = 'bench/change' \
             FROM (VALUES {}) AS v WHERE subscription_charges.subscription_id = v.column1 \
             AND subscription_charges.kind = 'recurring'",
            backend.values_list(chunk.len(), 2, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in chunk.into_iter().flatten() {
            if let Val::Text(t) = v {
                q = q.bind(t);
            }
        }
        q.execute(&mut *tx).await?;
    }
    insert_rows(&mut tx, backend, CHARGE_HEAD, 13, starts).await?;
    tx.commit().await?;
    Ok(changed)
}

// ---------------------------------------------------------------------------------------
// Measuring.

async fn open(args: &Args) -> Result<(App, String, Option<tempfile::TempDir>), Failure> {
    let (url, dir) = fresh_database(
        &args.backend,
        args.url.as_deref(),
        "billing.db",
        "l2c_billing_bench",
    )
    .await?;
    if dir.is_none() {
        println!("database {}", url.rsplit('/').next().unwrap_or(&url));
    }
    Ok((open_url(&url, args).await?, url, dir))
}

async fn open_url(url: &str, args: &Args) -> Result<App, Failure> {
    let mut options = AppOptions::new(url);
    options.max_connections = 4;
    if let Some(n) = args.accounts_per_chunk {
        options.settings.billing.accounts_per_chunk = n;
    }
    Ok(App::open(options).await?)
}

async fn billing_run(app: &App, as_of: NaiveDate, trigger: &str) -> Result<String, Failure> {
    let request = RunRequest {
        scope: RunScope {
            as_of: AsOf::Date(as_of),
            zones: None,
        },
        dry_run: false,
        issue: true,
        trigger: trigger.into(),
    };
    match l2c_invoicing::run(&app.invoicing, request).await? {
        RunOutcome::Stored(id) => Ok(id),
        RunOutcome::Dry { .. } => Err("a stored run came back as a dry run".into()),
    }
}

/// `--phases`: where a run's time goes. Every page as the run does it (load, rate into
/// drafts, store with numbers), each phase timed, then rolled back instead of committed, so
/// the measured run afterwards still finds everything due. The run's own cursor and commit
/// are left out.
async fn phases(app: &App, date: NaiveDate) -> Result<(), Failure> {
    use l2c_invoicing::{draft, load};
    let settings = &app.settings.billing;
    let scope = RunScope {
        as_of: AsOf::Date(date),
        zones: None,
    };
    let origin = write::Origin {
        run_id: None,
        origin: "run",
        preceding_id: None,
    };
    let (mut t_load, mut t_rate, mut t_store, mut t_rollback) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let (mut cursor, mut pages, mut documents, mut lines) = (String::new(), 0, 0, 0);
    let started = Instant::now();
    loop {
        let mut tx = app.db.begin_write().await?;
        let t = Instant::now();
        let page = load::page(
            &mut tx,
            app.db.backend,
            &scope,
            settings,
            &cursor,
            settings.accounts_per_chunk,
            true,
        )
        .await?;
        t_load += t.elapsed();
        let Some(last) = page.last_id.clone() else {
            break;
        };
        let t = Instant::now();
        let mut drafts = Vec::new();
        for work in &page.work {
            drafts.extend(draft::draft(work, settings.rounding)?);
        }
        t_rate += t.elapsed();
        let t = Instant::now();
        let (d, l) =
            write::store(&mut tx, app.db.backend, settings, &drafts, &origin, true, 0).await?;
        t_store += t.elapsed();
        let t = Instant::now();
        tx.rollback().await?;
        t_rollback += t.elapsed();
        (cursor, pages, documents, lines) = (last, pages + 1, documents + d.len(), lines + l);
    }
    let total = started.elapsed().as_secs_f64();
    let share = |d: Duration| {
        format!(
            "{:.1} s ({:.0} %)",
            d.as_secs_f64(),
            d.as_secs_f64() * 100.0 / total
        )
    };
    println!(
        "phases {total:.1} s over {pages} pages ({documents} documents, {lines} lines): load \
         {}, rate {}, store {}, rollback {}",
        share(t_load),
        share(t_rate),
        share(t_store),
        share(t_rollback)
    );
    Ok(())
}

/// PostgreSQL: statistics, as autovacuum would have gathered them on a database that grew
/// over time. On freshly bulk-loaded tables the planner joins each page's rows by scanning
/// all charges and invoice lines (1M subscriptions: a run of 54-64 s instead of 27 s).
async fn analyze(app: &App) -> Result<(), Failure> {
    if app.db.backend == Backend::Postgres {
        sqlx::query("ANALYZE").execute(&app.db.pool).await?;
    }
    Ok(())
}

/// The measured run as its process saw it.
struct Measured {
    run: String,
    secs: f64,
    cpu_secs: f64,
    peak_mib: f64,
    rss_before_mib: f64,
    reset: bool,
}

/// `--measure-url`: the measured run alone, in a process of its own (as `l2c billing run`
/// would be), so its peak RSS is not inflated by what setup left in the allocator and the
/// page caches. Prints one line for [`measure_in_child`].
async fn measure(url: &str, args: &Args) -> Result<(), Failure> {
    let app = open_url(url, args).await?;
    let rss_before = status_mib("VmRSS:");
    let reset = reset_peak_rss();
    let cpu = cpu_time();
    let started = Instant::now();
    let run = billing_run(&app, args.date, "bench").await?;
    let took = started.elapsed();
    let cpu = cpu_time() - cpu;
    let peak = peak_rss_mib();
    println!(
        "measured {run} {} {} {peak} {rss_before} {}",
        took.as_secs_f64(),
        cpu.as_secs_f64(),
        u8::from(reset)
    );
    Ok(())
}

/// Runs this binary with `--measure-url` and reads what it measured.
fn measure_in_child(url: &str, args: &Args) -> Result<Measured, Failure> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .args(["--measure-url", url, "--date"])
        .arg(args.date.to_string());
    if let Some(n) = args.accounts_per_chunk {
        command.args(["--accounts-per-chunk", &n.to_string()]);
    }
    let fields = child_result(&mut command, "measured ")?;
    let number = |i: usize| -> Result<f64, Failure> {
        Ok(fields.get(i).ok_or("short result line")?.parse::<f64>()?)
    };
    Ok(Measured {
        run: fields.first().ok_or("empty result line")?.to_string(),
        secs: number(1)?,
        cpu_secs: number(2)?,
        peak_mib: number(3)?,
        rss_before_mib: number(4)?,
        reset: number(5)? > 0.0,
    })
}

async fn count(app: &App, sql: &str, run: &str) -> Result<i64, Failure> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(run.to_string())
        .fetch_one(&app.db.pool)
        .await?
        .try_get::<i64, _>(0)?)
}

/// What the run stored, counted the way `Expected` counts.
async fn measured(app: &App, run: &str) -> Result<Expected, Failure> {
    let lines = "SELECT COUNT(*) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
                 WHERE i.run_id = $1";
    Ok(Expected {
        documents: count(app, "SELECT COUNT(*) FROM invoices WHERE run_id = $1", run).await?,
        lines: count(app, lines, run).await?,
        one_time: count(app, &format!("{lines} AND l.charge_kind = 'one_time'"), run).await?,
        prorated: count(
            app,
            &format!(
                "{lines} AND l.charge_kind = 'monthly' AND (l.service_from <> l.charge_start \
                 OR l.service_to <> l.charge_end)"
            ),
            run,
        )
        .await?,
        credits: count(app, &format!("{lines} AND l.net LIKE '-%'"), run).await?,
    })
}

/// Problems with the run's documents: not one per account, not issued, or numbers that are
/// not 1..=n in each series (a series' issue year has no earlier numbers here). Also prints
/// the documents per series.
async fn check_documents(app: &App, run: &str, accounts: usize) -> Result<Vec<String>, Failure> {
    let mut wrong = Vec::new();
    let invoiced = count(
        app,
        "SELECT COUNT(DISTINCT billing_account_id) FROM invoices WHERE run_id = $1",
        run,
    )
    .await?;
    let documents = count(app, "SELECT COUNT(*) FROM invoices WHERE run_id = $1", run).await?;
    println!("{invoiced} of {accounts} accounts have a document of the run");
    if invoiced != accounts as i64 || documents != accounts as i64 {
        wrong.push(format!(
            "{documents} documents for {invoiced} accounts, expected one for each of {accounts}"
        ));
    }
    let rows = sqlx::query(
        "SELECT kind, status, series, COUNT(*) AS n, COUNT(DISTINCT number) AS numbers, \
         MAX(number) AS last FROM invoices WHERE run_id = $1 GROUP BY kind, status, series \
         ORDER BY kind, series",
    )
    .bind(run.to_string())
    .fetch_all(&app.db.pool)
    .await?;
    for r in &rows {
        let kind: String = r.try_get("kind")?;
        let status: String = r.try_get("status")?;
        let series: Option<String> = r.try_get("series")?;
        let (n, numbers): (i64, i64) = (r.try_get("n")?, r.try_get("numbers")?);
        let last: Option<String> = r.try_get("last")?;
        let series = series.unwrap_or_default();
        println!(
            "  {n} {status} {kind}s in series {series}, numbers up to {}",
            last.as_deref().unwrap_or("-")
        );
        let highest = write::format_number(&series, n);
        if status != "issued" || numbers != n || last.as_deref() != Some(highest.as_str()) {
            wrong.push(format!(
                "{n} {status} {kind}s of series {series} have {numbers} distinct numbers up \
                 to {last:?} (expected 1 to {highest})"
            ));
        }
    }
    Ok(wrong)
}

async fn bench(args: Args) -> Result<(), Failure> {
    let accounts = args.subscriptions.div_ceil(args.per_account);
    println!(
        "billing_run: {} backend, {} subscriptions on {accounts} accounts ({} per account), \
         run date {}",
        args.backend, args.subscriptions, args.per_account, args.date
    );
    let (app, url, _dir) = open(&args).await?;

    // Setup.
    let started = Instant::now();
    insert_accounts(&app, accounts, args.date).await?;
    let t_accounts = started.elapsed();
    let expected = insert_subscriptions(&app, &args).await?;
    analyze(&app).await?;
    let t_subs = started.elapsed();
    let history = billing_run(&app, history_date(args.date)?, "bench-history").await?;
    let history_invoices = count(
        &app,
        "SELECT COUNT(*) FROM invoices WHERE run_id = $1",
        &history,
    )
    .await?;
    let t_history = started.elapsed();
    let changed = apply_billed_changes(&app, &args).await?;
    analyze(&app).await?;
    let t_setup = started.elapsed();
    println!(
        "setup {:.1} s: accounts {:.1} s, subscriptions and charges {:.1} s, history run \
         {:.1} s ({history_invoices} invoices for the previous period), {changed} changes \
         after it {:.1} s (each with ANALYZE on PostgreSQL)",
        t_setup.as_secs_f64(),
        t_accounts.as_secs_f64(),
        (t_subs - t_accounts).as_secs_f64(),
        (t_history - t_subs).as_secs_f64(),
        (t_setup - t_history).as_secs_f64(),
    );

    if args.phases {
        phases(&app, args.date).await?;
    }

    // The run, in a fresh process.
    let m = measure_in_child(&url, &args)?;
    let found = measured(&app, &m.run).await?;
    println!(
        "run {:.1} s (CPU {:.1} s): {} documents ({:.0}/s), {} lines ({:.0}/s), {} \
         subscriptions ({:.0}/s)",
        m.secs,
        m.cpu_secs,
        found.documents,
        found.documents as f64 / m.secs,
        found.lines,
        found.lines as f64 / m.secs,
        args.subscriptions,
        args.subscriptions as f64 / m.secs,
    );
    println!(
        "peak RSS {:.0} MiB{} (the run's process: {:.0} MiB before the run)",
        m.peak_mib,
        if m.reset {
            " during the run"
        } else {
            " including start-up (clear_refs refused)"
        },
        m.rss_before_mib,
    );

    // Checks.
    println!("expected {expected:?}");
    println!("found    {found:?}");
    let mut wrong = check_documents(&app, &m.run, accounts).await?;
    if found != expected {
        wrong.push("the documents and lines differ from what the fixture implies".to_string());
    }

    // The CSV export of the run, in a fresh process too.
    let e = export_in_child(&url, &m.run)?;
    println!(
        "CSV export {:.1} s: {} lines ({:.0}/s), {:.0} MiB written, peak RSS {:.0} MiB",
        e.secs,
        e.lines,
        e.lines as f64 / e.secs,
        e.bytes as f64 / 1048576.0,
        e.peak_mib
    );
    if e.lines != found.lines as u64 {
        wrong.push(format!(
            "the CSV export has {} lines, the run {}",
            e.lines, found.lines
        ));
    }

    if wrong.is_empty() {
        println!("check ok");
        Ok(())
    } else {
        Err(wrong.join("; ").into())
    }
}

/// What the export's process measured.
struct Exported {
    secs: f64,
    lines: u64,
    bytes: u64,
    peak_mib: f64,
}

/// `--measure-url URL --export-run RUN`: the run's CSV export, as `l2c billing export` does
/// it (chunks from the exporter written to a file), timed with its own peak RSS.
async fn measure_export(url: &str, run: &str, args: &Args) -> Result<(), Failure> {
    let app = open_url(url, args).await?;
    let dir = tempfile::tempdir()?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(dir.path().join("run.csv"))?);
    reset_peak_rss();
    let started = Instant::now();
    let mut lines = 0;
    let csv = l2c_invoicing::export::Format::Csv;
    let bytes = l2c_invoicing::export::export_to(&app.db, run, None, csv, &mut file, |done, _| {
        lines = done
    })
    .await?;
    let took = started.elapsed();
    println!(
        "exported {} {lines} {bytes} {}",
        took.as_secs_f64(),
        peak_rss_mib()
    );
    Ok(())
}

/// Runs this binary to export `run` as CSV and reads what it measured.
fn export_in_child(url: &str, run: &str) -> Result<Exported, Failure> {
    let fields = child_result(
        std::process::Command::new(std::env::current_exe()?).args([
            "--measure-url",
            url,
            "--export-run",
            run,
        ]),
        "exported ",
    )?;
    let field =
        |i: usize| -> Result<&str, Failure> { Ok(fields.get(i).ok_or("short line")?.as_str()) };
    Ok(Exported {
        secs: field(0)?.parse()?,
        lines: field(1)?.parse()?,
        bytes: field(2)?.parse()?,
        peak_mib: field(3)?.parse()?,
    })
}

fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    // One thread drives the run, as `l2c billing run` does; SQLite connections run on
    // threads of their own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match (args.measure_url.clone(), args.export_run.clone()) {
        (Some(url), Some(run)) => rt.block_on(measure_export(&url, &run, &args)),
        (Some(url), None) => rt.block_on(measure(&url, &args)),
        (None, _) => rt.block_on(bench(args)),
    }
}
