//! The built-in simulated network: PE router ports and on-site work (LAN allocations, RMAs,
//! shipments) kept in the database, so reserving and releasing are real state changes that a
//! compensation really undoes. Every handler is idempotent per product (the holder), so a
//! retried or reclaimed call changes nothing twice. A configurable share of calls fails with a
//! retryable error, for demos and tests of retries and incidents.

use l2c_engine::db::Db;
use l2c_engine::handler::{HandlerError, HandlerResult, Handlers, TaskContext};
use l2c_orders::payload::ItemInput;
use serde_json::{json, Value};
use sqlx::Row;
use std::future::Future;
use std::sync::Arc;

/// The handler names this module registers.
pub const NAMES: [&str; 16] = [
    "network.reserve-port",
    "network.release-port",
    "network.configure-pe",
    "network.deconfigure-pe",
    "network.activation-test",
    "network.allocate-lan",
    "network.release-lan",
    "network.lan-test",
    "network.check-capacity",
    "network.reconfigure-bandwidth",
    "network.restore-bandwidth",
    "network.open-rma",
    "network.cancel-rma",
    "network.ship-device",
    "network.verify-element",
    "network.decommission",
];

/// The simulated network's state and settings.
#[derive(Clone)]
pub struct Network {
    db: Db,
    failure_rate: f64,
}

fn db_error(e: sqlx::Error) -> HandlerError {
    HandlerError::Retryable(format!("network database: {e}"))
}

/// The item a call is for; every resource is held by its product (`item.product.id`).
fn item(ctx: &TaskContext) -> Result<ItemInput, HandlerError> {
    ctx.input_as()
}

impl Network {
    /// The network on `db`, failing `failure_rate` of calls.
    pub fn new(db: Db, failure_rate: f64) -> Network {
        Network { db, failure_rate }
    }

