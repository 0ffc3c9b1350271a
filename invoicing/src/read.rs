//! Runs, invoices and documents as stored: what the API lists and shows, and the documents
//! (lines, VAT breakdown, totals, parties) the exports write.

use super::draft::document;
use l2c_billing::{
    Currency, DocumentKind, Invoice, IssuedDocument, Party, Period, PrecedingInvoice, RatedLine,
    Rounding,
};
use l2c_engine::db::Db;
use l2c_orders::error::{internal, DeskError, DeskResult};

use super::lines::date;
pub use super::lines::{lines, lines_of, LineRow};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;
use std::str::FromStr;

const RUN_COLUMNS: &str = "id, as_of, trigger_name, issue, status, accounts, invoices, lines, \
    failed, error, started_at, finished_at";

/// A run as stored.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunView {
    /// The run's id.
    pub id: String,
    /// The date (or instant) it billed for.
    pub as_of: String,
    /// `manual` or `schedule:<name>`.
    pub trigger: String,
    /// Whether it issued its invoices (or left drafts).
    pub issue: bool,
    /// running, completed or failed.
    pub status: String,
    /// Accounts looked at.
    pub accounts: i64,
    /// Documents written.
    pub invoices: i64,
    /// Lines written.
    pub lines: i64,
    /// Accounts it could not bill (their stored data cannot be read); the others are billed.
    pub failed: i64,
    /// Why it failed, or which accounts it could not bill.
    pub error: Option<String>,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// When it finished.
    pub finished_at: Option<i64>,
}

fn run_from_row(r: &AnyRow) -> DeskResult<RunView> {
    let issue: i64 = r.try_get("issue")?;
    Ok(RunView {
        id: r.try_get("id")?,
        as_of: r.try_get("as_of")?,
        trigger: r.try_get("trigger_name")?,
        issue: issue != 0,
        status: r.try_get("status")?,
        accounts: r.try_get("accounts")?,
        invoices: r.try_get("invoices")?,
        lines: r.try_get("lines")?,
        failed: r.try_get("failed")?,
        error: r.try_get("error")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Runs, newest first.
pub async fn runs(db: &Db, limit: i64) -> DeskResult<Vec<RunView>> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM billing_runs ORDER BY started_at DESC, id DESC LIMIT $1"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(run_from_row).collect()
}

/// A run by id.
pub async fn run(db: &Db, id: &str) -> DeskResult<RunView> {
    let sql = format!("SELECT {RUN_COLUMNS} FROM billing_runs WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?
        .ok_or_else(|| DeskError::not_found("billing run", id))?;
    run_from_row(&row)
}

/// How far a run has come: the accounts its committed pages looked at, of all the accounts
/// in its scope. Read from the run's own counters, which move with its cursor in each page's
/// transaction, so the figure never runs ahead of what is stored.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunProgress {
    /// running, completed or failed.
    pub status: String,
    /// Accounts looked at so far.
    pub done: i64,
    /// Accounts in the run's scope (for an ended run: as many as it looked at).
    pub total: i64,
    /// Documents written so far.
    pub documents: i64,
}

impl RunProgress {
    /// Done as a whole percentage of all, 0 to 100 (100 for a run with nothing to look at).
    pub fn percent(&self) -> i64 {
        if self.total <= 0 {
            return 100;
        }
        (self.done.clamp(0, self.total) * 100) / self.total
    }
}

/// The zone a scheduled run billed alone: its trigger is `schedule:<name>:<zone>` (schedule
/// names have no `:`), and only the accounts of that zone are in its scope.
fn zone_of_trigger(trigger: &str) -> Option<&str> {
    let rest = trigger.strip_prefix("schedule:")?;
    rest.split_once(':').map(|(_, zone)| zone)
}

/// The progress of `run`: for a running run the accounts in its scope are counted now (an
/// account added meanwhile may or may not be reached, as its id falls).
pub async fn progress(db: &Db, run: &RunView) -> DeskResult<RunProgress> {
    let total = if run.status == "running" {
        let count = match zone_of_trigger(&run.trigger) {
            Some(zone) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM billing_accounts WHERE time_zone = $1")
                    .bind(zone.to_string())
            }
            None => sqlx::query_scalar("SELECT COUNT(*) FROM billing_accounts"),
        };
        let n: i64 = count.fetch_one(&db.pool).await?;
        n.max(run.accounts)
    } else {
        run.accounts
    };
    Ok(RunProgress {
        status: run.status.clone(),
        done: run.accounts,
        total,
        documents: run.invoices,
    })
}

/// A run's documents summed per currency and kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunTotal {
    /// ISO 4217 currency.
    pub currency: String,
    /// invoice or credit_note.
    pub kind: String,
    /// How many documents.
    pub documents: u64,
    /// Sum of their totals without VAT (decimal string).
    pub net: String,
    /// Sum of their VAT.
    pub tax: String,
    /// Sum of their amounts due (credit notes: owed back).
    pub payable: String,
}

