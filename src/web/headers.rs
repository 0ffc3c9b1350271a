//! The security headers every page and asset carries: a strict Content-Security-Policy
//! (scripts and styles only from our own files, no inline script, no framing), `nosniff`,
//! `Referrer-Policy: same-origin`, and `no-store` on pages, which show personal data.

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The policy: nothing but our own scripts, styles, images and form targets.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
    base-uri 'none'";

/// Adds the headers to `next`'s response.
pub async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    apply(&mut response);
    response
}

/// Adds the headers to `response` (for pages answered outside the web router, such as the
/// site's not-found page).
pub fn apply(response: &mut Response) {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}
