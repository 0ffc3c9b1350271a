//! Stores drafts — as drafts, or issued with numbers taken from their series in the same
//! transaction — in multi-row statements. Numbers are gapless: a series' counter moves only
//! in the transaction that stores the documents using its numbers, so a rollback returns them.

use super::draft::Draft;
use crate::settings::BillingSettings;
use chrono::Datelike;
use l2c_engine::db::Backend;
use l2c_orders::error::DeskResult;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

/// A draft as it will be issued: its series key, number date and due date.
pub(crate) struct Issue {
    pub id: String,
    pub key: String,
    pub today: chrono::NaiveDate,
    pub due: Option<chrono::NaiveDate>,
    pub payment_terms: Option<String>,
    pub buyer: Option<String>,
}

/// Issues a draft with `number`: the document is made now, so it takes the account's terms
/// and buyer as they are. False if it is no longer a draft.
pub(crate) async fn mark_issued(
    conn: &mut AnyConnection,
    issue: &Issue,
    number: &str,
    now: i64,
) -> DeskResult<bool> {
    let changed = sqlx::query(
        "UPDATE invoices SET status = 'issued', series = $1, number = $2, issue_date = $3, \
         due_date = $4, issued_at = $5, payment_terms = $6, buyer = $7 \
         WHERE id = $8 AND status = 'draft'",
    )
    .bind(issue.key.clone())
    .bind(number.to_string())
    .bind(issue.today.to_string())
    .bind(issue.due.map(|d| d.to_string()))
    .bind(now)
    .bind(issue.payment_terms.clone())
    .bind(issue.buyer.clone())
    .bind(issue.id.clone())
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Voids a draft (an issued document stays as it is).
pub(crate) async fn void(conn: &mut AnyConnection, id: &str) -> DeskResult<()> {
    sqlx::query("UPDATE invoices SET status = 'void' WHERE id = $1 AND status = 'draft'")
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// How a stored document came about.
pub struct Origin<'a> {
    /// The run that made it (none for a credit note made by hand).
    pub run_id: Option<&'a str>,
    /// `run`, or `credit:<invoice id>` for a correction.
    pub origin: &'a str,
    /// The invoice a credit note corrects.
    pub preceding_id: Option<&'a str>,
}

/// Takes `count` consecutive numbers of `series` and returns the first.
pub async fn take_numbers(conn: &mut AnyConnection, series: &str, count: i64) -> DeskResult<i64> {
    sqlx::query(
        "INSERT INTO invoice_sequences (series, next_number) VALUES ($1, 1) \
         ON CONFLICT (series) DO NOTHING",
    )
    .bind(series.to_string())
    .execute(&mut *conn)
    .await?;
    let next: i64 = sqlx::query(
        "UPDATE invoice_sequences SET next_number = next_number + $1 WHERE series = $2 \
         RETURNING next_number",
    )
    .bind(count)
    .bind(series.to_string())
    .fetch_one(&mut *conn)
    .await?
    .try_get("next_number")?;
    Ok(next - count)
}

/// The series a number is counted in: the account's series and the issue year.
pub fn series_key(series: &str, issue_year: i32) -> String {
    format!("{series}-{issue_year}")
}

/// A number as printed: `INV-2026-000001`.
pub fn format_number(series_key: &str, n: i64) -> String {
    format!("{series_key}-{n:06}")
}

/// The next number of each series key in `keys`, in order: consecutive numbers per series,
/// taken one series after another in sorted order (as every caller takes them, so two
/// transactions never wait on each other's series).
pub async fn assign_numbers(conn: &mut AnyConnection, keys: &[String]) -> DeskResult<Vec<String>> {
    let mut next: BTreeMap<&str, i64> = BTreeMap::new();
    for key in keys {
        *next.entry(key).or_insert(0) += 1;
    }
    for (key, n) in next.iter_mut() {
        *n = take_numbers(conn, key, *n).await?;
    }
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let n = next.get_mut(key.as_str()).map_or(0, |n| {
            *n += 1;
            *n - 1
        });
        out.push(format_number(key, n));
    }
    Ok(out)
}

/// `(series key, number)` for `drafts` (issued), in order, or `None`s (kept as drafts).
async fn numbers(
    conn: &mut AnyConnection,
    drafts: &[Draft],
    issue: bool,
) -> DeskResult<Vec<Option<(String, String)>>> {
    if !issue {
        return Ok(vec![None; drafts.len()]);
    }
    let keys: Vec<String> = drafts
        .iter()
        .map(|d| series_key(&d.series, d.issue_date.year()))
        .collect();
    let numbers = assign_numbers(conn, &keys).await?;
    Ok(keys.into_iter().zip(numbers).map(Some).collect())
}

/// How a rounding rule is stored: its settings name.
fn rounding_text(rounding: l2c_billing::Rounding) -> DeskResult<String> {
    Ok(serde_json::to_value(rounding)?
        .as_str()
        .unwrap_or("half_away_from_zero")
        .to_string())
}

