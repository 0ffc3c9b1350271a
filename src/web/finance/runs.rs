//! Billing runs: the list, a new run (a dry run previews its documents and totals and writes
//! nothing; a real run starts in a task of its own and the page goes to it), and a run's page
//! with its progress while it runs, its totals per currency and kind, its documents a page at
//! a time, its exports and "Issue drafts". Runs, totals, progress, exports and issuing are
//! `l2c_invoicing`'s, as the API's `/api/v1/billing-runs` calls them.

use super::{finance, notice, ticked};
use crate::http::billing::export_response;
use crate::web::form::{input, place, problems_of};
use crate::web::form::{Choice, Input, Kind};
use crate::web::page::{money, render, when, Chrome, Page};
use crate::web::session::{Posted, Viewer};
use crate::web::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use l2c_invoicing::export::{self, Format};
use l2c_invoicing::read::{self, RunProgress, RunTotal, RunView};
use l2c_invoicing::visible::{self, Wanted};
use l2c_invoicing::{ops, run, AsOf, DryRun, RunOutcome, RunRequest, RunScope};
use l2c_orders::error::DeskError;
use l2c_orders::error::FieldProblem;
use serde::Deserialize;

/// Runs the list shows (newest first); older ones are in the API and the CLI.
const RUNS: i64 = 50;
/// Documents per page of a run.
const DOCUMENTS: i64 = 25;
/// Documents a dry run's preview lists (all are summed in its totals).
const PREVIEWED: usize = 100;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/billing/runs", get(list))
        .route("/billing/runs/new", get(new_form).post(submit))
        .route("/billing/runs/{id}", get(show))
        .route("/billing/runs/{id}/progress", get(progress))
        .route("/billing/runs/{id}/export", get(export_file))
        .route("/billing/runs/{id}/issue", post(issue))
}

/// A time in milliseconds as pages show it.
fn at(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| when(&t))
        .unwrap_or_default()
}

/// A run's totals in words, one per currency and kind: `1,190.00 EUR in 2 invoices`.
fn totals_words(totals: &[RunTotal]) -> Vec<String> {
    totals
        .iter()
        .map(|t| {
            let what = match (t.kind.as_str(), t.documents) {
                ("credit_note", 1) => "credit note",
                ("credit_note", _) => "credit notes",
                (_, 1) => "invoice",
                _ => "invoices",
            };
            format!(
                "{} in {} {what}",
                money(&t.payable, &t.currency),
                t.documents
            )
        })
        .collect()
}

struct RunRow {
    id: String,
    date: String,
    trigger: String,
    status: String,
    mode: &'static str,
    documents: i64,
    totals: Vec<String>,
    started: String,
    ended: String,
}

#[derive(Template)]
#[template(path = "finance_runs.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<RunRow>,
}

async fn run_row(state: &WebState, r: RunView) -> Result<RunRow, DeskError> {
    let totals = read::run_totals(&state.app.db, &r.id).await?;
    Ok(RunRow {
        date: r.as_of.clone(),
        trigger: r.trigger.clone(),
        status: r.status.clone(),
        mode: if r.issue { "issue" } else { "drafts" },
        documents: r.invoices,
        totals: totals_words(&totals),
        started: at(r.started_at),
        ended: r.finished_at.map(at).unwrap_or_default(),
        id: r.id,
    })
}

async fn list(State(state): State<WebState>, viewer: Viewer) -> Page {
    finance(&viewer)?;
    let fail = |e: DeskError| viewer.error(e);
    let runs = read::runs(&state.app.db, RUNS).await.map_err(fail)?;
    let mut rows = Vec::with_capacity(runs.len());
    for r in runs {
        rows.push(run_row(&state, r).await.map_err(fail)?);
    }
    Ok(render(&ListPage {
        chrome: Chrome::new(&viewer, "Billing runs", "/billing/runs"),
        rows,
    }))
}

/// The new-run form as posted (or empty).
#[derive(Deserialize, Default)]
struct RunForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default)]
    ahead: Option<String>,
    #[serde(default)]
    step: Option<String>,
}

