//! The KPIs: which critical success factor (CSF) each measures, its unit, which way is better
//! and its default target, and how a value compares with its target. docs/report.md gives
//! every formula and source table.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The critical success factors of the source document, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Csf {
    /// Scalability.
    Scalability,
    /// Reliability.
    Reliability,
    /// Integration.
    Integration,
    /// User-centric design: the requester's experience.
    UserCentric,
    /// User-friendly interface: effort.
    UserFriendly,
    /// Flexibility.
    Flexibility,
    /// Data-driven insights.
    DataDriven,
    /// Security.
    Security,
}

impl Csf {
    /// Every CSF, in the report's order.
    pub const ALL: [Csf; 8] = [
        Csf::Scalability,
        Csf::Reliability,
        Csf::Integration,
        Csf::UserCentric,
        Csf::UserFriendly,
        Csf::Flexibility,
        Csf::DataDriven,
        Csf::Security,
    ];

    /// Its name.
    pub fn title(self) -> &'static str {
        match self {
            Csf::Scalability => "Scalability",
            Csf::Reliability => "Reliability",
            Csf::Integration => "Integration",
            Csf::UserCentric => "User-centric design",
            Csf::UserFriendly => "User-friendly interface",
            Csf::Flexibility => "Flexibility",
            Csf::DataDriven => "Data-driven insights",
            Csf::Security => "Security",
        }
    }
}

/// Which way a KPI is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// More is better (a share of successes).
    Higher,
    /// Less is better (a time, a count of failures).
    Lower,
    /// Neither: a volume to watch, with no target.
    Neither,
}

/// What a KPI is broken down by, for the insight's worst part or top cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// The catalog offering ordered (an order with items of two offerings counts for both).
    Product,
    /// The approver group whose queue held the task.
    Group,
    /// The workflow stage where it happened (the cause).
    Stage,
}

impl By {
    /// Its name in a sentence.
    pub fn noun(self) -> &'static str {
        match self {
            By::Product => "product",
            By::Group => "group",
            By::Stage => "stage",
        }
    }
}

/// How a KPI's values are keyed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keys {
    /// One value, keyed by the KPI's id.
    One,
    /// One value per currency seen, keyed `id:CUR`; the unit is the currency.
    PerCurrency,
    /// One value per age bucket of [`AGE_BUCKETS`], keyed `id:BUCKET`; the default target
    /// applies to the oldest bucket.
    PerAge,
}

/// Age buckets of the backlog, in whole days: a name and the first age past it.
pub const AGE_BUCKETS: [(&str, i64); 5] = [
    ("0-1", 2),
    ("2-5", 6),
    ("6-30", 31),
    ("31-90", 91),
    (">90", i64::MAX),
];

/// One KPI's definition.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    /// Its id, e.g. `mttr_hours` (the key of `[report.targets]`).
    pub id: &'static str,
    /// The CSF it measures.
    pub csf: Csf,
    /// Its name in the report.
    pub title: &'static str,
    /// Its unit, e.g. `%`, `h`, `orders`.
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    /// The target when the settings give none (`None`: no target).
    pub target: Option<Decimal>,
    /// What it is broken down by, if anything.
    pub by: Option<By>,
    /// How its values are keyed.
    pub keys: Keys,
}

const fn def(
    id: &'static str,
    csf: Csf,
    title: &'static str,
    unit: &'static str,
    better: Better,
    target: Option<i64>,
) -> Def {
    let target = match target {
        Some(t) => Some(Decimal::from_parts(t as u32, 0, 0, false, 0)),
        None => None,
    };
    Def {
        id,
        csf,
        title,
        unit,
        better,
        target,
        by: None,
        keys: Keys::One,
    }
}

impl Def {
    const fn by(mut self, by: By) -> Def {
        self.by = Some(by);
        self
    }

    const fn keyed(mut self, keys: Keys) -> Def {
        self.keys = keys;
        self
    }

