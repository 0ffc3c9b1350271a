//! `/api/v1/catalog`: offerings with their characteristics, prices and service definitions.

use super::extract::{ApiPath, Caller};
use super::problem::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use l2c_catalog::{Offering, Price, PriceAmount};
use l2c_orders::error::DeskError;
use serde_json::{json, Value};

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/catalog/offerings", get(list_offerings))
        .route("/catalog/offerings/{id}", get(get_offering))
}

fn price_json(p: &Price) -> Value {
    let amount = match p.amount() {
        PriceAmount::Flat(m) => json!({ "flat": m.amount().to_string() }),
        PriceAmount::Tiered { by, tiers } => json!({
            "tiered_by": by,
            "tiers": tiers.iter().map(|t| json!({
                "when": t.when.to_string(),
                "amount": t.amount.amount().to_string(),
            })).collect::<Vec<_>>(),
        }),
    };
    json!({
        "id": p.id(),
        "name": p.name(),
        "kind": p.kind(),
        "currency": p.currency().code(),
        "amount": amount,
        "per_unit": p.per_unit(),
    })
}

/// One offering version as JSON (amounts as decimal strings).
pub fn offering_json(o: &Offering) -> Value {
    let (valid_from, valid_to) = o.validity();
    let characteristics: Vec<Value> = o
        .characteristics()
        .iter()
        .map(|c| {
            let (min, max) = c.bounds();
            json!({
                "name": c.name(),
                "type": c.value_type(),
                "required": c.required(),
                "default": c.default(),
                "allowed": c.allowed(),
                "min": min,
                "max": max,
                "pattern": c.pattern(),
                "unit": c.unit(),
                "description": c.description(),
            })
        })
        .collect();
    json!({
        "id": o.id(),
        "version": o.version(),
        "name": o.name(),
        "status": o.status(),
        "valid_from": valid_from,
        "valid_to": valid_to,
        "actions": o.actions(),
        "eligibility": o.eligibility(),
        "characteristics": characteristics,
        "prices": o.prices().iter().map(price_json).collect::<Vec<_>>(),
        "modifies": o.modifies().map(|m| json!({"offering": m.offering, "increase_only": m.increase})),
        "service": o.service(),
    })
}

/// Every offering version (any authenticated user).
#[utoipa::path(get, path = "/api/v1/catalog/offerings", tag = "catalog",
    responses((status = 200, description = "Every version of every offering", body = Vec<Object>)),
    security(("bearer" = [])))]
pub async fn list_offerings(State(state): State<ApiState>, _caller: Caller) -> Json<Vec<Value>> {
    Json(
        state
            .app
            .catalog
            .offerings()
            .iter()
            .map(offering_json)
            .collect(),
    )
}

/// Every version of one offering, oldest first.
#[utoipa::path(get, path = "/api/v1/catalog/offerings/{id}", tag = "catalog",
    params(("id" = String, Path, description = "The offering id, e.g. wan-link")),
    responses((status = 200, body = Vec<Object>), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_offering(
    State(state): State<ApiState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let versions: Vec<Value> = state.app.catalog.versions(&id).map(offering_json).collect();
    if versions.is_empty() {
        return Err(DeskError::not_found("offering", id).into());
    }
    Ok(Json(versions))
}
