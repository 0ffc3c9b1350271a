//! What finance does to stored documents: issue a run's drafts (numbers taken then, in the
//! same transaction), void a draft (it never took a number, so no gap), and correct an issued
//! invoice with a credit note that gives back all of it. A credit note gives the invoice's
//! days back to the ledger, so the next run bills what is then due again: it corrects, it
//! does not write off.

use super::draft::{terms, Draft};
use super::lines::date;
use super::read::{self, kind_of, InvoiceView};
use super::write::{assign_numbers, mark_issued, series_key, store, void, Issue, Origin};
use crate::context::Invoicing;
use chrono::Datelike;
use l2c_billing::RatedLine;
use l2c_billing::{Currency, DocumentKind, Invoice, Period};
use l2c_orders::accounts;
use l2c_orders::error::{internal, DeskError, DeskResult};

/// Issues every draft of run `run_id`, 500 per transaction; returns how many.
pub async fn issue_drafts(ctx: &Invoicing, run_id: &str) -> DeskResult<usize> {
    read::run(&ctx.db, run_id).await?;
    let mut issued = 0;
    loop {
        let n = l2c_engine::runtime::retry(|| issue_batch(ctx, run_id)).await?;
        if n == 0 {
            return Ok(issued);
        }
        issued += n;
    }
}

