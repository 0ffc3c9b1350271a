//! Access that can be taken back: users listed, deactivated and reactivated (admins), and
//! each user's named API tokens listed, made, revoked and rotated (admins for anyone, every
//! user for their own). A token's secret is in the answer that makes it, never again.

use super::extract::{Admins, Allowed, ApiJson, ApiPath, Caller};
use super::problem::{ApiResult, Problem};
use super::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use l2c_orders::error::DeskError;
use l2c_orders::tokens::{NewToken, TokenInfo};
use l2c_orders::users::{self, Deactivation, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/users", get(list_users))
        .route("/users/{name}/tokens", get(list_tokens).post(add_token))
        .route("/users/{name}/tokens/{id}", delete(revoke_token))
        .route("/users/{name}/tokens/{id}/rotate", post(rotate_token))
        .route("/users/{name}/deactivate", post(deactivate))
        .route("/users/{name}/reactivate", post(reactivate))
}

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    /// 1-64 letters, digits, spaces or `- _ .`; unique among the user's live tokens.
    #[schema(schema_with = l2c_orders::shapes::token_name_schema)]
    pub name: String,
    /// When it stops working (RFC 3339, in the future); none: never.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token just made, with its secret: shown this once, l2c keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct MadeToken {
    /// The token.
    pub token: TokenInfo,
    /// The bearer secret.
    pub secret: String,
}

/// `caller`, if they may manage `name`'s tokens: admins anyone's, others their own.
fn may_manage<'u>(caller: &'u Caller, name: &str) -> Result<&'u User, DeskError> {
    let user = &caller.0;
    if user.is_admin() || user.name == name {
        Ok(user)
    } else {
        Err(DeskError::Forbidden(format!(
            "{} may manage only their own tokens",
            user.name
        )))
    }
}

/// Every user, active or not (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "admin",
    responses((status = 200, body = Vec<User>), (status = 401, body = Problem),
        (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_users(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(users::list(&state.app.db).await?))
}

/// A user's tokens, live and revoked, without their secrets (admins; anyone their own).
#[utoipa::path(get, path = "/api/v1/users/{name}/tokens", tag = "admin",
    params(("name" = String, Path, description = "The user's name")),
    responses((status = 200, body = Vec<TokenInfo>), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_tokens(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    may_manage(&caller, &name)?;
    Ok(Json(l2c_orders::tokens::list(&state.app.db, &name).await?))
}

/// Make a token for a user (admins; anyone for themselves); its secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens", tag = "admin",
    params(("name" = String, Path, description = "The user's name")),
    request_body = NewTokenRequest,
    responses((status = 201, body = MadeToken), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_token(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<NewTokenRequest>,
) -> ApiResult<(StatusCode, Json<MadeToken>)> {
    let by = may_manage(&caller, &name)?;
    let token = NewToken {
        name: body.name,
        expires_at: body.expires_at.map(|at| at.timestamp_millis()),
    };
    let now = crate::access::wall_now();
    let (token, secret) =
        l2c_orders::tokens::add(&state.app.db, &by.name, &name, &token, now).await?;
    Ok((StatusCode::CREATED, Json(MadeToken { token, secret })))
}

/// Revoke a token: it stops working on every node within a second (admins; anyone their own).
#[utoipa::path(delete, path = "/api/v1/users/{name}/tokens/{id}", tag = "admin",
    params(("name" = String, Path, description = "The user's name"),
        ("id" = String, Path, description = "The token's id")),
    responses((status = 200, body = TokenInfo), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> ApiResult<Json<TokenInfo>> {
    let by = may_manage(&caller, &name)?;
    Ok(Json(state.app.revoke_token(&by.name, &name, &id).await?))
}

/// Replace a token with a new secret of the same name and lifetime; the old one stops working
/// (admins; anyone their own).
#[utoipa::path(post, path = "/api/v1/users/{name}/tokens/{id}/rotate", tag = "admin",
    params(("name" = String, Path, description = "The user's name"),
        ("id" = String, Path, description = "The token's id")),
    responses((status = 201, body = MadeToken), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn rotate_token(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath((name, id)): ApiPath<(String, String)>,
) -> ApiResult<(StatusCode, Json<MadeToken>)> {
    let by = may_manage(&caller, &name)?;
    let (token, secret) = state.app.rotate_token(&by.name, &name, &id).await?;
    Ok((StatusCode::CREATED, Json(MadeToken { token, secret })))
}

/// Deactivate a user: their tokens and web sessions stop working on every node within a
/// second, and the tasks they claimed go back to their queues (admins; not themselves).
#[utoipa::path(post, path = "/api/v1/users/{name}/deactivate", tag = "admin",
    params(("name" = String, Path, description = "The user's name")),
    responses((status = 200, body = Deactivation), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn deactivate(
    State(state): State<ApiState>,
    Allowed(admin, _): Allowed<Admins>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<Deactivation>> {
    Ok(Json(state.app.deactivate_user(&admin.name, &name).await?))
}

/// Let a deactivated user sign in again; their old tokens stay revoked (admins).
#[utoipa::path(post, path = "/api/v1/users/{name}/reactivate", tag = "admin",
    params(("name" = String, Path, description = "The user's name")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn reactivate(
    State(state): State<ApiState>,
    Allowed(admin, _): Allowed<Admins>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.app.reactivate_user(&admin.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
