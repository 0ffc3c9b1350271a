//! Operations: `/healthz` (the process answers), `/readyz` (the database answers and every
//! migration is applied), `/metrics` (Prometheus), and the middleware that times requests.

use super::problem::{ApiError, ApiResult};
use super::ApiState;
use crate::metrics::RequestLabels;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
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
    let api =
        request.uri().path().starts_with("/api/") || request.uri().path().starts_with("/tmf-api/");
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let app = &state.app;
    app.records
        .request(app.clock.now_ms(), api, status, started.elapsed());
    let labels = RequestLabels {
        method,
        route,
        status,
    };
    state.metrics.request(labels, started.elapsed());
    response
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200)))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
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
    let missing = state
        .app
        .db
        .pending_migrations(&crate::schema::migrations(state.app.db.backend))
        .await
        .map_err(|_| not_ready("the migrations table cannot be read".into()))?;
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(i64::to_string).collect();
        return Err(not_ready(format!(
            "migrations not applied: {}",
            list.join(", ")
        )));
    }
    Ok(Json(json!({ "status": "ready" })))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
pub async fn metrics(State(state): State<ApiState>) -> ApiResult<Response> {
    let text = state.metrics.render(&state.app).await?;
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}
