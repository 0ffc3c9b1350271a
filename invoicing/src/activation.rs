//! Billing activation: turns a delivered item into a subscription with the prices of its
//! pinned offering version (one-time charges due on the first invoice, recurring charges from
//! the activation date), changes a running subscription for a modify item (the old recurring
//! charges end and the re-priced ones start on the change date, which billing runs prorate),
//! and ends it for a delete item. Dates are the billing account's local dates. Every handler
//! is idempotent per item, and each has a compensation that removes exactly what it added.

use chrono::NaiveDate;
use l2c_billing::Currency;
use l2c_catalog::{Catalog, Charge, OrderAction, PriceKind, Quote, ValidItem};
use l2c_engine::clock::Clock;
use l2c_engine::db::Db;
use l2c_engine::handler::{HandlerError, HandlerResult, Handlers, TaskContext};
use l2c_orders::payload::ItemInput;
use serde_json::{json, Value};
use sqlx::{AnyConnection, Row};
use std::sync::Arc;

/// The handler names this module registers.
pub const NAMES: [&str; 5] = [
    "billing.activate",
    "billing.deactivate",
    "billing.change",
    "billing.revert-change",
    "billing.end",
];

/// What the billing handlers share.
#[derive(Clone)]
pub struct Billing {
    db: Db,
    catalog: Arc<Catalog>,
    clock: Arc<dyn Clock>,
}

/// The date at `now` in billing account `account`'s time zone `zone`.
fn local_today(
    zone: &str,
    now: chrono::DateTime<chrono::Utc>,
    account: &str,
) -> Result<NaiveDate, HandlerError> {
    l2c_orders::accounts::local_date(zone, now)
        .map_err(|e| HandlerError::Fatal(format!("billing account {account}: {e}")))
}

fn db_error(e: sqlx::Error) -> HandlerError {
    HandlerError::Retryable(format!("billing database: {e}"))
}

impl Billing {
    /// Billing on `db`, pricing changes from `catalog`, dating them by `clock`.
    pub fn new(db: Db, catalog: Arc<Catalog>, clock: Arc<dyn Clock>) -> Billing {
        Billing { db, catalog, clock }
    }

    /// Registers the billing handlers.
    pub fn register(&self, handlers: &mut Handlers) {
        let b = self.clone();
        handlers.register("billing.activate", move |ctx| {
            let b = b.clone();
            async move { b.activate(ctx).await }
        });
        let b = self.clone();
        handlers.register("billing.deactivate", move |ctx| {
            let b = b.clone();
            async move { b.remove_item_charges(ctx).await }
        });
        let b = self.clone();
        handlers.register("billing.change", move |ctx| {
            let b = b.clone();
            async move { b.change(ctx).await }
        });
        let b = self.clone();
        handlers.register("billing.revert-change", move |ctx| {
            let b = b.clone();
            async move { b.remove_item_charges(ctx).await }
        });
        let b = self.clone();
        handlers.register("billing.end", move |ctx| {
            let b = b.clone();
            async move { b.end(ctx).await }
        });
    }

    /// Today in the billing account's time zone: billing dates are the account's local dates.
    async fn today(
        &self,
        conn: &mut AnyConnection,
        account: &str,
    ) -> Result<NaiveDate, HandlerError> {
        let row = sqlx::query("SELECT time_zone FROM billing_accounts WHERE id = $1")
            .bind(account.to_string())
            .fetch_optional(conn)
            .await
            .map_err(db_error)?
            .ok_or_else(|| HandlerError::Fatal(format!("no billing account {account}")))?;
        let zone: String = row.try_get("time_zone").map_err(db_error)?;
        local_today(&zone, self.clock.now(), account)
    }

