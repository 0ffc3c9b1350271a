//! Orders through their real workflows on the engine (SQLite, and PostgreSQL when
//! `L2C_TEST_DATABASE_URL` is set): delivery to an active product and subscription,
//! commercial rejection, cancellation, the upgrade of a running link, validation and
//! idempotent placement.

use crate::support;

use l2c_engine::runtime::Outcome;
use l2c_orders::error::DeskError;
use l2c_orders::model::OrderRequest;
use l2c_orders::model::Placed;
use l2c_orders::place::place;
use l2c_orders::state::{ItemState, OrderState};
use l2c_orders::users::User;
use l2c_orders::{self as orders, cancel};
use serde_json::{json, Value};
use sqlx::Row;
use support::{world, Backend, World};

scenarios!(
    a_wan_link_is_delivered_and_billed,
    commercial_rejection_ends_the_order_with_its_reason,
    cancellation_in_progress_compensates,
    a_running_link_is_upgraded,
    an_upgrade_fee_is_taxed_and_labelled_by_the_upgrade,
    every_validation_problem_is_reported_with_its_path,
    placement_is_idempotent_per_key,
    concurrent_orders_commit_together_and_fail_alone,
    racing_changes_of_one_product_store_one,
    large_batches_are_written_in_chunks,
    an_order_the_database_refuses_fails_alone,
);

fn request(v: Value) -> OrderRequest {
    serde_json::from_value(v).expect("order request")
}

fn wan_link(bandwidth: i64) -> OrderRequest {
    request(json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "add", "offering": "wan-link",
                   "characteristics": {"bandwidth_mbps": bandwidth, "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]
    }))
}

async fn run(w: &World) {
    w.app.engine.run_until_idle().await.expect("workers run");
}

async fn order_state(w: &World, id: &str) -> (OrderState, Vec<ItemState>) {
    let o = orders::visible(&w.app.orders, &w.ada, id)
        .await
        .expect("order");
    (o.state, o.items.iter().map(|i| i.state).collect())
}

/// Acts on the one open task of `group` as `user`.
async fn act(w: &World, group: &str, user: &User, outcome: Outcome) {
    let tasks = w.app.engine.open_tasks(group).await.expect("tasks");
    assert_eq!(tasks.len(), 1, "one open task in {group}: {tasks:?}");
    w.app
        .engine
        .complete_task(&tasks[0].id, &user.name, outcome)
        .await
        .expect("task completes");
    run(w).await;
}

async fn count(w: &World, sql: &str, bind: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .bind(bind.to_string())
        .fetch_one(&w.app.db.pool)
        .await
        .expect("count")
        .get::<i64, _>(0)
}

/// Places and delivers a wan link; returns the order and product ids.
async fn deliver_wan_link(w: &World, bandwidth: i64) -> (String, String) {
    let placed = place(&w.app.orders, &w.rita, &wan_link(bandwidth), None)
        .await
        .expect("placed");
    run(w).await;
    act(w, "network-engineering", &w.nina, Outcome::Approve).await;
    act(
        w,
        "field-engineers",
        &w.fred,
        Outcome::Done {
            data: json!({"cpe_serial": "FGL1234"}),
        },
    )
    .await;
    let order = orders::visible(&w.app.orders, &w.rita, &placed.order_id)
        .await
        .expect("order");
    (placed.order_id, order.items[0].product.clone())
}

