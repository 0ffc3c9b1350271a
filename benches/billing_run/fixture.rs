//! Writes the fixture: accounts, subscriptions and charges with multi-row statements in large
//! transactions, and the changes after the history run.

use super::*;

/// Inserts `rows` with `head` (`INSERT INTO t (a, b)`) in statements of as many rows as the
/// backend takes.
pub(crate) async fn insert_rows(
    conn: &mut AnyConnection,
    backend: Backend,
    head: &str,
    columns: usize,
    mut rows: Vec<Vec<Val>>,
) -> Result<(), Failure> {
    let per = backend.chunk_rows(500, columns);
    while !rows.is_empty() {
        let chunk: Vec<Vec<Val>> = rows.drain(..per.min(rows.len())).collect();
        let sql = format!(
            "{head} VALUES {}",
            backend.values_list(chunk.len(), columns, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in chunk.into_iter().flatten() {
            q = match v {
                Val::Text(s) => q.bind(s),
                Val::Int(i) => q.bind(i),
                Val::Null => q.bind(None::<String>),
            };
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) const CHARGE_HEAD: &str =
    "INSERT INTO subscription_charges (subscription_id, order_id, \
    item_id, price_id, name, kind, period, unit_amount, units, amount, effective_from, \
    effective_to, ended_by)";

pub(crate) fn charge_row(
    sub: &SubPlan,
    order: String,
    one_time: bool,
    price: &str,
    from: NaiveDate,
    to: Option<NaiveDate>,
) -> Result<Vec<Val>, Failure> {
    let amount = Decimal::from_str(price)? * Decimal::from(sub.units);
    let (price_id, name, kind, period) = if one_time {
        ("installation", "Installation", "one_time", Val::Null)
    } else {
        ("service", "Service", "recurring", text("monthly"))
    };
    Ok(vec![
        text(sub.id.clone()),
        text(order),
        text("1"),
        text(price_id),
        text(name),
        text(kind),
        period,
        text(price),
        Val::Int(sub.units),
        text(amount.to_string()),
        text(from.to_string()),
        to.map_or(Val::Null, |d| text(d.to_string())),
        to.map_or(Val::Null, |_| text("bench/change")),
    ])
}

/// The accounts' customers and billing accounts, in one transaction.
pub(crate) async fn insert_accounts(
    app: &App,
    accounts: usize,
    date: NaiveDate,
) -> Result<(), Failure> {
    let now = app.now_ms();
    let (mut customers, mut billing) = (Vec::new(), Vec::new());
    for i in 0..accounts {
        let a = account_plan(i, date)?;
        if i % 2 == 0 {
            customers.push(vec![
                text(a.customer.clone()),
                text(format!("Customer {}", i / 2)),
                text("enterprise"),
                text("DE"),
                Val::Int(now),
            ]);
        }
        billing.push(vec![
            text(a.id.clone()),
            text(a.customer.clone()),
            text(format!("Billing {i}")),
            text(CURRENCIES[a.currency]),
            Val::Int(i64::from(a.cycle_day)),
            text(a.zone),
            Val::Int(30),
            Val::Int(now),
            a.tax
                .map(|t| serde_json::to_string(&t))
                .transpose()?
                .map_or(Val::Null, Val::Text),
            text(serde_json::to_string(&a.tax_by_offering)?),
            Val::Null,
            text("INV"),
            text("CN"),
        ]);
    }
    let backend = app.db.backend;
    let mut tx = app.db.begin_write().await?;
    insert_rows(
        &mut tx,
        backend,
        "INSERT INTO customer_accounts (id, name, segment, country, created_at)",
        5,
        customers,
    )
    .await?;
    insert_rows(
        &mut tx,
        backend,
        "INSERT INTO billing_accounts (id, customer_account_id, name, currency, cycle_day, \
         time_zone, payment_terms_days, created_at, tax, tax_by_offering, buyer, \
         invoice_series, credit_series)",
        13,
        billing,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Subscriptions of the accounts and their charges as they stood before the changes made
/// after the history run; returns what the measured run must produce.
pub(crate) async fn insert_subscriptions(app: &App, args: &Args) -> Result<Expected, Failure> {
    const PER_TRANSACTION: usize = 50_000;
    let (backend, now) = (app.db.backend, app.now_ms());
    let mut expected = Expected::default();
    let accounts = args.subscriptions.div_ceil(args.per_account);
    let mut s = 0;
    for first in (0..accounts).step_by((PER_TRANSACTION / args.per_account).max(1)) {
        let last = (first + (PER_TRANSACTION / args.per_account).max(1)).min(accounts);
        let (mut subs, mut charges) = (Vec::new(), Vec::new());
        for i in first..last {
            let account = account_plan(i, args.date)?;
            expected.documents += 1;
            let currency = CURRENCIES[account.currency];
            while s < args.subscriptions && s < (i + 1) * args.per_account {
                let sub = sub_plan(&account, s, args.date)?;
                expected.add(&sub);
                subs.push(vec![
                    text(sub.id.clone()),
                    text(account.id.clone()),
                    text(id(s as u64, 1)),
                    text(sub.offering),
                    Val::Int(1),
                    text(currency),
                    text(sub.start.to_string()),
                    Val::Null,
                    text("active"),
                    Val::Int(now),
                    Val::Int(now),
                ]);
                let order = id(s as u64, 2);
                let change = match sub.kind {
                    Kind::Changed(d) => Some(d),
                    _ => None,
                };
                charges.push(charge_row(
                    &sub,
                    order.clone(),
                    false,
                    sub.price,
                    sub.start,
                    change,
                )?);
                if sub.one_time {
                    let price = ONE_TIME[account.currency];
                    charges.push(charge_row(&sub, order, true, price, sub.start, None)?);
                }
                if let Some(d) = change {
                    charges.push(charge_row(
                        &sub,
                        id(s as u64, 3),
                        false,
                        sub.new_price,
                        d,
                        None,
                    )?);
                }
                s += 1;
            }
        }
        let mut tx = app.db.begin_write().await?;
        insert_rows(
            &mut tx,
            backend,
            "INSERT INTO subscriptions (id, billing_account_id, product_id, offering, version, \
             currency, start_date, end_date, status, created_at, updated_at)",
            11,
            subs,
        )
        .await?;
        insert_rows(&mut tx, backend, CHARGE_HEAD, 13, charges).await?;
        tx.commit().await?;
    }
    Ok(expected)
}

/// The price changes of the subscriptions invoiced by the history run: the old charge ends
/// on the change date and the new one starts then. Returns how many.
pub(crate) async fn apply_billed_changes(app: &App, args: &Args) -> Result<usize, Failure> {
    let backend = app.db.backend;
    let accounts = args.subscriptions.div_ceil(args.per_account);
    let (mut ends, mut starts) = (Vec::new(), Vec::new());
    for i in 0..accounts {
        let account = account_plan(i, args.date)?;
        for s in i * args.per_account..((i + 1) * args.per_account).min(args.subscriptions) {
            let sub = sub_plan(&account, s, args.date)?;
            if let Kind::ChangedBilled(d) = sub.kind {
                ends.push(vec![text(sub.id.clone()), text(d.to_string())]);
                starts.push(charge_row(
                    &sub,
                    id(s as u64, 3),
                    false,
                    sub.new_price,
                    d,
                    None,
                )?);
            }
        }
    }
    let changed = ends.len();
    let mut tx = app.db.begin_write().await?;
    // Large chunks: PostgreSQL joins each chunk to the charges by a scan of them all.
    let per = backend.chunk_rows(10_000, 2);
    while !ends.is_empty() {
        let chunk: Vec<Vec<Val>> = ends.drain(..per.min(ends.len())).collect();
        // `VALUES` columns are column1, column2 on both backends.
        let sql = format!(
            "UPDATE subscription_charges SET effective_to = v.column2, ended_by = 'bench/change' \
             FROM (VALUES {}) AS v WHERE subscription_charges.subscription_id = v.column1 \
             AND subscription_charges.kind = 'recurring'",
            backend.values_list(chunk.len(), 2, 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in chunk.into_iter().flatten() {
            if let Val::Text(t) = v {
                q = q.bind(t);
            }
        }
        q.execute(&mut *tx).await?;
    }
    insert_rows(&mut tx, backend, CHARGE_HEAD, 13, starts).await?;
    tx.commit().await?;
    Ok(changed)
}

// ---------------------------------------------------------------------------------------
// Measuring.

/// PostgreSQL: statistics, as autovacuum would have gathered them on a database that grew
/// over time. On freshly bulk-loaded tables the planner joins each page's rows by scanning
/// all charges and invoice lines (1M subscriptions: a run of 54-64 s instead of 27 s).
pub(crate) async fn analyze(app: &App) -> Result<(), Failure> {
    if app.db.backend == Backend::Postgres {
        sqlx::query("ANALYZE").execute(&app.db.pool).await?;
    }
    Ok(())
}
