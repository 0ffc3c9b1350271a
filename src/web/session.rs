//! The signed-in viewer of a page, from the session cookie, and form posts checked against
//! the session's CSRF token. Sessions are `l2c_orders::sessions`; they run on the wall clock
//! (not the sandbox's), so moving the sandbox clock a month does not sign everyone out.

use super::error::WebError;
use super::page::Chrome;
use super::WebState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::Method;
use axum::response::Response;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use l2c_orders::sessions::{self, Session};
use serde::de::DeserializeOwned;

/// The session cookie's name.
pub const COOKIE: &str = "l2c_session";

pub use crate::access::wall_now;

/// The signed-in user of a page, with the session's CSRF token (`viewer.user`,
/// `viewer.csrf`).
#[derive(Debug, Clone)]
pub struct Viewer(pub Session);

impl std::ops::Deref for Viewer {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.0
    }
}

impl Viewer {
    /// `e` as an error page with this viewer's navigation.
    pub fn error(&self, e: impl Into<WebError>) -> Response {
        let e = e.into();
        e.page(Some(Chrome::new(self, "Error", "")))
    }
}

/// The session cookie for `id`: HttpOnly, SameSite=Lax, the whole site, and Secure when the
/// settings say browsers come over TLS. It has no expiry of its own: closing the browser
/// ends it, and the server ends the session after 8 idle hours or 7 days in any case.
pub fn cookie(id: String, secure: bool) -> Cookie<'static> {
    let mut c = Cookie::new(COOKIE, id);
    c.set_http_only(true);
    c.set_same_site(SameSite::Lax);
    c.set_path("/");
    c.set_secure(secure);
    c
}

/// The cookie that removes the session cookie.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = cookie(String::new(), secure);
    c.make_removal();
    c
}

/// Where the request was going, to return there after signing in (only for page views:
/// after a form post the form's page is the better place).
fn return_path(parts: &Parts) -> String {
    if parts.method == Method::GET {
        parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |p| p.as_str().to_string())
    } else {
        "/".to_string()
    }
}

impl FromRequestParts<WebState> for Viewer {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, WebError> {
        let jar = CookieJar::from_headers(&parts.headers);
        let sign_in = || WebError::SignIn {
            next: return_path(parts),
        };
        let Some(id) = jar.get(COOKIE).map(|c| c.value().to_string()) else {
            return Err(sign_in());
        };
        match sessions::find(&state.app.db, &id, wall_now()).await? {
            Some(s) => Ok(Viewer(s)),
            None => Err(sign_in()),
        }
    }
}

/// A form post from a signed-in viewer whose `csrf` field is their session's token; any
/// other post is refused with 403 before the handler runs, so it changes nothing.
pub struct Posted<T> {
    /// Who posted.
    pub viewer: Viewer,
    /// The form's fields (`csrf` included; the form type may ignore it).
    pub form: T,
}

#[derive(serde::Deserialize)]
struct Token {
    csrf: Option<String>,
}

impl<T: DeserializeOwned> FromRequest<WebState> for Posted<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &WebState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state)
            .await
            .map_err(|e| e.page(None))?;
        let req = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| viewer.error(WebError::Status(e.status(), e.body_text())))?;
        let token: Token = serde_urlencoded::from_bytes(&bytes).unwrap_or(Token { csrf: None });
        let matches = token
            .csrf
            .as_deref()
            .is_some_and(|t| viewer.csrf_matches(t));
        if !matches {
            return Err(viewer.error(WebError::Csrf));
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|e| {
            viewer.error(WebError::Status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("the form could not be read: {e}"),
            ))
        })?;
        Ok(Posted { viewer, form })
    }
}
