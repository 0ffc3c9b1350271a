//! Users, roles and sign-in passwords, and deactivation. A new user gets one API token
//! (named `initial`, [`crate::tokens`] has the rest); a password is stored only as its
//! argon2id hash ([`crate::passwords`]). A deactivated user's tokens are revoked and sessions
//! ended; nothing of theirs authenticates until they are reactivated.

use crate::audit;
use crate::error::{problem, DeskError, DeskResult};
use l2c_engine::db::Db;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::fmt;
use std::str::FromStr;

/// What a user may do (docs/api.md has the full access matrix).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Places and cancels orders for one customer account; sees only that account.
    Requester,
    /// Acts on approval tasks of their groups.
    Approver,
    /// Acts on manual (field) tasks of their groups.
    Engineer,
    /// Sees billing: accounts, subscriptions, runs and invoices.
    Finance,
    /// Everything, including incidents and users.
    Admin,
}

/// Every role.
pub const ROLES: [Role; 5] = [
    Role::Requester,
    Role::Approver,
    Role::Engineer,
    Role::Finance,
    Role::Admin,
];

impl Role {
    /// The role's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Approver => "approver",
            Role::Engineer => "engineer",
            Role::Finance => "finance",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ROLES
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ROLES.iter().map(|r| r.as_str()).collect();
                format!("unknown role {s:?} (roles: {})", names.join(", "))
            })
    }
}

/// An authenticated user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The id.
    pub id: String,
    /// The unique name (what tasks and history show as the actor).
    pub name: String,
    /// The role.
    pub role: Role,
    /// The customer account (requesters).
    pub account: Option<String>,
    /// The groups whose queues they work (approvers, engineers).
    pub groups: Vec<String>,
    /// Whether they may sign in (false once deactivated).
    pub active: bool,
}

impl User {
    /// Whether the user works `group`'s queue.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
    /// Whether the user is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Which customer account's data the user is limited to: `Some(account)` for requesters,
    /// `None` (no limit) for the order desk's roles. A requester without an account is an
    /// error, never a widening to everything.
    pub fn account_scope(&self) -> crate::error::DeskResult<Option<&str>> {
        match (self.role, self.account.as_deref()) {
            (Role::Requester, Some(account)) => Ok(Some(account)),
            (Role::Requester, None) => Err(DeskError::Internal(format!(
                "requester {} has no account",
                self.name
            ))),
            _ => Ok(None),
        }
    }
}

/// A new user, before it is stored.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// The unique name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The customer account (required for requesters, refused for others).
    pub account: Option<String>,
    /// Groups (approvers and engineers need at least one; others may have none).
    pub groups: Vec<String>,
    /// A password for the web desk (none: the user signs in with the token only).
    pub password: Option<String>,
}

/// The SHA-256 of a token, as stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl NewUser {
    /// Checks the fields against the role and the known groups (all problems at once).
    pub fn validate(&self, known_groups: &[String]) -> DeskResult<()> {
        let mut problems: Vec<_> = crate::shapes::USER_NAME
            .check("name", "name", &self.name)
            .into_iter()
            .collect();
        let mut add = |path: &str, rule: &'static str, message: String| {
            problems.push(problem(path, rule, message))
        };
        match (self.role, &self.account) {
            (Role::Requester, None) => add(
                "account",
                "required",
                "a requester needs a customer account".into(),
            ),
            (Role::Requester, Some(_)) | (_, None) => {}
            (role, Some(_)) => add(
                "account",
                "not_allowed",
                format!("only requesters have a customer account, not {role}s"),
            ),
        }
        if matches!(self.role, Role::Approver | Role::Engineer) && self.groups.is_empty() {
            add(
                "groups",
                "required",
                format!("an {} needs at least one group", self.role),
            );
        }
        for (i, g) in self.groups.iter().enumerate() {
            if !known_groups.contains(g) {
                add(
                    &format!("groups[{i}]"),
                    "unknown_group",
                    format!(
                        "{g:?} is not a declared group (groups: {})",
                        known_groups.join(", ")
                    ),
                );
            }
        }
        if let Some(p) = self
            .password
            .as_deref()
            .and_then(crate::passwords::rule_problem)
        {
            problems.push(p);
        }
        DeskError::check(problems)
    }
}

