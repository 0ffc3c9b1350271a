//! The scenario suites' harness, beside `support/mod.rs` (which a binary including this must
//! declare as `support`): an engine on a fresh database and a test clock the scenario moves,
//! and an instance's history as a timeline of `event:stage` entries to count in.

use crate::support::{build, start_time, test_db, Backend, TestDb};
use l2c_engine::clock::TestClock;
use l2c_engine::handler::Handlers;
use l2c_engine::runtime::EngineBuilder;
use l2c_engine::Engine;

/// An engine on a test database and a test clock.
pub struct Harness {
    pub engine: Engine,
    pub clock: TestClock,
    pub db: TestDb,
}

/// Builds a harness; `configure` adds actor checks, directories or options.
pub async fn harness_with(
    backend: Backend,
    defs: &[(&str, &str)],
    handlers: Handlers,
    configure: impl FnOnce(EngineBuilder) -> EngineBuilder,
) -> Harness {
    let db = test_db(backend).await;
    let clock = TestClock::at(start_time());
    let engine = build(&db, &clock, defs, handlers, configure).await;
    Harness { engine, clock, db }
}

/// A harness with default configuration.
pub async fn harness(backend: Backend, defs: &[(&str, &str)], handlers: Handlers) -> Harness {
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
