//! Invoice lines as stored: read as text (the CSV export writes them without parsing) and
//! turned into rated lines for documents, VAT breakdowns and totals.

use super::read::InvoiceView;
use chrono::NaiveDate;
use l2c_billing::{
    ChargeKind, Currency, InvoiceLine, Money, Period, RatedLine, Rounding, TaxCategory, TaxRate,
};
use l2c_engine::db::Backend;
use l2c_orders::error::{internal, DeskResult};
use rust_decimal::Decimal;
use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::str::FromStr;

/// A stored line as its text, as read (the CSV export writes it without parsing it).
#[derive(Clone, Debug, Deserialize)]
pub struct LineRow {
    /// The invoice.
    pub invoice_id: String,
    /// Its position, from 1.
    pub position: i64,
    /// The charge's key.
    pub charge_key: String,
    /// one_time, monthly, quarterly or yearly.
    pub charge_kind: String,
    /// The subscription.
    pub subscription_id: String,
    /// What the line is for.
    pub description: String,
    /// The charge period's first day.
    pub charge_start: String,
    /// The first day after the charge period.
    pub charge_end: String,
    /// The first day the line bills.
    pub service_from: String,
    /// The first day after the days it bills.
    pub service_to: String,
    /// Negative for a credit (the ledger's sign).
    pub quantity: String,
    /// Never negative.
    pub unit_price: String,
    /// `quantity x unit_price`, rounded.
    pub net: String,
    /// The charge's full price for the charge period.
    pub list_price: String,
    /// UNCL5305 code.
    pub tax_category: String,
    /// Percent.
    pub tax_percent: String,
}

/// The columns of a [`LineRow`], in its field order.
pub(super) const LINE_FIELDS: &str =
    "invoice_id, position, charge_key, charge_kind, subscription_id, \
    description, charge_start, charge_end, service_from, service_to, quantity, unit_price, net, \
    list_price, tax_category, tax_percent";

impl LineRow {
    pub(super) fn from_row(r: &AnyRow) -> DeskResult<LineRow> {
        let text = |c: &str| -> DeskResult<String> { Ok(r.try_get(c)?) };
        Ok(LineRow {
            invoice_id: text("invoice_id")?,
            position: r.try_get("position")?,
            charge_key: text("charge_key")?,
            charge_kind: text("charge_kind")?,
            subscription_id: text("subscription_id")?,
            description: text("description")?,
            charge_start: text("charge_start")?,
            charge_end: text("charge_end")?,
            service_from: text("service_from")?,
            service_to: text("service_to")?,
            quantity: text("quantity")?,
            unit_price: text("unit_price")?,
            net: text("net")?,
            list_price: text("list_price")?,
            tax_category: text("tax_category")?,
            tax_percent: text("tax_percent")?,
        })
    }

    /// The line as billing reads it.
    pub fn rated(&self, currency: Currency, rounding: Rounding) -> DeskResult<RatedLine> {
        let decimal = |t: &str| Decimal::from_str(t).map_err(internal);
        let kind = ChargeKind::from_code(&self.charge_kind)
            .ok_or_else(|| internal(format!("unknown charge kind {}", self.charge_kind)))?;
        let charge_period =
            Period::new(date(&self.charge_start)?, date(&self.charge_end)?).map_err(internal)?;
        let service =
            Period::new(date(&self.service_from)?, date(&self.service_to)?).map_err(internal)?;
        let category: TaxCategory =
            serde_json::from_value(serde_json::Value::String(self.tax_category.clone()))?;
        let tax = TaxRate::new(category, decimal(&self.tax_percent)?).map_err(internal)?;
        let period = matches!(kind, ChargeKind::Recurring(_)).then_some(service);
        let unit = Money::new(decimal(&self.unit_price)?, currency);
        let quantity = decimal(&self.quantity)?;
        let line = InvoiceLine::new(
            self.description.clone(),
            period,
            quantity,
            unit,
            tax,
            rounding,
        )
        .map_err(internal)?;
        Ok(RatedLine {
            key: self.charge_key.clone(),
            subscription: self.subscription_id.clone(),
            kind,
            charge_period,
            service,
            list_price: Money::new(decimal(&self.list_price)?, currency),
            line,
        })
    }
}

/// An ISO date as stored.
pub(crate) fn date(text: &str) -> DeskResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|e| internal(format!("date {text}: {e}")))
}

/// The lines of these invoices, ordered by invoice and position. On SQLite they come back as
/// one aggregated JSON row: sqlx hands every SQLite row across threads on its own, which
/// costs more than the query itself when an export reads millions of lines.
pub async fn lines_of(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[String],
) -> DeskResult<Vec<LineRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let inner = format!(
        "SELECT {LINE_FIELDS} FROM invoice_lines WHERE invoice_id IN ({{ids}}) \
         ORDER BY invoice_id, position"
    );
    let sql = match backend {
        Backend::Sqlite => {
            format!("SELECT json_group_array(json_array({LINE_FIELDS})) AS rows FROM ({inner})")
        }
        Backend::Postgres => inner,
    };
    let rows = super::load::fetch_in(conn, backend, &sql, ids).await?;
    match backend {
        Backend::Sqlite => {
            let text: Option<String> = rows.first().map(|r| r.try_get("rows")).transpose()?;
            match text {
                Some(t) if !t.is_empty() => Ok(serde_json::from_str(&t)?),
                _ => Ok(Vec::new()),
            }
        }
        Backend::Postgres => rows.iter().map(LineRow::from_row).collect(),
    }
}

/// The lines of one invoice, in order.
pub async fn lines(conn: &mut AnyConnection, invoice: &InvoiceView) -> DeskResult<Vec<RatedLine>> {
    let currency = Currency::from_code(&invoice.currency).map_err(internal)?;
    let sql =
        format!("SELECT {LINE_FIELDS} FROM invoice_lines WHERE invoice_id = $1 ORDER BY position");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(invoice.id.clone())
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| LineRow::from_row(r)?.rated(currency, invoice.kept.rounding))
        .collect()
}
