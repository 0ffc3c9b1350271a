//! The history's parts every other module of it shares and that use none of them: the
//! tuning constants, the customers and leads, the kinds of order and moments of a month's
//! agenda, the decisions planned for tasks, and small helpers (dates, counts, seeded picks,
//! POSTs that may be refused). Keeping them here keeps the modules from importing each other
//! in circles.

use crate::demo_desk::As;
use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, Utc, Weekday};
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::Value;

/// The seed of every choice (issue 16 asked for the history).
pub(super) const SEED: u64 = 16;

/// The share of the simulated network's calls that fail on a normal day.
pub(super) const NORMAL_FAILURE_RATE: f64 = 0.03;

/// The share that fails on a bad morning: enough for retries to run out, so incidents open.
pub(super) const OUTAGE_FAILURE_RATE: f64 = 0.9;

/// How far the clock moves at a time on a bad morning, so retries (backed off by seconds to
/// minutes) run inside it.
pub(super) const OUTAGE_STEP: Duration = Duration::minutes(10);

/// The hours (UTC) people look at their queues on a working day.
pub(super) const WORK_HOURS: [u32; 5] = [8, 10, 12, 14, 16];

/// How often the clock moves while the desk works off what is left after the last month.
pub(super) const DRAIN_STEP: Duration = Duration::hours(3);

/// At most this many drain steps (five days); orders still open then are a bug.
pub(super) const DRAIN_STEPS: u32 = 40;

/// Order states nothing happens after.
pub(super) const FINAL: [&str; 5] = ["completed", "rejected", "cancelled", "failed", "partial"];

/// The first of the month `n` months after `first`'s.
pub(super) fn add_months(first: NaiveDate, n: u32) -> Result<NaiveDate> {
    first
        .checked_add_months(Months::new(n))
        .context("a month of the history")
}

/// `day` at `hour:minute` UTC.
pub(super) fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN))
        .and_utc()
}

/// Monday to Friday: the days people work their tasks (at weekends only the on-call admin
/// looks, at incidents).
pub(super) fn is_workday(day: NaiveDate) -> bool {
    !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
}

/// `n thing` or `n things`.
pub(super) fn count(n: impl Into<i64>, thing: &str) -> String {
    match n.into() {
        1 => format!("1 {thing}"),
        n => format!("{n} {thing}s"),
    }
}

/// `2025-07`: how the report and the orders' timestamps name a month.
pub(super) fn month_name(day: NaiveDate) -> String {
    day.format("%Y-%m").to_string()
}

/// One of `items`, drawn from `rng` (none of none).
pub(super) fn pick<'t, T>(rng: &mut StdRng, items: &'t [T]) -> Option<&'t T> {
    (!items.is_empty())
        .then(|| rng.random_range(0..items.len()))
        .and_then(|i| items.get(i))
}

/// Picks one of `choices` by their weights.
pub(super) fn weighted<T: Copy>(rng: &mut StdRng, choices: &[(T, u32)]) -> Option<T> {
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

/// POSTs as `who`; a refusal (409 or 422: decided meanwhile, already delivered, a product
/// that changed) is `None`, for the history to go on without it.
pub(super) async fn try_post(who: &As, path: &str, body: Value) -> Result<Option<Value>> {
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

/// A string field of an answer, empty when it is missing.
pub(super) fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

/// What an order of the agenda is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Wan,
    Lan,
    Replacement,
    Upgrade,
    Disconnect,
}

/// Something that happens at a moment of a month.
pub(super) enum Moment {
    /// Finance runs billing (the 1st and the 15th, 06:00).
    Bill,
    /// People look at their queues (on working days; on-call admins only at weekends).
    Tick { workday: bool },
    /// A customer's requester places an order.
    Place { customer: usize, kind: Kind },
    /// Someone slips: a mistyped password, a stale token, a page they may not open.
    Slip,
}

/// A cancellation a requester will ask for.
pub(super) struct Cancel {
    pub(super) order: String,
    pub(super) customer: usize,
    pub(super) at: DateTime<Utc>,
}

/// When and how a task is decided.
#[derive(Clone, Copy)]
pub(super) struct Plan {
    pub(super) at: DateTime<Utc>,
    pub(super) reject: Option<&'static str>,
}

/// When and how the admin resolves an incident.
#[derive(Clone, Copy)]
pub(super) struct Fix {
    pub(super) at: DateTime<Utc>,
    pub(super) skip: bool,
}

/// A customer of the history, with its requester.
pub(super) struct Customer {
    pub(super) id: &'static str,
    pub(super) name: &'static str,
    pub(super) segment: &'static str,
    pub(super) street: &'static str,
    pub(super) city: &'static str,
    pub(super) postcode: &'static str,
    pub(super) vat_id: &'static str,
    pub(super) cycle_day: u32,
    pub(super) requester: &'static str,
    /// Its share of the orders (relative).
    pub(super) weight: u32,
}

pub(super) const CUSTOMERS: [Customer; 3] = [
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
pub(super) const LEADS: [(&str, &str, &str); 3] = [
    ("lena", "approver", "network-leads"),
    ("finn", "engineer", "field-leads"),
    ("otto", "approver", "operations"),
];
