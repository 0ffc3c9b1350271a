//! My invoices: the issued documents of the viewer's account (finance and admins: all), a
//! page at a time, and one document with its lines, VAT breakdown and totals, with its UBL
//! download. Who sees what is `l2c_invoicing::visible`'s rule, the API's too.

use super::page::{money, render, Chrome, Page};
use super::session::Viewer;
use super::WebState;
use crate::http::extract::require;
use crate::http::invoices::file_response;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use l2c_billing::IssuedDocument;
use l2c_invoicing::export::Format;
use l2c_invoicing::read::InvoiceView;
use l2c_invoicing::visible::{self, Wanted, INVOICE_READERS};
use l2c_orders::error::DeskError;
use serde::Deserialize;

/// Invoices per page.
const PAGE: i64 = 25;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/invoices", get(list))
        .route("/invoices/{id}", get(show))
        .route("/invoices/{id}/ubl", get(ubl))
        .route("/invoices/{id}/pdf", get(pdf))
}

#[derive(Deserialize)]
struct ListQuery {
    after: Option<String>,
}

struct Row {
    id: String,
    number: String,
    kind: String,
    status: String,
    period: String,
    issued: String,
    due: String,
    payable: String,
}

#[derive(Template)]
#[template(path = "invoices.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    next: Option<String>,
}

fn kind_words(kind: &str) -> String {
    if kind == "credit_note" {
        "Credit note"
    } else {
        "Invoice"
    }
    .to_string()
}

fn row(i: InvoiceView) -> Row {
    Row {
        number: i.number.clone().unwrap_or_else(|| "(draft)".into()),
        kind: kind_words(&i.kind),
        status: i.status.clone(),
        period: format!("{} to {}", i.period_start, i.period_end),
        issued: i.issue_date.clone().unwrap_or_default(),
        due: i.due_date.clone().unwrap_or_default(),
        payable: money(&i.payable, &i.currency),
        id: i.id,
    }
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(q): Query<ListQuery>) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let user = require(&viewer.user, INVOICE_READERS).map_err(fail)?;
    let wanted = Wanted {
        after: q.after,
        ..Wanted::default()
    };
    let mut found = visible::invoices(&state.app.db, user, wanted, PAGE + 1)
        .await
        .map_err(fail)?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let next = more
        .then(|| found.last().map(|i| format!("/invoices?after={}", i.id)))
        .flatten();
    Ok(render(&ListPage {
        chrome: Chrome::new(
            &viewer,
            if viewer.user.account.is_some() {
                "My invoices"
            } else {
                "Invoices"
            },
            "/invoices",
        ),
        rows: found.into_iter().map(row).collect(),
        next,
    }))
}

struct Line {
    description: String,
    period: String,
    quantity: String,
    unit: String,
    net: String,
    vat: String,
}

#[derive(Template)]
#[template(path = "invoice.html")]
struct DocumentPage {
    chrome: Chrome,
    invoice: Row,
    document: IssuedDocument,
    lines: Vec<Line>,
    vat: Vec<(String, String, String)>,
    net: String,
    tax: String,
    payable: String,
    files: bool,
}

async fn show(State(state): State<WebState>, viewer: Viewer, Path(id): Path<String>) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let user = require(&viewer.user, INVOICE_READERS).map_err(fail)?;
    let (invoice, document) = visible::invoice(&state.app.db, user, &id)
        .await
        .map_err(fail)?;
    let m = |x: l2c_billing::Money| money(&x.amount().to_string(), x.currency().code());
    let doc = &document.invoice;
    let lines = doc
        .lines()
        .iter()
        .map(|l| Line {
            description: l.description().to_string(),
            period: l.period().map(|p| p.to_string()).unwrap_or_default(),
            quantity: l.quantity().normalize().to_string(),
            unit: m(l.unit_price()),
            net: m(l.net()),
            vat: l.tax().to_string(),
        })
        .collect();
    let vat = doc
        .tax_subtotals()
        .iter()
        .map(|t| (t.rate.to_string(), m(t.taxable), m(t.tax)))
        .collect();
    let totals = doc.totals();
    let title = format!(
        "{} {}",
        kind_words(&invoice.kind),
        invoice.number.clone().unwrap_or_default()
    );
    Ok(render(&DocumentPage {
        chrome: Chrome::new(&viewer, title, "/invoices"),
        net: m(totals.tax_exclusive),
        tax: m(totals.tax_total),
        payable: m(totals.payable),
        files: visible::files_allowed(&invoice).is_ok(),
        invoice: row(invoice),
        lines,
        vat,
        document,
    }))
}

async fn ubl(state: State<WebState>, viewer: Viewer, id: Path<String>) -> Page {
    file(state, viewer, id, Format::Ubl).await
}

async fn pdf(state: State<WebState>, viewer: Viewer, id: Path<String>) -> Page {
    file(state, viewer, id, Format::Pdf).await
}

/// The UBL or PDF file of a visible issued document, as the API gives it.
async fn file(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    format: Format,
) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let user = require(&viewer.user, INVOICE_READERS).map_err(fail)?;
    let (invoice, document) = visible::invoice(&state.app.db, user, &id)
        .await
        .map_err(fail)?;
    visible::files_allowed(&invoice).map_err(fail)?;
    let response = file_response(&document, format).map_err(|e| viewer.error(e))?;
    Ok(response.into_response())
}
