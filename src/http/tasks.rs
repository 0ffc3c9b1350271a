//! `/api/v1/tasks`: the queues of the caller's groups, and claim, release, approve, reject
//! (with a reason) and complete. Who sees and acts on which task is `l2c_orders::work`'s rule
//! (the web desk's too).

use super::extract::{Allowed, ApiJson, ApiPath, ApiQuery, Caller, TaskWorkers};
use super::problem::ApiResult;
use super::ApiState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use l2c_engine::runtime::TaskView;
use l2c_orders::payload::business_key_order;
use l2c_orders::users::User;
use l2c_orders::work::{self, Action};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// The routes.
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/tasks", get(list_tasks))
        .route("/tasks/{id}", get(get_task))
        .route("/tasks/{id}/claim", post(claim))
        .route("/tasks/{id}/release", post(release))
        .route("/tasks/{id}/approve", post(approve))
        .route("/tasks/{id}/reject", post(reject))
        .route("/tasks/{id}/complete", post(complete))
}

/// A human task in a group's queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct Task {
    /// The id.
    pub id: String,
    /// The order it belongs to.
    pub order_id: Option<String>,
    /// The workflow instance.
    pub instance_id: String,
    /// The stage, e.g. `technical-feasibility`.
    pub stage: String,
    /// approval or manual.
    pub kind: String,
    /// The group whose queue holds it.
    pub group: String,
    /// open, completed, rejected or cancelled.
    pub state: String,
    /// Who claimed it.
    pub claimed_by: Option<String>,
    /// Approvals needed.
    pub required: i64,
    /// Approvals given.
    pub approvals: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When its next SLA escalation fires, if one is pending.
    pub sla_due: Option<DateTime<Utc>>,
}

impl From<TaskView> for Task {
    fn from(t: TaskView) -> Self {
        Task {
            order_id: t
                .business_key
                .as_deref()
                .and_then(business_key_order)
                .map(str::to_string),
            id: t.id,
            instance_id: t.instance_id,
            stage: t.stage,
            kind: t.kind,
            group: t.group,
            state: t.state,
            claimed_by: t.claimed_by,
            required: t.required,
            approvals: t.approvals,
            created_at: t.created_at,
            sla_due: t.sla_due,
        }
    }
}

/// Which queue to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    /// One of the caller's groups (default: all of them).
    pub group: Option<String>,
}

/// Why a task is rejected.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Required; the requester sees it.
    pub reason: String,
}

/// What a manual task's work produced.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// Data merged into the workflow's output (an object), e.g. the CPE serial number.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Option<Value>,
}

/// The open tasks of the caller's groups (admins: every group), by SLA deadline (the
/// earliest, overdue, first), then oldest first.
#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks", params(TaskQuery),
    responses((status = 200, body = Vec<Task>)), security(("bearer" = [])))]
pub async fn list_tasks(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<TaskQuery>,
) -> ApiResult<Json<Vec<Task>>> {
    let groups = work::queue_groups(&caller.0, &state.app.groups, q.group.as_deref())?;
    let tasks = work::open_tasks(&state.app.orders, &groups).await?;
    Ok(Json(tasks.into_iter().map(Task::from).collect()))
}

/// One task of the caller's groups.
#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = String, Path, description = "The task id")),
    responses((status = 200, body = Task), (status = 404, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn get_task(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Task>> {
    Ok(Json(
        work::visible_task(&state.app.orders, &caller.0, &id)
            .await?
            .into(),
    ))
}

async fn act(state: &ApiState, user: &User, id: &str, action: Action) -> ApiResult<Json<Task>> {
    Ok(Json(state.app.act_on_task(user, id, action).await?.into()))
}

/// Claim a task: others cannot act on it until it is released or decided.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/claim", tag = "tasks",
    params(("id" = String, Path, description = "The task id")),
    responses((status = 200, body = Task), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn claim(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Task>> {
    act(&state, &caller.0, &id, Action::Claim).await
}

/// Release a task the caller claimed.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/release", tag = "tasks",
    params(("id" = String, Path, description = "The task id")),
    responses((status = 200, body = Task), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn release(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Task>> {
    act(&state, &caller.0, &id, Action::Release).await
}

/// Approve an approval task.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/approve", tag = "tasks",
    params(("id" = String, Path, description = "The task id")),
    responses((status = 200, body = Task), (status = 403, body = super::problem::Problem),
        (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<ApiState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Task>> {
    act(&state, &caller.0, &id, Action::Approve).await
}

/// Reject a task; the reason is required and ends the order's workflow as rejected.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/reject", tag = "tasks",
    params(("id" = String, Path, description = "The task id")),
    request_body = RejectRequest,
    responses((status = 200, body = Task), (status = 422, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn reject(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<TaskWorkers>,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<RejectRequest>,
) -> ApiResult<Json<Task>> {
    act(&state, &user, &id, Action::Reject(body.reason)).await
}

/// Complete a manual task, with the data the work produced.
#[utoipa::path(post, path = "/api/v1/tasks/{id}/complete", tag = "tasks",
    params(("id" = String, Path, description = "The task id")),
    request_body = CompleteRequest,
    responses((status = 200, body = Task), (status = 409, body = super::problem::Problem)),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<ApiState>,
    Allowed(user, _): Allowed<TaskWorkers>,
    ApiPath(id): ApiPath<String>,
    body: Option<ApiJson<CompleteRequest>>,
) -> ApiResult<Json<Task>> {
    let data = body.and_then(|ApiJson(b)| b.data).unwrap_or(Value::Null);
    act(&state, &user, &id, Action::Complete(data)).await
}
