//! Who may do what over HTTP (the role x endpoint matrix), nobody approving their own order,
//! twenty approvers racing for one task, and incidents worked by an admin — through the real
//! server on SQLite and (when `L2C_TEST_DATABASE_URL` is set) PostgreSQL.

use crate::support;

use l2c::settings::Settings;
use serde_json::{json, Value};
use support::client::Api;
use support::{world, world_with, Backend};

scenarios!(
    the_access_matrix,
    requesters_see_only_their_account,
    nobody_approves_their_own_order,
    twenty_racing_approvals_one_wins,
    incidents_are_retried_and_skipped,
    a_user_created_with_a_password_signs_in_with_it,
);

fn wan(bandwidth: i64) -> Value {
    json!({"billing_account": "ACME-EUR", "items": [{"action": "add", "offering": "wan-link",
        "characteristics": {"bandwidth_mbps": bandwidth, "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]})
}

async fn placed(api: &Api) -> String {
    let r = api.post("rita", "/api/v1/orders", wan(100)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

const PEOPLE: [&str; 7] = ["rita", "gus", "sam", "nina", "fred", "fay", "ada"];

async fn the_access_matrix(backend: Backend) {
    let w = world(backend).await;
    let api = Api::start(w).await;
    let order = placed(&api).await;
    let task = api.task("nina", "network-engineering").await;
    let task = task["id"].as_str().expect("task").to_string();
    // (method, path, body, expected status for rita, gus, sam, nina, fred, fay, ada)
    let cases: Vec<(&str, String, Value, [u16; 7])> = vec![
        (
            "GET",
            "/api/v1/orders".into(),
            json!(null),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            format!("/api/v1/orders/{order}"),
            json!(null),
            [200, 404, 200, 200, 200, 200, 200],
        ),
        (
            "POST",
            "/api/v1/orders".into(),
            json!({}),
            [422, 422, 403, 403, 403, 403, 403],
        ),
        (
            "POST",
            format!("/api/v1/orders/{order}/cancel"),
            json!({"reason": ""}),
            [422, 404, 403, 403, 403, 403, 422],
        ),
        (
            "GET",
            "/api/v1/tasks".into(),
            json!(null),
            [403, 403, 200, 200, 200, 403, 200],
        ),
        (
            "GET",
            format!("/api/v1/tasks/{task}"),
            json!(null),
            [404, 404, 404, 200, 404, 404, 200],
        ),
        (
            "POST",
            format!("/api/v1/tasks/{task}/claim"),
            json!(null),
            [404, 404, 404, 200, 404, 404, 403],
        ),
        (
            "POST",
            format!("/api/v1/tasks/{task}/release"),
            json!(null),
            [404, 404, 404, 200, 404, 404, 403],
        ),
        // Roles that never work tasks are refused before the (invalid) body is read.
        (
            "POST",
            format!("/api/v1/tasks/{task}/reject"),
            json!({}),
            [403, 403, 422, 422, 422, 403, 403],
        ),
        (
            "GET",
            "/api/v1/incidents".into(),
            json!(null),
            [403, 403, 403, 403, 403, 403, 200],
        ),
        (
            "POST",
            "/api/v1/incidents/nope/retry".into(),
            json!(null),
            [403, 403, 403, 403, 403, 403, 404],
        ),
        (
            "POST",
            "/api/v1/users".into(),
            json!({}),
            [403, 403, 403, 403, 403, 403, 422],
        ),
        (
            "POST",
            "/api/v1/users".into(),
            json!({"name": "x", "role": "finance"}),
            [403, 403, 403, 403, 403, 403, 201],
        ),
        (
            "POST",
            "/api/v1/customer-accounts".into(),
            json!({"id": "NEW", "name": "N", "segment": "smb", "country": "FR"}),
            [403, 403, 403, 403, 403, 403, 201],
        ),
        (
            "POST",
            "/api/v1/billing-accounts".into(),
            json!({}),
            [403, 403, 403, 403, 403, 422, 422],
        ),
        (
            "GET",
            "/api/v1/billing-accounts".into(),
            json!(null),
            [200, 200, 403, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/subscriptions".into(),
            json!(null),
            [200, 200, 403, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/products".into(),
            json!(null),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/catalog/offerings".into(),
            json!(null),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/catalog/offerings/wan-link".into(),
            json!(null),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/tmf-api/productOrderingManagement/v4/productOrder".into(),
            json!(null),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "POST",
            "/tmf-api/productOrderingManagement/v4/productOrder".into(),
            json!({}),
            [422, 422, 403, 403, 403, 403, 403],
        ),
        (
            "GET",
            "/api/v1/sandbox/clock".into(),
            json!(null),
            [403, 403, 403, 403, 403, 403, 200],
        ),
        (
            "POST",
            "/api/v1/sandbox/clock".into(),
            json!({"advance": "1s"}),
            [403, 403, 403, 403, 403, 403, 200],
        ),
        (
            "GET",
            "/api/v1/users/me".into(),
            json!(null),
            [200, 200, 200, 200, 200, 200, 200],
        ),
        (
            "GET",
            "/api/v1/billing-runs".into(),
            json!(null),
            [403, 403, 403, 403, 403, 200, 200],
        ),
        (
            "POST",
            "/api/v1/billing-runs".into(),
            json!({"dry_run": true}),
            [403, 403, 403, 403, 403, 200, 200],
        ),
        (
            "GET",
            "/api/v1/billing-runs/nope".into(),
            json!(null),
            [403, 403, 403, 403, 403, 404, 404],
        ),
        (
            "GET",
            "/api/v1/invoices".into(),
            json!(null),
            [200, 200, 403, 403, 403, 200, 200],
        ),
        (
            "POST",
            "/api/v1/invoices/nope/credit-note".into(),
            json!(null),
            [403, 403, 403, 403, 403, 404, 404],
        ),
        (
            "GET",
            "/api/v1/billing-schedules".into(),
            json!(null),
            [403, 403, 403, 403, 403, 200, 200],
        ),
        (
            "POST",
            "/api/v1/billing-schedules".into(),
            json!({}),
            [403, 403, 403, 403, 403, 422, 422],
        ),
        // Last: nina's approval decides the task; after it only the admin still sees it.
        (
            "POST",
            format!("/api/v1/tasks/{task}/approve"),
            json!(null),
            [404, 404, 404, 200, 404, 404, 403],
        ),
    ];
    for (method, path, body, expected) in &cases {
        let anonymous = api
            .send(
                None,
                api.http
                    .request(method.parse().expect("method"), api.url(path)),
            )
            .await;
        assert_eq!(anonymous.status, 401, "anonymous {method} {path}");
        for (who, want) in PEOPLE.iter().zip(expected) {
            let mut req = api
                .http
                .request(method.parse().expect("method"), api.url(path));
            if !body.is_null() {
                req = req.json(body);
            }
            let r = api.send(Some(who), req).await;
            assert_eq!(r.status, *want, "{who} {method} {path}: {:?}", r.body);
            if r.status >= 400 {
                assert_eq!(
                    r.content_type, "application/problem+json",
                    "{who} {method} {path}"
                );
            }
        }
    }
    api.stop().await;
}

async fn requesters_see_only_their_account(backend: Backend) {
    let w = world(backend).await;
    let api = Api::start(w).await;
    let order = placed(&api).await;
    assert_eq!(api.ok("gus", "/api/v1/orders").await, json!([]));
    assert_eq!(
        api.ok("gus", "/tmf-api/productOrderingManagement/v4/productOrder")
            .await,
        json!([])
    );
    assert_eq!(api.ok("gus", "/api/v1/products").await, json!([]));
    let accounts = api.ok("gus", "/api/v1/billing-accounts").await;
    let ids: Vec<&str> = accounts
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(ids, ["GLOBEX-EUR"]);
    let all = api.ok("fay", "/api/v1/billing-accounts").await;
    assert_eq!(all.as_array().map(Vec::len), Some(2));
    let product =
        api.ok("rita", &format!("/api/v1/orders/{order}")).await["items"][0]["product"].clone();
    let r = api
        .get(
            "gus",
            &format!("/api/v1/products/{}", product.as_str().expect("product")),
        )
        .await;
    assert_eq!(r.status, 404, "another account's product is not found");
    let bad = api
        .post(
            "gus",
            "/api/v1/orders",
            json!({"billing_account": "ACME-EUR", "items": wan(100)["items"].clone()}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["errors"][0]["rule"], "unknown_billing_account");
    api.stop().await;
}

async fn nobody_approves_their_own_order(backend: Backend) {
    let w = world(backend).await;
    let api = Api::start(w).await;
    placed(&api).await;
    let task = api.task("nina", "network-engineering").await;
    let id = task["id"].as_str().expect("task");
    for action in ["approve", "claim"] {
        let r = api
            .post("rita", &format!("/api/v1/tasks/{id}/{action}"), json!({}))
            .await;
        // Requesters work no queue: the task is not theirs to see (404), let alone approve.
        assert_eq!(r.status, 404, "{action}: {:?}", r.body);
    }
    let reject = api
        .post(
            "rita",
            &format!("/api/v1/tasks/{id}/reject"),
            json!({"reason": "mine"}),
        )
        .await;
    assert_eq!(reject.status, 403, "refused by role before anything else");
    let still = api.ok("nina", &format!("/api/v1/tasks/{id}")).await;
    assert_eq!(
        (still["state"].as_str(), still["approvals"].as_i64()),
        (Some("open"), Some(0))
    );
    // The engine's own check, beneath the roles: an approver named like the requester.
    let engine = api
        .world
        .app
        .engine
        .complete_task(id, "rita", l2c_engine::runtime::Outcome::Approve)
        .await;
    assert!(
        matches!(engine, Err(l2c_engine::EngineError::Forbidden(_))),
        "{engine:?}"
    );
    api.stop().await;
}

async fn twenty_racing_approvals_one_wins(backend: Backend) {
    let w = world(backend).await;
    let mut api = Api::start(w).await;
    let mut names = Vec::new();
    for i in 0..20 {
        let name = format!("approver{i}");
        let r = api
            .post(
                "ada",
                "/api/v1/users",
                json!({"name": name, "role": "approver", "groups": ["network-engineering"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        let token = r.body["token"].as_str().expect("token").to_string();
        api.world.tokens.insert(name.clone(), token);
        names.push(name);
    }
    placed(&api).await;
    let task = api.task("nina", "network-engineering").await;
    let path = format!(
        "/api/v1/tasks/{}/approve",
        task["id"].as_str().expect("task")
    );
    let replies =
        futures::future::join_all(names.iter().map(|n| api.post(n, &path, json!({})))).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort_unstable();
    let expected: Vec<u16> = std::iter::once(200)
        .chain(std::iter::repeat_n(409, 19))
        .collect();
    assert_eq!(
        statuses,
        expected,
        "{:?}",
        replies.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let task = api
        .ok(
            "nina",
            &format!("/api/v1/tasks/{}", task["id"].as_str().expect("task")),
        )
        .await;
    assert_eq!(
        (task["state"].as_str(), task["approvals"].as_i64()),
        (Some("completed"), Some(1))
    );
    api.stop().await;
}

async fn incidents_are_retried_and_skipped(backend: Backend) {
    let mut settings = Settings::default();
    settings.network.failure_rate = 1.0;
    let w = world_with(backend, settings).await;
    let api = Api::start(w).await;
    let order = placed(&api).await;
    let task = api.task("nina", "network-engineering").await;
    let r = api
        .post(
            "nina",
            &format!("/api/v1/tasks/{}/approve", task["id"].as_str().expect("id")),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    let incident = wait_incident(&api).await;
    assert_eq!(
        (incident["stage"].as_str(), incident["order_id"].as_str()),
        (Some("reserve-port"), Some(order.as_str()))
    );
    let o = api.ok("rita", &format!("/api/v1/orders/{order}")).await;
    let failed = o["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .find(|e| e["event"] == "step.incident");
    assert_eq!(
        failed.map(|e| &e["data"]["attempts"]),
        Some(&json!(5)),
        "five failed attempts, the policy's maximum"
    );
    let step = incident["step_id"].as_str().expect("step").to_string();
    let retried = api
        .send(
            Some("ada"),
            api.http
                .post(api.url(&format!("/api/v1/incidents/{step}/retry"))),
        )
        .await;
    assert_eq!(retried.status, 204, "{:?}", retried.body);
    wait_incident(&api).await;
    let skip = api
        .post(
            "ada",
            &format!("/api/v1/incidents/{step}/skip"),
            json!({"output": {"port": "manual-7"}}),
        )
        .await;
    assert_eq!(skip.status, 204, "{:?}", skip.body);
    assert_eq!(api.ok("ada", "/api/v1/incidents").await, json!([]));
    let o = api.ok("rita", &format!("/api/v1/orders/{order}")).await;
    let t: Vec<&str> = o["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    for e in ["step.incident", "incident.retried", "incident.skipped"] {
        assert!(t.contains(&e), "{e} in {t:?}");
    }
    let audit = api.ok("ada", "/api/v1/audit?actor=ada").await;
    let decisions: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("incident."))
        .collect();
    assert_eq!(
        decisions,
        ["incident.skip", "incident.retry"],
        "newest first"
    );
    let unknown = api
        .send(
            Some("ada"),
            api.http.post(api.url("/api/v1/incidents/nope/retry")),
        )
        .await;
    assert_eq!(unknown.status, 404);
    api.stop().await;
}

/// Advances the sandbox clock past the retry backoffs until an incident shows.
async fn wait_incident(api: &Api) -> Value {
    for _ in 0..200 {
        let list = api.ok("ada", "/api/v1/incidents").await;
        if let Some(first) = list.get(0) {
            return first.clone();
        }
        api.advance("2m").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no incident appeared");
}

async fn a_user_created_with_a_password_signs_in_with_it(backend: Backend) {
    use l2c_orders::users::{set_password, user_by_password};
    let w = world(backend).await;
    let api = Api::start(w).await;
    let short = api
        .post(
            "ada",
            "/api/v1/users",
            json!({"name": "pia", "role": "finance", "password": "short"}),
        )
        .await;
    assert_eq!(short.status, 422, "{:?}", short.body);
    assert_eq!(
        short.body["errors"][0]["path"], "password",
        "{:?}",
        short.body
    );
    let r = api
        .post(
            "ada",
            "/api/v1/users",
            json!({"name": "pia", "role": "finance", "password": "pia's long secret"}),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "the refused attempt stored nothing: {:?}",
        r.body
    );
    assert!(!r.body.to_string().contains("long secret"), "{:?}", r.body);
    let db = &api.world.app.db;
    let pia = user_by_password(db, "pia", "pia's long secret")
        .await
        .expect("look up");
    assert_eq!(pia.map(|u| u.name).as_deref(), Some("pia"));
    for (name, password) in [
        ("pia", "pia's long secreT"),
        ("nobody", "pia's long secret"),
        ("rita", ""),
    ] {
        let found = user_by_password(db, name, password).await.expect("look up");
        assert!(found.is_none(), "{name} / {password:?}");
    }
    set_password(db, "test", "pia", "a brand new secret", 0)
        .await
        .expect("set");
    assert!(user_by_password(db, "pia", "pia's long secret")
        .await
        .expect("old")
        .is_none());
    assert!(user_by_password(db, "pia", "a brand new secret")
        .await
        .expect("new")
        .is_some());
    let missing = set_password(db, "test", "nobody", "a brand new secret", 0).await;
    assert!(
        matches!(missing, Err(l2c_orders::error::DeskError::NotFound { .. })),
        "{missing:?}"
    );
    api.stop().await;
}
