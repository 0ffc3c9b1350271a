//! The security headers every API answer carries (the web desk's pages have their own, in
//! `crate::web::headers`): `nosniff`, no framing (`frame-ancestors 'none'`, `X-Frame-Options`),
//! no referrer, and `no-store` on answers to authenticated requests, which hold a user's data.
//! The policy names only `frame-ancestors`, so the API's docs page keeps its scripts.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// Adds the headers to `next`'s response.
pub async fn secure(request: Request, next: Next) -> Response {
    let authenticated = request.headers().contains_key(header::AUTHORIZATION);
    let mut response = next.run(request).await;
    apply(&mut response, authenticated);
    response
}

/// Adds the headers to `response` (also for API answers made outside the API's router, such
/// as a path no route serves); `authenticated`: the request carried credentials.
pub fn apply(response: &mut Response, authenticated: bool) {
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'none'"),
        );
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if authenticated {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
