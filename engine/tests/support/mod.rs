//! Test support: a fresh database per test (a SQLite file, or a new PostgreSQL database on the
//! server `L2C_TEST_DATABASE_URL` names) and an engine on it with a test clock.
//! `scenario.rs` adds the scenario suites' `Harness` (engine, clock and database together)
//! and history timelines; a test binary that uses them includes it beside this module.
//!
//! The [`conformance!`] macro runs each scenario on both backends. The PostgreSQL twins are
//! compiled as ignored unless `L2C_TEST_DATABASE_URL` was set when the tests were built (see
//! `engine/build.rs`); once they run, a missing variable or an unreachable server fails them.

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
    _dir: Option<tempfile::TempDir>,
}

/// The variable naming the PostgreSQL server the twins run on.
const POSTGRES_URL: &str = "L2C_TEST_DATABASE_URL";

/// The PostgreSQL server's URL; a test that needs it fails without it.
fn postgres_admin_url() -> String {
    match std::env::var(POSTGRES_URL) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{POSTGRES_URL} is not set: this PostgreSQL test needs a server to run on, e.g. \
             {POSTGRES_URL}=postgres://postgres@127.0.0.1:5432/postgres (set it when building \
             and when running the tests; built without it, the PostgreSQL tests are ignored)"
        ),
    }
}

/// A fresh, migrated database. For PostgreSQL a new database on the server
/// `L2C_TEST_DATABASE_URL` names; a missing variable or an unreachable server fails the test.
pub async fn test_db(backend: Backend) -> TestDb {
    let (url, dir) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("l2c.db").display());
            (url, Some(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let url = l2c_engine::db::create_postgres_database(&admin_url, "l2c_test")
                .await
                .unwrap_or_else(|e| {
                    panic!("{POSTGRES_URL} is set but PostgreSQL at {admin_url} refused a test database: {e}")
                });
            (url, None)
        }
    };
    let db = Db::connect(&url, 8)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    db.migrate().await.expect("migrations apply");
    TestDb { db, _dir: dir }
}

/// Groups every test definition may use.
pub const GROUPS: [&str; 4] = ["approvers", "managers", "engineers", "leads"];

/// The test clock's starting point.
pub fn start_time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .expect("valid date")
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

/// Generates one test per scenario and backend: `sqlite::<name>` and `postgres::<name>`,
/// the latter ignored unless built with `L2C_TEST_DATABASE_URL` set.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::support::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[cfg_attr(
                    not(l2c_postgres),
                    ignore = "PostgreSQL: set L2C_TEST_DATABASE_URL when building and running the tests"
                )]
                async fn $name() {
                    super::$name($crate::support::Backend::Postgres).await
                }
            )*
        }
    };
}
