//! Named API tokens: a user holds any number, each with an optional expiry, listed without
//! their secrets, revoked or rotated one by one. A secret is shown once, when its token is
//! made, and kept only as its SHA-256. Every change that takes access away bumps the access
//! epoch in the same transaction, which tells every node to drop its cached callers
//! (`l2c::access`).

use crate::audit;
use crate::error::{problem, DeskError, DeskResult};
use crate::users::{hash_token, with_groups, User, USER_COLUMNS};
use chrono::{DateTime, Utc};
use l2c_engine::db::Db;
use serde::Serialize;
use sqlx::Row;

/// A token as it is listed: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    /// The id (what revoke and rotate take).
    pub id: String,
    /// The name its user gave it (unique among the user's live tokens).
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (written every few seconds, so up to that late).
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A token to make.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// Its name ([`crate::shapes::TOKEN_NAME`], e.g. `billing-portal`).
    pub name: String,
    /// When it stops working (ms); must be in the future. None: never.
    pub expires_at: Option<i64>,
}

/// Who a token authenticates, and what a cache needs to keep it honest.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The user.
    pub user: User,
    /// The token's id (to record its use).
    pub token_id: String,
    /// When it stops working (ms), if ever.
    pub expires_at: Option<i64>,
}

impl NewToken {
    /// Every problem with the name and the expiry at `now` (ms).
    pub fn validate(&self, now: i64) -> DeskResult<()> {
        let mut problems = Vec::new();
        problems.extend(crate::shapes::TOKEN_NAME.check("name", "name", &self.name));
        if self.expires_at.is_some_and(|at| at <= now) {
            problems.push(problem(
                "expires_at",
                "future",
                "must be later than now (leave it out for a token that does not expire)",
            ));
        }
        DeskError::check(problems)
    }
}

fn new_secret() -> String {
    // ThreadRng is a CSPRNG, reseeded from the OS.
    let bytes: [u8; 32] = rand::random();
    format!("l2c_{}", hex::encode(bytes))
}

fn time(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.and_then(DateTime::from_timestamp_millis)
}

const INFO_COLUMNS: &str = "t.id, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at";

fn info(row: &sqlx::any::AnyRow) -> DeskResult<TokenInfo> {
    Ok(TokenInfo {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        created_at: time(Some(row.try_get("created_at")?)).unwrap_or_default(),
        expires_at: time(row.try_get("expires_at")?),
        last_used_at: time(row.try_get("last_used_at")?),
        revoked_at: time(row.try_get("revoked_at")?),
    })
}

/// The id of user `name`, if there is one.
async fn user_id(conn: &mut sqlx::AnyConnection, name: &str) -> DeskResult<String> {
    sqlx::query("SELECT id FROM users WHERE name = $1")
        .bind(name.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("id"))
        .transpose()?
        .ok_or_else(|| DeskError::not_found("user", name))
}

/// Stores a token for `user_id` in `conn`'s transaction; returns it with its secret.
pub(crate) async fn insert(
    conn: &mut sqlx::AnyConnection,
    user_id: &str,
    token: &NewToken,
    now: i64,
) -> DeskResult<(TokenInfo, String)> {
    let secret = new_secret();
    let id = uuid::Uuid::now_v7().to_string();
    let inserted = sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(id.clone())
    .bind(user_id.to_string())
    .bind(token.name.clone())
    .bind(hash_token(&secret))
    .bind(now)
    .bind(token.expires_at)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(DeskError::field(
            "name",
            "unique",
            format!(
                "a live token named {:?} exists; revoke it or pick another name",
                token.name
            ),
        ));
    }
    let info = TokenInfo {
        id,
        name: token.name.clone(),
        created_at: time(Some(now)).unwrap_or_default(),
        expires_at: time(token.expires_at),
        last_used_at: None,
        revoked_at: None,
    };
    Ok((info, secret))
}