/// Documents summed per currency and kind, exactly (decimal, never the database's sum).
#[derive(Default)]
pub struct TotalsSum(BTreeMap<(String, String), (u64, [Decimal; 3])>);

impl TotalsSum {
    /// Adds one document's totals.
    pub fn add(&mut self, currency: &str, kind: &str, amounts: [Decimal; 3]) {
        let entry = self
            .0
            .entry((currency.to_string(), kind.to_string()))
            .or_default();
        entry.0 += 1;
        for (slot, amount) in entry.1.iter_mut().zip(amounts) {
            *slot += amount;
        }
    }

    /// The sums, by currency then kind.
    pub fn into_totals(self) -> Vec<RunTotal> {
        self.0
            .into_iter()
            .map(
                |((currency, kind), (documents, [net, tax, payable]))| RunTotal {
                    currency,
                    kind,
                    documents,
                    net: net.to_string(),
                    tax: tax.to_string(),
                    payable: payable.to_string(),
                },
            )
            .collect()
    }
}

/// Totals of a run's documents: as stored when it ended, else summed now.
pub async fn run_totals(db: &Db, id: &str) -> DeskResult<Vec<RunTotal>> {
    let stored = sqlx::query("SELECT totals FROM billing_runs WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.pool)
        .await?;
    let stored: Option<String> = stored.map(|r| r.try_get(0)).transpose()?.flatten();
    match stored {
        Some(json) => serde_json::from_str(&json).map_err(internal),
        None => sum_run_totals(db, id).await,
    }
}

/// Totals of a run's documents, summed from them.
pub async fn sum_run_totals(db: &Db, id: &str) -> DeskResult<Vec<RunTotal>> {
    let mut conn = db.pool.acquire().await?;
    let mut rows = sqlx::query(
        "SELECT currency, kind, line_net_total, tax_total, payable FROM invoices WHERE run_id = $1",
    )
    .bind(id.to_string())
    .fetch(&mut *conn);
    let mut sums = TotalsSum::default();
    while let Some(r) = futures::TryStreamExt::try_next(&mut rows).await? {
        let decimal = |column: &str| -> DeskResult<Decimal> {
            let text: String = r.try_get(column)?;
            Decimal::from_str(&text).map_err(internal)
        };
        let amounts = [
            decimal("line_net_total")?,
            decimal("tax_total")?,
            decimal("payable")?,
        ];
        let currency: String = r.try_get("currency")?;
        let kind: String = r.try_get("kind")?;
        sums.add(&currency, &kind, amounts);
    }
    Ok(sums.into_totals())
}

/// An invoice or credit note as listed.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceView {
    /// Its id.
    pub id: String,
    /// The run that made it.
    pub run_id: Option<String>,
    /// The billing account.
    pub billing_account: String,
    /// First day of the period it is for.
    pub period_start: String,
    /// First day after that period.
    pub period_end: String,
    /// invoice or credit_note.
    pub kind: String,
    /// draft, issued or void.
    pub status: String,
    /// Its number, once issued.
    pub number: Option<String>,
    /// When it was issued.
    pub issue_date: Option<String>,
    /// When it is due.
    pub due_date: Option<String>,
    /// ISO 4217 currency.
    pub currency: String,
    /// Total without VAT (decimal string).
    pub line_net_total: String,
    /// VAT.
    pub tax_total: String,
    /// Amount due (on a credit note: owed back).
    pub payable: String,
    /// The invoice a credit note corrects.
    pub preceding_id: Option<String>,
    /// What the document was made with.
    #[serde(skip)]
    pub kept: Kept,
}

/// What a document keeps from when it was made, so later changes to the settings or the
/// account never alter it.
#[derive(Clone, Debug, Default)]
pub struct Kept {
    /// The rounding rule its VAT was computed with.
    pub rounding: Rounding,
    /// The seller party.
    pub seller: Option<Party>,
    /// The buyer party, if the account had one.
    pub buyer: Option<Party>,
    /// Payment terms in words.
    pub payment_terms: Option<String>,
}

