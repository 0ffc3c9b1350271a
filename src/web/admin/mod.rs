//! Admins' pages (role admin): incidents (retry, skip with an output), users, customer and
//! billing accounts, workflows with their drawings and versions, and the sandbox clock. They
//! call the engine and `l2c_orders` as the API does.
//!
//! What the pages share is here: the admins-only check (the API's `Admins` role set) and the
//! admin sub-navigation. Their inputs, and the domain's field problems placed at the inputs
//! of the same name (`buyer.country`, `groups[1]`), come from [`super::form`], as finance's
//! and the order form's do.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod clock;
pub mod incidents;
pub mod users;
pub mod workflows;

use super::error::WebError;
use super::form::{self, Input, Kind};
pub(super) use super::form::{input, place, problems_of};
use super::session::Viewer;
use super::WebState;
use crate::http::extract::{require, Admins, Roles};
use axum::Router;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .merge(incidents::router())
        .merge(users::router())
        .merge(access::router())
        .merge(audit::router())
        .merge(accounts::router())
        .merge(workflows::router())
        .merge(clock::router())
}

/// Refuses (403, the API's message) anyone but an admin; the caller shows it with
/// `viewer.error`.
fn admin_only(viewer: &Viewer) -> Result<(), WebError> {
    require(&viewer.user, Admins::ROLES)
        .map(|_| ())
        .map_err(WebError::from)
}

/// One link of the admin sub-navigation.
pub struct Tab {
    /// Where it goes.
    pub href: &'static str,
    /// What it says.
    pub label: &'static str,
    /// Whether it is this page.
    pub current: bool,
}

/// The admin pages' own navigation; the clock only when there is a sandbox clock (the main
/// navigation has no room for it, and it exists only in sandbox mode).
fn tabs(state: &WebState, here: &str) -> Vec<Tab> {
    let mut all = vec![
        ("/admin/incidents", "Incidents"),
        ("/admin/users", "Users"),
        ("/admin/accounts", "Accounts"),
        ("/admin/workflows", "Workflows"),
        ("/admin/audit", "Audit log"),
    ];
    if state.app.sandbox.is_some() {
        all.push(("/admin/clock", "Sandbox clock"));
    }
    all.into_iter()
        .map(|(href, label)| Tab {
            href,
            label,
            current: href == here,
        })
        .collect()
}

/// A select named `name` of `(value, label)` choices, `value` chosen.
fn select(name: &str, label: &str, value: &str, choices: &[(String, String)], help: &str) -> Input {
    let mut i = form::input(name, label, Kind::Select, value, help);
    i.choices = choices
        .iter()
        .map(|(v, l)| form::Choice {
            value: v.clone(),
            label: l.clone(),
            selected: v == value,
        })
        .collect();
    i
}

/// A JSON text's problem in words, naming where it is (`line 2, column 5`).
fn json_problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    format!(
        "this is not valid JSON: {what} (line {}, column {})",
        e.line(),
        e.column()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_problems_say_where() {
        let e = serde_json::from_str::<serde_json::Value>("{\n  \"a\": }")
            .err()
            .unwrap_or_else(|| panic!("bad JSON"));
        let m = json_problem(&e);
        assert!(m.contains("line 2, column"), "{m}");
        assert!(!m.contains(" at line "), "{m}");
    }
}
