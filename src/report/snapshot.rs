//! Frozen months (`report_snapshots`): a closed month's KPI values, and its whole report once
//! one was asked for, kept as computed so data arriving late does not rewrite the past.

use super::measure::Values;
use super::month::Month;
use super::Report;
use l2c_engine::db::Db;
use l2c_orders::error::{internal, DeskResult};
use sqlx::Row;

/// What is frozen for `month`: its values, and its report if one was made.
pub async fn read(db: &Db, month: Month) -> DeskResult<Option<(Values, Option<Report>)>> {
    let row = sqlx::query("SELECT kpi_values, report FROM report_snapshots WHERE month = $1")
        .bind(month.to_string())
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let values: String = row.try_get("kpi_values")?;
    let report: Option<String> = row.try_get("report")?;
    let values = serde_json::from_str(&values).map_err(internal)?;
    let report = report
        .map(|r| serde_json::from_str(&r))
        .transpose()
        .map_err(internal)?;
    Ok(Some((values, report)))
}

/// Freezes `month` with `values` (and `report`), replacing what was frozen before.
pub async fn write(
    db: &Db,
    month: Month,
    values: &Values,
    report: Option<&Report>,
    now_ms: i64,
) -> DeskResult<()> {
    let report = report.map(serde_json::to_string).transpose()?;
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO report_snapshots (month, kpi_values, report, computed_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (month) DO UPDATE SET \
         kpi_values = excluded.kpi_values, report = excluded.report, \
         computed_at = excluded.computed_at",
    )
    .bind(month.to_string())
    .bind(serde_json::to_string(values)?)
    .bind(report)
    .bind(now_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}
