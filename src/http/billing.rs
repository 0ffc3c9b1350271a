//! `/api/v1/billing-runs` and `/api/v1/invoices`: finance starts runs (or dry runs), issues
//! drafts, exports runs as CSV, JSON or UBL, voids drafts and credits invoices. Requesters
//! see only their own accounts' issued invoices.

use super::extract::{Allowed, ApiJson, ApiPath, ApiQuery, Caller, FinanceAndAdmins};
use super::problem::ApiResult;
use super::ApiState;
use crate::accounts;
use crate::auth::{Role, User};
use crate::error::{AppError, AppResult};
use crate::invoicing::export::{self, Format};
use crate::invoicing::read::{self, InvoiceFilter, InvoiceView, RunTotal};
use crate::invoicing::run::RunView;
use crate::invoicing::schedule::{self, NewSchedule, ScheduleView};
use crate::invoicing::{ops, run, AsOf, RunOutcome, RunRequest, RunScope};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
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
        .route("/invoices", get(list_invoices))
        .route("/invoices/{id}", get(get_invoice))
        .route("/invoices/{id}/ubl", get(invoice_ubl))
        .route("/invoices/{id}/void", post(void_invoice))
        .route("/invoices/{id}/credit-note", post(credit_invoice))
}

/// A run to start.
#[derive(Debug, Default, Deserialize, ToSchema)]
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

async fn detail(state: &ApiState, id: &str) -> AppResult<RunDetail> {
    Ok(RunDetail {
        run: read::run(&state.app.db, id).await?,
        totals: read::run_totals(&state.app.db, id).await?,
    })
}

/// Starts a billing run (or a dry run) and waits for it to finish.
#[utoipa::path(post, path = "/api/v1/billing-runs", tag = "billing", request_body = RunRequestBody,
    responses((status = 201, body = RunDetail), (status = 200, body = DryRunView),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn start_run(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiJson(body): ApiJson<RunRequestBody>,
) -> ApiResult<Response> {
    let as_of = match body.date {
        Some(d) => AsOf::Date(d),
        None => AsOf::Instant(state.app.clock.now()),
    };
    let request = RunRequest {
        scope: RunScope { as_of, zones: None },
        dry_run: body.dry_run,
        issue: body.issue,
        trigger: "manual".into(),
    };
    match run(&state.app.invoicing, request).await? {
        RunOutcome::Stored(id) => {
            Ok((StatusCode::CREATED, Json(detail(&state, &id).await?)).into_response())
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
                    kind: match d.invoice.kind() {
                        l2c_billing::DocumentKind::Invoice => "invoice".into(),
                        l2c_billing::DocumentKind::CreditNote => "credit_note".into(),
                    },
                    currency: d.invoice.currency().code().into(),
                    document: d.invoice,
                })
                .collect(),
        })
        .into_response()),
    }
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
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// csv, json or ubl.
    pub format: Format,
    /// Only the document with this number.
    #[serde(default)]
    pub invoice: Option<String>,
}

