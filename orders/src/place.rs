//! Placing an order: every item validated against the catalog and the inventory (all
//! problems at once, with paths), priced at its pinned version, then the order, its items and
//! the start of its workflow stored in one transaction. A repeated `Idempotency-Key` returns
//! the order the first request placed.

use crate::accounts::{self, BillingAccount, CustomerAccount};
use crate::context::Orders;
use crate::error::{check_text, problem, DeskError, DeskResult, FieldProblem};
use crate::inventory::{self, status};
use crate::model::{OrderItemRequest, OrderRequest, Placed, MAX_EXTERNAL_ID, MAX_ITEMS, MAX_NOTES};
use crate::payload::DISCONNECT_WORKFLOW;
use crate::prepare::{busy, lookup_key, Checked, Job};
use crate::store::NewItem;
use crate::users::{Role, User};
use chrono::NaiveDate;
use l2c_billing::{Currency, Money};
use l2c_catalog::{ItemRequest, OrderAction, OrderContext, Problem, Quote, ValidItem};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

/// Places `request` for `user`; `idempotency_key` (from the header) makes a retry safe.
pub async fn place(
    ctx: &Orders,
    user: &User,
    request: &OrderRequest,
    idempotency_key: Option<&str>,
) -> DeskResult<Placed> {
    let account = requester_account(user)?;
    if let Some(key) = idempotency_key {
        if !crate::shapes::IDEMPOTENCY_KEY.fits(key) {
            return Err(DeskError::BadRequest {
                rule: "idempotency_key",
                message: format!(
                    "Idempotency-Key must be {}",
                    crate::shapes::IDEMPOTENCY_KEY.says
                ),
            });
        }
    }
    let hash = request_hash(request)?;
    if let Some(key) = idempotency_key {
        if let Some(found) = replay(ctx, user, key, &hash).await? {
            return Ok(found);
        }
    }
    let checked = check(ctx, user, &account, request).await?;
    let job = Job {
        user: user.clone(),
        request: request.clone(),
        checked,
        key: idempotency_key.map(str::to_string),
        hash,
    };
    crate::intake::submit(ctx, job).await
}

/// The account `user` orders for: only requesters place orders, each for their account.
fn requester_account(user: &User) -> DeskResult<String> {
    if user.role != Role::Requester {
        return Err(DeskError::Forbidden(format!(
            "only requesters place orders; {} is a {}",
            user.name, user.role
        )));
    }
    let account = user.account_scope()?.ok_or_else(|| {
        DeskError::Internal(format!("{} places orders without an account", user.name))
    })?;
    Ok(account.to_string())
}

/// An order as placing would store it, priced, with nothing stored: what a confirm step and
/// a live quote show.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Each item's quote, in request order.
    pub items: Vec<Quote>,
    /// The sum of the one-time charges.
    pub one_time_total: Money,
    /// The monthly recurring charges.
    pub monthly_total: Money,
}

/// Checks `request` for `user` exactly as [`place`] does (every problem at once) and prices
/// it, storing nothing.
pub async fn preview(ctx: &Orders, user: &User, request: &OrderRequest) -> DeskResult<Preview> {
    let account = requester_account(user)?;
    let checked = check(ctx, user, &account, request).await?;
    let currency = Currency::from_code(&checked.billing.currency)
        .map_err(|e| DeskError::Internal(e.to_string()))?;
    let (one_time_total, monthly_total, _) = crate::prepare::totals(&checked.items, currency)?;
    Ok(Preview {
        items: checked.items.into_iter().map(|i| i.quote).collect(),
        one_time_total,
        monthly_total,
    })
}

fn request_hash(request: &OrderRequest) -> DeskResult<String> {
    let canonical = serde_json::to_string(request)?;
    Ok(hex::encode(Sha256::digest(canonical.as_bytes())))
}

async fn replay(ctx: &Orders, user: &User, key: &str, hash: &str) -> DeskResult<Option<Placed>> {
    let mut conn = ctx.db.pool.acquire().await?;
    lookup_key(&mut conn, user, key, hash).await
}

async fn check(
    ctx: &Orders,
    user: &User,
    account: &str,
    request: &OrderRequest,
) -> DeskResult<Checked> {
    let mut problems: Vec<FieldProblem> = Vec::new();
    let mut conn = ctx.db.pool.acquire().await?;
    let customer = accounts::customer(&mut conn, account)
        .await?
        .ok_or_else(|| {
            DeskError::Internal(format!("account {account} of {} is gone", user.name))
        })?;
    let billing = check_billing_account(&mut conn, request, &customer, &mut problems).await?;
    let today = ctx.today();
    let date = check_header(request, today, &mut problems);
    check_item_count(request, &mut problems);
    let eligibility = OrderContext {
        segment: customer.segment.clone(),
        country: customer.country.clone(),
        date: today,
    };
    let mut items = Vec::new();
    for (i, item) in request.items.iter().enumerate().take(MAX_ITEMS) {
        let checking = ItemCheck {
            ctx,
            customer: &customer,
            billing: billing.as_ref(),
            eligibility: &eligibility,
        };
        if let Some(new) = checking.item(&mut conn, i, item, &mut problems).await? {
            items.push(new);
        }
    }
    check_duplicate_products(&items, &mut problems);
    if !problems.is_empty() {
        return Err(DeskError::Validation(problems));
    }
    let billing = billing.ok_or_else(|| DeskError::Internal("billing account vanished".into()))?;
    Ok(Checked {
        customer,
        billing,
        date,
        items,
    })
}

