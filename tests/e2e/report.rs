//! The Monthly Operating Report on small hand-built months: rows written straight into the
//! tables each KPI reads (orders, engine history and tasks, invoices, operating records), so
//! every expected figure is worked out by hand here; a closed month stays frozen when late
//! data arrives until it is recomputed; JSON, CSV and text agree; the API's access and
//! problems.

use crate::support;

use chrono::{TimeZone, Utc};
use l2c::report::{self, month::Month, output, Context, Report};
use rust_decimal::Decimal;
use serde_json::json;
use std::collections::BTreeMap;
use std::str::FromStr;
use support::client::Api;
use support::{world, Backend, World};

scenarios!(
    kpis_follow_their_formulas_on_a_hand_built_month,
    a_closed_month_stays_frozen_until_recomputed,
    the_report_over_http,
);

const H: i64 = 3_600_000;

/// 2027-01-10 00:00 UTC plus `hours`.
pub(crate) fn jan(hours: i64) -> i64 {
    Utc.with_ymd_and_hms(2027, 1, 10, 0, 0, 0)
        .single()
        .expect("a date")
        .timestamp_millis()
        + hours * H
}

async fn exec(w: &World, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&w.app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// An order placed at `created` (ms) in `state`, completed at `completed`.
async fn order(
    w: &World,
    id: &str,
    state: &str,
    created: i64,
    completed: Option<i64>,
    wanted: Option<&str>,
) {
    let completed = completed.map_or("NULL".to_string(), |c| c.to_string());
    let wanted = wanted.map_or("NULL".to_string(), |d| format!("'{d}'"));
    exec(
        w,
        &format!(
            "INSERT INTO orders (id, requester, customer_account_id, billing_account_id, \
             requested_completion_date, state, currency, one_time_total, monthly_total, \
             created_at, updated_at, completed_at) VALUES ('{id}', 'rita', 'ACME', 'ACME-EUR', \
             {wanted}, '{state}', 'EUR', '0', '0', {created}, {created}, {completed})"
        ),
    )
    .await;
}

/// A workflow instance of order `order` with history `events` (event, stage, at, attempt).
async fn instance(w: &World, id: &str, order: &str, events: &[(&str, &str, i64, i64)]) {
    exec(
        w,
        &format!(
            "INSERT INTO wf_instances (id, workflow, version, business_key, status, input, output, \
             open_steps, created_at, updated_at) VALUES ('{id}', 'wan-link', 'v', 'order:{order}', \
             'running', '{{}}', '{{}}', 0, 0, 0)"
        ),
    )
    .await;
    for (event, stage, at, attempt) in events {
        exec(
            w,
            &format!(
                "INSERT INTO wf_history (instance_id, at, event, stage, attempt) VALUES \
                 ('{id}', {at}, '{event}', '{stage}', {attempt})"
            ),
        )
        .await;
    }
}

/// An approval task created at `created` and decided at `decided`, escalated first if
/// `escalated_at` is given.
async fn task(w: &World, id: &str, created: i64, decided: i64, escalated_at: Option<i64>) {
    exec(
        w,
        &format!(
            "INSERT INTO wf_tasks (id, instance_id, stage, kind, group_name, state, required, \
             approvals, created_at, updated_at) VALUES ('{id}', 'I0', 'feasibility', 'approval', \
             'network-engineering', 'approved', 1, 1, {created}, {decided})"
        ),
    )
    .await;
    exec(
        w,
        &format!(
            "INSERT INTO wf_task_decisions (task_id, actor, outcome, at) VALUES ('{id}', 'nina', \
             'approve', {decided})"
        ),
    )
    .await;
    if let Some(at) = escalated_at {
        exec(
            w,
            &format!(
                "INSERT INTO wf_timers (id, instance_id, step_id, purpose, escalation, state, \
                 due_at, fired_at) VALUES ('T{id}', 'I0', '{id}', 'sla', 0, 'fired', {at}, {at})"
            ),
        )
        .await;
    }
}

async fn invoice(w: &World, id: &str, kind: &str, net: &str, issued: &str) {
    exec(
        w,
        &format!(
            "INSERT INTO invoices (id, billing_account_id, period_start, period_end, origin, kind, \
             status, number, issue_date, currency, line_net_total, tax_total, payable, rounding, \
             seller, created_at) VALUES ('{id}', 'ACME-EUR', '{issued}', '2027-02-01', 'run:{id}', \
             '{kind}', 'issued', '{id}', '{issued}', 'EUR', '{net}', '0', '{net}', \
             'half_away_from_zero', '{{}}', 0)"
        ),
    )
    .await;
}

pub(crate) async fn january(w: &World) {
    // Three orders in the first hour, one in the next; three completed after 10, 20 and 30
    // hours (one of them after its requested date), one cancelled.
    order(w, "O1", "completed", jan(0), Some(jan(10)), None).await;
    order(
        w,
        "O2",
        "completed",
        jan(0) + 60_000,
        Some(jan(20)),
        Some("2027-01-09"),
    )
    .await;
    order(
        w,
        "O3",
        "completed",
        jan(0) + 120_000,
        Some(jan(30)),
        Some("2027-01-31"),
    )
    .await;
    order(w, "O4", "cancelled", jan(1) + 1, None, None).await;
    // O1 had an incident resolved after two hours: it is fallout and not first time right.
    let history = [
        ("step.incident", "configure", jan(2), 3),
        ("incident.retried", "configure", jan(4), 3),
    ];
    instance(w, "I1", "O1", &history).await;
    instance(w, "I2", "O2", &[("step.started", "configure", jan(5), 1)]).await;
    // Two approvals waited 4 and 8 hours; the second was escalated before its decision.
    task(w, "K1", jan(0), jan(4), None).await;
    task(w, "K2", jan(0), jan(8), Some(jan(6))).await;
    invoice(w, "INV-1", "invoice", "100.00", "2027-01-15").await;
    invoice(w, "CN-1", "credit_note", "30.00", "2027-01-20").await;
    for at in [jan(1), jan(2)] {
        exec(
            w,
            &format!(
                "INSERT INTO sign_in_failures (at, name, address) VALUES ({at}, 'x', '127.0.0.1')"
            ),
        )
        .await;
    }
}

fn context<'a>(w: &'a World, targets: &'static BTreeMap<String, Decimal>) -> Context<'a> {
    Context {
        db: &w.app.db,
        now_ms: w.app.now_ms(),
        targets,
    }
}

fn value(report: &Report, id: &str) -> Option<Decimal> {
    report
        .kpis
        .iter()
        .find(|k| k.id == id)
        .unwrap_or_else(|| panic!("no KPI {id}"))
        .value
}

fn dec(s: &str) -> Option<Decimal> {
    Some(Decimal::from_str(s).expect("decimal"))
}

pub(crate) fn set_clock(w: &World, at: i64) {
    let clock = w.app.sandbox.as_ref().expect("a sandbox clock");
    clock.set(Utc.timestamp_millis_opt(at).single().expect("time"));
}

static NO_TARGETS: std::sync::LazyLock<BTreeMap<String, Decimal>> =
    std::sync::LazyLock::new(BTreeMap::new);

async fn kpis_follow_their_formulas_on_a_hand_built_month(backend: Backend) {
    let w = world(backend).await;
    january(&w).await;
    set_clock(&w, jan(24 * 30));
    let month = Month::parse("2027-01").expect("month");
    let r = report::monthly(&context(&w, &NO_TARGETS), month, false)
        .await
        .expect("report");
    let expected = [
        ("orders_peak_hour", "3"),
        ("orders_peak_minute", "1"),
        ("incidents_opened", "1"),
        ("incidents_resolved", "1"),
        ("mttr_hours", "2"),
        ("steps_retried", "0"),
        ("fallout_percent", "25"),
        // 10 h, 20 h less the minute O2 was placed after O1, 30 h less two minutes.
        ("cycle_time_median_hours", "19.98"),
        ("cycle_time_p90_hours", "29.97"),
        ("on_time_percent", "66.67"),
        ("first_time_right_percent", "66.67"),
        ("cancelled_rejected_percent", "25"),
        ("approval_wait_median_hours", "4"),
        ("approval_wait_p90_hours", "8"),
        ("sla_attainment_percent", "50"),
        ("revenue_net:EUR", "70.00"),
        ("failed_sign_ins", "2"),
    ];
    for (id, want) in expected {
        assert_eq!(
            value(&r, id).map(|v| v.normalize()),
            dec(want).map(|v| v.normalize()),
            "{id}"
        );
    }
    assert_eq!(
        value(&r, "api_p95_peak_hour_ms"),
        None,
        "no API requests recorded"
    );
    let mttr = r.kpis.iter().find(|k| k.id == "mttr_hours").expect("mttr");
    assert_eq!(mttr.target, dec("4"));
    assert_eq!(mttr.status, report::kpi::Status::Met);
    assert_eq!(mttr.trend.len(), 12);
    assert_eq!(mttr.trend[11], ("2027-01".to_string(), dec("2.00")));
    assert_eq!(mttr.previous, None, "no incidents resolved in December");
    assert!(
        mttr.insight.contains("meets the target of 4"),
        "{}",
        mttr.insight
    );

    // The three forms say the same.
    let csv = output::csv(&r).expect("csv");
    let row = csv
        .lines()
        .find(|l| l.contains(",mttr_hours,"))
        .expect("an mttr row");
    assert!(row.ends_with(",2,-,-,4,met"), "{row}");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["month"], "2027-01");
    assert!(output::text(&r).contains("Mean time to resolve an incident"));
}

