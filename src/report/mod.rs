//! The Monthly Operating Report (docs/report.md): for a month, every KPI of every critical
//! success factor with its value, the month before, the same month a year before, a 12-month
//! trend, its target, a status and one sentence on what the data says.
//!
//! - [`month`]: report months in UTC; [`kpi`]: the KPIs, targets and statuses;
//! - [`measure`]: one month's values from the tables; [`snapshot`]: frozen months;
//! - [`output`]: the report as text, CSV and JSON.
//!
//! A closed month is frozen the first time its values are needed (for its own report or as a
//! point of a later month's trend) and read back from then on; the current month is always
//! measured live. `recompute` measures the asked month again and replaces what was frozen.

pub mod kpi;
pub mod measure;
pub mod month;
pub mod output;
pub mod snapshot;

use kpi::{quantity, status, Better, By, Csf, Keys, Status, AGE_BUCKETS, DEFS, NOT_MEASURED};
use l2c_engine::db::Db;
use l2c_orders::error::DeskResult;
use measure::Values;
use month::Month;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The report of one month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `YYYY-MM`.
    pub month: String,
    /// When it was computed (epoch ms, the app clock).
    pub computed_at: i64,
    /// Whether the month is over and billed (a completed billing run started after it, or
    /// 35 days since), so the report is frozen.
    pub frozen: bool,
    /// Every KPI, CSF by CSF.
    pub kpis: Vec<Line>,
    /// What the source document asks for that l2c cannot measure, per CSF title.
    pub not_measured: Vec<(String, String)>,
}

/// One KPI in the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The KPI id, with `:CUR` for money KPIs.
    pub id: String,
    /// The CSF's title.
    pub csf: String,
    /// What it measures.
    pub title: String,
    /// Its unit (the currency for money KPIs).
    pub unit: String,
    /// The month's value.
    pub value: Option<Decimal>,
    /// The month before.
    pub previous: Option<Decimal>,
    /// The same month a year before.
    pub year_ago: Option<Decimal>,
    /// The 12 months ending with this one, oldest first.
    pub trend: Vec<(String, Option<Decimal>)>,
    /// The target, from `[report.targets]` or the default.
    pub target: Option<Decimal>,
    /// Met, near (within 10 %) or missed.
    pub status: Status,
    /// One sentence on what the data says.
    pub insight: String,
    /// What the value is broken down by, if anything.
    #[serde(default)]
    pub by: Option<By>,
    /// The month's value per product, group or stage, worst first.
    #[serde(default)]
    pub breakdown: Vec<Part>,
}

impl Line {
    /// Its breakdown in words, worst first, at most `limit` parts and how many more:
    /// `By product: wan-link 71.6 h, lan-setup 65.67 h and 2 more`.
    pub fn breakdown_words(&self, limit: usize) -> Option<String> {
        let by = self.by.filter(|_| !self.breakdown.is_empty())?;
        let shown: Vec<String> = self
            .breakdown
            .iter()
            .take(limit)
            .map(|p| match p.value {
                Some(v) => format!("{} {}", p.name, quantity(v, &self.unit)),
                None => format!("{} -", p.name),
            })
            .collect();
        let more = match self.breakdown.len().saturating_sub(limit) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        Some(format!("By {}: {}{more}", by.noun(), shown.join(", ")))
    }
}

/// One part of a KPI's breakdown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The product (offering id), group or stage.
    pub name: String,
    /// Its value in the month.
    pub value: Option<Decimal>,
}

/// Where a report reads and what it compares with.
pub struct Context<'a> {
    /// The database.
    pub db: &'a Db,
    /// Now (epoch ms, the app clock).
    pub now_ms: i64,
    /// Targets by KPI id, over the defaults.
    pub targets: &'a BTreeMap<String, Decimal>,
}

