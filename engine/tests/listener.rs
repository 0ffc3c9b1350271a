//! The lifecycle listener hears starts, compensations and ends inside the engine's own
//! transaction: what it writes commits or rolls back with the change it heard.

mod support;

use futures::future::BoxFuture;
use l2c_engine::clock::TestClock;
use l2c_engine::handler::{HandlerError, Handlers};
use l2c_engine::runtime::{Change, InstanceChange, Listener};
use l2c_engine::{Engine, EngineError};
use serde_json::json;
use sqlx::{AnyConnection, Row};
use std::sync::Arc;
use support::{build, start_time, test_db, Backend, TestDb};

conformance!(
    changes_are_written_in_the_engines_transaction,
    a_refusing_listener_rolls_the_start_back,
    cancel_in_rolls_back_with_the_caller,
);

/// Writes every change into `heard` with the connection it is given.
struct Recorder {
    refuse_workflow: Option<&'static str>,
}

fn describe(change: &Change) -> String {
    match change {
        Change::Started => "started".into(),
        Change::Compensating {
            outcome, reason, ..
        } => format!("compensating:{outcome}:{reason}"),
        Change::Ended { status } => format!("ended:{status}"),
    }
}

impl Listener for Recorder {
    fn on_changes<'c>(
        &'c self,
        conn: &'c mut AnyConnection,
        changes: &'c [InstanceChange],
    ) -> BoxFuture<'c, l2c_engine::Result<()>> {
        Box::pin(async move {
            for c in changes {
                if Some(c.workflow.as_str()) == self.refuse_workflow {
                    return Err(EngineError::Conflict(format!("{} refused", c.workflow)));
                }
                sqlx::query(
                    "INSERT INTO heard (instance_id, workflow, key, what) VALUES ($1, $2, $3, $4)",
                )
                .bind(c.instance_id.clone())
                .bind(c.workflow.clone())
                .bind(c.business_key.clone())
                .bind(describe(&c.change))
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        })
    }
}

const PARENT: &str = r#"
[[stage]]
id = "items"
kind = "subflow"
items = "input.items"
workflow_field = "workflow"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "items"
to = "done"
"#;

const CHILD_OK: &str = r#"
[[stage]]
id = "work"
kind = "task"
handler = "noop"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "work"
to = "done"
"#;

const CHILD_BAD: &str = r#"
[[stage]]
id = "work"
kind = "task"
handler = "boom"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "work"
to = "done"
"#;

/// An engine with a [`Recorder`] on a fresh database, which lives as long as the test.
struct Setup {
    engine: Engine,
    _db: TestDb,
}

async fn setup(backend: Backend, refuse: Option<&'static str>) -> Setup {
    let mut handlers = Handlers::new();
    handlers.register("boom", |_ctx| async {
        Err(HandlerError::Fatal("no such port".into()))
    });
    let defs = [
        ("parent", PARENT),
        ("child-ok", CHILD_OK),
        ("child-bad", CHILD_BAD),
    ];
    let recorder = Arc::new(Recorder {
        refuse_workflow: refuse,
    });
    let db = test_db(backend).await;
    let clock = TestClock::at(start_time());
    let engine = build(&db, &clock, &defs, handlers, |b| b.listener(recorder)).await;
    let h = Setup { engine, _db: db };
    sqlx::query("CREATE TABLE heard (instance_id TEXT, workflow TEXT, key TEXT, what TEXT)")
        .execute(&h.engine.db().pool)
        .await
        .expect("create heard");
    h
}

/// `(workflow, key, what)` rows heard about `workflow`, in insertion order.
async fn heard(h: &Setup, workflow: &str) -> Vec<(String, Option<String>, String)> {
    let rows = sqlx::query("SELECT workflow, key, what FROM heard WHERE workflow = $1")
        .bind(workflow.to_string())
        .fetch_all(&h.engine.db().pool)
        .await
        .expect("heard");
    rows.iter()
        .map(|r| {
            (
                r.get::<String, _>("workflow"),
                r.get::<Option<String>, _>("key"),
                r.get::<String, _>("what"),
            )
        })
        .collect()
}

async fn changes_are_written_in_the_engines_transaction(backend: Backend) {
    let h = setup(backend, None).await;
    let items = json!({"items": [{"workflow": "child-ok"}, {"workflow": "child-bad"}]});
    h.engine
        .start("parent", items, Some("order-1"))
        .await
        .expect("start");
    h.engine.run_until_idle().await.expect("run");
    let key = Some("order-1".to_string());
    assert_eq!(
        heard(&h, "parent").await,
        [
            ("parent".into(), key.clone(), "started".into()),
            ("parent".into(), key.clone(), "ended:completed".into()),
        ]
    );
    assert_eq!(
        heard(&h, "child-ok").await,
        [
            ("child-ok".into(), key.clone(), "started".into()),
            ("child-ok".into(), key.clone(), "ended:completed".into()),
        ]
    );
    assert_eq!(
        heard(&h, "child-bad").await,
        [
            ("child-bad".into(), key.clone(), "started".into()),
            (
                "child-bad".into(),
                key.clone(),
                "compensating:failed:stage work failed: no such port".into()
            ),
            ("child-bad".into(), key, "ended:failed".into()),
        ]
    );
}

async fn a_refusing_listener_rolls_the_start_back(backend: Backend) {
    let h = setup(backend, Some("child-bad")).await;
    let items = json!({"items": [{"workflow": "child-ok"}, {"workflow": "child-bad"}]});
    let refused = h.engine.start("parent", items, Some("order-2")).await;
    assert!(
        matches!(refused, Err(EngineError::Conflict(_))),
        "{refused:?}"
    );
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM wf_instances")
        .fetch_one(&h.engine.db().pool)
        .await
        .expect("count")
        .get("n");
    assert_eq!(count, 0, "nothing of the refused start is stored");
    assert!(heard(&h, "parent").await.is_empty());
}

async fn cancel_in_rolls_back_with_the_caller(backend: Backend) {
    let h = setup(backend, None).await;
    let id = h
        .engine
        .start("parent", json!({"items": [{"workflow": "child-ok"}]}), None)
        .await
        .expect("start");
    let mut tx = h.engine.db().begin_write().await.expect("begin");
    h.engine
        .cancel_in(&mut tx, &id, "rita", "changed her mind")
        .await
        .expect("cancel");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        h.engine.instance(&id).await.expect("parent").status,
        "running"
    );
    let mut tx = h.engine.db().begin_write().await.expect("begin");
    h.engine
        .cancel_in(&mut tx, &id, "rita", "changed her mind")
        .await
        .expect("cancel");
    tx.commit().await.expect("commit");
    h.engine.wake();
    h.engine.run_until_idle().await.expect("run");
    assert_eq!(
        h.engine.instance(&id).await.expect("parent").status,
        "cancelled"
    );
    let parent = heard(&h, "parent").await;
    let whats: Vec<&str> = parent.iter().map(|(_, _, w)| w.as_str()).collect();
    assert_eq!(
        whats,
        [
            "started",
            "compensating:cancelled:changed her mind",
            "ended:cancelled"
        ]
    );
}