async fn a_wan_link_is_delivered_and_billed(backend: Backend) {
    let w = world(backend).await;
    let placed = place(&w.app.orders, &w.rita, &wan_link(100), None)
        .await
        .expect("placed");
    assert!(placed.created);
    assert_eq!(
        order_state(&w, &placed.order_id).await,
        (OrderState::Acknowledged, vec![ItemState::Acknowledged])
    );
    run(&w).await;
    assert_eq!(
        order_state(&w, &placed.order_id).await,
        (OrderState::InProgress, vec![ItemState::InProgress])
    );
    let refused = w
        .app
        .engine
        .open_tasks("network-engineering")
        .await
        .expect("tasks");
    let own = w
        .app
        .engine
        .complete_task(&refused[0].id, "rita", Outcome::Approve)
        .await;
    assert!(
        matches!(own, Err(l2c_engine::EngineError::Forbidden(_))),
        "{own:?}"
    );
    act(&w, "network-engineering", &w.nina, Outcome::Approve).await;
    let port = count(&w, "SELECT COUNT(*) FROM net_ports WHERE state = 'configured' AND holder IS NOT NULL AND $1 = $1", "x").await;
    assert_eq!(port, 1, "the PE port is reserved and configured");
    act(
        &w,
        "field-engineers",
        &w.fred,
        Outcome::Done { data: json!({}) },
    )
    .await;
    let order = orders::visible(&w.app.orders, &w.rita, &placed.order_id)
        .await
        .expect("order");
    assert_eq!(order.state, OrderState::Completed);
    assert_eq!(order.items[0].state, ItemState::Completed);
    assert_eq!(
        (order.one_time_total.as_str(), order.monthly_total.as_str()),
        ("1500.00", "450.00")
    );
    let product = &order.items[0].product;
    let mut conn = w.app.db.pool.acquire().await.expect("conn");
    let p = l2c_orders::inventory::get(&mut conn, product)
        .await
        .expect("read")
        .expect("product");
    assert_eq!(
        (
            p.status.as_str(),
            p.characteristics["bandwidth_mbps"].as_i64()
        ),
        ("active", Some(100))
    );
    let charges = sqlx::query(
        "SELECT c.price_id, c.amount, c.kind FROM subscription_charges c JOIN subscriptions s ON s.id = c.subscription_id \
         WHERE s.product_id = $1 ORDER BY c.price_id",
    )
    .bind(product.clone())
    .fetch_all(&w.app.db.pool)
    .await
    .expect("charges");
    let charges: Vec<(String, String, String)> = charges
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        charges,
        [
            ("installation".into(), "1500.00".into(), "one_time".into()),
            ("service".into(), "450.00".into(), "recurring".into())
        ]
    );
    let timeline = orders::timeline(&w.app.orders, &placed.order_id)
        .await
        .expect("timeline");
    let events: Vec<String> = timeline.iter().map(|e| e.event.clone()).collect();
    for wanted in [
        "state:acknowledged",
        "state:inProgress",
        "task.approved",
        "task.done",
        "state:completed",
    ] {
        assert!(events.iter().any(|e| e == wanted), "{wanted} in {events:?}");
    }
    assert_eq!(
        events.first().map(String::as_str),
        Some("state:acknowledged")
    );
    // The workflow's end and the final state share an instant; the final state closes it.
    assert_eq!(
        events.last().map(String::as_str),
        Some("state:completed"),
        "{events:?}"
    );
}

async fn commercial_rejection_ends_the_order_with_its_reason(backend: Backend) {
    let w = world(backend).await;
    let placed = place(&w.app.orders, &w.rita, &wan_link(1000), None)
        .await
        .expect("placed");
    run(&w).await;
    assert_eq!(
        order_state(&w, &placed.order_id).await.0,
        OrderState::Acknowledged
    );
    let tasks = w
        .app
        .engine
        .open_tasks("sales-managers")
        .await
        .expect("tasks");
    let blank = w
        .app
        .engine
        .complete_task(
            &tasks[0].id,
            &w.sam.name,
            Outcome::Reject { reason: " ".into() },
        )
        .await;
    assert!(blank.is_err(), "a rejection needs a reason");
    act(
        &w,
        "sales-managers",
        &w.sam,
        Outcome::Reject {
            reason: "over the customer's budget".into(),
        },
    )
    .await;
    let order = orders::visible(&w.app.orders, &w.rita, &placed.order_id)
        .await
        .expect("order");
    assert_eq!(order.state, OrderState::Rejected);
    assert_eq!(order.reason.as_deref(), Some("over the customer's budget"));
    assert_eq!(order.items[0].state, ItemState::Cancelled);
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) FROM products WHERE order_id = $1",
            &placed.order_id
        )
        .await,
        0
    );
    let events = orders::store::events(
        &mut w.app.db.pool.acquire().await.expect("conn"),
        &placed.order_id,
    )
    .await
    .expect("events");
    let last = events.last().expect("events");
    assert_eq!(
        (last.to, last.actor.as_deref()),
        (OrderState::Rejected, Some("sam"))
    );
}

