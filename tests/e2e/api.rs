//! End-to-end tests through the real HTTP API: the server on port 0 with its workers, on SQLite
//! and (when `L2C_TEST_DATABASE_URL` is set) PostgreSQL. Orders from placement to completion,
//! rejection, cancellation, an upgrade, validation, idempotency, the sandbox clock, and the
//! operational endpoints. Access rules and concurrency are in `api_access`.

use crate::support;

use serde_json::{json, Value};
use support::client::Api;
use support::{world, Backend};

scenarios!(
    an_order_is_delivered_over_http,
    commercial_rejection_needs_a_reason,
    field_rejection_compensates_the_network,
    cancellation_while_in_progress,
    a_running_link_is_upgraded_over_http,
    validation_problems_carry_paths,
    malformed_requests_are_4xx_problems,
    placement_is_idempotent,
    sla_escalates_on_the_sandbox_clock,
    tmf622_orders,
    operations_endpoints,
    a_network_element_is_replaced,
);

fn wan(bandwidth: i64) -> Value {
    json!({"billing_account": "ACME-EUR", "items": [{"action": "add", "offering": "wan-link",
        "characteristics": {"bandwidth_mbps": bandwidth, "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]})
}

async fn start(backend: Backend) -> Api {
    Api::start(world(backend).await).await
}

/// Places `body` as rita; returns the order.
async fn place(api: &Api, body: Value) -> Value {
    let r = api.post("rita", "/api/v1/orders", body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

/// Acts on the next task of `group` as `user` with `action` (approve, complete, reject).
async fn act(api: &Api, user: &str, group: &str, action: &str, body: Value) -> Value {
    let task = api.task(user, group).await;
    let id = task["id"].as_str().expect("task id");
    let r = api
        .post(user, &format!("/api/v1/tasks/{id}/{action}"), body)
        .await;
    assert_eq!(r.status, 200, "{action} {id}: {:?}", r.body);
    r.body
}

/// Places and delivers a WAN link; returns the completed order.
async fn deliver(api: &Api, bandwidth: i64) -> Value {
    let order = place(api, wan(bandwidth)).await;
    deliver_rest(api, &order).await
}

fn events(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| match e["stage"].as_str() {
            Some(stage) => format!("{}:{stage}", e["event"].as_str().unwrap_or("")),
            None => e["event"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}

async fn an_order_is_delivered_over_http(backend: Backend) {
    let api = start(backend).await;
    let placed = place(&api, wan(100)).await;
    assert_eq!(placed["state"], "acknowledged");
    assert_eq!(placed["monthly_total"], "450.00");
    let task = api.task("nina", "network-engineering").await;
    assert_eq!(task["order_id"], placed["id"]);
    assert_eq!(task["stage"], "feasibility");
    let order = deliver_rest(&api, &placed).await;
    assert_eq!(order["items"][0]["state"], "completed");
    let t = events(&order);
    for e in [
        "task.approved:feasibility",
        "step.completed:reserve-port",
        "task.done:install-cpe",
        "step.completed:activate-billing",
        "state:completed",
    ] {
        assert!(t.contains(&e.to_string()), "{e} in {t:?}");
    }
    let product = order["items"][0]["product"].as_str().expect("product");
    let p = api.ok("rita", &format!("/api/v1/products/{product}")).await;
    assert_eq!(
        (p["status"].as_str(), p["offering"].as_str()),
        (Some("active"), Some("wan-link"))
    );
    let subs = api.ok("fay", "/api/v1/subscriptions").await;
    assert_eq!(subs.as_array().map(Vec::len), Some(1), "{subs:?}");
    assert_eq!(subs[0]["product"], product);
    let amounts: Vec<&str> = subs[0]["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter_map(|c| c["amount"].as_str())
        .collect();
    assert_eq!(amounts, ["1500.00", "450.00"]);
    let mine = api.ok("rita", "/api/v1/orders").await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    api.stop().await;
}

/// The rest of a delivery after placement.
async fn deliver_rest(api: &Api, placed: &Value) -> Value {
    let id = placed["id"].as_str().expect("id");
    act(api, "nina", "network-engineering", "approve", json!({})).await;
    act(
        api,
        "fred",
        "field-engineers",
        "complete",
        json!({"data": {"cpe_serial": "CPE-1"}}),
    )
    .await;
    api.order_state("rita", id, "completed").await
}

async fn commercial_rejection_needs_a_reason(backend: Backend) {
    let api = start(backend).await;
    let placed = place(&api, wan(10000)).await;
    let id = placed["id"].as_str().expect("id");
    let task = api.task("sam", "sales-managers").await;
    let path = format!(
        "/api/v1/tasks/{}/reject",
        task["id"].as_str().expect("task")
    );
    let without = api.post("sam", &path, json!({})).await;
    assert_eq!(without.status, 422, "{:?}", without.body);
    let blank = api.post("sam", &path, json!({"reason": "  "})).await;
    assert_eq!(blank.status, 422, "{:?}", blank.body);
    assert_eq!(blank.body["errors"][0]["path"], "reason");
    let r = api
        .post("sam", &path, json!({"reason": "over budget"}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let order = api.order_state("rita", id, "rejected").await;
    assert_eq!(order["reason"], "over budget");
    assert_eq!(order["items"][0]["state"], "cancelled");
    let again = api.post("sam", &path, json!({"reason": "twice"})).await;
    assert_eq!(again.status, 409, "a decided task cannot be decided again");
    api.stop().await;
}

async fn field_rejection_compensates_the_network(backend: Backend) {
    let api = start(backend).await;
    let placed = place(&api, wan(100)).await;
    let id = placed["id"].as_str().expect("id");
    act(&api, "nina", "network-engineering", "approve", json!({})).await;
    act(
        &api,
        "fred",
        "field-engineers",
        "reject",
        json!({"reason": "site has no power"}),
    )
    .await;
    let order = api
        .wait(
            "rita",
            &format!("/api/v1/orders/{id}"),
            "a final state",
            |o| o["state"] == "failed",
        )
        .await;
    assert_eq!(order["items"][0]["state"], "failed");
    let t = events(&order);
    let undo: Vec<&String> = t
        .iter()
        .filter(|e| e.starts_with("step.completed:compensate:"))
        .collect();
    assert_eq!(
        undo,
        [
            "step.completed:compensate:configure-pe",
            "step.completed:compensate:reserve-port"
        ],
        "compensations in reverse order: {t:?}"
    );
    let product = order["items"][0]["product"].as_str().expect("product");
    let p = api.ok("rita", &format!("/api/v1/products/{product}")).await;
    assert_eq!(p["status"], "terminated");
    api.stop().await;
}

async fn cancellation_while_in_progress(backend: Backend) {
    let api = start(backend).await;
    let placed = place(&api, wan(100)).await;
    let id = placed["id"].as_str().expect("id");
    act(&api, "nina", "network-engineering", "approve", json!({})).await;
    api.task("fred", "field-engineers").await;
    let path = format!("/api/v1/orders/{id}/cancel");
    let no_reason = api.post("rita", &path, json!({"reason": ""})).await;
    assert_eq!(no_reason.status, 422);
    let other = api.post("gus", &path, json!({"reason": "not mine"})).await;
    assert_eq!(other.status, 404, "another account's order is not found");
    let r = api
        .post("rita", &path, json!({"reason": "project cancelled"}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let order = api.order_state("rita", id, "cancelled").await;
    let t = events(&order);
    for e in [
        "state:assessingCancellation",
        "state:pendingCancellation",
        "step.completed:compensate:reserve-port",
        "state:cancelled",
    ] {
        assert!(t.contains(&e.to_string()), "{e} in {t:?}");
    }
    let tasks = api.ok("fred", "/api/v1/tasks").await;
    assert_eq!(tasks, json!([]), "the install task is withdrawn");
    let again = api.post("rita", &path, json!({"reason": "again"})).await;
    assert_eq!(again.status, 409);
    api.stop().await;
}

async fn a_running_link_is_upgraded_over_http(backend: Backend) {
    let api = start(backend).await;
    let delivered = deliver(&api, 100).await;
    let product = delivered["items"][0]["product"].as_str().expect("product");
    let up = place(&api, json!({"billing_account": "ACME-EUR", "items": [{"action": "modify",
        "offering": "bandwidth-upgrade", "product": product, "characteristics": {"bandwidth_mbps": 1000}}]})).await;
    let id = up["id"].as_str().expect("id");
    act(&api, "nina", "network-engineering", "approve", json!({})).await;
    api.order_state("rita", id, "completed").await;
    let p = api.ok("rita", &format!("/api/v1/products/{product}")).await;
    assert_eq!(p["characteristics"]["bandwidth_mbps"], 1000);
    let subs = api.ok("rita", "/api/v1/subscriptions").await;
    let open: Vec<&str> = subs[0]["charges"]
        .as_array()
        .expect("charges")
        .iter()
        .filter(|c| c["kind"] == "recurring" && c["effective_to"].is_null())
        .filter_map(|c| c["amount"].as_str())
        .collect();
    assert_eq!(
        open,
        ["1290.00"],
        "the new price runs, the old one ended: {subs:?}"
    );
    let downgrade = api.post("rita", "/api/v1/orders", json!({"billing_account": "ACME-EUR", "items": [{"action": "modify",
        "offering": "bandwidth-upgrade", "product": product, "characteristics": {"bandwidth_mbps": 100}}]})).await;
    assert_eq!(downgrade.status, 422, "{:?}", downgrade.body);
    api.stop().await;
}

async fn validation_problems_carry_paths(backend: Backend) {
    let api = start(backend).await;
    let r = api.post("rita", "/api/v1/orders", json!({"billing_account": "GLOBEX-EUR", "items": [
        {"action": "add", "offering": "wan-link", "characteristics": {"bandwidth_mbps": 7, "a_end_site": "frankfurt"}},
        {"action": "modify", "offering": "bandwidth-upgrade", "characteristics": {"bandwidth_mbps": 1000}}]})).await;
    assert_eq!(r.status, 422);
    assert_eq!(r.content_type, "application/problem+json");
    let paths: Vec<(String, String)> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or("").into(),
                e["rule"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    for expected in [
        ("billing_account", "unknown_billing_account"),
        ("items[0].characteristics.a_end_site", "pattern"),
        ("items[0].characteristics.b_end_site", "required"),
        ("items[1].product", "required"),
    ] {
        assert!(
            paths.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} in {paths:?}"
        );
    }
    assert!(
        paths
            .iter()
            .any(|(p, _)| p == "items[0].characteristics.bandwidth_mbps"),
        "{paths:?}"
    );
    assert_eq!(
        api.ok("rita", "/api/v1/orders").await,
        json!([]),
        "nothing stored"
    );
    api.stop().await;
}

async fn malformed_requests_are_4xx_problems(backend: Backend) {
    let api = start(backend).await;
    let orders = api.url("/api/v1/orders");
    let token = api.world.tokens["rita"].clone();
    let raw = |body: &'static str, ct: &'static str| {
        api.http
            .post(&orders)
            .bearer_auth(&token)
            .header("content-type", ct)
            .body(body)
    };
    let cases = [
        (raw("{not json", "application/json"), 400, "malformed-json"),
        (raw("{}", "text/plain"), 415, "content-type"),
        (
            raw(
                r#"{"billing_account": "ACME-EUR", "items": [], "colour": "red"}"#,
                "application/json",
            ),
            422,
            "invalid-body",
        ),
        (
            raw(r#"{"billing_account": 5, "items": []}"#, "application/json"),
            422,
            "invalid-body",
        ),
        // serde alone would read the struct from an array of its fields.
        (
            raw(r#"["ACME-EUR", []]"#, "application/json"),
            422,
            "invalid-body",
        ),
    ];
    for (req, status, kind) in cases {
        let r = api.send(None, req).await;
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(r.body["type"], format!("urn:l2c:problem:{kind}"));
    }
    let huge = format!(
        r#"{{"billing_account": "ACME-EUR", "notes": "{}", "items": []}}"#,
        "x".repeat((1 << 20) + 1024)
    );
    let r = api
        .send(
            None,
            api.http
                .post(&orders)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    assert_eq!(r.status, 413, "{:?}", r.body);
    let r = api.send(None, api.http.get(&orders)).await;
    assert_eq!(
        (r.status, r.body["type"].as_str()),
        (401, Some("urn:l2c:problem:unauthenticated"))
    );
    let r = api
        .send(None, api.http.get(&orders).bearer_auth("l2c_forged"))
        .await;
    assert_eq!(r.status, 401);
    let r = api.get("rita", "/api/v1/nowhere").await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (404, "application/problem+json")
    );
    let r = api.get("rita", "/api/v1/orders?limit=abc").await;
    assert_eq!(r.status, 400);
    let r = api.get("rita", "/api/v1/orders/does-not-exist").await;
    assert_eq!(r.status, 404);
    api.stop().await;
}

async fn placement_is_idempotent(backend: Backend) {
    let api = start(backend).await;
    let post = |key: &'static str, body: Value| {
        api.http
            .post(api.url("/api/v1/orders"))
            .header("Idempotency-Key", key)
            .json(&body)
    };
    let first = api.send(Some("rita"), post("po-77", wan(100))).await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    let again = api.send(Some("rita"), post("po-77", wan(100))).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], first.body["id"]);
    let changed = api.send(Some("rita"), post("po-77", wan(50))).await;
    assert_eq!(changed.status, 422);
    assert_eq!(
        changed.body["type"],
        "urn:l2c:problem:idempotency-key-reused"
    );
    let other_user = api
        .send(
            Some("gus"),
            post(
                "po-77",
                json!({"billing_account": "GLOBEX-EUR",
        "items": wan(100)["items"].clone()}),
            ),
        )
        .await;
    assert_eq!(other_user.status, 201, "keys are per user");
    assert_eq!(
        api.ok("rita", "/api/v1/orders")
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    api.stop().await;
}

async fn sla_escalates_on_the_sandbox_clock(backend: Backend) {
    let api = start(backend).await;
    let placed = place(&api, wan(100)).await;
    let id = placed["id"].as_str().expect("id");
    api.task("nina", "network-engineering").await;
    assert_eq!(api.ok("lena", "/api/v1/tasks").await, json!([]));
    api.advance("4h 1m").await;
    api.wait("rita", &format!("/api/v1/orders/{id}"), "a reminder", |o| {
        events(o).contains(&"task.reminder:feasibility".to_string())
    })
    .await;
    api.advance("1d").await;
    let task = api.task("lena", "network-leads").await;
    assert_eq!(task["stage"], "feasibility");
    assert_eq!(
        api.ok("nina", "/api/v1/tasks").await,
        json!([]),
        "reassigned away"
    );
    let r = api
        .post(
            "lena",
            &format!("/api/v1/tasks/{}/approve", task["id"].as_str().expect("id")),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let bad = api
        .post("ada", "/api/v1/sandbox/clock", json!({"advance": "soon"}))
        .await;
    assert_eq!(
        (bad.status, bad.body["errors"][0]["path"].as_str()),
        (422, Some("advance"))
    );
    let back = api
        .post(
            "ada",
            "/api/v1/sandbox/clock",
            json!({"to": "2001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(back.status, 422, "time only moves forward");
    let rita = api
        .post("rita", "/api/v1/sandbox/clock", json!({"advance": "1h"}))
        .await;
    assert_eq!(rita.status, 403);
    api.stop().await;
}

async fn tmf622_orders(backend: Backend) {
    let api = start(backend).await;
    let base = "/tmf-api/productOrderingManagement/v4/productOrder";
    let body = json!({"@type": "ProductOrder", "externalId": "PO-9", "requestedCompletionDate": "2099-01-31T00:00:00Z",
        "note": [{"text": "rack 4"}], "billingAccount": {"id": "ACME-EUR"},
        "productOrderItem": [{"id": "1", "action": "add", "quantity": 1,
            "productOffering": {"id": "wan-link", "version": "2"},
            "product": {"productCharacteristic": [{"name": "bandwidth_mbps", "value": 100},
                {"name": "a_end_site", "value": "FRA-001"}, {"name": "b_end_site", "value": "MUC-002"}]}}]});
    let r = api.post("rita", base, body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        (r.body["state"].as_str(), r.body["externalId"].as_str()),
        (Some("acknowledged"), Some("PO-9"))
    );
    let price = &r.body["productOrderItem"][0]["itemPrice"];
    assert_eq!(
        price[1]["price"]["dutyFreeAmount"],
        json!({"unit": "EUR", "value": "450.00"})
    );
    let id = r.body["id"].as_str().expect("id");
    let one = api.ok("rita", &format!("{base}/{id}")).await;
    assert_eq!(one["href"], format!("{base}/{id}"));
    assert_eq!(api.ok("rita", base).await.as_array().map(Vec::len), Some(1));
    let same = api.ok("rita", &format!("/api/v1/orders/{id}")).await;
    assert_eq!(same["external_id"], "PO-9", "one order, two APIs");
    let bad = api.post("rita", base, json!({"productOrderItem": [{"action": "upgrade", "productOffering": {"id": "wan-link", "version": "x"}}]})).await;
    assert_eq!(bad.status, 422);
    let paths: Vec<&str> = bad.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "billingAccount.id",
            "productOrderItem[0].productOffering.version",
            "productOrderItem[0].action"
        ]
    );
    assert_eq!(api.get("gus", &format!("{base}/{id}")).await.status, 404);
    api.stop().await;
}

async fn operations_endpoints(backend: Backend) {
    let api = start(backend).await;
    let get = |path: &str| api.send(None, api.http.get(api.url(path)));
    assert_eq!(get("/healthz").await.status, 200);
    let ready = get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (200, Some("ready"))
    );
    // A database one migration behind the binary is not ready.
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&api.world.app.db.pool)
        .await
        .expect("newest migration");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE _sqlx_migrations SET success = FALSE WHERE version = {newest}"
    )))
    .execute(&api.world.app.db.pool)
    .await
    .expect("mark unapplied");
    let behind = get("/readyz").await;
    assert_eq!(behind.status, 503, "{:?}", behind.body);
    assert!(behind.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains(&newest.to_string())));
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE _sqlx_migrations SET success = TRUE WHERE version = {newest}"
    )))
    .execute(&api.world.app.db.pool)
    .await
    .expect("restore");
    let spec = get("/api/openapi.json").await;
    assert_eq!(spec.status, 200);
    assert!(
        spec.body["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "{:?}",
        spec.body["openapi"]
    );
    for path in [
        "/api/v1/orders",
        "/api/v1/tasks/{id}/approve",
        "/tmf-api/productOrderingManagement/v4/productOrder",
    ] {
        assert!(spec.body["paths"].get(path).is_some(), "{path} documented");
    }
    // The tests' servers run on a sandbox clock, so their document lists it.
    assert!(spec.body["paths"].get("/api/v1/sandbox/clock").is_some());
    assert_document_exact(&spec.body);
    out_of_range_limits_are_refused(&api, &spec.body).await;
    let docs = api.send(None, api.http.get(api.url("/api/docs"))).await;
    assert_eq!(docs.status, 200);
    deliver(&api, 100).await;
    let metrics = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.expect("text");
    for needle in ["l2c_orders{state=\"completed\"} 1", "l2c_open_tasks{group=\"field-engineers\"} 0",
                   "l2c_incidents 0", "l2c_step_duration_seconds_count{handler=\"network.reserve-port\",outcome=\"ok\"} 1",
                   "l2c_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/orders\",status=\"201\"} 1"] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    api.stop().await;
}

/// The replacement of a network element: RMA and shipping by the simulated network, a day in
/// transit (a timer the sandbox clock moves past), the swap on site, verification, billing.
async fn a_network_element_is_replaced(backend: Backend) {
    let api = start(backend).await;
    let placed = place(&api, json!({"billing_account": "ACME-EUR", "items": [{"action": "add",
        "offering": "network-element-replacement",
        "characteristics": {"device_model": "juniper-mx204", "site": "FRA-001", "reason": "hardware-fault"}}]})).await;
    let id = placed["id"].as_str().expect("id");
    let path = format!("/api/v1/orders/{id}");
    api.wait("rita", &path, "the device shipped", |o| {
        events(o).contains(&"step.completed:ship-device".to_string())
    })
    .await;
    assert_eq!(
        api.ok("fred", "/api/v1/tasks").await,
        json!([]),
        "nothing to swap before it arrives"
    );
    api.advance("1d 1m").await;
    let swap = act(
        &api,
        "fred",
        "field-engineers",
        "complete",
        json!({"data": {"old_serial": "JN-1"}}),
    )
    .await;
    assert_eq!(swap["stage"], "swap");
    let order = api.order_state("rita", id, "completed").await;
    let t = events(&order);
    for e in [
        "step.completed:open-rma",
        "timer.fired:in-transit",
        "task.done:swap",
        "step.completed:verify",
        "step.completed:activate-billing",
    ] {
        assert!(t.contains(&e.to_string()), "{e} in {t:?}");
    }
    let product = order["items"][0]["product"].as_str().expect("product");
    let p = api.ok("rita", &format!("/api/v1/products/{product}")).await;
    assert_eq!(p["status"], "active");
    api.stop().await;
}

/// Every documented GET with a `limit` query parameter refuses `limit=-1` and `limit=0` with
/// a problem naming it (asked as the admin, who may read every list).
async fn out_of_range_limits_are_refused(api: &Api, spec: &serde_json::Value) {
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let Some(params) = item["get"]["parameters"].as_array() else {
            continue;
        };
        let has_limit = params
            .iter()
            .any(|p| p["name"] == "limit" && p["in"] == "query");
        if !has_limit || path.contains('{') {
            continue;
        }
        for bad in ["-1", "0"] {
            let r = api.get("ada", &format!("{path}?limit={bad}")).await;
            assert!(
                (400..500).contains(&r.status),
                "GET {path}?limit={bad} is refused: {} {:?}",
                r.status,
                r.body
            );
            assert_eq!(r.content_type, "application/problem+json", "{path}");
            assert!(
                r.text.contains("limit"),
                "the problem names limit: {}",
                r.text
            );
        }
        checked += 1;
    }
    assert!(checked >= 4, "the lists with a limit: {checked}");
}

/// Every `$ref` resolves, and every operation but the open ones has security and its 401.
fn assert_document_exact(spec: &serde_json::Value) {
    fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(spec, &mut found);
    for r in found {
        let pointer = r.strip_prefix('#').expect("a local $ref");
        assert!(spec.pointer(pointer).is_some(), "{r} resolves");
    }
    let open = ["/healthz", "/readyz", "/metrics", "/api/openapi.json"];
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if open.contains(&path.as_str()) || op.get("responses").is_none() {
                continue;
            }
            assert!(
                op["security"].as_array().is_some_and(|s| !s.is_empty()),
                "{method} {path} security"
            );
            assert!(
                op["responses"]["401"]["content"]["application/problem+json"].is_object(),
                "{method} {path} documents its 401 problem"
            );
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().unwrap_or("");
                if p["in"] == "path" {
                    let placeholder = format!("{{{name}}}");
                    assert!(
                        path.contains(&placeholder),
                        "{method} {path}: {name} is no path parameter"
                    );
                }
            }
        }
    }
}
