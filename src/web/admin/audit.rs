//! The audit log on the desk: who changed users, tokens, accounts, schedules and incident
//! decisions, with before and after, newest first, by subject or actor, a page at a time;
//! and a verification of every hash chain (`crate::audit_trail::verify`, as
//! `GET /api/v1/audit/verify` and `l2c audit verify` do).

use super::super::page::{render, Chrome, Page};
use super::super::session::Viewer;
use super::super::WebState;
use super::{admin_only, tabs, Tab};
use crate::audit_trail::{self, Verification};
use askama::Template;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use l2c_orders::audit::{self, AuditRow, Filter};
use serde::Deserialize;

/// Entries per page.
const PAGE: i64 = 50;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new().route("/admin/audit", get(show))
}

/// An entry as the page shows it.
struct Row {
    position: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    before: String,
    after: String,
}

impl From<AuditRow> for Row {
    fn from(e: AuditRow) -> Row {
        Row {
            position: e.position,
            at: e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
            actor: e.actor,
            action: e.action,
            subject: e.subject,
            before: shown(e.before),
            after: shown(e.after),
        }
    }
}

/// A before or after as lines of `key: value` (an object), or the value itself.
fn shown(value: Option<serde_json::Value>) -> String {
    match value {
        None => "—".to_string(),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                v => format!("{k}: {v}"),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(v) => v.to_string(),
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    subject: String,
    actor: String,
    rows: Vec<Row>,
    /// The `before` of the next page, when there is one.
    older: Option<i64>,
    verification: Option<Verification>,
}

#[derive(Deserialize)]
struct Wanted {
    subject: Option<String>,
    actor: Option<String>,
    before: Option<i64>,
    verify: Option<String>,
}

/// A filter's text, when one was typed.
fn given(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

async fn show(State(state): State<WebState>, viewer: Viewer, Query(q): Query<Wanted>) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let filter = Filter {
        subject: given(q.subject),
        actor: given(q.actor),
        before: q.before.filter(|b| *b > 0),
        limit: PAGE + 1,
    };
    let mut entries = audit::list(&state.app.db, &filter)
        .await
        .map_err(|e| viewer.error(e))?;
    let more = entries.len() as i64 > PAGE;
    entries.truncate(PAGE as usize);
    let older = more.then(|| entries.last().map(|e| e.position)).flatten();
    let verification = match q.verify {
        Some(_) => Some(
            audit_trail::verify(&state.app, None)
                .await
                .map_err(|e| viewer.error(e))?,
        ),
        None => None,
    };
    Ok(render(&AuditPage {
        chrome: Chrome::new(&viewer, "Audit log", "/admin/users"),
        tabs: tabs(&state, "/admin/audit"),
        subject: filter.subject.unwrap_or_default(),
        actor: filter.actor.unwrap_or_default(),
        rows: entries.into_iter().map(Row::from).collect(),
        older,
        verification,
    }))
}