async fn cancellation_in_progress_compensates(backend: Backend) {
    let w = world(backend).await;
    let placed = place(&w.app.orders, &w.rita, &wan_link(100), None)
        .await
        .expect("placed");
    run(&w).await;
    act(&w, "network-engineering", &w.nina, Outcome::Approve).await;
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) FROM net_ports WHERE holder IS NOT NULL AND $1 = $1",
            "x"
        )
        .await,
        1
    );
    let blank = cancel::cancel(&w.app.orders, &w.rita, &placed.order_id, "").await;
    assert!(matches!(blank, Err(DeskError::Validation(_))), "{blank:?}");
    let stranger = cancel::cancel(&w.app.orders, &w.other, &placed.order_id, "not mine").await;
    assert!(
        matches!(stranger, Err(DeskError::NotFound { .. })),
        "{stranger:?}"
    );
    let outcome = cancel::cancel(&w.app.orders, &w.rita, &placed.order_id, "site closed")
        .await
        .expect("cancel");
    assert_eq!(outcome, cancel::Cancellation::Accepted);
    run(&w).await;
    let order = orders::visible(&w.app.orders, &w.rita, &placed.order_id)
        .await
        .expect("order");
    assert_eq!(
        (order.state, order.items[0].state),
        (OrderState::Cancelled, ItemState::Cancelled)
    );
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) FROM net_ports WHERE holder IS NOT NULL AND $1 = $1",
            "x"
        )
        .await,
        0,
        "port released"
    );
    let p = count(
        &w,
        "SELECT COUNT(*) FROM products WHERE status = 'terminated' AND order_id = $1",
        &placed.order_id,
    )
    .await;
    assert_eq!(p, 1);
    let states: Vec<OrderState> = orders::store::events(
        &mut w.app.db.pool.acquire().await.expect("conn"),
        &placed.order_id,
    )
    .await
    .expect("events")
    .iter()
    .map(|e| e.to)
    .collect();
    assert_eq!(
        states,
        [
            OrderState::Acknowledged,
            OrderState::InProgress,
            OrderState::AssessingCancellation,
            OrderState::PendingCancellation,
            OrderState::Cancelled
        ]
    );
    let again = cancel::cancel(&w.app.orders, &w.rita, &placed.order_id, "twice").await;
    assert!(matches!(again, Err(DeskError::Conflict(_))), "{again:?}");
}

async fn a_running_link_is_upgraded(backend: Backend) {
    let w = world(backend).await;
    let (_, product) = deliver_wan_link(&w, 100).await;
    let upgrade = request(json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "modify", "offering": "bandwidth-upgrade", "product": product,
                   "characteristics": {"bandwidth_mbps": 500}}]
    }));
    let placed = place(&w.app.orders, &w.rita, &upgrade, None)
        .await
        .expect("upgrade placed");
    let again = place(&w.app.orders, &w.rita, &upgrade, None).await;
    assert!(
        matches!(&again, Err(DeskError::Validation(p)) if p[0].rule == "product_busy"),
        "{again:?}"
    );
    run(&w).await;
    let o = orders::visible(&w.app.orders, &w.ada, &placed.order_id)
        .await
        .expect("order");
    assert_eq!(o.items[0].state, ItemState::InProgress, "{o:?}");
    act(&w, "network-engineering", &w.nina, Outcome::Approve).await;
    assert_eq!(
        order_state(&w, &placed.order_id).await,
        (OrderState::Completed, vec![ItemState::Completed])
    );
    let mut conn = w.app.db.pool.acquire().await.expect("conn");
    let p = l2c_orders::inventory::get(&mut conn, &product)
        .await
        .expect("read")
        .expect("product");
    assert_eq!(p.characteristics["bandwidth_mbps"].as_i64(), Some(500));
    let rows = sqlx::query(
        "SELECT c.price_id, c.amount, c.effective_to FROM subscription_charges c \
         JOIN subscriptions s ON s.id = c.subscription_id WHERE s.product_id = $1 AND c.kind = 'recurring' ORDER BY c.amount",
    )
    .bind(product.clone())
    .fetch_all(&w.app.db.pool)
    .await
    .expect("charges");
    let recurring: Vec<(String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<String, _>(1),
                r.get::<Option<String>, _>(2).is_none(),
            )
        })
        .collect();
    assert_eq!(
        recurring,
        [("450.00".to_string(), false), ("890.00".to_string(), true)]
    );
    let bw = count(
        &w,
        "SELECT bandwidth_mbps FROM net_ports WHERE holder = $1",
        &product,
    )
    .await;
    assert_eq!(bw, 500);
    let downgrade = request(json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "modify", "offering": "bandwidth-upgrade", "product": product,
                   "characteristics": {"bandwidth_mbps": 100}}]
    }));
    let refused = place(&w.app.orders, &w.rita, &downgrade, None).await;
    assert!(
        matches!(&refused, Err(DeskError::Validation(p)) if p[0].rule == "increase_only"),
        "{refused:?}"
    );
}

