//! TMF622 event notifications against a real local HTTP receiver (axum on 127.0.0.1:0) that
//! checks nothing itself but records every request and can fail on purpose: every event
//! arrives, signed, none out of order per order; query filters and account scopes; dead
//! letters that hold later events back until replayed; a `l2c serve` killed (SIGKILL) while
//! delivering loses nothing. On SQLite and (when `L2C_TEST_DATABASE_URL` is set) PostgreSQL.

use crate::support;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use l2c::app::{App, AppOptions};
use l2c::server::Server;
use l2c::settings::{HubSettings, Settings};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::client::Api;
use support::{world_with, Backend};

scenarios!(
    hub_delivers_every_event_signed_and_in_order,
    hub_filters_by_type_state_and_account,
    hub_registration_is_validated,
    hub_dead_letters_hold_later_events_until_replayed,
    hub_survives_a_killed_server,
    hub_two_nodes_never_send_one_event_at_once,
);

const HUB: &str = "/tmf-api/productOrderingManagement/v4/hub";

/// What the receiver saw: each request's signature header, body and the status it answered.
#[derive(Default)]
struct Receiver {
    requests: Mutex<Vec<(String, Bytes, u16)>>,
    calls: AtomicUsize,
    /// Answer 500 to every n-th request (0: never).
    fail_every: usize,
    /// Answer 500 to everything while set.
    failing: AtomicBool,
    /// How long to take over each request.
    delay: Duration,
    /// Event ids being answered right now, and how often one came while already in flight.
    in_flight: Mutex<std::collections::HashSet<String>>,
    overlaps: AtomicUsize,
}

impl Receiver {
    /// Bodies answered 2xx, in arrival order.
    fn accepted(&self) -> Vec<Value> {
        let requests = self.requests.lock().expect("requests");
        requests
            .iter()
            .filter(|(_, _, status)| *status == 200)
            .map(|(_, body, _)| serde_json::from_slice(body).expect("a JSON event"))
            .collect()
    }

