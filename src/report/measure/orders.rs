//! Integration and the requester's experience, from orders, their items and the engine's
//! history: commissioning first-attempt success, fallout, order-to-bill accuracy, cycle
//! times, on-time delivery, first time right, refusals, cancellations and rejections. Order
//! KPIs are broken down by the offerings an order holds.

use super::{count, hours_at, percent, rows, share, Range, Split, Values};
use l2c_orders::error::DeskResult;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeSet, HashMap, HashSet};

/// An order (alias `o`) some of whose workflow instances had one of `events` or a retry, as
/// 1 or 0.
fn troubled(events: &str) -> String {
    format!(
        "CAST(CASE WHEN EXISTS (SELECT 1 FROM wf_instances i JOIN wf_history h \
         ON h.instance_id = i.id WHERE i.business_key = 'order:' || o.id AND \
         (h.event IN ({events}) OR (h.event = 'step.started' AND h.attempt > 1))) \
         THEN 1 ELSE 0 END AS BIGINT)"
    )
}

/// The offerings of each order matching `condition` (on alias `o`).
async fn offerings(
    conn: &mut AnyConnection,
    condition: &str,
    r: &Range,
) -> DeskResult<HashMap<String, BTreeSet<String>>> {
    let sql = format!(
        "SELECT o.id, i.offering FROM orders o JOIN order_items i ON i.order_id = o.id \
         WHERE {condition}"
    );
    let mut out: HashMap<String, BTreeSet<String>> = HashMap::new();
    for row in rows(conn, &sql, r).await? {
        out.entry(row.try_get(0)?)
            .or_default()
            .insert(row.try_get(1)?);
    }
    Ok(out)
}

