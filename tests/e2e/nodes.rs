//! Two l2c nodes on one database (what several `l2c serve` processes sharing PostgreSQL do):
//! an order placed through one node's API is approved and worked through the other's, both
//! nodes' workers share the steps, and every step runs once.

use crate::support;

use l2c::app::{App, AppOptions};
use l2c::server::Server;
use serde_json::json;
use std::time::Duration;
use support::client::Api;
use support::{world, Backend};

scenarios!(two_nodes_share_one_database);

async fn two_nodes_share_one_database(backend: Backend) {
    let w = world(backend).await;
    let url = w.app.db.url.clone();
    let api = Api::start(w).await;
    let mut options = AppOptions::new(url);
    options.engine.poll_interval = Duration::from_millis(20);
    let other = App::open(options).await.expect("second node opens");
    let node_b = Server::start(other, "127.0.0.1:0".parse().expect("addr"), 2)
        .await
        .expect("second node serves");
    let b = |path: &str| format!("{}{path}", node_b.url());
    let token = |name: &str| api.world.tokens[name].clone();

    let id = api.place_wan().await;
    for (user, group, action, body) in [
        ("nina", "network-engineering", "approve", json!({})),
        (
            "fred",
            "field-engineers",
            "complete",
            json!({"data": {"cpe_serial": "X1"}}),
        ),
    ] {
        let task = api.task(user, group).await;
        let path = format!(
            "/api/v1/tasks/{}/{action}",
            task["id"].as_str().expect("task")
        );
        let r = api
            .send(
                Some(user),
                api.http.post(b(&path)).bearer_auth(token(user)).json(&body),
            )
            .await;
        assert_eq!(r.status, 200, "{action} on node B: {:?}", r.body);
    }
    let order = api.order_state("rita", &id, "completed").await;
    let started: Vec<&str> = order["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter(|e| e["event"] == "step.completed")
        .filter_map(|e| e["stage"].as_str())
        .collect();
    let mut unique = started.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        started.len(),
        unique.len(),
        "every step completed once: {started:?}"
    );
    node_b.shutdown().await.expect("node B stops");
    api.stop().await;
}
