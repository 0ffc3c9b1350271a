//! What people do when they look at their queues: approvers and field engineers decide their
//! tasks (each task's decision is drawn when it is first seen), requesters ask for the
//! cancellations that are due, and the admin retries or skips incidents. Their choices come
//! from the history's `people` generator.

use super::parts::Cancel;
use super::parts::LEADS;
use super::parts::{pick, text, try_post, Fix, Plan};
use super::sim::Sim;
use crate::demo_desk::As;
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use rand::RngExt;
use serde_json::{json, Value};

/// The reasons approvers give when they reject.
const REJECTIONS: [&str; 4] = [
    "Over this quarter's budget; please re-quote in Q3",
    "Site not reachable from a point of presence within 80 km",
    "Duplicate of an order already in progress",
    "Needs the customer's signed framework agreement first",
];
/// The reasons requesters give when they cancel.
const CANCELLATIONS: [&str; 3] = [
    "Site move postponed",
    "Ordered twice by mistake",
    "Project cancelled by the customer",
];

impl Sim<'_> {
    /// People look at their queues, requesters cancel, the admin fixes incidents.
    pub(super) async fn tick(&mut self, workday: bool) -> Result<()> {
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
}
