//! The hub's deliverer: a background task in every node (`l2c serve`, `l2c worker`) that
//! fans new outbox events out to listeners, claims due deliveries (leased, so two nodes
//! never send the same one at once), POSTs each as a signed TMF event, and records the
//! outcomes: delivered, retried after exponential backoff, or a dead letter after the last
//! attempt. At least once and in order per order and listener (`l2c_orders::hub::delivery`).
//!
//! - [`event`]: the TMF event body; [`sign`]: its HMAC-SHA256 signature header.

pub mod event;
pub mod sign;

use crate::access::wall_now;
use crate::app::App;
use crate::settings::HubLimits;
use l2c_engine::db::Db;
use l2c_orders::error::{DeskError, DeskResult};
use l2c_orders::hub::delivery::{self, Claimed, Outcome, Policy};
use l2c_orders::model::OrderView;
use std::collections::HashMap;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Added to the POST timeout for a claim's lease: time to record the outcome before another
/// node may take the delivery over.
const LEASE_MARGIN: Duration = Duration::from_secs(5);

/// Events fanned out per round.
const FAN_OUT: i64 = 1000;

/// One node's deliverer.
pub struct Deliverer {
    db: Db,
    client: reqwest::Client,
    limits: HubLimits,
    policy: Policy,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Deliverer {
    /// A deliverer on `app`'s database with its `[hub]` settings.
    pub fn new(app: &App) -> DeskResult<Deliverer> {
        let limits = app.settings.hub.limits();
        let client = reqwest::Client::builder()
            .user_agent(concat!("l2c/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(limits.timeout)
            .build()
            .map_err(|e| DeskError::Internal(format!("HTTP client: {e}")))?;
        Ok(Deliverer {
            db: app.db.clone(),
            client,
            policy: Policy {
                max_attempts: limits.max_attempts,
                backoff_initial_ms: ms(limits.backoff_initial),
                backoff_max_ms: ms(limits.backoff_max),
            },
            limits,
        })
    }

    /// Runs rounds until aborted; a failed round (a busy database) is logged and retried.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let busy = match self.round().await {
                    Ok(sent) => sent > 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "hub delivery round failed; trying again");
                        false
                    }
                };
                if !busy {
                    tokio::time::sleep(self.limits.poll_interval).await;
                }
            }
        })
    }

    /// One round: fan out, claim, send, record; answers how many deliveries it sent.
    pub async fn round(&self) -> DeskResult<usize> {
        // Wall-clock time: retries and leases are about real listeners, not the sandbox's clock.
        let now = wall_now();
        delivery::fan_out(&self.db, now, FAN_OUT).await?;
        let lease_until = now + ms(self.limits.timeout + LEASE_MARGIN);
        let batch = i64::try_from(self.limits.batch).unwrap_or(64);
        let claimed = delivery::claim(&self.db, now, lease_until, batch).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let orders = self.orders(&claimed).await?;
        let sends = claimed
            .iter()
            .map(|c| self.send(c, orders.get(&c.event.order_id)));
        let outcomes: Vec<(Claimed, Outcome)> = claimed
            .iter()
            .cloned()
            .zip(futures::future::join_all(sends).await)
            .collect();
        delivery::record(&self.db, wall_now(), &self.policy, &outcomes).await?;
        Ok(outcomes.len())
    }

    async fn orders(&self, claimed: &[Claimed]) -> DeskResult<HashMap<String, OrderView>> {
        let mut conn = self.db.pool.acquire().await?;
        let mut orders = HashMap::new();
        for c in claimed {
            if !orders.contains_key(&c.event.order_id) {
                if let Some(o) = l2c_orders::store::get(&mut conn, &c.event.order_id).await? {
                    orders.insert(o.id.clone(), o);
                }
            }
        }
        Ok(orders)
    }

    async fn send(&self, claimed: &Claimed, order: Option<&OrderView>) -> Outcome {
        let Some(order) = order else {
            return Outcome::Failed(format!("order {} is gone", claimed.event.order_id));
        };
        let body = event::render(&claimed.event, order, chrono::Utc::now()).to_string();
        let answer = self
            .client
            .post(&claimed.callback)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                sign::HEADER,
                sign::signature(&claimed.secret, body.as_bytes()),
            )
            .header("x-l2c-event-id", &claimed.event.id)
            .header("x-l2c-delivery-attempt", claimed.attempt.to_string())
            .body(body)
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => Outcome::Delivered,
            Ok(r) => Outcome::Failed(format!("the listener answered {}", r.status())),
            // Without the URL: a callback may carry credentials in its query.
            Err(e) => Outcome::Failed(format!("no answer: {}", e.without_url())),
        }
    }
}
