//! My orders (filtered by state, searched by id, reference or site, paged, newest first) and
//! the order page: items with their prices, the state in words, what it is waiting on, the
//! timeline in words with the raw history one click away, each workflow drawn with its
//! stages' states, and cancelling with a reason.

use super::error::WebError;
use super::page::{money, render, when, Chrome, Page};
use super::session::{Posted, Viewer};
use super::timeline::{self, Line, Stages};
use super::WebState;
use crate::http::extract::{require, RequestersAndAdmins, Roles};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::Router;
use l2c_engine::definition::svg::{svg, StageState};
use l2c_engine::runtime::{InstanceView, TaskView};
use l2c_orders::cancel::Cancellation;
use l2c_orders::error::DeskError;
use l2c_orders::model::{OrderView, TimelineEntry};
use l2c_orders::state::{OrderState, ORDER_STATES};
use l2c_orders::store::{self, OrderFilter};
use l2c_orders::{timeline as order_timeline, view, visible};
use serde::Deserialize;

/// Orders per page.
const PAGE: i64 = 25;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/orders", get(list))
        .route("/orders/{id}", get(show))
        .route("/orders/{id}/cancel", post(cancel_order))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    state: Option<String>,
    q: Option<String>,
    page: Option<i64>,
}

struct Row {
    id: String,
    state: &'static str,
    offerings: String,
    created: String,
    one_time: String,
    monthly: String,
    reference: String,
}

#[derive(Template)]
#[template(path = "orders.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
    states: Vec<(String, &'static str, bool)>,
    q: String,
    page: i64,
    prev: Option<String>,
    next: Option<String>,
}

fn list_link(state: Option<&str>, q: &str, page: i64) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(s) = state {
        pairs.push(("state", s.to_string()));
    }
    if !q.is_empty() {
        pairs.push(("q", q.to_string()));
    }
    pairs.push(("page", page.to_string()));
    format!(
        "/orders?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(q): Query<ListQuery>) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let chosen = match q.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<OrderState>().map_err(|_| {
            fail(DeskError::field(
                "state",
                "unknown_state",
                format!("{s:?} is not an order state"),
            ))
        })?),
    };
    let page = q.page.unwrap_or(1).max(1);
    let text = q.q.clone().unwrap_or_default();
    let filter = OrderFilter {
        state: chosen,
        text: Some(text.clone()),
        offset: (page - 1) * PAGE,
        limit: PAGE + 1,
    };
    let mut orders = view::search(&state.app.orders, &viewer.user, &filter)
        .await
        .map_err(fail)?;
    let more = orders.len() as i64 > PAGE;
    orders.truncate(PAGE as usize);
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut conn = state.conn().await.map_err(fail)?;
    let offerings = store::offerings_of(&mut conn, &ids).await.map_err(fail)?;
    drop(conn);
    let rows = orders
        .into_iter()
        .map(|o| Row {
            offerings: offerings
                .get(&o.id)
                .map(|v| v.join(", "))
                .unwrap_or_default(),
            state: timeline::state_words(o.state),
            created: when(&o.created_at),
            one_time: money(&o.one_time_total, &o.currency),
            monthly: money(&o.monthly_total, &o.currency),
            reference: o.external_id.unwrap_or_default(),
            id: o.id,
        })
        .collect();
    let name = chosen.map(|s| s.as_str());
    let states = ORDER_STATES
        .iter()
        .map(|s| {
            (
                s.as_str().to_string(),
                timeline::state_words(*s),
                Some(s.as_str()) == name,
            )
        })
        .collect();
    let title = if viewer.user.account.is_some() {
        "My orders"
    } else {
        "Orders"
    };
    Ok(render(&ListPage {
        chrome: Chrome::new(&viewer, title, "/orders"),
        rows,
        states,
        prev: (page > 1).then(|| list_link(name, &text, page - 1)),
        next: more.then(|| list_link(name, &text, page + 1)),
        q: text,
        page,
    }))
}

