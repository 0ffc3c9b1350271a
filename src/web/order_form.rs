//! Ordering: the form an offering's characteristics call for, a review step that shows
//! every problem at its field or the priced order (`l2c_orders::place::preview`, the checks
//! placing runs), and placing (`l2c_orders::place::place`) under the form's idempotency key,
//! so a double click places one order. `POST /order/{id}/quote` answers the same preview as
//! JSON for the live quote script.

use super::catalog::eligible;
use super::error::WebError;
use super::form::{self, field, Fields, Input, ItemTerms, Kind};
use super::page::{money, render, Chrome, Page};
use super::session::{Posted, Viewer};
use super::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use l2c_catalog::{Offering, OrderAction, PriceKind, Quote};
use l2c_orders::error::{DeskError, FieldProblem};
use l2c_orders::inventory::{self, Product};
use l2c_orders::model::OrderRequest;
use l2c_orders::place::{self, Preview};
use l2c_orders::{accounts, may_see};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/order/{offering}", get(blank).post(submit))
        .route("/order/{offering}/quote", post(live_quote))
}

/// What the form is for: an offering, and for a change the running product.
struct Target<'a> {
    offering: &'a Offering,
    action: OrderAction,
    product: Option<Product>,
}

impl Target<'_> {
    fn terms(&self) -> ItemTerms<'_> {
        ItemTerms {
            action: self.action,
            product: self.product.as_ref().map(|p| p.id.as_str()),
        }
    }
}

/// The offering `id` as the viewer may order it, for `product` when one is named (a change of
/// a running product of theirs that the offering modifies).
async fn target<'a>(
    state: &'a WebState,
    viewer: &Viewer,
    id: &str,
    product: Option<&str>,
) -> Result<Target<'a>, WebError> {
    let offerings = eligible(state, viewer).await?;
    let offering = offerings
        .into_iter()
        .find(|o| o.id() == id)
        .ok_or_else(|| DeskError::not_found("offering", id))?;
    let Some(product_id) = product else {
        if !offering.actions().contains(&OrderAction::Add) {
            return Err(WebError::NotFound(format!(
                "{} changes a running product: open it from My products",
                offering.name()
            )));
        }
        return Ok(Target {
            offering,
            action: OrderAction::Add,
            product: None,
        });
    };
    let mut conn = state.conn().await?;
    let found = inventory::get(&mut conn, product_id).await?;
    let product = found
        .filter(|p| may_see(&viewer.user, &p.customer_account))
        .filter(|p| {
            offering
                .modifies()
                .is_some_and(|m| m.offering == p.offering)
        })
        .ok_or_else(|| DeskError::not_found("product", product_id))?;
    Ok(Target {
        offering,
        action: OrderAction::Modify,
        product: Some(product),
    })
}

#[derive(Template)]
#[template(path = "order_form.html")]
struct FormPage {
    chrome: Chrome,
    offering_id: String,
    offering_name: String,
    product: Option<String>,
    increase_only: Vec<String>,
    order_inputs: Vec<Input>,
    characteristics: Vec<Input>,
    general: Vec<String>,
    key: String,
}

async fn account_choices(
    state: &WebState,
    viewer: &Viewer,
) -> Result<Vec<(String, String)>, WebError> {
    let account = viewer.user.account_scope()?;
    let list = accounts::billing_accounts(&state.app.db, account).await?;
    Ok(list
        .into_iter()
        .map(|b| (b.id, format!("{}, {}", b.name, b.currency)))
        .collect())
}

async fn form_page(
    state: &WebState,
    viewer: &Viewer,
    target: &Target<'_>,
    fields: Option<&Fields>,
    problems: &[FieldProblem],
) -> Result<Response, WebError> {
    let accounts = account_choices(state, viewer).await?;
    let with_quantity = target.action == OrderAction::Add;
    let mut order_inputs = form::order_inputs(&accounts, with_quantity, fields);
    let current = target.product.as_ref().map(|p| &p.characteristics);
    let mut characteristics = form::inputs(target.offering, fields, current);
    let by_input = form::problems_by_input(problems);
    let rest = form::attach(&mut characteristics, by_input);
    let rest = form::attach(&mut order_inputs, rest);
    let general: Vec<String> = rest.into_values().flatten().collect();
    let key = fields
        .and_then(|f| field(f, "key"))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_string);
    let verb = if target.product.is_some() {
        "Change"
    } else {
        "Order"
    };
    let name = target.offering.name();
    let page = FormPage {
        chrome: Chrome::new(viewer, format!("{verb} {name}"), "/catalog"),
        offering_id: target.offering.id().to_string(),
        offering_name: name.to_string(),
        product: target.product.as_ref().map(|p| p.id.clone()),
        increase_only: target
            .offering
            .modifies()
            .map(|m| m.increase.clone())
            .unwrap_or_default(),
        order_inputs,
        characteristics,
        general,
        key,
    };
    let mut response = render(&page);
    if !problems.is_empty() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

#[derive(Deserialize)]
struct ForProduct {
    product: Option<String>,
}

async fn blank(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ForProduct>,
) -> Page {
    let fail = |e: WebError| viewer.error(e);
    let target = target(&state, &viewer, &id, q.product.as_deref())
        .await
        .map_err(fail)?;
    form_page(&state, &viewer, &target, None, &[])
        .await
        .map_err(fail)
}

/// One charge line of the review page.
struct Line {
    item: String,
    name: String,
    kind: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "order_review.html")]
struct ReviewPage {
    chrome: Chrome,
    offering_id: String,
    offering_name: String,
    summary: Vec<(String, String)>,
    lines: Vec<Line>,
    one_time_total: String,
    monthly_total: String,
    hidden: Fields,
}