async fn a_closed_month_stays_frozen_until_recomputed(backend: Backend) {
    let w = world(backend).await;
    january(&w).await;
    set_clock(&w, jan(24 * 30));
    let month = Month::parse("2027-01").expect("month");
    let ctx = context(&w, &NO_TARGETS);
    let first = report::monthly(&ctx, month, false).await.expect("report");
    assert!(first.frozen);
    // An order back-dated into January arrives after the report was made.
    order(&w, "O5", "cancelled", jan(0) + 1, None, None).await;
    let again = report::monthly(&ctx, month, false).await.expect("report");
    assert_eq!(again, first, "a frozen month is read back as it was");
    let fresh = report::monthly(&ctx, month, true)
        .await
        .expect("recomputed");
    assert_eq!(value(&fresh, "orders_peak_hour"), dec("4"));
    assert_eq!(value(&fresh, "cancelled_rejected_percent"), dec("40"));
    // February is live: its report is not frozen, and January is its previous month.
    let feb = report::monthly(&ctx, month.next(), false)
        .await
        .expect("live");
    assert!(!feb.frozen);
    let peak = feb
        .kpis
        .iter()
        .find(|k| k.id == "orders_peak_hour")
        .expect("peak");
    assert_eq!((peak.value, peak.previous), (dec("0"), dec("4")));
    assert!(
        peak.insight.starts_with("Down 100% against 2027-01"),
        "{}",
        peak.insight
    );
}

