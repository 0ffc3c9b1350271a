//! Users: the list (name, role, groups, account), creating one (role, groups, account,
//! initial password) through `App::add_user` as `POST /api/v1/users` does, with
//! `NewUser::validate`'s problems at the fields, and setting a new password
//! (`users::set_password`, as `l2c user passwd` does). The new user's API token is shown
//! once, on the page that answers the form, never in an address. Each user's tokens and
//! deactivation are on their own page ([`super::access`]).

use super::super::error::urlencode;
use super::super::form::{field, Fields, Input, Kind};
use super::super::page::{render, Chrome, Page};
use super::super::session::{Posted, Viewer};
use super::super::WebState;
use super::{admin_only, input, place, problems_of, select, tabs, Tab};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use l2c_orders::accounts;
use l2c_orders::error::{DeskError, FieldProblem};
use l2c_orders::users::{self, NewUser, Role, User, ROLES};
use serde::Deserialize;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route(
            "/admin/users/{name}/password",
            get(password_form).post(set_password),
        )
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    users: Vec<User>,
    /// Name, token and whether a password was set, right after creating.
    created: Option<(String, String, bool)>,
    inputs: Vec<Input>,
    groups: Vec<(String, bool)>,
    groups_error: Option<String>,
    password_error: Option<String>,
    general: Vec<String>,
}

/// The create form: name, role and account inputs, filled from `fields` when posted.
async fn inputs(state: &WebState, fields: &Fields) -> Result<Vec<Input>, DeskError> {
    let value = |name: &str, default: &str| field(fields, name).unwrap_or(default).to_string();
    let roles: Vec<(String, String)> = ROLES
        .iter()
        .map(|r| (r.to_string(), r.to_string()))
        .collect();
    // Not required: the select's own "(none)" is for every role but requester.
    let customers: Vec<(String, String)> = accounts::customers(&state.app.db)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), format!("{} ({})", c.name, c.id)))
        .collect();
    let mut name = input(
        "name",
        "Name",
        Kind::Text,
        value("name", ""),
        "1-64 letters, digits or - _ . @; what tasks and history show.",
    );
    name.required = true;
    let mut role = select(
        "role",
        "Role",
        &value("role", "requester"),
        &roles,
        "What they may do.",
    );
    role.required = true;
    let account = select(
        "account",
        "Customer account",
        &value("account", ""),
        &customers,
        "Requesters only: the account they order for.",
    );
    Ok(vec![name, role, account])
}

/// The users page, with the create form as posted and its problems.
async fn page(
    state: &WebState,
    viewer: &Viewer,
    fields: &Fields,
    problems: &[FieldProblem],
    created: Option<(String, String, bool)>,
    notice: Option<String>,
) -> Result<Response, DeskError> {
    let mut all = inputs(state, fields).await?;
    all.push(input("groups", "Groups", Kind::Text, "", ""));
    all.push(input("password", "Password", Kind::Text, "", ""));
    let general = place(&mut all, problems);
    let password_error = all.pop().and_then(|i| i.error);
    let groups_error = all.pop().and_then(|i| i.error);
    let chosen: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "groups")
        .map(|(_, v)| v.as_str())
        .collect();
    let page = UsersPage {
        chrome: Chrome::new(viewer, "Users", "/admin/users").notice(notice),
        tabs: tabs(state, "/admin/users"),
        users: users::list(&state.app.db).await?,
        created,
        inputs: all,
        groups: state
            .app
            .groups
            .iter()
            .map(|g| (g.clone(), chosen.contains(&g.as_str())))
            .collect(),
        groups_error,
        password_error,
        general,
    };
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, render(&page)).into_response())
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(q): Query<Done>) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let notice = did_notice(&state, &q).await;
    page(&state, &viewer, &Vec::new(), &[], None, notice)
        .await
        .map_err(|e| viewer.error(e))
}

