//! What a page shows when something goes wrong: the API's status and message for the same
//! error (one mapping, `crate::http::problem`), on a page of its own; a missing or expired
//! session is a redirect to the sign-in page instead.

use super::page::{render, Chrome};
use crate::http::problem::ApiError;
use askama::Template;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use l2c_engine::EngineError;
use l2c_orders::error::DeskError;

/// An error page, or the way to the sign-in page.
#[derive(Debug)]
pub enum WebError {
    /// Not signed in: go to the sign-in page, then back to `next`.
    SignIn {
        /// Where to return after signing in (a path on this site).
        next: String,
    },
    /// A form without this session's CSRF token.
    Csrf,
    /// Nothing here the viewer may see.
    NotFound(String),
    /// Too many attempts: try again after `retry_after` seconds (429, `Retry-After`).
    Limited {
        /// What was refused, and why.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// Any other error, with the HTTP status the API answers for it.
    Status(StatusCode, String),
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    heading: &'static str,
    message: String,
}

impl WebError {
    fn status(&self) -> StatusCode {
        match self {
            WebError::SignIn { .. } => StatusCode::SEE_OTHER,
            WebError::Csrf => StatusCode::FORBIDDEN,
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
            WebError::Status(s, _) => *s,
        }
    }

    /// What the error says, in a sentence.
    pub fn message(&self) -> String {
        match self {
            WebError::SignIn { .. } => "sign in first".to_string(),
            WebError::Csrf => "the form has expired".to_string(),
            WebError::NotFound(m)
            | WebError::Status(_, m)
            | WebError::Limited { message: m, .. } => m.clone(),
        }
    }

    /// The response: a redirect for [`WebError::SignIn`], else the error page, with the
    /// viewer's navigation when there is one.
    pub fn page(self, chrome: Option<Chrome>) -> Response {
        let status = self.status();
        let retry_after = match &self {
            WebError::Limited { retry_after, .. } => Some(*retry_after),
            _ => None,
        };
        let (heading, message) = match self {
            WebError::SignIn { next } => {
                let to = format!("/sign-in?next={}", urlencode(&next));
                return Redirect::to(&to).into_response();
            }
            WebError::Csrf => (
                "This form has expired",
                "The form was not sent from this session's page (it may be old, or from \
                 another site). Nothing was changed. Go back, reload the page and try again."
                    .to_string(),
            ),
            WebError::NotFound(m) => ("Not found", m),
            WebError::Limited { message, .. } => (heading_for(status), message),
            WebError::Status(s, m) => (heading_for(s), m),
        };
        let chrome = chrome.unwrap_or_else(|| Chrome::anonymous(heading));
        let mut response = render(&ErrorPage {
            chrome,
            heading,
            message,
        });
        *response.status_mut() = status;
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

fn heading_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::CONFLICT => "That did not work",
        StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
        StatusCode::SERVICE_UNAVAILABLE => "Busy, try again",
        s if s.is_client_error() => "That did not work",
        _ => "Something went wrong",
    }
}

/// `text` as a URL query value.
pub fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .map(|s| s.trim_start_matches('=').to_string())
        .unwrap_or_default()
}

impl From<ApiError> for WebError {
    fn from(e: ApiError) -> Self {
        let p = e.0;
        let status = StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut message = p.detail;
        for f in &p.errors {
            message.push_str(&format!("; {}: {}", f.path, f.message));
        }
        match status {
            StatusCode::NOT_FOUND => WebError::NotFound(message),
            StatusCode::TOO_MANY_REQUESTS => WebError::Limited {
                message,
                retry_after: p.retry_after.unwrap_or(60),
            },
            StatusCode::UNAUTHORIZED => WebError::SignIn { next: "/".into() },
            s => WebError::Status(s, message),
        }
    }
}

impl From<DeskError> for WebError {
    fn from(e: DeskError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<EngineError> for WebError {
    fn from(e: EngineError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        self.page(None)
    }
}

/// Results of page handlers.
pub type WebResult<T> = Result<T, WebError>;