/// The reconfiguration fee is priced by bandwidth-upgrade, so it takes that offering's VAT
/// (7% here) and label; the re-quoted monthly prices stay the WAN link's (19%).
async fn an_upgrade_fee_is_taxed_and_labelled_by_the_upgrade(backend: Backend) {
    let w = world(backend).await;
    sqlx::query("UPDATE billing_accounts SET tax_by_offering = $1 WHERE id = 'ACME-EUR'")
        .bind(r#"{"bandwidth-upgrade": {"category": "S", "percent": "7"}}"#)
        .execute(&w.app.db.pool)
        .await
        .expect("tax by offering");
    let (_, product) = deliver_wan_link(&w, 100).await;
    let upgrade = request(json!({
        "billing_account": "ACME-EUR",
        "items": [{"action": "modify", "offering": "bandwidth-upgrade", "product": product,
                   "characteristics": {"bandwidth_mbps": 500}}]
    }));
    place(&w.app.orders, &w.rita, &upgrade, None)
        .await
        .expect("upgrade placed");
    run(&w).await;
    act(&w, "network-engineering", &w.nina, Outcome::Approve).await;
    let next_month = (w.app.clock.now() + chrono::Duration::days(40)).date_naive();
    support::billing::run_on(&w.app, &next_month.to_string()).await;
    let invoice = support::billing::all_invoices(&w.app).await.remove(0);
    let (_, doc) = l2c_invoicing::read::document_of(&w.app.db, &invoice.id)
        .await
        .expect("document");
    let fees: Vec<(String, String)> = doc
        .invoice
        .lines()
        .iter()
        .filter(|l| l.description().starts_with("Reconfiguration"))
        .map(|l| (l.description().to_string(), l.tax().to_string()))
        .collect();
    assert_eq!(
        fees,
        [(
            format!("Reconfiguration (bandwidth-upgrade {product})"),
            "S 7%".to_string()
        )]
    );
    let rates: Vec<String> = doc
        .invoice
        .tax_subtotals()
        .iter()
        .map(|s| s.rate.to_string())
        .collect();
    assert_eq!(rates, ["S 7%", "S 19%"]);
    let monthly = doc
        .invoice
        .lines()
        .iter()
        .filter(|l| l.description().contains("(wan-link "))
        .map(|l| l.tax().to_string())
        .collect::<Vec<_>>();
    assert!(
        !monthly.is_empty() && monthly.iter().all(|t| t == "S 19%"),
        "{monthly:?}"
    );
    assert!(doc.invoice.check_rules().is_empty());
}

async fn every_validation_problem_is_reported_with_its_path(backend: Backend) {
    let w = world(backend).await;
    let bad = request(json!({
        "billing_account": "GLOBEX-EUR",
        "requested_completion_date": "2001-01-01",
        "items": [
            {"action": "add", "offering": "wan-link",
             "characteristics": {"bandwidth_mbps": 250, "a_end_site": "frankfurt", "b_end_site": "MUC-002"}},
            {"action": "add", "offering": "teleporter"},
            {"action": "modify", "offering": "bandwidth-upgrade", "characteristics": {"bandwidth_mbps": 500}},
            {"action": "delete", "offering": "wan-link", "product": "not-a-product"}
        ]
    }));
    let Err(DeskError::Validation(problems)) = place(&w.app.orders, &w.rita, &bad, None).await
    else {
        panic!("refused");
    };
    let got: Vec<(&str, &str)> = problems.iter().map(|p| (p.path.as_str(), p.rule)).collect();
    assert_eq!(
        got,
        [
            ("billing_account", "unknown_billing_account"),
            ("requested_completion_date", "not_in_past"),
            ("items[0].characteristics.bandwidth_mbps", "allowed_values"),
            ("items[0].characteristics.a_end_site", "pattern"),
            ("items[1].offering", "unknown_offering"),
            ("items[2].product", "required"),
            ("items[3].product", "unknown_product"),
        ]
    );
    assert_eq!(
        count(&w, "SELECT COUNT(*) FROM orders WHERE $1 = $1", "x").await,
        0,
        "nothing stored"
    );
}

async fn placement_is_idempotent_per_key(backend: Backend) {
    let w = world(backend).await;
    let first = place(&w.app.orders, &w.rita, &wan_link(100), Some("key-1"))
        .await
        .expect("placed");
    let again = place(&w.app.orders, &w.rita, &wan_link(100), Some("key-1"))
        .await
        .expect("replayed");
    assert_eq!(
        again,
        Placed {
            order_id: first.order_id.clone(),
            created: false
        }
    );
    let different = place(&w.app.orders, &w.rita, &wan_link(50), Some("key-1")).await;
    assert!(
        matches!(
            different,
            Err(DeskError::BadRequest {
                rule: "idempotency_key_reused",
                ..
            })
        ),
        "{different:?}"
    );
    let other_user = place(&w.app.orders, &w.other, &request(json!({
        "billing_account": "GLOBEX-EUR",
        "items": [{"action": "add", "offering": "lan-setup", "characteristics": {"site": "BER-001", "port_count": 24}}]
    })), Some("key-1")).await.expect("keys are per user");
    assert_ne!(other_user.order_id, first.order_id);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, rita) = (w.app.clone(), w.rita.clone());
        set.spawn(async move { place(&app.orders, &rita, &wan_link(10), Some("key-2")).await });
    }
    let mut ids = Vec::new();
    while let Some(r) = set.join_next().await {
        ids.push(r.expect("join").expect("placed").order_id);
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "eight racing requests with one key place one order"
    );
    assert_eq!(
        count(
            &w,
            "SELECT COUNT(*) FROM orders WHERE customer_account_id = $1",
            "ACME"
        )
        .await,
        2
    );
}

