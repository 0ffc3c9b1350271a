//! `/api/v1/billing-runs` and `/api/v1/billing-schedules`: finance starts runs (or dry runs),
//! issues drafts, exports runs as CSV, JSON or UBL, and schedules runs. Invoices themselves
//! are in [`super::invoices`].

use super::extract::{Allowed, ApiJson, ApiPath, ApiQuery, FinanceAndAdmins};
use super::problem::ApiResult;
use super::ApiState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use l2c_invoicing::export::{self, Format};
use l2c_invoicing::read::RunView;
use l2c_invoicing::read::{self, RunTotal};
use l2c_invoicing::schedule::{self, NewSchedule, ScheduleView};
use l2c_invoicing::{ops, run, AsOf, RunOutcome, RunRequest, RunScope};
use l2c_orders::error::{DeskError, DeskResult};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/billing-runs", get(list_runs).post(start_run))
        .route("/billing-runs/{id}", get(get_run))
        .route("/billing-runs/{id}/issue", post(issue_run))
        .route("/billing-runs/{id}/export", get(export_run))
        .route("/billing-schedules", get(list_schedules).post(add_schedule))
        .route(
            "/billing-schedules/{name}",
            axum::routing::delete(remove_schedule),
        )
}

/// A run to start; no body at all means every default.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequestBody {
    /// Every account's local date to bill for (YYYY-MM-DD); absent: now, in each account's
    /// own time zone.
    #[serde(default)]
    pub date: Option<NaiveDate>,
    /// Compute and return the invoices, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Issue the invoices (the default) or leave them as drafts to issue later.
    #[serde(default = "yes")]
    pub issue: bool,
    /// Answer when the run has ended (the default, 201), or at once with the running run
    /// (202, `Location` names it; poll `GET /billing-runs/{id}`). Either way the run goes on
    /// to its end if the client goes away. Not for dry runs, which are only returned.
    #[serde(default = "yes")]
    pub wait: bool,
    /// Bill a `date` that is after today for some account, on purpose (refused otherwise,
    /// 422 naming `date`; dry runs may take any date).
    #[serde(default)]
    pub ahead: bool,
}

impl Default for RunRequestBody {
    fn default() -> Self {
        RunRequestBody {
            date: None,
            dry_run: false,
            issue: true,
            wait: true,
            ahead: false,
        }
    }
}

fn yes() -> bool {
    true
}

/// A run with its totals per currency and document kind.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunDetail {
    /// The run.
    #[serde(flatten)]
    pub run: RunView,
    /// Its documents summed.
    pub totals: Vec<RunTotal>,
}

/// What a dry run would issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DryRunView {
    /// Always true.
    pub dry_run: bool,
    /// Accounts looked at.
    pub accounts: usize,
    /// Documents it would issue.
    pub documents: usize,
    /// Their lines.
    pub lines: usize,
    /// Accounts that could not be billed.
    pub failed: usize,
    /// The first 1,000 of them, with why.
    pub failures: Vec<AccountFailure>,
    /// Summed per currency and kind.
    pub totals: Vec<RunTotal>,
    /// The first 1,000 documents in full, without numbers.
    pub invoices: Vec<DraftView>,
    /// Whether there are more documents than `invoices` shows.
    pub truncated: bool,
}

/// An account a run could not bill.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountFailure {
    /// The billing account.
    pub billing_account: String,
    /// Why.
    pub error: String,
}

/// A document a dry run would issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct DraftView {
    /// The billing account.
    pub billing_account: String,
    /// First day of the period.
    pub period_start: String,
    /// First day after it.
    pub period_end: String,
    /// invoice or credit_note.
    pub kind: String,
    /// ISO 4217.
    pub currency: String,
    /// The document's lines, VAT breakdown and totals.
    #[schema(value_type = Object)]
    pub document: l2c_billing::Invoice,
}

