//! The audit log and the tamper-evident records, for admins: the log's entries (newest
//! first, by subject or actor), a verification of every chain or of one order's, and an
//! order's whole trail with its chains (`crate::audit_trail`).

use super::extract::{Admins, Allowed, ApiPath, ApiQuery};
use super::problem::{ApiResult, Problem};
use super::ApiState;
use crate::audit_trail::{self, Trail, Verification};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use l2c_orders::audit::{self, AuditRow, Filter};
use l2c_orders::error::DeskError;
use serde::Deserialize;
use utoipa::IntoParams;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/audit", get(list))
        .route("/audit/verify", get(verify))
        .route("/orders/{id}/audit-trail", get(trail))
}

/// Which entries.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this subject, e.g. `user:nina`.
    pub subject: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Entries before this position (the last one of the previous page).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// How many, 1 to 1000 (100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Audit log entries, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = Vec<AuditRow>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Vec<AuditRow>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(DeskError::field("limit", "range", "must be 1 to 1000").into());
    }
    if q.before.is_some_and(|b| b < 1) {
        return Err(DeskError::field("before", "range", "must be at least 1").into());
    }
    let filter = Filter {
        subject: q.subject,
        actor: q.actor,
        before: q.before,
        limit,
    };
    Ok(Json(audit::list(&state.app.db, &filter).await?))
}

/// Whose chains to verify.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// Only this order's events and workflows (without it: every chain, the audit log's too).
    pub order: Option<String>,
}

/// Walk the hash chains and report the first broken link (admins).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "admin", params(VerifyQuery),
    responses((status = 200, body = Verification), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn verify(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> ApiResult<Json<Verification>> {
    Ok(Json(
        audit_trail::verify(&state.app, q.order.as_deref()).await?,
    ))
}

/// An order's whole trail with its hash chains, for a third party to verify (admins).
#[utoipa::path(get, path = "/api/v1/orders/{id}/audit-trail", tag = "admin",
    params(("id" = String, Path, description = "The order id")),
    responses((status = 200, body = Trail), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn trail(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Trail>> {
    Ok(Json(audit_trail::export(&state.app, &id).await?))
}