/// What the order waits on: an open task, with its queue, since when and its SLA deadline.
pub struct Waiting {
    /// The stage's title.
    pub title: String,
    /// Its group.
    pub group: String,
    /// Since when.
    pub since: String,
    /// Its SLA deadline in words.
    pub deadline: Option<String>,
    /// Whether the deadline has passed.
    pub overdue: bool,
}

/// One workflow of the order, drawn.
pub struct Drawing {
    /// What it is (the order, item 2).
    pub caption: String,
    /// The inline SVG.
    pub svg: String,
}

/// What the order page and the task page show of an order.
pub struct OrderPanel {
    /// The order.
    pub order: OrderView,
    /// Its state in words.
    pub state: &'static str,
    /// Its items.
    pub items: Vec<ItemRow>,
    /// One-time total.
    pub one_time: String,
    /// Monthly total.
    pub monthly: String,
    /// Open tasks.
    pub waiting: Vec<Waiting>,
    /// The timeline in words.
    pub lines: Vec<Line>,
    /// The raw timeline.
    pub raw: Vec<TimelineEntry>,
    /// Its workflows, drawn.
    pub drawings: Vec<Drawing>,
    /// The drawing's legend: class and words.
    pub legend: Vec<(&'static str, &'static str)>,
    /// Stage titles of its workflows.
    pub stages: Stages,
    /// Its tasks, open or not.
    pub tasks: Vec<TaskView>,
}

/// Everything about order `id` that `viewer` may see (not found otherwise).
pub async fn order_panel(
    state: &WebState,
    viewer: &Viewer,
    id: &str,
) -> Result<OrderPanel, DeskError> {
    let orders = &state.app.orders;
    let order = visible(orders, &viewer.user, id).await?;
    let entries = order_timeline(orders, id).await?;
    let mut stages = Stages::default();
    let mut drawings = Vec::new();
    let mut tasks = Vec::new();
    for (caption, instance) in instances(state, id).await? {
        drawings.push(drawing(state, &instance, caption, &mut stages).await?);
        tasks.extend(state.app.engine.instance_tasks(&instance.id).await?);
    }
    let now = state.app.clock.now_ms();
    let several = order.items.len() > 1;
    Ok(OrderPanel {
        state: timeline::state_words(order.state),
        items: item_rows(&order),
        one_time: money(&order.one_time_total, &order.currency),
        monthly: money(&order.monthly_total, &order.currency),
        waiting: waiting_on(&tasks, &stages, now),
        lines: timeline::lines(&entries, &stages, several),
        raw: entries,
        drawings,
        legend: StageState::ALL
            .iter()
            .map(|s| (s.class(), s.words()))
            .collect(),
        order,
        stages,
        tasks,
    })
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    chrome: Chrome,
    panel: OrderPanel,
    may_cancel: bool,
}

/// One item of an order, as shown.
pub struct ItemRow {
    /// The item id.
    pub id: String,
    /// add, modify or delete.
    pub action: String,
    /// The offering.
    pub offering: String,
    /// Its characteristics, as text.
    pub characteristics: Vec<(String, String)>,
    /// One-time charges.
    pub one_time: String,
    /// Recurring charges.
    pub monthly: String,
    /// Its state.
    pub state: String,
}

fn item_rows(order: &OrderView) -> Vec<ItemRow> {
    order
        .items
        .iter()
        .map(|i| {
            let characteristics = i
                .characteristics
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let v = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                            (super::form::label(k), v)
                        })
                        .collect()
                })
                .unwrap_or_default();
            let total = |charges: &[l2c_catalog::Charge]| {
                let sum: rust_decimal::Decimal = charges.iter().map(|c| c.amount.amount()).sum();
                money(&sum.to_string(), i.quote.currency.code())
            };
            ItemRow {
                id: i.id.clone(),
                action: i.action.to_string(),
                offering: i.offering.clone(),
                characteristics,
                one_time: total(&i.quote.one_time),
                monthly: total(&i.quote.recurring),
                state: i.state.to_string(),
            }
        })
        .collect()
}

/// A step state as the drawing colours it.
fn stage_state(step_state: &str) -> StageState {
    match step_state {
        "completed" => StageState::Done,
        "dead" | "skipped" | "cancelled" => StageState::Skipped,
        "failed" | "rejected" | "incident" => StageState::Failed,
        _ => StageState::Active,
    }
}