    /// Today for the account `subscription` bills.
    async fn subscription_today(
        &self,
        conn: &mut AnyConnection,
        subscription: &str,
    ) -> Result<NaiveDate, HandlerError> {
        let row = sqlx::query(
            "SELECT a.id, a.time_zone FROM subscriptions s \
             JOIN billing_accounts a ON a.id = s.billing_account_id WHERE s.id = $1",
        )
        .bind(subscription.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
        let account: String = row.try_get("id").map_err(db_error)?;
        let zone: String = row.try_get("time_zone").map_err(db_error)?;
        local_today(&zone, self.clock.now(), &account)
    }

    async fn activate(&self, ctx: TaskContext) -> HandlerResult {
        let item: ItemInput = ctx.input_as()?;
        let (order_id, item_id, product) = (&item.order_id, &item.item_id, &item.product.id);
        let quote = &item.quote;
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        let today = self.today(&mut tx, &item.billing_account).await?;
        let existing = subscription_of(&mut tx, product).await?;
        let subscription = match existing {
            Some(id) => id,
            None => {
                let id = uuid::Uuid::now_v7().to_string();
                sqlx::query(
                    "INSERT INTO subscriptions (id, billing_account_id, product_id, offering, version, \
                     currency, start_date, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8)",
                )
                .bind(id.clone())
                .bind(item.billing_account.clone())
                .bind(product.clone())
                .bind(quote.offering.clone())
                .bind(i64::from(quote.version))
                .bind(quote.currency.code())
                .bind(today.to_string())
                .bind(self.clock.now_ms())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                id
            }
        };
        let charges = quote.one_time.iter().chain(quote.recurring.iter());
        let at = ChargeAt {
            subscription: &subscription,
            order_id,
            item_id,
            offering: &quote.offering,
            from: today,
        };
        insert_charges(&mut tx, &at, charges).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(json!({ "subscription": subscription, "billing_start": today.to_string() }))
    }

    /// Removes what this item added (an activation or a change) and reopens what it ended.
    async fn remove_item_charges(&self, ctx: TaskContext) -> HandlerResult {
        let item: ItemInput = ctx.input_as()?;
        let (order_id, item_id) = (item.order_id, item.item_id);
        let by = format!("{order_id}/{item_id}");
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        let Some(subscription) = subscription_of(&mut tx, &item.product.id).await? else {
            return Ok(json!({ "billing_reverted": false }));
        };
        sqlx::query("DELETE FROM subscription_charges WHERE subscription_id = $1 AND order_id = $2 AND item_id = $3")
            .bind(subscription.clone())
            .bind(order_id)
            .bind(item_id)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("UPDATE subscription_charges SET effective_to = NULL, ended_by = NULL WHERE subscription_id = $1 AND ended_by = $2")
            .bind(subscription.clone())
            .bind(by)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let left: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM subscription_charges WHERE subscription_id = $1",
        )
        .bind(subscription.clone())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?
        .try_get("n")
        .map_err(db_error)?;
        if left == 0 {
            sqlx::query("DELETE FROM subscriptions WHERE id = $1")
                .bind(subscription)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(json!({ "billing_reverted": true }))
    }

    /// A modify item: re-prices the running product with its new characteristics at its
    /// pinned version; the old recurring charges end today and the new ones start today.
    async fn change(&self, ctx: TaskContext) -> HandlerResult {
        let item: ItemInput = ctx.input_as()?;
        let (order_id, item_id, product) = (&item.order_id, &item.item_id, &item.product.id);
        let by = format!("{order_id}/{item_id}");
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        let Some(subscription) = subscription_of(&mut tx, product).await? else {
            return Err(HandlerError::Fatal(format!(
                "product {product} has no subscription"
            )));
        };
        let today = self.subscription_today(&mut tx, &subscription).await?;
        let quote = self.reprice(&mut tx, &item).await?;
        sqlx::query(
            "UPDATE subscription_charges SET effective_to = $1, ended_by = $2 \
             WHERE subscription_id = $3 AND kind = 'recurring' AND effective_to IS NULL \
             AND NOT (order_id = $4 AND item_id = $5)",
        )
        .bind(today.to_string())
        .bind(by)
        .bind(subscription.clone())
        .bind(order_id.clone())
        .bind(item_id.clone())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // The modify item's one-time fees are priced by the offering ordered (e.g.
        // bandwidth-upgrade); the recurring prices, re-quoted, stay the product's own.
        let mut at = ChargeAt {
            subscription: &subscription,
            order_id,
            item_id,
            offering: &item.quote.offering,
            from: today,
        };
        insert_charges(&mut tx, &at, item.quote.one_time.iter()).await?;
        at.offering = &quote.offering;
        insert_charges(&mut tx, &at, quote.recurring.iter()).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(json!({ "subscription": subscription, "change_date": today.to_string() }))
    }

    /// The running product's prices with the item's changed characteristics.
    async fn reprice(
        &self,
        conn: &mut AnyConnection,
        item: &ItemInput,
    ) -> Result<Quote, HandlerError> {
        let product = item.product.id.as_str();
        let row = sqlx::query("SELECT p.offering, p.version, p.quantity, p.characteristics, s.currency FROM products p JOIN subscriptions s ON s.product_id = p.id WHERE p.id = $1")
            .bind(product.to_string())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?
            .ok_or_else(|| HandlerError::Fatal(format!("product {product} is not in the inventory")))?;
        let offering_id: String = row.try_get("offering").map_err(db_error)?;
        let version: i64 = row.try_get("version").map_err(db_error)?;
        let quantity: i64 = row.try_get("quantity").map_err(db_error)?;
        let stored: String = row.try_get("characteristics").map_err(db_error)?;
        let currency: String = row.try_get("currency").map_err(db_error)?;
        let fatal = |m: String| HandlerError::Fatal(m);
        let version = u32::try_from(version).map_err(|e| fatal(e.to_string()))?;
        let offering = self.catalog.get(&offering_id, version).ok_or_else(|| {
            fatal(format!(
                "offering {offering_id} v{version} is not in the catalog"
            ))
        })?;
        let mut merged: Value = serde_json::from_str(&stored).map_err(|e| fatal(e.to_string()))?;
        if let Some(m) = merged.as_object_mut() {
            for (k, v) in &item.characteristics {
                m.insert(k.clone(), v.clone());
            }
        }
        let characteristics = offering.typed_characteristics(&merged).map_err(fatal)?;
        let repriced = ValidItem {
            offering: offering_id,
            version,
            action: OrderAction::Add,
            quantity: u32::try_from(quantity).map_err(|e| fatal(e.to_string()))?,
            characteristics,
        };
        let currency = Currency::from_code(&currency).map_err(|e| fatal(e.to_string()))?;
        self.catalog
            .quote(&repriced, currency)
            .map_err(|e| fatal(e.to_string()))
    }

    async fn end(&self, ctx: TaskContext) -> HandlerResult {
        let item: ItemInput = ctx.input_as()?;
        let (order_id, item_id) = (&item.order_id, &item.item_id);
        let mut tx = self.db.begin_write().await.map_err(db_error)?;
        let Some(subscription) = subscription_of(&mut tx, &item.product.id).await? else {
            return Ok(json!({ "billing_ended": false }));
        };
        let today = self.subscription_today(&mut tx, &subscription).await?;
        sqlx::query("UPDATE subscriptions SET status = 'ended', end_date = $1, updated_at = $2 WHERE id = $3 AND status = 'active'")
            .bind(today.to_string())
            .bind(self.clock.now_ms())
            .bind(subscription.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("UPDATE subscription_charges SET effective_to = $1, ended_by = $2 WHERE subscription_id = $3 AND kind = 'recurring' AND effective_to IS NULL")
            .bind(today.to_string())
            .bind(format!("{order_id}/{item_id}"))
            .bind(subscription.clone())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(json!({ "subscription": subscription, "billing_end": today.to_string() }))
    }
}

async fn subscription_of(
    conn: &mut AnyConnection,
    product: &str,
) -> Result<Option<String>, HandlerError> {
    let row = sqlx::query("SELECT id FROM subscriptions WHERE product_id = $1")
        .bind(product.to_string())
        .fetch_optional(conn)
        .await
        .map_err(db_error)?;
    row.map(|r| r.try_get("id")).transpose().map_err(db_error)
}

/// Where charges go: their subscription, the order item that adds them, the offering that
/// priced them and the day they start.
struct ChargeAt<'a> {
    subscription: &'a str,
    order_id: &'a str,
    item_id: &'a str,
    offering: &'a str,
    from: NaiveDate,
}

async fn insert_charges<'a>(
    conn: &mut AnyConnection,
    at: &ChargeAt<'_>,
    charges: impl Iterator<Item = &'a Charge>,
) -> Result<(), HandlerError> {
    for c in charges {
        let (kind, period) = match c.kind {
            PriceKind::OneTime => ("one_time", None),
            PriceKind::Recurring(f) => ("recurring", Some(f.to_string())),
        };
        sqlx::query(
            "INSERT INTO subscription_charges (subscription_id, order_id, item_id, price_id, name, \
             kind, period, unit_amount, units, amount, effective_from, offering) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
        )
        .bind(at.subscription.to_string())
        .bind(at.order_id.to_string())
        .bind(at.item_id.to_string())
        .bind(c.price_id.clone())
        .bind(c.name.clone())
        .bind(kind)
        .bind(period)
        .bind(c.unit_amount.amount().to_string())
        .bind(i64::try_from(c.units).unwrap_or(i64::MAX))
        .bind(c.amount.amount().to_string())
        .bind(at.from.to_string())
        .bind(at.offering.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}
