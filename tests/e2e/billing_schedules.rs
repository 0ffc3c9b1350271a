//! Cron schedules of billing runs on the sandbox clock: each account zone billed at its own
//! local time (and a zone that appears later), and two nodes on one database firing an
//! occurrence once.

use crate::support;

use l2c::app::App;
use l2c_invoicing::{read, schedule};
use l2c_orders::error::DeskError;
use support::billing::*;
use support::Backend;

scenarios!(
    a_cron_schedule_bills_each_zone_at_its_local_time_once,
    two_nodes_fire_a_scheduled_run_once,
);

async fn a_cron_schedule_bills_each_zone_at_its_local_time_once(backend: Backend) {
    let w = open(backend, 10).await;
    let clock = w.app.sandbox.clone().expect("sandbox clock");
    clock.set("2027-01-31T00:00:00Z".parse().expect("instant"));
    account(&w.app, "TONGA", 1, "Pacific/Tongatapu", "EUR").await; // UTC+13
    account(&w.app, "HAWAII", 1, "Pacific/Honolulu", "USD").await; // UTC-10
    for (acc, sub) in [("TONGA", "ST"), ("HAWAII", "SH")] {
        let port = Charge("port", "monthly", "31.00", 1, "2027-01-01", None);
        subscribe(&w.app, acc, sub, "wan-link", &[port]).await;
    }
    let nightly = schedule::NewSchedule {
        name: "nightly".into(),
        cron: "0 0 2 * * *".into(),
        time_zone: "account".into(),
    };
    let added = schedule::add(&w.app.schedules, "test", &nightly)
        .await
        .expect("schedule");
    // 02:00 in Berlin (the world's own accounts) comes first: 01:00 UTC.
    assert_eq!(added.next_due.to_rfc3339(), "2027-01-31T01:00:00+00:00");
    assert!(added.instance_id.is_some());
    let again = schedule::add(&w.app.schedules, "test", &nightly).await;
    assert!(matches!(again, Err(DeskError::Conflict(_))));

    // The clock passes 02:00 in Berlin (01:00Z), Hawaii (12:00Z) and Tonga (13:00Z).
    clock.set("2027-01-31T14:00:00Z".parse().expect("instant"));
    for _ in 0..6 {
        let (a, b) = tokio::join!(
            schedule::ensure_instances(&w.app.schedules),
            schedule::ensure_instances(&w.app.schedules)
        );
        assert!(
            a.expect("ensure") + b.expect("ensure") <= 1,
            "one start per occurrence"
        );
        w.app.engine.run_until_idle().await.expect("workers");
    }
    let runs = read::runs(&w.app.db, 10).await.expect("runs");
    let mut fired: Vec<String> = runs.iter().map(|r| r.as_of.clone()).collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            "2027-01-31T01:00:00Z",
            "2027-01-31T12:00:00Z",
            "2027-01-31T13:00:00Z"
        ]
    );
    assert!(runs
        .iter()
        .all(|r| r.trigger.starts_with("schedule:nightly:") && r.status == "completed"));
    let mut billed: Vec<(String, String, usize)> = Vec::new();
    for i in all_invoices(&w.app).await {
        let n = lines_of(&w.app, &i).await.len();
        billed.push((i.billing_account, i.period_start, n));
    }
    billed.sort();
    // Hawaii's 02:00 on January 31 bills January; Tonga's is already February 1, whose
    // invoice also catches up January.
    assert_eq!(
        billed,
        [
            ("HAWAII".to_string(), "2027-01-01".to_string(), 1),
            ("TONGA".to_string(), "2027-02-01".to_string(), 2),
        ]
    );
    let next = schedule::get(&w.app.schedules, "nightly")
        .await
        .expect("schedule");
    assert_eq!(next.next_due.to_rfc3339(), "2027-02-01T01:00:00+00:00");

    // A new zone: India's 02:00 on February 1 (20:30 UTC on January 31) comes before the
    // pending occurrence, which was chosen without it; the pending occurrence moves to it.
    account(&w.app, "INDIA", 1, "Asia/Kolkata", "EUR").await;
    let port = Charge("port", "monthly", "31.00", 1, "2027-01-01", None);
    subscribe(&w.app, "INDIA", "SI", "wan-link", &[port]).await;
    let moved = schedule::follow_new_zones(&w.app.schedules)
        .await
        .expect("follow");
    assert_eq!(moved, 1);
    let pending = schedule::get(&w.app.schedules, "nightly")
        .await
        .expect("schedule");
    assert_eq!(pending.next_due.to_rfc3339(), "2027-01-31T20:30:00+00:00");
    assert_eq!(
        schedule::follow_new_zones(&w.app.schedules)
            .await
            .expect("again"),
        0
    );
    let india = |w: &support::World| {
        let app = w.app.clone();
        async move {
            all_invoices(&app)
                .await
                .into_iter()
                .filter(|i| i.billing_account == "INDIA")
                .map(|i| i.period_start)
                .collect::<Vec<String>>()
        }
    };
    clock.set("2027-01-31T20:31:00Z".parse().expect("instant"));
    for _ in 0..3 {
        schedule::ensure_instances(&w.app.schedules)
            .await
            .expect("ensure");
        w.app.engine.run_until_idle().await.expect("workers");
    }
    assert_eq!(
        india(&w).await,
        ["2027-02-01"],
        "billed at India's own 02:00"
    );
    let next = schedule::get(&w.app.schedules, "nightly")
        .await
        .expect("schedule");
    assert_eq!(next.next_due.to_rfc3339(), "2027-02-01T01:00:00+00:00");
    // Berlin's occurrence then bills the others and India once only.
    clock.set("2027-02-01T14:00:00Z".parse().expect("instant"));
    for _ in 0..6 {
        schedule::ensure_instances(&w.app.schedules)
            .await
            .expect("ensure");
        w.app.engine.run_until_idle().await.expect("workers");
    }
    assert_eq!(india(&w).await, ["2027-02-01"]);
}

