//! The seeded plan of a month: when finance bills and people look at their queues, which
//! customer orders what and when (items, requested dates, the cancellations to come), when
//! someone slips, and the month's bad mornings. Every draw comes from the history's `orders`
//! generator, in a fixed order, so every run makes the same plan.

use super::parts::CUSTOMERS;
use super::parts::{
    at, is_workday, pick, text, try_post, weighted, Cancel, Kind, Moment, WORK_HOURS,
};
use super::sim::Sim;
use anyhow::Result;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::{json, Value};

/// The cities of the customers' sites.
const CITIES: [&str; 10] = [
    "FRA", "MUC", "BER", "HAM", "CGN", "STR", "DUS", "LEJ", "HAJ", "NUE",
];
/// The network elements a customer replaces.
const DEVICES: [&str; 6] = [
    "cisco-c8300-1n1s",
    "cisco-asr1001-x",
    "juniper-mx204",
    "juniper-srx1500",
    "nokia-7750-sr-1",
    "arista-7280r3",
];
/// Why an element is replaced.
const REPLACEMENT_REASONS: [&str; 4] = [
    "end-of-life",
    "hardware-fault",
    "capacity",
    "security-advisory",
];

impl Sim<'_> {
    /// The month's moments in time order: billing runs, the queues' ticks, the orders; and
    /// its bad mornings.
    pub(super) fn agenda(&mut self, first: NaiveDate) -> Vec<(DateTime<Utc>, Moment)> {
        let days: Vec<NaiveDate> = first
            .iter_days()
            .take_while(|d| d.month() == first.month())
            .collect();
        let workdays: Vec<NaiveDate> = days.iter().copied().filter(|d| is_workday(*d)).collect();
        // The routine comes first: at the same minute, the bill and the look at the queues
        // go before an order or a slip (the sort below keeps that order).
        let mut agenda = routine(&days);
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

    /// A requester places an order of `kind` (an upgrade or disconnect needs a running
    /// product; without one, the customer orders a WAN link instead).
    pub(super) async fn place(&mut self, customer: usize, kind: Kind) -> Result<()> {
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
}

/// The month's billing runs and looks at the queues (no draws: the same every month).
fn routine(days: &[NaiveDate]) -> Vec<(DateTime<Utc>, Moment)> {
    let mut routine = Vec::new();
    for day in days {
        if matches!(day.day(), 1 | 15) {
            routine.push((at(*day, 6, 0), Moment::Bill));
        }
        let workday = is_workday(*day);
        let hours: &[u32] = if workday { &WORK_HOURS } else { &[12] };
        routine.extend(
            hours
                .iter()
                .map(|h| (at(*day, *h, 0), Moment::Tick { workday })),
        );
    }
    routine
}

/// A site code such as `FRA-007`: a city of the network and a number.
fn site(rng: &mut StdRng) -> String {
    let city = pick(rng, &CITIES).copied().unwrap_or("FRA");
    format!("{city}-{:03}", rng.random_range(1..=40))
}

/// The tiers a running WAN link can be upgraded to (the next one or two), if any.
fn next_tiers(product: &Value) -> Option<Vec<i64>> {
    const TIERS: [i64; 6] = [10, 50, 100, 500, 1000, 10000];
    let now = product["characteristics"]["bandwidth_mbps"].as_i64()?;
    let higher: Vec<i64> = TIERS.iter().copied().filter(|t| *t > now).take(2).collect();
    (!higher.is_empty()).then_some(higher)
}
