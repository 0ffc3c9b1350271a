//! The approver's and engineer's desk: the inbox (open tasks of their groups by SLA
//! deadline, overdue first, with counts per group, filters, paging and bulk claim or
//! approve) and the task page (the order, its timeline and drawing, the SLA steps, and
//! claim, release, approve, reject with a reason, complete). Every rule is
//! `l2c_orders::work`'s; after acting the user lands on the next task of the same queue.

use super::orders::{order_panel, OrderPanel};
use super::page::{render, when, Chrome, Page};
use super::session::{Posted, Viewer};
use super::timeline::Stages;
use super::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use l2c_engine::definition::{SlaAction, StageKind};
use l2c_engine::runtime::TaskView;
use l2c_orders::error::DeskError;
use l2c_orders::payload::business_key_order;
use l2c_orders::work::{self, Action};
use serde::Deserialize;
use serde_json::{Map, Value};

/// Tasks per inbox page.
const PAGE: usize = 50;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/inbox", get(inbox))
        .route("/inbox/bulk", post(bulk))
        .route("/tasks/{id}", get(task_page))
        .route("/tasks/{id}/{action}", post(act))
}

fn all_stages(state: &WebState) -> Stages {
    let mut stages = Stages::default();
    for d in state.app.engine.definitions() {
        stages.add(&d);
    }
    stages
}

fn order_of(task: &TaskView) -> String {
    task.business_key
        .as_deref()
        .and_then(business_key_order)
        .unwrap_or_default()
        .to_string()
}

/// An SLA deadline in words, and whether it has passed.
fn deadline(task: &TaskView, now: i64) -> (String, bool) {
    task.sla_due
        .map_or((String::new(), false), |d| super::page::from_now(&d, now))
}

#[derive(Deserialize, Default)]
struct InboxQuery {
    group: Option<String>,
    kind: Option<String>,
    overdue: Option<String>,
    mine: Option<String>,
    page: Option<usize>,
    did: Option<String>,
    task: Option<String>,
}

struct InboxRow {
    id: String,
    order: String,
    title: String,
    kind: String,
    group: String,
    since: String,
    due: String,
    overdue: bool,
    claimed_by: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    chrome: Chrome,
    rows: Vec<InboxRow>,
    counts: Vec<(String, usize, bool)>,
    all_queues: bool,
    kind: String,
    overdue: bool,
    mine: bool,
    total: usize,
    page: usize,
    prev: Option<String>,
    next: Option<String>,
    results: Vec<String>,
}

fn filtered(tasks: Vec<TaskView>, q: &InboxQuery, me: &str, now: i64) -> Vec<TaskView> {
    tasks
        .into_iter()
        .filter(|t| {
            q.kind
                .as_deref()
                .is_none_or(|k| k.is_empty() || t.kind == k)
        })
        .filter(|t| q.overdue.is_none() || deadline(t, now).1)
        .filter(|t| q.mine.is_none() || t.claimed_by.as_deref() == Some(me))
        .collect()
}

