//! `/api/v1/invoices`: invoices and credit notes, a page at a time, one with its whole
//! document or as UBL or PDF; finance voids drafts and corrects invoices with credit notes.
//! Requesters see only their own accounts' issued documents (anything else is 404).

use super::extract::{Allowed, ApiPath, ApiQuery, Caller, FinanceAndAdmins};
use super::problem::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use l2c_invoicing::export::{self, Format};
use l2c_invoicing::ops;
use l2c_invoicing::read::InvoiceView;
use l2c_invoicing::visible::{self, Wanted};
use l2c_orders::error::{DeskError, DeskResult};
use l2c_orders::users::User;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/invoices", get(list_invoices))
        .route("/invoices/{id}", get(get_invoice))
        .route("/invoices/{id}/ubl", get(invoice_ubl))
        .route("/invoices/{id}/pdf", get(invoice_pdf))
        .route("/invoices/{id}/void", post(void_invoice))
        .route("/invoices/{id}/credit-note", post(credit_invoice))
}

/// A document as a UBL XML or PDF file (`format` is [`Format::Ubl`] or [`Format::Pdf`]),
/// named by its number, or a problem naming every field EN 16931 still needs.
pub fn file_response(
    document: &l2c_billing::IssuedDocument,
    format: Format,
) -> ApiResult<Response> {
    let bytes = export::document_file(document, format)?;
    let (media_type, extension, disposition) = match format {
        Format::Pdf => ("application/pdf", "pdf", "inline"),
        _ => ("application/xml", "xml", "attachment"),
    };
    let name = document
        .number
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
    let disposition = format!("{disposition}; filename=\"{name}.{extension}\"");
    Ok((
        [
            (header::CONTENT_TYPE, media_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Which invoices to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    /// Only this run's.
    #[serde(default)]
    pub run: Option<String>,
    /// Only this billing account's.
    #[serde(default)]
    pub account: Option<String>,
    /// Only the one with this number.
    #[serde(default)]
    pub number: Option<String>,
    /// At most this many (1-1000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Only those after this invoice id: pass the last id of a page to get the next.
    #[serde(default)]
    pub after: Option<String>,
}

/// Invoices in creation order, a page at a time: all for finance and admins; a requester's
/// own accounts' issued ones.
#[utoipa::path(get, path = "/api/v1/invoices", tag = "billing", params(InvoiceQuery),
    responses((status = 200, body = Vec<InvoiceView>)), security(("bearer" = [])))]
pub async fn list_invoices(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<InvoiceQuery>,
) -> ApiResult<Json<Vec<InvoiceView>>> {
    let user = caller.require(visible::INVOICE_READERS)?;
    let wanted = Wanted {
        run: query.run,
        account: query.account,
        number: query.number,
        after: query.after,
        ..Wanted::default()
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(DeskError::field("limit", "range", "must be 1 to 1000").into());
    }
    Ok(Json(
        visible::invoices(&state.app.db, user, wanted, limit).await?,
    ))
}

/// An invoice with its lines, VAT breakdown and totals.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceDetail {
    /// The invoice.
    #[serde(flatten)]
    pub invoice: InvoiceView,
    /// The whole document: parties, lines (as on the document), VAT breakdown and totals.
    #[schema(value_type = Object)]
    pub document: l2c_billing::IssuedDocument,
}

/// The invoice `id` if `user` may see it.
async fn detail(state: &ApiState, user: &User, id: &str) -> DeskResult<InvoiceDetail> {
    let (invoice, document) = visible::invoice(&state.app.db, user, id).await?;
    Ok(InvoiceDetail { invoice, document })
}

/// One invoice (requesters: only their accounts' issued invoices).
#[utoipa::path(get, path = "/api/v1/invoices/{id}", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, body = InvoiceDetail), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_invoice(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<InvoiceDetail>> {
    let user = caller.require(visible::INVOICE_READERS)?;
    Ok(Json(detail(&state, user, &id).await?))
}

/// One invoice as a UBL 2.1 (Peppol BIS Billing 3.0) document.
#[utoipa::path(get, path = "/api/v1/invoices/{id}/ubl", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, description = "application/xml"),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn invoice_ubl(
    state: State<ApiState>,
    caller: Caller,
    id: ApiPath<String>,
) -> ApiResult<Response> {
    invoice_file(state, caller, id, Format::Ubl).await
}

/// One invoice as a PDF document (A4).
#[utoipa::path(get, path = "/api/v1/invoices/{id}/pdf", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, description = "application/pdf"),
        (status = 422, body = super::problem::Problem)), security(("bearer" = [])))]
pub async fn invoice_pdf(
    state: State<ApiState>,
    caller: Caller,
    id: ApiPath<String>,
) -> ApiResult<Response> {
    invoice_file(state, caller, id, Format::Pdf).await
}

async fn invoice_file(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    format: Format,
) -> ApiResult<Response> {
    let user = caller.require(visible::INVOICE_READERS)?;
    let (invoice, document) = visible::invoice(&state.app.db, user, &id).await?;
    visible::files_allowed(&invoice)?;
    file_response(&document, format)
}

/// Voids a draft.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/void", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 200, body = InvoiceView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn void_invoice(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<InvoiceView>> {
    Ok(Json(ops::void_draft(&state.app.invoicing, &id).await?))
}

/// Issues a credit note giving back all of an issued invoice.
#[utoipa::path(post, path = "/api/v1/invoices/{id}/credit-note", tag = "billing",
    params(("id" = String, Path, description = "The invoice id")),
    responses((status = 201, body = InvoiceView), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn credit_invoice(
    State(state): State<ApiState>,
    _who: Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<InvoiceView>)> {
    Ok((
        StatusCode::CREATED,
        Json(ops::credit_invoice(&state.app.invoicing, &id).await?),
    ))
}
