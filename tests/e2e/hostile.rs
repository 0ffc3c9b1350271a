//! The server against clients that hold connections: 200 clients that send half their
//! headers and go quiet are closed after the header-read timeout while a normal request is
//! served; a kept-alive connection left idle is closed the same way; past `max_connections`
//! a new connection is closed at once, and the server serves again when the others go. Every
//! API answer carries the security headers, `no-store` when the request was authenticated.
//! A user's writes past `writes_per_minute` are answered 429 with `Retry-After`.

use crate::support::client::{wan_order, Api, Reply};
use crate::support::{world_with, Backend};
use l2c::server::Server;
use l2c::settings::Settings;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn server(header_read_timeout: &str, max_connections: usize) -> Server {
    let mut settings = Settings::default();
    settings.server.header_read_timeout = header_read_timeout.into();
    settings.server.max_connections = max_connections;
    let world = world_with(Backend::Sqlite, settings).await;
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    Server::start(world.app.clone(), any_port, 0)
        .await
        .expect("server starts")
}

/// A connection that sent `bytes` and nothing more.
async fn sent(server: &Server, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.expect("connects");
    stream.write_all(bytes).await.expect("writes");
    stream
}

/// Whether the server closes `stream` within `within` (reading what it answers till then).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(within, read_all).await.is_ok()
}

async fn healthz(server: &Server) -> Result<u16, reqwest::Error> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    let answer = client
        .get(format!("{}/healthz", server.url()))
        .send()
        .await?;
    Ok(answer.status().as_u16())
}

const HALF: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: l2c\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_closed_while_a_normal_request_is_served() {
    let server = server("500ms", 1024).await;
    let mut slow = Vec::new();
    for _ in 0..200 {
        slow.push(sent(&server, HALF).await);
    }
    assert_eq!(healthz(&server).await.ok(), Some(200), "served meanwhile");
    for (i, stream) in slow.iter_mut().enumerate() {
        assert!(
            closed_within(stream, Duration::from_secs(10)).await,
            "slow client {i} is still held"
        );
    }
    // A kept-alive connection that goes quiet after its answer is closed the same way.
    let mut idle = sent(&server, b"GET /healthz HTTP/1.1\r\nHost: l2c\r\n\r\n").await;
    assert!(
        closed_within(&mut idle, Duration::from_secs(10)).await,
        "an idle kept-alive connection is still held"
    );
    server.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_max_connections_a_new_one_is_closed_at_once() {
    let server = server("30s", 5).await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(sent(&server, HALF).await);
    }
    // The five are accepted before the sixth: the server takes connections in order.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sixth = sent(&server, HALF).await;
    assert!(
        closed_within(&mut sixth, Duration::from_secs(5)).await,
        "a sixth connection is closed, not queued behind the header-read timeout"
    );
    drop(held);
    let mut status = None;
    for _ in 0..50 {
        status = healthz(&server).await.ok();
        if status == Some(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, Some(200), "served again once the five are gone");
    server.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_answer_carries_security_headers() {
    let mut settings = Settings::default();
    settings.server.max_connections = 64;
    let world = world_with(Backend::Sqlite, settings).await;
    let token = world.tokens["rita"].clone();
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = Server::start(world.app.clone(), any_port, 0)
        .await
        .expect("server starts");
    let http = reqwest::Client::new();
    let get = |path: &str, auth: bool| {
        let request = http.get(format!("{}{path}", server.url()));
        if auth {
            request.bearer_auth(&token)
        } else {
            request
        }
    };
    for (path, auth, status) in [
        ("/api/v1/orders", true, 200),
        ("/api/v1/orders", false, 401),
        ("/api/v1/no-such-thing", true, 404),
        ("/healthz", false, 200),
    ] {
        let answer = get(path, auth).send().await.expect("an answer");
        assert_eq!(answer.status().as_u16(), status, "{path}");
        let h = answer.headers();
        let value = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(value("x-content-type-options"), "nosniff", "{path}");
        assert!(
            value("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert_eq!(value("x-frame-options"), "DENY", "{path}");
        if auth {
            assert_eq!(value("cache-control"), "no-store", "{path} with a token");
        }
    }
    server.shutdown().await.expect("stops");
}

/// Seconds a 429 asks to wait, checked to be a whole number within one cell's time.
fn retry_after(reply: &Reply, cell_secs: u64) -> u64 {
    assert_eq!(reply.status, 429, "{:?}", reply.body);
    assert_eq!(reply.body["type"], "urn:l2c:problem:rate-limited");
    let secs: u64 = reply.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=cell_secs).contains(&secs), "{secs}");
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_past_a_users_limit_are_refused_with_retry_after() {
    let mut settings = Settings::default();
    settings.server.writes_per_minute = 3;
    let api = Api::start(world_with(Backend::Sqlite, settings).await).await;
    for _ in 0..3 {
        let placed = api
            .post("rita", "/api/v1/orders", wan_order("ACME-EUR"))
            .await;
        assert_eq!(placed.status, 201, "{:?}", placed.body);
    }
    let refused = api
        .post("rita", "/api/v1/orders", wan_order("ACME-EUR"))
        .await;
    retry_after(&refused, 20);
    let orders = api.ok("rita", "/api/v1/orders").await;
    assert_eq!(
        orders.as_array().map(Vec::len),
        Some(3),
        "nothing was written"
    );
    for _ in 0..10 {
        let health = api.send(None, api.http.get(api.url("/healthz"))).await;
        assert_eq!(health.status, 200, "probes are never limited");
    }
    let other = api
        .post("gus", "/api/v1/orders", wan_order("GLOBEX-EUR"))
        .await;
    assert_eq!(other.status, 201, "the limit is per user: {:?}", other.body);

    // Task actions share the user's limit.
    let task = api.task("nina", "network-engineering").await;
    let id = task["id"].as_str().expect("task id").to_string();
    for action in ["claim", "release", "claim"] {
        let r = api
            .post(
                "nina",
                &format!("/api/v1/tasks/{id}/{action}"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{action}: {:?}", r.body);
    }
    let r = api
        .post(
            "nina",
            &format!("/api/v1/tasks/{id}/release"),
            serde_json::json!({}),
        )
        .await;
    retry_after(&r, 20);
    let still = api.ok("nina", &format!("/api/v1/tasks/{id}")).await;
    assert_eq!(
        still["claimed_by"], "nina",
        "the refused release changed nothing"
    );
    api.stop().await;
}