async fn two_nodes_fire_a_scheduled_run_once(backend: Backend) {
    let w = open(backend, 4).await;
    six_accounts(&w.app).await;
    let mut options = l2c::app::AppOptions::new(w.url.clone());
    options.sandbox = true;
    let other = App::open(options).await.expect("second node");
    let clocks = [
        w.app.sandbox.clone().expect("clock"),
        other.sandbox.clone().expect("clock"),
    ];
    for c in &clocks {
        c.set("2026-03-01T00:00:00Z".parse().expect("instant"));
    }
    let daily = schedule::NewSchedule {
        name: "daily".into(),
        cron: "0 0 3 * * *".into(),
        time_zone: "UTC".into(),
    };
    schedule::add(&w.app.schedules, "test", &daily)
        .await
        .expect("schedule");
    for c in &clocks {
        c.set("2026-03-01T03:00:05Z".parse().expect("instant"));
    }
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            schedule::ensure_instances(&w.app.schedules),
            schedule::ensure_instances(&other.schedules)
        );
        a.expect("ensure");
        b.expect("ensure");
        let (a, b) = tokio::join!(w.app.engine.run_until_idle(), other.engine.run_until_idle());
        a.expect("node a");
        b.expect("node b");
    }
    let runs = read::runs(&w.app.db, 10).await.expect("runs");
    assert_eq!(runs.len(), 1, "one run for the one occurrence: {runs:?}");
    assert_eq!(
        (runs[0].as_of.as_str(), runs[0].invoices),
        ("2026-03-01T03:00:00Z", 6)
    );
    let next = schedule::get(&w.app.schedules, "daily")
        .await
        .expect("schedule");
    assert_eq!(next.next_due.to_rfc3339(), "2026-03-02T03:00:00+00:00");
}
