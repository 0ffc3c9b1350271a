//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), served at
//! `/api/openapi.json`, with a browsable page (Scalar) at `/api/docs`.

use super::openapi_problems::Problems;
use super::ApiState;
use super::{
    admin, audit, billing, catalog, hub, inventory, invoices, ops, orders, problem, reports, tasks,
    tmf, users,
};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_scalar::{Scalar, Servable};

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(title = "l2c", description = "Lead-to-cash order provisioning: orders, approvals, \
        commissioning, inventory and billing. Errors are RFC 9457 application/problem+json."),
    paths(
        orders::place_order, orders::list_orders, orders::get_order, orders::cancel_order,
        tasks::list_tasks, tasks::get_task, tasks::claim, tasks::release, tasks::approve,
        tasks::reject, tasks::complete,
        admin::list_incidents, admin::retry_incident, admin::skip_incident, admin::add_user,
        admin::me, admin::add_customer, admin::add_billing, admin::update_billing, admin::list_billing, admin::clock,
        admin::move_clock, admin::list_subscriptions,
        users::list_users, users::list_tokens, users::add_token, users::revoke_token,
        users::rotate_token, users::deactivate, users::reactivate,
        audit::list, audit::verify, audit::trail,
        catalog::list_offerings, catalog::get_offering,
        inventory::list_products, inventory::get_product,
        tmf::create, tmf::list, tmf::retrieve, hub::register, hub::unregister,
        hub::list_dead_letters, hub::replay_one, hub::replay_all,
        billing::start_run, billing::list_runs, billing::get_run, billing::issue_run,
        billing::export_run, invoices::list_invoices, invoices::get_invoice, invoices::invoice_ubl,
        invoices::invoice_pdf, reports::monthly, invoices::void_invoice, invoices::credit_invoice, billing::list_schedules,
        billing::add_schedule, billing::remove_schedule,
        ops::healthz, ops::readyz, ops::metrics,
    ),
    components(schemas(problem::Problem, problem::FieldError, l2c_invoicing::export::Format)),
    modifiers(&Bearer, &Problems),
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document of this server: the sandbox clock's paths only where it runs on one, so that
/// every operation the document lists is one the server serves.
pub fn document(sandbox: bool) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if !sandbox {
        doc.paths
            .paths
            .retain(|path, _| !path.starts_with("/api/v1/sandbox/"));
    }
    doc
}

/// `/api/openapi.json` and `/api/docs`.
pub fn router(sandbox: bool) -> Router<ApiState> {
    let doc = document(sandbox);
    let served = doc.clone();
    Router::new()
        .route(
            "/api/openapi.json",
            get(move || async move { Json(served) }),
        )
        .merge(Scalar::with_url("/api/docs", doc))
}

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn only_a_sandbox_documents_the_sandbox_clock() {
        let clock = "/api/v1/sandbox/clock";
        assert!(document(true).paths.paths.contains_key(clock));
        let plain = document(false);
        assert!(!plain.paths.paths.contains_key(clock));
        assert!(plain.paths.paths.contains_key("/api/v1/orders"));
    }
}
