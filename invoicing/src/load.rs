//! Reads one page of billing accounts with everything rating them needs: the period due on
//! the run's date in each account's own time zone, its subscriptions' charges, and the lines
//! already billed. Pages are ranges of account ids, so every query is a range scan.

use super::draft::AccountWork;
use super::lines::{date, LineRow, LINE_FIELDS};
use crate::context::{AsOf, RunScope};
use crate::settings::BillingSettings;
use l2c_billing::{
    BilledLine, BillingCycle, BillingCycleDay, ChargeKind, ChargeTerm, Currency, Money, Rounding,
};
use l2c_engine::db::Backend;
use l2c_orders::accounts::{billing_from_row, BillingAccount, BILLING_COLUMNS};
use l2c_orders::error::{internal, DeskResult};
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// The next page after `after`: the accounts in scope (all of them, for `last_id`), and the
/// work for those whose due period has no run invoice yet.
pub struct Page {
    /// The last account id of the page (the cursor for the next one), `None` at the end.
    pub last_id: Option<String>,
    /// Accounts the page looked at.
    pub accounts: usize,
    /// Accounts to rate.
    pub work: Vec<AccountWork>,
    /// Accounts whose stored data cannot be read, with why: the run bills the others.
    pub failures: Vec<(String, String)>,
}

