//! The report as text (a terminal), CSV (a spreadsheet) and JSON (the API), all from one
//! [`Report`], so the three always agree.

use super::Report;
use rust_decimal::Decimal;

fn shown(value: Option<Decimal>) -> String {
    value
        .map(|v| v.normalize().to_string())
        .unwrap_or_else(|| "-".into())
}

/// The CSV header: stable, one row per KPI.
pub const CSV_COLUMNS: [&str; 10] = [
    "month", "csf", "kpi", "title", "unit", "value", "previous", "year_ago", "target", "status",
];

/// The report as CSV (RFC 4180), one row per KPI followed by a row per part of its
/// breakdown (`kpi` is `id@part`; only the month's value); the trend is in the JSON.
pub fn csv(report: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS)?;
    for k in &report.kpis {
        let status = serde_json::to_value(k.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        w.write_record([
            report.month.as_str(),
            &k.csf,
            &k.id,
            &k.title,
            &k.unit,
            &shown(k.value),
            &shown(k.previous),
            &shown(k.year_ago),
            &shown(k.target),
            &status,
        ])?;
        for p in &k.breakdown {
            let id = format!("{}@{}", k.id, p.name);
            let title = format!("{} ({})", k.title, p.name);
            let value = shown(p.value);
            let row = [report.month.as_str(), &k.csf, &id, &title, &k.unit, &value];
            w.write_record(row.into_iter().chain(["", "", "", ""]))?;
        }
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The report as text: CSF by CSF, a KPI a line with its insight under it.
pub fn text(report: &Report) -> String {
    let mut out = format!(
        "Monthly Operating Report {}{}\n",
        report.month,
        if report.frozen {
            " (frozen)"
        } else {
            " (live: the month is not over or not billed yet)"
        }
    );
    let mut csf = "";
    for k in &report.kpis {
        if k.csf != csf {
            csf = &k.csf;
            out.push_str(&format!("\n{csf}\n"));
        }
        out.push_str(&format!(
            "  {:<52} {:>12} {:<8} prev {:>10}  target {:>8}  {:?}\n    {}\n",
            k.title,
            shown(k.value),
            k.unit,
            shown(k.previous),
            shown(k.target),
            k.status,
            k.insight
        ));
        if let Some(words) = k.breakdown_words(usize::MAX) {
            out.push_str(&format!("    {words}\n"));
        }
    }
    for (csf, why) in &report.not_measured {
        out.push_str(&format!("\nNot measured ({csf}): {why}\n"));
    }
    out
}
