//! The Monthly Operating Report over a large history: `--orders` orders (default 1,000,000)
//! spread over the 13 months 2026-01..2027-01 on SQLite, each with its workflow instance,
//! four history events, a task step, an approval task with its decision and two order events
//! (2 % with an incident resolved two hours later, 3 % with a retried step, 5 % cancelled), an
//! item of one of three offerings, and for a completed order its product and subscription and
//! a line in the next month's billing run (but for 2 %),
//! written straight into the tables in large multi-row inserts (a fixture: the order flow
//! itself is measured by other benches). Then it times the report of 2027-01:
//!
//! - cold: nothing frozen yet, so the month and the 12 months of its trend are measured;
//! - warm: the earlier months frozen, the month recomputed (what a monthly report costs);
//! - frozen: the closed month read back (one row).
//!
//! ```text
//! cargo bench --bench report -- [--orders 1000000]
//! ```

mod common;

use chrono::{TimeZone, Utc};
use common::{eur_customer, fresh_database, Failure};
use l2c::app::{App, AppOptions};
use l2c::report::{self, month::Month, Context};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

const H: i64 = 3_600_000;
const BATCH: usize = 2_000;
const OFFERINGS: [&str; 3] = ["wan-link", "lan-setup", "bandwidth-upgrade"];

fn orders_arg() -> Result<usize, Failure> {
    let mut orders = 1_000_000;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--orders" => orders = it.next().ok_or("--orders needs a value")?.parse()?,
            "--bench" => {}
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(orders)
}

fn start_ms() -> i64 {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or_default()
}

/// The rows of orders `from..to`, as the VALUES lists of each table.
fn rows(from: usize, to: usize, n: usize) -> BTreeMap<&'static str, String> {
    let span = Month::parse("2027-01")
        .map(|m| m.end_ms())
        .unwrap_or_default()
        - start_ms();
    let mut t: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut add = |table: &'static str, row: String| {
        let s = t.entry(table).or_default();
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str(&row);
    };
    for i in from..to {
        let created = start_ms() + (span - 400 * H) * i as i64 / n as i64;
        let done = created + 24 * H + (i as i64 % 216) * H;
        let (state, completed) = match i % 20 {
            0 => ("cancelled", "NULL".to_string()),
            1 => ("inProgress", "NULL".to_string()),
            _ => ("completed", done.to_string()),
        };
        add("orders (id, requester, customer_account_id, billing_account_id, state, currency, one_time_total, monthly_total, created_at, updated_at, completed_at)",
            format!("('O{i}','rita','ACME','ACME-EUR','{state}','EUR','0','0',{created},{created},{completed})"));
        add("wf_instances (id, workflow, version, business_key, status, input, output, open_steps, created_at, updated_at, finished_at)",
            format!("('I{i}','wan-link','v','order:O{i}','completed','{{}}','{{}}',0,{created},{done},{done})"));
        let offering = OFFERINGS[i % OFFERINGS.len()];
        add("order_items (order_id, item_id, position, action, offering, version, quantity, characteristics, quote, workflow, product_id, state)",
            format!("('O{i}','1',0,'add','{offering}',1,1,'{{}}','{{}}','{offering}','P{i}','{state}')"));
        if state == "completed" {
            add("products (id, customer_account_id, billing_account_id, offering, version, quantity, characteristics, status, order_id, created_at, updated_at, activated_at)",
                format!("('P{i}','ACME','ACME-EUR','{offering}',1,1,'{{}}','active','O{i}',{created},{done},{done})"));
            add("subscriptions (id, billing_account_id, product_id, offering, version, currency, start_date, status, created_at, updated_at)",
                format!("('S{i}','ACME-EUR','P{i}','{offering}',1,'EUR','2026-01-01','active',{done},{done})"));
            // The next month's run bills it, but for one in fifty (order-to-bill accuracy).
            if i % 50 != 3 {
                // The first run after the activation: the month's own before its 06:00 start.
                let month = Month::of(done);
                let run = if done < month.start_ms() + 6 * H {
                    month
                } else {
                    month.next()
                };
                add("invoice_lines (invoice_id, position, charge_key, charge_kind, subscription_id, description, charge_start, charge_end, service_from, service_to, quantity, unit_price, net, list_price, tax_category, tax_percent)",
                    format!("('V{run}',{i},'k','recurring','S{i}','d','2026-01-01','2026-02-01','2026-01-01','2026-02-01','1','10','10','10','S','19')"));
            }
        }
        let mut events = vec![
            ("instance.started", created, 1),
            ("step.started", created + H, 1),
            ("step.completed", created + 2 * H, 1),
            ("instance.completed", done, 1),
        ];
        if i % 50 == 7 {
            events.push(("step.incident", created + 3 * H, 3));
            events.push(("incident.retried", created + 5 * H, 3));
        }
        if i % 33 == 5 {
            events.push(("step.started", created + 4 * H, 2));
        }
        for (event, at, attempt) in events {
            add(
                "wf_history (instance_id, at, event, stage, attempt)",
                format!("('I{i}',{at},'{event}','configure',{attempt})"),
            );
        }
        add("wf_steps (id, instance_id, stage, kind, state, attempt, failures, ready_at, created_at, finished_at)",
            format!("('S{i}','I{i}','configure','task','completed',{},0,{created},{created},{})", 1 + (i % 33 == 5) as u8, created + 2 * H));
        add("wf_tasks (id, instance_id, stage, kind, group_name, state, required, approvals, created_at, updated_at)",
            format!("('K{i}','I{i}','feasibility','approval','network-engineering','approved',1,1,{created},{created})"));
        add(
            "wf_task_decisions (task_id, actor, outcome, at)",
            format!(
                "('K{i}','nina','approve',{})",
                created + (1 + i as i64 % 12) * H
            ),
        );
        add(
            "order_events (id, order_id, at, from_state, to_state)",
            format!("('E{i}a','O{i}',{created},NULL,'acknowledged')"),
        );
        if state != "inProgress" {
            add(
                "order_events (id, order_id, at, from_state, to_state)",
                format!("('E{i}b','O{i}',{done},'inProgress','{state}')"),
            );
        }
    }
    t
}