async fn detail(state: &ApiState, id: &str) -> DeskResult<RunDetail> {
    Ok(RunDetail {
        run: read::run(&state.app.db, id).await?,
        totals: read::run_totals(&state.app.db, id).await?,
    })
}

/// Starts a billing run (or a dry run), by default waiting for it to end.
///
/// The run is a task of its own, not part of the request: a client that disconnects or
/// times out (a large run takes about 30 s per million subscriptions) does not stop it.
#[utoipa::path(post, path = "/api/v1/billing-runs", tag = "billing",
    request_body = Option<RunRequestBody>,
    responses((status = 201, body = RunDetail), (status = 202, body = RunDetail),
        (status = 200, body = DryRunView), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn start_run(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    body: Option<ApiJson<RunRequestBody>>,
) -> ApiResult<Response> {
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let as_of = match body.date {
        Some(d) => AsOf::Date(d),
        None => AsOf::Instant(state.app.clock.now()),
    };
    let request = RunRequest {
        scope: RunScope { as_of, zones: None },
        dry_run: body.dry_run,
        issue: body.issue,
        trigger: "manual".into(),
        ahead: body.ahead,
    };
    if !request.dry_run {
        return stored_run(&state, request, body.wait).await;
    }
    if !body.wait {
        return Err(DeskError::field(
            "wait",
            "dry-run",
            "a dry run is returned in the answer and stored nowhere, so it cannot run in the background",
        )
        .into());
    }
    match run(&state.app.invoicing, request).await? {
        RunOutcome::Stored(id) => {
            Err(DeskError::Internal(format!("a dry run stored run {id}")).into())
        }
        RunOutcome::Dry(dry) => Ok(Json(DryRunView {
            dry_run: true,
            accounts: dry.accounts,
            documents: dry.documents,
            lines: dry.lines,
            failed: dry.failed,
            failures: dry
                .failures
                .into_iter()
                .map(|(billing_account, error)| AccountFailure {
                    billing_account,
                    error,
                })
                .collect(),
            totals: dry.totals,
            truncated: dry.documents > dry.drafts.len(),
            invoices: dry
                .drafts
                .into_iter()
                .map(|d| DraftView {
                    billing_account: d.account,
                    period_start: d.period.start().to_string(),
                    period_end: d.period.end().to_string(),
                    kind: d.invoice.kind().code().into(),
                    currency: d.invoice.currency().code().into(),
                    document: d.invoice,
                })
                .collect(),
        })
        .into_response()),
    }
}

/// Begins (or resumes) a stored run and bills it in a task of its own; answers when it ends,
/// or at once without `wait`, or with the running run when it outlasts the time a request
/// may take (the server's `request_timeout` less a margin for the answer).
async fn stored_run(state: &ApiState, request: RunRequest, wait: bool) -> ApiResult<Response> {
    let (id, billing) = run::spawn(&state.app.invoicing, request).await?;
    let accepted = |detail: RunDetail| {
        let location = format!("/api/v1/billing-runs/{}", detail.run.id);
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, location)],
            Json(detail),
        )
            .into_response()
    };
    if !wait {
        return Ok(accepted(detail(state, &id).await?));
    }
    let limit = state.app.settings.server.limits().request_timeout;
    let patience = limit - limit / 10;
    match tokio::time::timeout(patience, billing).await {
        // Still running: the task goes on; the client follows it at its Location.
        Err(_) => return Ok(accepted(detail(state, &id).await?)),
        Ok(Ok(result)) => result?,
        Ok(Err(join)) => {
            return Err(DeskError::Internal(format!("the billing run's task ended: {join}")).into())
        }
    };
    Ok((StatusCode::CREATED, Json(detail(state, &id).await?)).into_response())
}

/// Runs, newest first.
#[utoipa::path(get, path = "/api/v1/billing-runs", tag = "billing",
    responses((status = 200, body = Vec<RunView>)), security(("bearer" = [])))]