impl<'a> Context<'a> {
    /// The app's database, its clock's now and the settings' targets.
    pub fn of(app: &'a crate::app::App) -> Context<'a> {
        Context {
            db: &app.db,
            now_ms: app.clock.now_ms(),
            targets: &app.settings.report.targets,
        }
    }

    /// `text` as a month (a problem naming `month` if it is not one), or the current month.
    pub fn month(&self, text: Option<&str>) -> DeskResult<Month> {
        text.map_or(Ok(Month::of(self.now_ms)), Month::parse)
    }
}

/// Days after a month's end by which every account's billing cycle has come round.
const SETTLE_DAYS: i64 = 35;

/// Which months are over and billed: order-to-bill looks at the run after a month, so a
/// month is frozen only once a completed billing run started after its end, or once
/// [`SETTLE_DAYS`] have passed (a desk that bills nothing).
struct Settled {
    now_ms: i64,
    /// When the latest completed billing run started.
    last_run: Option<i64>,
}

impl Settled {
    /// Read once per report: the latest completed run's start.
    async fn of(ctx: &Context<'_>) -> DeskResult<Settled> {
        let row =
            sqlx::query("SELECT MAX(started_at) FROM billing_runs WHERE status = 'completed'")
                .fetch_one(&ctx.db.pool)
                .await?;
        Ok(Settled {
            now_ms: ctx.now_ms,
            last_run: sqlx::Row::try_get::<Option<i64>, _>(&row, 0)?,
        })
    }

    /// Whether `m` is settled.
    fn month(&self, m: Month) -> bool {
        let end = m.end_ms();
        end <= self.now_ms
            && (self.now_ms - end >= SETTLE_DAYS * 86_400_000
                || self.last_run.is_some_and(|started| started >= end))
    }
}

/// The report of `month`: frozen if the month is settled and was reported before (unless
/// `recompute`), else measured.
pub async fn monthly(ctx: &Context<'_>, month: Month, recompute: bool) -> DeskResult<Report> {
    let settled = Settled::of(ctx).await?;
    let closed = settled.month(month);
    if closed && !recompute {
        if let Some((_, Some(report))) = snapshot::read(ctx.db, month).await? {
            return Ok(report);
        }
    }
    let mut values: BTreeMap<Month, Values> = BTreeMap::new();
    for m in month.trailing(12).into_iter().chain([month.year_ago()]) {
        let fresh = recompute && m == month;
        values.insert(m, month_values(ctx, m, fresh, settled.month(m)).await?);
    }
    let report = assemble(ctx, month, closed, &values);
    if closed {
        snapshot::write(ctx.db, month, &values[&month], Some(&report), ctx.now_ms).await?;
    }
    Ok(report)
}

/// The values of `m`: frozen ones if it is `closed` (settled; freezing them now if need be),
/// else live.
async fn month_values(
    ctx: &Context<'_>,
    m: Month,
    fresh: bool,
    closed: bool,
) -> DeskResult<Values> {
    if closed && !fresh {
        if let Some((values, _)) = snapshot::read(ctx.db, m).await? {
            return Ok(values);
        }
    }
    let mut conn = ctx.db.pool.acquire().await?;
    let values = measure::month(&mut conn, m, ctx.now_ms).await?;
    drop(conn);
    if closed && !fresh {
        snapshot::write(ctx.db, m, &values, None, ctx.now_ms).await?;
    }
    Ok(values)
}

fn assemble(
    ctx: &Context<'_>,
    month: Month,
    frozen: bool,
    values: &BTreeMap<Month, Values>,
) -> Report {
    let trend_months = month.trailing(12);
    let get = |m: Month, key: &str| values.get(&m).and_then(|v| v.get(key).copied().flatten());
    let mut kpis = Vec::new();
    for def in DEFS {
        for (key, title, unit) in keys(def, values) {
            let value = get(month, &key);
            let previous = get(month.previous(), &key);
            let target = def.target_of(&key, ctx.targets);
            let status = status(value, target, def.better);
            let breakdown = values
                .get(&month)
                .map(|v| breakdown(v, &key, def.better))
                .unwrap_or_default();
            let trend: Vec<(String, Option<Decimal>)> = trend_months
                .iter()
                .map(|m| (m.to_string(), get(*m, &key)))
                .collect();
            let facts = Facts {
                month,
                value,
                previous,
                earlier: trend.iter().rev().skip(1).any(|(_, v)| v.is_some()),
                target,
                status,
                unit: &unit,
            };
            kpis.push(Line {
                insight: insight(&facts, def, &breakdown),
                id: key.clone(),
                csf: def.csf.title().to_string(),
                title,
                unit,
                value,
                previous,
                year_ago: get(month.year_ago(), &key),
                trend,
                target,
                status,
                by: def.by,
                breakdown,
            });
        }
    }
    Report {
        month: month.to_string(),
        computed_at: ctx.now_ms,
        frozen,
        kpis,
        not_measured: NOT_MEASURED
            .iter()
            .map(|(csf, why)| (Csf::title(*csf).to_string(), (*why).to_string()))
            .collect(),
    }
}

/// The keys a KPI has (its id; `id:CUR` per currency seen; `id:BUCKET` per age bucket), each
/// with its title and unit.
fn keys(def: &kpi::Def, values: &BTreeMap<Month, Values>) -> Vec<(String, String, String)> {
    let prefix = format!("{}:", def.id);
    match def.keys {
        Keys::One => vec![(def.id.into(), def.title.into(), def.unit.into())],
        Keys::PerAge => AGE_BUCKETS
            .iter()
            .map(|(bucket, _)| {
                let title = format!("{}: {bucket} days", def.title);
                (format!("{prefix}{bucket}"), title, def.unit.into())
            })
            .collect(),
        Keys::PerCurrency => {
            let mut currencies: Vec<String> = values
                .values()
                .flat_map(|v| v.keys())
                .filter_map(|k| k.strip_prefix(&prefix))
                .filter(|c| !c.contains('@'))
                .map(str::to_string)
                .collect();
            currencies.sort();
            currencies.dedup();
            currencies
                .into_iter()
                .map(|c| (format!("{prefix}{c}"), def.title.into(), c))
                .collect()
        }
    }
}

/// The parts of `key` in a month's values (keyed `key@part`), worst first.
fn breakdown(values: &Values, key: &str, better: Better) -> Vec<Part> {
    let prefix = format!("{key}@");
    let mut parts: Vec<Part> = values
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix(&prefix).map(|name| Part {
                name: name.to_string(),
                value: *v,
            })
        })
        .collect();
    // Worst first: the highest of a lower-is-better KPI, the lowest of a higher-is-better one.
    parts.sort_by(|a, b| match better {
        Better::Higher => a.value.cmp(&b.value),
        _ => b.value.cmp(&a.value),
    });
    parts
}