    /// The target of `key`: from `targets` (the settings) by full key, else by KPI id, else
    /// the default. A per-age KPI's target by id, and its default, are for its oldest
    /// bucket only.
    pub fn target_of(&self, key: &str, targets: &BTreeMap<String, Decimal>) -> Option<Decimal> {
        if let Some(t) = targets.get(key) {
            return Some(*t);
        }
        if self.keys == Keys::PerAge && !key.ends_with(AGE_BUCKETS[4].0) {
            return None;
        }
        targets.get(self.id).copied().or(self.target)
    }
}

/// Whether `key` names a KPI of the report (`id`) or one of its keys (`id:BUCKET` of a
/// per-age KPI, `id:CUR` with a three-letter currency of a money KPI).
pub fn is_target_key(key: &str) -> bool {
    let (id, suffix) = match key.split_once(':') {
        Some((id, suffix)) => (id, Some(suffix)),
        None => (key, None),
    };
    let Some(def) = DEFS.iter().find(|d| d.id == id) else {
        return false;
    };
    match (def.keys, suffix) {
        (_, None) => true,
        (Keys::PerAge, Some(bucket)) => AGE_BUCKETS.iter().any(|(b, _)| *b == bucket),
        (Keys::PerCurrency, Some(cur)) => {
            cur.len() == 3 && cur.chars().all(|c| c.is_ascii_uppercase())
        }
        (Keys::One, Some(_)) => false,
    }
}