/// Orders placed at the same moment are written together (group commit); one order refused
/// inside the batch (a key reused with another body) leaves every other one stored, and two
/// racing requests with one key and one body place one order.
async fn concurrent_orders_commit_together_and_fail_alone(backend: Backend) {
    let w = world(backend).await;
    let mut calls = Vec::new();
    for i in 0..40 {
        let (key, bandwidth) = match i {
            0 | 1 => (Some("same".to_string()), 100),
            2 => (Some("clash".to_string()), 100),
            3 => (Some("clash".to_string()), 50),
            _ => (Some(format!("k{i}")), 100),
        };
        let app = w.app.clone();
        let rita = w.rita.clone();
        calls.push(tokio::spawn(async move {
            place(&app.orders, &rita, &wan_link(bandwidth), key.as_deref()).await
        }));
    }
    let mut placed = Vec::new();
    let mut refused = Vec::new();
    for call in calls {
        match call.await.expect("task") {
            Ok(p) => placed.push(p),
            Err(e) => refused.push(e.to_string()),
        }
    }
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(
        refused[0].contains("was used for a different order request"),
        "{refused:?}"
    );
    let ids: std::collections::BTreeSet<&str> =
        placed.iter().map(|p| p.order_id.as_str()).collect();
    assert_eq!(
        ids.len(),
        38,
        "40 requests, one refused, one a replay of its twin"
    );
    assert_eq!(placed.iter().filter(|p| !p.created).count(), 1);
    let stored = count(
        &w,
        "SELECT COUNT(*) FROM orders WHERE requester = $1",
        "rita",
    )
    .await;
    assert_eq!(stored, 38);
    let instances = count(
        &w,
        "SELECT COUNT(*) FROM orders WHERE requester = $1 AND instance_id IS NOT NULL",
        "rita",
    )
    .await;
    assert_eq!(instances, 38, "every stored order started its workflow");
}

