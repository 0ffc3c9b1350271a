//! `/api/v1/reports/monthly`: the Monthly Operating Report of a month as JSON or CSV
//! (finance and admins); docs/report.md explains every KPI.

use super::extract::{Allowed, ApiQuery, FinanceAndAdmins};
use super::problem::ApiResult;
use super::ApiState;
use crate::report::{self, output, Context};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use l2c_orders::error::DeskError;
use serde::Deserialize;
use utoipa::IntoParams;

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new().route("/reports/monthly", get(monthly))
}

/// Which report, in which form.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// `YYYY-MM` (default: the current month, live).
    #[serde(default)]
    #[param(schema_with = l2c_orders::shapes::month_schema)]
    pub month: Option<String>,
    /// `json` (default) or `csv`.
    #[serde(default)]
    #[param(schema_with = report_format_schema)]
    pub format: Option<String>,
    /// Measure a closed month again and replace what was frozen.
    #[serde(default)]
    pub recompute: bool,
}

fn report_format_schema() -> utoipa::openapi::Object {
    l2c_orders::shapes::codes_schema(["json", "csv"], "json (the default) or csv")
}

/// The Monthly Operating Report: every KPI with value, previous month, a year before, trend,
/// target, status and insight.
#[utoipa::path(get, path = "/api/v1/reports/monthly", tag = "reports", params(ReportQuery),
    responses((status = 200, description = "The report (JSON, or CSV with format=csv)"),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn monthly(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiQuery(query): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    let ctx = Context::of(&state.app);
    let month = ctx.month(query.month.as_deref())?;
    let report = report::monthly(&ctx, month, query.recompute).await?;
    match query.format.as_deref() {
        None | Some("json") => Ok(Json(report).into_response()),
        Some("csv") => {
            let csv = output::csv(&report).map_err(|e| DeskError::Internal(e.to_string()))?;
            Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], csv).into_response())
        }
        Some(_) => Err(DeskError::field("format", "format", "must be json or csv").into()),
    }
}