// Multi-row statements of a full chunk (always the same SQL) stay in the connection's
// statement cache; a page's last, shorter chunk has a row count of its own nearly every page,
// so it is prepared for that one use and not cached: cached, those one-off statements of up
// to tens of thousands of parameters each filled the cache (100 statements) and made a
// run's memory grow with its length (1M subscriptions on SQLite: 262 MiB peak RSS).
const INVOICE_COLUMNS: usize = 23;
const LINE_COLUMNS: usize = 16;

/// Stores `drafts` (issued when `issue`) and returns the new documents' ids, in the order
/// of `drafts`, and how many lines it wrote.
/// A document whose (account, period, origin) already exists fails the statement with a
/// unique violation: the caller rolls back and re-reads.
pub async fn store(
    conn: &mut AnyConnection,
    backend: Backend,
    settings: &BillingSettings,
    drafts: &[Draft],
    origin: &Origin<'_>,
    issue: bool,
    now: i64,
) -> DeskResult<(Vec<String>, usize)> {
    let numbers = numbers(conn, drafts, issue).await?;
    let seller = serde_json::to_string(&settings.seller)?;
    let ids: Vec<String> = drafts
        .iter()
        .map(|_| uuid::Uuid::now_v7().to_string())
        .collect();
    let per = backend.chunk_rows(500, INVOICE_COLUMNS);
    for (chunk, start) in drafts.chunks(per).zip((0..).step_by(per)) {
        let sql = format!(
            "INSERT INTO invoices (id, run_id, billing_account_id, period_start, period_end, \
             origin, kind, status, series, number, issue_date, due_date, currency, \
             line_net_total, tax_total, payable, preceding_id, created_at, issued_at, rounding, \
             seller, buyer, payment_terms) VALUES {}",
            backend.values_list(chunk.len(), INVOICE_COLUMNS, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(chunk.len() == per);
        for (i, d) in chunk.iter().enumerate() {
            let number = numbers.get(start + i).cloned().flatten();
            let totals = d.invoice.totals();
            q = q
                .bind(ids[start + i].clone())
                .bind(origin.run_id.map(str::to_string))
                .bind(d.account.clone())
                .bind(d.period.start().to_string())
                .bind(d.period.end().to_string())
                .bind(origin.origin.to_string())
                .bind(d.invoice.kind().code())
                .bind(if number.is_some() { "issued" } else { "draft" })
                .bind(number.as_ref().map(|n| n.0.clone()))
                .bind(number.as_ref().map(|n| n.1.clone()))
                .bind(number.as_ref().map(|_| d.issue_date.to_string()))
                .bind(d.due_date.map(|x| x.to_string()))
                .bind(d.invoice.currency().code())
                .bind(totals.line_net_total.amount().to_string())
                .bind(totals.tax_total.amount().to_string())
                .bind(totals.payable.amount().to_string())
                .bind(origin.preceding_id.map(str::to_string))
                .bind(now)
                .bind(number.as_ref().map(|_| now))
                .bind(rounding_text(d.rounding)?)
                .bind(seller.clone())
                .bind(d.buyer.as_ref().map(serde_json::to_string).transpose()?)
                .bind(d.payment_terms.clone());
        }
        q.execute(&mut *conn).await?;
    }
    let lines = store_lines(conn, backend, drafts, &ids).await?;
    Ok((ids, lines))
}

async fn store_lines(
    conn: &mut AnyConnection,
    backend: Backend,
    drafts: &[Draft],
    ids: &[String],
) -> DeskResult<usize> {
    let rows: Vec<(&String, usize, &l2c_billing::RatedLine)> = drafts
        .iter()
        .zip(ids)
        .flat_map(|(d, id)| d.lines.iter().enumerate().map(move |(i, l)| (id, i + 1, l)))
        .collect();
    let per = backend.chunk_rows(400, LINE_COLUMNS);
    for chunk in rows.chunks(per) {
        let sql = format!(
            "INSERT INTO invoice_lines (invoice_id, position, charge_key, charge_kind, \
             subscription_id, description, charge_start, charge_end, service_from, service_to, \
             quantity, unit_price, net, list_price, tax_category, tax_percent) VALUES {}",
            backend.values_list(chunk.len(), LINE_COLUMNS, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(chunk.len() == per);
        for (id, position, l) in chunk {
            let line = &l.line;
            q = q
                .bind((*id).clone())
                .bind(*position as i64)
                .bind(l.key.clone())
                .bind(l.kind.code())
                .bind(l.subscription.clone())
                .bind(line.description().to_string())
                .bind(l.charge_period.start().to_string())
                .bind(l.charge_period.end().to_string())
                .bind(l.service.start().to_string())
                .bind(l.service.end().to_string())
                .bind(line.quantity().to_string())
                .bind(line.unit_price().amount().to_string())
                .bind(line.net().amount().to_string())
                .bind(l.list_price.amount().to_string())
                .bind(line.tax().category().code())
                .bind(line.tax().percent().to_string());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(rows.len())
}
