//! Money: revenue billed net of credit notes, and monthly recurring revenue at month end,
//! per currency.

use super::{Range, Values};
use l2c_orders::error::DeskResult;
use rust_decimal::Decimal;
use sqlx::{AnyConnection, Row};
use std::collections::BTreeMap;

pub(super) async fn revenue(conn: &mut AnyConnection, r: &Range, v: &mut Values) -> DeskResult<()> {
    let rows = sqlx::query(
        "SELECT currency, kind, line_net_total FROM invoices WHERE status = 'issued' \
         AND issue_date >= $1 AND issue_date <= $2",
    )
    .bind(r.month.first_date())
    .bind(r.month.last_date())
    .fetch_all(&mut *conn)
    .await?;
    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in &rows {
        let amount: Decimal = row
            .try_get::<String, _>("line_net_total")?
            .parse()
            .unwrap_or_default();
        let kind: String = row.try_get("kind")?;
        let sign = if kind == "credit_note" {
            -Decimal::ONE
        } else {
            Decimal::ONE
        };
        *revenue.entry(row.try_get("currency")?).or_default() += amount * sign;
    }
    for (currency, amount) in revenue {
        v.insert(format!("revenue_net:{currency}"), Some(amount));
    }
    for (currency, amount) in mrr(conn, r).await? {
        v.insert(format!("mrr:{currency}"), Some(amount));
    }
    Ok(())
}

/// Recurring charges running on the month's last day, as monthly amounts per currency.
async fn mrr(conn: &mut AnyConnection, r: &Range) -> DeskResult<BTreeMap<String, Decimal>> {
    let last = r.month.last_date();
    let rows = sqlx::query(
        "SELECT s.currency, c.period, c.amount FROM subscription_charges c JOIN subscriptions s \
         ON s.id = c.subscription_id WHERE c.kind = 'recurring' AND c.effective_from <= $1 \
         AND (c.effective_to IS NULL OR c.effective_to > $1)",
    )
    .bind(last)
    .fetch_all(conn)
    .await?;
    let mut out: BTreeMap<String, Decimal> = BTreeMap::new();
    for row in &rows {
        let amount: Decimal = row
            .try_get::<String, _>("amount")?
            .parse()
            .unwrap_or_default();
        let months = match row.try_get::<Option<String>, _>("period")?.as_deref() {
            Some("quarterly") => 3,
            Some("yearly") => 12,
            _ => 1,
        };
        *out.entry(row.try_get("currency")?).or_default() += amount / Decimal::from(months);
    }
    Ok(out.into_iter().map(|(c, a)| (c, a.round_dp(2))).collect())
}