/// What one KPI line's sentence is made of.
struct Facts<'a> {
    month: Month,
    value: Option<Decimal>,
    previous: Option<Decimal>,
    /// Whether a month of the trend before M has a value.
    earlier: bool,
    target: Option<Decimal>,
    status: Status,
    unit: &'a str,
}

/// One sentence: the change against the month before, how the target stands, and the worst
/// product or group, or the top cause.
fn insight(f: &Facts<'_>, def: &kpi::Def, breakdown: &[Part]) -> String {
    let Some(value) = f.value else {
        return format!("No data in {}.", f.month);
    };
    let (unit, before) = (f.unit, f.month.previous());
    let now = quantity(value, unit);
    let change = match f.previous {
        Some(p) if p == value => format!("Unchanged against {before} at {now}"),
        Some(p) if p.is_zero() => format!("Up from 0 to {now}"),
        Some(p) => {
            let pct = ((value - p) * Decimal::ONE_HUNDRED / p.abs()).round_dp(0);
            let way = match pct {
                pct if pct.is_zero() => "Almost unchanged",
                pct if pct.is_sign_negative() => "Down",
                _ => "Up",
            };
            let by = if pct.is_zero() {
                String::new()
            } else {
                format!(" {}%", pct.abs())
            };
            format!("{way}{by} against {before} ({} to {now})", p.normalize())
        }
        None if f.earlier => format!("{now}; {before} has no value"),
        None => format!("{now}, the first month with data"),
    };
    let against = match (f.status, f.target) {
        (Status::Met, Some(t)) => format!("; meets the target of {t}"),
        (Status::Near, Some(t)) => format!("; within 10% of the target of {t}"),
        (Status::Missed, Some(t)) => format!("; misses the target of {t}"),
        _ => String::new(),
    };
    format!(
        "{}{against}{}.",
        change.trim_end(),
        worst(def, breakdown, unit)
    )
}

/// "; worst product: X (v unit)" or "; top cause: stage X (n)", when the breakdown tells
/// something: a cause even alone, a worst part only among several.
fn worst(def: &kpi::Def, breakdown: &[Part], unit: &str) -> String {
    let (Some(by), Some(first)) = (def.by, breakdown.first()) else {
        return String::new();
    };
    let Some(value) = first.value else {
        return String::new();
    };
    let noun = by.noun();
    match by {
        By::Stage if def.better == Better::Lower => {
            format!(
                "; top cause: {noun} {} ({})",
                first.name,
                quantity(value, unit)
            )
        }
        // A worst part only means something when the parts differ.
        _ if breakdown.len() < 2
            || def.better == Better::Neither
            || breakdown.last().map(|p| p.value) == Some(first.value) =>
        {
            String::new()
        }
        _ => format!("; worst {noun}: {} ({})", first.name, quantity(value, unit)),
    }
}
