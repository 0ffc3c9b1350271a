//! What the order writer does for each order inside its transaction: claim or look up the
//! idempotency key, check again that no other open order is changing the same products
//! (locking them on PostgreSQL), and build the order's rows and its workflow input. Placing
//! ([`crate::place`]) runs the same product check before the order is queued.

use crate::accounts::{BillingAccount, CustomerAccount};
use crate::error::{problem, DeskError, DeskResult};
use crate::model::{OrderRequest, Placed};
use crate::payload::{ItemInput, OrderHeader, OrderInput, ProductRef};
use crate::settings::OrderSettings;
use crate::store::{NewItem, NewOrder};
use crate::users::User;
use chrono::NaiveDate;
use l2c_billing::{BillingFrequency, Currency, Money};
use l2c_catalog::{OrderAction, PriceKind, Problem};
use l2c_engine::db::Backend;
use rust_decimal::Decimal;
use serde_json::Value;
use sqlx::{AnyConnection, Row};

/// An order that passed every check, priced, ready to be stored.
pub(crate) struct Checked {
    pub customer: CustomerAccount,
    pub billing: BillingAccount,
    pub date: Option<NaiveDate>,
    pub items: Vec<NewItem>,
}

/// An order ready to be written: who placed it, what they asked for, what the checks made
/// of it, and its idempotency key with the request's hash.
pub(crate) struct Job {
    pub user: User,
    pub request: OrderRequest,
    pub checked: Checked,
    pub key: Option<String>,
    pub hash: String,
}

pub(crate) async fn lookup_key(
    conn: &mut AnyConnection,
    user: &User,
    key: &str,
    hash: &str,
) -> DeskResult<Option<Placed>> {
    let row = sqlx::query(
        "SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = $1 AND idem_key = $2",
    )
    .bind(user.id.clone())
    .bind(key.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored: String = row.try_get("request_hash")?;
    if stored != hash {
        return Err(DeskError::BadRequest {
            rule: "idempotency_key_reused",
            message: format!(
                "Idempotency-Key {key:?} was used for a different order request; use a new key"
            ),
        });
    }
    Ok(Some(Placed {
        order_id: row.try_get("order_id")?,
        created: false,
    }))
}

/// Records the key for this request, for the order `order_id` about to be stored, inside the
/// writing transaction; if another request got there first, returns what it placed instead.
pub(crate) async fn claim_key(
    conn: &mut AnyConnection,
    now: i64,
    user: &User,
    key: &str,
    hash: &str,
    order_id: &str,
) -> DeskResult<Result<(), Placed>> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, order_id, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(user.id.clone())
    .bind(key.to_string())
    .bind(hash.to_string())
    .bind(order_id.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(Ok(()));
    }
    match lookup_key(conn, user, key, hash).await? {
        Some(earlier) => Ok(Err(earlier)),
        None => Err(DeskError::Internal(format!(
            "idempotency key {key:?} vanished"
        ))),
    }
}

/// Locks a product's row for the rest of the transaction (PostgreSQL; SQLite's writer is
/// already serial), so that racing orders check [`busy`] one after the other.
async fn lock_product(conn: &mut AnyConnection, backend: Backend, id: &str) -> DeskResult<()> {
    if backend == Backend::Sqlite {
        return Ok(());
    }
    let lock = format!(
        "SELECT id FROM products WHERE id = $1{}",
        backend.lock_rows()
    );
    sqlx::query(sqlx::AssertSqlSafe(lock))
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(())
}

