//! `l2c demo --months N`: months of history, so the Monthly Operating Report has trends a
//! newcomer can open. Before the demo's walk through the desk, the sandbox clock runs through
//! N whole months, from the first of the next month on (the clock only moves forward). In
//! each month, over the HTTP API as the people involved:
//!
//! - requesters of three more customers order WAN links, LANs, element replacements, bandwidth
//!   upgrades and disconnects of their running products, a few more each month;
//! - approvers approve most tasks and reject a few, some only after their SLA has reminded or
//!   escalated (to the leads, who then decide); field engineers finish their jobs in hours or
//!   days; requesters cancel a few orders;
//! - the simulated network fails a few calls (retried) and has two or three bad mornings a month,
//!   whose exhausted retries become incidents that the admin retries or skips hours later;
//! - finance runs billing on the 1st and the 15th (one customer bills on the 15th).
//!
//! Every choice comes from a seeded generator, so every run makes the same plan; which network
//! calls fail is random, so the counts vary a little from run to run. One line per month is
//! printed, and after the walk the last history month's report ([`print_report`]).
//!
//! The history runs the engine's steps itself, right after each move of the clock and each
//! action, instead of leaving them to background workers: every step then runs at the sandbox
//! time it became due, and the steps that run on a bad morning run on a network that fails.
//! The simulator's failure rate is fixed when an app opens, so the history opens the demo's
//! database twice more, once with each rate, and runs the steps on the one that fits the
//! hour; the served app's network never fails, so the walk after the history (with workers
//! again) runs as it does without one.

use crate::demo::{self, As, Desk};
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc, Weekday};
use l2c::app::App;
use l2c::report::{self, month::Month, output};
use l2c::server::Server;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;

/// The most months `--months` takes.
pub(crate) const MAX_MONTHS: u32 = 24;
/// PE routers of the demo's network with history: enough ports for two years of WAN links.
pub(crate) const ROUTERS: u32 = 8;
/// The seed of every choice (issue 16 asked for the history).
const SEED: u64 = 16;
/// The share of the simulated network's calls that fail on a normal day.
const NORMAL_FAILURE_RATE: f64 = 0.03;
/// The share that fails on a bad morning: enough for retries to run out, so incidents open.
const OUTAGE_FAILURE_RATE: f64 = 0.9;
/// How far the clock moves at a time on a bad morning, so retries (backed off by seconds to
/// minutes) run inside it.
const OUTAGE_STEP: Duration = Duration::minutes(10);
/// The hours (UTC) people look at their queues on a working day.
const WORK_HOURS: [u32; 5] = [8, 10, 12, 14, 16];
/// How often the clock moves while the desk works off what is left after the last month.
const DRAIN_STEP: Duration = Duration::hours(3);
/// At most this many drain steps (five days); orders still open then are a bug.
const DRAIN_STEPS: u32 = 40;
/// Order states nothing happens after.
const FINAL: [&str; 5] = ["completed", "rejected", "cancelled", "failed", "partial"];

/// A customer of the history, with its requester.
struct Customer {
    id: &'static str,
    name: &'static str,
    segment: &'static str,
    street: &'static str,
    city: &'static str,
    postcode: &'static str,
    vat_id: &'static str,
    cycle_day: u32,
    requester: &'static str,
    /// Its share of the orders (relative).
    weight: u32,
}

const CUSTOMERS: [Customer; 3] = [
    Customer {
        id: "GLOBEX",
        name: "Globex Logistik AG",
        segment: "enterprise",
        street: "Am Sandtorkai 12",
        city: "Hamburg",
        postcode: "20457",
        vat_id: "DE811234567",
        cycle_day: 1,
        requester: "gina",
        weight: 5,
    },
    Customer {
        id: "STADTWERKE",
        name: "Stadtwerke Leipzig",
        segment: "public-sector",
        street: "Augustusplatz 3",
        city: "Leipzig",
        postcode: "04109",
        vat_id: "DE141234560",
        cycle_day: 15,
        requester: "paul",
        weight: 3,
    },
    Customer {
        id: "NORDWIND",
        name: "Nordwind Handel GmbH",
        segment: "enterprise",
        street: "Schlachte 40",
        city: "Bremen",
        postcode: "28195",
        vat_id: "DE114567890",
        cycle_day: 1,
        requester: "nora",
        weight: 2,
    },
];

