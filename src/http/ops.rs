//! Operations: `/healthz` (the process answers), `/readyz` (the database answers and every
//! migration is applied), `/metrics` (Prometheus), and the middleware that times requests.

use super::problem::{ApiError, ApiResult};
use super::ApiState;
use crate::error::AppError;
use crate::metrics::RequestLabels;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use l2c_engine::db::Backend;
use serde_json::{json, Value};
use sqlx::Row;
use std::collections::HashSet;
use std::time::Instant;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Times every request by its route pattern (unmatched paths share one label).
pub async fn track(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels {
        method,
        route,
        status: response.status().as_u16(),
    };
    state.metrics.request(labels, started.elapsed());
    response
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn applied_versions(state: &ApiState) -> Result<HashSet<i64>, AppError> {
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE")
        .fetch_all(&state.app.db.pool)
        .await?;
    rows.iter()
        .map(|r| r.try_get::<i64, _>("version").map_err(AppError::from))
        .collect()
}

/// Readiness: the database answers and every embedded migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200), (status = 503, body = super::problem::Problem)))]
pub async fn readyz(State(state): State<ApiState>) -> ApiResult<Json<Value>> {
    let not_ready = |why: String| {
        tracing::warn!(%why, "not ready");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", why)
    };
    state
        .app
        .db
        .ping()
        .await
        .map_err(|_| not_ready("the database does not answer".into()))?;
    let applied = applied_versions(&state)
        .await
        .map_err(|_| not_ready("the migrations table cannot be read".into()))?;
    let migrator = match state.app.db.backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    let missing: Vec<String> = migrator
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| m.version.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(not_ready(format!(
            "migrations not applied: {}",
            missing.join(", ")
        )));
    }
    Ok(Json(json!({ "status": "ready" })))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, content_type = "text/plain")))]
pub async fn metrics(State(state): State<ApiState>) -> ApiResult<Response> {
    let text = state.metrics.render(&state.app).await?;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}