/// Every KPI l2c measures, in the report's order.
pub const DEFS: &[Def] = &[
    def(
        "orders_peak_hour",
        Csf::Scalability,
        "Orders placed in the peak hour",
        "orders",
        Better::Neither,
        None,
    ),
    def(
        "orders_peak_minute",
        Csf::Scalability,
        "Orders placed in the peak minute",
        "orders",
        Better::Neither,
        None,
    ),
    def(
        "api_p95_peak_hour_ms",
        Csf::Scalability,
        "p95 API request time in the peak hour",
        "ms",
        Better::Lower,
        Some(200),
    ),
    def(
        "billing_seconds_per_1000",
        Csf::Scalability,
        "Billing-run seconds per 1,000 documents",
        "s",
        Better::Lower,
        Some(60),
    ),
    def(
        "incidents_opened",
        Csf::Reliability,
        "Incidents opened",
        "incidents",
        Better::Lower,
        Some(10),
    )
    .by(By::Stage),
    def(
        "incidents_resolved",
        Csf::Reliability,
        "Incidents resolved",
        "incidents",
        Better::Neither,
        None,
    ),
    def(
        "mttr_hours",
        Csf::Reliability,
        "Mean time to resolve an incident",
        "h",
        Better::Lower,
        Some(4),
    ),
    def(
        "steps_retried",
        Csf::Reliability,
        "Automated steps retried",
        "steps",
        Better::Lower,
        Some(50),
    )
    .by(By::Stage),
    def(
        "availability_percent",
        Csf::Reliability,
        "Service availability (node heartbeats)",
        "%",
        Better::Higher,
        Some(99),
    ),
    def(
        "first_attempt_success_percent",
        Csf::Integration,
        "Commissioning first-attempt success",
        "%",
        Better::Higher,
        Some(95),
    )
    .by(By::Stage),
    def(
        "fallout_percent",
        Csf::Integration,
        "Fallout rate (orders with an incident or a retry)",
        "%",
        Better::Lower,
        Some(5),
    )
    .by(By::Product),
    def(
        "order_to_bill_percent",
        Csf::Integration,
        "Order-to-bill accuracy (activated items billed in the next run)",
        "%",
        Better::Higher,
        Some(99),
    )
    .by(By::Product),
    def(
        "cycle_time_median_hours",
        Csf::UserCentric,
        "Order-to-activation cycle time, median",
        "h",
        Better::Lower,
        Some(120),
    )
    .by(By::Product),
    def(
        "cycle_time_p90_hours",
        Csf::UserCentric,
        "Order-to-activation cycle time, p90",
        "h",
        Better::Lower,
        Some(240),
    )
    .by(By::Product),
    def(
        "on_time_percent",
        Csf::UserCentric,
        "On-time delivery (by the requested date)",
        "%",
        Better::Higher,
        Some(90),
    )
    .by(By::Product),
    def(
        "first_time_right_percent",
        Csf::UserCentric,
        "First time right (no incident, retry or compensation)",
        "%",
        Better::Higher,
        Some(90),
    )
    .by(By::Product),
    def(
        "refusals_per_order",
        Csf::UserFriendly,
        "Validation refusals per placed order",
        "refusals",
        Better::Lower,
        Some(1),
    ),
    def(
        "cancelled_rejected_percent",
        Csf::UserFriendly,
        "Orders cancelled or rejected",
        "%",
        Better::Lower,
        Some(10),
    )
    .by(By::Product),
    def(
        "approval_wait_median_hours",
        Csf::UserFriendly,
        "Approval wait, median (task created to decided)",
        "h",
        Better::Lower,
        Some(8),
    )
    .by(By::Group),
    def(
        "approval_wait_p90_hours",
        Csf::UserFriendly,
        "Approval wait, p90",
        "h",
        Better::Lower,
        Some(24),
    )
    .by(By::Group),
    def(
        "sla_attainment_percent",
        Csf::UserFriendly,
        "Tasks decided before their first escalation",
        "%",
        Better::Higher,
        Some(90),
    )
    .by(By::Group),
    def(
        "offerings_new",
        Csf::Flexibility,
        "Catalog offering versions that first appeared",
        "offerings",
        Better::Neither,
        None,
    ),
    def(
        "workflow_versions_new",
        Csf::Flexibility,
        "Workflow versions that first appeared",
        "versions",
        Better::Neither,
        None,
    ),
    def(
        "days_to_first_order",
        Csf::Flexibility,
        "Days from a workflow version's first appearance to its first completed order",
        "days",
        Better::Lower,
        Some(30),
    ),
    def(
        "revenue_net",
        Csf::DataDriven,
        "Revenue billed net of credit notes",
        "",
        Better::Neither,
        None,
    )
    .keyed(Keys::PerCurrency),
    def(
        "mrr",
        Csf::DataDriven,
        "Monthly recurring revenue at month end",
        "",
        Better::Neither,
        None,
    )
    .keyed(Keys::PerCurrency),
    def(
        "backlog_orders",
        Csf::DataDriven,
        "Open orders at month end by age",
        "orders",
        Better::Lower,
        Some(0),
    )
    .keyed(Keys::PerAge),
    def(
        "backlog_tasks",
        Csf::DataDriven,
        "Open tasks at month end by age",
        "tasks",
        Better::Lower,
        Some(0),
    )
    .keyed(Keys::PerAge),
    def(
        "failed_sign_ins",
        Csf::Security,
        "Failed sign-ins",
        "sign-ins",
        Better::Lower,
        Some(100),
    ),
    def(
        "tokens_revoked",
        Csf::Security,
        "API tokens revoked",
        "tokens",
        Better::Neither,
        None,
    ),
    def(
        "users_deactivated",
        Csf::Security,
        "Users deactivated",
        "users",
        Better::Neither,
        None,
    ),
    def(
        "unauthorized_answers",
        Csf::Security,
        "401 answers",
        "answers",
        Better::Lower,
        None,
    ),
    def(
        "forbidden_answers",
        Csf::Security,
        "403 answers",
        "answers",
        Better::Lower,
        None,
    ),
];

/// What the source document asks for that l2c's data cannot measure, said rather than guessed.
pub const NOT_MEASURED: &[(Csf, &str)] = &[
    (
        Csf::UserCentric,
        "User satisfaction: l2c runs no surveys, so there is no figure.",
    ),
    (
        Csf::Security,
        "Web sessions ended by a deactivation: ended sessions are deleted, not counted \
         (users deactivated and their tokens are).",
    ),
];