/// The leads SLA escalations reassign to: name, role, group.
const LEADS: [(&str, &str, &str); 3] = [
    ("lena", "approver", "network-leads"),
    ("finn", "engineer", "field-leads"),
    ("otto", "approver", "operations"),
];

const CITIES: [&str; 10] = [
    "FRA", "MUC", "BER", "HAM", "CGN", "STR", "DUS", "LEJ", "HAJ", "NUE",
];
const DEVICES: [&str; 6] = [
    "cisco-c8300-1n1s",
    "cisco-asr1001-x",
    "juniper-mx204",
    "juniper-srx1500",
    "nokia-7750-sr-1",
    "arista-7280r3",
];
const REPLACEMENT_REASONS: [&str; 4] = [
    "end-of-life",
    "hardware-fault",
    "capacity",
    "security-advisory",
];
const REJECTIONS: [&str; 4] = [
    "Over this quarter's budget; please re-quote in Q3",
    "Site not reachable from a point of presence within 80 km",
    "Duplicate of an order already in progress",
    "Needs the customer's signed framework agreement first",
];
const CANCELLATIONS: [&str; 3] = [
    "Site move postponed",
    "Ordered twice by mistake",
    "Project cancelled by the customer",
];

/// What the history made: its people, for the walk after it, and its months.
pub(crate) struct History {
    /// The demo's people (the walk's and the history's admin and finance).
    pub(crate) desk: Desk,
    first: NaiveDate,
    months: u32,
}

/// What an order of the agenda is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Wan,
    Lan,
    Replacement,
    Upgrade,
    Disconnect,
}

/// Something that happens at a moment of a month.
enum Moment {
    /// Finance runs billing (the 1st and the 15th, 06:00).
    Bill,
    /// People look at their queues (on working days; on-call admins only at weekends).
    Tick { workday: bool },
    /// A customer's requester places an order.
    Place { customer: usize, kind: Kind },
    /// Someone slips: a mistyped password, a stale token, a page they may not open.
    Slip,
}

/// When and how a task is decided.
#[derive(Clone, Copy)]
struct Plan {
    at: DateTime<Utc>,
    reject: Option<&'static str>,
}

/// When and how the admin resolves an incident.
#[derive(Clone, Copy)]
struct Fix {
    at: DateTime<Utc>,
    skip: bool,
}

/// A cancellation a requester will ask for.
struct Cancel {
    order: String,
    customer: usize,
    at: DateTime<Utc>,
}

/// What one month did, for its line.
#[derive(Default)]
struct Tally {
    placed: u32,
    incidents: u32,
    invoices: i64,
    net: Decimal,
}

/// The history's state while it runs.
struct Sim<'a> {
    /// The served app: its clock, moved over the API, is the one the others follow.
    app: &'a App,
    /// The same database, its network failing [`NORMAL_FAILURE_RATE`] of calls.
    normal: App,
    /// The same database on a bad morning.
    outage: App,
    desk: Desk,
    requesters: Vec<As>,
    leads: Vec<As>,
    /// The month's agenda and the customers' orders.
    orders: StdRng,
    /// The people's decisions.
    people: StdRng,
    /// Which month of the history (0 the first): later months are busier and quicker.
    index: u32,
    tasks: HashMap<String, Plan>,
    incidents: HashMap<String, Fix>,
    cancels: Vec<Cancel>,
    /// Products a change or disconnect was ordered for (one at a time).
    changing: HashSet<String>,
    outages: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    /// After the last month: everyone acts at once.
    hurry: bool,
    serials: u32,
    /// Failed web sign-ins so far (see [`Sim::slip`]).
    sign_in_slips: u32,
    tally: Tally,
}

