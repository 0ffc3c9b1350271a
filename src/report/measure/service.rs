//! Scalability, reliability and security: orders' arrival peaks, request latency, billing
//! speed, incidents, retries and heartbeats, and the answers that refused access.

use super::{count, counts_by, int, percent, Range, Values, HOUR_MS};
use crate::records::{histogram, BUCKETS, LATENCY_BOUNDS_MS};
use l2c_orders::error::DeskResult;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

pub(super) async fn scalability(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
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

pub(super) async fn reliability(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
    let by_stage = "SELECT stage, COUNT(*) FROM wf_history WHERE event = 'step.incident' \
        AND at >= $1 AND at < $2 GROUP BY stage";
    counts_by(conn, by_stage, r, "incidents_opened", v).await?;
    let resolved = "SELECT COUNT(*) FROM wf_history WHERE event IN ('incident.retried', \
        'incident.skipped') AND at >= $1 AND at < $2";
    v.insert(
        "incidents_resolved".into(),
        int(count(conn, resolved, r).await?),
    );
    v.insert("mttr_hours".into(), mttr(conn, r).await?);
    let by_stage = "SELECT stage, COUNT(*) FROM wf_history WHERE event = 'step.started' \
        AND attempt > 1 AND at >= $1 AND at < $2 GROUP BY stage";
    counts_by(conn, by_stage, r, "steps_retried", v).await?;
    let up =
        "SELECT COUNT(DISTINCT minute) FROM node_heartbeats WHERE minute >= $1 AND minute < $2";
    // The minute now is in counts as up already: count it in the whole.
    let minutes = (r.end - r.start + 59_999).div_euclid(60_000).max(1);
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
    Ok((n > 0).then(|| super::hours(total / n)))
}

pub(super) async fn security(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
    let failed = "SELECT COUNT(*) FROM sign_in_failures WHERE at >= $1 AND at < $2";
    v.insert("failed_sign_ins".into(), int(count(conn, failed, r).await?));
    let revoked = "SELECT COUNT(*) FROM api_tokens WHERE revoked_at >= $1 AND revoked_at < $2";
    v.insert("tokens_revoked".into(), int(count(conn, revoked, r).await?));
    let gone = "SELECT COUNT(*) FROM users WHERE deactivated_at >= $1 AND deactivated_at < $2";
    v.insert("users_deactivated".into(), int(count(conn, gone, r).await?));
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