/// `value` with its unit, as a sentence says it: `1 order`, `3 orders`, `99.5 %`, `4 h`.
pub fn quantity(value: Decimal, unit: &str) -> String {
    let value = value.normalize();
    // Word units are plural; symbols (%, h, ms, s, currencies) are not.
    let word = unit.len() > 3 && unit.ends_with('s');
    let unit = if word && value == Decimal::ONE {
        &unit[..unit.len() - 1]
    } else {
        unit
    };
    format!("{value} {unit}").trim_end().to_string()
}

/// How a value stands against its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At or beyond the target.
    Met,
    /// Missed by at most 10 % of the target.
    Near,
    /// Missed by more.
    Missed,
    /// No target, or no value.
    None,
}

/// `value` against `target` for a KPI where `better` is better.
pub fn status(value: Option<Decimal>, target: Option<Decimal>, better: Better) -> Status {
    let (Some(value), Some(target)) = (value, target) else {
        return Status::None;
    };
    let slack = target.abs() / Decimal::TEN;
    match better {
        Better::Neither => Status::None,
        Better::Higher if value >= target => Status::Met,
        Better::Higher if value >= target - slack => Status::Near,
        Better::Lower if value <= target => Status::Met,
        Better::Lower if value <= target + slack => Status::Near,
        _ => Status::Missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn near_is_within_ten_percent_of_the_target() {
        let s = |v, t, b| status(Some(v), Some(t), b);
        assert_eq!(s(dec!(99), dec!(99), Better::Higher), Status::Met);
        assert_eq!(s(dec!(90), dec!(99), Better::Higher), Status::Near);
        assert_eq!(s(dec!(89), dec!(99), Better::Higher), Status::Missed);
        assert_eq!(s(dec!(4.4), dec!(4), Better::Lower), Status::Near);
        assert_eq!(s(dec!(4.5), dec!(4), Better::Lower), Status::Missed);
        assert_eq!(status(None, Some(dec!(4)), Better::Lower), Status::None);
        assert_eq!(s(dec!(1), dec!(1), Better::Neither), Status::None);
    }

    #[test]
    fn target_keys_name_a_kpi_and_one_of_its_keys() {
        for good in [
            "mttr_hours",
            "backlog_orders:31-90",
            "backlog_tasks:>90",
            "revenue_net:EUR",
        ] {
            assert!(is_target_key(good), "{good}");
        }
        for bad in [
            "nope",
            "mttr_hours:x",
            "backlog_orders:7-30",
            "revenue_net:eur",
            "",
        ] {
            assert!(!is_target_key(bad), "{bad}");
        }
        let backlog = DEFS
            .iter()
            .find(|d| d.id == "backlog_orders")
            .expect("backlog");
        let by_id = BTreeMap::from([("backlog_orders".to_string(), dec!(3))]);
        assert_eq!(
            backlog.target_of("backlog_orders:>90", &by_id),
            Some(dec!(3))
        );
        assert_eq!(backlog.target_of("backlog_orders:0-1", &by_id), None);
        let by_key = BTreeMap::from([("backlog_orders:0-1".to_string(), dec!(9))]);
        assert_eq!(
            backlog.target_of("backlog_orders:0-1", &by_key),
            Some(dec!(9))
        );
    }

    #[test]
    fn one_of_a_word_unit_is_singular() {
        assert_eq!(quantity(dec!(1), "orders"), "1 order");
        assert_eq!(quantity(dec!(1.0), "sign-ins"), "1 sign-in");
        assert_eq!(quantity(dec!(2), "orders"), "2 orders");
        assert_eq!(quantity(dec!(1), "s"), "1 s");
        assert_eq!(quantity(dec!(1.50), "EUR"), "1.5 EUR");
        assert_eq!(quantity(dec!(3), ""), "3");
    }

    #[test]
    fn ids_are_unique_and_every_csf_has_a_kpi() {
        let mut ids: Vec<&str> = DEFS.iter().map(|d| d.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), DEFS.len());
        for csf in Csf::ALL {
            assert!(DEFS.iter().any(|d| d.csf == csf), "{csf:?}");
        }
    }
}