/// Runs `months` months of history on `app` (whose database is at `url`), printing a line per
/// month; creates the demo's people first.
pub(crate) async fn run(app: &App, url: &str, months: u32) -> Result<History> {
    // No workers: the history runs the engine's steps itself (see the module's doc).
    let server = Server::start(app.clone(), SocketAddr::from(([127, 0, 0, 1], 0)), 0).await?;
    println!(
        "l2c demo --months {months}: first {} of history on a fresh SQLite database with a \
         sandbox clock\n",
        count(months, "month")
    );
    let desk = demo::set_up(app, &server.url()).await?;
    let mut sim = Sim::new(app, url, desk).await?;
    let first = first_of_next_month(app.clock.now().date_naive())?;
    sim.introduce(first, months)?;
    for index in 0..months {
        sim.index = index;
        sim.month(add_months(first, index)?).await?;
    }
    sim.close(add_months(first, months)?).await?;
    server.shutdown().await?;
    Ok(History {
        desk: sim.desk,
        first,
        months,
    })
}

fn first_of_next_month(day: NaiveDate) -> Result<NaiveDate> {
    day.with_day(1)
        .and_then(|d| d.checked_add_months(Months::new(1)))
        .context("the next month")
}

fn add_months(first: NaiveDate, n: u32) -> Result<NaiveDate> {
    first
        .checked_add_months(Months::new(n))
        .context("a month of the history")
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN))
        .and_utc()
}