/// The instance drawn with the definition version it runs.
pub async fn drawing(
    state: &WebState,
    instance: &InstanceView,
    caption: String,
    stages: &mut Stages,
) -> Result<Drawing, DeskError> {
    let engine = &state.app.engine;
    let definition = engine
        .definition_of(&instance.workflow, &instance.version)
        .await?;
    stages.add(&definition);
    let of = |stage: &str| {
        let step = instance.steps.iter().rev().find(|s| s.stage == stage);
        Some(step.map_or(StageState::Waiting, |s| stage_state(&s.state)))
    };
    Ok(Drawing {
        caption,
        svg: svg(&definition, &of),
    })
}

/// The order's workflow instances: the order's own, then each item's, with captions.
async fn instances(
    state: &WebState,
    order_id: &str,
) -> Result<Vec<(String, InstanceView)>, DeskError> {
    let mut conn = state.conn().await?;
    let own = store::instance_id(&mut conn, order_id).await?;
    let items = store::item_instances(&mut conn, order_id).await?;
    drop(conn);
    let engine = &state.app.engine;
    let mut found = Vec::new();
    if let Some(id) = own {
        found.push(("The order".to_string(), engine.instance(&id).await?));
    }
    let mut items: Vec<(String, String)> = items.into_iter().collect();
    items.sort_by(|a, b| a.1.cmp(&b.1));
    for (instance, item) in items {
        found.push((format!("Item {item}"), engine.instance(&instance).await?));
    }
    Ok(found)
}

fn waiting_on(tasks: &[TaskView], stages: &Stages, now: i64) -> Vec<Waiting> {
    tasks
        .iter()
        .filter(|t| t.state == "open")
        .map(|t| Waiting {
            title: stages.title(&t.stage),
            group: t.group.clone(),
            since: when(&t.created_at),
            overdue: t.sla_due.is_some_and(|d| d.timestamp_millis() < now),
            deadline: t
                .sla_due
                .map(|d| format!("{} ({})", when(&d), super::page::from_now(&d, now).0)),
        })
        .collect()
}

#[derive(Deserialize)]
struct Shown {
    placed: Option<String>,
    cancel: Option<String>,
}

async fn show(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Page {
    let fail = |e: DeskError| viewer.error(e);
    let panel = order_panel(&state, &viewer, &id).await.map_err(fail)?;
    let notice = match (shown.placed.is_some(), shown.cancel.as_deref()) {
        (true, _) => Some(format!("Order {id} is placed. You can follow it here.")),
        (_, Some("accepted")) => {
            Some("Cancellation accepted: the work done so far is being undone.".to_string())
        }
        (_, Some("refused")) => {
            Some("The order could not be cancelled: see the timeline for why.".to_string())
        }
        _ => None,
    };
    let may_cancel =
        !panel.order.state.is_final() && RequestersAndAdmins::ROLES.contains(&viewer.user.role);
    Ok(render(&OrderPage {
        chrome: Chrome::new(&viewer, format!("Order {id}"), "/orders").notice(notice),
        panel,
        may_cancel,
    }))
}

#[derive(Deserialize)]
struct CancelForm {
    reason: String,
}

async fn cancel_order(
    State(state): State<WebState>,
    Path(id): Path<String>,
    posted: Posted<CancelForm>,
) -> Page {
    let Posted { viewer, form } = posted;
    let fail = |e: DeskError| viewer.error(e);
    let user = require(&viewer.user, RequestersAndAdmins::ROLES).map_err(fail)?;
    let outcome = match state.app.cancel_order(user, &id, &form.reason).await {
        Ok(Cancellation::Accepted) => "accepted",
        Ok(Cancellation::Refused(_)) => "refused",
        Err(DeskError::Validation(p)) => {
            let message = p
                .iter()
                .map(|p| p.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(viewer.error(WebError::Status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("The order was not cancelled: {message}."),
            )));
        }
        Err(e) => return Err(fail(e)),
    };
    Ok(Redirect::to(&format!("/orders/{id}?cancel={outcome}")).into_response())
}