/// The rows of up to `size` billing accounts after `after` in `scope`'s zones, locked with
/// `lock` (PostgreSQL).
async fn account_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &RunScope,
    after: &str,
    size: usize,
    lock: bool,
) -> DeskResult<Vec<sqlx::any::AnyRow>> {
    let zone_filter = match &scope.zones {
        Some(z) => format!(" AND time_zone IN ({})", backend.in_list(z.len(), 2)),
        None => String::new(),
    };
    let sql = format!(
        "SELECT {BILLING_COLUMNS} FROM billing_accounts WHERE id > {}{zone_filter} ORDER BY id \
         LIMIT {size}{}",
        backend.param(1),
        if lock { backend.lock_rows() } else { "" }
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(after.to_string());
    for zone in scope.zones.iter().flatten() {
        query = query.bind(zone.clone());
    }
    Ok(query.fetch_all(&mut *conn).await?)
}

/// Adds each account's charges and billing history to its work; an account whose rows
/// cannot be read gets a failure instead.
async fn attach_history(
    conn: &mut AnyConnection,
    backend: Backend,
    settings: &BillingSettings,
    work: &mut [AccountWork],
    by_id: &HashMap<String, usize>,
    failures: &mut Vec<(String, String)>,
) -> DeskResult<()> {
    let ids: Vec<String> = work.iter().map(|w| w.account.id.clone()).collect();
    for (account, term) in charges(conn, backend, &ids, work, by_id, settings).await? {
        match (term, by_id.get(&account).and_then(|i| work.get_mut(*i))) {
            (Ok(term), Some(w)) => w.charges.push(term),
            (Err(e), _) => failures.push((account, format!("a charge: {e}"))),
            (Ok(_), None) => {}
        }
    }
    for (account, line) in billed(conn, backend, &ids, work, by_id).await? {
        match (line, by_id.get(&account).and_then(|i| work.get_mut(*i))) {
            (Ok(line), Some(w)) => w.billed.push(line),
            (Err(e), _) => failures.push((account, format!("an invoice line: {e}"))),
            (Ok(_), None) => {}
        }
    }
    Ok(())
}

/// Reads the page of up to `size` accounts after `after`. With `lock` (a run's writing
/// transaction) the accounts' rows are locked first on PostgreSQL, so two runs rating the
/// same account for different periods take turns and the second sees the first's invoices.
pub async fn page(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &RunScope,
    settings: &BillingSettings,
    after: &str,
    size: usize,
    lock: bool,
) -> DeskResult<Page> {
    let nothing = Page {
        last_id: None,
        accounts: 0,
        work: Vec::new(),
        failures: Vec::new(),
    };
    if scope.zones.as_ref().is_some_and(Vec::is_empty) {
        return Ok(nothing);
    }
    let rows = account_rows(conn, backend, scope, after, size, lock).await?;
    let Some(last) = rows.last() else {
        return Ok(nothing);
    };
    let last: String = last.try_get("id")?;
    let mut work = Vec::with_capacity(rows.len());
    let mut failures = Vec::new();
    // Each account on its own: one that cannot be read fails alone.
    for row in &rows {
        let id: String = row.try_get("id")?;
        match billing_from_row(row).and_then(|account| due_work(account, &scope.as_of)) {
            Ok(w) => work.push(w),
            Err(e) => failures.push((id, e.to_string())),
        }
    }
    let ids: Vec<String> = work.iter().map(|w| w.account.id.clone()).collect();
    let latest = latest_run_invoices(conn, backend, &ids).await?;
    // An account already invoiced for this period, or a later one, has nothing due now.
    work.retain(|w| {
        latest
            .get(&w.account.id)
            .is_none_or(|l| l.as_str() < w.due.start().to_string().as_str())
    });
    let by_id: HashMap<String, usize> = work
        .iter()
        .enumerate()
        .map(|(i, w)| (w.account.id.clone(), i))
        .collect();
    attach_history(conn, backend, settings, &mut work, &by_id, &mut failures).await?;
    // One failure per account (the first), and no work for it.
    let mut seen = std::collections::HashSet::new();
    failures.retain(|(id, _)| seen.insert(id.clone()));
    work.retain(|w| !seen.contains(&w.account.id));
    Ok(Page {
        last_id: Some(last),
        accounts: rows.len(),
        work,
        failures,
    })
}

fn due_work(account: BillingAccount, as_of: &AsOf) -> DeskResult<AccountWork> {
    let currency = Currency::from_code(&account.currency).map_err(internal)?;
    let day = BillingCycleDay::new(account.cycle_day).map_err(internal)?;
    let cycle = BillingCycle::monthly(day);
    let local_date = match as_of {
        AsOf::Date(d) => *d,
        AsOf::Instant(t) => account.local_date(*t)?,
    };
    let due = cycle.period_containing(local_date).map_err(internal)?;
    Ok(AccountWork {
        account,
        currency,
        cycle,
        local_date,
        due,
        charges: Vec::new(),
        billed: Vec::new(),
    })
}

/// The latest period start of each account's run invoices.
async fn latest_run_invoices(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
) -> DeskResult<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = "SELECT billing_account_id, MAX(period_start) AS latest FROM invoices \
         WHERE billing_account_id IN ({ids}) AND origin = 'run' GROUP BY billing_account_id";
    fetch_in(conn, backend, sql, ids)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("billing_account_id")?, r.try_get("latest")?)))
        .collect()
}

fn money(text: &str, currency: Currency) -> DeskResult<Money> {
    Money::parse(text, currency).map_err(internal)
}

/// A subscription charge's kind: `one_time`, or `recurring` with its period.
fn charge_kind(kind: &str, period: Option<&str>) -> DeskResult<ChargeKind> {
    let code = match kind {
        "one_time" => Some(kind),
        "recurring" => period,
        _ => None,
    };
    code.and_then(ChargeKind::from_code)
        .ok_or_else(|| internal(format!("unknown charge kind {kind}/{period:?}")))
}

/// Runs `select`, whose `{ids}` is replaced by an IN list of `ids`, and turns each row into
/// a `T` for the account (of `work`) it names in `billing_account_id`.
async fn per_account<T>(
    conn: &mut AnyConnection,
    backend: Backend,
    select: &str,
    ids: &[String],
    work: &[AccountWork],
    by_id: &HashMap<String, usize>,
    convert: impl Fn(&AnyRow, &AccountWork) -> DeskResult<T>,
) -> DeskResult<Vec<(String, DeskResult<T>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows = fetch_in(conn, backend, select, ids).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let account: String = r.try_get("billing_account_id")?;
        if let Some(w) = by_id.get(&account).and_then(|i| work.get(*i)) {
            out.push((account, convert(r, w)));
        }
    }
    Ok(out)
}

