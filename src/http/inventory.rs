//! `/api/v1/products`: the running product inventory (TMF637-like). Requesters see their
//! account's products; everyone else sees all.

use super::extract::{ApiPath, Caller};
use super::problem::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use l2c_orders::error::DeskError;
use l2c_orders::inventory::{self, Product};
use l2c_orders::may_see;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/products", get(list_products))
        .route("/products/{id}", get(get_product))
}

/// Products the caller may see.
#[utoipa::path(get, path = "/api/v1/products", tag = "inventory",
    responses((status = 200, body = Vec<Product>)), security(("bearer" = [])))]
pub async fn list_products(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Product>>> {
    let account = caller.0.account_scope()?;
    let mut conn = state.app.db.pool.acquire().await.map_err(DeskError::from)?;
    Ok(Json(inventory::list(&mut conn, account).await?))
}

/// One product.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "inventory",
    params(("id" = String, Path, description = "The product id")),
    responses((status = 200, body = Product), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_product(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Product>> {
    let mut conn = state.app.db.pool.acquire().await.map_err(DeskError::from)?;
    match inventory::get(&mut conn, &id).await? {
        Some(p) if may_see(&caller.0, &p.customer_account) => Ok(Json(p)),
        _ => Err(DeskError::not_found("product", id).into()),
    }
}