pub(super) async fn integration(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
    let sql = "SELECT stage, COUNT(*), CAST(SUM(CASE WHEN attempt = 1 THEN 1 ELSE 0 END) AS \
        BIGINT) FROM wf_steps WHERE kind = 'task' AND state = 'completed' AND finished_at >= $1 \
        AND finished_at < $2 GROUP BY stage";
    let (mut all, mut first) = (0, 0);
    for row in rows(conn, sql, r).await? {
        let (stage, n, ok): (String, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        v.insert(
            format!("first_attempt_success_percent@{stage}"),
            percent(ok, n),
        );
        (all, first) = (all + n, first + ok);
    }
    v.insert("first_attempt_success_percent".into(), percent(first, all));
    order_to_bill(conn, r, v).await
}

/// Products activated in the month that a billing run has followed: the share whose
/// subscription has a line in the first completed run after the activation that billed the
/// product's account (a run on the 1st does not bill an account that bills on the 15th).
async fn order_to_bill(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let activated = rows(
        conn,
        "SELECT p.offering, p.activated_at, p.billing_account_id, s.id FROM products p \
         LEFT JOIN subscriptions s ON s.product_id = p.id \
         WHERE p.activated_at >= $1 AND p.activated_at < $2",
        r,
    )
    .await?;
    let runs = sqlx::query(
        "SELECT id, started_at FROM billing_runs WHERE status = 'completed' AND started_at >= $1 \
         ORDER BY started_at",
    )
    .bind(r.start)
    .fetch_all(&mut *conn)
    .await?;
    let runs: Vec<(String, i64)> = runs
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect::<DeskResult<_>>()?;
    let mut billed: HashMap<String, Billed> = HashMap::new();
    let mut split: Split<bool> = Split::default();
    for row in &activated {
        let (offering, at, account): (String, i64, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let subscription: Option<String> = row.try_get(3)?;
        for (run, _) in runs.iter().filter(|(_, started)| *started > at) {
            if !billed.contains_key(run) {
                billed.insert(run.clone(), billed_in(conn, run).await?);
            }
            let Some(b) = billed.get(run).filter(|b| b.accounts.contains(&account)) else {
                continue;
            };
            let hit = subscription.is_some_and(|s| b.subscriptions.contains(&s));
            split.push([&offering], hit);
            break;
        }
        // No run has billed the account since: not billed yet, nor missed.
    }
    split.put(v, "order_to_bill_percent", share);
    Ok(())
}

/// The accounts a run made documents for, and the subscriptions it has lines for.
#[derive(Default)]
struct Billed {
    accounts: HashSet<String>,
    subscriptions: HashSet<String>,
}

async fn billed_in(conn: &mut AnyConnection, run: &str) -> DeskResult<Billed> {
    let mut b = Billed::default();
    // A voided draft billed nothing.
    let accounts = sqlx::query(
        "SELECT DISTINCT billing_account_id FROM invoices WHERE run_id = $1 AND status <> 'void'",
    )
    .bind(run.to_string())
    .fetch_all(&mut *conn)
    .await?;
    for row in &accounts {
        b.accounts.insert(row.try_get(0)?);
    }
    let lines = sqlx::query(
        "SELECT DISTINCT l.subscription_id FROM invoice_lines l JOIN invoices v \
         ON v.id = l.invoice_id WHERE v.run_id = $1 AND v.status <> 'void'",
    )
    .bind(run.to_string())
    .fetch_all(conn)
    .await?;
    for row in &lines {
        b.subscriptions.insert(row.try_get(0)?);
    }
    Ok(b)
}

/// Orders completed in the month: cycle times, on-time delivery and first time right.
pub(super) async fn requester(
    conn: &mut AnyConnection,
    r: &Range,
    v: &mut Values,
) -> DeskResult<()> {
    let done = "o.state = 'completed' AND o.completed_at >= $1 AND o.completed_at < $2";
    let products = offerings(conn, done, r).await?;
    let sql = format!(
        "SELECT o.id, o.completed_at - o.created_at, o.completed_at, \
         o.requested_completion_date, {} FROM orders o WHERE {done}",
        troubled("'step.incident', 'instance.compensating'")
    );
    let (mut cycle, mut on_time, mut right) =
        (Split::default(), Split::default(), Split::default());
    let none = BTreeSet::new();
    for row in rows(conn, &sql, r).await? {
        let id: String = row.try_get(0)?;
        let parts = products.get(&id).unwrap_or(&none);
        cycle.push(parts, row.try_get::<i64, _>(1)?);
        let completed = chrono::DateTime::from_timestamp_millis(row.try_get(2)?)
            .map(|t| t.date_naive().to_string())
            .unwrap_or_default();
        let wanted: Option<String> = row.try_get(3)?;
        // ISO dates compare as text; an order without a date cannot be late.
        on_time.push(parts, wanted.is_none_or(|w| completed <= w));
        right.push(parts, row.try_get::<i64, _>(4)? == 0);
    }
    cycle.put(v, "cycle_time_median_hours", |s| hours_at(s, 50));
    cycle.put(v, "cycle_time_p90_hours", |s| hours_at(s, 90));
    on_time.put(v, "on_time_percent", share);
    right.put(v, "first_time_right_percent", share);
    Ok(())
}

/// Orders placed in the month: fallout, cancelled or rejected, and refusals per order.
pub(super) async fn effort(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let placed = "o.created_at >= $1 AND o.created_at < $2";
    let products = offerings(conn, placed, r).await?;
    // An item rejected at an approval stage ends its order `failed`: it counts as rejected.
    let sql = format!(
        "SELECT o.id, o.state, {}, CAST(CASE WHEN o.state = 'failed' AND EXISTS (SELECT 1 \
         FROM wf_instances i JOIN wf_tasks t ON t.instance_id = i.id JOIN wf_task_decisions d \
         ON d.task_id = t.id WHERE i.business_key = 'order:' || o.id AND d.outcome = 'reject') \
         THEN 1 ELSE 0 END AS BIGINT) FROM orders o WHERE {placed}",
        troubled("'step.incident'")
    );
    let (mut fallout, mut ended) = (Split::default(), Split::default());
    let none = BTreeSet::new();
    for row in rows(conn, &sql, r).await? {
        let id: String = row.try_get(0)?;
        let parts = products.get(&id).unwrap_or(&none);
        let state: String = row.try_get(1)?;
        fallout.push(parts, row.try_get::<i64, _>(2)? == 1);
        let rejected_item = row.try_get::<i64, _>(3)? == 1;
        ended.push(
            parts,
            state == "cancelled" || state == "rejected" || rejected_item,
        );
    }
    fallout.put(v, "fallout_percent", share);
    ended.put(v, "cancelled_rejected_percent", share);
    let refused = "SELECT CAST(SUM(order_refusals) AS BIGINT) FROM request_minutes \
        WHERE minute >= $1 AND minute < $2";
    let refused = count(conn, refused, r).await?;
    let orders = i64::try_from(fallout.all.len()).unwrap_or_default();
    let per_order =
        (orders > 0).then(|| (Decimal::from(refused) / Decimal::from(orders)).round_dp(2));
    v.insert("refusals_per_order".into(), per_order);
    Ok(())
}
