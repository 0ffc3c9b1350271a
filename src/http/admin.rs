//! Administration: incidents (list, retry, skip), users (create, who am I), customer and
//! billing accounts, and the sandbox clock (only with `--sandbox`). The rules of a skip's
//! output ([`skip_output`]) and of a clock move ([`move_sandbox`]) are here once, for these
//! handlers and the admin pages (`crate::web::admin`) alike.

use super::extract::{Admins, Allowed, ApiJson, ApiPath, Caller, FinanceAndAdmins};
use super::problem::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use l2c_invoicing::subscriptions::{self, Subscription};
use l2c_orders::accounts::{self, BillingAccount, BillingChanges, CustomerAccount};
use l2c_orders::error::DeskError;
use l2c_orders::payload::business_key_order;
use l2c_orders::users::{NewUser, Role, User};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The furthest one sandbox move may go (ten years).
const MAX_ADVANCE_DAYS: i64 = 3660;

/// The routes (without the sandbox).
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/incidents", get(list_incidents))
        .route("/incidents/{step}/retry", post(retry_incident))
        .route("/incidents/{step}/skip", post(skip_incident))
        .route("/users", post(add_user))
        .route("/users/me", get(me))
        .route("/customer-accounts", post(add_customer))
        .route("/billing-accounts", get(list_billing).post(add_billing))
        .route("/billing-accounts/{id}", patch(update_billing))
        .route("/subscriptions", get(list_subscriptions))
}

/// The sandbox routes, mounted only when the app runs on a test clock.
pub fn sandbox_router() -> Router<ApiState> {
    Router::new().route("/sandbox/clock", get(clock).post(move_clock))
}

/// A step whose retries are exhausted, waiting for an operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct Incident {
    /// The step id (what retry and skip take).
    pub step_id: String,
    /// The order it belongs to.
    pub order_id: Option<String>,
    /// The workflow instance.
    pub instance_id: String,
    /// The stage.
    pub stage: String,
    /// Attempts made.
    pub attempt: i64,
    /// The last error.
    pub error: Option<String>,
}

/// Data a skipped step should have produced.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipRequest {
    /// Merged into the workflow's output as if the step had returned it (an object).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub output: Option<Value>,
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Unique: 1-64 letters, digits or `- _ . @`.
    #[schema(schema_with = l2c_orders::shapes::user_name_schema)]
    pub name: String,
    /// requester, approver, engineer, finance or admin.
    pub role: Role,
    /// The customer account (requesters only).
    #[serde(default)]
    pub account: Option<String>,
    /// Groups (approvers and engineers need at least one).
    #[serde(default)]
    pub groups: Vec<String>,
    /// A password for the web desk, 10 to 256 characters (none: token only).
    #[serde(default)]
    pub password: Option<String>,
}

/// A created user and its token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    /// The user.
    pub user: User,
    /// The bearer token; l2c keeps only its hash.
    pub token: String,
}

/// Where to move the sandbox clock: forward by a duration, or to an instant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockRequest {
    /// A duration such as `2h` or `30days`.
    #[serde(default)]
    pub advance: Option<String>,
    /// An RFC 3339 instant (not before the clock's now).
    #[serde(default)]
    pub to: Option<DateTime<Utc>>,
}

/// The sandbox clock's time.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// Now, on the sandbox clock.
    pub now: DateTime<Utc>,
}

/// Incidents, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/incidents", tag = "admin",
    responses((status = 200, body = Vec<Incident>)), security(("bearer" = [])))]
