//! Order intake under load: the real l2c server (API and `--workers` engine workers) on SQLite (a WAL file)
//! or PostgreSQL, driven over HTTP on loopback by concurrent clients placing WAN link orders
//! as 50 requesters. Two phases:
//!
//! - **saturation**: `--clients` connections place orders back to back for `--seconds`;
//!   reports accepted orders/s and p50/p99 latency.
//! - **fixed rate**: orders sent on a schedule of `--rate` per second for `--seconds`
//!   (open loop: latency counts from the scheduled send time, so a stall is not hidden);
//!   reports p50/p99/max.
//!
//! After each phase it reports how many of the orders accepted so far have had their
//! workflows run up to the first human task (the WAN link's feasibility approval), so a
//! figure with workers shows whether they kept up or left a backlog.
//!
//! With `--listener`, an admin registers a TMF622 hub listener on a local receiver before
//! the load starts, so every order's events are delivered while orders come in; the figures
//! then show what the hub costs intake, and the end reports how many events arrived.
//!
//! ```text
//! cargo bench --bench api_load -- [--backend sqlite|postgres] [--clients 64] [--rate 500]
//!     [--seconds 10] [--workers 2] [--batch STEPS] [--database-url URL] [--listener]
//! ```

mod common;

use common::{cpu_time, eur_customer, fresh_database, hub_admin, peak_rss_mib, receiver, Failure};
use l2c::app::{App, AppOptions};
use l2c::server::Server;

use l2c_orders::users::{NewUser, Role};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    backend: String,
    clients: usize,
    rate: u64,
    seconds: u64,
    workers: usize,
    batch: Option<usize>,
    url: Option<String>,
    listener: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: "sqlite".into(),
        clients: 64,
        rate: 500,
        seconds: 10,
        workers: 2,
        batch: None,
        url: std::env::var("L2C_TEST_DATABASE_URL").ok(),
        listener: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--listener" {
            args.listener = true;
            continue;
        }
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--backend" => args.backend = value()?,
            "--clients" => args.clients = number(value()?)? as usize,
            "--rate" => args.rate = number(value()?)?,
            "--seconds" => args.seconds = number(value()?)?,
            "--workers" => args.workers = number(value()?)? as usize,
            "--batch" => args.batch = Some(number(value()?)? as usize),
            "--database-url" => args.url = Some(value()?),
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

async fn open(args: &Args) -> Result<(App, Option<tempfile::TempDir>), Failure> {
    let (url, dir) =
        fresh_database(&args.backend, args.url.as_deref(), "load.db", "l2c_load").await?;
    let mut options = AppOptions::new(url);
    options.max_connections = 8;
    // The bench measures the server's own ceiling: 50 requesters each write far more than a
    // person could, so the per-user write limit is off.
    options.settings.server.writes_per_minute = 0;
    if let Some(batch) = args.batch {
        options.engine.batch_size = batch;
    }
    Ok((App::open(options).await?, dir))
}

/// 50 customers, each with a billing account and a requester; returns the tokens.
async fn people(app: &App) -> Result<Vec<(String, String)>, Failure> {
    let mut tokens = Vec::new();
    for i in 0..50 {
        let id = format!("CUST{i:02}");
        eur_customer(app, &id).await?;
        let user = NewUser {
            name: format!("req{i:02}"),
            role: Role::Requester,
            account: Some(id.clone()),
            groups: vec![],
            password: None,
        };
        let (_, token) = app.add_user("test", &user).await?;
        tokens.push((token, format!("{id}-EUR")));
    }
    Ok(tokens)
}

struct Client {
    http: reqwest::Client,
    url: String,
    people: Arc<Vec<(String, String)>>,
}

