//! The desk's work and the service's change: approval waits and SLA attainment per group, the
//! backlog of open orders and tasks at month end by age, and new catalog offerings and
//! workflow versions with the days a version took to complete its first order.

use super::{ageing, count, hours_at, int, rows, share, Range, Split, Values, DAY_MS};
use l2c_orders::error::DeskResult;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const TERMINAL: &str = "('completed', 'cancelled', 'rejected', 'failed', 'partial')";

/// Approval tasks decided in the month, per the group whose queue first held them (an SLA
/// escalation may move a task to another group: the miss is the first group's): the wait
/// from creation to the first decision, and whether an SLA escalation fired before it. A
/// task the SLA approved itself (no decision by anyone) waited until then and missed.
pub(super) async fn approvals(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
    // An escalation that decides (auto-reject) is written at the same instant as its decision.
    let decided = "SELECT t.group_name, t.instance_id, t.stage, d.decided - t.created_at, \
        CAST(CASE WHEN EXISTS (SELECT 1 FROM wf_timers m WHERE m.step_id = t.id \
        AND m.purpose = 'sla' AND m.fired_at IS NOT NULL AND m.fired_at <= d.decided) \
        THEN 1 ELSE 0 END AS BIGINT) FROM wf_tasks t JOIN \
        (SELECT task_id, MIN(at) AS decided FROM wf_task_decisions GROUP BY task_id) d \
        ON d.task_id = t.id WHERE t.kind = 'approval' AND d.decided >= $1 AND d.decided < $2";
    let by_sla = "SELECT t.group_name, t.instance_id, t.stage, t.updated_at - t.created_at, \
        CAST(1 AS BIGINT) FROM wf_tasks t WHERE t.kind = 'approval' AND t.state = 'completed' \
        AND t.updated_at >= $1 AND t.updated_at < $2 AND NOT EXISTS (SELECT 1 FROM \
        wf_task_decisions d WHERE d.task_id = t.id) AND EXISTS (SELECT 1 FROM wf_history h \
        WHERE h.instance_id = t.instance_id AND h.stage = t.stage \
        AND h.event = 'task.auto-approved')";
    let first_groups = first_groups(conn, r).await?;
    let (mut waits, mut in_time) = (Split::default(), Split::default());
    for sql in [decided, by_sla] {
        for row in rows(conn, sql, r).await? {
            let key: (String, String) = (row.try_get(1)?, row.try_get(2)?);
            let group = match first_groups.get(&key) {
                Some(first) => first.clone(),
                None => row.try_get(0)?,
            };
            waits.push([&group], row.try_get::<i64, _>(3)?);
            in_time.push([&group], row.try_get::<i64, _>(4)? == 0);
        }
    }
    waits.put(v, "approval_wait_median_hours", |s| hours_at(s, 50));
    waits.put(v, "approval_wait_p90_hours", |s| hours_at(s, 90));
    in_time.put(v, "sla_attainment_percent", share);
    Ok(())
}

/// The group each reassigned task (instance, stage) was first in: the `from` of its first
/// `task.reassigned` event before the month's end.
async fn first_groups(
    conn: &mut AnyConnection,
    r: &Range,
) -> DeskResult<HashMap<(String, String), String>> {
    let rows = sqlx::query(
        "SELECT instance_id, stage, data FROM wf_history WHERE event = 'task.reassigned' \
         AND at < $1 ORDER BY at DESC, seq DESC",
    )
    .bind(r.end)
    .fetch_all(conn)
    .await?;
    let mut first = HashMap::new();
    for row in &rows {
        let data: Option<String> = row.try_get(2)?;
        let from = data
            .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
            .and_then(|d| d["from"].as_str().map(str::to_string));
        if let (Some(from), Some(stage)) = (from, row.try_get::<Option<String>, _>(1)?) {
            // Newest first: the oldest reassignment is inserted last and wins.
            first.insert((row.try_get(0)?, stage), from);
        }
    }
    Ok(first)
}

/// Open orders and tasks at the month's end (or now, for the current month), by age.
pub(super) async fn backlog(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let orders = format!(
        "SELECT o.created_at FROM orders o WHERE o.created_at < $1 AND NOT EXISTS (SELECT 1 \
         FROM order_events e WHERE e.order_id = o.id AND e.to_state IN {TERMINAL} AND e.at < $1)"
    );
    // A task closed after the end was open at it; a closed task is not touched again.
    let tasks = "SELECT created_at FROM wf_tasks WHERE created_at < $1 \
        AND (state = 'open' OR updated_at >= $1)";
    for (id, sql) in [
        ("backlog_orders", orders.as_str()),
        ("backlog_tasks", tasks),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(r.end)
            .fetch_all(&mut *conn)
            .await?;
        let ages: Vec<i64> = rows
            .iter()
            .map(|row| Ok(r.end - row.try_get::<i64, _>(0)?))
            .collect::<DeskResult<_>>()?;
        ageing(v, id, &ages);
    }
    Ok(())
}

/// Offerings and workflow versions first seen in the month, and the mean days from a
/// version's first appearance to its first completed order, over the versions whose first
/// completed order fell in the month.
pub(super) async fn flexibility(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
    let offerings = "SELECT COUNT(*) FROM catalog_seen WHERE first_seen >= $1 AND first_seen < $2";
    v.insert(
        "offerings_new".into(),
        int(count(conn, offerings, r).await?),
    );
    let versions =
        "SELECT COUNT(*) FROM wf_definitions WHERE registered_at >= $1 AND registered_at < $2";
    v.insert(
        "workflow_versions_new".into(),
        int(count(conn, versions, r).await?),
    );
    let definitions = sqlx::query("SELECT name, hash, registered_at FROM wf_definitions")
        .fetch_all(&mut *conn)
        .await?;
    let mut days = Vec::new();
    for d in &definitions {
        let (name, hash, seen): (String, String, i64) =
            (d.try_get(0)?, d.try_get(1)?, d.try_get(2)?);
        let first = sqlx::query(
            "SELECT finished_at FROM wf_instances WHERE workflow = $1 AND version = $2 \
             AND status = 'completed' AND finished_at IS NOT NULL \
             AND business_key LIKE 'order:%' ORDER BY finished_at LIMIT 1",
        )
        .bind(name)
        .bind(hash)
        .fetch_optional(&mut *conn)
        .await?;
        let first: Option<i64> = first.map(|row| row.try_get(0)).transpose()?;
        if let Some(at) = first.filter(|at| (r.start..r.end).contains(at)) {
            days.push(Decimal::from(at - seen) / Decimal::from(DAY_MS));
        }
    }
    let mean = (!days.is_empty())
        .then(|| (days.iter().sum::<Decimal>() / Decimal::from(days.len())).round_dp(2));
    v.insert("days_to_first_order".into(), mean);
    Ok(())
}