    /// Creates `routers` x `ports` free ports when the network has none.
    pub async fn seed(&self, routers: u32, ports: u32, now: i64) -> Result<(), sqlx::Error> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM net_ports")
            .fetch_one(&self.db.pool)
            .await?
            .try_get("n")?;
        if count > 0 {
            return Ok(());
        }
        let mut tx = self.db.begin_write().await?;
        for r in 1..=routers {
            for p in 0..ports {
                sqlx::query(
                    "INSERT INTO net_ports (id, router, state, updated_at) VALUES ($1, $2, 'free', $3) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(format!("pe{r}:ge-0/0/{p}"))
                .bind(format!("pe{r}"))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await
    }

    /// Registers every network handler.
    pub fn register(&self, handlers: &mut Handlers) {
        self.add(handlers, "network.reserve-port", |n, c| async move {
            n.reserve_port(c).await
        });
        self.add(handlers, "network.release-port", |n, c| async move {
            n.release_port(c).await
        });
        self.add(handlers, "network.configure-pe", |n, c| async move {
            n.configure_pe(c).await
        });
        self.add(handlers, "network.deconfigure-pe", |n, c| async move {
            n.deconfigure_pe(c).await
        });
        self.add(handlers, "network.activation-test", |n, c| async move {
            n.port_test(c, "activation_test").await
        });
        self.add(handlers, "network.allocate-lan", |n, c| async move {
            n.allocate_lan(c).await
        });
        self.add(handlers, "network.release-lan", |n, c| async move {
            n.drop_work(c, "lan").await
        });
        self.add(handlers, "network.lan-test", |n, c| async move {
            n.require_work(c, "lan", json!({"lan_test": "passed"}))
                .await
        });
        self.add(handlers, "network.check-capacity", |n, c| async move {
            n.port_test(c, "capacity_check").await
        });
        self.add(
            handlers,
            "network.reconfigure-bandwidth",
            |n, c| async move { n.reconfigure(c).await },
        );
        self.add(handlers, "network.restore-bandwidth", |n, c| async move {
            n.restore(c).await
        });
        self.add(handlers, "network.open-rma", |n, c| async move {
            n.open_rma(c).await
        });
        self.add(handlers, "network.cancel-rma", |n, c| async move {
            n.drop_work(c, "rma").await
        });
        self.add(handlers, "network.ship-device", |n, c| async move {
            n.ship(c).await
        });
        self.add(handlers, "network.verify-element", |n, c| async move {
            n.require_work(c, "shipment", json!({"element_verified": true}))
                .await
        });
        self.add(handlers, "network.decommission", |n, c| async move {
            n.decommission(c).await
        });
    }

    fn add<F, Fut>(&self, handlers: &mut Handlers, name: &'static str, f: F)
    where
        F: Fn(Network, TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let net = self.clone();
        let f = Arc::new(f);
        handlers.register(name, move |ctx: TaskContext| {
            let net = net.clone();
            let f = f.clone();
            async move {
                // Compensations never fail on purpose: undoing must get through.
                if !ctx.compensating
                    && net.failure_rate > 0.0
                    && rand::random::<f64>() < net.failure_rate
                {
                    return Err(HandlerError::Retryable(format!(
                        "simulated network failure in {name}"
                    )));
                }
                f(net, ctx).await
            }
        });
    }

    async fn port_of(
        &self,
        holder: &str,
    ) -> Result<Option<(String, String, Option<i64>)>, HandlerError> {
        let row = sqlx::query("SELECT id, state, bandwidth_mbps FROM net_ports WHERE holder = $1")
            .bind(holder.to_string())
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_error)?;
        row.map(|r| -> Result<_, sqlx::Error> {
            Ok((
                r.try_get("id")?,
                r.try_get("state")?,
                r.try_get("bandwidth_mbps")?,
            ))
        })
        .transpose()
        .map_err(db_error)
    }

    async fn reserve_port(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        if let Some((port, _, _)) = self.port_of(&holder).await? {
            return Ok(json!({ "port": port }));
        }
        let sql = format!(
            "UPDATE net_ports SET state = 'reserved', holder = $1 WHERE id = \
             (SELECT id FROM net_ports WHERE state = 'free' ORDER BY id LIMIT 1{})",
            self.db.backend.claim_rows()
        );
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(holder.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(HandlerError::Retryable(
                "no free PE port: add capacity, then retry".into(),
            ));
        }
        let (port, _, _) = self
            .port_of(&holder)
            .await?
            .ok_or_else(|| HandlerError::Retryable("reserved port vanished".into()))?;
        Ok(json!({ "port": port }))
    }

    async fn release_port(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        sqlx::query("UPDATE net_ports SET state = 'free', holder = NULL, bandwidth_mbps = NULL WHERE holder = $1")
            .bind(holder)
            .execute(&self.db.pool)
            .await
            .map_err(db_error)?;
        Ok(json!({ "port_released": true }))
    }

    async fn configure_pe(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        let bandwidth = item
            .characteristics
            .get("bandwidth_mbps")
            .and_then(Value::as_i64);
        let done = sqlx::query(
            "UPDATE net_ports SET state = 'configured', bandwidth_mbps = $1 WHERE holder = $2",
        )
        .bind(bandwidth)
        .bind(holder.clone())
        .execute(&self.db.pool)
        .await
        .map_err(db_error)?;
        if done.rows_affected() == 0 {
            return Err(HandlerError::Fatal(format!(
                "no PE port is reserved for product {holder}"
            )));
        }
        Ok(json!({ "pe_configured": true }))
    }

    async fn deconfigure_pe(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        sqlx::query("UPDATE net_ports SET state = 'reserved', bandwidth_mbps = NULL WHERE holder = $1 AND state = 'configured'")
            .bind(holder)
            .execute(&self.db.pool)
            .await
            .map_err(db_error)?;
        Ok(json!({ "pe_deconfigured": true }))
    }

    /// Passes when the product's port is configured.
    async fn port_test(&self, ctx: TaskContext, what: &str) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        match self.port_of(&holder).await? {
            Some((port, state, bw)) if state == "configured" => {
                Ok(json!({ what: "passed", "port": port, "bandwidth_mbps": bw }))
            }
            _ => Err(HandlerError::Fatal(format!(
                "product {holder} has no configured PE port"
            ))),
        }
    }

    async fn reconfigure(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        let new = item
            .characteristics
            .get("bandwidth_mbps")
            .and_then(Value::as_i64);
        let Some((port, state, old)) = self.port_of(&holder).await? else {
            return Err(HandlerError::Fatal(format!(
                "product {holder} has no PE port"
            )));
        };
        if state != "configured" {
            return Err(HandlerError::Fatal(format!(
                "port {port} is {state}, not configured"
            )));
        }
        // Remember the bandwidth before the first attempt, so a compensation restores it.
        self.put_work(
            &holder,
            &format!("bandwidth:{}", ctx.idempotency_key),
            json!({ "previous": old }),
        )
        .await?;
        sqlx::query("UPDATE net_ports SET bandwidth_mbps = $1 WHERE holder = $2")
            .bind(new)
            .bind(holder)
            .execute(&self.db.pool)
            .await
            .map_err(db_error)?;
        Ok(json!({ "port": port, "bandwidth_mbps": new }))
    }

    async fn restore(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        let key = ctx.idempotency_key.replace("compensate:", "");
        let Some(detail) = self.work(&holder, &format!("bandwidth:{key}")).await? else {
            return Ok(json!({ "bandwidth_restored": false }));
        };
        sqlx::query("UPDATE net_ports SET bandwidth_mbps = $1 WHERE holder = $2")
            .bind(detail.get("previous").and_then(Value::as_i64))
            .bind(holder)
            .execute(&self.db.pool)
            .await
            .map_err(db_error)?;
        Ok(json!({ "bandwidth_restored": true }))
    }

    async fn allocate_lan(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        let ports = item
            .characteristics
            .get("port_count")
            .cloned()
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        let switches = (ports + 47) / 48;
        let detail = json!({ "switches": switches, "ports": ports });
        self.put_work(&holder, "lan", detail.clone()).await?;
        Ok(json!({ "lan": detail }))
    }

    async fn open_rma(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        let rma = format!(
            "RMA-{}",
            &holder.replace('-', "")[..10.min(holder.len())].to_uppercase()
        );
        let model = item
            .characteristics
            .get("device_model")
            .cloned()
            .unwrap_or(Value::Null);
        self.put_work(&holder, "rma", json!({ "rma": rma, "model": model }))
            .await?;
        Ok(json!({ "rma": rma }))
    }

    async fn ship(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        if self.work(&holder, "rma").await?.is_none() {
            return Err(HandlerError::Fatal(format!(
                "product {holder} has no open RMA"
            )));
        }
        let tracking = format!(
            "TRK{}",
            holder
                .replace('-', "")
                .chars()
                .rev()
                .take(10)
                .collect::<String>()
        );
        self.put_work(&holder, "shipment", json!({ "tracking": tracking }))
            .await?;
        Ok(json!({ "tracking": tracking }))
    }

    async fn require_work(&self, ctx: TaskContext, kind: &str, output: Value) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        match self.work(&holder, kind).await? {
            Some(_) => Ok(output),
            None => Err(HandlerError::Fatal(format!(
                "product {holder} has no {kind}"
            ))),
        }
    }