impl Client {
    /// Places one order; returns whether it was accepted (201).
    async fn place(&self, n: usize) -> bool {
        let (token, account) = &self.people[n % self.people.len()];
        let body = json!({"billing_account": account, "external_id": format!("PO-{n}"), "items": [{
            "action": "add", "offering": "wan-link",
            "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]});
        match self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r.status().as_u16() == 201,
            Err(_) => false,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Prints a phase's figures; returns how many orders it placed.
fn report(
    phase: &str,
    mut latencies: Vec<Duration>,
    failed: usize,
    took: Duration,
    cpu: Duration,
) -> usize {
    latencies.sort_unstable();
    let ok = latencies.len();
    println!(
        "{phase:10} {ok:>7} accepted {failed:>4} failed in {:>5.1} s: {:>7.0} orders/s, p50 {:>6.1} ms, p99 {:>6.1} ms, max {:>6.1} ms, CPU {:.2} ms/order",
        took.as_secs_f64(),
        ok as f64 / took.as_secs_f64(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3 / ok.max(1) as f64,
    );
    ok
}

async fn saturate(client: Arc<Client>, clients: usize, seconds: u64) -> usize {
    let started = Instant::now();
    let cpu = cpu_time();
    let until = started + Duration::from_secs(seconds);
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, counter) = (client.clone(), counter.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (Vec::new(), 0usize);
                while Instant::now() < until {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let sent = Instant::now();
                    if client.place(n).await {
                        ok.push(sent.elapsed())
                    } else {
                        failed += 1
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let (mut all, mut failed) = (Vec::new(), 0);
    for t in tasks {
        if let Ok((ok, f)) = t.await {
            all.extend(ok);
            failed += f;
        }
    }
    report(
        "saturation",
        all,
        failed,
        started.elapsed(),
        cpu_time() - cpu,
    )
}

async fn fixed_rate(client: Arc<Client>, rate: u64, seconds: u64) -> usize {
    let total = (rate * seconds) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let cpu = cpu_time();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let scheduled = started + interval * n as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let ok = client.place(1_000_000 + n).await;
            (ok, scheduled.elapsed())
        }));
    }
    let (mut all, mut failed) = (Vec::new(), 0);
    for t in tasks {
        match t.await {
            Ok((true, took)) => all.push(took),
            _ => failed += 1,
        }
    }
    report(
        &format!("{rate}/s"),
        all,
        failed,
        started.elapsed(),
        cpu_time() - cpu,
    )
}

/// How many orders' workflows have reached the WAN link's feasibility approval.
async fn workflows_at_first_task(db: &l2c_engine::db::Db) -> Result<i64, Failure> {
    Ok(
        sqlx::query_scalar("SELECT COUNT(*) FROM wf_tasks WHERE stage = 'feasibility'")
            .fetch_one(&db.pool)
            .await?,
    )
}

/// Prints how far the workers got with the `accepted` orders.
async fn report_backlog(db: &l2c_engine::db::Db, accepted: usize) {
    match workflows_at_first_task(db).await {
        Ok(reached) => println!(
            "{:10} {reached} of {accepted} accepted orders' workflows at their first human task (backlog {})",
            "",
            accepted as i64 - reached
        ),
        Err(e) => println!("backlog unknown: {e}"),
    }
}

/// Registers a hub listener on a local receiver as the admin; answers its event count.
async fn listen(base: &str, admin: &str) -> Result<Arc<std::sync::atomic::AtomicU64>, Failure> {
    let (callback, count) = receiver().await?;
    let r = reqwest::Client::new()
        .post(format!("{base}/tmf-api/productOrderingManagement/v4/hub"))
        .bearer_auth(admin)
        .json(&json!({ "callback": callback }))
        .send()
        .await?;
    if r.status().as_u16() != 201 {
        return Err(format!("registering the listener: {}", r.status()).into());
    }
    println!("listener registered at {callback}");
    Ok(count)
}

async fn report_events(db: &l2c_engine::db::Db, events: &std::sync::atomic::AtomicU64) {
    match l2c_orders::hub::delivery::backlog(db).await {
        Ok((pending, dead)) => println!(
            "listener: {} events received, {pending} deliveries pending, {dead} dead",
            events.load(std::sync::atomic::Ordering::Relaxed)
        ),
        Err(e) => println!("listener: backlog unknown ({e})"),
    }
}

fn main() -> Result<(), Failure> {
    let args = parse_args()?;
    // The server and the load generator get runtimes of their own, as two processes would.
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (server, tokens, _dir, db, admin) = server_rt.block_on(async {
        let (app, dir) = open(&args).await?;
        let tokens = people(&app).await?;
        let admin = hub_admin(&app).await?;
        let db = app.db.clone();
        let server = Server::start(app, "127.0.0.1:0".parse()?, args.workers).await?;
        Ok::<_, Failure>((server, tokens, dir, db, admin))
    })?;
    let events = if args.listener {
        Some(client_rt.block_on(listen(&server.url(), &admin))?)
    } else {
        None
    };
    println!(
        "api_load: {} backend, server at {}",
        args.backend,
        server.url()
    );
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.clients)
            .build()?,
        url: format!("{}/api/v1/orders", server.url()),
        people: Arc::new(tokens),
    });
    client_rt.block_on(async {
        let mut accepted = saturate(client.clone(), args.clients, args.seconds).await;
        if args.workers > 0 {
            report_backlog(&db, accepted).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        accepted += fixed_rate(client.clone(), args.rate, args.seconds).await;
        if args.workers > 0 {
            report_backlog(&db, accepted).await;
        }
        if let Some(events) = &events {
            report_events(&db, events).await;
        }
    });
    println!(
        "peak RSS {:.0} MiB (server and load generator together)",
        peak_rss_mib()
    );
    server_rt.block_on(server.shutdown())?;
    Ok(())
}
