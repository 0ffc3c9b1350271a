//! The engine's conformance suite: every scenario runs on SQLite and on PostgreSQL (a fresh
//! database per test). The PostgreSQL twins are ignored unless the tests were built with
//! `L2C_TEST_DATABASE_URL` set; then they need it at run time too.

#[path = "../support/scenario.rs"]
mod scenario;
#[path = "../support/mod.rs"]
mod support;

mod approvals;
mod chains;
mod compensation;
mod failures;
mod flow;
mod subflows;
mod timers;

use l2c_engine::handler::Handlers;
use l2c_engine::runtime::InstanceStatus;
use scenario::Harness;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// Handlers that append `stage` (or `undo:stage`) to a shared log and return `{stage: true}`.
fn logging_handlers(names: &[&str]) -> (Handlers, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut handlers = Handlers::new();
    for name in names {
        let log = log.clone();
        let name = name.to_string();
        handlers.register(name.clone(), move |ctx| {
            let log = log.clone();
            let entry = if ctx.compensating {
                format!("undo:{}", ctx.stage.trim_start_matches("compensate:"))
            } else {
                ctx.stage.clone()
            };
            let key = ctx.stage.replace('-', "_");
            async move {
                log.lock().expect("log").push(entry);
                Ok(json!({ key: true }))
            }
        });
    }
    (handlers, log)
}

fn logged(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().expect("log").clone()
}

async fn status(h: &Harness, id: &str) -> InstanceStatus {
    h.engine.instance(id).await.expect("instance").status
}

async fn one_task(h: &Harness, id: &str) -> String {
    let tasks = h.engine.instance_tasks(id).await.expect("tasks");
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    tasks[0].id.clone()
}
