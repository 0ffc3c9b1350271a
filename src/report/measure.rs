//! Measuring one month: every KPI of [`super::kpi::DEFS`] from the tables that hold its
//! source data (docs/report.md gives each formula). Counts are counted in SQL; times and
//! percentiles are worked out here from the month's rows, in exact decimals.

use super::month::Month;
use crate::records::{histogram, BUCKETS, LATENCY_BOUNDS_MS};
use l2c_orders::error::DeskResult;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// A month's values by KPI id; money KPIs are keyed `id:CUR`, one per currency.
pub type Values = BTreeMap<String, Option<Decimal>>;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const TERMINAL: &str = "('completed', 'cancelled', 'rejected', 'failed', 'partial')";

/// Every KPI's value for `month`, measured up to `now_ms` (the current month is not over).
pub async fn month(conn: &mut AnyConnection, month: Month, now_ms: i64) -> DeskResult<Values> {
    let r = Range {
        start: month.start_ms(),
        end: month.end_ms().min(now_ms.max(month.start_ms() + 1)),
        month,
    };
    let mut v = Values::new();
    scalability(conn, &r, &mut v).await?;
    reliability(conn, &r, &mut v).await?;
    integration(conn, &r, &mut v).await?;
    user_centric(conn, &r, &mut v).await?;
    user_friendly(conn, &r, &mut v).await?;
    data_driven(conn, &r, &mut v).await?;
    security(conn, &r, &mut v).await?;
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

/// One integer column of every row a query returns.
async fn column(conn: &mut AnyConnection, sql: &str, r: &Range) -> DeskResult<Vec<i64>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(r.start)
        .bind(r.end)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|row| Ok(row.try_get::<i64, _>(0)?))
        .collect()
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

async fn scalability(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    for (id, width) in [
        ("orders_peak_hour", HOUR_MS),
        ("orders_peak_minute", 60_000),
    ] {
        let sql = format!(
            "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM orders WHERE created_at >= $1 \
             AND created_at < $2 GROUP BY created_at / {width}) t"
        );
        v.insert(id.into(), int(count(conn, &sql, r).await?));
    }
    v.insert("api_p95_peak_hour_ms".into(), peak_hour_p95(conn, r).await?);
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT), \
         CAST(COALESCE(SUM(invoices), 0) AS BIGINT) FROM billing_runs \
         WHERE started_at >= $1 AND started_at < $2 AND finished_at IS NOT NULL AND invoices > 0",
    )
    .bind(r.start)
    .bind(r.end)
    .fetch_one(&mut *conn)
    .await?;
    let (ms, documents): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    let per_1000 =
        (documents > 0).then(|| (Decimal::from(ms) / Decimal::from(documents)).round_dp(2));
    v.insert("billing_seconds_per_1000".into(), per_1000);
    Ok(())
}

/// The p95 of API request time in the hour with the most API requests, read from the
/// hour's summed histograms as the upper bound of the bucket that holds it.
async fn peak_hour_p95(conn: &mut AnyConnection, r: &Range) -> DeskResult<Option<Decimal>> {
    let rows = sqlx::query(
        "SELECT minute, requests, latency FROM request_minutes WHERE minute >= $1 AND minute < $2",
    )
    .bind(r.start)
    .bind(r.end)
    .fetch_all(conn)
    .await?;
    let mut hours: BTreeMap<i64, (i64, [u64; BUCKETS])> = BTreeMap::new();
    for row in &rows {
        let minute: i64 = row.try_get("minute")?;
        let requests: i64 = row.try_get("requests")?;
        let latency: String = row.try_get("latency")?;
        let hour = hours
            .entry(minute.div_euclid(HOUR_MS))
            .or_insert((0, [0; BUCKETS]));
        hour.0 += requests;
        for (sum, n) in hour.1.iter_mut().zip(histogram(&latency)) {
            *sum += n;
        }
    }
    let Some((_, buckets)) = hours
        .values()
        .filter(|(n, _)| *n > 0)
        .max_by_key(|(n, _)| *n)
    else {
        return Ok(None);
    };
    let total: u64 = buckets.iter().sum();
    let rank = (total * 95).div_ceil(100).max(1);
    let mut seen = 0;
    for (i, n) in buckets.iter().enumerate() {
        seen += n;
        if seen >= rank {
            // The last bucket has no bound: report the largest bound, as "at least".
            let bound = LATENCY_BOUNDS_MS.get(i).or(LATENCY_BOUNDS_MS.last());
            return Ok(bound.map(|b| Decimal::from(*b)));
        }
    }
    Ok(None)
}

