//! The subscriptions billing activation created: what each product is billed, charge by
//! charge, with the dates each charge is effective (billing runs prorate by them).

use l2c_engine::db::Db;
use l2c_orders::error::{DeskError, DeskResult};
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// A product's subscription.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subscription {
    /// The id.
    pub id: String,
    /// The billing account it is billed to.
    pub billing_account: String,
    /// The product it bills.
    pub product: String,
    /// The offering and the version its prices come from.
    pub offering: String,
    /// The pinned version.
    pub version: u32,
    /// The currency.
    pub currency: String,
    /// The first billed day (YYYY-MM-DD).
    pub start_date: String,
    /// The last billed day, once ended.
    pub end_date: Option<String>,
    /// active or ended.
    pub status: String,
    /// Its charges, oldest first.
    pub charges: Vec<SubscriptionCharge>,
}

/// One charge of a subscription.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscriptionCharge {
    /// The order item that added it.
    pub order_id: String,
    /// The price's name, e.g. `Monthly port fee`.
    pub name: String,
    /// one_time or recurring.
    pub kind: String,
    /// monthly, quarterly or yearly (recurring charges).
    pub period: Option<String>,
    /// The amount per unit (decimal string).
    pub unit_amount: String,
    /// Units.
    pub units: i64,
    /// The amount per period (decimal string).
    pub amount: String,
    /// From when it is billed.
    pub effective_from: String,
    /// The day it stopped applying (exclusive: a replacing charge starts that day), once a
    /// change or an end closed it.
    pub effective_to: Option<String>,
}

/// Subscriptions of the given billing accounts (`None`: all), oldest first.
pub async fn list(db: &Db, billing_accounts: Option<&[String]>) -> DeskResult<Vec<Subscription>> {
    let filter = |alias: &str, first: usize| match billing_accounts {
        Some(ids) => format!(
            " WHERE {alias}billing_account_id IN ({})",
            db.backend.in_list(ids.len().max(1), first)
        ),
        None => String::new(),
    };
    if billing_accounts.is_some_and(<[String]>::is_empty) {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, billing_account_id, product_id, offering, version, currency, start_date, \
         end_date, status FROM subscriptions{} ORDER BY created_at, id",
        filter("", 1)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in billing_accounts.unwrap_or_default() {
        query = query.bind(id.clone());
    }
    let mut subs: Vec<Subscription> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in query.fetch_all(&db.pool).await? {
        let version: i64 = r.try_get("version")?;
        let id: String = r.try_get("id")?;
        index.insert(id.clone(), subs.len());
        subs.push(Subscription {
            id,
            billing_account: r.try_get("billing_account_id")?,
            product: r.try_get("product_id")?,
            offering: r.try_get("offering")?,
            version: u32::try_from(version).map_err(|e| DeskError::Internal(e.to_string()))?,
            currency: r.try_get("currency")?,
            start_date: r.try_get("start_date")?,
            end_date: r.try_get("end_date")?,
            status: r.try_get("status")?,
            charges: Vec::new(),
        });
    }
    let sql = format!(
        "SELECT c.subscription_id, c.order_id, c.name, c.kind, c.period, c.unit_amount, c.units, \
         c.amount, c.effective_from, c.effective_to FROM subscription_charges c \
         JOIN subscriptions s ON s.id = c.subscription_id{} \
         ORDER BY c.subscription_id, c.effective_from, c.order_id, c.price_id",
        filter("s.", 1)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in billing_accounts.unwrap_or_default() {
        query = query.bind(id.clone());
    }
    for r in query.fetch_all(&db.pool).await? {
        let sub: String = r.try_get("subscription_id")?;
        if let Some(s) = index.get(&sub).and_then(|i| subs.get_mut(*i)) {
            s.charges.push(SubscriptionCharge {
                order_id: r.try_get("order_id")?,
                name: r.try_get("name")?,
                kind: r.try_get("kind")?,
                period: r.try_get("period")?,
                unit_amount: r.try_get("unit_amount")?,
                units: r.try_get("units")?,
                amount: r.try_get("amount")?,
                effective_from: r.try_get("effective_from")?,
                effective_to: r.try_get("effective_to")?,
            });
        }
    }
    Ok(subs)
}
