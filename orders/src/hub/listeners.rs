//! Listeners (`hub_listeners`): who registered which callback with which query. Admins'
//! listeners hear every order; a requester's hears its own account's orders only, exactly the
//! orders it may see; other roles do not register (docs/api.md, "Event notifications").

use super::filter::Filter;
use crate::error::{problem, DeskError, DeskResult, FieldProblem};
use crate::shapes;
use crate::users::{Role, User};
use l2c_engine::db::Db;
use serde::Serialize;
use sqlx::Row;

/// A registered listener (TMF630 hub resource), as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Listener {
    /// The hub id.
    pub id: String,
    /// Where events are POSTed.
    pub callback: String,
    /// The filter, in its canonical spelling (absent: every event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// Problems of a callback URL: [`shapes::CALLBACK`], its length told apart.
fn callback_problems(callback: &str) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let max = shapes::CALLBACK.max_chars();
    if callback.chars().count() > max {
        problems.push(problem(
            "callback",
            "max_length",
            format!("a callback has at most {max} characters"),
        ));
    } else if !shapes::CALLBACK.fits(callback) {
        problems.push(problem(
            "callback",
            "url",
            format!("{callback:?} is not {}", shapes::CALLBACK.says),
        ));
    }
    problems
}

/// The account `user`'s listeners are limited to (none: every order); other roles may not
/// register.
fn scope(user: &User) -> DeskResult<Option<String>> {
    match user.role {
        Role::Admin => Ok(None),
        Role::Requester => Ok(user.account_scope()?.map(str::to_string)),
        _ => Err(DeskError::Forbidden(format!(
            "{} is a {}; listeners are registered by admins and requesters",
            user.name, user.role
        ))),
    }
}

/// Registers a listener for `user`; answers it with its secret (shown this once).
pub async fn register(
    db: &Db,
    user: &User,
    callback: &str,
    query: Option<&str>,
    now: i64,
) -> DeskResult<(Listener, String)> {
    let account = scope(user)?;
    let mut problems = callback_problems(callback);
    let filter = Filter::parse(query).unwrap_or_else(|p| {
        problems.extend(p);
        Filter::default()
    });
    DeskError::check(problems)?;
    let listener = Listener {
        id: uuid::Uuid::now_v7().to_string(),
        callback: callback.to_string(),
        query: filter.canonical(),
    };
    let secret = hex::encode(rand::random::<[u8; 32]>());
    sqlx::query(
        "INSERT INTO hub_listeners (id, callback, query, secret, owner, account_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(listener.id.clone())
    .bind(listener.callback.clone())
    .bind(listener.query.clone())
    .bind(secret.clone())
    .bind(user.name.clone())
    .bind(account)
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok((listener, secret))
}

/// Removes a listener `user` registered (admins: any), with the deliveries still owed to it.
/// Another requester's listener is not found, like a missing one.
pub async fn remove(db: &Db, user: &User, id: &str) -> DeskResult<()> {
    scope(user)?;
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("SELECT owner FROM hub_listeners WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let owner: Option<String> = row.map(|r| r.try_get("owner")).transpose()?;
    match owner {
        Some(owner) if user.role == Role::Admin || owner == user.name => {}
        _ => return Err(DeskError::not_found("listener", id)),
    }
    super::delivery::forget_listener(&mut tx, db.backend, id).await?;
    sqlx::query("DELETE FROM hub_listeners WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(callback: &str) -> Vec<&'static str> {
        callback_problems(callback).iter().map(|p| p.rule).collect()
    }

    #[test]
    fn callbacks_are_absolute_http_urls() {
        assert!(rules("https://crm.example.net/events?x=1").is_empty());
        assert!(rules("http://127.0.0.1:8081/hook").is_empty());
        assert!(rules("http://user:pw@host/x").is_empty());
        for bad in [
            "ftp://host/x",
            "crm.example.net",
            "https://",
            "http:///x",
            "https://a b/",
        ] {
            assert_eq!(rules(bad), ["url"], "{bad}");
        }
        assert_eq!(
            rules(&format!(
                "https://h/{}",
                "x".repeat(shapes::CALLBACK.max_chars())
            )),
            ["max_length"]
        );
        assert_eq!(rules("https://h/\u{0}"), ["url"]);
        assert_eq!(
            rules("https://h/\u{3000}"),
            ["url"],
            "Unicode spaces are spaces"
        );
        assert!(rules("https://h/caf\u{e9}").is_empty());
    }
}
