//! Walking the history chains (`crate::chain`): every instance's rows in order against its
//! stored head, streamed so a million rows need little memory.

use super::engine::Engine;
use crate::chain::{history_fields, Break, Walk};
use crate::error::Result;
use futures::TryStreamExt;
use sqlx::Row;
use std::collections::HashMap;

const TABLE: &str = "wf_history";

impl Engine {
    /// The first broken link of the history chains of `instances` (every instance: None).
    pub async fn verify_history(&self, instances: Option<&[String]>) -> Result<Option<Break>> {
        let db = &self.inner.db;
        let filter = match instances {
            Some(ids) => format!(" WHERE {{col}} IN ({})", db.backend.in_list(ids.len(), 1)),
            None => String::new(),
        };
        let ids = instances.unwrap_or_default();
        let heads_sql = format!(
            "SELECT id, history_head FROM wf_instances{}",
            filter.replace("{col}", "id")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(heads_sql));
        for id in ids {
            q = q.bind(id.clone());
        }
        let mut heads: HashMap<String, Option<String>> = HashMap::new();
        for row in q.fetch_all(&db.pool).await? {
            heads.insert(row.try_get("id")?, row.try_get("history_head")?);
        }
        let rows_sql = format!(
            "SELECT seq, instance_id, at, event, stage, actor, attempt, data, hash \
             FROM wf_history{} ORDER BY instance_id, seq",
            filter.replace("{col}", "instance_id")
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(rows_sql));
        for id in ids {
            q = q.bind(id.clone());
        }
        let mut rows = q.fetch(&db.pool);
        let mut walk: Option<(String, Walk)> = None;
        while let Some(row) = rows.try_next().await? {
            let instance: String = row.try_get("instance_id")?;
            if walk.as_ref().is_none_or(|(id, _)| *id != instance) {
                if let Some((id, done)) = walk.take() {
                    let head = heads.remove(&id).flatten();
                    if let Some(b) = done.end(head.as_deref()) {
                        return Ok(Some(b));
                    }
                }
                walk = Some((instance.clone(), Walk::new(TABLE, instance.clone())));
            }
            let fields = history_fields(
                &instance,
                row.try_get("at")?,
                &row.try_get::<String, _>("event")?,
                row.try_get::<Option<String>, _>("stage")?.as_deref(),
                row.try_get::<Option<String>, _>("actor")?.as_deref(),
                row.try_get("attempt")?,
                row.try_get::<Option<String>, _>("data")?.as_deref(),
            );
            let hash: Option<String> = row.try_get("hash")?;
            if let Some((_, w)) = walk.as_mut() {
                w.row(row.try_get::<i64, _>("seq")?, &fields, hash.as_deref());
            }
        }
        drop(rows);
        if let Some((id, done)) = walk.take() {
            let head = heads.remove(&id).flatten();
            if let Some(b) = done.end(head.as_deref()) {
                return Ok(Some(b));
            }
        }
        // A head whose rows are all gone.
        let mut emptied: Vec<String> = heads
            .into_iter()
            .filter_map(|(id, head)| head.map(|_| id))
            .collect();
        emptied.sort();
        Ok(emptied.into_iter().next().map(|id| Break {
            table: TABLE.into(),
            chain: id.clone(),
            row: id,
            position: 1,
            problem: "the instance has a history head but no history rows: they were deleted"
                .into(),
        }))
    }
}