/// One document of a dry run's preview.
struct DraftRow {
    account: String,
    period: String,
    kind: &'static str,
    lines: usize,
    net: String,
    tax: String,
    payable: String,
}

/// `n` and the word for one or many, e.g. `1 document`, `3 documents`.
fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a dry run would do, as the preview shows it.
struct Preview {
    summary: String,
    failures: Vec<(String, String)>,
    totals: Vec<TotalRow>,
    drafts: Vec<DraftRow>,
    more: usize,
}

/// A run's (or dry run's) documents summed for one currency and kind.
struct TotalRow {
    currency: String,
    kind: String,
    documents: u64,
    net: String,
    tax: String,
    payable: String,
}

fn total_rows(totals: Vec<RunTotal>) -> Vec<TotalRow> {
    totals
        .into_iter()
        .map(|t| TotalRow {
            kind: kind_words(&t.kind).to_string(),
            documents: t.documents,
            net: money(&t.net, &t.currency),
            tax: money(&t.tax, &t.currency),
            payable: money(&t.payable, &t.currency),
            currency: t.currency,
        })
        .collect()
}

fn kind_words(kind: &str) -> &'static str {
    if kind == "credit_note" {
        "Credit notes"
    } else {
        "Invoices"
    }
}

fn preview(dry: DryRun) -> Preview {
    let m = |x: l2c_billing::Money| money(&x.amount().to_string(), x.currency().code());
    let drafts: Vec<DraftRow> = dry
        .drafts
        .iter()
        .take(PREVIEWED)
        .map(|d| {
            let t = d.invoice.totals();
            DraftRow {
                account: d.account.clone(),
                period: super::super::page::period(
                    &d.period.start().to_string(),
                    &d.period.end().to_string(),
                ),
                kind: if d.invoice.kind() == l2c_billing::DocumentKind::CreditNote {
                    "Credit note"
                } else {
                    "Invoice"
                },
                lines: d.lines.len(),
                net: m(t.tax_exclusive),
                tax: m(t.tax_total),
                payable: m(t.payable),
            }
        })
        .collect();
    let mut summary = format!(
        "Of {}, billing would issue {} with {}",
        counted(dry.accounts, "account", "accounts"),
        counted(dry.documents, "document", "documents"),
        counted(dry.lines, "line", "lines"),
    );
    if dry.failed > 0 {
        let failed = counted(dry.failed, "account", "accounts");
        summary.push_str(&format!("; {failed} could not be billed"));
    }
    summary.push('.');
    Preview {
        summary,
        failures: dry.failures,
        totals: total_rows(dry.totals),
        more: dry.documents.saturating_sub(drafts.len()),
        drafts,
    }
}

#[derive(Template)]
#[template(path = "finance_run_new.html")]
struct NewPage {
    chrome: Chrome,
    inputs: Vec<Input>,
    general: Vec<String>,
    preview: Option<Preview>,
}

fn form_inputs(today: NaiveDate, form: &RunForm) -> (Input, Input, Input) {
    let date_value = if form.date.is_empty() && form.step.is_none() {
        today.to_string()
    } else {
        form.date.clone()
    };
    let date = input(
        "date",
        "Bill for",
        Kind::Date,
        &date_value,
        "Every account's local date to bill for (YYYY-MM-DD); empty: now, in each account's own \
         time zone. Accounts already billed for the period due then are skipped.",
    );
    let chosen = form.issue.clone().unwrap_or_else(|| "issue".into());
    let mut issue = input(
        "issue",
        "Documents",
        Kind::Select,
        &chosen,
        "Issue them (numbers are taken now) or keep them as drafts to check and issue later.",
    );
    issue.required = true;
    issue.choices = [("issue", "Issue invoices"), ("draft", "Keep as drafts")]
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: *value == chosen,
        })
        .collect();
    let ahead = input(
        "ahead",
        "Bill ahead: the date is after today on purpose",
        Kind::Checkbox,
        if ticked(form.ahead.as_deref()) {
            "on"
        } else {
            ""
        },
        "Billing a period early leaves nothing for the real run, so a date after today is \
         refused unless this is ticked. A dry run may take any date.",
    );
    (date, issue, ahead)
}