/// Issues up to 500 drafts of the run in one transaction. Numbers are taken per series in
/// sorted order, as runs take them, so two transactions never wait on each other's series.
async fn issue_batch(ctx: &Invoicing, run_id: &str) -> DeskResult<usize> {
    let mut tx = ctx.db.begin_write().await?;
    let sql = format!(
        "SELECT {} FROM invoices WHERE run_id = $1 AND status = 'draft' ORDER BY id LIMIT 500",
        read::INVOICE_COLUMNS
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(run_id.to_string())
        .fetch_all(&mut *tx)
        .await?;
    let views = rows
        .iter()
        .map(read::invoice_from_row)
        .collect::<DeskResult<Vec<_>>>()?;
    let mut ids: Vec<String> = views.iter().map(|v| v.billing_account.clone()).collect();
    ids.sort();
    ids.dedup();
    let accounts = accounts::billing_by_ids(&mut tx, ctx.db.backend, &ids).await?;
    let mut issues = Vec::with_capacity(views.len());
    for view in &views {
        let account = accounts
            .get(&view.billing_account)
            .ok_or_else(|| internal(format!("invoice {} has no account", view.id)))?;
        issues.push(prepare_issue(ctx, account, view)?);
    }
    let keys: Vec<String> = issues.iter().map(|i| i.key.clone()).collect();
    let numbers = assign_numbers(&mut tx, &keys).await?;
    for (i, number) in issues.iter().zip(numbers) {
        if !mark_issued(&mut tx, i, &number, ctx.clock.now_ms()).await? {
            return Err(DeskError::Conflict(format!(
                "invoice {} is no longer a draft",
                i.id
            )));
        }
    }
    tx.commit().await?;
    Ok(issues.len())
}

fn prepare_issue(
    ctx: &Invoicing,
    account: &accounts::BillingAccount,
    view: &InvoiceView,
) -> DeskResult<Issue> {
    let today = account.local_date(ctx.clock.now())?;
    let kind = kind_of(view);
    let series = match kind {
        DocumentKind::Invoice => &account.invoice_series,
        DocumentKind::CreditNote => &account.credit_series,
    };
    let (due, words) = terms(kind, today, account.payment_terms_days);
    Ok(Issue {
        id: view.id.clone(),
        key: series_key(series, today.year()),
        today,
        due,
        payment_terms: Some(words),
        buyer: account
            .buyer
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?,
    })
}

/// Voids a draft: it is kept, numberless, and its lines no longer count as billed.
pub async fn void_draft(ctx: &Invoicing, id: &str) -> DeskResult<InvoiceView> {
    let mut tx = ctx.db.begin_write().await?;
    let view = read::invoice(&mut tx, id).await?;
    if view.status != "draft" {
        return Err(DeskError::Conflict(format!(
            "invoice {id} is {}: only drafts can be voided; correct an issued invoice with a \
             credit note",
            view.status
        )));
    }
    void(&mut tx, id).await?;
    let view = read::invoice(&mut tx, id).await?;
    tx.commit().await?;
    Ok(view)
}

/// Refuses to credit anything but an issued invoice.
fn check_creditable(view: &InvoiceView) -> DeskResult<()> {
    if view.status != "issued" || kind_of(view) != DocumentKind::Invoice {
        return Err(DeskError::Conflict(format!(
            "invoice {} is a {} {}: only issued invoices can be credited",
            view.id, view.status, view.kind
        )));
    }
    Ok(())
}

/// The lines and document of the credit note that gives back all of `view`: every line
/// negated, computed with the rounding of the invoice it corrects (and kept with it).
async fn credit_document(
    conn: &mut sqlx::AnyConnection,
    view: &InvoiceView,
) -> DeskResult<(Vec<RatedLine>, Invoice)> {
    let currency = Currency::from_code(&view.currency).map_err(internal)?;
    let rounding = view.kept.rounding;
    let mut lines = read::lines(conn, view).await?;
    for l in &mut lines {
        let line = &l.line;
        l.line = l2c_billing::InvoiceLine::new(
            line.description(),
            line.period(),
            -line.quantity(),
            line.unit_price(),
            line.tax(),
            rounding,
        )
        .map_err(internal)?;
    }
    let invoice = super::draft::document(DocumentKind::CreditNote, currency, &lines, rounding)?;
    Ok((lines, invoice))
}

/// What [`credit_invoice`] would issue for invoice `id`, written nowhere.
#[derive(Debug)]
pub struct CreditPreview {
    /// The invoice to correct.
    pub invoice: InvoiceView,
    /// The credit note's lines, VAT breakdown and totals.
    pub note: Invoice,
    /// The credit note already issued for it, if any (a second one is refused).
    pub existing: Option<String>,
}

/// The credit note issued invoice `id` would get, computed as [`credit_invoice`] computes
/// it, without writing anything.
pub async fn credit_preview(ctx: &Invoicing, id: &str) -> DeskResult<CreditPreview> {
    let mut conn = ctx.db.pool.acquire().await?;
    let view = read::invoice(&mut conn, id).await?;
    check_creditable(&view)?;
    let (_, note) = credit_document(&mut conn, &view).await?;
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM invoices WHERE preceding_id = $1 LIMIT 1")
            .bind(id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(CreditPreview {
        invoice: view,
        note,
        existing,
    })
}

/// Issues a credit note that gives back all of issued invoice `id`; a second one for the
/// same invoice is a conflict.
pub async fn credit_invoice(ctx: &Invoicing, id: &str) -> DeskResult<InvoiceView> {
    let mut tx = ctx.db.begin_write().await?;
    let view = read::invoice(&mut tx, id).await?;
    check_creditable(&view)?;
    // Locked before reading the lines, as runs do, so a run and a credit note take turns.
    let lock = ctx.db.backend.lock_rows();
    let account = accounts::billing_locked(&mut tx, &view.billing_account, lock)
        .await?
        .ok_or_else(|| internal(format!("invoice {id} has no account")))?;
    let rounding = view.kept.rounding;
    let (lines, invoice) = credit_document(&mut tx, &view).await?;
    let issue_date = account.local_date(ctx.clock.now())?;
    let (due_date, words) = terms(
        DocumentKind::CreditNote,
        issue_date,
        account.payment_terms_days,
    );
    let draft = Draft {
        account: view.billing_account.clone(),
        period: Period::new(date(&view.period_start)?, date(&view.period_end)?)
            .map_err(internal)?,
        issue_date,
        due_date,
        series: account.credit_series.clone(),
        lines,
        invoice,
        buyer: account.buyer.clone(),
        payment_terms: Some(words),
        rounding,
    };
    let origin_text = format!("credit:{id}");
    let origin = Origin {
        run_id: None,
        origin: &origin_text,
        preceding_id: Some(id),
    };
    let stored = store(
        &mut tx,
        ctx.db.backend,
        &ctx.settings,
        std::slice::from_ref(&draft),
        &origin,
        true,
        ctx.clock.now_ms(),
    )
    .await;
    let (ids, _) = match stored {
        Err(e) if e.is_unique_violation() => {
            return Err(DeskError::Conflict(format!(
                "invoice {id} already has a credit note"
            )));
        }
        other => other?,
    };
    let note_id = ids
        .first()
        .ok_or_else(|| internal("the credit note was not stored"))?;
    let note = read::invoice(&mut tx, note_id).await?;
    tx.commit().await?;
    Ok(note)
}
