//! The web desk through its router (`tower::ServiceExt::oneshot`, no socket): sign-in and
//! sessions, CSRF, headers and escaping, the requester's pages and the work queues. The
//! pages call the same domain functions as the API, whose rules the API tests cover on both
//! backends; these run on SQLite. [`browser`] drives the real server in Chromium.

mod access;
mod admin;
mod browser;
mod browser_admin;
mod browser_finance;
mod desk;
mod finance;
mod products;
mod requester;
mod work;

use crate::support::{world, Backend, World};
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use l2c_orders::users;
use std::net::SocketAddr;
use tower::ServiceExt;

/// A page's answer.
pub struct Answer {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// A header's value, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The first hidden `csrf` field of the page.
    pub fn csrf(&self) -> String {
        hidden(&self.body, "csrf").unwrap_or_else(|| panic!("no csrf field in {}", self.body))
    }
}

/// The value of the first hidden input named `name` in `html`.
pub fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// The password every test user gets.
pub fn password(name: &str) -> String {
    format!("{name}-secret-pw")
}

/// The site's router on a world whose users have passwords.
pub struct Site {
    pub world: World,
    pub router: Router,
    _workers: Option<l2c::server::Background>,
}

impl Site {
    pub async fn new() -> Site {
        Site::on(Backend::Sqlite).await
    }

    /// A site on a fresh database of `backend`.
    pub async fn on(backend: Backend) -> Site {
        let world = world(backend).await;
        for name in ["rita", "gus", "sam", "nina", "fred", "ada", "fay", "lena"] {
            users::set_password(&world.app.db, "test", name, &password(name), 0)
                .await
                .expect("password");
        }
        let router = l2c::server::router(world.app.clone());
        Site {
            world,
            router,
            _workers: None,
        }
    }

    /// A site on `backend` whose workflows run (two engine workers).
    pub async fn running_on(backend: Backend) -> Site {
        let mut site = Site::on(backend).await;
        site._workers = Some(l2c::server::spawn_workers(&site.world.app, 2));
        site
    }

    /// Waits until `path`'s page (as `cookie`) contains `text`.
    pub async fn wait_for(&self, cookie: &str, path: &str, text: &str) -> Answer {
        for _ in 0..1500 {
            let a = self.get(cookie, path).await;
            if a.body.contains(text) {
                return a;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let a = self.get(cookie, path).await;
        panic!("timed out waiting for {text:?} at {path}: {}", a.body);
    }

    /// Sends `request` from client address `from`.
    pub async fn send_from(&self, mut request: Request<Body>, from: [u8; 4]) -> Answer {
        let addr = SocketAddr::from((from, 40000));
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        self.send_from(request, [127, 0, 0, 1]).await
    }

    /// GET `path` with `cookie` (a session cookie, or "").
    pub async fn get(&self, cookie: &str, path: &str) -> Answer {
        let request = Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }

    /// POST a form to `path` with `cookie`.
    pub async fn post(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(form).expect("form");
        let request = Request::post(path)
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.send(request).await
    }

    /// Signs `name` in and returns the session cookie (`l2c_session=...`).
    pub async fn sign_in(&self, name: &str) -> String {
        let pw = password(name);
        let a = self
            .post(
                "",
                "/sign-in",
                &[("name", name), ("password", &pw), ("next", "/")],
            )
            .await;
        assert_eq!(
            a.status,
            StatusCode::SEE_OTHER,
            "{name} signs in: {}",
            a.body
        );
        let cookie = a.header("set-cookie");
        cookie
            .split(';')
            .next()
            .unwrap_or_else(|| panic!("a session cookie, got {cookie:?}"))
            .to_string()
    }

    /// Signs in and returns the cookie and the CSRF token of `path`'s page.
    pub async fn session(&self, name: &str, path: &str) -> (String, String) {
        let cookie = self.sign_in(name).await;
        let page = self.get(&cookie, path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        (cookie, page.csrf())
    }
}
