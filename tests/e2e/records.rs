//! Operating records through the real server: API requests by minute with their latency
//! histogram, 401 and 403 answers, failed sign-ins and the node's heartbeat, written by the
//! node's recorder, adding up across flushes of the same minute.

use crate::support;

use serde_json::json;
use sqlx::Row;
use support::client::Api;
use support::{world, Backend};

scenarios!(
    requests_and_failed_sign_ins_are_recorded_by_minute,
    refused_orders_and_sandbox_jumps_are_recorded,
);

async fn sums(api: &Api) -> (i64, i64, i64, i64) {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT) AS r, \
         CAST(COALESCE(SUM(unauthorized), 0) AS BIGINT) AS u, \
         CAST(COALESCE(SUM(forbidden), 0) AS BIGINT) AS f, COUNT(*) AS n FROM request_minutes",
    )
    .fetch_one(&api.world.app.db.pool)
    .await
    .expect("sums");
    (row.get("r"), row.get("u"), row.get("f"), row.get("n"))
}

async fn requests_and_failed_sign_ins_are_recorded_by_minute(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let app = api.world.app.clone();
    assert_eq!(api.get("rita", "/api/v1/orders").await.status, 200);
    let anonymous = api
        .send(None, api.http.get(api.url("/api/v1/orders")))
        .await;
    assert_eq!(anonymous.status, 401);
    let refused = api.post("rita", "/api/v1/billing-runs", json!({})).await;
    assert_eq!(refused.status, 403);
    let form = [("name", "mallory"), ("password", "guess")];
    let sign_in = api
        .http
        .post(api.url("/sign-in"))
        .header("origin", api.url(""))
        .form(&form);
    assert_eq!(api.send(None, sign_in).await.status, 401);
    app.records
        .flush(&app.db, app.now_ms())
        .await
        .expect("records written");
    let (requests, unauthorized, forbidden, _) = sums(&api).await;
    assert_eq!(
        requests, 3,
        "the three API requests; the page is not an API request"
    );
    assert_eq!((unauthorized, forbidden), (2, 1));
    let latency: String = sqlx::query("SELECT latency FROM request_minutes")
        .fetch_one(&app.db.pool)
        .await
        .expect("histogram")
        .get(0);
    let counts = l2c::records::histogram(&latency);
    assert_eq!(counts.iter().sum::<u64>(), 3);

    // A second flush within the minute adds to the same row.
    assert_eq!(api.get("rita", "/api/v1/orders").await.status, 200);
    app.records
        .flush(&app.db, app.now_ms())
        .await
        .expect("records written");
    let (requests, _, _, rows) = sums(&api).await;
    assert!(
        requests == 4 && rows <= 2,
        "{requests} requests in {rows} rows"
    );
    let failed: Vec<String> = sqlx::query("SELECT name FROM sign_in_failures")
        .fetch_all(&app.db.pool)
        .await
        .expect("failures")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(failed, ["mallory"]);
    let beats: i64 = sqlx::query("SELECT COUNT(*) FROM node_heartbeats WHERE node = $1")
        .bind(app.records.node().to_string())
        .fetch_one(&app.db.pool)
        .await
        .expect("beats")
        .get(0);
    assert!(beats >= 1, "the node recorded that it was up");
    api.stop().await;
}

async fn count(api: &Api, sql: &str) -> i64 {
    sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&api.world.app.db.pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

/// An order refused for its fields counts as a refusal (a well-formed one does not); moving
/// the sandbox clock two days records the node up through those minutes.
async fn refused_orders_and_sandbox_jumps_are_recorded(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let app = api.world.app.clone();
    let bad = json!({"billing_account": "ACME-EUR", "items": [{"action": "add",
        "offering": "no-such-offering", "characteristics": {}}]});
    let refused = api.post("rita", "/api/v1/orders", bad).await;
    assert_eq!(refused.status, 422, "{:?}", refused.body);
    let listed = api.get("rita", "/api/v1/orders").await;
    assert_eq!(listed.status, 200);
    let moved = api
        .post("ada", "/api/v1/sandbox/clock", json!({"advance": "2days"}))
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    app.records
        .flush(&app.db, app.now_ms())
        .await
        .expect("records written");
    let refusals = "SELECT CAST(COALESCE(SUM(order_refusals), 0) AS BIGINT) FROM request_minutes";
    assert_eq!(count(&api, refusals).await, 1);
    let beats = count(&api, "SELECT COUNT(*) FROM node_heartbeats").await;
    assert!(
        (2 * 24 * 60..=2 * 24 * 60 + 3).contains(&beats),
        "two days of minutes, and the flush's own: {beats}"
    );
    api.stop().await;
}