async fn reliability(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let opened =
        "SELECT COUNT(*) FROM wf_history WHERE event = 'step.incident' AND at >= $1 AND at < $2";
    v.insert(
        "incidents_opened".into(),
        int(count(conn, opened, r).await?),
    );
    let resolved = "SELECT COUNT(*) FROM wf_history WHERE event IN ('incident.retried', \
        'incident.skipped') AND at >= $1 AND at < $2";
    v.insert(
        "incidents_resolved".into(),
        int(count(conn, resolved, r).await?),
    );
    v.insert("mttr_hours".into(), mttr(conn, r).await?);
    let retried = "SELECT COUNT(*) FROM wf_history WHERE event = 'step.started' AND attempt > 1 \
        AND at >= $1 AND at < $2";
    v.insert("steps_retried".into(), int(count(conn, retried, r).await?));
    let up =
        "SELECT COUNT(DISTINCT minute) FROM node_heartbeats WHERE minute >= $1 AND minute < $2";
    let minutes = (r.end - r.start).div_euclid(60_000).max(1);
    v.insert(
        "availability_percent".into(),
        percent(count(conn, up, r).await?, minutes),
    );
    Ok(())
}

/// Mean of (resolved - opened) over the incidents resolved in the month, each resolution
/// paired with the latest incident of its instance and stage before it.
async fn mttr(conn: &mut AnyConnection, r: &Range) -> DeskResult<Option<Decimal>> {
    let rows = sqlx::query(
        "SELECT instance_id, stage, at, event FROM wf_history WHERE event IN ('step.incident', \
         'incident.retried', 'incident.skipped') AND at < $1 ORDER BY at, seq",
    )
    .bind(r.end)
    .fetch_all(conn)
    .await?;
    let mut open: BTreeMap<(String, Option<String>), i64> = BTreeMap::new();
    let (mut total, mut n) = (0i64, 0i64);
    for row in &rows {
        let key = (row.try_get("instance_id")?, row.try_get("stage")?);
        let at: i64 = row.try_get("at")?;
        let event: String = row.try_get("event")?;
        if event == "step.incident" {
            open.insert(key, at);
        } else if let Some(opened) = open.remove(&key) {
            if at >= r.start {
                total += at - opened;
                n += 1;
            }
        }
    }
    Ok((n > 0).then(|| hours(total / n)))
}

async fn integration(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let steps = "FROM wf_steps WHERE kind = 'task' AND state = 'completed' AND finished_at >= $1 \
        AND finished_at < $2";
    let all = count(conn, &format!("SELECT COUNT(*) {steps}"), r).await?;
    let first = count(conn, &format!("SELECT COUNT(*) {steps} AND attempt = 1"), r).await?;
    v.insert("first_attempt_success_percent".into(), percent(first, all));
    let placed = "SELECT COUNT(*) FROM orders WHERE created_at >= $1 AND created_at < $2";
    let placed = count(conn, placed, r).await?;
    let fallout = format!(
        "SELECT COUNT(*) FROM orders o WHERE o.created_at >= $1 AND o.created_at < $2 AND {}",
        troubled("'step.incident'")
    );
    let fallout = count(conn, &fallout, r).await?;
    v.insert("fallout_percent".into(), percent(fallout, placed));
    Ok(())
}

/// An order (alias `o`) some of whose workflow instances had one of `events`.
fn troubled(events: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM wf_instances i JOIN wf_history h ON h.instance_id = i.id \
         WHERE i.business_key = 'order:' || o.id AND (h.event IN ({events}) \
         OR (h.event = 'step.started' AND h.attempt > 1)))"
    )
}

async fn user_centric(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let done = "FROM orders o WHERE o.state = 'completed' AND o.completed_at >= $1 \
        AND o.completed_at < $2";
    let mut cycle = column(
        conn,
        &format!("SELECT o.completed_at - o.created_at {done}"),
        r,
    )
    .await?;
    v.insert(
        "cycle_time_median_hours".into(),
        percentile(&mut cycle, 50).map(hours),
    );
    v.insert(
        "cycle_time_p90_hours".into(),
        percentile(&mut cycle, 90).map(hours),
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT o.completed_at, o.requested_completion_date {done}"
    )))
    .bind(r.start)
    .bind(r.end)
    .fetch_all(&mut *conn)
    .await?;
    let on_time = rows
        .iter()
        .filter(|row| {
            let at: i64 = row.try_get(0).unwrap_or_default();
            let wanted: Option<String> = row.try_get(1).unwrap_or_default();
            let completed = chrono::DateTime::from_timestamp_millis(at)
                .map(|t| t.date_naive().to_string())
                .unwrap_or_default();
            // ISO dates compare as text; an order without a date cannot be late.
            wanted.is_none_or(|w| completed <= w)
        })
        .count();
    let completed = i64::try_from(rows.len()).unwrap_or_default();
    let on_time = i64::try_from(on_time).unwrap_or_default();
    v.insert("on_time_percent".into(), percent(on_time, completed));
    let troubled = format!(
        "SELECT COUNT(*) {done} AND {}",
        troubled("'step.incident', 'instance.compensating'")
    );
    let troubled = count(conn, &troubled, r).await?;
    v.insert(
        "first_time_right_percent".into(),
        percent(completed - troubled, completed),
    );
    Ok(())
}