/// The columns [`invoice_from_row`] reads.
pub const INVOICE_COLUMNS: &str = "id, run_id, billing_account_id, period_start, period_end, \
    kind, status, number, issue_date, due_date, currency, line_net_total, tax_total, payable, \
    preceding_id, rounding, seller, buyer, payment_terms";

fn kept_from_row(r: &AnyRow) -> DeskResult<Kept> {
    let rounding: String = r.try_get("rounding")?;
    let seller: String = r.try_get("seller")?;
    let buyer: Option<String> = r.try_get("buyer")?;
    Ok(Kept {
        rounding: serde_json::from_value(serde_json::Value::String(rounding))?,
        seller: Some(serde_json::from_str(&seller)?),
        buyer: buyer.map(|b| serde_json::from_str(&b)).transpose()?,
        payment_terms: r.try_get("payment_terms")?,
    })
}

/// An invoice from a row with [`INVOICE_COLUMNS`].
pub fn invoice_from_row(r: &AnyRow) -> DeskResult<InvoiceView> {
    Ok(InvoiceView {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        billing_account: r.try_get("billing_account_id")?,
        period_start: r.try_get("period_start")?,
        period_end: r.try_get("period_end")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        number: r.try_get("number")?,
        issue_date: r.try_get("issue_date")?,
        due_date: r.try_get("due_date")?,
        currency: r.try_get("currency")?,
        line_net_total: r.try_get("line_net_total")?,
        tax_total: r.try_get("tax_total")?,
        payable: r.try_get("payable")?,
        preceding_id: r.try_get("preceding_id")?,
        kept: kept_from_row(r)?,
    })
}

/// Which invoices to list.
#[derive(Clone, Debug, Default)]
pub struct InvoiceFilter {
    /// Of this run.
    pub run: Option<String>,
    /// Of these billing accounts only (`None`: all).
    pub accounts: Option<Vec<String>>,
    /// Issued ones only.
    pub issued_only: bool,
    /// The one with this number.
    pub number: Option<String>,
    /// Only those listed after this invoice id (the list is in id order: creation order).
    pub after: Option<String>,
    /// Of this kind only (`invoice` or `credit_note`).
    pub kind: Option<String>,
    /// In this status only (`draft`, `issued` or `void`).
    pub status: Option<String>,
    /// Only those whose period overlaps these days: the first day, and the first day after.
    pub overlapping: Option<(String, String)>,
}

/// Invoices matching `filter`, in creation order (ids are time-ordered), at most `limit`.
pub async fn invoices(db: &Db, filter: &InvoiceFilter, limit: i64) -> DeskResult<Vec<InvoiceView>> {
    let backend = db.backend;
    let mut sql = format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE 1 = 1");
    let mut n = 1;
    if filter.run.is_some() {
        sql.push_str(&format!(" AND run_id = {}", backend.param(n)));
        n += 1;
    }
    if let Some(accounts) = &filter.accounts {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(
            " AND billing_account_id IN ({})",
            backend.in_list(accounts.len(), n)
        ));
        n += accounts.len();
    }
    if filter.number.is_some() {
        sql.push_str(&format!(" AND number = {}", backend.param(n)));
        n += 1;
    }
    if filter.after.is_some() {
        sql.push_str(&format!(" AND id > {}", backend.param(n)));
        n += 1;
    }
    if filter.kind.is_some() {
        sql.push_str(&format!(" AND kind = {}", backend.param(n)));
        n += 1;
    }
    if filter.status.is_some() {
        sql.push_str(&format!(" AND status = {}", backend.param(n)));
        n += 1;
    }
    if filter.overlapping.is_some() {
        // ISO dates compare as text; a period ends on the first day after it.
        sql.push_str(&format!(
            " AND period_end > {} AND period_start < {}",
            backend.param(n),
            backend.param(n + 1)
        ));
        n += 2;
    }
    if filter.issued_only {
        sql.push_str(" AND status = 'issued'");
    }
    sql.push_str(&format!(" ORDER BY id LIMIT {}", backend.param(n)));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(run) = &filter.run {
        q = q.bind(run.clone());
    }
    for a in filter.accounts.iter().flatten() {
        q = q.bind(a.clone());
    }
    if let Some(number) = &filter.number {
        q = q.bind(number.clone());
    }
    if let Some(after) = &filter.after {
        q = q.bind(after.clone());
    }
    for text in [&filter.kind, &filter.status].into_iter().flatten() {
        q = q.bind(text.clone());
    }
    if let Some((first, after_last)) = &filter.overlapping {
        q = q.bind(first.clone()).bind(after_last.clone());
    }
    let rows = q.bind(limit).fetch_all(&db.pool).await?;
    rows.iter().map(invoice_from_row).collect()
}

