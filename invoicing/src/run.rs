//! A billing run: pages of accounts, each page rated and stored in one transaction that also
//! moves the run's cursor, so a run killed at any point resumes where its last page
//! committed. A page that meets an invoice another node stored meanwhile (a unique-key
//! violation) is rolled back and read again; the other node's invoice then counts as done.

use super::draft::{draft, Draft};
use super::load::page;
use super::read::{RunTotal, TotalsSum};
use super::write::{store, Origin};
use crate::context::{AsOf, Invoicing, RunScope};
use chrono::{Days, NaiveDate};
use l2c_orders::error::{DeskError, DeskResult};
use sqlx::Row;

/// What to run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// Which accounts, as of when.
    pub scope: RunScope,
    /// Compute and return, write nothing.
    pub dry_run: bool,
    /// Issue the invoices (numbers and all); otherwise leave them as drafts.
    pub issue: bool,
    /// What started it: `manual`, or `schedule:<name>`.
    pub trigger: String,
    /// Bill a date that is still in the future for some account, on purpose (otherwise
    /// refused: a mistyped date bills a period early and the real run then bills nothing).
    pub ahead: bool,
}

/// What a run did.
#[derive(Debug)]
pub enum RunOutcome {
    /// A stored run (its id).
    Stored(String),
    /// What a dry run would issue.
    Dry(DryRun),
}

/// What a dry run would issue: every document summed, and the first [`DryRun::SHOWN`] in
/// full, so a dry run of a million subscriptions needs no more memory than a real run.
#[derive(Debug)]
pub struct DryRun {
    /// Accounts looked at.
    pub accounts: usize,
    /// Documents it would issue.
    pub documents: usize,
    /// Their lines.
    pub lines: usize,
    /// Accounts that could not be billed.
    pub failed: usize,
    /// The first [`DryRun::SHOWN`] of them, with why.
    pub failures: Vec<(String, String)>,
    /// Summed per currency and kind.
    pub totals: Vec<RunTotal>,
    /// The first documents, in account order.
    pub drafts: Vec<Draft>,
}

impl DryRun {
    /// How many documents (and failures) a dry run returns in full.
    pub const SHOWN: usize = 1000;

    fn note_failure(&mut self, failure: (String, String)) {
        self.failed += 1;
        if self.failures.len() < Self::SHOWN {
            self.failures.push(failure);
        }
    }
}

/// Runs billing: a dry run in memory, or a stored run (resuming an unfinished one for the
/// same moment and trigger).
pub async fn run(ctx: &Invoicing, request: RunRequest) -> DeskResult<RunOutcome> {
    if request.dry_run {
        check_date(ctx, &request.scope.as_of)?;
        return dry_run(ctx, &request.scope).await;
    }
    let started = begin(ctx, &request).await?;
    complete(ctx, &request, started)
        .await
        .map(RunOutcome::Stored)
}

/// A stored run that has begun: its id, and the last account its committed pages billed.
#[derive(Debug)]
pub struct Started {
    /// The run's id.
    pub id: String,
    cursor: String,
}

/// Begins a stored run, or finds the unfinished one for the same moment and trigger to resume
/// (the first half of [`run`], so a caller can answer with the run's id before it ends).
pub async fn begin(ctx: &Invoicing, request: &RunRequest) -> DeskResult<Started> {
    check_date(ctx, &request.scope.as_of)?;
    if !request.ahead {
        check_not_ahead(ctx, &request.scope).await?;
    }
    let (id, cursor) = start_or_resume(ctx, request).await?;
    Ok(Started { id, cursor })
}

/// Bills the begun run's remaining pages and records how it ended; returns its id. A
/// transient error leaves it `running`, to be resumed by the same request.
pub async fn complete(ctx: &Invoicing, request: &RunRequest, run: Started) -> DeskResult<String> {
    let Started { id, cursor } = run;
    let _alive = super::resume::keep_alive(ctx, &id);
    match pages(ctx, request, &id, cursor).await {
        Ok(()) => {
            finish(ctx, &id, "completed", None).await?;
            Ok(id)
        }
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tracing::error!(run = %id, error = %e, "billing run failed");
            finish(ctx, &id, "failed", Some(e.to_string())).await?;
            Err(e)
        }
    }
}

