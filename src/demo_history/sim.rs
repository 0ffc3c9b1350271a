//! The history's state and its clock: [`Sim`] moves the sandbox clock through a month's
//! agenda, runs the engine's steps at each move (on the failing network on a bad morning,
//! see the parent module's doc), bills, prints the month's line, and at the end works off
//! what is left.

use super::parts::{
    at, count, month_name, text, DRAIN_STEP, DRAIN_STEPS, FINAL, NORMAL_FAILURE_RATE,
    OUTAGE_FAILURE_RATE, OUTAGE_STEP, SEED,
};
use super::parts::{Cancel, Moment};
use super::parts::{Fix, Plan};
use crate::demo_desk::{self, As, Desk};
use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDate, Utc};
use l2c::app::App;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What one month did, for its line.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) placed: u32,
    pub(super) incidents: u32,
    invoices: i64,
    net: Decimal,
}

/// The history's state while it runs.
pub(super) struct Sim<'a> {
    /// The served app: its clock, moved over the API, is the one the others follow.
    app: &'a App,
    /// The same database, its network failing [`NORMAL_FAILURE_RATE`] of calls.
    normal: App,
    /// The same database on a bad morning.
    outage: App,
    pub(super) desk: Desk,
    pub(super) requesters: Vec<As>,
    pub(super) leads: Vec<As>,
    /// The month's agenda and the customers' orders.
    pub(super) orders: StdRng,
    /// The people's decisions.
    pub(super) people: StdRng,
    /// Which month of the history (0 the first): later months are busier and quicker.
    pub(super) index: u32,
    pub(super) tasks: HashMap<String, Plan>,
    pub(super) incidents: HashMap<String, Fix>,
    pub(super) cancels: Vec<Cancel>,
    /// Products a change or disconnect was ordered for (one at a time).
    pub(super) changing: HashSet<String>,
    pub(super) outages: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// After the last month: everyone acts at once.
    pub(super) hurry: bool,
    pub(super) serials: u32,
    /// Failed web sign-ins so far (see [`Sim::slip`]).
    pub(super) sign_in_slips: u32,
    pub(super) tally: Tally,
}

impl<'a> Sim<'a> {
    pub(super) async fn new(app: &'a App, url: &str, desk: Desk) -> Result<Sim<'a>> {
        let normal = App::open(demo_desk::options(url, NORMAL_FAILURE_RATE)).await?;
        let outage = App::open(demo_desk::options(url, OUTAGE_FAILURE_RATE)).await?;
        let (requesters, leads) = super::people::set_up(&desk).await?;
        Ok(Sim {
            app,
            normal,
            outage,
            desk,
            requesters,
            leads,
            orders: StdRng::seed_from_u64(SEED),
            people: StdRng::seed_from_u64(SEED + 1),
            index: 0,
            tasks: HashMap::new(),
            incidents: HashMap::new(),
            cancels: Vec::new(),
            changing: HashSet::new(),
            outages: Vec::new(),
            hurry: false,
            serials: 1000,
            sign_in_slips: 0,
            tally: Tally::default(),
        })
    }

    pub(super) fn now(&self) -> DateTime<Utc> {
        self.app.clock.now()
    }

    fn in_outage(&self, t: DateTime<Utc>) -> bool {
        self.outages.iter().any(|(s, e)| *s <= t && t < *e)
    }

    /// Runs every step and timer that is due: on the failing network on a bad morning.
    pub(super) async fn settle(&self) -> Result<()> {
        let now = self.now();
        for other in [&self.normal, &self.outage] {
            if let Some(clock) = &other.sandbox {
                clock.set(now);
            }
        }
        let engine = if self.in_outage(now) {
            &self.outage.engine
        } else {
            &self.normal.engine
        };
        engine.run_until_idle().await?;
        Ok(())
    }

    /// Moves the sandbox clock (over the API, as the admin) to `to`, and in small steps
    /// through a bad morning on the way, running what is due at each.
    async fn advance_to(&self, to: DateTime<Utc>) -> Result<()> {
        let mut now = self.now();
        while now < to {
            let next = match self.outage_between(now, to) {
                Some((start, _)) if now < start => start,
                Some((_, end)) => (now + OUTAGE_STEP).min(end),
                None => to,
            }
            .min(to);
            let body = json!({ "to": next.to_rfc3339() });
            self.desk.admin.post("/api/v1/sandbox/clock", body).await?;
            self.settle().await?;
            now = next;
        }
        Ok(())
    }

    /// The first bad morning that overlaps `(from, to]`.
    fn outage_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        self.outages
            .iter()
            .filter(|(s, e)| *s < to && *e > from)
            .min()
            .copied()
    }