pub async fn list_runs(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
) -> ApiResult<Json<Vec<RunView>>> {
    Ok(Json(read::runs(&state.app.db, 200).await?))
}

/// A run with its totals.
#[utoipa::path(get, path = "/api/v1/billing-runs/{id}", tag = "billing",
    params(("id" = String, Path, description = "The run id")),
    responses((status = 200, body = RunDetail), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_run(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunDetail>> {
    Ok(Json(detail(&state, &id).await?))
}

/// Issues a run's drafts (numbers are taken now).
#[utoipa::path(post, path = "/api/v1/billing-runs/{id}/issue", tag = "billing",
    params(("id" = String, Path, description = "The run id")),
    responses((status = 200, body = RunDetail)), security(("bearer" = [])))]
pub async fn issue_run(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<RunDetail>> {
    ops::issue_drafts(&state.app.invoicing, &id).await?;
    Ok(Json(detail(&state, &id).await?))
}

/// How to export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// csv, json, ubl or pdf.
    pub format: Format,
    /// Only the document with this number.
    #[serde(default)]
    pub invoice: Option<String>,
}

/// Streams a run's documents: CSV (one row per line), JSON, or a zip of UBL or PDF documents.
#[utoipa::path(get, path = "/api/v1/billing-runs/{id}/export", tag = "billing",
    params(("id" = String, Path, description = "The run id"), ExportQuery),
    responses((status = 200, description = "The export, streamed"),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn export_run(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    let run = export::prepare(&state.app.db, &id, query.invoice.as_deref(), query.format).await?;
    if let (true, Some(number)) = (query.format.is_per_document(), &query.invoice) {
        return single_file(&state, &id, number, query.format).await;
    }
    Ok(export_response(
        &state.app.db,
        run,
        query.invoice,
        query.format,
    ))
}

/// The streamed export of `run` (from [`export::prepare`]) as a download named after it; the
/// web desk's export buttons answer with it too.
pub fn export_response(
    db: &l2c_engine::db::Db,
    run: RunView,
    only: Option<String>,
    format: Format,
) -> Response {
    let filename = format!("billing-run-{}.{}", run.id, format.extension());
    let stream = export::stream(db.clone(), run, only, format);
    (
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// One document of a run, by number, as a bare UBL XML or PDF document.
async fn single_file(
    state: &ApiState,
    run_id: &str,
    number: &str,
    format: Format,
) -> ApiResult<Response> {
    let document = export::run_document(&state.app.db, run_id, number).await?;
    super::invoices::file_response(&document, format)
}

/// Billing schedules, by name.
#[utoipa::path(get, path = "/api/v1/billing-schedules", tag = "billing",
    responses((status = 200, body = Vec<ScheduleView>)), security(("bearer" = [])))]
pub async fn list_schedules(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    Ok(Json(schedule::list(&state.app.schedules).await?))
}

/// Adds a cron schedule of billing runs and starts its first occurrence.
#[utoipa::path(post, path = "/api/v1/billing-schedules", tag = "billing", request_body = NewSchedule,
    responses((status = 201, body = ScheduleView), (status = 409, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn add_schedule(
    State(state): State<ApiState>,
    Allowed(who, _): Allowed<FinanceAndAdmins>,
    ApiJson(body): ApiJson<NewSchedule>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    Ok((
        StatusCode::CREATED,
        Json(schedule::add(&state.app.schedules, &who.name, &body).await?),
    ))
}

/// Removes a schedule (its pending occurrence then bills nothing).
#[utoipa::path(delete, path = "/api/v1/billing-schedules/{name}", tag = "billing",
    params(("name" = String, Path, description = "The schedule's name")),
    responses((status = 204), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn remove_schedule(
    State(state): State<ApiState>,
    Allowed(who, _): Allowed<FinanceAndAdmins>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    schedule::remove(&state.app.schedules, &who.name, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