/// One invoice by id.
pub async fn invoice(conn: &mut AnyConnection, id: &str) -> DeskResult<InvoiceView> {
    let sql = format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| DeskError::not_found("invoice", id))?;
    invoice_from_row(&row)
}

/// The kind of a stored document.
pub fn kind_of(view: &InvoiceView) -> DocumentKind {
    if view.kind == DocumentKind::CreditNote.code() {
        DocumentKind::CreditNote
    } else {
        DocumentKind::Invoice
    }
}

/// The full document of a stored invoice with `lines`, as it was made: its parties,
/// payment terms and rounding are the ones kept with it. Without a buyer party the buyer is
/// named by the account id only (enough for CSV and JSON; a UBL export refuses it).
pub fn issued_document(
    view: &InvoiceView,
    preceding: Option<PrecedingInvoice>,
    lines: &[RatedLine],
) -> DeskResult<IssuedDocument> {
    let currency = Currency::from_code(&view.currency).map_err(internal)?;
    let kept = &view.kept;
    let invoice: Invoice = document(kind_of(view), currency, lines, kept.rounding)?;
    let nobody = |name: &str| Party {
        name: name.to_string(),
        street: String::new(),
        city: String::new(),
        postcode: String::new(),
        country: String::new(),
        vat_id: None,
        endpoint_scheme: String::new(),
        endpoint_id: String::new(),
        contact: None,
        payment: None,
    };
    let period =
        Period::new(date(&view.period_start)?, date(&view.period_end)?).map_err(internal)?;
    Ok(IssuedDocument {
        number: view.number.clone().unwrap_or_default(),
        issue_date: view
            .issue_date
            .as_deref()
            .map(date)
            .transpose()?
            .unwrap_or(period.start()),
        due_date: view.due_date.as_deref().map(date).transpose()?,
        buyer_reference: view.billing_account.clone(),
        period: Some(IssuedDocument::period_covering(period, &invoice)),
        payment_terms: kept.payment_terms.clone(),
        preceding,
        seller: kept.seller.clone().unwrap_or_else(|| nobody("")),
        buyer: kept
            .buyer
            .clone()
            .unwrap_or_else(|| nobody(&view.billing_account)),
        invoice,
    })
}

/// The invoice a credit note names.
pub async fn preceding(
    conn: &mut AnyConnection,
    view: &InvoiceView,
) -> DeskResult<Option<PrecedingInvoice>> {
    let Some(id) = &view.preceding_id else {
        return Ok(None);
    };
    let before = invoice(conn, id).await?;
    Ok(Some(PrecedingInvoice {
        number: before.number.unwrap_or_default(),
        issue_date: before
            .issue_date
            .as_deref()
            .map(date)
            .transpose()?
            .unwrap_or_default(),
    }))
}

/// The document of invoice `id`, read in one go (for the API and single-document exports).
pub async fn document_of(db: &Db, id: &str) -> DeskResult<(InvoiceView, IssuedDocument)> {
    let mut conn = db.pool.acquire().await?;
    let view = invoice(&mut conn, id).await?;
    let doc = stored_document(&mut conn, &view).await?;
    Ok((view, doc))
}

/// The document of the stored invoice `view`: its lines and the invoice it corrects, read.
pub async fn stored_document(
    conn: &mut AnyConnection,
    view: &InvoiceView,
) -> DeskResult<IssuedDocument> {
    let preceding = preceding(conn, view).await?;
    let lines = lines(conn, view).await?;
    issued_document(view, preceding, &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(done: i64, total: i64) -> RunProgress {
        RunProgress {
            status: "running".into(),
            done,
            total,
            documents: 0,
        }
    }

    #[test]
    fn progress_is_a_whole_percentage_that_never_overshoots() {
        assert_eq!(progress(1, 3).percent(), 33);
        assert_eq!(progress(5, 3).percent(), 100);
        assert_eq!(progress(0, 0).percent(), 100, "nothing to look at is done");
    }

    #[test]
    fn a_scheduled_zone_run_names_its_zone() {
        assert_eq!(
            zone_of_trigger("schedule:nightly:Europe/Berlin"),
            Some("Europe/Berlin")
        );
        assert_eq!(zone_of_trigger("schedule:nightly"), None);
        assert_eq!(zone_of_trigger("manual"), None);
    }
}
