//! Measuring one month: every KPI of [`super::kpi::DEFS`] from the tables that hold its
//! source data (docs/report.md gives each formula). Counts are counted in SQL; times and
//! percentiles are worked out here from the month's rows, in exact decimals. A KPI with a
//! breakdown ([`super::kpi::By`]) also gets one value per part, keyed `id@part`.
//!
//! - [`service`]: scalability, reliability and security, from the engine and the records;
//! - [`orders`]: integration and the requester's experience, from orders and products;
//! - [`desk`]: approvals, the backlog and flexibility, from tasks and definitions;
//! - [`money`]: revenue and recurring revenue, from invoices and charges.

mod desk;
mod money;
mod orders;
mod service;

use super::kpi::AGE_BUCKETS;
use super::month::Month;
use l2c_orders::error::DeskResult;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// A month's values by KPI id; money KPIs are keyed `id:CUR`, one per currency, and parts of
/// a breakdown `id@part`.
pub type Values = BTreeMap<String, Option<Decimal>>;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// Every KPI's value for `month`, measured up to `now_ms` (the current month is not over).
pub async fn month(conn: &mut AnyConnection, month: Month, now_ms: i64) -> DeskResult<Values> {
    let r = Range {
        start: month.start_ms(),
        end: month.end_ms().min(now_ms.max(month.start_ms() + 1)),
        month,
    };
    let mut v = Values::new();
    service::scalability(conn, &r, &mut v).await?;
    service::reliability(conn, &r, &mut v).await?;
    orders::integration(conn, &r, &mut v).await?;
    orders::requester(conn, &r, &mut v).await?;
    orders::effort(conn, &r, &mut v).await?;
    desk::approvals(conn, &r, &mut v).await?;
    desk::flexibility(conn, &r, &mut v).await?;
    desk::backlog(conn, &r, &mut v).await?;
    money::revenue(conn, &r, &mut v).await?;
    service::security(conn, &r, &mut v).await?;
    Ok(v)
}

/// The month's bounds: `[start, end)` in ms, `end` cut at now for the current month.
struct Range {
    start: i64,
    end: i64,
    month: Month,
}

/// One integer a query returns (NULL as 0).
async fn count(conn: &mut AnyConnection, sql: &str, r: &Range) -> DeskResult<i64> {
    let row = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(r.start)
        .bind(r.end)
        .fetch_one(conn)
        .await?;
    Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or_default())
}

/// The rows a query bound to the month returns.
async fn rows(
    conn: &mut AnyConnection,
    sql: &str,
    r: &Range,
) -> DeskResult<Vec<sqlx::any::AnyRow>> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(r.start)
        .bind(r.end)
        .fetch_all(conn)
        .await?)
}

/// `(part, count)` rows of a `GROUP BY` query: each part as `id@part`, their sum as `id`.
async fn counts_by(
    conn: &mut AnyConnection,
    sql: &str,
    r: &Range,
    id: &str,
    v: &mut Values,
) -> DeskResult<()> {
    let mut total = 0;
    for row in rows(conn, sql, r).await? {
        let part: Option<String> = row.try_get(0)?;
        let n: i64 = row.try_get(1)?;
        v.insert(format!("{id}@{}", part.unwrap_or_default()), int(n));
        total += n;
    }
    v.insert(id.to_string(), int(total));
    Ok(())
}

fn int(n: i64) -> Option<Decimal> {
    Some(Decimal::from(n))
}

/// `part / whole` in percent with two decimals; no whole, no value.
fn percent(part: i64, whole: i64) -> Option<Decimal> {
    (whole > 0)
        .then(|| (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole)).round_dp(2))
}

/// Milliseconds as hours with two decimals.
fn hours(ms: i64) -> Decimal {
    (Decimal::from(ms) / Decimal::from(HOUR_MS)).round_dp(2)
}

