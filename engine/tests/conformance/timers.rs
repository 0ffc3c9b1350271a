//! Timer stages: waiting for a duration on the clock, or until a date from the input.

use super::{logged, logging_handlers, status};
use crate::scenario::{count, harness, timeline};
use crate::support::{self, Backend};
use serde_json::json;

crate::conformance!(
    timer_stage_waits_for_the_clock,
    timer_until_a_date_from_the_input,
);

const TIMER: &str = r#"
[[stage]]
id = "wait"
kind = "timer"
duration = "2h"
[[stage]]
id = "after"
kind = "task"
handler = "log"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "wait"
to = "after"
[[edge]]
from = "after"
to = "done"
"#;

async fn timer_stage_waits_for_the_clock(backend: Backend) {
    let (handlers, log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("timer", TIMER)], handlers).await;
    let id = h
        .engine
        .start("timer", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    h.clock.advance(chrono::Duration::minutes(119));
    h.engine.run_until_idle().await.expect("run");
    assert!(logged(&log).is_empty(), "the timer has not elapsed");
    h.clock.advance(chrono::Duration::minutes(1));
    h.engine.run_until_idle().await.expect("run");
    h.engine
        .run_until_idle()
        .await
        .expect("run again fires nothing twice");
    assert_eq!(logged(&log), ["after"]);
    assert_eq!(status(&h, &id).await, "completed");
    assert_eq!(
        count(&timeline(&h.engine, &id).await, "timer.fired:wait"),
        1
    );
}

pub(super) const UNTIL: &str = r#"
[[stage]]
id = "wait"
kind = "timer"
until = "input.due"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "wait"
to = "done"
"#;

async fn timer_until_a_date_from_the_input(backend: Backend) {
    let (handlers, _log) = logging_handlers(&["log"]);
    let h = harness(backend, &[("until", UNTIL)], handlers).await;
    let due = (support::start_time() + chrono::Duration::hours(3)).to_rfc3339();
    let id = h
        .engine
        .start("until", json!({ "due": due }), None)
        .await
        .expect("start");
    h.clock.advance(chrono::Duration::minutes(179));
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "running");
    h.clock.advance(chrono::Duration::minutes(1));
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(status(&h, &id).await, "completed");
}
