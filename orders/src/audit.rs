//! The audit log: who changed what and when, with what it was before and after, for users
//! (created, passwords set, deactivated, reactivated), their tokens (made, revoked, rotated),
//! customer and billing accounts, billing schedules and incident decisions. Each entry is
//! written in the transaction of the change it records (incident decisions: right after the
//! engine's, see docs/api.md) and chained into one hash chain over the whole log
//! (`l2c_engine::chain`), whose head `audit_head` keeps.

use crate::error::DeskResult;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use l2c_engine::chain::{self, Break, Chains};
use l2c_engine::db::{Backend, Db};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

const TABLE: &str = "audit_log";
/// The one chain's name.
const CHAIN: &str = "audit";

/// A change to record.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// Who: a user's name, or `l2c-cli` for the command line.
    pub actor: &'a str,
    /// What, e.g. `user.deactivate`, `billing_account.update`.
    pub action: &'static str,
    /// What it was done to, e.g. `user:nina`, `billing_account:ACME-EUR`.
    pub subject: String,
    /// What it was before (None: it did not exist).
    pub before: Option<Value>,
    /// What it is after (None: it no longer exists).
    pub after: Option<Value>,
}

/// A recorded change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditRow {
    /// Its place in the log, from 1.
    pub position: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// To what.
    pub subject: String,
    /// Before.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<Value>,
    /// After.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<Value>,
    /// The chain hash (`l2c_engine::chain`).
    pub hash: String,
}

/// An audit row's chained fields, in their fixed order: position, at (ms), actor, action,
/// subject, before and after (their stored JSON text).
pub fn fields(
    position: i64,
    at: i64,
    actor: &str,
    action: &str,
    subject: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> [Value; 7] {
    [
        Value::from(position),
        Value::from(at),
        Value::String(actor.to_string()),
        Value::String(action.to_string()),
        Value::String(subject.to_string()),
        chain::text(before),
        chain::text(after),
    ]
}

/// Appends `entry` at `now` (ms) in `conn`'s transaction; the log's head is locked until it
/// commits, so entries chain one after another.
pub async fn record(
    conn: &mut AnyConnection,
    backend: Backend,
    entry: &Entry<'_>,
    now: i64,
) -> DeskResult<()> {
    let sql = format!(
        "SELECT position, head FROM audit_head WHERE id = 1{}",
        backend.lock_rows()
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(&mut *conn)
        .await?;
    let position = row.try_get::<i64, _>("position")? + 1;
    let head: Option<String> = row.try_get("head")?;
    let before = entry.before.as_ref().map(Value::to_string);
    let after = entry.after.as_ref().map(Value::to_string);
    let hash = chain::link(
        head.as_deref(),
        &fields(
            position,
            now,
            entry.actor,
            entry.action,
            &entry.subject,
            before.as_deref(),
            after.as_deref(),
        ),
    );
    sqlx::query(
        "INSERT INTO audit_log (position, at, actor, action, subject, before, after, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(position)
    .bind(now)
    .bind(entry.actor.to_string())
    .bind(entry.action)
    .bind(entry.subject.clone())
    .bind(before)
    .bind(after)
    .bind(hash.clone())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET position = $1, head = $2 WHERE id = 1")
        .bind(position)
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Appends `entry` in a transaction of its own.
pub async fn record_alone(db: &Db, entry: &Entry<'_>, now: i64) -> DeskResult<()> {
    let mut tx = db.begin_write().await?;
    record(&mut tx, db.backend, entry, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Which entries to list: newest first, `limit` of them, before `before` (a position).
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this subject (`user:nina`).
    pub subject: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only entries before this position (the last of the previous page).
    pub before: Option<i64>,
    /// At most this many.
    pub limit: i64,
}

fn parse(text: Option<String>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// Entries, newest first.
pub async fn list(db: &Db, filter: &Filter) -> DeskResult<Vec<AuditRow>> {
    let rows = sqlx::query(
        "SELECT position, at, actor, action, subject, before, after, hash FROM audit_log \
         WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR actor = $2) \
         AND ($3 IS NULL OR position < $3) ORDER BY position DESC LIMIT $4",
    )
    .bind(filter.subject.clone())
    .bind(filter.actor.clone())
    .bind(filter.before)
    .bind(filter.limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                position: r.try_get("position")?,
                at: l2c_engine::clock::from_ms(r.try_get("at")?),
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                before: parse(r.try_get("before")?),
                after: parse(r.try_get("after")?),
                hash: r.try_get("hash")?,
            })
        })
        .collect()
}

/// The first broken link of the audit log's chain, if any.
pub async fn verify(db: &Db) -> DeskResult<Option<Break>> {
    let head: Option<String> = sqlx::query("SELECT head FROM audit_head WHERE id = 1")
        .fetch_one(&db.pool)
        .await?
        .try_get("head")?;
    let mut chains = Chains::new(TABLE, HashMap::from([(CHAIN.to_string(), head)]));
    let mut rows = sqlx::query(
        "SELECT position, at, actor, action, subject, before, after, hash FROM audit_log \
         ORDER BY position",
    )
    .fetch(&db.pool);
    while let Some(r) = rows.try_next().await? {
        let position: i64 = r.try_get("position")?;
        let before: Option<String> = r.try_get("before")?;
        let after: Option<String> = r.try_get("after")?;
        let fields = fields(
            position,
            r.try_get("at")?,
            &r.try_get::<String, _>("actor")?,
            &r.try_get::<String, _>("action")?,
            &r.try_get::<String, _>("subject")?,
            before.as_deref(),
            after.as_deref(),
        );
        let hash: Option<String> = r.try_get("hash")?;
        if !chains.row(CHAIN, position, &fields, hash.as_deref()) {
            break;
        }
    }
    Ok(chains.finish())
}
