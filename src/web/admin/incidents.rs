//! Incidents: steps whose retries ran out, with the step, its last error, the attempts and
//! the order; Retry and Skip (with an output) call the engine as `POST
//! /api/v1/incidents/{step}/retry|skip` do, and the output's rule is the API's
//! ([`crate::http::admin::skip_output`]). Text that is not JSON is reported at the textarea
//! with its line and column, and what was typed stays.

use super::super::page::{render, Chrome, Page};
use super::super::session::{Posted, Viewer};
use super::super::timeline::Stages;
use super::super::WebState;
use super::{admin_only, json_problem, problems_of, tabs, Tab};
use crate::http::admin::skip_output;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use l2c_orders::error::DeskError;
use l2c_orders::payload::business_key_order;
use serde::Deserialize;
use serde_json::Value;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/incidents", get(list))
        .route("/admin/incidents/{step}/retry", post(retry))
        .route("/admin/incidents/{step}/skip", post(skip))
}

/// One incident as the list shows it, with its skip form's text and problem.
struct Row {
    step_id: String,
    order_id: String,
    stage: String,
    title: String,
    error: String,
    attempt: i64,
    output: String,
    output_error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_incidents.html")]
struct IncidentsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    rows: Vec<Row>,
}

/// A skip form that came back: its step, what was typed and what is wrong with it.
struct Refused<'a> {
    step: &'a str,
    output: &'a str,
    problem: String,
}

async fn page(
    state: &WebState,
    viewer: &Viewer,
    notice: Option<String>,
    refused: Option<Refused<'_>>,
) -> Result<Response, DeskError> {
    let mut stages = Stages::default();
    for d in state.app.engine.definitions() {
        stages.add(&d);
    }
    let rows = state
        .app
        .engine
        .incidents()
        .await?
        .into_iter()
        .map(|i| {
            let again = refused.as_ref().filter(|r| r.step == i.step_id);
            Row {
                order_id: i
                    .business_key
                    .as_deref()
                    .and_then(business_key_order)
                    .unwrap_or_default()
                    .to_string(),
                title: stages.title(&i.stage),
                output: again.map(|r| r.output.to_string()).unwrap_or_default(),
                output_error: again.map(|r| r.problem.clone()),
                step_id: i.step_id,
                stage: i.stage,
                error: i.error.unwrap_or_default(),
                attempt: i.attempt,
            }
        })
        .collect();
    let status = if refused.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = IncidentsPage {
        chrome: Chrome::new(viewer, "Incidents", "/admin/incidents").notice(notice),
        tabs: tabs(state, "/admin/incidents"),
        rows,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
struct Done {
    did: Option<String>,
    step: Option<String>,
}

/// The notice after acting; only the two known verbs are worded (the query is the user's).
fn done_notice(done: &Done) -> Option<String> {
    let verb = match done.did.as_deref()? {
        "retried" => "was put back in the queue",
        "skipped" => "was skipped; the workflow moved on",
        _ => return None,
    };
    let step = done.step.as_deref()?;
    Some(format!("Step {step} {verb}."))
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(done): Query<Done>) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    page(&state, &viewer, done_notice(&done), None)
        .await
        .map_err(|e| viewer.error(e))
}

#[derive(Deserialize)]
struct RetryForm {}

async fn retry(
    State(state): State<WebState>,
    Path(step): Path<String>,
    posted: Posted<RetryForm>,
) -> Page {
    let viewer = posted.viewer;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    state
        .app
        .retry_incident(&viewer.user.name, &step)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(Redirect::to(&format!("/admin/incidents?did=retried&step={step}")).into_response())
}

#[derive(Deserialize)]
struct SkipForm {
    #[serde(default)]
    output: String,
}

/// The typed output as the API's `output`: empty is none; text that is not JSON is the
/// page's own problem, worded with its place.
fn read_output(text: &str) -> Result<Option<Value>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text)
        .map(Some)
        .map_err(|e| json_problem(&e))
}

async fn skip(
    State(state): State<WebState>,
    Path(step): Path<String>,
    posted: Posted<SkipForm>,
) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let outcome = match read_output(&form.output) {
        Err(problem) => Err(problem),
        Ok(output) => match skip_step(&state, &viewer, &step, output).await {
            Ok(()) => Ok(()),
            Err(e) => Err(field_message(e).map_err(|e| viewer.error(e))?),
        },
    };
    match outcome {
        Ok(()) => {
            Ok(Redirect::to(&format!("/admin/incidents?did=skipped&step={step}")).into_response())
        }
        Err(problem) => {
            let refused = Refused {
                step: &step,
                output: &form.output,
                problem,
            };
            page(&state, &viewer, None, Some(refused))
                .await
                .map_err(|e| viewer.error(e))
        }
    }
}

/// Skips through the API's rule for the output, then the engine.
async fn skip_step(
    state: &WebState,
    viewer: &Viewer,
    step: &str,
    output: Option<Value>,
) -> Result<(), DeskError> {
    let output = skip_output(output)?;
    state
        .app
        .skip_incident(&viewer.user.name, step, output)
        .await?;
    Ok(())
}

/// A field problem's words, for the textarea; any other error stays an error page.
fn field_message(e: DeskError) -> Result<String, DeskError> {
    let problems = problems_of(e)?;
    Ok(problems
        .iter()
        .map(|p| p.message.clone())
        .collect::<Vec<_>>()
        .join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_output_is_none_and_bad_json_says_where() {
        assert_eq!(read_output("  "), Ok(None));
        assert_eq!(
            read_output("{\"port\": \"p-1\"}"),
            Ok(Some(serde_json::json!({"port": "p-1"})))
        );
        let e = read_output("{\"port\": }").err().unwrap_or_default();
        assert!(e.contains("line 1, column 10"), "{e}");
    }
}
