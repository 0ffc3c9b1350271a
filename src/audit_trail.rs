//! Verifying and exporting the tamper-evident records: the workflow history, the orders'
//! own events and the audit log are hash chains (`l2c_engine::chain`); [`verify`] walks
//! them and names the first broken link, [`export`] hands out one order's whole trail with
//! its chains, for a third party to recompute. The API, the CLI and the tests call these.

use crate::app::App;
use l2c_engine::chain::Break;
use l2c_engine::runtime::HistoryChain;
use l2c_orders::error::{DeskError, DeskResult};
use l2c_orders::event_chain::{self, EventChain};
use l2c_orders::payload::business_key;
use serde::Serialize;
use utoipa::ToSchema;

/// How the chains are computed, said in every export.
pub const ENCODING: &str = "Each row's hash is the lowercase hex SHA-256 of the compact JSON \
    array [previous row's hash or null, ...the row's fields in order]. Workflow history rows: \
    instance_id, at (ms), event, stage, actor, attempt, data (its stored JSON text); order \
    events: order_id, position, at (ms), from_state, to_state, actor, reason; audit rows: \
    position, at (ms), actor, action, subject, before, after (stored JSON text). Rows are \
    chained in seq order per instance, position order per order, and position order for the \
    audit log; each chain's last hash is its owner's head. Rows without a hash come from \
    before hashes were kept and may only precede the hashed ones.";

/// The first place a chain does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct BrokenLink {
    /// The table: `wf_history`, `order_events` or `audit_log`.
    pub table: String,
    /// Whose chain: an instance id, an order id, or `audit`.
    pub chain: String,
    /// The row's id (history `seq`, event `id`, audit `position`), or the chain's owner when
    /// its end is missing.
    pub row: String,
    /// The row's position in its chain, from 1.
    pub position: u64,
    /// What does not hold.
    pub problem: String,
}

impl From<Break> for BrokenLink {
    fn from(b: Break) -> Self {
        BrokenLink {
            table: b.table,
            chain: b.chain,
            row: b.row,
            position: b.position,
            problem: b.problem,
        }
    }
}

/// What a verification walked and found.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Verification {
    /// Whether every chain holds.
    pub ok: bool,
    /// The tables walked.
    pub checked: Vec<&'static str>,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// Walks every chain, or only order `order`'s (its events and its workflows' history).
pub async fn verify(app: &App, order: Option<&str>) -> DeskResult<Verification> {
    let (checked, broken) = match order {
        Some(id) => {
            if event_chain::head_of(&app.db, id).await?.is_none() {
                return Err(DeskError::not_found("order", id));
            }
            let ids = [id.to_string()];
            let instances = app.engine.instances_by_key(&business_key(id)).await?;
            let events = event_chain::verify(&app.db, Some(&ids)).await?;
            let history = match events {
                Some(_) => None,
                None => app.engine.verify_history(Some(&instances)).await?,
            };
            (vec!["order_events", "wf_history"], events.or(history))
        }
        None => {
            let mut broken = l2c_orders::audit::verify(&app.db).await?;
            if broken.is_none() {
                broken = event_chain::verify(&app.db, None).await?;
            }
            if broken.is_none() {
                broken = app.engine.verify_history(None).await?;
            }
            (vec!["audit_log", "order_events", "wf_history"], broken)
        }
    };
    Ok(Verification {
        ok: broken.is_none(),
        checked,
        broken: broken.map(BrokenLink::from),
    })
}

/// One order's whole trail with its chains.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Trail {
    /// How to recompute the hashes.
    pub encoding: &'static str,
    /// The order's own events.
    pub order: EventChain,
    /// Its workflows' history, one chain per instance.
    #[schema(value_type = Vec<Object>)]
    pub workflows: Vec<HistoryChain>,
}

/// Order `id`'s trail.
pub async fn export(app: &App, id: &str) -> DeskResult<Trail> {
    let order = event_chain::chain_of(&app.db, id)
        .await?
        .ok_or_else(|| DeskError::not_found("order", id))?;
    let workflows = app.engine.history_chains(&business_key(id)).await?;
    Ok(Trail {
        encoding: ENCODING,
        order,
        workflows,
    })
}