    /// One month: its agenda, then its line.
    pub(super) async fn month(&mut self, first: NaiveDate) -> Result<()> {
        self.tally = Tally::default();
        for (when, moment) in self.agenda(first) {
            self.advance_to(when).await?;
            match moment {
                Moment::Bill => self.bill().await?,
                Moment::Tick { workday } => self.tick(workday).await?,
                Moment::Place { customer, kind } => self.place(customer, kind).await?,
                Moment::Slip => self.slip().await?,
            }
        }
        self.print_month(first).await
    }

    /// Finance bills today's date (06:00 UTC, a date every account's zone has reached).
    async fn bill(&mut self) -> Result<()> {
        let date = self.now().date_naive().to_string();
        let run = self
            .desk
            .fay
            .post("/api/v1/billing-runs", json!({ "date": date }))
            .await?;
        self.tally.invoices += run["invoices"].as_i64().unwrap_or(0);
        for total in run["totals"].as_array().into_iter().flatten() {
            if total["kind"] == "invoice" && total["currency"] == "EUR" {
                let net: Decimal = total["net"].as_str().unwrap_or("0").parse()?;
                self.tally.net += net;
            }
        }
        self.settle().await
    }

    /// The month's line: its orders as they stand at its end, its incidents and billing.
    async fn print_month(&self, first: NaiveDate) -> Result<()> {
        let month = month_name(first);
        let orders = self.desk.admin.get("/api/v1/orders?limit=500").await?;
        let states = states_of(&orders, &month);
        let n = |s: &str| states.get(s).copied().unwrap_or(0);
        let t = &self.tally;
        let failed = match n("failed") + n("partial") {
            0 => String::new(),
            f => format!(", {f} failed"),
        };
        println!(
            "   {month}  {:>2} orders placed: {:>2} completed, {} rejected, {} cancelled{failed}, {} open; \
             {}; {} billed, EUR {} net",
            t.placed,
            n("completed"),
            n("rejected"),
            n("cancelled"),
            n("open"),
            count(t.incidents, "incident"),
            count(t.invoices, "invoice"),
            t.net
        );
        Ok(())
    }

    /// After the last month: finance bills its new subscriptions, and the desk works off
    /// what is left at once, so the walk after finds empty queues.
    pub(super) async fn close(&mut self, first: NaiveDate) -> Result<()> {
        self.tally = Tally::default();
        self.outages.clear();
        self.advance_to(at(first, 6, 0)).await?;
        self.bill().await?;
        self.hurry = true;
        for _ in 0..DRAIN_STEPS {
            self.tick(true).await?;
            if self.quiet().await? {
                println!(
                    "   {first}: finance bills the last month ({}, EUR {} net) and the desk \
                     works off what is left by {}",
                    count(self.tally.invoices, "invoice"),
                    self.tally.net,
                    self.now().format("%Y-%m-%d %H:%M")
                );
                return Ok(());
            }
            self.advance_to(self.now() + DRAIN_STEP).await?;
        }
        bail!("orders of the history were still open five days after its last month")
    }

    /// No open task, no incident and no order still running.
    async fn quiet(&self) -> Result<bool> {
        let tasks = self.desk.admin.get("/api/v1/tasks").await?;
        let incidents = self.desk.admin.get("/api/v1/incidents").await?;
        let orders = self.desk.admin.get("/api/v1/orders?limit=500").await?;
        let empty = |v: &Value| v.as_array().is_none_or(|a| a.is_empty());
        let running = orders
            .as_array()
            .into_iter()
            .flatten()
            .any(|o| !FINAL.contains(&o["state"].as_str().unwrap_or_default()));
        Ok(empty(&tasks) && empty(&incidents) && !running)
    }
}

/// How many of the orders created in `month` are in each final state, the others as `open`.
fn states_of(orders: &Value, month: &str) -> BTreeMap<String, u32> {
    let mut states: BTreeMap<String, u32> = BTreeMap::new();
    for o in orders.as_array().into_iter().flatten() {
        if text(o, "created_at").starts_with(month) {
            let state = text(o, "state");
            let key = if FINAL.contains(&state.as_str()) {
                state
            } else {
                "open".to_string()
            };
            *states.entry(key).or_default() += 1;
        }
    }
    states
}
