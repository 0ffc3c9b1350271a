//! Tamper-evident records through the real server: an order's own events and its workflows'
//! history verify after a real order, and a changed, deleted, moved or cut event is found at
//! its first broken link; changes to users, tokens, accounts and schedules are in the audit
//! log with who, what and before/after, whose chain is verified too; an order's trail is
//! exported and its hashes recomputed here as a third party would.

use crate::support;

use l2c_orders::event_chain;
use serde_json::json;
use support::client::Api;
use support::{world, Backend};

scenarios!(
    order_event_tampering_is_found_at_its_first_broken_link,
    changes_are_audited_and_the_chains_verified,
    an_orders_trail_is_exported_and_verified_by_a_third_party,
);

/// A cancelled order (five events of its own); returns its id.
async fn cancelled_order(api: &Api) -> String {
    let id = api.place_wan().await;
    let task = api.task("nina", "network-engineering").await;
    let path = format!(
        "/api/v1/tasks/{}/approve",
        task["id"].as_str().expect("task")
    );
    assert_eq!(api.post("nina", &path, json!({})).await.status, 200);
    api.task("fred", "field-engineers").await;
    let cancel = format!("/api/v1/orders/{id}/cancel");
    let r = api
        .post("rita", &cancel, json!({"reason": "project stopped"}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    api.order_state("rita", &id, "cancelled").await;
    id
}

async fn exec(api: &Api, sql: &str) {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&api.world.app.db.pool)
        .await
        .expect(sql);
}

/// The order's event ids in chain order.
async fn event_ids(api: &Api, order: &str) -> Vec<String> {
    let sql = format!("SELECT id FROM order_events WHERE order_id = '{order}' ORDER BY position");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(&api.world.app.db.pool)
        .await
        .expect("ids")
}

/// The order's first break: (row, position).
async fn broken(api: &Api, order: &str) -> Option<(String, u64)> {
    let ids = [order.to_string()];
    event_chain::verify(&api.world.app.db, Some(&ids))
        .await
        .expect("verified")
        .map(|b| (b.row, b.position))
}

async fn order_event_tampering_is_found_at_its_first_broken_link(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(cancelled_order(&api).await);
    }
    let db = &api.world.app.db;
    assert_eq!(event_chain::verify(db, None).await.expect("all"), None);
    let history = api
        .world
        .app
        .engine
        .verify_history(None)
        .await
        .expect("all");
    assert_eq!(history, None, "the workflows' history verifies too");
    let [changed, deleted, moved, cut] = [0, 1, 2, 3].map(|i| orders[i].clone());

    let ids = event_ids(&api, &changed).await;
    assert!(ids.len() >= 4, "{ids:?}");
    exec(
        &api,
        &format!(
            "UPDATE order_events SET reason = 'customer asked' WHERE id = '{}'",
            ids[ids.len() - 1]
        ),
    )
    .await;
    assert_eq!(
        broken(&api, &changed).await,
        Some((ids[ids.len() - 1].clone(), ids.len() as u64))
    );
    let all = event_chain::verify(db, None)
        .await
        .expect("all")
        .expect("found");
    assert_eq!(all.chain, changed, "the whole walk finds it too");

    let ids = event_ids(&api, &deleted).await;
    exec(
        &api,
        &format!("DELETE FROM order_events WHERE id = '{}'", ids[1]),
    )
    .await;
    assert_eq!(broken(&api, &deleted).await, Some((ids[2].clone(), 2)));

    let ids = event_ids(&api, &moved).await;
    exec(
        &api,
        &format!(
            "UPDATE order_events SET position = 99 WHERE id = '{}'",
            ids[1]
        ),
    )
    .await;
    assert_eq!(broken(&api, &moved).await, Some((ids[2].clone(), 2)));

    let ids = event_ids(&api, &cut).await;
    exec(
        &api,
        &format!(
            "DELETE FROM order_events WHERE id = '{}'",
            ids[ids.len() - 1]
        ),
    )
    .await;
    assert_eq!(
        broken(&api, &cut).await,
        Some((cut.clone(), ids.len() as u64))
    );
    api.stop().await;
}

