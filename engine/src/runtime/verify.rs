//! Walking the history chains (`crate::chain`): every instance's rows in order against its
//! stored head, streamed so a million rows need little memory.

use super::engine::Engine;
use crate::chain::{history_fields, Break, Chains};
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
        let mut chains = Chains::new(TABLE, heads);
        while let Some(row) = rows.try_next().await? {
            let instance: String = row.try_get("instance_id")?;
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
            let seq: i64 = row.try_get("seq")?;
            if !chains.row(&instance, seq, &fields, hash.as_deref()) {
                break;
            }
        }
        Ok(chains.finish())
    }
}

/// One instance's history as stored, with its chain, for a third party to verify.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryChain {
    /// The instance.
    pub instance_id: String,
    /// Its stored head (the last row's hash).
    pub head: Option<String>,
    /// Its rows in order, each field as it went into the hash.
    pub rows: Vec<ChainedRow>,
}

/// A history row as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ChainedRow {
    /// Its place in the table.
    pub seq: i64,
    /// When (ms).
    pub at: i64,
    /// The event.
    pub event: String,
    /// The stage.
    pub stage: Option<String>,
    /// Who.
    pub actor: Option<String>,
    /// The attempt.
    pub attempt: Option<i64>,
    /// The data as stored (JSON text).
    pub data: Option<String>,
    /// The chain hash.
    pub hash: Option<String>,
}

impl Engine {
    /// The ids of the instances started with `business_key` (an order's workflow and its
    /// items' children).
    pub async fn instances_by_key(&self, business_key: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM wf_instances WHERE business_key = $1 ORDER BY id")
            .bind(business_key.to_string())
            .fetch_all(&self.inner.db.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("id")?))
            .collect()
    }

    /// The history chains of the instances started with `business_key`.
    pub async fn history_chains(&self, business_key: &str) -> Result<Vec<HistoryChain>> {
        let pool = &self.inner.db.pool;
        let heads = sqlx::query(
            "SELECT id, history_head FROM wf_instances WHERE business_key = $1 ORDER BY id",
        )
        .bind(business_key.to_string())
        .fetch_all(pool)
        .await?;
        let rows = sqlx::query(
            "SELECT h.seq, h.instance_id, h.at, h.event, h.stage, h.actor, h.attempt, h.data, \
             h.hash FROM wf_history h JOIN wf_instances i ON i.id = h.instance_id \
             WHERE i.business_key = $1 ORDER BY h.instance_id, h.seq",
        )
        .bind(business_key.to_string())
        .fetch_all(pool)
        .await?;
        let mut chains: Vec<HistoryChain> = heads
            .iter()
            .map(|r| {
                Ok(HistoryChain {
                    instance_id: r.try_get("id")?,
                    head: r.try_get("history_head")?,
                    rows: Vec::new(),
                })
            })
            .collect::<Result<_>>()?;
        for r in &rows {
            let instance: String = r.try_get("instance_id")?;
            let Some(chain) = chains.iter_mut().find(|c| c.instance_id == instance) else {
                continue;
            };
            chain.rows.push(ChainedRow {
                seq: r.try_get("seq")?,
                at: r.try_get("at")?,
                event: r.try_get("event")?,
                stage: r.try_get("stage")?,
                actor: r.try_get("actor")?,
                attempt: r.try_get("attempt")?,
                data: r.try_get("data")?,
                hash: r.try_get("hash")?,
            });
        }
        Ok(chains)
    }
}
