//! Finance's pages (role finance, and admins): billing runs (list, a new run with its dry-run
//! preview, a run's progress, totals, documents and exports: [`runs`]) and billing schedules
//! (list, create with a preview of the next occurrences, delete: [`schedules`]). Invoices
//! (filters, void, credit notes with a preview) are in [`super::invoices`]. Every page calls
//! `l2c_invoicing` as the API does, and admits the API's roles ([`FinanceAndAdmins`]).

pub mod runs;
pub mod schedules;

use super::form::{Input, Kind};
use super::session::Viewer;
use super::WebState;
use crate::http::extract::{require, FinanceAndAdmins, Roles};
use axum::response::Response;
use axum::Router;
use l2c_orders::error::DeskError;
use l2c_orders::users::User;
use std::collections::HashMap;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .merge(runs::router())
        .merge(schedules::router())
}

/// The viewer, if finance or an admin; anyone else gets the API's 403 page.
#[allow(
    clippy::result_large_err,
    reason = "the error is the rendered page every handler returns as its `Page` error"
)]
pub fn finance(viewer: &Viewer) -> Result<&User, Response> {
    require(&viewer.user, FinanceAndAdmins::ROLES).map_err(|e| viewer.error(e))
}

/// The problems of a validation error by field path (`date`, `cron`), each field's messages
/// joined; `None` for any other error, which gets an error page instead.
pub fn field_problems(e: &DeskError) -> Option<HashMap<String, String>> {
    let DeskError::Validation(problems) = e else {
        return None;
    };
    let mut by_field: HashMap<String, String> = HashMap::new();
    for p in problems {
        by_field
            .entry(p.path.clone())
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&p.message);
            })
            .or_insert_with(|| p.message.clone());
    }
    Some(by_field)
}

/// An input of one of finance's forms (drawn by `input.html`, as the order form's are).
pub fn input(name: &str, label: &str, kind: Kind, value: &str, help: &str) -> Input {
    Input {
        name: name.to_string(),
        label: label.to_string(),
        kind,
        value: value.to_string(),
        choices: Vec::new(),
        min: String::new(),
        max: String::new(),
        step: "1",
        help: help.to_string(),
        required: false,
        error: None,
    }
}

/// Puts each problem at the input of its field; returns those of no input, for the top of
/// the form.
pub fn attach(inputs: &mut [Input], mut problems: HashMap<String, String>) -> Vec<String> {
    for i in inputs.iter_mut() {
        i.error = problems.remove(&i.name);
    }
    let mut rest: Vec<String> = problems
        .into_iter()
        .map(|(path, message)| {
            if path.is_empty() {
                message
            } else {
                format!("{path}: {message}")
            }
        })
        .collect();
    rest.sort();
    rest
}

/// A checkbox's posted value as a bool (browsers send `on`, or nothing).
pub fn ticked(value: Option<&str>) -> bool {
    matches!(value, Some("on" | "true" | "1" | "yes"))
}

/// `Some(notice)` for the `did` query value of a page reached after an action.
pub fn notice(did: Option<&str>, words: &[(&str, &str)]) -> Option<String> {
    let did = did?;
    words
        .iter()
        .find(|(k, _)| *k == did)
        .map(|(_, w)| w.to_string())
}
