//! The generic webhook handler against a real local HTTP server that fails twice (503) and
//! then succeeds: the step is retried with the same Idempotency-Key, its answer is merged into
//! the workflow's output, and the order completes — through the real l2c server, on SQLite and
//! (when `L2C_TEST_DATABASE_URL` is set) PostgreSQL. A 4xx answer fails the item for good.

use crate::support;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Json;
use l2c::settings::WebhookSettings;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use support::client::Api;
use support::{world_opts, Backend};

scenarios!(
    webhook_fails_twice_then_succeeds,
    webhook_client_error_is_fatal,
    unreachable_webhook_becomes_an_incident,
    cancellation_waits_for_slow_compensations,
);

/// lan-setup with a CRM ticket opened by webhook between port allocation and billing.
const LAN_WITH_WEBHOOK: &str = r#"
description = "LAN with a CRM ticket (test)"
version = 1
[[stage]]
id = "allocate-ports"
kind = "task"
handler = "network.allocate-lan"
compensation = "network.release-lan"
[[stage]]
id = "open-ticket"
kind = "task"
handler = "webhook.crm"
timeout = "5s"
retry = { max_attempts = 5, backoff = "1s", max_backoff = "10s" }
[[stage]]
id = "activate-billing"
kind = "task"
handler = "billing.activate"
compensation = "billing.deactivate"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "allocate-ports"
to = "open-ticket"
[[edge]]
from = "open-ticket"
to = "activate-billing"
[[edge]]
from = "activate-billing"
to = "done"
"#;

#[derive(Default)]
struct Crm {
    /// The Idempotency-Key and body of every call.
    calls: Mutex<Vec<(String, Value)>>,
    /// Status codes to answer, in order; then 200.
    script: Mutex<Vec<u16>>,
}