async fn user_friendly(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let placed = count(
        conn,
        "SELECT COUNT(*) FROM orders WHERE created_at >= $1 AND created_at < $2",
        r,
    )
    .await?;
    let ended = count(
        conn,
        "SELECT COUNT(*) FROM orders WHERE created_at >= $1 AND created_at < $2 \
         AND state IN ('cancelled', 'rejected')",
        r,
    )
    .await?;
    v.insert("cancelled_rejected_percent".into(), percent(ended, placed));
    // A task's wait ends with its first decision; tasks first decided in the month count.
    let decided =
        "FROM wf_tasks t JOIN (SELECT task_id, MIN(at) AS decided FROM wf_task_decisions \
        GROUP BY task_id) d ON d.task_id = t.id WHERE t.kind = 'approval' AND d.decided >= $1 \
        AND d.decided < $2";
    let mut waits = column(
        conn,
        &format!("SELECT d.decided - t.created_at {decided}"),
        r,
    )
    .await?;
    v.insert(
        "approval_wait_median_hours".into(),
        percentile(&mut waits, 50).map(hours),
    );
    v.insert(
        "approval_wait_p90_hours".into(),
        percentile(&mut waits, 90).map(hours),
    );
    let escalated = format!(
        "SELECT COUNT(*) {decided} AND EXISTS (SELECT 1 FROM wf_timers m WHERE m.step_id = t.id \
         AND m.purpose = 'sla' AND m.fired_at IS NOT NULL AND m.fired_at < d.decided)"
    );
    let escalated = count(conn, &escalated, r).await?;
    let all = i64::try_from(waits.len()).unwrap_or_default();
    v.insert(
        "sla_attainment_percent".into(),
        percent(all - escalated, all),
    );
    let versions =
        "SELECT COUNT(*) FROM wf_definitions WHERE registered_at >= $1 AND registered_at < $2";
    v.insert(
        "workflow_versions_new".into(),
        int(count(conn, versions, r).await?),
    );
    Ok(())
}

async fn data_driven(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let rows = sqlx::query(
        "SELECT currency, kind, line_net_total FROM invoices WHERE status = 'issued' \
         AND issue_date >= $1 AND issue_date <= $2",
    )
    .bind(r.month.first_date())
    .bind(r.month.last_date())
    .fetch_all(&mut *conn)
    .await?;
    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in &rows {
        let amount: Decimal = row
            .try_get::<String, _>("line_net_total")?
            .parse()
            .unwrap_or_default();
        let kind: String = row.try_get("kind")?;
        let sign = if kind == "credit_note" {
            -Decimal::ONE
        } else {
            Decimal::ONE
        };
        *revenue.entry(row.try_get("currency")?).or_default() += amount * sign;
    }
    for (currency, amount) in revenue {
        v.insert(format!("revenue_net:{currency}"), Some(amount));
    }
    for (currency, amount) in mrr(conn, r).await? {
        v.insert(format!("mrr:{currency}"), Some(amount));
    }
    let open = format!(
        "SELECT COUNT(*) FROM orders o WHERE o.created_at < $1 AND NOT EXISTS (SELECT 1 FROM \
         order_events e WHERE e.order_id = o.id AND e.to_state IN {TERMINAL} AND e.at < $2)"
    );
    let aged = Range {
        start: r.end - 30 * DAY_MS,
        end: r.end,
        month: r.month,
    };
    v.insert(
        "backlog_orders_over_30_days".into(),
        int(count(conn, &open, &aged).await?),
    );
    Ok(())
}

/// Recurring charges running on the month's last day, as monthly amounts per currency.
async fn mrr(conn: &mut AnyConnection, r: &Range) -> DeskResult<BTreeMap<String, Decimal>> {
    let last = r.month.last_date();
    let rows = sqlx::query(
        "SELECT s.currency, c.period, c.amount FROM subscription_charges c JOIN subscriptions s \
         ON s.id = c.subscription_id WHERE c.kind = 'recurring' AND c.effective_from <= $1 \
         AND (c.effective_to IS NULL OR c.effective_to > $1)",
    )
    .bind(last)
    .fetch_all(conn)
    .await?;
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in &rows {
        let amount: Decimal = row
            .try_get::<String, _>("amount")?
            .parse()
            .unwrap_or_default();
        let months = match row.try_get::<Option<String>, _>("period")?.as_deref() {
            Some("quarterly") => 3,
            Some("yearly") => 12,
            _ => 1,
        };
        *out.entry(row.try_get("currency")?).or_default() += amount / Decimal::from(months);
    }
    Ok(out.into_iter().map(|(c, a)| (c, a.round_dp(2))).collect())
}

async fn security(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let failed = "SELECT COUNT(*) FROM sign_in_failures WHERE at >= $1 AND at < $2";
    v.insert("failed_sign_ins".into(), int(count(conn, failed, r).await?));
    for (id, column) in [
        ("unauthorized_answers", "unauthorized"),
        ("forbidden_answers", "forbidden"),
    ] {
        let sql = format!(
            "SELECT CAST(SUM({column}) AS BIGINT) FROM request_minutes WHERE minute >= $1 AND minute < $2"
        );
        v.insert(id.into(), int(count(conn, &sql, r).await?));
    }
    Ok(())
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
}