/// The monthly billing runs 2026-02..2027-02 (on the first at 06:00), each with the one
/// invoice the fixture's lines go to, and the workflow version the orders ran.
async fn runs(app: &App) -> Result<(), Failure> {
    let mut month = Month::parse("2026-02")?;
    while month <= Month::parse("2027-02")? {
        let at = month.start_ms() + 6 * H;
        let day = month.first_date();
        let run = format!(
            "INSERT INTO billing_runs (id, as_of, trigger_name, issue, status, started_at, \
             finished_at) VALUES ('R{month}', '{day}', 'schedule', 1, 'completed', {at}, {at})"
        );
        let invoice = format!(
            "INSERT INTO invoices (id, run_id, billing_account_id, period_start, period_end, \
             origin, kind, status, number, issue_date, currency, line_net_total, tax_total, \
             payable, rounding, seller, created_at) VALUES ('V{month}', 'R{month}', 'ACME-EUR', \
             '{day}', '{day}', 'run', 'invoice', 'issued', 'INV-{month}', '{day}', 'EUR', '0', \
             '0', '0', 'half_away_from_zero', '{{}}', {at})"
        );
        for sql in [run, invoice] {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&app.db.pool)
                .await?;
        }
        month = month.next();
    }
    sqlx::query(
        "INSERT INTO wf_definitions (name, hash, number, source, registered_at) \
         VALUES ('wan-link', 'v', 1, '', $1)",
    )
    .bind(start_ms())
    .execute(&app.db.pool)
    .await?;
    Ok(())
}

async fn fixture(app: &App, n: usize) -> Result<(), Failure> {
    eur_customer(app, "ACME").await?;
    runs(app).await?;
    let started = Instant::now();
    for from in (0..n).step_by(BATCH) {
        let mut tx = app.db.begin_write().await?;
        let mut tables: Vec<_> = rows(from, (from + BATCH).min(n), n).into_iter().collect();
        // Orders first: their events refer to them.
        tables.sort_by_key(|(table, _)| !table.starts_with("orders "));
        for (table, values) in tables {
            let mut sql = String::new();
            write!(sql, "INSERT INTO {table} VALUES {values}")?;
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }
    sqlx::query("ANALYZE").execute(&app.db.pool).await?;
    println!(
        "fixture: {n} orders with their history in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Failure> {
    let n = orders_arg()?;
    let (url, _dir) = fresh_database("sqlite", None, "report.db", "l2c_report_bench").await?;
    let mut options = AppOptions::new(url);
    options.sandbox = true;
    let app = App::open(options).await?;
    fixture(&app, n).await?;
    let month = Month::parse("2027-01")?;
    let targets = BTreeMap::new();
    let ctx = Context {
        db: &app.db,
        now_ms: month.end_ms() + 24 * H,
        targets: &targets,
    };
    for (what, recompute) in [
        ("cold (13 months measured)", false),
        ("warm (the month recomputed)", true),
        ("frozen (read back)", false),
    ] {
        let started = Instant::now();
        let r = report::monthly(&ctx, month, recompute).await?;
        let peak = r
            .kpis
            .iter()
            .find(|k| k.id == "orders_peak_hour")
            .and_then(|k| k.value);
        let billed = r
            .kpis
            .iter()
            .find(|k| k.id == "order_to_bill_percent")
            .and_then(|k| k.value);
        println!(
            "report 2027-01 {what:<28} {:>8.3} s  ({} KPIs, peak hour {} orders, {}% billed)",
            started.elapsed().as_secs_f64(),
            r.kpis.len(),
            peak.map(|p| p.to_string()).unwrap_or_default(),
            billed.map(|p| p.to_string()).unwrap_or_default()
        );
    }
    Ok(())
}