/// Makes a token for user `name`; returns it with its secret (shown once).
pub async fn add(
    db: &Db,
    actor: &str,
    name: &str,
    token: &NewToken,
    now: i64,
) -> DeskResult<(TokenInfo, String)> {
    token.validate(now)?;
    let mut tx = db.begin_write().await?;
    let id = user_id(&mut tx, name).await?;
    let made = insert(&mut tx, &id, token, now).await?;
    let entry = audit::Entry {
        actor,
        action: "token.add",
        subject: format!("user:{name}"),
        before: None,
        after: Some(serde_json::to_value(&made.0)?),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(made)
}

/// User `name`'s tokens, live and revoked, oldest first.
pub async fn list(db: &Db, name: &str) -> DeskResult<Vec<TokenInfo>> {
    let mut conn = db.pool.acquire().await?;
    let id = user_id(&mut conn, name).await?;
    let sql = format!(
        "SELECT {INFO_COLUMNS} FROM api_tokens t WHERE t.user_id = $1 ORDER BY t.created_at, t.id"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(info)
        .collect()
}

/// Revokes user `name`'s token `token_id` at `now`; it stops working on every node within
/// a second. Revoking a revoked token is a conflict.
pub async fn revoke(
    db: &Db,
    actor: &str,
    name: &str,
    token_id: &str,
    now: i64,
) -> DeskResult<TokenInfo> {
    let mut tx = db.begin_write().await?;
    let user = user_id(&mut tx, name).await?;
    let revoked = revoke_in(&mut tx, &user, token_id, now).await?;
    let entry = audit::Entry {
        actor,
        action: "token.revoke",
        subject: format!("user:{name}"),
        before: Some(serde_json::json!({"id": revoked.id, "name": revoked.name})),
        after: Some(serde_json::to_value(&revoked)?),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(revoked)
}

/// Revokes token `token_id` of the user whose id is `user`.
async fn revoke_in(
    conn: &mut sqlx::AnyConnection,
    user: &str,
    token_id: &str,
    now: i64,
) -> DeskResult<TokenInfo> {
    let sql = format!("SELECT {INFO_COLUMNS} FROM api_tokens t WHERE t.id = $1 AND t.user_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(token_id.to_string())
        .bind(user.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DeskError::not_found("token", token_id))?;
    let mut token = info(&row)?;
    if token.revoked_at.is_some() {
        return Err(DeskError::Conflict(format!(
            "token {token_id} ({}) is already revoked",
            token.name
        )));
    }
    sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(token_id.to_string())
        .execute(&mut *conn)
        .await?;
    bump_epoch(conn).await?;
    token.revoked_at = time(Some(now));
    Ok(token)
}

/// Replaces user `name`'s token `token_id` with a new one of the same name and the same
/// lifetime from now, in one transaction: the old secret stops working as the new one starts.
pub async fn rotate(
    db: &Db,
    actor: &str,
    name: &str,
    token_id: &str,
    now: i64,
) -> DeskResult<(TokenInfo, String)> {
    let mut tx = db.begin_write().await?;
    let user = user_id(&mut tx, name).await?;
    let old = revoke_in(&mut tx, &user, token_id, now).await?;
    let lifetime = old
        .expires_at
        .map(|at| at.timestamp_millis() - old.created_at.timestamp_millis());
    let next = NewToken {
        name: old.name.clone(),
        expires_at: lifetime.map(|ms| now + ms.max(1)),
    };
    let made = insert(&mut tx, &user, &next, now).await?;
    let entry = audit::Entry {
        actor,
        action: "token.rotate",
        subject: format!("user:{name}"),
        before: Some(serde_json::to_value(&old)?),
        after: Some(serde_json::to_value(&made.0)?),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(made)
}

/// The active user a live, unexpired token secret belongs to at `now` (ms), if any.
pub async fn authenticate(db: &Db, secret: &str, now: i64) -> DeskResult<Option<Authenticated>> {
    let sql = format!(
        "SELECT {USER_COLUMNS}, t.id AS token_id, t.expires_at FROM api_tokens t \
         JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.deactivated_at IS NULL \
         AND (t.expires_at IS NULL OR t.expires_at > $2)"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(hash_token(secret))
        .bind(now)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some(Authenticated {
        token_id: row.try_get("token_id")?,
        expires_at: row.try_get("expires_at")?,
        user: with_groups(db, &row).await?,
    }))
}

/// The access epoch: it changes whenever access is taken away.
pub async fn epoch(db: &Db) -> DeskResult<i64> {
    let row = sqlx::query("SELECT epoch FROM access_epoch WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    Ok(row.try_get("epoch")?)
}

/// Moves the access epoch on, in the caller's transaction.
pub(crate) async fn bump_epoch(conn: &mut sqlx::AnyConnection) -> DeskResult<()> {
    sqlx::query("UPDATE access_epoch SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records when tokens were last used: `(token id, ms)` pairs, in one transaction; a time
/// older than the one stored is ignored.
pub async fn touch(db: &Db, used: &[(String, i64)]) -> DeskResult<()> {
    if used.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    for (id, at) in used {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(*at)
        .bind(id.clone())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_expiries_are_checked() {
        let ok = NewToken {
            name: "billing portal".into(),
            expires_at: Some(2_000),
        };
        assert!(ok.validate(1_000).is_ok());
        let bad = NewToken {
            name: "no/slashes".into(),
            expires_at: Some(1_000),
        };
        let Err(DeskError::Validation(p)) = bad.validate(1_000) else {
            panic!("refused");
        };
        let rules: Vec<_> = p.iter().map(|p| (p.path.as_str(), p.rule)).collect();
        assert_eq!(rules, [("name", "name"), ("expires_at", "future")]);
        let long = NewToken {
            name: "x".repeat(65),
            expires_at: None,
        };
        assert!(long.validate(0).is_err());
    }

    #[test]
    fn secrets_are_random() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("l2c_") && a.len() == 68);
    }
}
