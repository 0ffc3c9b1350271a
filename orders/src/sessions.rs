//! Web desk sessions: opened at sign-in, found by the cookie's id on every request, closed at
//! sign-out. The id is 256 random bits shown only to the browser; the table keeps its SHA-256,
//! so a copy of the database opens no session. Each session carries its own CSRF token, which
//! every form of that session must send back.

use crate::error::DeskResult;
use crate::users::{hash_token, with_groups, User, USER_COLUMNS};
use l2c_engine::db::Db;
use sqlx::Row;

/// A session ends this long after it was last seen (8 hours).
pub const IDLE_MS: i64 = 8 * 3600 * 1000;
/// A session ends this long after it was opened, however busy (7 days).
pub const ABSOLUTE_MS: i64 = 7 * 24 * 3600 * 1000;
/// Being seen is written at most this often, so reading pages does not write on every click.
const SEEN_EVERY_MS: i64 = 60 * 1000;

/// A session just opened: what the browser gets.
#[derive(Clone, Debug)]
pub struct Opened {
    /// The cookie's value (never stored).
    pub id: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A live session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who is signed in.
    pub user: User,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Session {
    /// Whether a form's token is this session's (compared as hashes, so the time taken does
    /// not depend on how much of the token was right).
    pub fn csrf_matches(&self, token: &str) -> bool {
        hash_token(token) == hash_token(&self.csrf)
    }
}

fn random_hex() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// Opens a session for `user_id` at `now` (ms).
pub async fn open(db: &Db, user_id: &str, now: i64) -> DeskResult<Opened> {
    let opened = Opened {
        id: random_hex(),
        csrf: random_hex(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO web_sessions (id_hash, user_id, csrf, created_at, seen_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(hash_token(&opened.id))
    .bind(user_id.to_string())
    .bind(opened.csrf.clone())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(opened)
}

/// The live session a cookie's id names at `now`, if any. An expired session is deleted.
pub async fn find(db: &Db, id: &str, now: i64) -> DeskResult<Option<Session>> {
    let key = hash_token(id);
    let sql = format!(
        "SELECT s.csrf, s.created_at, s.seen_at, {USER_COLUMNS} FROM web_sessions s \
         JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND u.deactivated_at IS NULL"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.clone())
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (created, seen): (i64, i64) = (row.try_get("created_at")?, row.try_get("seen_at")?);
    if now - seen >= IDLE_MS || now - created >= ABSOLUTE_MS {
        delete(db, key).await?;
        return Ok(None);
    }
    if now - seen >= SEEN_EVERY_MS {
        let mut tx = db.begin_write().await?;
        sqlx::query("UPDATE web_sessions SET seen_at = $1 WHERE id_hash = $2")
            .bind(now)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(Some(Session {
        csrf: row.try_get("csrf")?,
        user: with_groups(db, &row).await?,
    }))
}

/// Closes the session a cookie's id names (sign-out); closing an unknown id does nothing.
pub async fn close(db: &Db, id: &str) -> DeskResult<()> {
    delete(db, hash_token(id)).await
}

async fn delete(db: &Db, key: String) -> DeskResult<()> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM web_sessions WHERE id_hash = $1")
        .bind(key)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
