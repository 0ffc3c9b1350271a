//! My products: the running products of the viewer's account with their characteristics;
//! "Modify" opens the change offering's form prefilled with the current values, and
//! "Disconnect" asks for confirmation, then places the delete order (`l2c_orders::place`).

use super::catalog::eligible;
use super::form::label;
use super::page::{render, when, Chrome, Page};
use super::session::{Posted, Viewer};
use super::WebState;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use l2c_catalog::OrderAction;
use l2c_orders::error::DeskError;
use l2c_orders::inventory::{self, Product};
use l2c_orders::may_see;
use l2c_orders::model::{OrderItemRequest, OrderRequest};
use serde::Deserialize;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/products", get(list))
        .route("/products/{id}/disconnect", get(confirm).post(disconnect))
}

struct Row {
    id: String,
    offering: String,
    status: String,
    since: String,
    characteristics: Vec<(String, String)>,
    modify: Option<String>,
    disconnect: bool,
}

#[derive(Template)]
#[template(path = "products.html")]
struct ProductsPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

fn characteristics(p: &Product) -> Vec<(String, String)> {
    p.characteristics
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        label(k),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn list(State(state): State<WebState>, viewer: Viewer) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let account = viewer.user.account_scope().map_err(fail)?;
    let mut conn = state.conn().await.map_err(fail)?;
    let products = inventory::list(&mut conn, account).await.map_err(fail)?;
    drop(conn);
    let offerings = eligible(&state, &viewer).await.map_err(fail)?;
    let rows = products
        .iter()
        .filter(|p| p.status != "terminated")
        .map(|p| {
            let active = p.status == "active";
            let modify = offerings
                .iter()
                .find(|o| o.modifies().is_some_and(|m| m.offering == p.offering))
                .filter(|_| active)
                .map(|o| format!("/order/{}?product={}", o.id(), p.id));
            let disconnect = active
                && state
                    .app
                    .catalog
                    .get(&p.offering, p.version)
                    .is_some_and(|o| o.actions().contains(&OrderAction::Delete));
            Row {
                id: p.id.clone(),
                offering: p.offering.clone(),
                status: p.status.clone(),
                since: p.activated_at.as_ref().map(when).unwrap_or_default(),
                characteristics: characteristics(p),
                modify,
                disconnect,
            }
        })
        .collect();
    Ok(render(&ProductsPage {
        chrome: Chrome::new(&viewer, "My products", "/products"),
        rows,
    }))
}

/// The product, if the viewer may see it.
async fn product(state: &WebState, viewer: &Viewer, id: &str) -> Result<Product, DeskError> {
    let mut conn = state.conn().await?;
    inventory::get(&mut conn, id)
        .await?
        .filter(|p| may_see(&viewer.user, &p.customer_account))
        .ok_or_else(|| DeskError::not_found("product", id))
}

#[derive(Template)]
#[template(path = "disconnect.html")]
struct ConfirmPage {
    chrome: Chrome,
    id: String,
    offering: String,
    characteristics: Vec<(String, String)>,
    key: String,
}

async fn confirm(State(state): State<WebState>, viewer: Viewer, Path(id): Path<String>) -> Page {
    let p = product(&state, &viewer, &id)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(render(&ConfirmPage {
        chrome: Chrome::new(&viewer, format!("Disconnect {id}"), "/products"),
        characteristics: characteristics(&p),
        offering: p.offering,
        id,
        key: uuid::Uuid::now_v7().to_string(),
    }))
}

#[derive(Deserialize)]
struct Disconnect {
    key: Option<String>,
    notes: Option<String>,
}

async fn disconnect(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<Disconnect>,
) -> Page {
    let Posted { viewer, form } = posted;
    let fail = |e: DeskError| viewer.error(e);
    let p = product(&state, &viewer, &id).await.map_err(fail)?;
    let request = OrderRequest {
        billing_account: p.billing_account.clone(),
        external_id: None,
        requested_completion_date: None,
        notes: form.notes.filter(|n| !n.trim().is_empty()),
        items: vec![OrderItemRequest {
            action: OrderAction::Delete,
            offering: p.offering.clone(),
            version: None,
            quantity: 1,
            characteristics: Default::default(),
            product: Some(p.id.clone()),
        }],
    };
    let key = form.key.filter(|k| !k.is_empty());
    let placed = state
        .app
        .place_order(&viewer.user, &request, key.as_deref())
        .await
        .map_err(fail)?;
    Ok(Redirect::to(&format!("/orders/{}?placed=1", placed.order_id)).into_response())
}