    async fn drop_work(&self, ctx: TaskContext, kind: &str) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        sqlx::query("DELETE FROM net_work WHERE holder = $1 AND kind = $2")
            .bind(holder)
            .bind(kind.to_string())
            .execute(&self.db.pool)
            .await
            .map_err(db_error)?;
        Ok(json!({ format!("{kind}_released"): true }))
    }

    async fn decommission(&self, ctx: TaskContext) -> HandlerResult {
        let item = item(&ctx)?;
        let holder = item.product.id.clone();
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        let ports = sqlx::query("UPDATE net_ports SET state = 'free', holder = NULL, bandwidth_mbps = NULL WHERE holder = $1")
            .bind(holder.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("DELETE FROM net_work WHERE holder = $1")
            .bind(holder)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(json!({ "ports_released": ports.rows_affected() }))
    }

    async fn put_work(&self, holder: &str, kind: &str, detail: Value) -> Result<(), HandlerError> {
        sqlx::query(
            "INSERT INTO net_work (holder, kind, state, detail, updated_at) VALUES ($1, $2, 'open', $3, 0) \
             ON CONFLICT DO NOTHING",
        )
        .bind(holder.to_string())
        .bind(kind.to_string())
        .bind(detail.to_string())
        .execute(&self.db.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn work(&self, holder: &str, kind: &str) -> Result<Option<Value>, HandlerError> {
        let row = sqlx::query("SELECT detail FROM net_work WHERE holder = $1 AND kind = $2")
            .bind(holder.to_string())
            .bind(kind.to_string())
            .fetch_optional(&self.db.pool)
            .await
            .map_err(db_error)?;
        match row {
            Some(r) => {
                let text: String = r.try_get("detail").map_err(db_error)?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| HandlerError::Fatal(format!("stored network detail: {e}")))
            }
            None => Ok(None),
        }
    }
}