fn inbox_link(q: &InboxQuery, page: usize) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    for (k, v) in [
        ("group", &q.group),
        ("kind", &q.kind),
        ("overdue", &q.overdue),
        ("mine", &q.mine),
    ] {
        if let Some(v) = v {
            pairs.push((k, v.clone()));
        }
    }
    pairs.push(("page", page.to_string()));
    format!(
        "/inbox?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

/// The notice for `did` on task `id`, worded from the task as it is now.
async fn did_notice(
    state: &WebState,
    viewer: &Viewer,
    did: Option<&str>,
    id: Option<&str>,
) -> Option<String> {
    let verb = match did? {
        "claimed" | "released" | "approved" | "rejected" | "completed" => did?,
        _ => return None,
    };
    let task = work::visible_task(&state.app.orders, &viewer.user, id?)
        .await
        .ok()?;
    let title = all_stages(state).title(&task.stage);
    Some(format!("You {verb} {title} of order {}.", order_of(&task)))
}

async fn inbox_page(
    state: &WebState,
    viewer: &Viewer,
    q: &InboxQuery,
    results: Vec<String>,
) -> Result<axum::response::Response, DeskError> {
    let orders = &state.app.orders;
    let mine = work::queue_groups(&viewer.user, &state.app.groups, None)?;
    let groups = work::queue_groups(
        &viewer.user,
        &state.app.groups,
        q.group.as_deref().filter(|g| !g.is_empty()),
    )?;
    let all = work::open_tasks(orders, &mine).await?;
    let counts = mine
        .iter()
        .map(|g| {
            let n = all.iter().filter(|t| &t.group == g).count();
            (g.clone(), n, q.group.as_deref() == Some(g.as_str()))
        })
        .collect();
    let now = state.app.clock.now_ms();
    let chosen: Vec<TaskView> = all
        .into_iter()
        .filter(|t| groups.contains(&t.group))
        .collect();
    let tasks = filtered(chosen, q, &viewer.user.name, now);
    let total = tasks.len();
    let page = q.page.unwrap_or(1).max(1);
    let stages = all_stages(state);
    let rows = tasks
        .iter()
        .skip((page - 1) * PAGE)
        .take(PAGE)
        .map(|t| {
            let (due, overdue) = deadline(t, now);
            InboxRow {
                id: t.id.clone(),
                order: order_of(t),
                title: stages.title(&t.stage),
                kind: t.kind.clone(),
                group: t.group.clone(),
                since: when(&t.created_at),
                due,
                overdue,
                claimed_by: t.claimed_by.clone().unwrap_or_default(),
            }
        })
        .collect();
    let notice = did_notice(state, viewer, q.did.as_deref(), q.task.as_deref()).await;
    Ok(render(&InboxPage {
        chrome: Chrome::new(viewer, "Inbox", "/inbox").notice(notice),
        rows,
        all_queues: q.group.as_deref().is_none_or(str::is_empty),
        counts,
        kind: q.kind.clone().unwrap_or_default(),
        overdue: q.overdue.is_some(),
        mine: q.mine.is_some(),
        total,
        page,
        prev: (page > 1).then(|| inbox_link(q, page - 1)),
        next: (page * PAGE < total).then(|| inbox_link(q, page + 1)),
        results,
    }))
}

async fn inbox(State(state): State<WebState>, viewer: Viewer, Query(q): Query<InboxQuery>) -> Page {
    inbox_page(&state, &viewer, &q, Vec::new())
        .await
        .map_err(|e| viewer.error(e))
}

/// One SLA step of a task: when it fires and what it does.
struct SlaStep {
    at: String,
    what: String,
    past: bool,
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    chrome: Chrome,
    task: TaskView,
    title: String,
    order_id: String,
    panel: OrderPanel,
    sla: Vec<SlaStep>,
    may_act: bool,
    claimed_by_me: bool,
    reason: String,
    reason_error: Option<String>,
    data_rows: Vec<(String, String)>,
}

async fn sla_steps(state: &WebState, task: &TaskView) -> Result<Vec<SlaStep>, DeskError> {
    let engine = &state.app.engine;
    let instance = engine.instance(&task.instance_id).await?;
    let definition = engine
        .definition_of(&instance.workflow, &instance.version)
        .await?;
    let Some(stage) = definition.stages.iter().find(|s| s.id == task.stage) else {
        return Ok(Vec::new());
    };
    let (StageKind::Approval(h) | StageKind::Manual(h)) = &stage.kind else {
        return Ok(Vec::new());
    };
    let now = state.app.clock.now();
    Ok(h.sla
        .iter()
        .map(|e| {
            let at = task.created_at + chrono::Duration::from_std(e.after).unwrap_or_default();
            let what = match &e.action {
                SlaAction::Remind => "the group is reminded".to_string(),
                SlaAction::Reassign { group } => format!("the task moves to {group}"),
                SlaAction::AutoApprove => "the task is approved automatically".to_string(),
                SlaAction::AutoReject => "the task is rejected automatically".to_string(),
            };
            SlaStep {
                at: when(&at),
                what,
                past: at <= now,
            }
        })
        .collect())
}

/// The task page, with a problem at the reason field when a rejection lacked one.
async fn task_view(
    state: &WebState,
    viewer: &Viewer,
    id: &str,
    notice: Option<String>,
    reason: (String, Option<String>),
) -> Result<axum::response::Response, DeskError> {
    let task = work::visible_task(&state.app.orders, &viewer.user, id).await?;
    let order_id = order_of(&task);
    let panel = order_panel(state, viewer, &order_id).await?;
    let sla = sla_steps(state, &task).await?;
    let title = panel.stages.title(&task.stage);
    let status = if reason.1.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = TaskPage {
        chrome: Chrome::new(viewer, format!("{title}: order {order_id}"), "/inbox").notice(notice),
        may_act: task.state == "open" && work::may_act(&viewer.user, &task),
        claimed_by_me: task.claimed_by.as_deref() == Some(viewer.user.name.as_str()),
        title,
        order_id,
        panel,
        sla,
        reason: reason.0,
        reason_error: reason.1,
        data_rows: vec![(String::new(), String::new()); 3],
        task,
    };
    Ok((status, render(&page)).into_response())
}

#[derive(Deserialize)]
struct Notice {
    did: Option<String>,
    task: Option<String>,
}

async fn task_page(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(n): Query<Notice>,
) -> Page {
    let notice = did_notice(&state, &viewer, n.did.as_deref(), n.task.as_deref()).await;
    task_view(&state, &viewer, &id, notice, (String::new(), None))
        .await
        .map_err(|e| viewer.error(e))
}

/// A task action's form: the reason of a rejection, the data of a completion as numbered
/// key and value fields.
fn action_from(name: &str, form: &[(String, String)]) -> Option<Action> {
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    Some(match name {
        "claim" => Action::Claim,
        "release" => Action::Release,
        "approve" => Action::Approve,
        "reject" => Action::Reject(get("reason").unwrap_or_default()),
        "complete" => {
            let mut data = Map::new();
            for i in 0..10 {
                let key = get(&format!("key{i}")).unwrap_or_default();
                if !key.trim().is_empty() {
                    let value = get(&format!("value{i}")).unwrap_or_default();
                    data.insert(key.trim().to_string(), Value::String(value));
                }
            }
            Action::Complete(if data.is_empty() {
                Value::Null
            } else {
                Value::Object(data)
            })
        }
        _ => return None,
    })
}

/// Where to go after deciding `done`: the next open task of its queue that the user may act
/// on, or the inbox.
async fn next_after(state: &WebState, viewer: &Viewer, done: &TaskView, verb: &str) -> String {
    let groups = [done.group.clone()];
    let next = work::open_tasks(&state.app.orders, &groups)
        .await
        .ok()
        .and_then(|tasks| {
            tasks.into_iter().find(|t| {
                t.id != done.id
                    && work::may_act(&viewer.user, t)
                    && t.claimed_by
                        .as_deref()
                        .is_none_or(|c| c == viewer.user.name)
            })
        });
    match next {
        Some(t) => format!("/tasks/{}?did={verb}&task={}", t.id, done.id),
        None => format!("/inbox?did={verb}&task={}", done.id),
    }
}

async fn act(
    State(state): State<WebState>,
    Path((id, name)): Path<(String, String)>,
    posted: Posted<Vec<(String, String)>>,
) -> Page {
    let Posted { viewer, form } = posted;
    let Some(action) = action_from(&name, &form) else {
        return Err(viewer.error(DeskError::not_found("task action", name)));
    };
    let verb = action.done_word();
    let reason = match &action {
        Action::Reject(r) => r.clone(),
        _ => String::new(),
    };
    match state.app.act_on_task(&viewer.user, &id, action).await {
        Ok(task) => {
            let to = match verb {
                "claimed" | "released" => format!("/tasks/{id}?did={verb}&task={id}"),
                _ => next_after(&state, &viewer, &task, verb).await,
            };
            Ok(Redirect::to(&to).into_response())
        }
        Err(e) => {
            let reason_problem =
                match &e {
                    DeskError::Validation(p) => p
                        .iter()
                        .find(|p| p.path == "reason")
                        .map(|p| p.message.clone()),
                    DeskError::Engine(l2c_engine::EngineError::Invalid {
                        field, message, ..
                    }) if *field == "reason" => Some(message.clone()),
                    _ => None,
                };
            match reason_problem {
                Some(message) => task_view(&state, &viewer, &id, None, (reason, Some(message)))
                    .await
                    .map_err(|e| viewer.error(e)),
                None => Err(viewer.error(e)),
            }
        }
    }
}

/// Claims or approves every ticked task, each on its own; the inbox then lists what became
/// of each (one taken by someone else meanwhile is reported, the rest still done).
async fn bulk(State(state): State<WebState>, posted: Posted<Vec<(String, String)>>) -> Page {
    let Posted { viewer, form } = posted;
    let what = form
        .iter()
        .find(|(k, _)| k == "do")
        .map(|(_, v)| v.as_str());
    let ids: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "task")
        .map(|(_, v)| v.as_str())
        .collect();
    let mut results = Vec::new();
    if ids.is_empty() {
        results.push("Tick the tasks to act on first.".to_string());
    }
    let stages = all_stages(&state);
    for id in ids {
        let action = match what {
            Some("approve") => Action::Approve,
            _ => Action::Claim,
        };
        let verb = action.done_word();
        let outcome = state.app.act_on_task(&viewer.user, id, action).await;
        // A decided task comes back from acting; only a refused one is looked up again.
        let task = match &outcome {
            Ok(t) => Some(t.clone()),
            Err(_) => work::visible_task(&state.app.orders, &viewer.user, id)
                .await
                .ok(),
        };
        let what = task.as_ref().map_or_else(
            || format!("Task {id}"),
            |t| format!("{} of order {}", stages.title(&t.stage), order_of(t)),
        );
        results.push(match outcome {
            Ok(_) => format!("{what}: {verb}"),
            Err(e) => format!(
                "{what}: not {verb}, {}",
                super::error::WebError::from(e).message()
            ),
        });
    }
    inbox_page(&state, &viewer, &InboxQuery::default(), results)
        .await
        .map_err(|e| viewer.error(e))
}
