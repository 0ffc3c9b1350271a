//! Access that can be taken back, through the real server: named tokens made, listed (never
//! their secrets), used, rotated, revoked and expired; a user deactivated, whose tokens and
//! sessions stop and whose claimed tasks return to the queue; and two nodes on one database,
//! where a deactivation on one stops the user on the other within a second.

use crate::support;

use l2c::app::{App, AppOptions};
use l2c::server::Server;
use l2c_orders::sessions;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::client::{Api, Reply};
use support::{world, Backend};

scenarios!(
    tokens_are_named_listed_rotated_and_revoked,
    a_token_stops_at_its_expiry,
    a_deactivated_user_is_shut_out_and_their_claims_return,
    deactivation_reaches_another_node_within_a_second,
    deactivating_again_returns_claims_an_earlier_attempt_left,
);

/// GET `path` with a raw bearer `token` on `base`.
async fn get_with(api: &Api, base: &str, token: &str, path: &str) -> Reply {
    let req = api.http.get(format!("{base}{path}")).bearer_auth(token);
    api.send(None, req).await
}

/// Makes a token named `name` for `user` as `by`; returns (id, secret).
async fn make(api: &Api, by: &str, user: &str, body: Value) -> (String, String) {
    let r = api
        .post(by, &format!("/api/v1/users/{user}/tokens"), body)
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["token"]["id"].as_str().expect("id").to_string();
    let secret = r.body["secret"].as_str().expect("secret").to_string();
    (id, secret)
}