/// Many upgrades of one running link placed at once: validation alone cannot see the others,
/// the write re-checks inside its transaction, so exactly one is stored.
async fn racing_changes_of_one_product_store_one(backend: Backend) {
    let w = world(backend).await;
    let (_, product) = deliver_wan_link(&w, 100).await;
    let upgrade = request(json!({"billing_account": "ACME-EUR",
        "items": [{"action": "modify", "offering": "bandwidth-upgrade", "product": product,
                   "characteristics": {"bandwidth_mbps": 1000}}]}));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let (app, rita, upgrade) = (w.app.clone(), w.rita.clone(), upgrade.clone());
            tokio::spawn(async move { place(&app.orders, &rita, &upgrade, None).await })
        })
        .collect();
    let mut stored = 0;
    for call in calls {
        match call.await.expect("task") {
            Ok(_) => stored += 1,
            Err(DeskError::Validation(p)) => assert_eq!(p[0].rule, "product_busy", "{p:?}"),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(stored, 1);
    let open = count(
        &w,
        "SELECT COUNT(*) FROM order_items WHERE product_id = $1 AND action = 'modify'",
        &product,
    )
    .await;
    assert_eq!(open, 1);
}

/// Many large orders at once: a batch's multi-row statements are cut into chunks that fit
/// each backend's limit on bound parameters, and every item of every order is stored.
async fn large_batches_are_written_in_chunks(backend: Backend) {
    let w = world(backend).await;
    let item = json!({"action": "add", "offering": "lan-setup",
        "characteristics": {"site": "FRA-001", "port_count": 24, "poe": false}});
    let big = request(json!({"billing_account": "ACME-EUR", "items": vec![item; 100]}));
    let calls: Vec<_> = (0..40)
        .map(|_| {
            let (app, rita, big) = (w.app.clone(), w.rita.clone(), big.clone());
            tokio::spawn(async move { place(&app.orders, &rita, &big, None).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task").expect("placed");
    }
    let items = count(
        &w,
        "SELECT COUNT(*) FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.requester = $1",
        "rita",
    )
    .await;
    assert_eq!(items, 4000);
    let events = count(
        &w,
        "SELECT COUNT(*) FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.requester = $1",
        "rita",
    )
    .await;
    assert_eq!(events, 40);
}

/// The database refuses one order of a batch (a trigger stands in for any constraint): that
/// order fails, the batch is written again order by order, and every other order is stored.
async fn an_order_the_database_refuses_fails_alone(backend: Backend) {
    let w = world(backend).await;
    let trigger: &[&str] = match backend {
        Backend::Sqlite => &["CREATE TRIGGER refuse_poison BEFORE INSERT ON orders \
            WHEN NEW.external_id = 'POISON' BEGIN SELECT RAISE(ABORT, 'poison'); END"],
        Backend::Postgres => &[
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN \
             IF NEW.external_id = 'POISON' THEN RAISE EXCEPTION 'poison'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON orders \
             FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
        ],
    };
    for sql in trigger {
        sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&w.app.db.pool)
            .await
            .expect("trigger");
    }
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let mut order = wan_link(100);
            order.external_id = Some(if i == 7 {
                "POISON".into()
            } else {
                format!("PO-{i}")
            });
            let (app, rita) = (w.app.clone(), w.rita.clone());
            tokio::spawn(async move { place(&app.orders, &rita, &order, None).await })
        })
        .collect();
    let mut failed = Vec::new();
    for (i, call) in calls.into_iter().enumerate() {
        if call.await.expect("task").is_err() {
            failed.push(i);
        }
    }
    assert_eq!(failed, [7]);
    let stored = count(
        &w,
        "SELECT COUNT(*) FROM orders WHERE requester = $1",
        "rita",
    )
    .await;
    assert_eq!(stored, 19);
}