/// `sha256(json([prev, ...fields]))`, computed here as a third party would.
fn link(prev: Option<&str>, fields: Vec<serde_json::Value>) -> String {
    use sha2::{Digest, Sha256};
    let mut all = vec![prev.map_or(serde_json::Value::Null, |p| json!(p))];
    all.extend(fields);
    let text = serde_json::Value::Array(all).to_string();
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

async fn changes_are_audited_and_the_chains_verified(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let zoe = json!({"name": "zoe", "role": "finance"});
    assert_eq!(api.post("ada", "/api/v1/users", zoe).await.status, 201);
    let made = api
        .post("ada", "/api/v1/users/zoe/tokens", json!({"name": "ledger"}))
        .await;
    let token = made.body["token"]["id"].as_str().expect("id").to_string();
    let revoke = api
        .http
        .delete(api.url(&format!("/api/v1/users/zoe/tokens/{token}")));
    assert_eq!(api.send(Some("ada"), revoke).await.status, 200);
    let gone = api
        .post("ada", "/api/v1/users/zoe/deactivate", json!({}))
        .await;
    assert_eq!(gone.status, 200);
    let patch = api
        .http
        .patch(api.url("/api/v1/billing-accounts/ACME-EUR"))
        .json(&json!({"payment_terms_days": 45}));
    assert_eq!(api.send(Some("fay"), patch).await.status, 200);
    let schedule = json!({"name": "monthly", "cron": "0 0 2 1 * *", "time_zone": "UTC"});
    let added = api.post("fay", "/api/v1/billing-schedules", schedule).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    let remove = api
        .http
        .delete(api.url("/api/v1/billing-schedules/monthly"));
    assert_eq!(api.send(Some("fay"), remove).await.status, 204);

    assert_eq!(
        api.get("fay", "/api/v1/audit").await.status,
        403,
        "admins only"
    );
    let log = api.ok("ada", "/api/v1/audit?limit=7").await;
    let entries = log.as_array().expect("entries");
    let seen: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or("");
            (s("actor"), s("action"), s("subject"))
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("fay", "billing_schedule.remove", "billing_schedule:monthly"),
            ("fay", "billing_schedule.add", "billing_schedule:monthly"),
            ("fay", "billing_account.update", "billing_account:ACME-EUR"),
            ("ada", "user.deactivate", "user:zoe"),
            ("ada", "token.revoke", "user:zoe"),
            ("ada", "token.add", "user:zoe"),
            ("ada", "user.add", "user:zoe"),
        ]
    );
    let update = &entries[2];
    assert_eq!(update["before"]["payment_terms_days"], 30);
    assert_eq!(update["after"]["payment_terms_days"], 45);
    let zoe_only = api.ok("ada", "/api/v1/audit?subject=user:zoe").await;
    assert_eq!(zoe_only.as_array().map(Vec::len), Some(4));
    assert_eq!(api.get("ada", "/api/v1/audit?limit=0").await.status, 422);

    let ok = api.ok("ada", "/api/v1/audit/verify").await;
    assert_eq!(ok["ok"], true, "{ok}");
    let position = entries[3]["position"].as_i64().expect("position");
    exec(
        &api,
        &format!("UPDATE audit_log SET actor = 'mallory' WHERE position = {position}"),
    )
    .await;
    let bad = api.ok("ada", "/api/v1/audit/verify").await;
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["broken"]["table"], "audit_log");
    assert_eq!(bad["broken"]["row"], position.to_string());
    exec(
        &api,
        &format!("UPDATE audit_log SET actor = 'ada' WHERE position = {position}"),
    )
    .await;
    assert_eq!(
        api.ok("ada", "/api/v1/audit/verify").await["ok"],
        true,
        "restored"
    );
    let last = entries[0]["position"].as_i64().expect("position");
    exec(
        &api,
        &format!("DELETE FROM audit_log WHERE position = {last}"),
    )
    .await;
    let cut = api.ok("ada", "/api/v1/audit/verify").await;
    assert_eq!(cut["broken"]["chain"], "audit", "{cut}");
    api.stop().await;
}

async fn an_orders_trail_is_exported_and_verified_by_a_third_party(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let id = cancelled_order(&api).await;
    let path = format!("/api/v1/orders/{id}/audit-trail");
    assert_eq!(api.get("rita", &path).await.status, 403);
    let trail = api.ok("ada", &path).await;
    let order = &trail["order"];
    let mut prev: Option<String> = None;
    for e in order["rows"].as_array().expect("events") {
        let f = |k: &str| e[k].clone();
        let fields = vec![
            json!(id),
            f("position"),
            f("at"),
            f("from_state"),
            f("to_state"),
            f("actor"),
            f("reason"),
        ];
        let hash = link(prev.as_deref(), fields);
        assert_eq!(Some(hash.as_str()), e["hash"].as_str(), "event {e}");
        prev = Some(hash);
    }
    assert_eq!(
        prev.as_deref(),
        order["head"].as_str(),
        "the head is the last hash"
    );
    let workflows = trail["workflows"].as_array().expect("workflows");
    assert!(
        workflows.len() >= 2,
        "the order's and its item's: {}",
        workflows.len()
    );
    for w in workflows {
        let instance = w["instance_id"].clone();
        let mut prev: Option<String> = None;
        for r in w["rows"].as_array().expect("rows") {
            let f = |k: &str| r[k].clone();
            let fields = vec![
                instance.clone(),
                f("at"),
                f("event"),
                f("stage"),
                f("actor"),
                f("attempt"),
                f("data"),
            ];
            let hash = link(prev.as_deref(), fields);
            assert_eq!(Some(hash.as_str()), r["hash"].as_str(), "row {r}");
            prev = Some(hash);
        }
        assert_eq!(prev.as_deref(), w["head"].as_str());
    }
    let verified = api
        .ok("ada", &format!("/api/v1/audit/verify?order={id}"))
        .await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(
        api.get("ada", "/api/v1/audit/verify?order=nope")
            .await
            .status,
        404
    );
    api.stop().await;
}