async fn charges(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
    work: &[AccountWork],
    by_id: &HashMap<String, usize>,
    settings: &BillingSettings,
) -> DeskResult<Vec<(String, DeskResult<ChargeTerm>)>> {
    let select = "SELECT s.billing_account_id, COALESCE(c.offering, s.offering) AS offering, \
        s.product_id, c.subscription_id, \
        c.order_id, c.item_id, c.price_id, c.name, c.kind, c.period, c.unit_amount, c.units, \
        c.effective_from, c.effective_to FROM subscriptions s \
        JOIN subscription_charges c ON c.subscription_id = s.id \
        WHERE s.billing_account_id IN ({ids})";
    per_account(conn, backend, select, ids, work, by_id, |r, w| {
        charge_term(r, w, settings)
    })
    .await
}

fn charge_term(r: &AnyRow, w: &AccountWork, settings: &BillingSettings) -> DeskResult<ChargeTerm> {
    let subscription: String = r.try_get("subscription_id")?;
    let order: String = r.try_get("order_id")?;
    let item: String = r.try_get("item_id")?;
    let price: String = r.try_get("price_id")?;
    let offering: String = r.try_get("offering")?;
    let product: String = r.try_get("product_id")?;
    let name: String = r.try_get("name")?;
    let kind: String = r.try_get("kind")?;
    let period: Option<String> = r.try_get("period")?;
    let unit: String = r.try_get("unit_amount")?;
    let units: i64 = r.try_get("units")?;
    let from: String = r.try_get("effective_from")?;
    let to: Option<String> = r.try_get("effective_to")?;
    let tax = w
        .account
        .tax_by_offering
        .get(&offering)
        .or(w.account.tax.as_ref())
        .copied()
        .unwrap_or(settings.default_tax);
    Ok(ChargeTerm {
        key: format!("{subscription}/{order}/{item}/{price}"),
        description: format!("{name} ({offering} {product})"),
        subscription,
        kind: charge_kind(&kind, period.as_deref())?,
        unit_price: money(&unit, w.currency)?,
        units: Decimal::from(units),
        from: date(&from)?,
        to: to.as_deref().map(date).transpose()?,
        tax,
    })
}

/// The lines the accounts' invoices (issued or draft) carry, in the order they were billed.
async fn billed(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
    work: &[AccountWork],
    by_id: &HashMap<String, usize>,
) -> DeskResult<Vec<(String, DeskResult<BilledLine>)>> {
    let select = format!(
        "SELECT i.billing_account_id, {LINE_FIELDS} FROM invoices i \
         JOIN invoice_lines l ON l.invoice_id = i.id \
         WHERE i.billing_account_id IN ({{ids}}) AND i.status <> 'void' \
         ORDER BY i.created_at, i.id, l.position"
    );
    per_account(conn, backend, &select, ids, work, by_id, |r, w| {
        Ok(LineRow::from_row(r)?
            .rated(w.currency, Rounding::default())?
            .billed())
    })
    .await
}

/// Runs `select` with its `{ids}` replaced by an IN list of `ids`, bound in order.
pub(super) async fn fetch_in(
    conn: &mut AnyConnection,
    backend: Backend,
    select: &str,
    ids: &[String],
) -> DeskResult<Vec<AnyRow>> {
    let sql = select.replace("{ids}", &backend.in_list(ids.len(), 1));
    // The list's length changes from page to page: such statements are prepared for one use
    // and not cached, or every page would add one to the connection's statement cache.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for id in ids {
        q = q.bind(id.clone());
    }
    Ok(q.fetch_all(conn).await?)
}
