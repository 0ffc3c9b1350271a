//! The Monthly Operating Report page (finance and admins): every CSF's KPIs for a month with
//! the month before, a year before, the target, the status, a 12-month sparkline drawn as our
//! own inline SVG (numbers only, no script) and the sentence on what the data says; a month
//! picker, a CSV download and a print stylesheet. The report is `crate::report::monthly`, as
//! the API's.

use super::page::{render, Chrome, Page};
use super::session::Viewer;
use super::WebState;
use crate::http::extract::{require, FinanceAndAdmins, Roles};
use crate::report::{self, kpi::Status, output, Context, Line};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use l2c_orders::error::DeskError;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/report", get(show))
        .route("/report/csv", get(csv))
}

#[derive(Deserialize)]
struct MonthQuery {
    #[serde(default)]
    month: Option<String>,
}

/// One CSF with its KPIs.
struct Section {
    title: String,
    rows: Vec<Row>,
}

struct Row {
    title: String,
    value: String,
    previous: String,
    year_ago: String,
    target: String,
    status: &'static str,
    spark: String,
    insight: String,
    breakdown: String,
}

/// The report saved as one HTML file (`l2c report monthly --format html`): the page's
/// sections with the stylesheet inline, no navigation.
#[derive(Template)]
#[template(path = "report_file.html")]
struct ReportFile {
    css: String,
    month: String,
    frozen: bool,
    sections: Vec<Section>,
    not_measured: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Chrome,
    month: String,
    frozen: bool,
    sections: Vec<Section>,
    not_measured: Vec<(String, String)>,
}

fn shown(value: Option<Decimal>, unit: &str) -> String {
    value.map_or_else(|| "–".into(), |v| report::kpi::quantity(v, unit))
}

fn status_words(status: Status) -> &'static str {
    match status {
        Status::Met => "met",
        Status::Near => "near",
        Status::Missed => "missed",
        Status::None => "",
    }
}

/// A 12-point sparkline: a polyline over the months with data and a dot on the last one,
/// scaled to the trend's own range. Only numbers go into the markup.
pub fn sparkline(trend: &[(String, Option<Decimal>)]) -> String {
    let (w, h, pad) = (120.0, 28.0, 3.0);
    let points: Vec<(usize, f64)> = trend
        .iter()
        .enumerate()
        .filter_map(|(i, (_, v))| v.and_then(|v| v.to_f64()).map(|v| (i, v)))
        .collect();
    if points.is_empty() {
        return String::new();
    }
    let (lo, hi) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (_, v)| {
            (lo.min(*v), hi.max(*v))
        });
    let span = if hi > lo { hi - lo } else { 1.0 };
    let step = (w - 2.0 * pad) / (trend.len().max(2) - 1) as f64;
    let xy = |(i, v): (usize, f64)| {
        let x = pad + step * i as f64;
        let y = h - pad - (v - lo) / span * (h - 2.0 * pad);
        (x, y)
    };
    let line: Vec<String> = points
        .iter()
        .map(|p| {
            let (x, y) = xy(*p);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let (lx, ly) = points.last().map(|p| xy(*p)).unwrap_or_default();
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" \
         aria-label=\"12-month trend\"><polyline fill=\"none\" stroke=\"currentColor\" \
         stroke-width=\"1.5\" points=\"{}\"/><circle cx=\"{lx:.1}\" cy=\"{ly:.1}\" r=\"2.5\"/></svg>",
        line.join(" ")
    )
}

fn row(k: &Line) -> Row {
    Row {
        title: k.title.clone(),
        value: shown(k.value, &k.unit),
        previous: shown(k.previous, &k.unit),
        year_ago: shown(k.year_ago, &k.unit),
        target: shown(k.target, &k.unit),
        status: status_words(k.status),
        spark: sparkline(&k.trend),
        insight: k.insight.clone(),
        breakdown: k.breakdown_words(5).unwrap_or_default(),
    }
}

/// The report's KPIs CSF by CSF, as the page and the file show them.
fn sections(report: &report::Report) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for k in &report.kpis {
        match sections.last_mut() {
            Some(s) if s.title == k.csf => s.rows.push(row(k)),
            _ => sections.push(Section {
                title: k.csf.clone(),
                rows: vec![row(k)],
            }),
        }
    }
    sections
}

/// The report as one stand-alone HTML file with the desk's stylesheet inline.
pub fn standalone(report: &report::Report) -> Result<String, askama::Error> {
    ReportFile {
        css: super::assets::text("desk.css"),
        month: report.month.clone(),
        frozen: report.frozen,
        sections: sections(report),
        not_measured: report.not_measured.clone(),
    }
    .render()
}

async fn report_of(state: &WebState, month: Option<&str>) -> Result<report::Report, DeskError> {
    let ctx = Context::of(&state.app);
    let month = ctx.month(month)?;
    report::monthly(&ctx, month, false).await
}

async fn show(State(state): State<WebState>, viewer: Viewer, Query(q): Query<MonthQuery>) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    require(&viewer.user, FinanceAndAdmins::ROLES).map_err(fail)?;
    let report = report_of(&state, q.month.as_deref()).await.map_err(fail)?;
    Ok(render(&ReportPage {
        chrome: Chrome::new(
            &viewer,
            format!("Operating report {}", report.month),
            "/report",
        ),
        month: report.month.clone(),
        frozen: report.frozen,
        sections: sections(&report),
        not_measured: report.not_measured.clone(),
    }))
}

async fn csv(State(state): State<WebState>, viewer: Viewer, Query(q): Query<MonthQuery>) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    require(&viewer.user, FinanceAndAdmins::ROLES).map_err(fail)?;
    let report = report_of(&state, q.month.as_deref()).await.map_err(fail)?;
    let text = output::csv(&report).map_err(|e| fail(DeskError::Internal(e.to_string())))?;
    let name = format!(
        "attachment; filename=\"operating-report-{}.csv\"",
        report.month
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        text,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_draw_only_the_months_with_data() {
        let trend: Vec<(String, Option<Decimal>)> = (0..12)
            .map(|i| (format!("m{i}"), (i > 9).then(|| Decimal::from(i))))
            .collect();
        let svg = sparkline(&trend);
        assert_eq!(svg.matches(',').count(), 2, "two points: {svg}");
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(sparkline(&[("m".into(), None)]).is_empty());
    }
}
