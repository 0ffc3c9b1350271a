//! TMF622 Product Ordering (v4) on the same orders: `POST /productOrder`, `GET /productOrder`
//! and `GET /productOrder/{id}` under `/tmf-api/productOrderingManagement/v4`. A ProductOrder
//! is translated to an [`OrderRequest`] and placed exactly as `POST /api/v1/orders` places it
//! (same validation, idempotency and access rules); docs/api.md lists the fields mapped.

use super::extract::{Allowed, ApiJson, ApiPath, ApiQuery, Caller, Requesters};
use super::problem::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use l2c_catalog::Charge;
use l2c_orders as orders;
use l2c_orders::error::{problem, DeskError};
use l2c_orders::model::{ItemView, OrderItemRequest, OrderRequest, OrderView};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Where the API lives.
pub const BASE: &str = "/tmf-api/productOrderingManagement/v4";

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/productOrder", get(list).post(create))
        .route("/productOrder/{id}", get(retrieve))
}

/// A reference by id (billingAccount, productOffering, product).
#[derive(Debug, Deserialize, ToSchema)]
pub struct Ref {
    /// The id.
    pub id: Option<String>,
    /// A version (productOffering), as a string or a number.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub version: Option<Value>,
    /// Characteristics (product).
    #[serde(default, rename = "productCharacteristic")]
    pub characteristics: Vec<Characteristic>,
}

/// A name and a value.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Characteristic {
    /// The characteristic's name.
    pub name: String,
    /// Its value.
    #[schema(value_type = Object)]
    pub value: Value,
}

/// A note.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Note {
    /// Its text.
    pub text: String,
}

/// A TMF622 ProductOrderItem (the fields l2c uses; others are ignored, as TMF allows).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderItem {
    /// The item's id within the order.
    pub id: Option<String>,
    /// add, modify or delete.
    pub action: String,
    /// How many (default 1).
    pub quantity: Option<i64>,
    /// The offering ordered.
    pub product_offering: Option<Ref>,
    /// The product: its id for modify and delete, and the characteristics.
    pub product: Option<Ref>,
}

/// A TMF622 ProductOrder_Create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductOrderCreate {
    /// The customer's reference.
    pub external_id: Option<String>,
    /// A date or date-time; its date is used.
    pub requested_completion_date: Option<String>,
    /// Notes, joined.
    #[serde(default)]
    pub note: Vec<Note>,
    /// The billing account.
    pub billing_account: Option<Ref>,
    /// The items.
    #[serde(default)]
    pub product_order_item: Vec<ProductOrderItem>,
}

fn version(
    path: String,
    raw: &Option<Value>,
    problems: &mut Vec<l2c_orders::error::FieldProblem>,
) -> Option<u32> {
    let parsed = match raw {
        None | Some(Value::Null) => return None,
        Some(Value::String(s)) => s.parse::<u32>().ok(),
        Some(Value::Number(n)) => n.as_u64().and_then(|v| u32::try_from(v).ok()),
        Some(_) => None,
    };
    if parsed.is_none() {
        problems.push(problem(
            path,
            "version",
            "a version is a whole number such as \"1\"",
        ));
    }
    parsed
}

/// Translates a ProductOrder into l2c's request (every problem at once, with TMF paths).
pub fn to_request(order: ProductOrderCreate) -> Result<OrderRequest, DeskError> {
    let mut problems = Vec::new();
    let billing_account = order.billing_account.and_then(|b| b.id);
    if billing_account.is_none() {
        problems.push(problem(
            "billingAccount.id",
            "required",
            "name the billing account",
        ));
    }
    let mut items = Vec::new();
    for (i, item) in order.product_order_item.into_iter().enumerate() {
        let base = format!("productOrderItem[{i}]");
        let action = serde_json::from_value(Value::String(item.action.clone()));
        let offering = item.product_offering.as_ref().and_then(|o| o.id.clone());
        if offering.is_none() {
            problems.push(problem(
                format!("{base}.productOffering.id"),
                "required",
                "name the offering",
            ));
        }
        let version = item.product_offering.as_ref().and_then(|o| {
            version(
                format!("{base}.productOffering.version"),
                &o.version,
                &mut problems,
            )
        });
        let (product, characteristics) = match item.product {
            Some(p) => {
                let chars: BTreeMap<String, Value> = p
                    .characteristics
                    .into_iter()
                    .map(|c| (c.name, c.value))
                    .collect();
                (p.id, chars)
            }
            None => (None, BTreeMap::new()),
        };
        match (action, offering) {
            (Ok(action), Some(offering)) => items.push(OrderItemRequest {
                action,
                offering,
                version,
                quantity: item.quantity.unwrap_or(1),
                characteristics,
                product,
            }),
            (Err(_), _) => problems.push(problem(
                format!("{base}.action"),
                "allowed_values",
                format!("{:?} is not add, modify or delete", item.action),
            )),
            _ => {}
        }
    }
    DeskError::check(problems)?;
    let notes: Vec<String> = order.note.into_iter().map(|n| n.text).collect();
    Ok(OrderRequest {
        billing_account: billing_account.unwrap_or_default(),
        external_id: order.external_id,
        requested_completion_date: order
            .requested_completion_date
            .map(|d| d.chars().take(10).collect()),
        notes: (!notes.is_empty()).then(|| notes.join("\n")),
        items,
    })
}