/// The problem if another open order is already changing product `id`. Checked when the
/// order is validated, and again in the transaction that stores it (after
/// [`lock_product`]), so two orders racing for one product cannot both be stored.
pub(crate) async fn busy(
    conn: &mut AnyConnection,
    id: &str,
    field: &str,
) -> DeskResult<Option<Problem>> {
    let other = sqlx::query(
        "SELECT o.id FROM order_items i JOIN orders o ON o.id = i.order_id \
         WHERE i.product_id = $1 AND i.action <> 'add' AND i.state IN ('acknowledged', 'inProgress')",
    )
    .bind(id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    other
        .map(|row| {
            let other: String = row.try_get("id")?;
            Ok(problem(
                field,
                "product_busy",
                format!("order {other} is already changing product {id}"),
            ))
        })
        .transpose()
}

/// The sum of one-time charges, and the monthly recurring value (quarterly and yearly charges
/// count a third and a twelfth, compared exactly by scaling to a year).
pub(crate) fn totals(items: &[NewItem], currency: Currency) -> DeskResult<(Money, Money, Decimal)> {
    let mut one_time = Money::zero(currency);
    let mut monthly = Money::zero(currency);
    let mut yearly_value = Decimal::ZERO;
    let fail = |e: l2c_billing::BillingError| DeskError::Internal(e.to_string());
    for item in items {
        one_time = one_time
            .checked_add(item.quote.one_time_total().map_err(fail)?)
            .map_err(fail)?;
        monthly = monthly
            .checked_add(
                item.quote
                    .recurring_total(BillingFrequency::Monthly)
                    .map_err(fail)?,
            )
            .map_err(fail)?;
        for charge in &item.quote.recurring {
            if let PriceKind::Recurring(f) = charge.kind {
                yearly_value += charge.amount.amount() * Decimal::from(12 / f.months());
            }
        }
    }
    Ok((one_time, monthly, yearly_value))
}

/// An order checked again inside the write, ready to be inserted with the rest of its batch.
pub(crate) struct Prepared {
    pub order: NewOrder,
    pub input: Value,
    /// The running products it changes (claimed for the batch once its key is).
    pub changes: Vec<String>,
}

/// Re-checks `checked` inside the writing transaction (no other open order may be changing
/// its products, in the database or earlier in the same batch: `taken`) and builds the rows.
pub(crate) async fn prepare(
    tx: &mut AnyConnection,
    backend: Backend,
    settings: &OrderSettings,
    job: &Job,
    order_id: String,
    taken: &std::collections::HashSet<String>,
) -> DeskResult<Prepared> {
    let (user, request, checked) = (&job.user, &job.request, &job.checked);
    let currency = Currency::from_code(&checked.billing.currency)
        .map_err(|e| DeskError::Internal(e.to_string()))?;
    let (one_time, monthly, yearly_value) = totals(&checked.items, currency)?;
    let changes: Vec<&NewItem> = checked
        .items
        .iter()
        .filter(|i| i.action != OrderAction::Add)
        .collect();
    let mut problems = Vec::new();
    for item in &changes {
        let field = format!("items[{}].product", item.position);
        if taken.contains(&item.product_id) {
            problems.push(problem(
                field,
                "product_busy",
                format!(
                    "an order placed at the same moment is already changing product {}",
                    item.product_id
                ),
            ));
            continue;
        }
        lock_product(tx, backend, &item.product_id).await?;
        problems.extend(busy(tx, &item.product_id, &field).await?);
    }
    DeskError::check(problems)?;
    let changes: Vec<String> = changes.iter().map(|i| i.product_id.clone()).collect();
    let needs_approval = yearly_value > settings.commercial_approval_threshold * Decimal::from(12);
    let order = NewOrder {
        id: order_id,
        requester: user.name.clone(),
        customer_account: checked.customer.id.clone(),
        billing_account: checked.billing.id.clone(),
        external_id: request.external_id.clone(),
        requested_completion_date: checked.date,
        notes: request.notes.clone(),
        currency: currency.code().to_string(),
        one_time_total: one_time.amount().to_string(),
        monthly_total: monthly.amount().to_string(),
    };
    let input = serde_json::to_value(workflow_input(&order, &checked.items, needs_approval))?;
    Ok(Prepared {
        order,
        input,
        changes,
    })
}

fn workflow_input(order: &NewOrder, items: &[NewItem], needs_approval: bool) -> OrderInput {
    let object = |v: Option<&Value>| v.and_then(Value::as_object).cloned().unwrap_or_default();
    let items = items
        .iter()
        .map(|i| ItemInput {
            workflow: i.workflow.clone(),
            order_id: order.id.clone(),
            item_id: i.item_id.clone(),
            requester: order.requester.clone(),
            customer_account: order.customer_account.clone(),
            billing_account: order.billing_account.clone(),
            currency: order.currency.clone(),
            action: i.action,
            offering: i.valid.offering.clone(),
            version: i.valid.version,
            quantity: i.valid.quantity,
            characteristics: object(Some(&i.characteristics)),
            product: ProductRef {
                id: i.product_id.clone(),
                characteristics: object(i.current.as_ref()),
            },
            quote: i.quote.clone(),
        })
        .collect();
    OrderInput {
        order: OrderHeader {
            id: order.id.clone(),
            requester: order.requester.clone(),
            customer_account: order.customer_account.clone(),
            billing_account: order.billing_account.clone(),
            currency: order.currency.clone(),
            one_time_total: order.one_time_total.clone(),
            monthly_total: order.monthly_total.clone(),
            requested_completion_date: order.requested_completion_date.map(|d| d.to_string()),
            needs_commercial_approval: needs_approval,
        },
        requester: order.requester.clone(),
        items,
    }
}