/// Begins (or resumes) a stored run and bills it in a task of its own, so whoever asked
/// (a request that may time out, a page that redirects at once) does not hold it up or stop
/// it; returns the run's id at once and the task, which ends with [`complete`]'s result. A
/// transient error leaves the run `running`, resumed once it stalls ([`super::resume`]).
pub async fn spawn(
    ctx: &Invoicing,
    request: RunRequest,
) -> DeskResult<(String, tokio::task::JoinHandle<DeskResult<String>>)> {
    let started = begin(ctx, &request).await?;
    let id = started.id.clone();
    let ctx = ctx.clone();
    let billing = tokio::spawn(async move {
        let result = complete(&ctx, &request, started).await;
        if let Err(e) = &result {
            if e.is_transient() {
                tracing::warn!(error = %e, "billing run stopped; it is resumed once it stalls");
            }
        }
        result
    });
    Ok((id, billing))
}

/// A stored run as it stands, to go on with (see [`super::resume`]).
pub(super) async fn started(ctx: &Invoicing, id: &str) -> DeskResult<Started> {
    Ok(Started {
        id: id.to_string(),
        cursor: stored_cursor(ctx, id).await?,
    })
}

/// Bills at most a year ahead: a mistyped year must not issue decades of invoices in advance.
/// (A date in the past is harmless: accounts already invoiced for a later period are skipped.)
fn check_date(ctx: &Invoicing, as_of: &AsOf) -> DeskResult<()> {
    let today = ctx.clock.now().date_naive();
    let (earliest, latest) = (
        NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN),
        today.checked_add_days(Days::new(366)).unwrap_or(today),
    );
    let date = match as_of {
        AsOf::Date(d) => *d,
        AsOf::Instant(t) => t.date_naive(),
    };
    if date < earliest || date > latest {
        return Err(DeskError::field(
            "date",
            "range",
            format!("{date} is outside the dates a run may bill for: {earliest} to {latest} (a year from today)"),
        ));
    }
    Ok(())
}

/// Refuses a run dated after today in the time zone of an account it would bill (dry runs,
/// which write nothing, may take any date).
async fn check_not_ahead(ctx: &Invoicing, scope: &RunScope) -> DeskResult<()> {
    let AsOf::Date(date) = scope.as_of else {
        return Ok(());
    };
    let zones: Vec<String> = sqlx::query_scalar("SELECT DISTINCT time_zone FROM billing_accounts")
        .fetch_all(&ctx.db.pool)
        .await?;
    let now = ctx.clock.now();
    for zone in zones {
        if scope
            .zones
            .as_ref()
            .is_some_and(|only| !only.contains(&zone))
        {
            continue;
        }
        let Ok(today) = l2c_orders::accounts::local_date(&zone, now) else {
            continue;
        };
        if date > today {
            return Err(DeskError::field(
                "date",
                "future",
                format!(
                    "{date} is after today ({today}) for the accounts in {zone}: billing a period \
                     early leaves nothing for the real run; to bill ahead on purpose say so \
                     (\"ahead\": true, or --ahead), or make it a dry run"
                ),
            ));
        }
    }
    Ok(())
}

async fn dry_run(ctx: &Invoicing, scope: &RunScope) -> DeskResult<RunOutcome> {
    let settings = &ctx.settings;
    let mut conn = ctx.db.pool.acquire().await?;
    let mut cursor = String::new();
    let mut dry = DryRun {
        accounts: 0,
        documents: 0,
        lines: 0,
        failed: 0,
        failures: Vec::new(),
        totals: Vec::new(),
        drafts: Vec::new(),
    };
    let mut sums = TotalsSum::default();
    loop {
        let page = page(
            &mut conn,
            ctx.db.backend,
            scope,
            settings,
            &cursor,
            settings.accounts_per_chunk,
            false,
        )
        .await?;
        dry.accounts += page.accounts;
        for failure in page.failures {
            dry.note_failure(failure);
        }
        for work in &page.work {
            let d = match draft(work, settings.rounding) {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    dry.note_failure((work.account.id.clone(), e.to_string()));
                    continue;
                }
            };
            let t = d.invoice.totals();
            let kind = d.invoice.kind().code();
            let amounts = [
                t.tax_exclusive.amount(),
                t.tax_total.amount(),
                t.payable.amount(),
            ];
            sums.add(d.invoice.currency().code(), kind, amounts);
            dry.documents += 1;
            dry.lines += d.lines.len();
            if dry.drafts.len() < DryRun::SHOWN {
                dry.drafts.push(d);
            }
        }
        match page.last_id {
            Some(last) => cursor = last,
            None => {
                dry.totals = sums.into_totals();
                return Ok(RunOutcome::Dry(dry));
            }
        }
    }
}

