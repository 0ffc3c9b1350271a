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
    // K5 was rejected by its SLA: the escalation and the decision share their instant.
    task(w, "K5", jan(0), jan(10), Some(jan(10))).await;
    sla_approved(w).await;
    invoice(w, "INV-1", "invoice", "100.00", "2027-01-15").await;
    invoice(w, "CN-1", "credit_note", "30.00", "2027-01-20").await;
    products_and_billing(w).await;
    desk_and_flexibility(w).await;
    // One of Lena's tokens was revoked and Lee (one token) left: two tokens, one user.
    let second = l2c_orders::tokens::NewToken {
        name: "second".into(),
        expires_at: None,
    };
    let (lena, _) = l2c_orders::tokens::add(&w.app.db, "test", "lena", &second, jan(1))
        .await
        .expect("a token");
    l2c_orders::tokens::revoke(&w.app.db, "test", "lena", &lena.id, jan(3))
        .await
        .expect("revoked");
    let lee = l2c_orders::users::NewUser {
        name: "lee".into(),
        role: l2c_orders::users::Role::Finance,
        account: None,
        groups: vec![],
        password: None,
    };
    w.app.add_user("test", &lee).await.expect("lee");
    l2c_orders::users::deactivate(&w.app.db, "test", "lee", jan(4))
        .await
        .expect("deactivated");
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

/// K4 waited in sales-managers, was moved to network-leads by its SLA and then approved by
/// it after 12 hours, with no decision by anyone: a miss of sales-managers.
async fn sla_approved(w: &World) {
    let statements = [
        format!(
            "INSERT INTO wf_tasks (id, instance_id, stage, kind, group_name, state, required, \
             approvals, created_at, updated_at) VALUES ('K4', 'I4', 'commercial', 'approval', \
             'network-leads', 'completed', 1, 1, {}, {})",
            jan(0),
            jan(12)
        ),
        format!(
            "INSERT INTO wf_history (instance_id, at, event, stage, data) VALUES ('I4', {}, \
             'task.reassigned', 'commercial', \
             '{{\"from\": \"sales-managers\", \"to\": \"network-leads\"}}')",
            jan(6)
        ),
        format!(
            "INSERT INTO wf_history (instance_id, at, event, stage, actor) VALUES ('I4', {}, \
             'task.auto-approved', 'commercial', 'sla')",
            jan(12)
        ),
    ];
    for sql in statements {
        exec(w, &sql).await;
    }
}

/// Items of the orders (O1, O2 WAN links; O3, O4 LANs), their terminal events, and the three
/// products activated in January: ACME's February run billed the two WAN links, not the LAN.
async fn products_and_billing(w: &World) {
    for (order, offering, state, at) in [
        ("O1", "wan-link", "completed", jan(10)),
        ("O2", "wan-link", "completed", jan(20)),
        ("O3", "lan-setup", "completed", jan(30)),
        ("O4", "lan-setup", "cancelled", jan(2)),
    ] {
        exec(
            w,
            &format!(
                "INSERT INTO order_items (order_id, item_id, position, action, offering, \
                 version, quantity, characteristics, quote, workflow, product_id, state) VALUES \
                 ('{order}', '1', 0, 'add', '{offering}', 1, 1, '{{}}', '{{}}', '{offering}', \
                 'P{order}', '{state}')"
            ),
        )
        .await;
        exec(
            w,
            &format!(
                "INSERT INTO order_events (id, order_id, at, from_state, to_state) VALUES \
                 ('E{order}', '{order}', {at}, 'inProgress', '{state}')"
            ),
        )
        .await;
    }
    for (order, offering, at) in [
        ("O1", "wan-link", jan(10)),
        ("O2", "wan-link", jan(20)),
        ("O3", "lan-setup", jan(30)),
    ] {
        exec(
            w,
            &format!(
                "INSERT INTO products (id, customer_account_id, billing_account_id, offering, \
                 version, quantity, characteristics, status, order_id, created_at, updated_at, \
                 activated_at) VALUES ('P{order}', 'ACME', 'ACME-EUR', '{offering}', 1, 1, \
                 '{{}}', 'active', '{order}', {at}, {at}, {at})"
            ),
        )
        .await;
        exec(
            w,
            &format!(
                "INSERT INTO subscriptions (id, billing_account_id, product_id, offering, version, \
                 currency, start_date, status, created_at, updated_at) VALUES ('S{order}', \
                 'ACME-EUR', 'P{order}', '{offering}', 1, 'EUR', '2027-01-10', 'active', {at}, \
                 {at})"
            ),
        )
        .await;
    }
    let february = jan(22 * 24 + 6);
    exec(
        w,
        &format!(
            "INSERT INTO billing_runs (id, as_of, trigger_name, issue, status, started_at, \
             finished_at) VALUES ('R1', '2027-02-01', 'manual', 1, 'completed', {february}, \
             {february})"
        ),
    )
    .await;
    // A run before it billed only another account: it is not ACME's next run.
    let other = jan(22 * 24 + 1);
    for sql in [
        format!(
            "INSERT INTO billing_runs (id, as_of, trigger_name, issue, status, started_at, \
             finished_at) VALUES ('R0', '2027-02-01', 'manual', 1, 'completed', {other}, {other})"
        ),
        "INSERT INTO invoices (id, run_id, billing_account_id, period_start, period_end, origin, \
         kind, status, currency, line_net_total, tax_total, payable, rounding, seller, \
         created_at) VALUES ('G-R0', 'R0', 'GLOBEX-EUR', '2027-02-01', '2027-03-01', 'run', \
         'invoice', 'draft', 'EUR', '0', '0', '0', 'half_away_from_zero', '{}', 0)"
            .to_string(),
    ] {
        exec(w, &sql).await;
    }
    invoice(w, "INV-R1", "invoice", "0", "2027-02-01").await;
    exec(w, "UPDATE invoices SET run_id = 'R1' WHERE id = 'INV-R1'").await;
    for (position, subscription) in ["SO1", "SO2"].iter().enumerate() {
        exec(
            w,
            &format!(
                "INSERT INTO invoice_lines (invoice_id, position, charge_key, charge_kind, \
                 subscription_id, description, charge_start, charge_end, service_from, \
                 service_to, quantity, unit_price, net, list_price, tax_category, tax_percent) \
                 VALUES ('INV-R1', {position}, 'k', 'recurring', '{subscription}', 'd', \
                 '2027-01-10', '2027-02-01', '2027-01-10', '2027-02-01', '1', '0', '0', '0', \
                 'S', '19')"
            ),
        )
        .await;
    }
}