    /// Every request's signature is HMAC-SHA256 of its body with `secret`.
    fn assert_signed(&self, secret: &str) {
        let requests = self.requests.lock().expect("requests");
        assert!(!requests.is_empty());
        for (signature, body, _) in requests.iter() {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
            mac.update(body);
            let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
            assert_eq!(
                signature,
                &expected,
                "signature of {}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

async fn receiver(rx: Receiver) -> (Arc<Receiver>, String) {
    let rx = Arc::new(rx);
    let seen = rx.clone();
    let app = axum::Router::new().route(
        "/events",
        post(move |headers: HeaderMap, body: Bytes| {
            let rx = seen.clone();
            async move {
                let event: Value = serde_json::from_slice(&body).unwrap_or_default();
                let id = event["eventId"].as_str().unwrap_or_default().to_string();
                if !rx.in_flight.lock().expect("in flight").insert(id.clone()) {
                    rx.overlaps.fetch_add(1, Ordering::SeqCst);
                }
                tokio::time::sleep(rx.delay).await;
                rx.in_flight.lock().expect("in flight").remove(&id);
                let n = rx.calls.fetch_add(1, Ordering::SeqCst) + 1;
                let fail = rx.failing.load(Ordering::SeqCst)
                    || (rx.fail_every > 0 && n.is_multiple_of(rx.fail_every));
                let status = if fail { 500 } else { 200 };
                let signature = headers
                    .get("x-l2c-signature")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                rx.requests
                    .lock()
                    .expect("requests")
                    .push((signature, body, status));
                StatusCode::from_u16(status).expect("status")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (rx, format!("http://{addr}/events"))
}

fn fast_hub(max_attempts: u32) -> Settings {
    Settings {
        hub: HubSettings {
            max_attempts,
            backoff_initial: "20ms".into(),
            backoff_max: "200ms".into(),
            timeout: "2s".into(),
            poll_interval: "20ms".into(),
            batch: 16,
        },
        ..Settings::default()
    }
}

/// Registers `callback` as `user`; answers the listener's id and secret.
async fn register(api: &Api, user: &str, callback: &str, query: Option<&str>) -> (String, String) {
    let r = api
        .post(user, HUB, json!({"callback": callback, "query": query}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.location.as_deref(), Some(format!("{HUB}/{id}").as_str()));
    assert_eq!(r.body["callback"], callback);
    (id, r.body["secret"].as_str().expect("secret").to_string())
}

fn wan(account: &str) -> Value {
    json!({"billing_account": format!("{account}-EUR"), "items": [{"action": "add", "offering": "wan-link",
        "characteristics": {"bandwidth_mbps": 100, "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]})
}

async fn place(api: &Api, user: &str, account: &str) -> String {
    let r = api.post(user, "/api/v1/orders", wan(account)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let id = r.body["id"].as_str().expect("id").to_string();
    api.order_state(user, &id, "inProgress").await;
    id
}

async fn cancel(api: &Api, id: &str) {
    let path = format!("/api/v1/orders/{id}/cancel");
    let r = api
        .post("rita", &path, json!({"reason": "no budget"}))
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    api.order_state("rita", id, "cancelled").await;
}

/// Each order's events, first arrivals only (at least once: duplicates are allowed).
fn by_order(events: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut seen = std::collections::HashSet::new();
    let mut orders: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for e in events {
        let id = e["eventId"].as_str().expect("eventId").to_string();
        if seen.insert(id) {
            let order = e["correlationId"]
                .as_str()
                .expect("correlationId")
                .to_string();
            assert_eq!(e["event"]["productOrder"]["id"], order.as_str());
            orders.entry(order).or_default().push(e.clone());
        }
    }
    orders
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["eventType"].as_str().expect("eventType"))
        .collect()
}

/// The order's states its events announce, in arrival order.
fn states(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"]["productOrder"]["state"].as_str().expect("state"))
        .collect()
}

/// Waits (up to 60 s) until `done` holds for the receiver.
async fn until(rx: &Receiver, what: &str, done: impl Fn(&[Value]) -> bool) {
    for _ in 0..3000 {
        if done(&rx.accepted()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}: {:?}", types(&rx.accepted()));
}

const LIFECYCLE: [&str; 5] = [
    "acknowledged",
    "inProgress",
    "assessingCancellation",
    "pendingCancellation",
    "cancelled",
];

fn is_complete_cancelled_order(events: &[Value]) -> bool {
    let count = |t: &str| types(events).iter().filter(|x| **x == t).count();
    count("ProductOrderCreateEvent") == 1
        && count("ProductOrderStateChangeEvent") == 4
        && count("CancelProductOrderStateChangeEvent") == 3
        && count("ProductOrderAttributeValueChangeEvent") == 1
}

async fn hub_delivers_every_event_signed_and_in_order(backend: Backend) {
    let api = Api::start(world_with(backend, fast_hub(20)).await).await;
    let (rx, url) = receiver(Receiver {
        fail_every: 3,
        ..Receiver::default()
    })
    .await;
    let (_, secret) = register(&api, "ada", &url, None).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(place(&api, "rita", "ACME").await);
    }
    for id in &ids {
        cancel(&api, id).await;
    }
    until(&rx, "every event of every order", |events| {
        let orders = by_order(events);
        ids.iter().all(|id| {
            orders
                .get(id)
                .is_some_and(|e| is_complete_cancelled_order(e))
        })
    })
    .await;
    rx.assert_signed(&secret);
    assert!(
        rx.requests
            .lock()
            .expect("requests")
            .iter()
            .any(|r| r.2 == 500),
        "some attempts failed and were retried"
    );
    for (id, events) in by_order(&rx.accepted()) {
        assert_eq!(types(&events)[0], "ProductOrderCreateEvent", "{id}");
        let changes: Vec<&str> = events
            .iter()
            .filter(|e| {
                matches!(
                    e["eventType"].as_str(),
                    Some("ProductOrderCreateEvent" | "ProductOrderStateChangeEvent")
                )
            })
            .map(|e| e["event"]["productOrder"]["state"].as_str().expect("state"))
            .collect();
        assert_eq!(changes, LIFECYCLE, "order {id}'s state changes, in order");
        // Every event, whatever its type, in the order of the changes it announces.
        let ranks: Vec<usize> = states(&events)
            .iter()
            .map(|s| {
                LIFECYCLE
                    .iter()
                    .position(|l| l == s)
                    .expect("a known state")
            })
            .collect();
        assert!(
            ranks.windows(2).all(|w| w[0] <= w[1]),
            "{id}: {:?}",
            states(&events)
        );
        let cancel = events
            .iter()
            .filter(|e| e["eventType"] == "CancelProductOrderStateChangeEvent")
            .map(|e| {
                e["event"]["cancelProductOrder"]["state"]
                    .as_str()
                    .expect("state")
            })
            .collect::<Vec<_>>();
        assert_eq!(cancel, ["acknowledged", "inProgress", "done"]);
        let first = &events[0];
        assert_eq!(first["domain"], "productOrderingManagement");
        assert!(first["timeOcurred"].is_string() && first["eventTime"].is_string());
        assert_eq!(
            first["event"]["productOrder"]["billingAccount"]["id"],
            "ACME-EUR"
        );
    }
    api.stop().await;
}

async fn hub_filters_by_type_state_and_account(backend: Backend) {
    let api = Api::start(world_with(backend, fast_hub(20)).await).await;
    let (rita_rx, rita_url) = receiver(Receiver::default()).await;
    let (gus_rx, gus_url) = receiver(Receiver::default()).await;
    let query =
        "eventType=ProductOrderStateChangeEvent&event.productOrder.state=inProgress,cancelled";
    register(&api, "rita", &rita_url, Some(query)).await;
    register(&api, "gus", &gus_url, None).await;
    let ritas = place(&api, "rita", "ACME").await;
    cancel(&api, &ritas).await;
    let guss = place(&api, "gus", "GLOBEX").await;
    until(&rita_rx, "rita's cancelled order", |events| {
        states(events).contains(&"cancelled")
    })
    .await;
    until(&gus_rx, "gus's order in progress", |events| {
        states(events).contains(&"inProgress")
    })
    .await;
    let rita_events = rita_rx.accepted();
    assert_eq!(
        types(&rita_events),
        [
            "ProductOrderStateChangeEvent",
            "ProductOrderStateChangeEvent"
        ]
    );
    assert_eq!(states(&rita_events), ["inProgress", "cancelled"]);
    let gus_orders = by_order(&gus_rx.accepted());
    assert_eq!(
        gus_orders.keys().collect::<Vec<_>>(),
        [&guss],
        "a requester's listener hears its own account's orders only"
    );
    assert_eq!(
        types(&gus_orders[&guss])[..2],
        ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent"]
    );
    api.stop().await;
}

async fn delete(api: &Api, user: &str, path: &str) -> u16 {
    api.send(Some(user), api.http.delete(api.url(path)))
        .await
        .status
}

/// Every `$ref` under `value`.
fn refs(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => vec![r.clone()],
                _ => refs(v),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(refs).collect(),
        _ => Vec::new(),
    }
}

async fn hub_registration_is_validated(backend: Backend) {
    let api = Api::start(world_with(backend, fast_hub(20)).await).await;
    let refused = |body: Value| {
        let api = &api;
        async move {
            let r = api.post("rita", HUB, body).await;
            assert_eq!(r.status, 422, "{:?}", r.body);
            let errors = r.body["errors"].as_array().cloned().unwrap_or_default();
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["path"].as_str().unwrap_or(""),
                        e["rule"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        refused(json!({"callback": "ftp://crm/events"})).await,
        ["callback url"]
    );
    assert_eq!(
        refused(json!({"callback": "https://crm/events", "query": "state=completed"})).await,
        ["query.state unsupported"]
    );
    assert_eq!(
        refused(json!({"callback": "crm", "query": "eventType=OrderDone"})).await,
        ["callback url", "query.eventType allowed_values"],
        "every problem at once"
    );
    assert_eq!(
        refused(
            json!({"callback": "https://crm/events", "query": "event.productOrder.state=done"})
        )
        .await,
        ["query.event.productOrder.state allowed_values"]
    );
    let missing = api
        .post(
            "rita",
            HUB,
            json!({"query": "eventType=ProductOrderCreateEvent"}),
        )
        .await;
    assert_eq!(missing.status, 422, "{:?}", missing.body);
    assert!(
        missing.body["detail"]
            .as_str()
            .unwrap_or("")
            .contains("callback"),
        "{:?}",
        missing.body
    );
    let unknown = api
        .post(
            "rita",
            HUB,
            json!({"callback": "https://crm/e", "secret": "x"}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{:?}", unknown.body);
    for user in ["sam", "fred", "fay"] {
        let r = api
            .post(user, HUB, json!({"callback": "https://crm/events"}))
            .await;
        assert_eq!(r.status, 403, "{user}: {:?}", r.body);
    }
    let r = api
        .post("rita", HUB, json!({"callback": "https://crm.example.net/events", "query": "eventType=ProductOrderStateChangeEvent"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["query"], "eventType=ProductOrderStateChangeEvent");
    assert_eq!(r.body["secret"].as_str().map(str::len), Some(64));
    let path = format!("{HUB}/{}", r.body["id"].as_str().expect("id"));
    assert_eq!(
        delete(&api, "gus", &path).await,
        404,
        "another requester's listener"
    );
    assert_eq!(delete(&api, "sam", &path).await, 403);
    assert_eq!(delete(&api, "rita", &path).await, 204);
    assert_eq!(delete(&api, "rita", &path).await, 404, "gone");
    assert_eq!(delete(&api, "ada", &format!("{HUB}/nope")).await, 404);
    let spec = api.ok("ada", "/api/openapi.json").await;
    for path in [
        HUB,
        "/tmf-api/productOrderingManagement/v4/hub/{id}",
        "/api/v1/hub/dead-letters",
        "/api/v1/hub/dead-letters/{id}/replay",
        "/api/v1/hub/dead-letters/replay",
    ] {
        let operations = &spec["paths"][path];
        assert!(operations.is_object(), "{path} documented");
        for reference in refs(operations) {
            let name = reference.trim_start_matches("#/components/schemas/");
            assert!(
                spec["components"]["schemas"][name].is_object(),
                "{path}: {reference} resolves"
            );
        }
    }
    api.stop().await;
}

async fn hub_dead_letters_hold_later_events_until_replayed(backend: Backend) {
    let api = Api::start(world_with(backend, fast_hub(2)).await).await;
    let (rx, url) = receiver(Receiver::default()).await;
    rx.failing.store(true, Ordering::SeqCst);
    register(&api, "ada", &url, None).await;
    let id = place(&api, "rita", "ACME").await;
    let letters = api
        .wait(
            "ada",
            "/api/v1/hub/dead-letters",
            "a dead letter with an event behind it",
            |b| {
                b.as_array()
                    .is_some_and(|a| a.len() == 1 && a[0]["waiting_behind"] == 1)
            },
        )
        .await;
    let letter = &letters[0];
    assert_eq!(letter["order_id"], id.as_str());
    assert_eq!(letter["event_type"], "ProductOrderCreateEvent");
    assert_eq!(letter["attempts"], 2);
    assert!(
        letter["last_error"].as_str().unwrap_or("").contains("500"),
        "{letter}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        rx.calls.load(Ordering::SeqCst),
        2,
        "the later event waits behind the dead letter: never sent"
    );
    assert_eq!(
        api.get("rita", "/api/v1/hub/dead-letters").await.status,
        403
    );
    let metrics = api.send(None, api.http.get(api.url("/metrics"))).await;
    assert!(
        metrics.text.contains("l2c_hub_dead_letters 1")
            && metrics.text.contains("l2c_hub_deliveries_pending 1"),
        "{}",
        metrics.text
    );
    let unknown = api
        .post("ada", "/api/v1/hub/dead-letters/nope/replay", json!({}))
        .await;
    assert_eq!(unknown.status, 404);
    rx.failing.store(false, Ordering::SeqCst);
    let path = format!(
        "/api/v1/hub/dead-letters/{}/replay",
        letter["id"].as_str().expect("id")
    );
    let r = api.post("ada", &path, json!({})).await;
    assert_eq!((r.status, &r.body), (200, &json!({"replayed": 1})));
    until(&rx, "the replayed event and the one behind it", |events| {
        events.len() >= 2
    })
    .await;
    assert_eq!(
        types(&rx.accepted())[..2],
        ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent"]
    );
    assert_eq!(api.ok("ada", "/api/v1/hub/dead-letters").await, json!([]));
    let all = api
        .post("ada", "/api/v1/hub/dead-letters/replay", json!({}))
        .await;
    assert_eq!((all.status, &all.body), (200, &json!({"replayed": 0})));
    api.stop().await;
}

/// `l2c serve` on `url` with `config`; answers the process and its base URL.
fn serve(url: &str, config: &std::path::Path) -> (std::process::Child, String) {
    let config = config.to_str().expect("a UTF-8 path");
    let args = [
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        url,
        "--config",
        config,
    ];
    support::spawn_serve(&args, std::process::Stdio::null())
}

async fn hub_survives_a_killed_server(backend: Backend) {
    let world = world_with(backend, Settings::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("l2c.toml");
    std::fs::write(
        &config,
        "[hub]\nbackoff_initial = \"20ms\"\nbackoff_max = \"200ms\"\ntimeout = \"1s\"\n\
         poll_interval = \"20ms\"\nbatch = 4\n",
    )
    .expect("config");
    let (rx, callback) = receiver(Receiver {
        fail_every: 3,
        delay: Duration::from_millis(40),
        ..Receiver::default()
    })
    .await;
    let (mut first, base) = serve(&world.url, &config);
    let http = reqwest::Client::new();
    let token = |name: &str| world.tokens[name].clone();
    let r = http
        .post(format!("{base}{HUB}"))
        .bearer_auth(token("ada"))
        .json(&json!({"callback": callback}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let mut ids = Vec::new();
    for _ in 0..8 {
        let r = http
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(token("rita"))
            .json(&wan("ACME"))
            .send()
            .await
            .expect("order");
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.expect("order body");
        ids.push(body["id"].as_str().expect("id").to_string());
    }
    until(&rx, "a few deliveries before the kill", |events| {
        events.len() >= 3
    })
    .await;
    first.kill().expect("SIGKILL");
    first.wait().expect("killed");
    let before = rx.accepted().len();
    let (mut second, _) = serve(&world.url, &config);
    until(
        &rx,
        "every order's create and inProgress events",
        |events| {
            let orders = by_order(events);
            ids.iter().all(|id| {
                orders
                    .get(id)
                    .is_some_and(|e| states(e).contains(&"inProgress"))
            })
        },
    )
    .await;
    assert!(
        before < 16,
        "the kill came during delivery ({before} delivered)"
    );
    for (id, events) in by_order(&rx.accepted()) {
        assert_eq!(
            types(&events)[..2],
            ["ProductOrderCreateEvent", "ProductOrderStateChangeEvent"],
            "order {id}: nothing lost, nothing out of order"
        );
        assert_eq!(states(&events)[..2], ["acknowledged", "inProgress"]);
    }
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .expect("kill");
    assert!(stopped.success());
    second.wait().expect("exits");
}

async fn hub_two_nodes_never_send_one_event_at_once(backend: Backend) {
    let world = world_with(backend, fast_hub(20)).await;
    let url = world.url.clone();
    let api = Api::start(world).await;
    let mut options = AppOptions::new(url);
    options.settings = fast_hub(20);
    let node_b = Server::start(
        App::open(options).await.expect("second node opens"),
        "127.0.0.1:0".parse().expect("addr"),
        2,
    )
    .await
    .expect("second node serves");
    let (rx, callback) = receiver(Receiver {
        fail_every: 4,
        delay: Duration::from_millis(30),
        ..Receiver::default()
    })
    .await;
    register(&api, "ada", &callback, None).await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(place(&api, "rita", "ACME").await);
    }
    until(&rx, "every order's first two events", |events| {
        let orders = by_order(events);
        ids.iter()
            .all(|id| orders.get(id).is_some_and(|e| e.len() >= 2))
    })
    .await;
    assert_eq!(
        rx.overlaps.load(Ordering::SeqCst),
        0,
        "no event was sent by both nodes at once"
    );
    for (id, events) in by_order(&rx.accepted()) {
        assert_eq!(states(&events)[..2], ["acknowledged", "inProgress"], "{id}");
    }
    node_b.shutdown().await.expect("node B stops");
    api.stop().await;
}