/// Stores a user and returns it with its token (shown once, stored only as a hash).
pub async fn add_user(
    db: &Db,
    actor: &str,
    user: &NewUser,
    known_groups: &[String],
    now: i64,
) -> DeskResult<(User, String)> {
    user.validate(known_groups)?;
    // Hashed before the write transaction: argon2 takes a while and must not hold the writer.
    let password_hash = match &user.password {
        Some(p) => Some(crate::passwords::hash_blocking(p.clone()).await?),
        None => None,
    };
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin_write().await?;
    if let Some(account) = &user.account {
        if crate::accounts::customer(&mut tx, account).await?.is_none() {
            return Err(DeskError::field(
                "account",
                "unknown_account",
                format!("no customer account {account}"),
            ));
        }
    }
    // users.token_hash is no longer read (api_tokens is) but stays UNIQUE NOT NULL: it gets
    // a hash of its own that matches no secret.
    let inserted = sqlx::query(
        "INSERT INTO users (id, name, role, account_id, token_hash, password_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(id.clone())
    .bind(user.name.clone())
    .bind(user.role.as_str())
    .bind(user.account.clone())
    .bind(format!("unused:{id}"))
    .bind(password_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(DeskError::Conflict(format!(
            "a user named {} already exists",
            user.name
        )));
    }
    let mut groups = user.groups.clone();
    groups.sort();
    groups.dedup();
    for g in &groups {
        sqlx::query("INSERT INTO user_groups (user_id, group_name) VALUES ($1, $2)")
            .bind(id.clone())
            .bind(g.clone())
            .execute(&mut *tx)
            .await?;
    }
    let initial = crate::tokens::NewToken {
        name: "initial".into(),
        expires_at: None,
    };
    let (_, token) = crate::tokens::insert(&mut tx, &id, &initial, now).await?;
    let entry = audit::Entry {
        actor,
        action: "user.add",
        subject: format!("user:{}", user.name),
        before: None,
        after: Some(serde_json::json!({
            "role": user.role, "account": user.account, "groups": groups,
            "password": user.password.is_some(),
        })),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    let stored = User {
        id,
        name: user.name.clone(),
        role: user.role,
        account: user.account.clone(),
        groups,
        active: true,
    };
    Ok((stored, token))
}

/// The user `name` if `password` is theirs; `None` for a wrong password, an unknown name or
/// a user without a password alike (and after the same work, see [`crate::passwords`]).
pub async fn user_by_password(db: &Db, name: &str, password: &str) -> DeskResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(name.to_string())
        .fetch_optional(&db.pool)
        .await?;
    let stored = match &row {
        Some(r) => r.try_get::<Option<String>, _>("password_hash")?,
        None => None,
    };
    let verified = crate::passwords::verify_blocking(stored, password.to_string()).await?;
    match row {
        Some(row) if verified => {
            let user = with_groups(db, &row).await?;
            Ok(user.active.then_some(user))
        }
        _ => Ok(None),
    }
}

/// The columns [`with_groups`] reads, for queries that join `users` as `u`.
pub(crate) const USER_COLUMNS: &str = "u.id, u.name, u.role, u.account_id, u.deactivated_at";

/// Sets (or replaces) `name`'s password.
pub async fn set_password(
    db: &Db,
    actor: &str,
    name: &str,
    password: &str,
    now: i64,
) -> DeskResult<()> {
    crate::passwords::check_rule(password)?;
    let hash = crate::passwords::hash_blocking(password.to_string()).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
        .bind(hash)
        .bind(name.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DeskError::not_found("user", name));
    }
    let entry = audit::Entry {
        actor,
        action: "user.password",
        subject: format!("user:{name}"),
        before: None,
        after: Some(serde_json::json!({"password": "set"})),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Every user by name, with their groups (two statements, not one per user).
pub async fn list(db: &Db) -> DeskResult<Vec<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_all(&db.pool)
        .await?;
    let mut groups: std::collections::HashMap<String, Vec<String>> =
        std::collections::HashMap::new();
    for r in sqlx::query("SELECT user_id, group_name FROM user_groups ORDER BY group_name")
        .fetch_all(&db.pool)
        .await?
    {
        groups
            .entry(r.try_get("user_id")?)
            .or_default()
            .push(r.try_get("group_name")?);
    }
    rows.iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let role: String = row.try_get("role")?;
            Ok(User {
                groups: groups.remove(&id).unwrap_or_default(),
                id,
                name: row.try_get("name")?,
                role: role.parse().map_err(DeskError::Internal)?,
                account: row.try_get("account_id")?,
                active: row.try_get::<Option<i64>, _>("deactivated_at")?.is_none(),
            })
        })
        .collect()
}

/// A user row ([`USER_COLUMNS`]) with the user's groups.
pub(crate) async fn with_groups(db: &Db, row: &sqlx::any::AnyRow) -> DeskResult<User> {
    let id: String = row.try_get("id")?;
    let role: String = row.try_get("role")?;
    let groups =
        sqlx::query("SELECT group_name FROM user_groups WHERE user_id = $1 ORDER BY group_name")
            .bind(id.clone())
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("group_name"))
            .collect::<Result<Vec<_>, _>>()?;
    Ok(User {
        id,
        name: row.try_get("name")?,
        role: role.parse().map_err(DeskError::Internal)?,
        account: row.try_get("account_id")?,
        groups,
        active: row.try_get::<Option<i64>, _>("deactivated_at")?.is_none(),
    })
}