fn new_page(
    viewer: &Viewer,
    today: NaiveDate,
    form: &RunForm,
    problems: &[FieldProblem],
    preview: Option<Preview>,
) -> Response {
    let (date, issue, ahead) = form_inputs(today, form);
    let mut inputs = vec![date, issue, ahead];
    let failed = !problems.is_empty();
    let general = place(&mut inputs, problems);
    let title = if preview.is_some() {
        "Dry run: what billing would issue"
    } else {
        "New billing run"
    };
    let page = render(&NewPage {
        chrome: Chrome::new(viewer, title, "/billing/runs"),
        inputs,
        general,
        preview,
    });
    if failed {
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    } else {
        page
    }
}

async fn new_form(State(state): State<WebState>, viewer: Viewer) -> Page {
    finance(&viewer)?;
    let today = state.app.today();
    Ok(new_page(&viewer, today, &RunForm::default(), &[], None))
}

/// The run the form asks for, or the problem with its date (the page's own reading; the
/// range and "ahead" rules are the run's).
fn request_of(state: &WebState, form: &RunForm, dry_run: bool) -> Result<RunRequest, DeskError> {
    let date = form.date.trim();
    let as_of = if date.is_empty() {
        AsOf::Instant(state.app.clock.now())
    } else {
        let day = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| {
            DeskError::field(
                "date",
                "date",
                "write a date as YYYY-MM-DD, e.g. 2026-12-01",
            )
        })?;
        AsOf::Date(day)
    };
    Ok(RunRequest {
        scope: RunScope { as_of, zones: None },
        dry_run,
        issue: form.issue.as_deref() != Some("draft"),
        trigger: "manual".into(),
        ahead: ticked(form.ahead.as_deref()),
    })
}

