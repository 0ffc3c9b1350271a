//! One user's access: their state, their API tokens (listed without secrets, made, rotated,
//! revoked) and deactivation after a confirmation, or reactivation. The pages call the same
//! `App` and `l2c_orders::tokens` functions as `/api/v1/users/{name}/...`; a secret is shown
//! once, on the page that answers the form, never in an address.

use super::super::error::urlencode;
use super::super::form::{field, Fields, Input, Kind};
use super::super::page::{render, Chrome, Page};
use super::super::session::{Posted, Viewer};
use super::super::WebState;
use super::users::user_named;
use super::{admin_only, input, place, problems_of, tabs, Tab};
use crate::access::wall_now;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use l2c_orders::error::{problem, DeskError, FieldProblem};
use l2c_orders::tokens::{self, NewToken, TokenInfo};
use l2c_orders::users::User;
use serde::Deserialize;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/admin/users/{name}", get(show))
        .route("/admin/users/{name}/tokens", post(add_token))
        .route("/admin/users/{name}/tokens/{id}/revoke", post(revoke))
        .route("/admin/users/{name}/tokens/{id}/rotate", post(rotate))
        .route(
            "/admin/users/{name}/deactivate",
            get(confirm_deactivate).post(deactivate),
        )
        .route("/admin/users/{name}/reactivate", post(reactivate))
}

/// The most days a token made here may last (ten years).
const MAX_DAYS: i64 = 3650;

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    user: User,
    tokens: Vec<TokenRow>,
    /// A token just made or rotated: its name and secret.
    secret: Option<(String, String)>,
    inputs: Vec<Input>,
    general: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin_deactivate.html")]
struct ConfirmPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    user: User,
    live_tokens: usize,
}

/// A token as the page shows it.
struct TokenRow {
    id: String,
    name: String,
    created: String,
    expires: String,
    last_used: String,
    /// When it was revoked; None while it is live.
    revoked: Option<String>,
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map_or_else(
        || "never".to_string(),
        |at| at.format("%Y-%m-%d %H:%M UTC").to_string(),
    )
}

impl From<TokenInfo> for TokenRow {
    fn from(t: TokenInfo) -> TokenRow {
        TokenRow {
            created: when(Some(t.created_at)),
            expires: when(t.expires_at),
            last_used: when(t.last_used_at),
            revoked: t.revoked_at.map(|at| when(Some(at))),
            id: t.id,
            name: t.name,
        }
    }
}

struct Shown {
    secret: Option<(String, String)>,
    notice: Option<String>,
    fields: Fields,
    problems: Vec<FieldProblem>,
}

impl Shown {
    fn plain(notice: Option<String>) -> Shown {
        Shown {
            secret: None,
            notice,
            fields: Vec::new(),
            problems: Vec::new(),
        }
    }
}

async fn page(
    state: &WebState,
    viewer: &Viewer,
    name: &str,
    shown: Shown,
) -> Result<Response, DeskError> {
    let user = user_named(state, name).await?;
    let value = |n: &str| field(&shown.fields, n).unwrap_or_default().to_string();
    let mut token_name = input(
        "name",
        "Token name",
        Kind::Text,
        value("name"),
        "1-64 letters, digits, spaces or - _ . (what it is for, e.g. billing-portal).",
    );
    token_name.required = true;
    let mut days = input(
        "expires_days",
        "Expires after (days)",
        Kind::Number,
        value("expires_days"),
        "Optional: 1 to 3650. Without it, the token works until it is revoked.",
    );
    days.min = "1".into();
    days.max = MAX_DAYS.to_string();
    let mut inputs = vec![token_name, days];
    let general = place(&mut inputs, &shown.problems);
    let status = if shown.problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = UserPage {
        chrome: Chrome::new(viewer, format!("User {}", user.name), "/admin/users")
            .notice(shown.notice),
        tabs: tabs(state, "/admin/users"),
        tokens: tokens::list(&state.app.db, &user.name)
            .await?
            .into_iter()
            .map(TokenRow::from)
            .collect(),
        user,
        secret: shown.secret,
        inputs,
        general,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
struct Done {
    did: Option<String>,
}

async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<Done>,
) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    // Only fixed wordings: the query is anyone's to write.
    let notice = match q.did.as_deref() {
        Some("revoked") => Some("The token was revoked; it no longer works anywhere.".into()),
        Some("reactivated") => Some(format!("{name} may sign in again.")),
        _ => None,
    };
    page(&state, &viewer, &name, Shown::plain(notice))
        .await
        .map_err(|e| viewer.error(e))
}

