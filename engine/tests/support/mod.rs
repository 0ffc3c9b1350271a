//! Test support: a fresh database per test (a SQLite file, or a new PostgreSQL database when
//! `L2C_TEST_DATABASE_URL` is set) and an engine on a test clock.

#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use l2c_engine::clock::TestClock;
use l2c_engine::db::Db;
use l2c_engine::definition::{Definitions, Known};
use l2c_engine::handler::Handlers;
use l2c_engine::runtime::{EngineBuilder, EngineOptions};
use l2c_engine::Engine;
use std::sync::Arc;

/// Which database a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database that lives as long as the test.
pub struct TestDb {
    pub db: Db,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh, migrated database; `None` for PostgreSQL when `L2C_TEST_DATABASE_URL` is unset.
/// When it is set, failing to reach the server fails the test.
pub async fn test_db(backend: Backend) -> Option<TestDb> {
    let (url, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("l2c.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let admin_url = std::env::var("L2C_TEST_DATABASE_URL").ok()?;
            let url = l2c_engine::db::create_postgres_database(&admin_url, "l2c_test")
                .await
                .unwrap_or_else(|e| {
                    panic!("L2C_TEST_DATABASE_URL is set but PostgreSQL at {admin_url} refused a test database: {e}")
                });
            (url, None)
        }
    };
    let db = Db::connect(&url, 8)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    db.migrate().await.expect("migrations apply");
    Some(TestDb { db, url, _dir: dir })
}

/// Groups every test definition may use.
pub const GROUPS: [&str; 4] = ["approvers", "managers", "engineers", "leads"];

/// The test clock's starting point.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .expect("valid date")
}

/// An engine on a test database and a test clock.
pub struct Harness {
    pub engine: Engine,
    pub clock: TestClock,
    pub db: TestDb,
}

/// Loads `(name, toml)` definitions for the given handlers.
pub fn definitions(defs: &[(&str, &str)], handlers: &Handlers) -> (Definitions, Known) {
    let known = Known::new(handlers.names(), GROUPS);
    let sources: Vec<(String, String)> = defs
        .iter()
        .map(|(n, t)| {
            (
                format!("{n}.toml"),
                format!("description = \"test {n}\"\n{t}"),
            )
        })
        .collect();
    let set = Definitions::from_sources(&sources, &known).unwrap_or_else(|e| panic!("{e}"));
    (set, known)
}

/// Builds a harness; `configure` adds actor checks, directories or options.
pub async fn harness_with(
    backend: Backend,
    defs: &[(&str, &str)],
    handlers: Handlers,
    configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
) -> Option<Harness> {
    let db = test_db(backend).await?;
    let clock = TestClock::at(start_time());
    let engine = build(&db, &clock, defs, handlers, configure).await;
    Some(Harness { engine, clock, db })
}

/// An engine on an existing test database (a second node, or a restart).
pub async fn build(
    db: &TestDb,
    clock: &TestClock,
    defs: &[(&str, &str)],
    handlers: Handlers,
    configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
) -> Engine {
    let (set, known) = definitions(defs, &handlers);
    let options = EngineOptions {
        lease: std::time::Duration::from_secs(60),
        batch_size: 64,
        poll_interval: std::time::Duration::from_millis(20),
    };
    let builder = Engine::builder(db.db.clone())
        .definitions(set, known)
        .handlers(handlers)
        .clock(Arc::new(clock.clone()))
        .options(options);
    configure(builder).build().await.expect("engine builds")
}

/// A harness with default configuration.
pub async fn harness(
    backend: Backend,
    defs: &[(&str, &str)],
    handlers: Handlers,
) -> Option<Harness> {
    harness_with(backend, defs, handlers, |b| b).await
}

/// The events of an instance's history, as `event:stage` strings.
pub async fn timeline(engine: &Engine, id: &str) -> Vec<String> {
    engine
        .history(id)
        .await
        .expect("history")
        .into_iter()
        .map(|e| match e.stage {
            Some(s) => format!("{}:{s}", e.event),
            None => e.event,
        })
        .collect()
}

/// How many history entries match `event:stage`.
pub fn count(timeline: &[String], entry: &str) -> usize {
    timeline.iter().filter(|e| e.as_str() == entry).count()
}

/// Generates one test per scenario and backend.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Backend::Postgres).await
                }
            )*
        }
    };
}
