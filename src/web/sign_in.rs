//! Signing in with a name and a password, and signing out. Failed sign-ins are limited per
//! user name and per client address ([`super::throttle`]); the answer to a wrong name and to
//! a wrong password is the same page, so it never tells whether a user exists.

use super::error::WebError;
use super::page::{render, Chrome, Page};
use super::session::{self, Posted, COOKIE};
use super::WebState;
use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::CookieJar;
use l2c_orders::{sessions, users};
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Instant;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/sign-in", get(form).post(sign_in))
        .route("/sign-out", post(sign_out))
}

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    chrome: Chrome,
    name: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

/// `next` if it is a path on this site, else the home page (never another site).
fn local(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

async fn form(Query(q): Query<Next>) -> Response {
    render(&SignInPage {
        chrome: Chrome::anonymous("Sign in"),
        name: String::new(),
        next: local(q.next.as_deref()),
        error: None,
    })
}

/// The client's address as the listener saw it (absent when the router is called without a
/// socket, as in unit tests). Behind a proxy this is the proxy: the per-name limit still holds.
struct ClientAddr(Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>();
        Ok(ClientAddr(addr.map(|ConnectInfo(a)| *a)))
    }
}

#[derive(Deserialize)]
struct Credentials {
    name: String,
    password: String,
    next: Option<String>,
}

/// Whether a browser's `Origin` (when it sends one) is this site: a sign-in form posted from
/// elsewhere would sign the victim in as the attacker.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    host.is_some() && origin_host == host
}

async fn sign_in(
    State(state): State<WebState>,
    ClientAddr(peer): ClientAddr,
    headers: HeaderMap,
    Form(c): Form<Credentials>,
) -> Response {
    if !same_origin(&headers) {
        return WebError::Csrf.page(None);
    }
    let next = local(c.next.as_deref());
    let name_key = format!("name:{}", c.name.trim().to_lowercase());
    let addr_key = peer.map(|a| format!("addr:{}", a.ip()));
    let now = Instant::now();
    let throttle = &state.throttle;
    let blocked = throttle
        .blocked(&name_key, now)
        .into_iter()
        .chain(addr_key.as_ref().and_then(|k| throttle.blocked(k, now)))
        .max();
    if let Some(wait) = blocked {
        return WebError::Limited {
            message: "Too many failed sign-ins. Wait a minute, then try again.".into(),
            retry_after: wait.as_secs().max(1),
        }
        .page(None);
    }
    let user = match users::user_by_password(&state.app.db, c.name.trim(), &c.password).await {
        Ok(u) => u,
        Err(e) => return WebError::from(e).page(None),
    };
    let Some(user) = user else {
        let address = peer.map(|a| a.ip().to_string()).unwrap_or_default();
        let app = &state.app;
        app.records
            .sign_in_failure(app.clock.now_ms(), &c.name, &address);
        throttle.failed(&name_key, now);
        if let Some(k) = &addr_key {
            throttle.failed(k, now);
        }
        let mut page = render(&SignInPage {
            chrome: Chrome::anonymous("Sign in"),
            name: c.name,
            next,
            error: Some("That name and password do not match a user.".into()),
        });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    };
    throttle.forget(&name_key);
    let opened = match sessions::open(&state.app.db, &user.id, session::wall_now()).await {
        Ok(o) => o,
        Err(e) => return WebError::from(e).page(None),
    };
    let secure = state.app.settings.web.behind_tls;
    let jar = CookieJar::new().add(session::cookie(opened.id, secure));
    (jar, Redirect::to(&next)).into_response()
}

#[derive(Deserialize)]
struct Nothing {}

async fn sign_out(State(state): State<WebState>, jar: CookieJar, posted: Posted<Nothing>) -> Page {
    let Posted { viewer, .. } = posted;
    if let Some(id) = jar.get(COOKIE).map(|c| c.value().to_string()) {
        sessions::close(&state.app.db, &id)
            .await
            .map_err(|e| viewer.error(e))?;
    }
    let secure = state.app.settings.web.behind_tls;
    let jar = jar.add(session::removal(secure));
    Ok((jar, Redirect::to("/sign-in")).into_response())
}
