//! An HTTP client for end-to-end tests: the real server on port 0, requests as a named user,
//! and waits that poll the API (never a fixed sleep).

use super::World;
use l2c::server::Server;
use serde_json::Value;
use std::time::Duration;

/// A response: status and JSON body (Null when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    /// The body as text (for CSV and XML answers).
    pub text: String,
    /// The body as it came (for PDF and zip answers).
    pub bytes: Vec<u8>,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// Every header.
    pub headers: reqwest::header::HeaderMap,
}

/// An order for a 100 Mbit/s WAN link FRA-001 to MUC-002 on billing account `account`.
pub fn wan_order(account: &str) -> Value {
    serde_json::json!({"billing_account": account, "items": [{"action": "add",
        "offering": "wan-link", "characteristics": {"bandwidth_mbps": 100,
        "a_end_site": "FRA-001", "b_end_site": "MUC-002"}}]})
}

/// The running server with its world.
pub struct Api {
    pub world: World,
    pub server: Server,
    pub http: reqwest::Client,
}

impl Api {
    /// Starts the real server (port 0, two workers) on `world`'s app.
    pub async fn start(world: World) -> Api {
        let server = Server::start(world.app.clone(), "127.0.0.1:0".parse().expect("addr"), 2)
            .await
            .expect("server starts");
        Api {
            world,
            server,
            http: reqwest::Client::new(),
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    /// Sends a request as `user` (None: no credentials).
    pub async fn send(&self, user: Option<&str>, req: reqwest::RequestBuilder) -> Reply {
        let req = match user {
            Some(name) => {
                let token = self
                    .world
                    .tokens
                    .get(name)
                    .unwrap_or_else(|| panic!("no user {name}"));
                req.bearer_auth(token)
            }
            None => req,
        };
        let resp = req.send().await.expect("request is answered");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("body").to_vec();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            content_type,
            text,
            bytes,
            location,
            headers,
        }
    }

    pub async fn get(&self, user: &str, path: &str) -> Reply {
        self.send(Some(user), self.http.get(self.url(path))).await
    }

    pub async fn post(&self, user: &str, path: &str, body: Value) -> Reply {
        self.send(Some(user), self.http.post(self.url(path)).json(&body))
            .await
    }

    /// Places a 100 Mbit/s WAN link for ACME as rita, which must be accepted; returns its id.
    pub async fn place_wan(&self) -> String {
        let placed = self
            .post("rita", "/api/v1/orders", wan_order("ACME-EUR"))
            .await;
        assert_eq!(placed.status, 201, "{:?}", placed.body);
        placed.body["id"].as_str().expect("id").to_string()
    }

    /// GET that must succeed.
    pub async fn ok(&self, user: &str, path: &str) -> Value {
        let r = self.get(user, path).await;
        assert_eq!(r.status, 200, "GET {path} as {user}: {:?}", r.body);
        r.body
    }

    /// Polls `check` on GET `path` until it holds (up to 30 s).
    pub async fn wait(
        &self,
        user: &str,
        path: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        for _ in 0..1500 {
            let r = self.get(user, path).await;
            if r.status == 200 && check(&r.body) {
                return r.body;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "timed out waiting for {what} at {path}: {:?}",
            self.get(user, path).await.body
        );
    }

    /// Waits for an open task in `group` (seen by `user`) and returns it.
    pub async fn task(&self, user: &str, group: &str) -> Value {
        let list = self
            .wait(
                user,
                &format!("/api/v1/tasks?group={group}"),
                "a task",
                |b| b.as_array().is_some_and(|a| !a.is_empty()),
            )
            .await;
        list[0].clone()
    }

    /// Places a WAN order and claims its first task of `group` as `user`; returns the task id.
    pub async fn claimed_task(&self, user: &str, group: &str) -> String {
        self.place_wan().await;
        let task = self.task(user, group).await;
        let id = task["id"].as_str().expect("task").to_string();
        let claim = self
            .post(
                user,
                &format!("/api/v1/tasks/{id}/claim"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(claim.status, 200, "{:?}", claim.body);
        id
    }

    /// Waits until the order's state is `state`.
    pub async fn order_state(&self, user: &str, id: &str, state: &str) -> Value {
        self.wait(user, &format!("/api/v1/orders/{id}"), state, |o| {
            o["state"] == state
        })
        .await
    }

    /// Moves the sandbox clock as the admin.
    pub async fn advance(&self, by: &str) {
        let r = self
            .post(
                "ada",
                "/api/v1/sandbox/clock",
                serde_json::json!({ "advance": by }),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }

    /// Stops the server gracefully.
    pub async fn stop(self) {
        self.server.shutdown().await.expect("graceful shutdown");
    }
}
