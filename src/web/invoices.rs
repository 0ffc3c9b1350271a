//! Invoices: the issued documents of the viewer's account (finance and admins: every
//! document, filtered by account, number, period, kind and status), a page at a time; one
//! document with its lines, VAT breakdown and totals (printable as one A4 page), its UBL and
//! PDF downloads; and finance's corrections: voiding a draft after a confirmation, and a
//! credit note shown in full before it is issued. Who sees what is `l2c_invoicing::visible`'s
//! rule, voiding and crediting `l2c_invoicing::ops`', the API's too.

use super::finance::{finance, notice};
use super::page::{money, render, Chrome, Page};
use super::session::{Posted, Viewer};
use super::WebState;
use crate::http::extract::{require, FinanceAndAdmins, Roles};
use crate::http::invoices::file_response;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use chrono::{Months, NaiveDate};
use l2c_billing::{Invoice, IssuedDocument};
use l2c_invoicing::export::Format;
use l2c_invoicing::ops;
use l2c_invoicing::read::InvoiceView;
use l2c_invoicing::visible::{self, Wanted, INVOICE_READERS};
use l2c_orders::error::DeskError;
use serde::{Deserialize, Serialize};

/// Invoices per page.
const PAGE: i64 = 25;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/invoices", get(list))
        .route("/invoices/{id}", get(show))
        .route("/invoices/{id}/ubl", get(ubl))
        .route("/invoices/{id}/pdf", get(pdf))
        .route("/invoices/{id}/void", get(confirm_void).post(void))
        .route(
            "/invoices/{id}/credit-note",
            get(credit_preview).post(credit),
        )
}

/// The list's filters, as the filter form sends them (empty means any).
#[derive(Deserialize, Serialize, Default, Clone)]
struct ListQuery {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    number: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    period: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// `text` trimmed, or `None` when empty.
fn given(text: &str) -> Option<String> {
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The days of month `text` (`YYYY-MM`): its first day and the first day after it.
fn month(text: &str) -> Option<(String, String)> {
    let first = NaiveDate::parse_from_str(&format!("{}-01", text.trim()), "%Y-%m-%d").ok()?;
    let next = first.checked_add_months(Months::new(1))?;
    Some((first.to_string(), next.to_string()))
}

impl ListQuery {
    /// What to list, and the problem with the period if it is not a month.
    fn wanted(&self) -> (Wanted, Option<String>) {
        let period = given(&self.period);
        let overlapping = period.as_deref().and_then(month);
        let problem = (period.is_some() && overlapping.is_none())
            .then(|| "write a month as YYYY-MM, e.g. 2026-12".to_string());
        let one_of =
            |value: &str, allowed: &[&str]| given(value).filter(|v| allowed.contains(&v.as_str()));
        let wanted = Wanted {
            account: given(&self.account),
            number: given(&self.number),
            kind: one_of(&self.kind, &["invoice", "credit_note"]),
            status: one_of(&self.status, &["draft", "issued", "void"]),
            overlapping,
            after: self.after.clone(),
            ..Wanted::default()
        };
        (wanted, problem)
    }

    /// The link to the page after the invoice `last`, with the same filters.
    fn next_link(&self, last: &str) -> String {
        let mut q = self.clone();
        q.after = Some(last.to_string());
        format!(
            "/invoices?{}",
            serde_urlencoded::to_string(&q).unwrap_or_default()
        )
    }

    fn filtered(&self) -> bool {
        [
            &self.account,
            &self.number,
            &self.period,
            &self.kind,
            &self.status,
        ]
        .iter()
        .any(|v| !v.trim().is_empty())
    }
}

struct Row {
    id: String,
    number: String,
    account: String,
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
    q: ListQuery,
    finance: bool,
    period_error: Option<String>,
    filtered: bool,
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
        account: i.billing_account.clone(),
        kind: kind_words(&i.kind),
        status: i.status.clone(),
        period: super::page::period(&i.period_start, &i.period_end),
        issued: i.issue_date.clone().unwrap_or_default(),
        due: i.due_date.clone().unwrap_or_default(),
        payable: money(&i.payable, &i.currency),
        id: i.id,
    }
}

/// Whether the viewer may correct documents (finance and admins, the API's roles).
fn corrects(viewer: &Viewer) -> bool {
    require(&viewer.user, FinanceAndAdmins::ROLES).is_ok()
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(q): Query<ListQuery>) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let user = require(&viewer.user, INVOICE_READERS).map_err(fail)?;
    let (wanted, period_error) = q.wanted();
    let mut found = visible::invoices(&state.app.db, user, wanted, PAGE + 1)
        .await
        .map_err(fail)?;
    let more = found.len() as i64 > PAGE;
    found.truncate(PAGE as usize);
    let next = more
        .then(|| found.last().map(|i| q.next_link(&i.id)))
        .flatten();
    let page = render(&ListPage {
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
        finance: corrects(&viewer),
        filtered: q.filtered(),
        period_error: period_error.clone(),
        q,
    });
    Ok(if period_error.is_some() {
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    } else {
        page
    })
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
    body: Body,
    files: bool,
    may_void: bool,
    may_credit: bool,
}