fn is_workday(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// `n thing` or `n things`.
fn count(n: impl Into<i64>, thing: &str) -> String {
    match n.into() {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

fn month_name(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

fn pick<'t, T>(rng: &mut StdRng, items: &'t [T]) -> Option<&'t T> {
    (!items.is_empty())
        .then(|| rng.random_range(0..items.len()))
        .and_then(|i| items.get(i))
}

/// Picks one of `choices` by their weights.
fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> Option<T> {
    let total: u32 = choices.iter().map(|(_, w)| w).sum();
    let mut roll = rng.random_range(0..total.max(1));
    for (choice, weight) in choices {
        if roll < *weight {
            return Some(*choice);
        }
        roll -= weight;
    }
    None
}

fn site(rng: &mut StdRng) -> String {
    let city = pick(rng, &CITIES).copied().unwrap_or("FRA");
    format!("{city}-{:03}", rng.random_range(1..=40))
}

/// POSTs as `who`; a refusal (409 or 422: decided meanwhile, already delivered, a product
/// that changed) is `None`, for the history to go on without it.
async fn try_post(who: &As, path: &str, body: Value) -> Result<Option<Value>> {
    let resp = who
        .http
        .post(format!("{}{path}", who.base))
        .bearer_auth(&who.token)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("POST {path}"))?;
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    match status.as_u16() {
        _ if status.is_success() => Ok(Some(answer)),
        409 | 422 => {
            tracing::debug!(path, detail = %answer["detail"], "refused");
            Ok(None)
        }
        _ => bail!(
            "POST {path}: {status}: {}",
            answer["detail"].as_str().unwrap_or("no detail")
        ),
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

impl<'a> Sim<'a> {
    async fn new(app: &'a App, url: &str, desk: Desk) -> Result<Sim<'a>> {
        let normal = App::open(demo::options(url, NORMAL_FAILURE_RATE)).await?;
        let outage = App::open(demo::options(url, OUTAGE_FAILURE_RATE)).await?;
        let mut requesters = Vec::new();
        for c in &CUSTOMERS {
            requesters.push(add_customer(&desk, c).await?);
        }
        let mut leads = Vec::new();
        for (name, role, group) in LEADS {
            leads.push(add_user(&desk, name, role, None, Some(group)).await?);
        }
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

    fn introduce(&self, first: NaiveDate, months: u32) -> Result<()> {
        let (first, last) = (
            month_name(first),
            month_name(add_months(first, months - 1)?),
        );
        let span = match first == last {
            true => first,
            false => format!("{first} to {last}"),
        };
        println!("\nHistory: {span} on the sandbox clock, as these people too (password: name-demo-desk):");
        for c in &CUSTOMERS {
            println!(
                "   user {:5} requester of {} ({}, bills on day {})",
                c.requester, c.id, c.segment, c.cycle_day
            );
        }
        for (name, role, group) in LEADS {
            println!("   user {name:5} {role:9} {group}");
        }
        println!(
            "   The simulated network fails {:.0}% of calls, and {:.0}% on two or three bad mornings a month.",
            NORMAL_FAILURE_RATE * 100.0,
            OUTAGE_FAILURE_RATE * 100.0
        );
        Ok(())
    }

    fn now(&self) -> DateTime<Utc> {
        self.app.clock.now()
    }

    fn in_outage(&self, t: DateTime<Utc>) -> bool {
        self.outages.iter().any(|(s, e)| *s <= t && t < *e)
    }

    /// Runs every step and timer that is due: on the failing network on a bad morning.
    async fn settle(&self) -> Result<()> {
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
    async fn month(&mut self, first: NaiveDate) -> Result<()> {
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

    /// The month's moments in time order: billing runs, the queues' ticks, the orders; and
    /// its bad mornings.
    fn agenda(&mut self, first: NaiveDate) -> Vec<(DateTime<Utc>, Moment)> {
        let days: Vec<NaiveDate> = first
            .iter_days()
            .take_while(|d| d.month() == first.month())
            .collect();
        let workdays: Vec<NaiveDate> = days.iter().copied().filter(|d| is_workday(*d)).collect();
        let mut agenda = Vec::new();
        for day in &days {
            if matches!(day.day(), 1 | 15) {
                agenda.push((at(*day, 6, 0), Moment::Bill));
            }
            let workday = is_workday(*day);
            let hours: &[u32] = if workday { &WORK_HOURS } else { &[12] };
            agenda.extend(
                hours
                    .iter()
                    .map(|h| (at(*day, *h, 0), Moment::Tick { workday })),
            );
        }
        for _ in 0..self.orders_this_month() {
            let day = pick(&mut self.orders, &workdays).copied().unwrap_or(first);
            let when = at(
                day,
                self.orders.random_range(8..17),
                self.orders.random_range(0..60),
            );
            agenda.push((when, self.draw_order()));
        }
        for _ in 0..self.orders.random_range(2..=5) {
            let day = pick(&mut self.orders, &workdays).copied().unwrap_or(first);
            agenda.push((at(day, self.orders.random_range(8..17), 30), Moment::Slip));
        }
        self.plan_outages(&workdays);
        agenda.sort_by_key(|(when, _)| *when);
        agenda
    }

    /// 15 to 19 orders in the first month, about four more each month up to 40.
    fn orders_this_month(&mut self) -> u32 {
        (15 + 4 * self.index.min(6) + self.orders.random_range(0..=4)).min(40)
    }

    fn draw_order(&mut self) -> Moment {
        let weights: Vec<(usize, u32)> = CUSTOMERS
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.weight))
            .collect();
        let customer = weighted(&mut self.orders, &weights).unwrap_or(0);
        let kinds = [
            (Kind::Wan, 40),
            (Kind::Lan, 27),
            (Kind::Replacement, 12),
            (Kind::Upgrade, 15),
            (Kind::Disconnect, 6),
        ];
        let kind = weighted(&mut self.orders, &kinds).unwrap_or(Kind::Wan);
        Moment::Place { customer, kind }
    }

    /// Two or three bad mornings a month: from before the first look at the queues, when
    /// the night's work starts, for three to six hours.
    fn plan_outages(&mut self, workdays: &[NaiveDate]) {
        self.outages.clear();
        let count = if self.orders.random_bool(0.3) { 3 } else { 2 };
        for _ in 0..count {
            let Some(day) = pick(&mut self.orders, workdays).copied() else {
                return;
            };
            let start = at(day, 7, self.orders.random_range(30..60));
            let length = Duration::minutes(self.orders.random_range(180..=360));
            self.outages.push((start, start + length));
        }
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

    /// People look at their queues, requesters cancel, the admin fixes incidents.
    async fn tick(&mut self, workday: bool) -> Result<()> {
        if workday {
            self.work_tasks().await?;
            self.cancel_due().await?;
        }
        self.fix_incidents().await
    }

    /// The user who works `group`'s queue.
    fn worker(&self, group: &str) -> Option<&As> {
        match group {
            "sales-managers" => Some(&self.desk.sam),
            "network-engineering" => Some(&self.desk.nina),
            "field-engineers" => Some(&self.desk.fred),
            _ => LEADS
                .iter()
                .position(|(_, _, g)| *g == group)
                .and_then(|i| self.leads.get(i)),
        }
    }

    /// Every open task whose decision is due is decided (a task seen for the first time gets
    /// its plan now).
    async fn work_tasks(&mut self) -> Result<()> {
        let tasks = self.desk.admin.get("/api/v1/tasks").await?;
        let now = self.now();
        let mut acted = false;
        for task in tasks.as_array().into_iter().flatten() {
            let id = text(task, "id");
            let plan = match self.tasks.get(&id) {
                Some(plan) => *plan,
                None => {
                    let plan = self.draw_plan(&text(task, "kind"), &text(task, "stage"), now);
                    *self.tasks.entry(id.clone()).or_insert(plan)
                }
            };
            if plan.at > now && !self.hurry {
                continue;
            }
            let (path, body) = self.decision(task, &id, plan);
            let Some(who) = self.worker(&text(task, "group")) else {
                continue;
            };
            try_post(who, &path, body).await?;
            self.tasks.remove(&id);
            acted = true;
        }
        if acted {
            self.settle().await?;
        }
        Ok(())
    }

    /// The call that decides `task` as planned: approve, reject with a reason, or complete
    /// with what the work produced.
    fn decision(&mut self, task: &Value, id: &str, plan: Plan) -> (String, Value) {
        let base = format!("/api/v1/tasks/{id}");
        if task["kind"] == "approval" {
            return match plan.reject {
                Some(reason) => (format!("{base}/reject"), json!({ "reason": reason })),
                None => (format!("{base}/approve"), json!({})),
            };
        }
        self.serials += 1;
        let data = match task["stage"].as_str() {
            Some("install-cpe") => json!({ "cpe_serial": format!("CPE-{}", self.serials) }),
            Some("swap") => json!({ "new_serial": format!("SN-{}", self.serials) }),
            _ => Value::Null,
        };
        (format!("{base}/complete"), json!({ "data": data }))
    }

    /// When a task is decided and whether it is rejected. Most approvals are decided at the
    /// next look at the queue; some wait hours, a few days (past their SLA); the share of
    /// late ones shrinks month by month, as a desk that learns would. Field work takes hours
    /// to days, now and then longer.
    fn draw_plan(&mut self, kind: &str, stage: &str, now: DateTime<Utc>) -> Plan {
        let r = &mut self.people;
        let late = 18u32.saturating_sub(2 * self.index).max(4);
        let hours = if kind == "approval" {
            match r.random_range(0..100) {
                n if n < late => r.random_range(26..=54),
                n if n < late + 20 => r.random_range(2..=6),
                _ => 0,
            }
        } else {
            let (least, most) = match stage {
                "swap" => (4, 30),
                "patch-ports" => (18, 60),
                _ => (20, 80),
            };
            match r.random_bool(0.1) {
                true => r.random_range(most..=most + 48),
                false => r.random_range(least..=most),
            }
        };
        let share = match stage {
            "commercial-approval" => 0.2,
            "capacity-approval" => 0.1,
            _ => 0.05,
        };
        let reject = (kind == "approval" && r.random_bool(share))
            .then(|| pick(r, &REJECTIONS).copied())
            .flatten();
        Plan {
            at: now + Duration::hours(hours),
            reject,
        }
    }

    /// Requesters ask for the cancellations that are due (refused once delivered).
    async fn cancel_due(&mut self) -> Result<()> {
        if self.hurry {
            self.cancels.clear();
        }
        let now = self.now();
        let (due, later): (Vec<Cancel>, Vec<Cancel>) = std::mem::take(&mut self.cancels)
            .into_iter()
            .partition(|c| c.at <= now);
        self.cancels = later;
        if due.is_empty() {
            return Ok(());
        }
        for c in due {
            let reason = pick(&mut self.people, &CANCELLATIONS)
                .copied()
                .unwrap_or("");
            let Some(who) = self.requesters.get(c.customer) else {
                continue;
            };
            let path = format!("/api/v1/orders/{}/cancel", c.order);
            try_post(who, &path, json!({ "reason": reason })).await?;
        }
        self.settle().await
    }

    /// The admin retries or skips each incident a few hours after it opened (skips only
    /// tests, verified by hand; anything else is retried).
    async fn fix_incidents(&mut self) -> Result<()> {
        let list = self.desk.admin.get("/api/v1/incidents").await?;
        let now = self.now();
        let mut acted = false;
        for incident in list.as_array().into_iter().flatten() {
            let step = text(incident, "step_id");
            let key = format!("{step}/{}", incident["attempt"]);
            let fix = match self.incidents.get(&key) {
                Some(fix) => *fix,
                None => self.new_incident(&key, &text(incident, "stage"), now),
            };
            if fix.at > now && !self.hurry {
                continue;
            }
            let (action, body) = match fix.skip {
                true => ("skip", json!({ "output": { "verified_by_hand": true } })),
                false => ("retry", json!({})),
            };
            let path = format!("/api/v1/incidents/{step}/{action}");
            try_post(&self.desk.admin, &path, body).await?;
            self.incidents.remove(&key);
            acted = true;
        }
        if acted {
            self.settle().await?;
        }
        Ok(())
    }

    fn new_incident(&mut self, key: &str, stage: &str, now: DateTime<Utc>) -> Fix {
        self.tally.incidents += 1;
        let test = matches!(
            stage,
            "activation-test" | "acceptance-test" | "verify" | "check-capacity"
        );
        let fix = Fix {
            at: now + Duration::minutes(self.people.random_range(60..=360)),
            skip: test && self.people.random_bool(0.4),
        };
        self.incidents.insert(key.to_string(), fix);
        fix
    }

    /// Someone slips, for the report's security KPIs: a requester mistypes their web
    /// password, an old script calls with a token nobody has any more, or a requester opens
    /// the incidents (admins only). Whatever the answer, the history goes on.
    async fn slip(&mut self) -> Result<()> {
        let i = self.people.random_range(0..CUSTOMERS.len());
        let (Some(customer), Some(who)) = (CUSTOMERS.get(i), self.requesters.get(i)) else {
            return Ok(());
        };
        let request = match self.people.random_range(0..3) {
            // The sign-in throttle counts in real time (5 a minute from one address), and
            // the whole history takes seconds: more failures would only be refused.
            0 if self.sign_in_slips < 4 => {
                self.sign_in_slips += 1;
                let form = [
                    ("name", customer.requester),
                    ("password", "not-my-password"),
                ];
                who.http.post(format!("{}/sign-in", who.base)).form(&form)
            }
            0 | 1 => who
                .http
                .get(format!("{}/api/v1/orders", who.base))
                .bearer_auth("a-token-revoked-long-ago"),
            _ => who
                .http
                .get(format!("{}/api/v1/incidents", who.base))
                .bearer_auth(&who.token),
        };
        request.send().await.context("a slip")?;
        Ok(())
    }

    /// A requester places an order of `kind` (an upgrade or disconnect needs a running
    /// product; without one, the customer orders a WAN link instead).
    async fn place(&mut self, customer: usize, kind: Kind) -> Result<()> {
        let (kind, item) = match kind {
            Kind::Wan => (kind, self.wan_item()),
            Kind::Lan => (kind, self.lan_item()),
            Kind::Replacement => (kind, self.replacement_item()),
            Kind::Upgrade | Kind::Disconnect => match self.change_item(customer, kind).await? {
                Some(item) => (kind, item),
                None => (Kind::Wan, self.wan_item()),
            },
        };
        let Some(c) = CUSTOMERS.get(customer) else {
            return Ok(());
        };
        let body = json!({
            "billing_account": format!("{}-EUR", c.id),
            "external_id": format!("PO-{}-{}", c.id, self.orders.random_range(10000..99999)),
            "requested_completion_date": self.requested_date(kind),
            "items": [item],
        });
        let Some(who) = self.requesters.get(customer) else {
            return Ok(());
        };
        // Now and then a requester mistypes a site code first: the desk refuses it at the
        // field (a validation refusal in the report) and the corrected order goes in.
        if kind == Kind::Wan && self.orders.random_bool(0.15) {
            let mut typo = body.clone();
            typo["items"][0]["characteristics"]["a_end_site"] = json!("fra 1");
            try_post(who, "/api/v1/orders", typo).await?;
        }
        if let Some(order) = try_post(who, "/api/v1/orders", body).await? {
            self.tally.placed += 1;
            self.maybe_cancel(&order, customer, kind);
        }
        self.settle().await
    }

    /// When the customer wants it: the catalog's lead times, some of them tight.
    fn requested_date(&mut self, kind: Kind) -> String {
        let days = match kind {
            Kind::Wan => self.orders.random_range(3..=21),
            Kind::Lan => self.orders.random_range(2..=14),
            Kind::Replacement => self.orders.random_range(2..=10),
            Kind::Upgrade | Kind::Disconnect => self.orders.random_range(1..=7),
        };
        (self.now().date_naive() + Duration::days(days)).to_string()
    }

    /// About one WAN link or LAN in twelve is cancelled within the day, while it waits for
    /// approval or the site visit (the other orders are delivered within hours).
    fn maybe_cancel(&mut self, order: &Value, customer: usize, kind: Kind) {
        if !matches!(kind, Kind::Wan | Kind::Lan) || !self.orders.random_bool(0.08) {
            return;
        }
        let hours = self.orders.random_range(1..=20);
        self.cancels.push(Cancel {
            order: text(order, "id"),
            customer,
            at: self.now() + Duration::hours(hours),
        });
    }

    fn wan_item(&mut self) -> Value {
        let r = &mut self.orders;
        let tiers = [
            (10, 10),
            (50, 20),
            (100, 35),
            (500, 20),
            (1000, 12),
            (10000, 3),
        ];
        let bandwidth = weighted(r, &tiers).unwrap_or(100);
        let sla = if r.random_bool(0.2) {
            "premium"
        } else {
            "standard"
        };
        json!({"action": "add", "offering": "wan-link", "characteristics": {
            "bandwidth_mbps": bandwidth, "a_end_site": site(r), "b_end_site": site(r),
            "sla_class": sla}})
    }

    fn lan_item(&mut self) -> Value {
        let r = &mut self.orders;
        let ports = [8, 16, 24, 48, 48, 96, 144, 192, 240];
        let port_count = pick(r, &ports).copied().unwrap_or(48);
        json!({"action": "add", "offering": "lan-setup", "characteristics": {
            "site": site(r), "port_count": port_count, "poe": r.random_bool(0.5)}})
    }

    fn replacement_item(&mut self) -> Value {
        let r = &mut self.orders;
        let device = pick(r, &DEVICES).copied().unwrap_or("juniper-mx204");
        let reason = pick(r, &REPLACEMENT_REASONS)
            .copied()
            .unwrap_or("end-of-life");
        json!({"action": "add", "offering": "network-element-replacement", "characteristics": {
            "device_model": device, "site": site(r), "reason": reason,
            "expedite": r.random_bool(0.2)}})
    }

    /// An upgrade or a disconnect of one of the customer's running products, if it has one
    /// nothing else is ordered for.
    async fn change_item(&mut self, customer: usize, kind: Kind) -> Result<Option<Value>> {
        let Some(who) = self.requesters.get(customer) else {
            return Ok(None);
        };
        let products = who.get("/api/v1/products").await?;
        let upgrade = matches!(kind, Kind::Upgrade);
        let candidates: Vec<&Value> = products
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["status"] == "active" && !self.changing.contains(&text(p, "id")))
            .filter(|p| match upgrade {
                true => p["offering"] == "wan-link" && next_tiers(p).is_some(),
                false => p["offering"] == "wan-link" || p["offering"] == "lan-setup",
            })
            .collect();
        let Some(product) = pick(&mut self.orders, &candidates).copied() else {
            return Ok(None);
        };
        let id = text(product, "id");
        let tiers = next_tiers(product).unwrap_or_default();
        let item = match pick(&mut self.orders, &tiers).copied() {
            Some(to) if upgrade => json!({"action": "modify", "offering": "bandwidth-upgrade",
                "product": id, "characteristics": {"bandwidth_mbps": to}}),
            _ => json!({"action": "delete", "offering": text(product, "offering"), "product": id}),
        };
        self.changing.insert(id);
        Ok(Some(item))
    }

    /// The month's line: its orders as they stand at its end, its incidents and billing.
    async fn print_month(&self, first: NaiveDate) -> Result<()> {
        let month = month_name(first);
        let orders = self.desk.admin.get("/api/v1/orders?limit=500").await?;
        let mut states: BTreeMap<String, u32> = BTreeMap::new();
        for o in orders.as_array().into_iter().flatten() {
            if text(o, "created_at").starts_with(&month) {
                let state = text(o, "state");
                let key = if FINAL.contains(&state.as_str()) {
                    state
                } else {
                    "open".to_string()
                };
                *states.entry(key).or_default() += 1;
            }
        }
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
    async fn close(&mut self, first: NaiveDate) -> Result<()> {
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

/// The tiers a running WAN link can be upgraded to (the next one or two), if any.
fn next_tiers(product: &Value) -> Option<Vec<i64>> {
    const TIERS: [i64; 6] = [10, 50, 100, 500, 1000, 10000];
    let now = product["characteristics"]["bandwidth_mbps"].as_i64()?;
    let higher: Vec<i64> = TIERS.iter().copied().filter(|t| *t > now).take(2).collect();
    (!higher.is_empty()).then_some(higher)
}

/// Creates `c` with its EUR billing account and its requester, over the API as the admin.
async fn add_customer(desk: &Desk, c: &Customer) -> Result<As> {
    let customer = json!({"id": c.id, "name": c.name, "segment": c.segment, "country": "DE"});
    desk.admin
        .post("/api/v1/customer-accounts", customer)
        .await?;
    let billing = json!({"id": format!("{}-EUR", c.id), "customer_account": c.id,
        "name": format!("{} (EUR)", c.name), "currency": "EUR", "cycle_day": c.cycle_day,
        "time_zone": "Europe/Berlin", "payment_terms_days": 30,
        "buyer": {"name": c.name, "street": c.street, "city": c.city, "postcode": c.postcode,
            "country": "DE", "vat_id": c.vat_id, "endpoint_scheme": "9930",
            "endpoint_id": c.vat_id}});
    desk.admin.post("/api/v1/billing-accounts", billing).await?;
    add_user(desk, c.requester, "requester", Some(c.id), None).await
}

async fn add_user(
    desk: &Desk,
    name: &str,
    role: &str,
    account: Option<&str>,
    group: Option<&str>,
) -> Result<As> {
    let body = json!({"name": name, "role": role, "account": account,
        "groups": group.into_iter().collect::<Vec<_>>(), "password": demo::demo_password(name)});
    let created = desk.admin.post("/api/v1/users", body).await?;
    let token = created["token"]
        .as_str()
        .with_context(|| format!("the token of {name}"))?;
    Ok(As {
        token: token.to_string(),
        ..desk.admin.clone()
    })
}

/// Prints the report of the history's last month and where to open it.
pub(crate) async fn print_report(app: &App, history: &History, serving: bool) -> Result<()> {
    let last = month_name(add_months(history.first, history.months - 1)?);
    println!(
        "\n9. The Monthly Operating Report of {last}, the last of {} of history",
        count(history.months, "month")
    );
    let ctx = report::Context::of(app);
    let month = Month::parse(&last)?;
    let report = report::monthly(&ctx, month, false).await?;
    for line in output::text(&report).lines() {
        println!("   {line}");
    }
    println!("\n   On the web desk: /report?month={last} (sign in as fay or ada); any month from {} to {last}", month_name(history.first));
    println!("   Over the API: GET /api/v1/reports/monthly?month={last}");
    if !serving {
        println!(
            "   `l2c demo --months {} --serve` keeps it running at http://127.0.0.1:8080/",
            history.months
        );
    }
    Ok(())
}
