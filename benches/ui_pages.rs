//! The web desk's pages under data: server time (router in process, no network) of the
//! inbox, an order page and my orders on SQLite with `--orders` orders (default 10,000) of
//! which `--tasks` (default 1,000) wait at their first human task, and the bytes each page
//! costs a browser (HTML plus the stylesheet and the script, uncompressed). Goals (issue 14):
//! p99 <= 20 ms, <= 60 KB per page.
//!
//! ```text
//! cargo bench --bench ui_pages -- [--orders 10000] [--tasks 1000] [--samples 300]
//! ```

mod common;

use axum::body::Body;
use axum::http::{header, Request};
use common::{eur_customer, fresh_database, Failure};
use l2c::app::{App, AppOptions};
use l2c_orders::model::OrderRequest;
use l2c_orders::sessions;
use l2c_orders::users::{NewUser, Role, User};
use std::time::{Duration, Instant};
use tower::ServiceExt;

struct Args {
    orders: usize,
    tasks: usize,
    samples: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        orders: 10_000,
        tasks: 1_000,
        samples: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: Result<String, String>| -> Result<usize, String> {
            v?.parse::<usize>().map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--orders" => args.orders = number(value)?,
            "--tasks" => args.tasks = number(value)?,
            "--samples" => args.samples = number(value)?,
            "--bench" => {}
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.tasks > args.orders {
        return Err("--tasks cannot exceed --orders".into());
    }
    Ok(args)
}

async fn user(
    app: &App,
    name: &str,
    role: Role,
    account: Option<&str>,
    group: Option<&str>,
) -> Result<User, Failure> {
    let (u, _) = app
        .add_user(
            "test",
            &NewUser {
                name: name.into(),
                role,
                account: account.map(str::to_string),
                groups: group.into_iter().map(str::to_string).collect(),
                password: None,
            },
        )
        .await?;
    Ok(u)
}

fn wan(i: usize) -> Result<OrderRequest, Failure> {
    Ok(serde_json::from_value(serde_json::json!({
        "billing_account": "ACME-EUR",
        "external_id": format!("PO-{i}"),
        "items": [{"action": "add", "offering": "wan-link", "characteristics": {
            "bandwidth_mbps": 100, "a_end_site": "FRA-001",
            "b_end_site": format!("MUC-{:03}", i % 1000)}}]
    }))?)
}

async fn place(app: &App, rita: &User, from: usize, to: usize) -> Result<Vec<String>, Failure> {
    let mut ids = Vec::new();
    let mut pending = Vec::new();
    for i in from..to {
        let (app, rita, request) = (app.clone(), rita.clone(), wan(i)?);
        pending.push(tokio::spawn(async move {
            l2c_orders::place::place(&app.orders, &rita, &request, None).await
        }));
        if pending.len() == 256 || i + 1 == to {
            for p in pending.drain(..) {
                ids.push(p.await??.order_id);
            }
        }
    }
    Ok(ids)
}

async fn open_tasks(app: &App) -> Result<i64, Failure> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM wf_tasks WHERE state = 'open'")
            .fetch_one(&app.db.pool)
            .await?,
    )
}

/// Builds the data: `tasks` orders run by workers up to their feasibility approval, then the
/// rest placed with no worker running (they wait, acknowledged, at the start of their
/// workflow), so exactly `tasks` tasks are open.
async fn fixture(app: &App, args: &Args) -> Result<(User, User, String), Failure> {
    eur_customer(app, "ACME").await?;
    let rita = user(app, "rita", Role::Requester, Some("ACME"), None).await?;
    let nina = user(
        app,
        "nina",
        Role::Approver,
        None,
        Some("network-engineering"),
    )
    .await?;
    let started = Instant::now();
    let first = place(app, &rita, 0, args.tasks).await?;
    let workers = l2c::server::spawn_workers(app, 2);
    while open_tasks(app).await? < args.tasks as i64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    l2c::server::stop_workers(workers).await?;
    place(app, &rita, args.tasks, args.orders).await?;
    println!(
        "fixture: {} orders, {} open tasks, in {:.1} s",
        args.orders,
        open_tasks(app).await?,
        started.elapsed().as_secs_f64()
    );
    let order = first.first().cloned().ok_or("no order")?;
    Ok((rita, nina, order))
}

async fn cookie(app: &App, user: &User) -> Result<String, Failure> {
    let opened = sessions::open(&app.db, &user.id, chrono::Utc::now().timestamp_millis()).await?;
    Ok(format!("l2c_session={}", opened.id))
}

struct Measured {
    p50: Duration,
    p99: Duration,
    bytes: usize,
}

async fn measure(
    router: &axum::Router,
    cookie: &str,
    path: &str,
    samples: usize,
) -> Result<Measured, Failure> {
    let mut times = Vec::with_capacity(samples);
    let mut bytes = 0;
    for _ in 0..samples + 10 {
        let request = Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())?;
        let started = Instant::now();
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        times.push(started.elapsed());
        if !status.is_success() {
            return Err(format!("{path} answered {status}").into());
        }
        bytes = body.len();
    }
    let mut times = times.split_off(10);
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    Ok(Measured {
        p50: at(0.50),
        p99: at(0.99),
        bytes,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    let (url, _dir) = fresh_database("sqlite", None, "ui.db", "l2c_ui_bench").await?;
    let mut options = AppOptions::new(url);
    options.sandbox = true;
    options.engine.poll_interval = Duration::from_millis(10);
    let app = App::open(options).await?;
    let (rita, nina, order) = fixture(&app, &args).await?;
    let router = l2c::server::router(app.clone());
    let assets = l2c::web::assets::size("desk.css") + l2c::web::assets::size("desk.js");
    let rita = cookie(&app, &rita).await?;
    let nina = cookie(&app, &nina).await?;
    let groups = ["network-engineering".to_string()];
    let started = Instant::now();
    for _ in 0..20 {
        l2c_orders::work::open_tasks(&app.orders, &groups).await?;
    }
    println!(
        "the inbox's query alone: {:.2} ms ({} open tasks)",
        started.elapsed().as_secs_f64() * 1000.0 / 20.0,
        args.tasks
    );
    println!("assets: desk.css + desk.js = {assets} bytes (cached after the first page)");
    println!(
        "{:<14} {:>9} {:>9} {:>11} {:>13}",
        "page", "p50 ms", "p99 ms", "html bytes", "+assets bytes"
    );
    let pages = [
        ("inbox", nina.as_str(), "/inbox".to_string()),
        ("order page", rita.as_str(), format!("/orders/{order}")),
        ("my orders", rita.as_str(), "/orders".to_string()),
    ];
    for (name, cookie, path) in &pages {
        let m = measure(&router, cookie, path, args.samples).await?;
        println!(
            "{name:<14} {:>9.2} {:>9.2} {:>11} {:>13}",
            m.p50.as_secs_f64() * 1000.0,
            m.p99.as_secs_f64() * 1000.0,
            m.bytes,
            m.bytes + assets
        );
    }
    Ok(())
}