/// What deactivating a user took away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deactivation {
    /// The user.
    pub user: String,
    /// Their live tokens, now revoked.
    pub tokens_revoked: u64,
    /// Their web sessions, now ended.
    pub sessions_ended: u64,
    /// Their claimed tasks, now back in their groups' queues (set by the caller that
    /// releases them: the engine's, after this commits).
    pub claims_released: u64,
}

/// Deactivates user `name` at `now`: revokes their tokens and ends their sessions in one
/// transaction that also moves the access epoch on, so every node stops admitting them.
pub async fn deactivate(db: &Db, actor: &str, name: &str, now: i64) -> DeskResult<Deactivation> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query("SELECT id, deactivated_at FROM users WHERE name = $1")
        .bind(name.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| DeskError::not_found("user", name))?;
    if row.try_get::<Option<i64>, _>("deactivated_at")?.is_some() {
        return Err(DeskError::Conflict(format!(
            "{name} is already deactivated"
        )));
    }
    let id: String = row.try_get("id")?;
    sqlx::query("UPDATE users SET deactivated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.clone())
        .execute(&mut *tx)
        .await?;
    let tokens = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(id.clone())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let sessions = sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    crate::tokens::bump_epoch(&mut tx).await?;
    let entry = audit::Entry {
        actor,
        action: "user.deactivate",
        subject: format!("user:{name}"),
        before: Some(serde_json::json!({"active": true})),
        after: Some(serde_json::json!({
            "active": false, "tokens_revoked": tokens, "sessions_ended": sessions,
        })),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(Deactivation {
        user: name.to_string(),
        tokens_revoked: tokens,
        sessions_ended: sessions,
        claims_released: 0,
    })
}

/// Lets deactivated user `name` sign in again; their old tokens stay revoked (an admin makes
/// them a new one).
pub async fn reactivate(db: &Db, actor: &str, name: &str, now: i64) -> DeskResult<()> {
    let mut tx = db.begin_write().await?;
    let n = sqlx::query(
        "UPDATE users SET deactivated_at = NULL WHERE name = $1 AND deactivated_at IS NOT NULL",
    )
    .bind(name.to_string())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n == 0 {
        let exists = sqlx::query("SELECT 1 AS one FROM users WHERE name = $1")
            .bind(name.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        return Err(if exists {
            DeskError::Conflict(format!("{name} is active"))
        } else {
            DeskError::not_found("user", name)
        });
    }
    let entry = audit::Entry {
        actor,
        action: "user.reactivate",
        subject: format!("user:{name}"),
        before: Some(serde_json::json!({"active": false})),
        after: Some(serde_json::json!({"active": true})),
    };
    audit::record(&mut tx, db.backend, &entry, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Members of every group who are active, for the engine's `quorum = "all"` (a member who
/// left is not waited for).
pub async fn group_members(db: &Db) -> DeskResult<Vec<(String, String)>> {
    let rows = sqlx::query(
        "SELECT g.group_name, u.name FROM user_groups g JOIN users u ON u.id = g.user_id \
         WHERE u.deactivated_at IS NULL ORDER BY g.group_name, u.name",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("group_name")?, r.try_get("name")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups() -> Vec<String> {
        vec!["finance".into(), "sales-managers".into()]
    }

    #[test]
    fn tokens_are_hashed() {
        let (a, b) = ("l2c_a", "l2c_b");
        assert_eq!(hash_token(a).len(), 64);
        assert_ne!(hash_token(a), hash_token(b));
        assert_eq!(hash_token(a), hash_token(a));
    }

    #[test]
    fn roles_need_their_fields() {
        let requester = NewUser {
            name: "rita".into(),
            role: Role::Requester,
            account: None,
            groups: vec![],
            password: None,
        };
        let Err(DeskError::Validation(p)) = requester.validate(&groups()) else {
            panic!("a requester without an account is refused");
        };
        assert_eq!((p[0].path.as_str(), p[0].rule), ("account", "required"));
        let approver = NewUser {
            name: "bad name!".into(),
            role: Role::Approver,
            account: Some("ACME".into()),
            groups: vec!["nobody".into()],
            password: None,
        };
        let Err(DeskError::Validation(p)) = approver.validate(&groups()) else {
            panic!("refused");
        };
        let rules: Vec<_> = p.iter().map(|p| (p.path.as_str(), p.rule)).collect();
        assert_eq!(
            rules,
            [
                ("name", "name"),
                ("account", "not_allowed"),
                ("groups[0]", "unknown_group")
            ]
        );
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