/// The form's token: the name as typed, the days as a time from now.
fn new_token(form: &Fields, now: i64) -> Result<NewToken, FieldProblem> {
    let name = field(form, "name").unwrap_or_default().trim().to_string();
    let days = field(form, "expires_days").unwrap_or_default().trim();
    let expires_at = if days.is_empty() {
        None
    } else {
        let n: i64 = days
            .parse()
            .ok()
            .filter(|n| (1..=MAX_DAYS).contains(n))
            .ok_or_else(|| {
                problem(
                    "expires_days",
                    "range",
                    format!("{days:?} must be a whole number of days from 1 to {MAX_DAYS}"),
                )
            })?;
        Some(now + n * 24 * 3600 * 1000)
    };
    Ok(NewToken { name, expires_at })
}

async fn add_token(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted<Fields>,
) -> Page {
    let Posted { viewer, form } = posted;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let now = wall_now();
    let made = match new_token(&form, now) {
        Err(p) => Err(vec![p]),
        Ok(token) => {
            match tokens::add(&state.app.db, &viewer.user.name, &name, &token, now).await {
                Ok((info, secret)) => Ok((info.name, secret)),
                Err(e) => Err(problems_of(e).map_err(|e| viewer.error(e))?),
            }
        }
    };
    let shown = match made {
        Ok(secret) => Shown {
            secret: Some(secret),
            ..Shown::plain(None)
        },
        Err(problems) => Shown {
            fields: form,
            problems,
            ..Shown::plain(None)
        },
    };
    page(&state, &viewer, &name, shown)
        .await
        .map_err(|e| viewer.error(e))
}

async fn revoke(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted<Fields>,
) -> Page {
    let viewer = posted.viewer;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    state
        .app
        .revoke_token(&viewer.user.name, &name, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    let to = format!("/admin/users/{}?did=revoked", urlencode(&name));
    Ok(Redirect::to(&to).into_response())
}

async fn rotate(
    State(state): State<WebState>,
    Path((name, id)): Path<(String, String)>,
    posted: Posted<Fields>,
) -> Page {
    let viewer = posted.viewer;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let (info, secret) = state
        .app
        .rotate_token(&viewer.user.name, &name, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    let shown = Shown {
        secret: Some((info.name, secret)),
        ..Shown::plain(Some("The old secret no longer works.".into()))
    };
    page(&state, &viewer, &name, shown)
        .await
        .map_err(|e| viewer.error(e))
}

async fn confirm_deactivate(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Page {
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let shown = async {
        let user = user_named(&state, &name).await?;
        let live = tokens::list(&state.app.db, &name)
            .await?
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .count();
        Ok::<_, DeskError>(ConfirmPage {
            chrome: Chrome::new(&viewer, format!("Deactivate {name}?"), "/admin/users"),
            tabs: tabs(&state, "/admin/users"),
            user,
            live_tokens: live,
        })
    };
    let page = shown.await.map_err(|e| viewer.error(e))?;
    Ok(render(&page))
}

async fn deactivate(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted<Fields>,
) -> Page {
    let viewer = posted.viewer;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    let done = state
        .app
        .deactivate_user(&viewer.user.name, &name)
        .await
        .map_err(|e| viewer.error(e))?;
    let notice = format!(
        "{name} is deactivated: {} token(s) revoked, {} session(s) ended, {} claimed task(s) \
         back in their queues.",
        done.tokens_revoked, done.sessions_ended, done.claims_released
    );
    page(&state, &viewer, &name, Shown::plain(Some(notice)))
        .await
        .map_err(|e| viewer.error(e))
}

async fn reactivate(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted<Fields>,
) -> Page {
    let viewer = posted.viewer;
    admin_only(&viewer).map_err(|e| viewer.error(e))?;
    state
        .app
        .reactivate_user(&viewer.user.name, &name)
        .await
        .map_err(|e| viewer.error(e))?;
    let to = format!("/admin/users/{}?did=reactivated", urlencode(&name));
    Ok(Redirect::to(&to).into_response())
}