/// A document's lines, VAT breakdown and totals as pages show them.
struct Body {
    lines: Vec<Line>,
    vat: Vec<(String, String, String)>,
    net: String,
    tax: String,
    payable: String,
}

fn m(x: l2c_billing::Money) -> String {
    money(&x.amount().to_string(), x.currency().code())
}

fn body(doc: &Invoice) -> Body {
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
    Body {
        lines,
        vat,
        net: m(totals.tax_exclusive),
        tax: m(totals.tax_total),
        payable: m(totals.payable),
    }
}

fn title_of(invoice: &InvoiceView) -> String {
    format!(
        "{} {}",
        kind_words(&invoice.kind),
        invoice.number.clone().unwrap_or_default()
    )
    .trim_end()
    .to_string()
}

#[derive(Deserialize)]
struct Did {
    did: Option<String>,
}

async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(d): Query<Did>,
) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let user = require(&viewer.user, INVOICE_READERS).map_err(fail)?;
    let (invoice, document) = visible::invoice(&state.app.db, user, &id)
        .await
        .map_err(fail)?;
    let words = [
        (
            "voided",
            "The draft was voided; it keeps no number and bills nothing.",
        ),
        ("credited", "The credit note was issued."),
    ];
    let finance = corrects(&viewer);
    Ok(render(&DocumentPage {
        chrome: Chrome::new(&viewer, title_of(&invoice), "/invoices")
            .notice(notice(d.did.as_deref(), &words)),
        body: body(&document.invoice),
        files: visible::files_allowed(&invoice).is_ok(),
        may_void: finance && invoice.status == "draft",
        may_credit: finance && invoice.status == "issued" && invoice.kind == "invoice",
        invoice: row(invoice),
        document,
    }))
}

#[derive(Template)]
#[template(path = "finance_void.html")]
struct VoidPage {
    chrome: Chrome,
    invoice: Row,
}

/// Asks before voiding: a voided draft stays, numberless, and its lines are billed again by
/// the next run.
async fn confirm_void(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Page {
    let user = finance(&viewer)?;
    let (invoice, _) = visible::invoice(&state.app.db, user, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(render(&VoidPage {
        chrome: Chrome::new(&viewer, "Void this draft?", "/invoices"),
        invoice: row(invoice),
    }))
}

async fn void(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Page {
    let viewer = posted.viewer;
    finance(&viewer)?;
    ops::void_draft(&state.app.invoicing, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(Redirect::to(&format!("/invoices/{id}?did=voided")).into_response())
}

#[derive(Template)]
#[template(path = "finance_credit_note.html")]
struct CreditPage {
    chrome: Chrome,
    invoice: Row,
    body: Body,
    existing: Option<String>,
}

/// The credit note an issued invoice would get, in full, before it is issued.
async fn credit_preview(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Page {
    finance(&viewer)?;
    let preview = ops::credit_preview(&state.app.invoicing, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    let title = format!("Credit note for {}", title_of(&preview.invoice));
    Ok(render(&CreditPage {
        chrome: Chrome::new(&viewer, title, "/invoices"),
        body: body(&preview.note),
        existing: preview.existing,
        invoice: row(preview.invoice),
    }))
}

async fn credit(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Page {
    let viewer = posted.viewer;
    finance(&viewer)?;
    let note = ops::credit_invoice(&state.app.invoicing, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(Redirect::to(&format!("/invoices/{}?did=credited", note.id)).into_response())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_filter_covers_the_month() {
        assert_eq!(
            month("2026-12"),
            Some(("2026-12-01".to_string(), "2027-01-01".to_string()))
        );
        assert_eq!(month("2026-13"), None);
        assert_eq!(month("December"), None);
    }

    #[test]
    fn unknown_kinds_and_statuses_filter_nothing_and_a_bad_month_is_a_problem() {
        let q = ListQuery {
            kind: "receipt".into(),
            status: "void".into(),
            period: "soon".into(),
            ..ListQuery::default()
        };
        let (wanted, problem) = q.wanted();
        assert_eq!(wanted.kind, None);
        assert_eq!(wanted.status.as_deref(), Some("void"));
        assert!(problem.is_some());
    }
}
