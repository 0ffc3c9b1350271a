//! The sandbox clock (only when the app runs with `--sandbox`; a 404 otherwise): now, and
//! moving it forward by a duration (`1h`, `2d`) or to an instant, through the API's
//! [`move_sandbox`] so the limits are the same; a problem is shown at its field.

use super::super::error::WebError;
use super::super::form::{field, Fields, Kind};
use super::super::page::{render, when, Chrome, Page};
use super::super::session::{Posted, Viewer};
use super::super::WebState;
use super::{admin_only, input, problems_of, tabs, Tab};
use crate::http::admin::{move_sandbox, ClockRequest};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, NaiveDateTime, Utc};
use l2c_orders::error::{problem, FieldProblem};
use serde::Deserialize;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new().route("/admin/clock", get(show).post(move_it))
}

#[derive(Template)]
#[template(path = "admin_clock.html")]
struct ClockPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    now: String,
    advance: Vec<super::super::form::Input>,
    to: String,
    to_error: Option<String>,
}

/// Without a sandbox clock there is no such page.
fn sandboxed(state: &WebState) -> Result<(), WebError> {
    match state.app.sandbox {
        Some(_) => Ok(()),
        None => Err(WebError::NotFound(
            "There is no sandbox clock: this server runs on the real clock.".into(),
        )),
    }
}

fn page(
    state: &WebState,
    viewer: &Viewer,
    fields: &Fields,
    problems: &[FieldProblem],
    notice: Option<String>,
) -> Response {
    let at = |name: &str| {
        let messages: Vec<&str> = problems
            .iter()
            .filter(|p| p.path == name)
            .map(|p| p.message.as_str())
            .collect();
        (!messages.is_empty()).then(|| messages.join("; "))
    };
    let mut advance = input(
        "advance",
        "Advance by",
        Kind::Text,
        field(fields, "advance").unwrap_or_default(),
        "A duration such as 1h, 2d or 30days (at most ten years).",
    );
    advance.error = at("advance");
    let clock_page = ClockPage {
        chrome: Chrome::new(viewer, "Sandbox clock", "/admin/clock").notice(notice),
        tabs: tabs(state, "/admin/clock"),
        now: when(&state.app.clock.now()),
        advance: vec![advance],
        to: field(fields, "to").unwrap_or_default().to_string(),
        to_error: at("to"),
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    (status, render(&clock_page)).into_response()
}

#[derive(Deserialize)]
struct Done {
    did: Option<String>,
}

async fn show(State(state): State<WebState>, viewer: Viewer, Query(q): Query<Done>) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    sandboxed(&state).map_err(|e| viewer.error(e))?;
    let notice = (q.did.as_deref() == Some("moved"))
        .then(|| format!("The clock now reads {}.", when(&state.app.clock.now())));
    Ok(page(&state, &viewer, &Vec::new(), &[], notice))
}

/// An instant as a `datetime-local` input sends it (`2027-01-01T00:00`, read as UTC), or
/// in RFC 3339; the page's own reading, before the API's rules.
fn read_instant(text: &str) -> Result<DateTime<Utc>, FieldProblem> {
    let text = text.trim();
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|n| n.and_utc())
        .or_else(|| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|d| d.with_timezone(&Utc))
        })
        .ok_or_else(|| {
            problem(
                "to",
                "instant",
                format!("{text:?} is not a date and time such as 2027-01-01T00:00"),
            )
        })
}

/// The API's request from whichever form was sent (each has one field).
fn request(fields: &Fields) -> Result<ClockRequest, FieldProblem> {
    let filled = |name: &str| field(fields, name).filter(|v| !v.trim().is_empty());
    Ok(ClockRequest {
        advance: filled("advance").map(|a| a.trim().to_string()),
        to: filled("to").map(read_instant).transpose()?,
    })
}

async fn move_it(State(state): State<WebState>, posted: Posted<Fields>) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    sandboxed(&state).map_err(|e| viewer.error(e))?;
    let problems = match request(&form) {
        Err(p) => vec![p],
        Ok(r) => match move_sandbox(&state.app, &r) {
            Ok(_) => return Ok(Redirect::to("/admin/clock?did=moved").into_response()),
            Err(e) => problems_of(e).map_err(|e| viewer.error(e))?,
        },
    };
    Ok(page(&state, &viewer, &form, &problems, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_datetime_is_read_as_utc() {
        let at = read_instant("2027-01-01T08:30").unwrap_or_else(|p| panic!("{p:?}"));
        assert_eq!(at.to_rfc3339(), "2027-01-01T08:30:00+00:00");
        assert!(read_instant("tomorrow").is_err());
    }
}