/// The order's billing account, which must be one of the customer's.
async fn check_billing_account(
    conn: &mut AnyConnection,
    request: &OrderRequest,
    customer: &CustomerAccount,
    problems: &mut Vec<FieldProblem>,
) -> DeskResult<Option<BillingAccount>> {
    Ok(
        match accounts::billing(conn, &request.billing_account).await? {
            Some(b) if b.customer_account == customer.id => Some(b),
            _ => {
                problems.push(problem(
                    "billing_account",
                    "unknown_billing_account",
                    format!(
                        "{:?} is not a billing account of {}",
                        request.billing_account, customer.id
                    ),
                ));
                None
            }
        },
    )
}

fn check_item_count(request: &OrderRequest, problems: &mut Vec<FieldProblem>) {
    if request.items.is_empty() {
        problems.push(problem(
            "items",
            "required",
            "an order needs at least one item",
        ));
    }
    if request.items.len() > MAX_ITEMS {
        problems.push(problem(
            "items",
            "max_items",
            format!(
                "an order takes at most {MAX_ITEMS} items, not {}",
                request.items.len()
            ),
        ));
    }
}

/// What checking one item needs from its order.
struct ItemCheck<'a> {
    ctx: &'a Orders,
    customer: &'a CustomerAccount,
    billing: Option<&'a BillingAccount>,
    eligibility: &'a OrderContext,
}

impl ItemCheck<'_> {
    /// Item `i` checked against the inventory and the catalog and priced; `None` when a
    /// problem was recorded (or the billing account is unknown, so nothing can be priced).
    async fn item(
        &self,
        conn: &mut AnyConnection,
        i: usize,
        item: &OrderItemRequest,
        problems: &mut Vec<FieldProblem>,
    ) -> DeskResult<Option<NewItem>> {
        let path = format!("items[{i}]");
        let Some(current) =
            check_product(conn, self.ctx, self.customer, item, &path, problems).await?
        else {
            return Ok(None);
        };
        let catalog_item = ItemRequest {
            offering: item.offering.clone(),
            version: item.version,
            action: item.action,
            quantity: item.quantity,
            characteristics: item.characteristics.clone(),
        };
        let current_chars = current
            .as_ref()
            .map(|p| typed_characteristics(self.ctx, p))
            .transpose()?;
        let catalog = &self.ctx.catalog;
        let valid = match catalog.validate_item(
            &path,
            &catalog_item,
            self.eligibility,
            current_chars.as_ref(),
        ) {
            Ok(v) => v,
            Err(mut p) => {
                problems.append(&mut p);
                return Ok(None);
            }
        };
        let Some(billing) = self.billing else {
            return Ok(None);
        };
        let currency = Currency::from_code(&billing.currency)
            .map_err(|e| DeskError::Internal(e.to_string()))?;
        match catalog.quote(&valid, currency) {
            Ok(quote) => Ok(Some(new_item(self.ctx, i, valid, quote, current, item)?)),
            Err(e) => {
                problems.push(problem(
                    format!("{path}.offering"),
                    "pricing",
                    e.to_string(),
                ));
                Ok(None)
            }
        }
    }
}

fn check_header(
    request: &OrderRequest,
    today: NaiveDate,
    problems: &mut Vec<Problem>,
) -> Option<NaiveDate> {
    let texts = [
        ("external_id", &request.external_id),
        ("notes", &request.notes),
    ];
    problems.extend(
        texts
            .iter()
            .filter_map(|(path, text)| check_text(*path, text.as_deref()?)),
    );
    for (i, item) in request.items.iter().enumerate() {
        for (name, value) in &item.characteristics {
            if let Some(text) = value.as_str() {
                problems.extend(check_text(
                    format!("items[{i}].characteristics.{name}"),
                    text,
                ));
            }
        }
    }
    if let Some(ext) = &request.external_id {
        if ext.trim().is_empty() || ext.chars().count() > MAX_EXTERNAL_ID {
            problems.push(problem(
                "external_id",
                "length",
                format!("must be 1 to {MAX_EXTERNAL_ID} characters"),
            ));
        }
    }
    if let Some(notes) = &request.notes {
        if notes.chars().count() > MAX_NOTES {
            problems.push(problem(
                "notes",
                "length",
                format!("must be at most {MAX_NOTES} characters"),
            ));
        }
    }
    let raw = request.requested_completion_date.as_deref()?;
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) if d < today => {
            problems.push(problem(
                "requested_completion_date",
                "not_in_past",
                format!("{d} is before today ({today})"),
            ));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(problem(
                "requested_completion_date",
                "date",
                format!("{raw:?} is not a date in YYYY-MM-DD form"),
            ));
            None
        }
    }
}