async fn tokens_are_named_listed_rotated_and_revoked(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let base = api.server.url();
    let (id, secret) = make(&api, "ada", "rita", json!({"name": "portal"})).await;
    assert_eq!(
        get_with(&api, &base, &secret, "/api/v1/orders")
            .await
            .status,
        200
    );
    let old = api.world.tokens["rita"].clone();
    assert_eq!(
        get_with(&api, &base, &old, "/api/v1/orders").await.status,
        200,
        "the first token still works beside the new one"
    );

    let again = api
        .post(
            "ada",
            "/api/v1/users/rita/tokens",
            json!({"name": "portal"}),
        )
        .await;
    assert_eq!(again.status, 422);
    assert_eq!(again.body["errors"][0]["path"], "name");
    assert_eq!(again.body["errors"][0]["rule"], "unique");
    let past = api
        .post(
            "ada",
            "/api/v1/users/rita/tokens",
            json!({"name": "old", "expires_at": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        past.body["errors"][0]["path"], "expires_at",
        "{:?}",
        past.body
    );
    let foreign = api.get("gus", "/api/v1/users/rita/tokens").await;
    assert_eq!(foreign.status, 403, "only admins manage others' tokens");

    api.world
        .app
        .access
        .touch(&api.world.app.db)
        .await
        .expect("use written");
    let listed = api.ok("rita", "/api/v1/users/rita/tokens").await;
    let list = listed.as_array().expect("a list");
    let names: Vec<&str> = list.iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names, ["initial", "portal"]);
    assert!(list.iter().all(|t| t.get("secret").is_none()), "{listed}");
    assert!(!listed.to_string().contains(&secret), "no secret is listed");
    assert!(
        list[1]["last_used_at"].is_string(),
        "use is recorded: {listed}"
    );

    let rotated = api
        .post(
            "rita",
            &format!("/api/v1/users/rita/tokens/{id}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, 201, "{:?}", rotated.body);
    let fresh = rotated.body["secret"].as_str().expect("secret").to_string();
    assert_eq!(rotated.body["token"]["name"], "portal");
    assert_eq!(
        get_with(&api, &base, &secret, "/api/v1/orders")
            .await
            .status,
        401
    );
    assert_eq!(
        get_with(&api, &base, &fresh, "/api/v1/orders").await.status,
        200
    );

    let new_id = rotated.body["token"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let revoke = api
        .http
        .delete(api.url(&format!("/api/v1/users/rita/tokens/{new_id}")));
    let revoked = api.send(Some("ada"), revoke).await;
    assert_eq!(revoked.status, 200, "{:?}", revoked.body);
    assert!(revoked.body["revoked_at"].is_string());
    let r = get_with(&api, &base, &fresh, "/api/v1/orders").await;
    assert_eq!(r.status, 401, "revoked at once on this node");
    let twice = api
        .http
        .delete(api.url(&format!("/api/v1/users/rita/tokens/{new_id}")));
    assert_eq!(api.send(Some("ada"), twice).await.status, 409);
    api.stop().await;
}

async fn a_token_stops_at_its_expiry(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let base = api.server.url();
    let at = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let body = json!({"name": "short", "expires_at": at.to_rfc3339()});
    let (_, secret) = make(&api, "rita", "rita", body).await;
    assert_eq!(
        get_with(&api, &base, &secret, "/api/v1/orders")
            .await
            .status,
        200
    );
    let left = at - chrono::Utc::now();
    tokio::time::sleep(left.to_std().unwrap_or_default() + Duration::from_millis(100)).await;
    let r = get_with(&api, &base, &secret, "/api/v1/orders").await;
    assert_eq!(r.status, 401, "an expired token is refused, cached or not");
    api.stop().await;
}

async fn a_deactivated_user_is_shut_out_and_their_claims_return(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let app = api.world.app.clone();
    let id = api.claimed_task("nina", "network-engineering").await;
    let nina_id = api.world.nina.id.clone();
    let session = sessions::open(&app.db, &nina_id, l2c::access::wall_now())
        .await
        .expect("a web session");

    let own = api
        .post("ada", "/api/v1/users/ada/deactivate", json!({}))
        .await;
    assert_eq!(own.status, 409, "nobody deactivates themselves");
    let done = api
        .post("ada", "/api/v1/users/nina/deactivate", json!({}))
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    assert_eq!(done.body["tokens_revoked"], 1);
    assert_eq!(done.body["sessions_ended"], 1);
    assert_eq!(done.body["claims_released"], 1);
    assert_eq!(api.get("nina", "/api/v1/tasks").await.status, 401);
    let found = sessions::find(&app.db, &session.id, l2c::access::wall_now())
        .await
        .expect("looked up");
    assert!(found.is_none(), "the web session ended");
    let task = app.engine.task(&id).await.expect("the task");
    assert_eq!(task.claimed_by, None, "the claim went back to the queue");
    assert_eq!(task.state, "open");
    let users = api.ok("ada", "/api/v1/users").await;
    let nina = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["name"] == "nina"))
        .expect("nina is listed");
    assert_eq!(nina["active"], false);
    let twice = api
        .post("ada", "/api/v1/users/nina/deactivate", json!({}))
        .await;
    assert_eq!(twice.status, 409);

    let back = api
        .post("ada", "/api/v1/users/nina/reactivate", json!({}))
        .await;
    assert_eq!(back.status, 204, "{:?}", back.body);
    assert_eq!(
        api.get("nina", "/api/v1/tasks").await.status,
        401,
        "old tokens stay revoked"
    );
    let (_, secret) = make(&api, "ada", "nina", json!({"name": "back"})).await;
    let base = api.server.url();
    assert_eq!(
        get_with(&api, &base, &secret, "/api/v1/tasks").await.status,
        200
    );
    api.stop().await;
}

async fn deactivation_reaches_another_node_within_a_second(backend: Backend) {
    let w = world(backend).await;
    let url = w.app.db.url.clone();
    let api = Api::start(w).await;
    let mut options = AppOptions::new(url);
    options.engine.poll_interval = Duration::from_millis(20);
    let other = App::open(options).await.expect("second node opens");
    let node_b = Server::start(other, "127.0.0.1:0".parse().expect("addr"), 0)
        .await
        .expect("second node serves");
    let token = api.world.tokens["sam"].clone();
    // Cached on node B.
    for _ in 0..3 {
        let r = get_with(&api, &node_b.url(), &token, "/api/v1/tasks").await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    let done = api
        .post("ada", "/api/v1/users/sam/deactivate", json!({}))
        .await;
    assert_eq!(done.status, 200, "{:?}", done.body);
    let since = Instant::now();
    let mut status = 200;
    while since.elapsed() < Duration::from_secs(1) {
        status = get_with(&api, &node_b.url(), &token, "/api/v1/tasks")
            .await
            .status;
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 401, "node B still admits sam a second later");
    node_b.shutdown().await.expect("node B stops");
    api.stop().await;
}

async fn deactivating_again_returns_claims_an_earlier_attempt_left(backend: Backend) {
    let api = Api::start(world(backend).await).await;
    let id = api.claimed_task("nina", "network-engineering").await;
    // As if the claim release after an earlier deactivation had failed.
    let app = &api.world.app;
    l2c_orders::users::deactivate(&app.db, "ada", "nina", l2c::access::wall_now())
        .await
        .expect("deactivated");
    let still = app.engine.task(&id).await.expect("task");
    assert_eq!(still.claimed_by.as_deref(), Some("nina"));
    let again = api
        .post("ada", "/api/v1/users/nina/deactivate", json!({}))
        .await;
    assert_eq!(again.status, 409, "already deactivated: {:?}", again.body);
    let task = app.engine.task(&id).await.expect("task");
    assert_eq!(task.claimed_by, None, "asking again returned the claim");
    api.stop().await;
}
