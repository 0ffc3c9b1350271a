//! `/api/v1/orders`: place (with `Idempotency-Key`), list, get with the timeline, cancel.

use super::extract::{
    Allowed, ApiJson, ApiPath, ApiQuery, Caller, Requesters, RequestersAndAdmins,
};
use super::problem::{ApiError, ApiResult};
use super::ApiState;
use crate::app::App;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use l2c_orders::cancel::Cancellation;
use l2c_orders::error::DeskError;
use l2c_orders::model::{OrderRequest, OrderView, TimelineEntry};
use l2c_orders::{self as orders};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/orders", post(place_order).get(list_orders))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/cancel", post(cancel_order))
}

/// An order with its timeline (state changes and workflow history, oldest first).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderDetail {
    /// The order.
    #[serde(flatten)]
    pub order: OrderView,
    /// What happened to it.
    pub timeline: Vec<TimelineEntry>,
}

/// Paging for lists.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// At most this many, newest first (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Why an order should be cancelled.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    /// Required, shown in the order's timeline.
    #[schema(schema_with = l2c_orders::shapes::text_schema)]
    pub reason: String,
}

/// The order with its timeline, as `user` may see it.
pub async fn detail(app: &App, user: &l2c_orders::users::User, id: &str) -> ApiResult<OrderDetail> {
    let order = orders::visible(&app.orders, user, id).await?;
    let timeline = orders::timeline(&app.orders, id).await?;
    Ok(OrderDetail { order, timeline })
}

/// The `Idempotency-Key` header of the two order intakes, as the document states it.
#[derive(IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
#[expect(
    dead_code,
    reason = "only the document reads it; handlers read the header map"
)]
pub struct IdempotencyKey(
    /// Makes a retry safe: the same key returns the same order.
    #[param(schema_with = l2c_orders::shapes::idempotency_key_schema)]
    Option<String>,
);

/// The `Idempotency-Key` header, if sent.
pub fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.to_string())).map_err(|_| {
            DeskError::BadRequest {
                rule: "idempotency_key",
                message: "Idempotency-Key must be visible ASCII".into(),
            }
            .into()
        }),
    }
}

/// Places `request` for `user` under the request's `Idempotency-Key`; answers the stored
/// order with 201, or 200 when an earlier request with the key placed it.
pub async fn place_with_key(
    state: &ApiState,
    user: &l2c_orders::users::User,
    headers: &HeaderMap,
    request: &OrderRequest,
) -> ApiResult<(StatusCode, OrderView)> {
    let key = idempotency_key(headers)?;
    let placed = state.app.place_order(user, request, key.as_deref()).await?;
    // The order as stored; its timeline (just begun) is one GET away.
    let order = orders::visible(&state.app.orders, user, &placed.order_id).await?;
    let status = if placed.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, order))
}

/// Place an order.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body = OrderRequest,
    params(IdempotencyKey),
    responses(
        (status = 201, description = "Placed", body = OrderView),
        (status = 200, description = "Placed earlier with this Idempotency-Key", body = OrderView),
        (status = 422, description = "Validation problems, every one with its path", body = super::problem::Problem),
    ),
    security(("bearer" = [])))]
pub async fn place_order(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<Requesters>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<OrderRequest>,
) -> ApiResult<impl IntoResponse> {
    let (status, order) = place_with_key(&state, &user, &headers, &request).await?;
    let location = format!("/api/v1/orders/{}", order.id);
    Ok((status, [(header::LOCATION, location)], Json(order)))
}

/// List orders: a requester's account's, or all for the order desk, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(ListQuery),
    responses((status = 200, body = Vec<OrderView>)), security(("bearer" = [])))]
pub async fn list_orders(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<OrderView>>> {
    let list = orders::list(&state.app.orders, &caller.0, list_limit(q.limit)?).await?;
    Ok(Json(list))
}

/// The `limit` of an order list, refused outside 1-500 (the document's rule) rather than clamped.
pub(super) fn list_limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(
            l2c_orders::error::DeskError::field("limit", "range", "must be 1 to 500").into(),
        );
    }
    Ok(limit)
}

/// An order with its items, products and timeline.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = OrderDetail), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_order(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OrderDetail>> {
    Ok(Json(detail(&state.app, &caller.0, &id).await?))
}

/// Request cancellation (TMF622: assessingCancellation, then pendingCancellation while the
/// workflow compensates, then cancelled).
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = String, Path, description = "The order id")),
    request_body = CancelRequest,
    responses(
        (status = 202, description = "Accepted; the order is pendingCancellation or cancelled", body = OrderDetail),
        (status = 409, description = "Refused: an item is already delivered, or the order is final", body = super::problem::Problem),
    ),
    security(("bearer" = [])))]
pub async fn cancel_order(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<RequestersAndAdmins>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CancelRequest>,
) -> ApiResult<impl IntoResponse> {
    let user = &user;
    match state.app.cancel_order(user, &id, &body.reason).await? {
        Cancellation::Accepted => {
            let body = detail(&state.app, user, &id).await?;
            Ok((StatusCode::ACCEPTED, Json(body)))
        }
        Cancellation::Refused(why) => Err(ApiError::from(DeskError::Conflict(why))),
    }
}
