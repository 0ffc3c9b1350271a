//! The home page (each role's starting point) and the catalog: what the viewer's account may
//! order, each offering with its service definition and prices.

use super::page::{money, render, Chrome, Page};
use super::session::Viewer;
use super::WebState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use l2c_catalog::{Offering, OrderAction, OrderContext, Price, PriceAmount, ServiceDefinition};
use l2c_orders::accounts;
use l2c_orders::error::DeskError;
use l2c_orders::users::Role;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/catalog", get(list))
        .route("/catalog/{id}", get(show))
}

/// `/`: requesters start at the catalog, approvers and engineers at their inbox.
pub async fn home(viewer: Viewer) -> Response {
    let to = match viewer.user.role {
        Role::Requester | Role::Finance => "/catalog",
        Role::Approver | Role::Engineer | Role::Admin => "/inbox",
    };
    Redirect::to(to).into_response()
}

/// What the viewer may order now as new products (the catalog page's list).
pub async fn orderable<'a>(
    state: &'a WebState,
    viewer: &Viewer,
) -> Result<Vec<&'a Offering>, DeskError> {
    let all = eligible(state, viewer).await?;
    Ok(all
        .into_iter()
        .filter(|o| o.actions().contains(&OrderAction::Add))
        .collect())
}

/// What the viewer may order now, any action: a requester, what their customer account is
/// eligible for; everyone else, every offering that takes orders (newest version of each).
pub async fn eligible<'a>(
    state: &'a WebState,
    viewer: &Viewer,
) -> Result<Vec<&'a Offering>, DeskError> {
    let app = &state.app;
    let today = app.orders.today();
    let offerings: Vec<&Offering> = match viewer.user.account_scope()? {
        Some(account) => {
            let mut conn = state.conn().await?;
            let customer = accounts::customer(&mut conn, account)
                .await?
                .ok_or_else(|| DeskError::not_found("customer account", account))?;
            let ctx = OrderContext {
                segment: customer.segment,
                country: customer.country,
                date: today,
            };
            app.catalog.orderable(&ctx)
        }
        None => {
            let mut newest: Vec<&Offering> = Vec::new();
            for o in app
                .catalog
                .offerings()
                .iter()
                .filter(|o| o.orderable_on(today))
            {
                match newest.last_mut() {
                    Some(last) if last.id() == o.id() => *last = o,
                    _ => newest.push(o),
                }
            }
            newest
        }
    };
    Ok(offerings)
}

/// One price in words: `Installation: 1,750.00 EUR one-time`, tiers listed.
pub fn price_words(p: &Price) -> String {
    let currency = p.currency().code();
    let per = p.per_unit().map_or(String::new(), |u| format!(" per {u}"));
    let amount = match p.amount() {
        PriceAmount::Flat(m) => money(&m.amount().to_string(), currency),
        PriceAmount::Tiered { by, tiers } => {
            let each: Vec<String> = tiers
                .iter()
                .map(|t| {
                    format!(
                        "{} at {}",
                        money(&t.amount.amount().to_string(), currency),
                        t.when
                    )
                })
                .collect();
            format!("by {by}: {}", each.join(", "))
        }
    };
    format!("{}: {amount}{per}, {}", p.name(), p.kind())
}

struct Card {
    id: String,
    name: String,
    description: String,
    prices: Vec<String>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    chrome: Chrome,
    cards: Vec<Card>,
    may_order: bool,
}

async fn list(State(state): State<WebState>, viewer: Viewer) -> Page {
    let offerings = orderable(&state, &viewer)
        .await
        .map_err(|e| viewer.error(e))?;
    let cards = offerings
        .iter()
        .map(|o| Card {
            id: o.id().to_string(),
            name: o.name().to_string(),
            description: o.service().description.clone(),
            prices: o.prices().iter().map(price_words).collect(),
        })
        .collect();
    Ok(render(&CatalogPage {
        chrome: Chrome::new(&viewer, "Catalog", "/catalog"),
        cards,
        may_order: viewer.user.role == Role::Requester,
    }))
}

#[derive(Template)]
#[template(path = "offering.html")]
struct OfferingPage {
    chrome: Chrome,
    id: String,
    name: String,
    version: u32,
    service: ServiceDefinition,
    eligibility: String,
    prices: Vec<String>,
    may_order: bool,
}

async fn show(State(state): State<WebState>, viewer: Viewer, Path(id): Path<String>) -> Page {
    let offerings = orderable(&state, &viewer)
        .await
        .map_err(|e| viewer.error(e))?;
    let Some(o) = offerings.into_iter().find(|o| o.id() == id) else {
        return Err(viewer.error(DeskError::not_found("offering", id)));
    };
    let e = o.eligibility();
    let list = |v: &[String]| {
        if v.is_empty() {
            "any".to_string()
        } else {
            v.join(", ")
        }
    };
    Ok(render(&OfferingPage {
        chrome: Chrome::new(&viewer, o.name(), "/catalog"),
        id: o.id().to_string(),
        name: o.name().to_string(),
        version: o.version(),
        service: o.service().clone(),
        eligibility: format!(
            "Segments: {}. Countries: {}.",
            list(&e.segments),
            list(&e.countries)
        ),
        prices: o.prices().iter().map(price_words).collect(),
        may_order: viewer.user.role == Role::Requester,
    }))
}
