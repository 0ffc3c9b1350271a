//! Verifying the history chains: a database with N history rows (10 per instance, chained as
//! the engine chains them: `l2c_engine::chain::link`) on SQLite (a WAL file) or PostgreSQL;
//! reports the time `Engine::verify_history(None)` takes to walk them all, rows/s and peak
//! RSS, and checks that the walk finds nothing broken, then that it finds one changed row.
//!
//! ```text
//! cargo bench -p l2c-engine --bench verify_history -- [--rows N] [--backend sqlite|postgres]
//! ```

use l2c_engine::chain::{history_fields, link};
use l2c_engine::db::Db;
use l2c_engine::definition::{Definitions, Known};
use l2c_engine::handler::Handlers;
use l2c_engine::Engine;
use std::time::Instant;

type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

const PER_INSTANCE: usize = 10;
const FLOW: &str = r#"
description = "benchmark: one timer"
[[stage]]
id = "s1"
kind = "timer"
duration = "1h"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "s1"
to = "done"
"#;

fn args() -> BenchResult<(usize, String)> {
    let (mut rows, mut backend) = (1_000_000, "sqlite".to_string());
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--rows" => rows = it.next().ok_or("--rows needs a value")?.parse()?,
            "--backend" => backend = it.next().ok_or("--backend needs a value")?,
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok((rows, backend))
}

async fn open(backend: &str) -> BenchResult<(Db, Option<tempfile::TempDir>)> {
    if backend == "sqlite" {
        let dir = tempfile::tempdir()?;
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
        return Ok((Db::connect(&url, 4).await?, Some(dir)));
    }
    let admin = std::env::var("L2C_TEST_DATABASE_URL")
        .map_err(|_| "postgres needs L2C_TEST_DATABASE_URL")?;
    let url = l2c_engine::db::create_postgres_database(&admin, "l2c_bench").await?;
    Ok((Db::connect(&url, 4).await?, None))
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// `instances` instances with `PER_INSTANCE` chained history rows each, in batches.
async fn fill(db: &Db, instances: usize) -> BenchResult<()> {
    let b = db.backend;
    for first in (0..instances).step_by(1_000) {
        let ids: Vec<String> = (first..(first + 1_000).min(instances))
            .map(|i| format!("inst-{i:08}"))
            .collect();
        let mut tx = db.begin_write().await?;
        let sql = format!(
            "INSERT INTO wf_instances (id, workflow, history_head, version, status, input, output, \
             open_steps, created_at, updated_at) VALUES {}",
            b.values_list(ids.len(), 3, 1)
                .replace(')', ", 'x', 'completed', '{}', '{}', 0, 0, 0)")
        );
        let mut heads = Vec::with_capacity(ids.len());
        let mut rows = Vec::with_capacity(ids.len() * PER_INSTANCE);
        for id in &ids {
            let mut prev: Option<String> = None;
            for n in 0..PER_INSTANCE {
                let data = format!("{{\"n\": {n}, \"note\": \"a step's output of some length\"}}");
                let fields = history_fields(
                    id,
                    n as i64,
                    "step.completed",
                    Some("s1"),
                    None,
                    Some(1),
                    Some(&data),
                );
                let hash = link(prev.as_deref(), &fields);
                rows.push((id.clone(), n as i64, data, hash.clone()));
                prev = Some(hash);
            }
            heads.push(prev);
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, head) in ids.iter().zip(&heads) {
            q = q.bind(id.clone()).bind("flow").bind(head.clone());
        }
        q.execute(&mut *tx).await?;
        for chunk in rows.chunks(2_000) {
            // The same fixed values in every row; placeholders hold no parenthesis.
            let values = b
                .values_list(chunk.len(), 4, 1)
                .replace(')', ", 'step.completed', 's1', 1)");
            let sql = format!(
                "INSERT INTO wf_history (instance_id, at, data, hash, event, stage, attempt) \
                 VALUES {values}"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, at, data, hash) in chunk {
                q = q
                    .bind(id.clone())
                    .bind(*at)
                    .bind(data.clone())
                    .bind(hash.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    Ok(())
}

fn main() -> BenchResult<()> {
    let (rows, backend) = args()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (db, _dir) = open(&backend).await?;
        db.migrate().await?;
        let handlers = Handlers::new();
        let known = Known::new(handlers.names(), Vec::<String>::new());
        let defs = Definitions::single("flow.toml", FLOW, &known)?;
        let engine = Engine::builder(db.clone())
            .definitions(defs, known)
            .handlers(handlers)
            .build()
            .await?;
        let instances = rows.div_ceil(PER_INSTANCE);
        let started = Instant::now();
        fill(&db, instances).await?;
        println!(
            "filled {} rows in {:.1} s",
            instances * PER_INSTANCE,
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let broken = engine.verify_history(None).await?;
        let secs = started.elapsed().as_secs_f64();
        if let Some(b) = broken {
            return Err(format!("an untouched history is broken: {b:?}").into());
        }
        println!(
            "verify_history {backend}: {} rows in {secs:.2} s ({:.0} rows/s), peak RSS {:.0} MiB",
            instances * PER_INSTANCE,
            (instances * PER_INSTANCE) as f64 / secs,
            peak_rss_mib()
        );
        sqlx::query(
            "UPDATE wf_history SET data = '{}' WHERE seq = (SELECT MAX(seq) / 2 FROM wf_history)",
        )
        .execute(&db.pool)
        .await?;
        let found = engine
            .verify_history(None)
            .await?
            .ok_or("a changed row is not found")?;
        println!(
            "a changed row is found: {} row {} position {}",
            found.chain, found.row, found.position
        );
        Ok(())
    })
}