async fn crm_server(crm: Arc<Crm>) -> String {
    let app = axum::Router::new().route(
        "/tickets",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let crm = crm.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                crm.calls.lock().expect("calls").push((key, body));
                let next = {
                    let mut s = crm.script.lock().expect("script");
                    (!s.is_empty()).then(|| s.remove(0))
                };
                match next {
                    Some(code) => (
                        StatusCode::from_u16(code).expect("status"),
                        Json(json!({"error": "scripted"})),
                    ),
                    None => (StatusCode::OK, Json(json!({"ticket": "CRM-42"}))),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://bot:pa55@{addr}/tickets?key=s3cret")
}

async fn start(backend: Backend, script: Vec<u16>) -> (Api, Arc<Crm>, tempfile::TempDir) {
    let crm = Arc::new(Crm {
        script: Mutex::new(script),
        ..Crm::default()
    });
    let url = crm_server(crm.clone()).await;
    start_with(backend, crm, url).await
}

async fn start_with(
    backend: Backend,
    crm: Arc<Crm>,
    url: String,
) -> (Api, Arc<Crm>, tempfile::TempDir) {
    start_workflow(backend, crm, url, LAN_WITH_WEBHOOK).await
}

async fn start_workflow(
    backend: Backend,
    crm: Arc<Crm>,
    url: String,
    lan_workflow: &str,
) -> (Api, Arc<Crm>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    for entry in
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows")).expect("workflows")
    {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    std::fs::write(dir.path().join("lan-setup.toml"), lan_workflow).expect("write");
    let workflows = dir.path().to_path_buf();
    let world = world_opts(backend, move |o| {
        o.workflows_dir = Some(workflows);
        o.settings.webhooks.insert(
            "crm".into(),
            WebhookSettings {
                url,
                timeout: "2s".into(),
            },
        );
    })
    .await;
    (Api::start(world).await, crm, dir)
}

async fn place_lan(api: &Api) -> String {
    let r = api.post("rita", "/api/v1/orders", json!({"billing_account": "ACME-EUR", "items": [{"action": "add",
        "offering": "lan-setup", "characteristics": {"site": "FRA-001", "port_count": 24, "poe": false}}]})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().expect("id").to_string()
}

/// Moves the sandbox clock past retry backoffs until the order is `state`.
async fn drive(api: &Api, order: &str, state: &str) -> Value {
    for _ in 0..300 {
        let o = api.ok("rita", &format!("/api/v1/orders/{order}")).await;
        if o["state"] == state {
            return o;
        }
        api.advance("15s").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("order {order} never became {state}");
}

async fn webhook_fails_twice_then_succeeds(backend: Backend) {
    let (api, crm, _dir) = start(backend, vec![503, 429]).await;
    let order = place_lan(&api).await;
    let o = drive(&api, &order, "completed").await;
    let calls = crm.calls.lock().expect("calls").clone();
    assert_eq!(calls.len(), 3, "two failures, then success");
    assert!(
        calls
            .iter()
            .all(|(k, _)| k == &calls[0].0 && k.ends_with(":open-ticket")),
        "one key: {calls:?}"
    );
    let attempts: Vec<&Value> = calls.iter().map(|(_, b)| &b["attempt"]).collect();
    assert_eq!(attempts, [&json!(1), &json!(2), &json!(3)]);
    assert_eq!(calls[0].1["input"]["order_id"], json!(order));
    let t = o["timeline"].as_array().expect("timeline");
    let retries = t
        .iter()
        .filter(|e| e["event"] == "step.retry" && e["stage"] == "open-ticket")
        .count();
    assert_eq!(retries, 2);
    assert_no_secrets(&o);
    let done = t
        .iter()
        .find(|e| e["event"] == "step.completed" && e["stage"] == "open-ticket")
        .expect("completed");
    assert_eq!(done["data"]["ticket"], "CRM-42", "{done:?}");
    api.stop().await;
}

async fn webhook_client_error_is_fatal(backend: Backend) {
    let (api, crm, _dir) = start(backend, vec![422]).await;
    let order = place_lan(&api).await;
    let o = drive(&api, &order, "failed").await;
    assert_eq!(
        crm.calls.lock().expect("calls").len(),
        1,
        "a 4xx is not retried"
    );
    let error = o["items"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("answered 422"), "{error}");
    assert_no_secrets(&o);
    api.stop().await;
}

/// Nothing the requester reads carries the webhook's credentials, query key or answer.
fn assert_no_secrets(order: &Value) {
    let text = order.to_string();
    for secret in ["pa55", "s3cret", "scripted", "bot:"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

async fn unreachable_webhook_becomes_an_incident(backend: Backend) {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "http://bot:pa55@{}/tickets?key=s3cret",
        closed.local_addr().expect("addr")
    );
    drop(closed);
    let (api, crm, _dir) = start_with(backend, Arc::new(Crm::default()), url).await;
    let order = place_lan(&api).await;
    let mut incidents = json!([]);
    for _ in 0..300 {
        incidents = api.ok("ada", "/api/v1/incidents").await;
        if incidents.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        api.advance("15s").await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(incidents[0]["stage"], "open-ticket", "{incidents:?}");
    assert_eq!(incidents[0]["order_id"], json!(order));
    let error = incidents[0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("cannot connect"), "{error}");
    assert!(crm.calls.lock().expect("calls").is_empty());
    assert_no_secrets(&api.ok("rita", &format!("/api/v1/orders/{order}")).await);
    assert_no_secrets(&incidents);
    api.stop().await;
}

/// lan-setup whose CRM ticket is closed again (a webhook compensation) when the order is
/// cancelled, with on-site work to cancel it during.
const LAN_WITH_TICKET_COMPENSATION: &str = r#"
description = "LAN with a CRM ticket that is closed on cancellation (test)"
version = 1
[[stage]]
id = "open-ticket"
kind = "task"
handler = "webhook.crm"
compensation = "webhook.crm"
retry = { max_attempts = 10, backoff = "1s", max_backoff = "10s" }
[[stage]]
id = "patch-ports"
kind = "manual"
group = "field-engineers"
[[stage]]
id = "done"
kind = "end"
[[edge]]
from = "open-ticket"
to = "patch-ports"
[[edge]]
from = "patch-ports"
to = "done"
"#;

/// While the ticket's compensation keeps failing (503), the order stays pendingCancellation;
/// once the CRM answers, the order is cancelled.
async fn cancellation_waits_for_slow_compensations(backend: Backend) {
    let crm = Arc::new(Crm::default());
    let url = crm_server(crm.clone()).await;
    let (api, crm, _dir) = start_workflow(backend, crm, url, LAN_WITH_TICKET_COMPENSATION).await;
    let order = place_lan(&api).await;
    api.task("fred", "field-engineers").await;
    *crm.script.lock().expect("script") = vec![503, 503, 503];
    let r = api
        .post(
            "rita",
            &format!("/api/v1/orders/{order}/cancel"),
            json!({"reason": "moved offices"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let path = format!("/api/v1/orders/{order}");
    api.wait("rita", &path, "a failed compensation", |o| {
        o["timeline"].as_array().is_some_and(|t| {
            t.iter()
                .any(|e| e["event"] == "step.retry" && e["stage"] == "compensate:open-ticket")
        })
    })
    .await;
    let o = api.ok("rita", &path).await;
    assert_eq!(
        o["state"], "pendingCancellation",
        "compensation still running"
    );
    assert_eq!(o["items"][0]["state"], "inProgress");
    drive(&api, &order, "cancelled").await;
    let calls = crm.calls.lock().expect("calls").clone();
    let undo: Vec<&Value> = calls
        .iter()
        .filter(|(_, b)| b["compensating"] == true)
        .map(|(_, b)| &b["attempt"])
        .collect();
    assert_eq!(undo.len(), 4, "three 503s, then closed: {calls:?}");
    api.stop().await;
}