/// Streams a run's documents: CSV (one row per line), JSON, or a zip of UBL documents.
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
    read::run(&state.app.db, &id).await?;
    if query.format == Format::Ubl {
        export::check_ubl_ready(&state.app.db, &id, query.invoice.as_deref()).await?;
        if let Some(number) = &query.invoice {
            return single_ubl(&state, &id, number).await;
        }
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<export::Chunk>(4);
    let (failed_tx, failed_rx) = tokio::sync::oneshot::channel::<()>();
    let app = state.app.clone();
    let run_id = id.clone();
    tokio::spawn(async move {
        let only = query.invoice.as_deref();
        if let Err(e) = export::export(&app.db, &run_id, only, query.format, &tx).await {
            tracing::error!(run = %run_id, error = %e, "export failed");
            let _ = failed_tx.send(());
        }
    });
    let stream = futures::stream::unfold((rx, Some(failed_rx)), |(mut rx, failed)| async move {
        match rx.recv().await {
            Some(chunk) => Some((Ok(chunk.bytes), (rx, failed))),
            None => {
                // The exporter reports a failure before it drops its sender.
                let mut failed = failed?;
                failed.try_recv().ok()?;
                let cut = std::io::Error::other("the export failed; see the server log");
                Some((Err(cut), (rx, None)))
            }
        }
    });
    let filename = format!("billing-run-{id}.{}", query.format.extension());
    Ok((
        [
            (
                header::CONTENT_TYPE,
                query.format.content_type().to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// One document of a run, by number, as a bare UBL XML document.
async fn single_ubl(state: &ApiState, run_id: &str, number: &str) -> ApiResult<Response> {
    let filter = InvoiceFilter {
        run: Some(run_id.to_string()),
        number: Some(number.to_string()),
        ..Default::default()
    };
    let found = read::invoices(&state.app.db, &filter, 1)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::not_found("invoice", number))?;
    let (_, document) = read::document_of(&state.app.db, &found.id).await?;
    ubl_response(&document)
}

fn ubl_response(document: &l2c_billing::IssuedDocument) -> ApiResult<Response> {
    let problems = document.problems();
    if !problems.is_empty() {
        let list = problems
            .into_iter()
            .map(|(path, rule)| crate::error::problem(path, "en16931", rule))
            .collect();
        return Err(AppError::Validation(list).into());
    }
    let xml = l2c_billing::ubl::write(document, Vec::new())
        .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

/// Which invoices to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    /// Only this run's.
    #[serde(default)]
    pub run: Option<String>,
    /// Only this billing account's.
    #[serde(default)]
    pub account: Option<String>,
    /// Only the one with this number.
    #[serde(default)]
    pub number: Option<String>,
    /// At most this many (1-1000, default 100).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only those after this invoice id: pass the last id of a page to get the next.
    #[serde(default)]
    pub after: Option<String>,
}

/// The billing accounts a requester may see invoices of; `None` for finance and admins.
async fn own_accounts(state: &ApiState, user: &User) -> AppResult<Option<Vec<String>>> {
    Ok(match user.account_scope()? {
        Some(customer) => Some(
            accounts::billing_accounts(&state.app.db, Some(customer))
                .await?
                .into_iter()
                .map(|b| b.id)
                .collect(),
        ),
        None => None,
    })
}

/// Invoices in creation order, a page at a time: all for finance and admins; a requester's
/// own accounts' issued ones.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "billing", params(InvoiceQuery),
    responses((status = 200, body = Vec<InvoiceView>)), security(("bearer" = [])))]
pub async fn list_invoices(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<InvoiceQuery>,
) -> ApiResult<Json<Vec<InvoiceView>>> {
    let user = caller.require(&[Role::Requester, Role::Finance, Role::Admin])?;
    let own = own_accounts(&state, user).await?;
    let accounts = match (own, query.account) {
        (Some(own), Some(one)) => Some(own.into_iter().filter(|a| *a == one).collect()),
        (Some(own), None) => Some(own),
        (None, one) => one.map(|a| vec![a]),
    };
    let filter = InvoiceFilter {
        issued_only: user.role == Role::Requester,
        run: query.run,
        accounts,
        number: query.number,
        after: query.after,
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(AppError::field("limit", "range", "must be 1 to 1000").into());
    }
    Ok(Json(read::invoices(&state.app.db, &filter, limit).await?))
}

/// An invoice with its lines, VAT breakdown and totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceDetail {
    /// The invoice.
    #[serde(flatten)]
    pub invoice: InvoiceView,
    /// The whole document: parties, lines (as on the document), VAT breakdown and totals.
    #[schema(value_type = Object)]
    pub document: l2c_billing::IssuedDocument,
}

/// The invoice `id` if `user` may see it.
async fn visible(state: &ApiState, user: &User, id: &str) -> AppResult<InvoiceDetail> {
    let user_accounts = own_accounts(state, user).await?;
    let (invoice, document) = match read::document_of(&state.app.db, id).await {
        Err(AppError::NotFound { .. }) => return Err(AppError::not_found("invoice", id)),
        other => other?,
    };
    if let Some(own) = user_accounts {
        if !own.contains(&invoice.billing_account) || invoice.status != "issued" {
            return Err(AppError::not_found("invoice", id));
        }
    }
    Ok(InvoiceDetail { invoice, document })
}

/// One invoice (requesters: only their accounts' issued invoices).
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, body = InvoiceDetail), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_invoice(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<InvoiceDetail>> {
    let user = caller.require(&[Role::Requester, Role::Finance, Role::Admin])?;
    Ok(Json(visible(&state, user, &id).await?))
}

/// One invoice as a UBL 2.1 (Peppol BIS Billing 3.0) document.
#[utoipa::path(get, path = "/api/v1/invoices/{id}/ubl", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, description = "application/xml"),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn invoice_ubl(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    let user = caller.require(&[Role::Requester, Role::Finance, Role::Admin])?;
    let detail = visible(&state, user, &id).await?;
    if detail.invoice.status != "issued" {
        return Err(AppError::Conflict(format!(
            "invoice {id} is {}: only issued documents have a UBL form",
            detail.invoice.status
        ))
        .into());
    }
    ubl_response(&detail.document)
}

/// Voids a draft.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/void", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, body = InvoiceView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn void_invoice(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<InvoiceView>> {
    Ok(Json(ops::void_draft(&state.app.invoicing, &id).await?))
}

/// Issues a credit note giving back all of an issued invoice.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/credit-note", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 201, body = InvoiceView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn credit_invoice(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<InvoiceView>)> {
    Ok((
        StatusCode::CREATED,
        Json(ops::credit_invoice(&state.app.invoicing, &id).await?),
    ))
}

/// Billing schedules, by name.
#[utoipa::path(get, path = "/api/v1/billing-schedules", tag = "billing",
    responses((status = 200, body = Vec<ScheduleView>)), security(("bearer" = [])))]
pub async fn list_schedules(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
) -> ApiResult<Json<Vec<ScheduleView>>> {
    Ok(Json(schedule::list(&state.app).await?))
}

/// Adds a cron schedule of billing runs and starts its first occurrence.
#[utoipa::path(post, path = "/api/v1/billing-schedules", tag = "billing", request_body = NewSchedule,
    responses((status = 201, body = ScheduleView), (status = 409, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn add_schedule(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiJson(body): ApiJson<NewSchedule>,
) -> ApiResult<(StatusCode, Json<ScheduleView>)> {
    Ok((
        StatusCode::CREATED,
        Json(schedule::add(&state.app, &body).await?),
    ))
}

/// Removes a schedule (its pending occurrence then bills nothing).
#[utoipa::path(delete, path = "/api/v1/billing-schedules/{name}", tag = "billing",
    params(("name" = String, Path, description = "The schedule's name")),
    responses((status = 204), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn remove_schedule(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<StatusCode> {
    schedule::remove(&state.app, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