/// For modify and delete: the running product, which must be the customer's and active, of
/// the offering the item changes. `Ok(None)` when a problem was recorded.
async fn check_product(
    conn: &mut AnyConnection,
    ctx: &Orders,
    customer: &CustomerAccount,
    item: &OrderItemRequest,
    path: &str,
    problems: &mut Vec<Problem>,
) -> DeskResult<Option<Option<inventory::Product>>> {
    let field = format!("{path}.product");
    let Some(id) = &item.product else {
        if item.action != OrderAction::Add {
            problems.push(problem(
                field,
                "required",
                format!(
                    "a {} item names the running product it changes",
                    item.action
                ),
            ));
            return Ok(None);
        }
        return Ok(Some(None));
    };
    if item.action == OrderAction::Add {
        problems.push(problem(
            field,
            "not_allowed",
            "an add item creates a new product and names none",
        ));
        return Ok(None);
    }
    let product = match inventory::get(conn, id).await? {
        // Another account's product is reported exactly like a missing one.
        Some(p) if p.customer_account == customer.id => p,
        _ => {
            problems.push(problem(
                field,
                "unknown_product",
                format!("{id:?} is not a product of {}", customer.id),
            ));
            return Ok(None);
        }
    };
    if product.status != status::ACTIVE {
        problems.push(problem(
            field,
            "product_not_active",
            format!("product {id} is {}, not active", product.status),
        ));
        return Ok(None);
    }
    let expected = match item.action {
        OrderAction::Modify => ctx
            .catalog
            .versions(&item.offering)
            .last()
            .and_then(|o| o.modifies())
            .map(|m| m.offering.clone()),
        _ => Some(item.offering.clone()),
    };
    if expected.as_deref().is_some_and(|e| e != product.offering) {
        problems.push(problem(
            field,
            "product_offering",
            format!(
                "product {id} is a {}, which {} does not change",
                product.offering, item.offering
            ),
        ));
        return Ok(None);
    }
    if let Some(problem) = busy(conn, id, &field).await? {
        problems.push(problem);
        return Ok(None);
    }
    Ok(Some(Some(product)))
}

/// The running product's characteristics, typed, for the catalog's "increase only" checks.
fn typed_characteristics(
    ctx: &Orders,
    product: &inventory::Product,
) -> DeskResult<std::collections::BTreeMap<String, l2c_catalog::Value>> {
    let Some(offering) = ctx.catalog.get(&product.offering, product.version) else {
        return Ok(Default::default());
    };
    offering
        .typed_characteristics(&product.characteristics)
        .map_err(|e| DeskError::Internal(format!("product {}: {e}", product.id)))
}

fn check_duplicate_products(items: &[NewItem], problems: &mut Vec<Problem>) {
    for (i, item) in items.iter().enumerate() {
        if item.action == OrderAction::Add {
            continue;
        }
        let earlier = items[..i]
            .iter()
            .any(|o| o.action != OrderAction::Add && o.product_id == item.product_id);
        if earlier {
            problems.push(problem(
                format!("items[{}].product", item.position),
                "duplicate_product",
                format!(
                    "another item of this order already changes product {}",
                    item.product_id
                ),
            ));
        }
    }
}

fn new_item(
    ctx: &Orders,
    position: usize,
    valid: ValidItem,
    quote: Quote,
    current: Option<inventory::Product>,
    request: &OrderItemRequest,
) -> DeskResult<NewItem> {
    let workflow = if valid.action == OrderAction::Delete {
        DISCONNECT_WORKFLOW.to_string()
    } else {
        ctx.catalog
            .get(&valid.offering, valid.version)
            .map(|o| o.workflow().to_string())
            .ok_or_else(|| DeskError::Internal(format!("offering {} vanished", valid.offering)))?
    };
    let product_id = match (&current, &request.product) {
        (Some(p), _) => p.id.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => uuid::Uuid::now_v7().to_string(),
    };
    Ok(NewItem {
        position,
        item_id: (position + 1).to_string(),
        action: valid.action,
        characteristics: serde_json::to_value(&valid.characteristics)?,
        valid,
        quote,
        workflow,
        product_id,
        current: current.map(|p| p.characteristics),
    })
}
