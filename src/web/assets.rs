//! The stylesheet and scripts, embedded in the binary (rust-embed) and served under
//! `/static/`. Pages link them as `/static/<file>?v=<content hash>`: a URL with the current
//! hash is cached for a year (`immutable`), any other revalidates with its ETag.

use super::WebState;
use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::Embed;
use serde::Deserialize;

#[derive(Embed)]
#[folder = "src/web/static/"]
struct Static;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new().route("/static/{file}", get(serve))
}

/// A file's content hash (the first 16 hex digits of its SHA-256), `None` if there is no
/// such file.
pub fn version(file: &str) -> Option<String> {
    let embedded = Static::get(file)?;
    Some(hex::encode(&embedded.metadata.sha256_hash()[..8]))
}

/// The URL pages link `file` by: its path with its content hash.
pub fn url(file: &str) -> String {
    match version(file) {
        Some(v) => format!("/static/{file}?v={v}"),
        None => format!("/static/{file}"),
    }
}

/// An embedded text file's content (empty if absent), for a page saved as one file.
pub fn text(file: &str) -> String {
    Static::get(file)
        .map(|f| String::from_utf8_lossy(&f.data).into_owned())
        .unwrap_or_default()
}

/// The size in bytes of an embedded file (0 if absent), for the page-weight bench.
pub fn size(file: &str) -> usize {
    Static::get(file).map_or(0, |f| f.data.len())
}

#[derive(Deserialize)]
struct Versioned {
    v: Option<String>,
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

async fn serve(
    Path(file): Path<String>,
    Query(q): Query<Versioned>,
    headers: HeaderMap,
) -> Response {
    let Some(embedded) = Static::get(&file) else {
        return super::not_found().await;
    };
    let hash = hex::encode(embedded.metadata.sha256_hash());
    let etag = format!("\"{hash}\"");
    let current = q.v.is_some_and(|v| hash.starts_with(&v) && v.len() == 16);
    let cache = if current {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, content_type(&file))],
            embedded.data.into_owned(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}