fn charge_lines(quotes: &[Quote]) -> Vec<Line> {
    let mut lines = Vec::new();
    for (i, q) in quotes.iter().enumerate() {
        for c in q.one_time.iter().chain(q.recurring.iter()) {
            let kind = match c.kind {
                PriceKind::OneTime => "one-time".to_string(),
                PriceKind::Recurring(f) => f.to_string(),
            };
            lines.push(Line {
                item: format!("Item {}", i + 1),
                name: c.name.clone(),
                kind,
                amount: money(&c.amount.amount().to_string(), q.currency.code()),
            });
        }
    }
    lines
}

fn review_page(
    viewer: &Viewer,
    target: &Target<'_>,
    fields: &Fields,
    preview: &Preview,
) -> Response {
    let currency = preview.one_time_total.currency().code();
    let mut summary = Vec::new();
    for input in form::inputs(target.offering, Some(fields), None) {
        summary.push((input.label, input.value));
    }
    for (name, label) in [
        ("billing_account", "Billing account"),
        ("quantity", "Quantity"),
        ("requested_completion_date", "Requested completion date"),
        ("external_id", "Your reference"),
        ("notes", "Notes"),
    ] {
        if let Some(v) = field(fields, name).filter(|v| !v.trim().is_empty()) {
            summary.push((label.to_string(), v.to_string()));
        }
    }
    let hidden = fields
        .iter()
        .filter(|(k, _)| k != "step" && k != "csrf")
        .cloned()
        .collect();
    render(&ReviewPage {
        chrome: Chrome::new(
            viewer,
            format!("Review: {}", target.offering.name()),
            "/catalog",
        ),
        offering_id: target.offering.id().to_string(),
        offering_name: target.offering.name().to_string(),
        summary,
        lines: charge_lines(&preview.items),
        one_time_total: money(&preview.one_time_total.amount().to_string(), currency),
        monthly_total: money(&preview.monthly_total.amount().to_string(), currency),
        hidden,
    })
}

/// The posted form read for its target: the API's request and the form's own problems.
async fn read<'a>(
    state: &'a WebState,
    viewer: &Viewer,
    id: &str,
    fields: &Fields,
) -> Result<(Target<'a>, OrderRequest, Vec<FieldProblem>), WebError> {
    let target = target(state, viewer, id, field(fields, "product")).await?;
    let (request, problems) = form::request(target.offering, &target.terms(), fields);
    Ok((target, request, problems))
}

/// The priced order, or every problem (the form's and placing's checks) as one list; other
/// errors pass.
async fn review(
    state: &WebState,
    viewer: &Viewer,
    request: &OrderRequest,
    form_problems: Vec<FieldProblem>,
) -> Result<Result<Preview, Vec<FieldProblem>>, DeskError> {
    let result = place::preview(&state.app.orders, &viewer.user, request).await;
    match result {
        Ok(p) if form_problems.is_empty() => Ok(Ok(p)),
        Ok(_) => Ok(Err(form_problems)),
        Err(DeskError::Validation(mut p)) => {
            p.extend(form_problems);
            Ok(Err(p))
        }
        Err(e) => Err(e),
    }
}

async fn submit(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Fields>,
) -> Page {
    let Posted {
        viewer,
        form: fields,
    } = posted;
    let fail = |e: WebError| viewer.error(e);
    let (target, request, form_problems) =
        read(&state, &viewer, &id, &fields).await.map_err(fail)?;
    match field(&fields, "step") {
        Some("edit") => form_page(&state, &viewer, &target, Some(&fields), &[])
            .await
            .map_err(fail),
        Some("place") if form_problems.is_empty() => {
            let key = field(&fields, "key").filter(|k| !k.is_empty());
            match state.app.place_order(&viewer.user, &request, key).await {
                Ok(placed) => {
                    let to = format!("/orders/{}?placed=1", placed.order_id);
                    Ok(Redirect::to(&to).into_response())
                }
                Err(DeskError::Validation(problems)) => {
                    form_page(&state, &viewer, &target, Some(&fields), &problems)
                        .await
                        .map_err(fail)
                }
                Err(e) => Err(viewer.error(e)),
            }
        }
        _ => {
            let reviewed = review(&state, &viewer, &request, form_problems).await;
            match reviewed.map_err(|e| viewer.error(e))? {
                Ok(preview) => Ok(review_page(&viewer, &target, &fields, &preview)),
                Err(problems) => form_page(&state, &viewer, &target, Some(&fields), &problems)
                    .await
                    .map_err(fail),
            }
        }
    }
}

/// `{"ok": true, "lines": [...], "one_time_total", "monthly_total"}` or `{"ok": false,
/// "problems": {input: [messages]}}`: what the live quote shows as fields change.
async fn live_quote(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Fields>,
) -> Page {
    let Posted {
        viewer,
        form: fields,
    } = posted;
    let (_, request, form_problems) = read(&state, &viewer, &id, &fields)
        .await
        .map_err(|e| viewer.error(e))?;
    let reviewed = review(&state, &viewer, &request, form_problems).await;
    let body = match reviewed.map_err(|e| viewer.error(e))? {
        Ok(p) => {
            let currency = p.one_time_total.currency().code();
            let lines: Vec<_> = charge_lines(&p.items)
                .into_iter()
                .map(
                    |l| json!({"item": l.item, "name": l.name, "kind": l.kind, "amount": l.amount}),
                )
                .collect();
            json!({
                "ok": true,
                "lines": lines,
                "one_time_total": money(&p.one_time_total.amount().to_string(), currency),
                "monthly_total": money(&p.monthly_total.amount().to_string(), currency),
            })
        }
        Err(problems) => {
            let by: HashMap<String, Vec<String>> = form::problems_by_input(&problems);
            json!({"ok": false, "problems": by})
        }
    };
    Ok(Json(body).into_response())
}