pub async fn list_incidents(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Incident>>> {
    caller.require(&[Role::Admin])?;
    let list = state.app.engine.incidents().await?;
    Ok(Json(
        list.into_iter()
            .map(|i| Incident {
                order_id: i
                    .business_key
                    .as_deref()
                    .and_then(business_key_order)
                    .map(str::to_string),
                step_id: i.step_id,
                instance_id: i.instance_id,
                stage: i.stage,
                attempt: i.attempt,
                error: i.error,
            })
            .collect(),
    ))
}

/// Retry an incident's step (admins).
#[utoipa::path(post, path = "/api/v1/incidents/{step}/retry", tag = "admin",
    params(("step" = String, Path, description = "The step id")),
    responses((status = 204), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn retry_incident(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(step): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let user = caller.require(&[Role::Admin])?;
    state.app.retry_incident(&user.name, &step).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Skip an incident's step, as if it had returned `output` (admins).
#[utoipa::path(post, path = "/api/v1/incidents/{step}/skip", tag = "admin",
    params(("step" = String, Path, description = "The step id")),
    request_body = SkipRequest,
    responses((status = 204), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn skip_incident(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<Admins>,
    ApiPath(step): ApiPath<String>,
    body: Option<ApiJson<SkipRequest>>,
) -> ApiResult<StatusCode> {
    let output = skip_output(body.and_then(|ApiJson(b)| b.output))?;
    state.app.skip_incident(&user.name, &step, output).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A skipped step's output as the engine takes it: an object, or nothing (`null`).
pub fn skip_output(output: Option<Value>) -> Result<Value, DeskError> {
    let output = output.unwrap_or(Value::Null);
    if output.is_null() || output.is_object() {
        Ok(output)
    } else {
        Err(DeskError::field(
            "output",
            "object",
            "output must be a JSON object",
        ))
    }
}

/// Create a user (admins); the response holds its token, shown only this once.
#[utoipa::path(post, path = "/api/v1/users", tag = "admin", request_body = NewUserRequest,
    responses((status = 201, body = CreatedUser), (status = 409, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn add_user(
    State(state): State<ApiState>,
    Allowed(admin, _): Allowed<Admins>,
    ApiJson(body): ApiJson<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<CreatedUser>)> {
    let new = NewUser {
        name: body.name,
        role: body.role,
        account: body.account,
        groups: body.groups,
        password: body.password,
    };
    let (user, token) = state.app.add_user(&admin.name, &new).await?;
    Ok((StatusCode::CREATED, Json(CreatedUser { user, token })))
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "admin",
    responses((status = 200, body = User), (status = 401, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn me(caller: Caller) -> Json<User> {
    Json(caller.0)
}

/// Create a customer account (admins).
#[utoipa::path(post, path = "/api/v1/customer-accounts", tag = "admin",
    request_body = CustomerAccount,
    responses((status = 201, body = CustomerAccount), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn add_customer(
    State(state): State<ApiState>,
    Allowed(admin, _): Allowed<Admins>,
    ApiJson(account): ApiJson<CustomerAccount>,
) -> ApiResult<(StatusCode, Json<CustomerAccount>)> {
    accounts::add_customer(&state.app.db, &admin.name, &account, state.app.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Create a billing account of a customer account (admins and finance).
#[utoipa::path(post, path = "/api/v1/billing-accounts", tag = "billing",
    request_body = BillingAccount,
    responses((status = 201, body = BillingAccount), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn add_billing(
    State(state): State<ApiState>,
    Allowed(who, _): Allowed<FinanceAndAdmins>,
    ApiJson(account): ApiJson<BillingAccount>,
) -> ApiResult<(StatusCode, Json<BillingAccount>)> {
    accounts::add_billing(&state.app.db, &who.name, &account, state.app.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Change a billing account's buyer, tax or payment terms (admins and finance); the id,
/// customer, currency, cycle and series stay.
#[utoipa::path(patch, path = "/api/v1/billing-accounts/{id}", tag = "billing",
    params(("id" = String, Path, description = "The billing account id")),
    request_body = BillingChanges,
    responses((status = 200, body = BillingAccount), (status = 404, body = super::problem::Problem),
        (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn update_billing(
    State(state): State<ApiState>,
    Allowed(who, _): Allowed<FinanceAndAdmins>,
    ApiPath(id): ApiPath<String>,
    ApiJson(changes): ApiJson<BillingChanges>,
) -> ApiResult<Json<BillingAccount>> {
    Ok(Json(
        accounts::update_billing(&state.app.db, &who.name, &id, changes, state.app.now_ms())
            .await?,
    ))
}

/// Billing accounts: a requester's account's; all for finance and admins.
#[utoipa::path(get, path = "/api/v1/billing-accounts", tag = "billing",
    responses((status = 200, body = Vec<BillingAccount>)), security(("bearer" = [])))]
pub async fn list_billing(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<BillingAccount>>> {
    let user = caller.require(&[Role::Requester, Role::Finance, Role::Admin])?;
    let customer = user.account_scope()?;
    Ok(Json(
        accounts::billing_accounts(&state.app.db, customer).await?,
    ))
}

fn sandbox_clock(state: &ApiState) -> ApiResult<&l2c_engine::clock::TestClock> {
    state
        .app
        .sandbox
        .as_ref()
        .ok_or_else(|| DeskError::not_found("resource", "/api/v1/sandbox/clock").into())
}

/// The sandbox clock (sandbox mode only).
#[utoipa::path(get, path = "/api/v1/sandbox/clock", tag = "sandbox",
    responses((status = 200, body = ClockView)), security(("bearer" = [])))]
pub async fn clock(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
) -> ApiResult<Json<ClockView>> {
    sandbox_clock(&state)?;
    Ok(Json(ClockView {
        now: state.app.clock.now(),
    }))
}

/// Move the sandbox clock forward (admins, sandbox mode only); due timers then fire.
#[utoipa::path(post, path = "/api/v1/sandbox/clock", tag = "sandbox",
    request_body = ClockRequest,
    responses((status = 200, body = ClockView), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn move_clock(
    State(state): State<ApiState>,
    _admin: Allowed<Admins>,
    ApiJson(body): ApiJson<ClockRequest>,
) -> ApiResult<Json<ClockView>> {
    sandbox_clock(&state)?;
    Ok(Json(ClockView {
        now: move_sandbox(&state.app, &body)?,
    }))
}

/// Moves the sandbox clock as `body` says (forward by a duration of at most ten years, or
/// to an instant not before now), wakes the engine so due timers fire, and returns the new
/// now; without a sandbox clock, a 404.
pub fn move_sandbox(
    app: &crate::app::App,
    body: &ClockRequest,
) -> Result<DateTime<Utc>, DeskError> {
    let clock = app
        .sandbox
        .as_ref()
        .ok_or_else(|| DeskError::not_found("resource", "/api/v1/sandbox/clock"))?;
    let now = app.clock.now();
    match (&body.advance, body.to) {
        (Some(text), None) => {
            let by = humantime::parse_duration(text)
                .map_err(|e| DeskError::field("advance", "duration", format!("{text:?}: {e}")))?;
            let by = chrono::Duration::from_std(by)
                .ok()
                .filter(|d| *d <= chrono::Duration::days(MAX_ADVANCE_DAYS))
                .ok_or_else(|| {
                    DeskError::field(
                        "advance",
                        "range",
                        format!("move the clock at most {MAX_ADVANCE_DAYS} days at a time"),
                    )
                })?;
            clock.advance(by);
        }
        (None, Some(to)) if to >= now => clock.set(to),
        (None, Some(to)) => {
            return Err(DeskError::field(
                "to",
                "not_in_past",
                format!("{to} is before the clock's now ({now}); time only moves forward"),
            ))
        }
        _ => {
            return Err(DeskError::field(
                "advance",
                "one_of",
                "send exactly one of advance (a duration) or to (an instant)",
            ))
        }
    }
    app.records
        .ran_through(now.timestamp_millis(), app.clock.now_ms());
    app.engine.wake();
    Ok(app.clock.now())
}

/// Subscriptions: a requester's account's; all for finance and admins.
#[utoipa::path(get, path = "/api/v1/subscriptions", tag = "billing",
    responses((status = 200, body = Vec<Subscription>)), security(("bearer" = [])))]
pub async fn list_subscriptions(
    State(state): State<ApiState>,
    caller: Caller,
) -> ApiResult<Json<Vec<Subscription>>> {
    let user = caller.require(&[Role::Requester, Role::Finance, Role::Admin])?;
    let own: Option<Vec<String>> = match user.account_scope()? {
        Some(customer) => Some(accounts::billing_account_ids(&state.app.db, customer).await?),
        None => None,
    };
    Ok(Json(
        subscriptions::list(&state.app.db, own.as_deref()).await?,
    ))
}