/// A dry run shows its preview on the form; a real run starts and the page goes to it. A
/// refused date (out of range, or ahead without saying so) is shown at the date field.
async fn submit(State(state): State<WebState>, posted: Posted<RunForm>) -> Page {
    let Posted { viewer, form } = posted;
    finance(&viewer)?;
    let today = state.app.today();
    #[allow(
        clippy::result_large_err,
        reason = "a `Page`: the form again with its problems, or an error page"
    )]
    let refused = |e: DeskError| match problems_of(e) {
        Ok(problems) => Ok(new_page(&viewer, today, &form, &problems, None)),
        Err(e) => Err(viewer.error(e)),
    };
    let dry = form.step.as_deref() == Some("dry");
    let request = match request_of(&state, &form, dry) {
        Ok(r) => r,
        Err(e) => return refused(e),
    };
    if !dry {
        // The run goes on in its own task; its page follows it by its progress.
        return match run::spawn(&state.app.invoicing, request).await {
            Ok((id, _task)) => {
                Ok(Redirect::to(&format!("/billing/runs/{id}?did=started")).into_response())
            }
            Err(e) => refused(e),
        };
    }
    match run(&state.app.invoicing, request).await {
        Ok(RunOutcome::Dry(d)) => {
            let page = new_page(&viewer, today, &form, &[], Some(preview(d)));
            Ok(page)
        }
        Ok(RunOutcome::Stored(id)) => {
            Err(viewer.error(DeskError::Internal(format!("a dry run stored run {id}"))))
        }
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct RunQuery {
    after: Option<String>,
    did: Option<String>,
}

struct DocRow {
    id: String,
    number: String,
    account: String,
    kind: &'static str,
    status: String,
    period: String,
    payable: String,
}

struct ExportLink {
    href: String,
    label: &'static str,
}

#[derive(Template)]
#[template(path = "finance_run.html")]
struct RunPage {
    chrome: Chrome,
    run: RunRow,
    error: Option<String>,
    progress: Option<RunProgress>,
    totals: Vec<TotalRow>,
    documents: Vec<DocRow>,
    next: Option<String>,
    has_drafts: bool,
    exports: Vec<ExportLink>,
}

async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
) -> Page {
    let user = finance(&viewer)?.clone();
    let fail = |e: DeskError| viewer.error(e);
    let db = &state.app.db;
    let view = read::run(db, &id).await.map_err(fail)?;
    let running = view.status == "running";
    let progress = if running {
        Some(read::progress(db, &view).await.map_err(fail)?)
    } else {
        None
    };
    let totals = read::run_totals(db, &id).await.map_err(fail)?;
    let of_run = |after: Option<String>, status: Option<String>| Wanted {
        run: Some(id.clone()),
        after,
        status,
        ..Wanted::default()
    };
    let mut found = visible::invoices(db, &user, of_run(q.after.clone(), None), DOCUMENTS + 1)
        .await
        .map_err(fail)?;
    let more = found.len() as i64 > DOCUMENTS;
    found.truncate(DOCUMENTS as usize);
    let next = more
        .then(|| {
            found
                .last()
                .map(|i| format!("/billing/runs/{id}?after={}", i.id))
        })
        .flatten();
    let drafts = visible::invoices(db, &user, of_run(None, Some("draft".into())), 1)
        .await
        .map_err(fail)?;
    let documents = found
        .into_iter()
        .map(|i| DocRow {
            number: i.number.clone().unwrap_or_else(|| "(draft)".into()),
            account: i.billing_account.clone(),
            kind: if i.kind == "credit_note" {
                "Credit note"
            } else {
                "Invoice"
            },
            status: i.status.clone(),
            period: super::super::page::period(&i.period_start, &i.period_end),
            payable: money(&i.payable, &i.currency),
            id: i.id,
        })
        .collect();
    let exports = [
        ("csv", "CSV (one row per line)"),
        ("json", "JSON"),
        ("ubl", "UBL e-invoices (zip)"),
        ("pdf", "PDF documents (zip)"),
    ]
    .iter()
    .map(|(f, label)| ExportLink {
        href: format!("/billing/runs/{id}/export?format={f}"),
        label,
    })
    .collect();
    let words = [
        (
            "started",
            "The run has started; it goes on if you leave this page.",
        ),
        ("issued", "The run's drafts were issued."),
    ];
    let error = view.error.clone();
    let title = format!("Billing run of {}", view.as_of);
    let row = run_row(&state, view).await.map_err(fail)?;
    Ok(render(&RunPage {
        chrome: Chrome::new(&viewer, title, "/billing/runs")
            .notice(notice(q.did.as_deref(), &words)),
        run: row,
        error,
        progress,
        totals: total_rows(totals),
        documents,
        next,
        has_drafts: !drafts.is_empty(),
        exports,
    }))
}

/// The run's progress as JSON, for the page's script to move its bar without reloading.
async fn progress(State(state): State<WebState>, viewer: Viewer, Path(id): Path<String>) -> Page {
    finance(&viewer)?;
    let fail = |e: DeskError| viewer.error(e);
    let view = read::run(&state.app.db, &id).await.map_err(fail)?;
    let p = read::progress(&state.app.db, &view).await.map_err(fail)?;
    let percent = p.percent();
    Ok(Json(serde_json::json!({
        "status": p.status,
        "done": p.done,
        "total": p.total,
        "documents": p.documents,
        "percent": percent,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

/// The run's export as the API streams it, for the session instead of a bearer token.
async fn export_file(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Page {
    finance(&viewer)?;
    let fail = |e: DeskError| viewer.error(e);
    let format = Format::parse(q.format.as_deref().unwrap_or_default()).map_err(fail)?;
    let run = export::prepare(&state.app.db, &id, None, format)
        .await
        .map_err(fail)?;
    Ok(export_response(&state.app.db, run, None, format))
}

/// Issues the run's drafts, as `POST /api/v1/billing-runs/{id}/issue` does.
async fn issue(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Page {
    let viewer = posted.viewer;
    finance(&viewer)?;
    ops::issue_drafts(&state.app.invoicing, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(Redirect::to(&format!("/billing/runs/{id}?did=issued")).into_response())
}
