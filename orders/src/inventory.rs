//! The running product inventory (TMF637-like): what each customer has, created and changed
//! by completed order items.

use crate::error::{DeskError, DeskResult};
use chrono::{DateTime, Utc};
use l2c_engine::clock::from_ms;
use l2c_engine::db::Backend;
use serde::Serialize;
use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// A product's status.
pub mod status {
    /// Being provisioned by an `add` item.
    pub const PENDING_ACTIVE: &str = "pendingActive";
    /// Running.
    pub const ACTIVE: &str = "active";
    /// Suspended (kept, not in service).
    pub const SUSPENDED: &str = "suspended";
    /// Disconnected, or never delivered.
    pub const TERMINATED: &str = "terminated";
}

/// A product in the inventory.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    /// The id.
    pub id: String,
    /// The customer account that owns it.
    pub customer_account: String,
    /// The billing account it is billed to.
    pub billing_account: String,
    /// The offering it is an instance of.
    pub offering: String,
    /// The offering version its prices come from.
    pub version: u32,
    /// How many.
    pub quantity: u32,
    /// Its current characteristics.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub characteristics: Value,
    /// pendingActive, active, suspended or terminated.
    pub status: String,
    /// The order that created it.
    pub order_id: String,
    /// When it became active.
    pub activated_at: Option<DateTime<Utc>>,
    /// When it was terminated.
    pub terminated_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, customer_account_id, billing_account_id, offering, version, quantity, \
    characteristics, status, order_id, activated_at, terminated_at";

fn from_row(r: &AnyRow) -> DeskResult<Product> {
    let chars: String = r.try_get("characteristics")?;
    let version: i64 = r.try_get("version")?;
    let quantity: i64 = r.try_get("quantity")?;
    let int = |v: i64| u32::try_from(v).map_err(|e| DeskError::Internal(e.to_string()));
    Ok(Product {
        id: r.try_get("id")?,
        customer_account: r.try_get("customer_account_id")?,
        billing_account: r.try_get("billing_account_id")?,
        offering: r.try_get("offering")?,
        version: int(version)?,
        quantity: int(quantity)?,
        characteristics: serde_json::from_str(&chars)?,
        status: r.try_get("status")?,
        order_id: r.try_get("order_id")?,
        activated_at: r.try_get::<Option<i64>, _>("activated_at")?.map(from_ms),
        terminated_at: r.try_get::<Option<i64>, _>("terminated_at")?.map(from_ms),
    })
}

/// One product.
pub async fn get(conn: &mut AnyConnection, id: &str) -> DeskResult<Option<Product>> {
    let sql = format!("SELECT {COLUMNS} FROM products WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Products of one customer account, or all (`None`), oldest first.
pub async fn list(conn: &mut AnyConnection, account: Option<&str>) -> DeskResult<Vec<Product>> {
    let rows = match account {
        Some(a) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM products WHERE customer_account_id = $1 ORDER BY created_at, id"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(a.to_string())
                .fetch_all(conn)
                .await?
        }
        None => {
            let sql = format!("SELECT {COLUMNS} FROM products ORDER BY created_at, id");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(conn)
                .await?
        }
    };
    rows.iter().map(from_row).collect()
}

/// What an `add` item will create, inserted as pendingActive when its workflow starts.
#[derive(Debug, Clone)]
pub struct NewProduct<'a> {
    /// The pre-assigned id (the item carries it from placement).
    pub id: &'a str,
    /// Owner.
    pub customer_account: &'a str,
    /// Billed to.
    pub billing_account: &'a str,
    /// Offering id.
    pub offering: &'a str,
    /// Pinned version.
    pub version: u32,
    /// How many.
    pub quantity: u32,
    /// Characteristics.
    pub characteristics: &'a Map<String, Value>,
    /// The order creating it.
    pub order_id: &'a str,
}

/// Inserts products as pendingActive, a few multi-row statements for any number (once: a
/// product already there is left as it is).
pub async fn insert_pending(
    conn: &mut AnyConnection,
    backend: Backend,
    products: &[NewProduct<'_>],
    now: i64,
) -> DeskResult<()> {
    for chunk in products.chunks(backend.chunk_rows(200, 11)) {
        let sql = format!(
            "INSERT INTO products (id, customer_account_id, billing_account_id, offering, \
             version, quantity, characteristics, status, order_id, created_at, updated_at) \
             VALUES {} ON CONFLICT DO NOTHING",
            backend.values_list(chunk.len(), 11, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for p in chunk {
            q = q
                .bind(p.id.to_string())
                .bind(p.customer_account.to_string())
                .bind(p.billing_account.to_string())
                .bind(p.offering.to_string())
                .bind(i64::from(p.version))
                .bind(i64::from(p.quantity))
                .bind(Value::Object(p.characteristics.clone()).to_string())
                .bind(status::PENDING_ACTIVE)
                .bind(p.order_id.to_string())
                .bind(now)
                .bind(now);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Sets a product's status (and the matching timestamp).
pub async fn set_status(conn: &mut AnyConnection, id: &str, to: &str, now: i64) -> DeskResult<()> {
    let sql = match to {
        status::ACTIVE => {
            "UPDATE products SET status = $1, updated_at = $2, activated_at = $2 WHERE id = $3"
        }
        status::TERMINATED => {
            "UPDATE products SET status = $1, updated_at = $2, terminated_at = $2 WHERE id = $3"
        }
        _ => "UPDATE products SET status = $1, updated_at = $2 WHERE id = $3",
    };
    sqlx::query(sql)
        .bind(to.to_string())
        .bind(now)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Merges `changes` into a product's characteristics (a completed `modify`).
pub async fn modify(
    conn: &mut AnyConnection,
    id: &str,
    changes: &Map<String, Value>,
    now: i64,
) -> DeskResult<()> {
    let product = get(&mut *conn, id)
        .await?
        .ok_or_else(|| DeskError::not_found("product", id))?;
    let mut chars = product.characteristics;
    if let Some(target) = chars.as_object_mut() {
        for (k, v) in changes {
            target.insert(k.clone(), v.clone());
        }
    }
    sqlx::query("UPDATE products SET characteristics = $1, updated_at = $2 WHERE id = $3")
        .bind(chars.to_string())
        .bind(now)
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
