//! TMF622 event notifications over HTTP: the hub (`POST` and `DELETE` under
//! `/tmf-api/productOrderingManagement/v4/hub`, admins and requesters) and the dead letters
//! (`/api/v1/hub/dead-letters`, admins). docs/api.md, "Event notifications".

use super::extract::{Admins, Allowed, ApiJson, ApiPath, ApiQuery, RequestersAndAdmins};
use super::problem::ApiResult;
use super::tmf::BASE;
use super::ApiState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use l2c_orders::hub::delivery::{self, DeadLetter};
use l2c_orders::hub::listeners::{self, Listener};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

/// The hub's routes (nested under the TMF622 base).
pub fn tmf_router() -> Router<ApiState> {
    Router::new()
        .route("/hub", post(register))
        .route("/hub/{id}", delete(unregister))
}

/// The dead-letter routes (nested under `/api/v1`).
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/hub/dead-letters", get(list_dead_letters))
        .route("/hub/dead-letters/replay", post(replay_all))
        .route("/hub/dead-letters/{id}/replay", post(replay_one))
}

/// A listener to register (TMF630 hub).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HubRequest {
    /// Where to POST events: an absolute http(s) URL.
    #[schema(schema_with = l2c_orders::shapes::callback_schema)]
    pub callback: String,
    /// A filter such as `eventType=ProductOrderStateChangeEvent&event.productOrder.state=completed`.
    #[schema(max_length = 1000)]
    pub query: Option<String>,
}

/// A registered listener, with its signing secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    /// The listener.
    #[serde(flatten)]
    pub listener: Listener,
    /// The HMAC-SHA256 key of `X-L2C-Signature`; l2c never shows it again.
    pub secret: String,
}

/// Register a listener (admins: every order; requesters: their account's orders).
#[utoipa::path(post, path = "/tmf-api/productOrderingManagement/v4/hub", tag = "tmf622",
    request_body = HubRequest,
    responses((status = 201, body = Registered), (status = 403, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn register(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<RequestersAndAdmins>,
    ApiJson(body): ApiJson<HubRequest>,
) -> ApiResult<impl IntoResponse> {
    let app = &state.app;
    let (listener, secret) = listeners::register(
        &app.db,
        &user,
        &body.callback,
        body.query.as_deref(),
        app.now_ms(),
    )
    .await?;
    let location = format!("{BASE}/hub/{}", listener.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Registered { listener, secret }),
    ))
}

/// Remove a listener (its owner, or an admin), with the deliveries still owed to it.
#[utoipa::path(delete, path = "/tmf-api/productOrderingManagement/v4/hub/{id}", tag = "tmf622",
    params(("id" = String, Path, description = "The listener's id")),
    responses((status = 204), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn unregister(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<RequestersAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    listeners::remove(&state.app.db, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many dead letters to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterQuery {
    /// At most this many (1-500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// Deliveries whose last attempt failed, oldest event first (admins).
#[utoipa::path(get, path = "/api/v1/hub/dead-letters", tag = "hub",
    params(DeadLetterQuery),
    responses((status = 200, body = Vec<DeadLetter>), (status = 403, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn list_dead_letters(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
    ApiQuery(q): ApiQuery<DeadLetterQuery>,
) -> ApiResult<Json<Vec<DeadLetter>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(
            l2c_orders::error::DeskError::field("limit", "range", "must be 1 to 500").into(),
        );
    }
    Ok(Json(delivery::dead_letters(&state.app.db, limit).await?))
}

/// Queue one dead letter again, with fresh attempts (admins).
#[utoipa::path(post, path = "/api/v1/hub/dead-letters/{id}/replay", tag = "hub",
    params(("id" = String, Path, description = "The dead letter's id")),
    responses((status = 200, body = Object), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn replay_one(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let n = delivery::replay(&state.app.db, Some(&id), crate::access::wall_now()).await?;
    Ok(Json(json!({ "replayed": n })))
}

/// Queue every dead letter again (admins).
#[utoipa::path(post, path = "/api/v1/hub/dead-letters/replay", tag = "hub",
    responses((status = 200, body = Object), (status = 403, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn replay_all(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
) -> ApiResult<Json<serde_json::Value>> {
    let n = delivery::replay(&state.app.db, None, crate::access::wall_now()).await?;
    Ok(Json(json!({ "replayed": n })))
}
