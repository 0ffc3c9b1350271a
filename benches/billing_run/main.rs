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

#[path = "../common/mod.rs"]
mod common;
mod fixture;
mod measure;
mod plan;

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

use fixture::*;
use measure::*;
use plan::*;

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

/// Inserts the fixture and runs the history run before it; returns what the measured run
/// must write.
async fn setup(app: &App, args: &Args, accounts: usize) -> Result<Expected, Failure> {
    let started = Instant::now();
    insert_accounts(app, accounts, args.date).await?;
    let t_accounts = started.elapsed();
    let expected = insert_subscriptions(app, args).await?;
    analyze(app).await?;
    let t_subs = started.elapsed();
    let history = billing_run(app, history_date(args.date)?, "bench-history").await?;
    let history_invoices = count(
        app,
        "SELECT COUNT(*) FROM invoices WHERE run_id = $1",
        &history,
    )
    .await?;
    let t_history = started.elapsed();
    let changed = apply_billed_changes(app, args).await?;
    analyze(app).await?;
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
    Ok(expected)
}

async fn bench(args: Args) -> Result<(), Failure> {
    let accounts = args.subscriptions.div_ceil(args.per_account);
    println!(
        "billing_run: {} backend, {} subscriptions on {accounts} accounts ({} per account), \
         run date {}",
        args.backend, args.subscriptions, args.per_account, args.date
    );
    let (app, url, _dir) = open(&args).await?;
    let expected = setup(&app, &args, accounts).await?;
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