/// Two order refusals, a new offering version, a workflow version that completed its first
/// order 6.25 days after it appeared, an order open since December and a task still open.
async fn desk_and_flexibility(w: &World) {
    exec(
        w,
        &format!(
            "INSERT INTO request_minutes (node, minute, requests, unauthorized, forbidden, \
             server_errors, latency, order_refusals) VALUES ('n', {}, 0, 0, 0, 0, '[]', 2)",
            jan(3)
        ),
    )
    .await;
    let statements = [
        format!(
            "INSERT INTO catalog_seen (offering, version, first_seen) VALUES ('wan-link', 99, {})",
            jan(0)
        ),
        format!(
            "INSERT INTO wf_definitions (name, hash, number, source, registered_at) VALUES \
             ('wan-link', 'v6', 6, '', {})",
            jan(-120)
        ),
        format!(
            "INSERT INTO wf_instances (id, workflow, version, business_key, status, input, \
             output, open_steps, created_at, updated_at, finished_at) VALUES ('I3', 'wan-link', \
             'v6', 'order:O3', 'completed', '{{}}', '{{}}', 0, {0}, {1}, {1})",
            jan(0),
            jan(30)
        ),
        format!(
            "INSERT INTO wf_tasks (id, instance_id, stage, kind, group_name, state, required, \
             approvals, created_at, updated_at) VALUES ('K3', 'I0', 'installation', 'manual', \
             'field-engineers', 'open', 1, 0, {0}, {0})",
            jan(0)
        ),
    ];
    for sql in statements {
        exec(w, &sql).await;
    }
    order(w, "O6", "inProgress", jan(-24 * 20), None, None).await;
    // Two orders failed later in the month: O7's item was rejected at a stage (it counts
    // as rejected), O8 failed for a technical reason (it does not).
    order(w, "O7", "failed", jan(100), None, None).await;
    order(w, "O8", "failed", jan(101), None, None).await;
    for order in ["O7", "O8"] {
        instance(w, &order.replace('O', "I"), order, &[]).await;
        exec(
            w,
            &format!(
                "INSERT INTO order_events (id, order_id, at, from_state, to_state) VALUES \
                 ('E{order}', '{order}', {}, 'inProgress', 'failed')",
                jan(103)
            ),
        )
        .await;
    }
    for (task, instance, outcome) in [("K7", "I7", "reject"), ("K8", "I8", "approve")] {
        exec(
            w,
            &format!(
                "INSERT INTO wf_tasks (id, instance_id, stage, kind, group_name, state, \
                 required, approvals, created_at, updated_at) VALUES ('{task}', '{instance}', \
                 'design-review', 'manual', 'network-engineering', 'done', 1, 0, {0}, {0})",
                jan(102)
            ),
        )
        .await;
        exec(
            w,
            &format!(
                "INSERT INTO wf_task_decisions (task_id, actor, outcome, at) VALUES ('{task}', \
                 'nina', '{outcome}', {})",
                jan(102)
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
        ("fallout_percent", "16.67"),
        // 10 h, 20 h less the minute O2 was placed after O1, 30 h less two minutes.
        ("cycle_time_median_hours", "19.98"),
        ("cycle_time_p90_hours", "29.97"),
        ("on_time_percent", "66.67"),
        ("first_time_right_percent", "66.67"),
        ("cancelled_rejected_percent", "33.33"),
        // Waits of 4, 8, 10 and 12 hours; only K1 was decided before its SLA fired.
        ("approval_wait_median_hours", "8"),
        ("approval_wait_p90_hours", "12"),
        ("sla_attainment_percent", "25"),
        ("revenue_net:EUR", "70.00"),
        ("failed_sign_ins", "2"),
        ("tokens_revoked", "2"),
        ("users_deactivated", "1"),
        ("order_to_bill_percent", "66.67"),
        ("refusals_per_order", "0.33"),
        ("offerings_new", "1"),
        ("days_to_first_order", "6.25"),
        ("backlog_orders:0-1", "0"),
        ("backlog_orders:6-30", "0"),
        ("backlog_orders:31-90", "1"),
        ("backlog_tasks:6-30", "1"),
        ("backlog_tasks:>90", "0"),
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

    // Breakdowns: per product, worst first, and the top cause of incidents.
    let parts = |id: &str| -> Vec<(String, Option<Decimal>)> {
        let line = r.kpis.iter().find(|k| k.id == id).expect("a KPI");
        line.breakdown
            .iter()
            .map(|p| (p.name.clone(), p.value.map(|v| v.normalize())))
            .collect()
    };
    assert_eq!(
        parts("cycle_time_median_hours"),
        [
            ("lan-setup".into(), dec("29.97")),
            ("wan-link".into(), dec("10"))
        ]
    );
    assert_eq!(
        parts("order_to_bill_percent"),
        [
            ("lan-setup".into(), dec("0")),
            ("wan-link".into(), dec("100"))
        ]
    );
    assert_eq!(
        parts("fallout_percent"),
        [
            ("wan-link".into(), dec("50")),
            ("lan-setup".into(), dec("0"))
        ]
    );
    assert_eq!(
        parts("approval_wait_median_hours"),
        [
            ("sales-managers".into(), dec("12")),
            ("network-engineering".into(), dec("8"))
        ]
    );
    assert_eq!(
        parts("sla_attainment_percent"),
        [
            ("sales-managers".into(), dec("0")),
            ("network-engineering".into(), dec("33.33"))
        ]
    );
    let insight = |id: &str| {
        r.kpis
            .iter()
            .find(|k| k.id == id)
            .expect("KPI")
            .insight
            .clone()
    };
    let cycle = insight("cycle_time_median_hours");
    assert!(
        cycle.contains("worst product: lan-setup (29.97 h)"),
        "{cycle}"
    );
    let incidents = insight("incidents_opened");
    assert!(
        incidents.contains("top cause: stage configure (1 incident)"),
        "{incidents}"
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
    assert!(
        csv.contains(",order_to_bill_percent@lan-setup,"),
        "a row per part: {csv}"
    );
    let text = output::text(&r);
    assert!(
        text.contains("By product: lan-setup 0 %, wan-link 100 %"),
        "{text}"
    );
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
    assert_eq!(value(&fresh, "cancelled_rejected_percent"), dec("42.86"));
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

/// `l2c report monthly` in its four formats on a fresh database: the same KPIs in each, the
/// HTML a page of its own with the stylesheet inline.
#[test]
fn the_cli_prints_the_same_report_in_every_format() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("r.db").display());
    let run = |format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_l2c"))
            .args([
                "report",
                "monthly",
                "--format",
                format,
                "--database-url",
                &url,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("l2c runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {stderr}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json: Report = serde_json::from_str(&run("json")).expect("the API's JSON");
    let (csv, text, html) = (run("csv"), run("text"), run("html"));
    assert!(json.kpis.len() > 30, "{} KPIs", json.kpis.len());
    // Titles are escaped in the HTML: read them back as text.
    let entities = [
        ("&#x27;", "'"),
        ("&#39;", "'"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ];
    let html_text = entities
        .iter()
        .fold(html.clone(), |h, (entity, c)| h.replace(entity, c));
    for k in &json.kpis {
        assert!(csv.contains(&format!(",{},", k.id)), "{} in the CSV", k.id);
        assert!(text.contains(&k.title), "{} in the text", k.title);
        assert!(html_text.contains(&k.title), "{} in the HTML", k.title);
    }
    assert!(html.starts_with("<!doctype html>"), "{}", &html[..40]);
    assert!(
        html.contains("<style>") && html.contains(".kpi-met"),
        "inline CSS"
    );
    assert!(!html.contains("<nav"), "no desk navigation in a file");
}
