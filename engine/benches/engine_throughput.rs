//! Engine throughput: N instances of a 5-stage workflow of no-op tasks, run by real workers on
//! SQLite (a WAL file) or PostgreSQL; reports step transitions/s, instances/s, step latency
//! percentiles and peak RSS, then checks every instance completed and every history chain
//! holds.
//!
//! ```text
//! cargo bench -p l2c-engine --bench engine_throughput -- [--backend sqlite|postgres]
//!     [--instances N] [--workers W] [--batch B] [--database-url URL]
//! ```
//! PostgreSQL uses `--database-url` or `L2C_TEST_DATABASE_URL` and a fresh database per run.

use l2c_engine::db::Db;
use l2c_engine::definition::{Definitions, Known};
use l2c_engine::handler::Handlers;
use l2c_engine::runtime::EngineOptions;
use l2c_engine::Engine;
use serde_json::json;
use sqlx::Row;
use std::time::{Duration, Instant};

const FIVE_TASKS: &str = r#"
description = "benchmark: five no-op tasks in a row"
[[stage]]
id = "s1"
kind = "task"
handler = "noop"
[[stage]]
id = "s2"
kind = "task"
handler = "noop"
[[stage]]
id = "s3"
kind = "task"
handler = "noop"
[[stage]]
id = "s4"
kind = "task"
handler = "noop"
[[stage]]
id = "s5"
kind = "task"
handler = "noop"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "s1"
to = "s2"
[[edge]]
from = "s2"
to = "s3"
[[edge]]
from = "s3"
to = "s4"
[[edge]]
from = "s4"
to = "s5"
[[edge]]
from = "s5"
to = "done"
"#;

struct Args {
    backend: String,
    instances: usize,
    workers: usize,
    batch: usize,
    url: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: "sqlite".into(),
        instances: 20_000,
        workers: 2,
        batch: 512,
        url: std::env::var("L2C_TEST_DATABASE_URL").ok(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--backend" => args.backend = value()?,
            "--instances" => {
                args.instances = value()?.parse().map_err(|e| format!("--instances: {e}"))?
            }
            "--workers" => {
                args.workers = value()?.parse().map_err(|e| format!("--workers: {e}"))?
            }
            "--batch" => args.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--database-url" => args.url = Some(value()?),
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

async fn open(args: &Args) -> Result<(Db, Option<tempfile::TempDir>), Box<dyn std::error::Error>> {
    if args.backend == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        return Ok((Db::connect(&url, 8).await?, Some(dir)));
    }
    let admin_url = args
        .url
        .clone()
        .ok_or("postgres needs --database-url or L2C_TEST_DATABASE_URL")?;
    let url = l2c_engine::db::create_postgres_database(&admin_url, "l2c_bench").await?;
    Ok((Db::connect(&url, 8).await?, None))
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The engine on `db` with the five-task workflow and the no-op handler.
async fn engine(db: &Db, batch: usize) -> BenchResult<Engine> {
    let handlers = Handlers::new();
    let known = Known::new(handlers.names(), Vec::<String>::new());
    let defs = Definitions::single("five.toml", FIVE_TASKS, &known)?;
    let options = EngineOptions {
        batch_size: batch,
        ..EngineOptions::default()
    };
    Ok(Engine::builder(db.clone())
        .definitions(defs, known)
        .handlers(handlers)
        .options(options)
        .build()
        .await?)
}

/// Starts `instances` instances, 500 per transaction; returns the seconds it took.
async fn start_all(engine: &Engine, db: &Db, instances: usize) -> BenchResult<f64> {
    let started = Instant::now();
    for chunk in (0..instances).collect::<Vec<_>>().chunks(500) {
        let mut tx = db.begin_write().await?;
        for n in chunk {
            engine
                .start_in(&mut tx, "five", json!({ "n": n }), None)
                .await?;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Runs `workers` workers until no step is left; returns the seconds it took.
async fn run_all(engine: &Engine, db: &Db, workers: usize) -> BenchResult<f64> {
    let run = Instant::now();
    let workers: Vec<_> = (0..workers).map(|_| engine.worker().spawn()).collect();
    engine.wake();
    // Every stage is a task and each completion creates the next step in its transaction, so
    // the run is over when no step is ready or running. This probe is an index lookup: a
    // COUNT over wf_instances every 20 ms would read the whole table each time and compete
    // with the workers for the CPU.
    loop {
        let open = sqlx::query(
            "SELECT 1 AS open FROM wf_steps WHERE state IN ('ready', 'running') LIMIT 1",
        )
        .fetch_optional(&db.pool)
        .await?;
        if open.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run_secs = run.elapsed().as_secs_f64();
    for w in workers {
        w.shutdown().await?;
    }
    Ok(run_secs)
}

/// Fails unless every instance completed.
async fn check_completed(db: &Db, instances: usize) -> BenchResult<()> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM wf_instances WHERE status = 'completed'")
        .fetch_one(&db.pool)
        .await?;
    let completed = row.try_get::<i64, _>("n")? as usize;
    if completed != instances {
        return Err(format!("{completed} of {instances} instances completed").into());
    }
    Ok(())
}

/// Every task step's time from ready to completed, in milliseconds, sorted.
async fn step_latencies(db: &Db) -> BenchResult<Vec<i64>> {
    let rows =
        sqlx::query("SELECT finished_at - created_at AS ms FROM wf_steps WHERE kind = 'task'")
            .fetch_all(&db.pool)
            .await?;
    let mut latencies: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get("ms"))
        .collect::<Result<_, _>>()?;
    latencies.sort_unstable();
    Ok(latencies)
}

fn report(args: &Args, start_secs: f64, run_secs: f64, latencies: &[i64]) {
    let steps = args.instances * 5;
    println!("backend            {}", args.backend);
    println!(
        "instances          {} (5 task stages each, {} workers, batch {})",
        args.instances, args.workers, args.batch
    );
    println!(
        "start              {:.2} s ({:.0} instances/s started, 500 per transaction)",
        start_secs,
        args.instances as f64 / start_secs
    );
    println!("run                {:.2} s", run_secs);
    println!("step transitions/s {:.0}", steps as f64 / run_secs);
    println!("instances/s        {:.0}", args.instances as f64 / run_secs);
    println!(
        "step latency ms    p50 {} p99 {} max {} (ready -> completed, whole backlog queued at once)",
        percentile(latencies, 50.0),
        percentile(latencies, 99.0),
        latencies.last().copied().unwrap_or(0)
    );
    println!("peak RSS           {:.1} MiB", peak_rss_mib());
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> BenchResult<()> {
    let args = parse_args()?;
    let (db, _dir) = open(&args).await?;
    db.migrate().await?;
    let engine = engine(&db, args.batch).await?;
    let start_secs = start_all(&engine, &db, args.instances).await?;
    let run_secs = run_all(&engine, &db, args.workers).await?;
    check_completed(&db, args.instances).await?;
    let latencies = step_latencies(&db).await?;
    report(&args, start_secs, run_secs, &latencies);
    // Two workers appended to the chains at once: every one must still hold.
    if let Some(broken) = engine.verify_history(None).await? {
        return Err(format!("a history chain is broken: {broken:?}").into());
    }
    println!("history chains     verified");
    Ok(())
}