async fn the_report_over_http(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    january(&api.world).await;
    set_clock(&api.world, jan(24 * 30));
    let r = api
        .get("fay", "/api/v1/reports/monthly?month=2027-01")
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mttr = r.body["kpis"]
        .as_array()
        .expect("kpis")
        .iter()
        .find(|k| k["id"] == "mttr_hours")
        .expect("mttr")
        .clone();
    assert_eq!(mttr["value"], json!("2"));
    let csv = api
        .get("ada", "/api/v1/reports/monthly?month=2027-01&format=csv")
        .await;
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    assert!(csv.text.starts_with("month,csf,kpi,"), "{}", csv.text);
    assert_eq!(api.get("rita", "/api/v1/reports/monthly").await.status, 403);
    let bad = api
        .get("fay", "/api/v1/reports/monthly?month=2027-13")
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["path"], "month");
    api.stop().await;
}

/// The report page for finance, with a sparkline per KPI, its CSV download, and a 403 for a
/// requester.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_page_shows_every_csf_with_trends() {
    let site = crate::web::Site::new().await;
    january(&site.world).await;
    set_clock(&site.world, jan(24 * 30));
    let fay = site.sign_in("fay").await;
    let page = site.get(&fay, "/report?month=2027-01").await;
    assert_eq!(page.status, axum::http::StatusCode::OK, "{}", page.body);
    for csf in ["Scalability", "Reliability", "Security", "Not measured"] {
        assert!(page.body.contains(csf), "{csf} in {}", page.body);
    }
    assert!(page.body.contains("<svg class=\"spark\""), "{}", page.body);
    assert!(page.body.contains("meets the target of 4"), "{}", page.body);
    let csv = site.get(&fay, "/report/csv?month=2027-01").await;
    assert!(csv.body.starts_with("month,csf,kpi,"), "{}", csv.body);
    let rita = site.sign_in("rita").await;
    let refused = site.get(&rita, "/report").await;
    assert_eq!(refused.status, axum::http::StatusCode::FORBIDDEN);
}