/// The API's new user from the form; a role that is not one is the page's own problem
/// (the select offers only real ones).
fn new_user(fields: &Fields) -> Result<NewUser, FieldProblem> {
    let text = |name: &str| field(fields, name).map(str::trim).unwrap_or_default();
    let role: Role = text("role")
        .parse()
        .map_err(|e: String| l2c_orders::error::problem("role", "role", e))?;
    let optional = |name: &str| Some(text(name).to_string()).filter(|v| !v.is_empty());
    Ok(NewUser {
        name: text("name").to_string(),
        role,
        account: optional("account"),
        groups: fields
            .iter()
            .filter(|(k, _)| k == "groups")
            .map(|(_, v)| v.clone())
            .collect(),
        // A password is taken as typed: spaces are characters of it.
        password: field(fields, "password")
            .filter(|p| !p.is_empty())
            .map(str::to_string),
    })
}

async fn create(State(state): State<WebState>, posted: Posted<Fields>) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let added = match new_user(&form) {
        Err(p) => Err(vec![p]),
        Ok(new) => match state.app.add_user(&viewer.user.name, &new).await {
            Ok((user, token)) => Ok((user.name, token, new.password.is_some())),
            // A taken name belongs at the name field, like any other problem of it.
            Err(DeskError::Conflict(m)) => {
                Err(vec![l2c_orders::error::problem("name", "unique", m)])
            }
            Err(e) => Err(problems_of(e).map_err(|e| viewer.error(e))?),
        },
    };
    let shown = match added {
        Ok(created) => page(&state, &viewer, &Vec::new(), &[], Some(created), None).await,
        Err(problems) => page(&state, &viewer, &form, &problems, None, None).await,
    };
    shown.map_err(|e| viewer.error(e))
}

#[derive(Template)]
#[template(path = "admin_password.html")]
struct PasswordPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    name: String,
    password_error: Option<String>,
    again_error: Option<String>,
}

/// The user named `name`, or a 404.
pub(super) async fn user_named(state: &WebState, name: &str) -> Result<User, DeskError> {
    users::list(&state.app.db)
        .await?
        .into_iter()
        .find(|u| u.name == name)
        .ok_or_else(|| DeskError::not_found("user", name))
}

fn password_page(
    state: &WebState,
    viewer: &Viewer,
    name: String,
    errors: (Option<String>, Option<String>),
) -> Response {
    let status = if errors.0.is_some() || errors.1.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = PasswordPage {
        chrome: Chrome::new(viewer, format!("New password for {name}"), "/admin/users"),
        tabs: tabs(state, "/admin/users"),
        name,
        password_error: errors.0,
        again_error: errors.1,
    };
    (status, render(&page)).into_response()
}

async fn password_form(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let user = user_named(&state, &name)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(password_page(&state, &viewer, user.name, (None, None)))
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

async fn set_password(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted<PasswordForm>,
) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let user = user_named(&state, &name)
        .await
        .map_err(|e| viewer.error(e))?;
    if form.password != form.password2 {
        let differ = Some("the two passwords differ; type the same one twice".to_string());
        return Ok(password_page(&state, &viewer, user.name, (None, differ)));
    }
    match users::set_password(
        &state.app.db,
        &viewer.user.name,
        &user.name,
        &form.password,
        crate::access::wall_now(),
    )
    .await
    {
        Ok(()) => {
            let to = format!("/admin/users?did=password&user={}", urlencode(&user.name));
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            let problems = problems_of(e).map_err(|e| viewer.error(e))?;
            let message = problems
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            Ok(password_page(
                &state,
                &viewer,
                user.name,
                (Some(message), None),
            ))
        }
    }
}

#[derive(Deserialize)]
struct Done {
    did: Option<String>,
    user: Option<String>,
}

/// The notice after setting a password, worded only for a user that exists (the query is
/// anyone's to write).
async fn did_notice(state: &WebState, q: &Done) -> Option<String> {
    if q.did.as_deref() != Some("password") {
        return None;
    }
    let user = user_named(state, q.user.as_deref()?).await.ok()?;
    Some(format!("{} has a new password.", user.name))
}