/// The `p`-th percentile (nearest rank) of `values`, which it sorts.
pub fn percentile(values: &mut [i64], p: u32) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (values.len() * p as usize).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// The share of `true` samples, in percent.
fn share(samples: &[bool]) -> Option<Decimal> {
    let hits = samples.iter().filter(|s| **s).count();
    percent(
        i64::try_from(hits).unwrap_or_default(),
        i64::try_from(samples.len()).unwrap_or_default(),
    )
}

/// The `p`-th percentile of samples in ms, in hours.
fn hours_at(samples: &[i64], p: u32) -> Option<Decimal> {
    percentile(&mut samples.to_vec(), p).map(hours)
}

/// A KPI's samples for the whole month and per part (product, group or stage).
#[derive(Debug)]
struct Split<T> {
    all: Vec<T>,
    parts: BTreeMap<String, Vec<T>>,
}

impl<T> Default for Split<T> {
    fn default() -> Self {
        Split {
            all: Vec::new(),
            parts: BTreeMap::new(),
        }
    }
}

impl<T: Clone> Split<T> {
    /// A sample that belongs to each of `parts`.
    fn push<'a>(&mut self, parts: impl IntoIterator<Item = &'a String>, sample: T) {
        for part in parts {
            self.parts
                .entry(part.clone())
                .or_default()
                .push(sample.clone());
        }
        self.all.push(sample);
    }

    /// `id`'s value over all samples and `id@part` per part, by `f`.
    fn put(&self, v: &mut Values, id: &str, f: impl Fn(&[T]) -> Option<Decimal>) {
        v.insert(id.to_string(), f(&self.all));
        for (part, samples) in &self.parts {
            if let Some(value) = f(samples) {
                v.insert(format!("{id}@{part}"), Some(value));
            }
        }
    }
}

/// Ages (ms at `end`) counted into [`AGE_BUCKETS`] as `id:BUCKET`.
fn ageing(v: &mut Values, id: &str, ages_ms: &[i64]) {
    for (i, (bucket, _)) in AGE_BUCKETS.iter().enumerate() {
        let from = if i == 0 { 0 } else { AGE_BUCKETS[i - 1].1 };
        let to = AGE_BUCKETS[i].1;
        let n = ages_ms
            .iter()
            .filter(|age| (from..to).contains(&age.div_euclid(DAY_MS)))
            .count();
        v.insert(
            format!("{id}:{bucket}"),
            int(i64::try_from(n).unwrap_or_default()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(percentile(&mut v, 50), Some(3));
        assert_eq!(percentile(&mut v, 90), Some(5));
        assert_eq!(percentile(&mut [7], 90), Some(7));
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percent(1, 3), Some(Decimal::new(3333, 2)));
        assert_eq!(percent(1, 0), None);
    }

    #[test]
    fn ages_fall_in_whole_day_buckets() {
        let mut v = Values::new();
        let ages = [
            0,
            2 * DAY_MS - 1,
            2 * DAY_MS,
            30 * DAY_MS,
            31 * DAY_MS,
            400 * DAY_MS,
        ];
        ageing(&mut v, "b", &ages);
        let got: Vec<i64> = AGE_BUCKETS
            .iter()
            .map(|(b, _)| v[&format!("b:{b}")].map_or(-1, |d| i64::try_from(d).unwrap_or(-1)))
            .collect();
        assert_eq!(got, [2, 1, 1, 1, 1]);
    }

    #[test]
    fn a_split_counts_a_sample_for_each_of_its_parts() {
        let mut s: Split<bool> = Split::default();
        let (a, b) = ("wan".to_string(), "lan".to_string());
        s.push([&a, &b], true);
        s.push([&a], false);
        let mut v = Values::new();
        s.put(&mut v, "k", share);
        assert_eq!(v["k"], Some(Decimal::from(50)));
        assert_eq!(v["k@wan"], Some(Decimal::from(50)));
        assert_eq!(v["k@lan"], Some(Decimal::from(100)));
    }
}
