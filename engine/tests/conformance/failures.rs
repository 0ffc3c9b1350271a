//! Failing steps: retries with backoff, incidents an operator retries or skips, and handler
//! timeouts.

use super::status;
use crate::scenario::{count, harness, timeline, Harness};
use crate::support::Backend;
use l2c_engine::handler::{HandlerError, Handlers};
use l2c_engine::EngineError;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

crate::conformance!(
    retry_then_success,
    incident_retry_and_skip,
    handler_timeout_counts_as_a_retryable_failure,
);

const FLAKY: &str = r#"
[[stage]]
id = "call"
kind = "task"
handler = "flaky"
retry = { max_attempts = 3, backoff = "1s", max_backoff = "10s" }
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "call"
to = "done"
"#;

/// A handler that fails with a retryable error while the counter is below `fail_first`.
fn flaky(fail_first: Arc<AtomicUsize>, calls: Arc<AtomicUsize>) -> Handlers {
    let mut handlers = Handlers::new();
    handlers.register("flaky", move |ctx| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let fail = n < fail_first.load(Ordering::SeqCst);
        async move {
            if fail {
                Err(HandlerError::Retryable(format!(
                    "503 from the provisioner ({})",
                    ctx.idempotency_key
                )))
            } else {
                Ok(json!({"provisioned": true}))
            }
        }
    });
    handlers
}

/// Runs, then moves the clock past any backoff, `rounds` times.
async fn run_with_backoff(h: &Harness, rounds: usize) {
    for _ in 0..rounds {
        h.engine.run_until_idle().await.expect("run");
        h.clock.advance(chrono::Duration::minutes(1));
    }
}

async fn retry_then_success(backend: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let handlers = flaky(Arc::new(AtomicUsize::new(2)), calls.clone());
    let h = harness(backend, &[("flaky", FLAKY)], handlers).await;
    let id = h
        .engine
        .start("flaky", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the retry waits for its backoff"
    );
    run_with_backoff(&h, 4).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    let inst = h.engine.instance(&id).await.expect("instance");
    assert_eq!(inst.status, "completed");
    assert_eq!(inst.steps[0].attempt, 3);
    let t = timeline(&h.engine, &id).await;
    assert_eq!(count(&t, "step.retry:call"), 2, "{t:?}");
    assert_eq!(count(&t, "step.completed:call"), 1);
}

async fn incident_retry_and_skip(backend: Backend) {
    let calls = Arc::new(AtomicUsize::new(0));
    let fail_first = Arc::new(AtomicUsize::new(usize::MAX));
    let handlers = flaky(fail_first.clone(), calls.clone());
    let h = harness(backend, &[("flaky", FLAKY)], handlers).await;
    let retried = h
        .engine
        .start("flaky", json!({}), None)
        .await
        .expect("start");
    let skipped = h
        .engine
        .start("flaky", json!({}), None)
        .await
        .expect("start");
    run_with_backoff(&h, 5).await;
    let incidents = h.engine.incidents().await.expect("incidents");
    assert_eq!(incidents.len(), 2, "{incidents:?}");
    assert!(incidents[0]
        .error
        .as_deref()
        .unwrap_or_default()
        .contains("503"));
    assert_eq!(calls.load(Ordering::SeqCst), 6, "three attempts each");
    assert_eq!(status(&h, &retried).await, "running");

    fail_first.store(0, Ordering::SeqCst);
    let step = |id: &str| {
        incidents
            .iter()
            .find(|i| i.instance_id == id)
            .expect("incident")
            .step_id
            .clone()
    };
    h.engine
        .retry_incident(&step(&retried), "oscar")
        .await
        .expect("retry");
    h.engine
        .skip_incident(
            &step(&skipped),
            "oscar",
            json!({"skipped_by_operator": true}),
        )
        .await
        .expect("skip");
    let again = h.engine.retry_incident(&step(&skipped), "oscar").await;
    assert!(matches!(again, Err(EngineError::Conflict(_))), "{again:?}");
    h.engine.run_until_idle().await.expect("run");
    assert!(h.engine.incidents().await.expect("incidents").is_empty());
    assert_eq!(
        h.engine.instance(&retried).await.expect("i").output,
        json!({"provisioned": true})
    );
    let skip = h.engine.instance(&skipped).await.expect("i");
    assert_eq!(skip.status, "completed");
    assert_eq!(skip.output, json!({"skipped_by_operator": true}));
    assert_eq!(skip.steps[0].state, "skipped");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        7,
        "the skipped step is not called again"
    );
}

const SLOW_ONCE: &str = r#"
[[stage]]
id = "call"
kind = "task"
handler = "sleepy"
timeout = "50ms"
retry = { max_attempts = 1, backoff = "1s", max_backoff = "1s" }
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "call"
to = "done"
"#;

async fn handler_timeout_counts_as_a_retryable_failure(backend: Backend) {
    let mut handlers = Handlers::new();
    handlers.register("sleepy", |_ctx| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok(Value::Null)
    });
    let h = harness(backend, &[("slow", SLOW_ONCE)], handlers).await;
    let id = h
        .engine
        .start("slow", json!({}), None)
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let incidents = h.engine.incidents().await.expect("incidents");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].instance_id, id);
    assert!(
        incidents[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("timed out"),
        "{incidents:?}"
    );
}