fn money(amount: &l2c_billing::Money) -> Value {
    // Exact decimal text, never a binary float.
    json!({ "unit": amount.currency().code(), "value": amount.amount().to_string() })
}

fn item_price(charge: &Charge) -> Value {
    let mut price = Map::new();
    match charge.kind {
        l2c_catalog::PriceKind::OneTime => {
            price.insert("priceType".into(), json!("oneTime"));
        }
        l2c_catalog::PriceKind::Recurring(freq) => {
            price.insert("priceType".into(), json!("recurring"));
            price.insert("recurringChargePeriod".into(), json!(freq.to_string()));
        }
    }
    price.insert("name".into(), json!(charge.name));
    price.insert(
        "price".into(),
        json!({ "dutyFreeAmount": money(&charge.amount) }),
    );
    Value::Object(price)
}

fn item_json(item: &ItemView) -> Value {
    let prices: Vec<Value> = item
        .quote
        .one_time
        .iter()
        .chain(item.quote.recurring.iter())
        .map(item_price)
        .collect();
    let characteristics: Vec<Value> = item
        .characteristics
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": item.id,
        "@type": "ProductOrderItem",
        "action": item.action,
        "quantity": item.quantity,
        "state": item.state,
        "productOffering": {"id": item.offering, "version": item.version.to_string()},
        "product": {"id": item.product, "productCharacteristic": characteristics},
        "itemPrice": prices,
    })
}

/// An order as a TMF622 ProductOrder.
pub fn product_order(o: &OrderView) -> Value {
    json!({
        "id": o.id,
        "href": format!("{BASE}/productOrder/{}", o.id),
        "@type": "ProductOrder",
        "externalId": o.external_id,
        "state": o.state,
        "orderDate": o.created_at,
        "completionDate": o.completed_at,
        "requestedCompletionDate": o.requested_completion_date,
        "billingAccount": {"id": o.billing_account},
        "relatedParty": [{"id": o.customer_account, "role": "customer"}, {"id": o.requester, "role": "requester"}],
        "note": o.notes.as_ref().map(|t| vec![json!({"text": t})]).unwrap_or_default(),
        "productOrderItem": o.items.iter().map(item_json).collect::<Vec<_>>(),
    })
}

/// Create a ProductOrder (requesters).
#[utoipa::path(post, path = "/tmf-api/productOrderingManagement/v4/productOrder", tag = "tmf622",
    request_body = ProductOrderCreate, params(super::orders::IdempotencyKey),
    responses((status = 201, description = "A TMF622 ProductOrder", body = Object),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<Requesters>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ProductOrderCreate>,
) -> ApiResult<impl IntoResponse> {
    let request = to_request(body)?;
    let (status, order) = super::orders::place_with_key(&state, &user, &headers, &request).await?;
    let location = format!("{BASE}/productOrder/{}", order.id);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(product_order(&order)),
    ))
}

/// TMF630 paging and selection; `fields` is accepted and ignored (whole orders are sent).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TmfListQuery {
    /// Orders to skip (only 0 is supported: lists are newest first, up to `limit`).
    #[param(minimum = 0, maximum = 0)]
    pub offset: Option<u32>,
    /// At most this many (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Attribute selection (ignored).
    pub fields: Option<String>,
}

/// List ProductOrders the caller may see, newest first.
#[utoipa::path(get, path = "/tmf-api/productOrderingManagement/v4/productOrder", tag = "tmf622",
    params(TmfListQuery), responses((status = 200, body = Vec<Object>)), security(("bearer" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TmfListQuery>,
) -> ApiResult<Json<Vec<Value>>> {
    if q.offset.is_some_and(|o| o > 0) {
        return Err(DeskError::field("offset", "unsupported", "only offset=0 is supported").into());
    }
    let limit = super::orders::list_limit(q.limit)?;
    let list = orders::list(&state.app.orders, &caller.0, limit).await?;
    Ok(Json(list.iter().map(product_order).collect()))
}

/// One ProductOrder.
#[utoipa::path(get, path = "/tmf-api/productOrderingManagement/v4/productOrder/{id}", tag = "tmf622",
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = Object), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn retrieve(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let order = orders::visible(&state.app.orders, &caller.0, &id).await?;
    Ok(Json(product_order(&order)))
}