async fn start_or_resume(ctx: &Invoicing, request: &RunRequest) -> DeskResult<(String, String)> {
    let key = request.scope.as_of.key();
    let existing = sqlx::query(
        "SELECT id, cursor FROM billing_runs WHERE as_of = $1 AND trigger_name = $2 \
         AND issue = $3 AND status = 'running' ORDER BY started_at LIMIT 1",
    )
    .bind(key.clone())
    .bind(request.trigger.clone())
    .bind(i64::from(request.issue))
    .fetch_optional(&ctx.db.pool)
    .await?;
    if let Some(row) = existing {
        let id: String = row.try_get("id")?;
        let cursor: Option<String> = row.try_get("cursor")?;
        tracing::info!(run = %id, "resuming billing run");
        super::resume::touch(ctx, &id).await?;
        return Ok((id, cursor.unwrap_or_default()));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = ctx.db.begin_write().await?;
    sqlx::query(
        "INSERT INTO billing_runs (id, as_of, trigger_name, issue, status, started_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'running', $5, $5)",
    )
    .bind(id.clone())
    .bind(key)
    .bind(request.trigger.clone())
    .bind(i64::from(request.issue))
    .bind(ctx.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((id, String::new()))
}

async fn pages(
    ctx: &Invoicing,
    request: &RunRequest,
    id: &str,
    mut cursor: String,
) -> DeskResult<()> {
    let mut conflicts = 0;
    loop {
        let result = l2c_engine::runtime::retry(|| one_page(ctx, request, id, &cursor)).await;
        match result {
            Ok(Progress::Next(next)) => {
                cursor = next;
                conflicts = 0;
            }
            Ok(Progress::Done) => return Ok(()),
            // Another node resuming the same run went past this page: go on from its cursor.
            Ok(Progress::Moved) => cursor = stored_cursor(ctx, id).await?,
            Err(e) if e.is_unique_violation() && conflicts < 5 => conflicts += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The first failures of a page in words (the log has them all), or `None`.
fn failure_text(failures: &[(String, String)]) -> Option<String> {
    let (first, rest) = failures.split_first()?;
    let mut text = format!("billing account {}: {}", first.0, first.1);
    if !rest.is_empty() {
        text.push_str(&format!(" (and {} more accounts; see the log)", rest.len()));
    }
    Some(text)
}

/// What became of one page.
enum Progress {
    /// Stored; the run goes on after this account id.
    Next(String),
    /// No accounts left.
    Done,
    /// The run's cursor had moved on: nothing was stored.
    Moved,
}

async fn stored_cursor(ctx: &Invoicing, id: &str) -> DeskResult<String> {
    let row = sqlx::query("SELECT cursor FROM billing_runs WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(&ctx.db.pool)
        .await?;
    let cursor: Option<String> = row.try_get("cursor")?;
    Ok(cursor.unwrap_or_default())
}

/// Rates and stores the page after `cursor`, moving the run's cursor in the same transaction.
async fn one_page(
    ctx: &Invoicing,
    request: &RunRequest,
    id: &str,
    cursor: &str,
) -> DeskResult<Progress> {
    let settings = &ctx.settings;
    let mut tx = ctx.db.begin_write().await?;
    let page = page(
        &mut tx,
        ctx.db.backend,
        &request.scope,
        settings,
        cursor,
        settings.accounts_per_chunk,
        true,
    )
    .await?;
    let Some(last) = page.last_id else {
        return Ok(Progress::Done);
    };
    let mut failures = page.failures;
    let mut drafts = Vec::new();
    for work in &page.work {
        match draft(work, settings.rounding) {
            Ok(d) => drafts.extend(d),
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => failures.push((work.account.id.clone(), e.to_string())),
        }
    }
    for (account, why) in &failures {
        tracing::error!(run = %id, account = %account, error = %why, "an account cannot be billed");
    }
    let origin = Origin {
        run_id: Some(id),
        origin: "run",
        preceding_id: None,
    };
    let now = ctx.clock.now_ms();
    let (docs, lines) = store(
        &mut tx,
        ctx.db.backend,
        settings,
        &drafts,
        &origin,
        request.issue,
        now,
    )
    .await?;
    let moved = sqlx::query(
        "UPDATE billing_runs SET cursor = $1, accounts = accounts + $2, invoices = invoices + $3, \
         lines = lines + $4, failed = failed + $5, error = COALESCE(error, $6), updated_at = $9 \
         WHERE id = $7 AND COALESCE(cursor, '') = $8",
    )
    .bind(last.clone())
    .bind(page.accounts as i64)
    .bind(docs.len() as i64)
    .bind(lines as i64)
    .bind(failures.len() as i64)
    .bind(failure_text(&failures))
    .bind(id.to_string())
    .bind(cursor.to_string())
    .bind(ctx.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 0;
    if moved {
        tx.rollback().await?;
        return Ok(Progress::Moved);
    }
    tx.commit().await?;
    Ok(Progress::Next(last))
}

async fn finish(ctx: &Invoicing, id: &str, status: &str, error: Option<String>) -> DeskResult<()> {
    // Summed before the write transaction: the run writes no more documents. Ending the run
    // matters more than keeping its sum: without one, it is summed when read.
    let totals = match super::read::sum_run_totals(&ctx.db, id).await {
        Ok(totals) => serde_json::to_string(&totals).ok(),
        Err(e) => {
            tracing::warn!(run = %id, error = %e, "run totals not kept");
            None
        }
    };
    let mut tx = ctx.db.begin_write().await?;
    sqlx::query(
        "UPDATE billing_runs SET status = $1, error = COALESCE($2, error), finished_at = $3, \
         updated_at = $3, totals = $5 WHERE id = $4 AND status = 'running'",
    )
    .bind(status.to_string())
    .bind(error)
    .bind(ctx.clock.now_ms())
    .bind(id.to_string())
    .bind(totals)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A heartbeat of run `id`: its `updated_at` becomes now. With `seen`, only a running run
/// last seen at exactly that moment beats (a claim: one node wins it). True if it beat.
pub(super) async fn beat(ctx: &Invoicing, id: &str, seen: Option<i64>) -> DeskResult<bool> {
    let sql = match seen {
        None => "UPDATE billing_runs SET updated_at = $1 WHERE id = $2",
        Some(_) => {
            "UPDATE billing_runs SET updated_at = $1 WHERE id = $2 AND status = 'running' \
             AND COALESCE(updated_at, started_at) = $3"
        }
    };
    let mut query = sqlx::query(sql)
        .bind(ctx.clock.now_ms())
        .bind(id.to_string());
    if let Some(seen) = seen {
        query = query.bind(seen);
    }
    let mut tx = ctx.db.begin_write().await?;
    let beat = query.execute(&mut *tx).await?.rows_affected() == 1;
    tx.commit().await?;
    Ok(beat)
}

/// Stops a run's pages after `pages` of them, as a process killed between two pages would:
/// the run stays `running` and the next run for the same moment resumes it. For tests.
pub async fn run_interrupted(
    ctx: &Invoicing,
    request: &RunRequest,
    pages: usize,
) -> DeskResult<String> {
    let (id, mut cursor) = start_or_resume(ctx, request).await?;
    for _ in 0..pages {
        match one_page(ctx, request, &id, &cursor).await? {
            Progress::Next(next) => cursor = next,
            Progress::Moved => cursor = stored_cursor(ctx, &id).await?,
            Progress::Done => break,
        }
    }
    Ok(id)
}
