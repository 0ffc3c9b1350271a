//! Billing schedules: the list, a new schedule (name, cron expression with seconds, and the
//! zone its times are read in: every account's own, or one IANA zone) whose "Preview" shows
//! the next five occurrences before anything is saved, and deleting one after a
//! confirmation. Checking, the occurrences and storing are `l2c_invoicing::schedule`'s, as
//! `/api/v1/billing-schedules` calls them, so the form's errors are the API's, at the field.

use super::{finance, notice};
use crate::web::form::{input, place, problems_of};
use crate::web::form::{Choice, Input, Kind};
use crate::web::page::{render, when, Chrome, Page};
use crate::web::session::{Posted, Viewer};
use crate::web::WebState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use l2c_invoicing::schedule::{self, NewSchedule, ACCOUNT_ZONE};
use l2c_orders::error::DeskError;
use l2c_orders::error::FieldProblem;
use serde::Deserialize;

/// Occurrences the preview shows.
const PREVIEWED: usize = 5;

/// The routes.
pub fn router() -> Router<WebState> {
    Router::new()
        .route("/billing/schedules", get(list))
        .route("/billing/schedules/new", get(new_form).post(submit))
        .route(
            "/billing/schedules/{name}/delete",
            get(confirm_delete).post(delete),
        )
}

struct Row {
    name: String,
    cron: String,
    zone: String,
    next: String,
}

#[derive(Template)]
#[template(path = "finance_schedules.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Did {
    did: Option<String>,
}

fn zone_words(zone: &str) -> String {
    if zone == ACCOUNT_ZONE {
        "each account's own zone".to_string()
    } else {
        zone.to_string()
    }
}

async fn list(State(state): State<WebState>, viewer: Viewer, Query(q): Query<Did>) -> Page {
    finance(&viewer)?;
    let found = schedule::list(&state.app.schedules)
        .await
        .map_err(|e| viewer.error(e))?;
    let rows = found
        .into_iter()
        .map(|s| Row {
            zone: zone_words(&s.time_zone),
            next: when(&s.next_due),
            name: s.name,
            cron: s.cron,
        })
        .collect();
    let words = [
        (
            "added",
            "The schedule was added; its first run is waiting for its time.",
        ),
        (
            "deleted",
            "The schedule was deleted; its pending run bills nothing.",
        ),
    ];
    Ok(render(&ListPage {
        chrome: Chrome::new(&viewer, "Billing schedules", "/billing/schedules")
            .notice(notice(q.did.as_deref(), &words)),
        rows,
    }))
}

/// The form as posted (or empty).
#[derive(Deserialize, Default)]
struct ScheduleForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    cron: String,
    #[serde(default)]
    zone_mode: Option<String>,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    step: Option<String>,
}

impl ScheduleForm {
    /// Whether the times are read in one zone (else in every account's own).
    fn one_zone(&self) -> bool {
        self.zone_mode.as_deref() == Some("zone")
    }

    /// The schedule the API would be sent: `time_zone` is `account` unless one zone is chosen.
    fn schedule(&self) -> NewSchedule {
        NewSchedule {
            name: self.name.trim().to_string(),
            cron: self.cron.trim().to_string(),
            time_zone: if self.one_zone() {
                self.time_zone.trim().to_string()
            } else {
                ACCOUNT_ZONE.to_string()
            },
        }
    }
}

#[derive(Template)]
#[template(path = "finance_schedule_new.html")]
struct NewPage {
    chrome: Chrome,
    inputs: Vec<Input>,
    general: Vec<String>,
    upcoming: Vec<String>,
}

fn inputs(form: &ScheduleForm) -> Vec<Input> {
    let mut name = input(
        "name",
        "Name",
        Kind::Text,
        &form.name,
        "1 to 64 letters, digits, “-” or “_”, e.g. monthly-first.",
    );
    name.required = true;
    let mut cron = input(
        "cron",
        "Cron expression",
        Kind::Text,
        &form.cron,
        "With seconds: sec min hour day-of-month month day-of-week [year]. \
         “0 0 2 * * *” is daily at 02:00, “0 0 0 1 * *” monthly on the 1st at midnight.",
    );
    cron.required = true;
    let mode = if form.one_zone() {
        "zone"
    } else {
        ACCOUNT_ZONE
    };
    let mut zone_mode = input(
        "zone_mode",
        "Read the times in",
        Kind::Select,
        mode,
        "Each account's own zone bills every account at its local time; one zone bills \
         everyone at that zone's time.",
    );
    zone_mode.required = true;
    zone_mode.choices = [
        (ACCOUNT_ZONE, "Each account's own time zone"),
        ("zone", "One time zone (below)"),
    ]
    .iter()
    .map(|(value, label)| Choice {
        value: value.to_string(),
        label: label.to_string(),
        selected: *value == mode,
    })
    .collect();
    let zone = input(
        "time_zone",
        "Time zone",
        Kind::Text,
        &form.time_zone,
        "An IANA zone such as Europe/Berlin or UTC; only with “One time zone”.",
    );
    vec![name, cron, zone_mode, zone]
}

fn new_page(
    viewer: &Viewer,
    form: &ScheduleForm,
    problems: &[FieldProblem],
    upcoming: Vec<String>,
) -> Response {
    let mut inputs = inputs(form);
    let failed = !problems.is_empty();
    let general = place(&mut inputs, problems);
    let page = render(&NewPage {
        chrome: Chrome::new(viewer, "New billing schedule", "/billing/schedules"),
        inputs,
        general,
        upcoming,
    });
    if failed {
        (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
    } else {
        page
    }
}

async fn new_form(viewer: Viewer) -> Page {
    finance(&viewer)?;
    Ok(new_page(&viewer, &ScheduleForm::default(), &[], Vec::new()))
}

/// "Preview" shows the next occurrences; "Save" stores the schedule. Problems go to their
/// fields; a name already taken is a problem of the name.
async fn submit(State(state): State<WebState>, posted: Posted<ScheduleForm>) -> Page {
    let Posted { viewer, form } = posted;
    finance(&viewer)?;
    let new = form.schedule();
    #[allow(
        clippy::result_large_err,
        reason = "a `Page`: the form again with its problems, or an error page"
    )]
    let refused = |e: DeskError| {
        let problems = match e {
            DeskError::Conflict(m) => Ok(vec![l2c_orders::error::problem("name", "unique", m)]),
            other => problems_of(other),
        };
        match problems {
            Ok(p) => Ok(new_page(&viewer, &form, &p, Vec::new())),
            Err(e) => Err(viewer.error(e)),
        }
    };
    if form.step.as_deref() == Some("save") {
        return match schedule::add(&state.app.schedules, &viewer.user.name, &new).await {
            Ok(_) => Ok(Redirect::to("/billing/schedules?did=added").into_response()),
            Err(e) => refused(e),
        };
    }
    match schedule::upcoming(&state.app.schedules, &new, PREVIEWED).await {
        Ok(times) => {
            let shown = times.iter().map(when).collect();
            Ok(new_page(&viewer, &form, &[], shown))
        }
        Err(e) => refused(e),
    }
}

#[derive(Template)]
#[template(path = "finance_schedule_delete.html")]
struct DeletePage {
    chrome: Chrome,
    name: String,
    cron: String,
    zone: String,
    next: String,
}

async fn confirm_delete(
    State(state): State<WebState>,
    viewer: Viewer,
    Path(name): Path<String>,
) -> Page {
    finance(&viewer)?;
    let s = schedule::get(&state.app.schedules, &name)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(render(&DeletePage {
        chrome: Chrome::new(
            &viewer,
            format!("Delete schedule {}?", s.name),
            "/billing/schedules",
        ),
        zone: zone_words(&s.time_zone),
        next: when(&s.next_due),
        name: s.name,
        cron: s.cron,
    }))
}

async fn delete(
    State(state): State<WebState>,
    Path(name): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Page {
    let viewer = posted.viewer;
    finance(&viewer)?;
    schedule::remove(&state.app.schedules, &viewer.user.name, &name)
        .await
        .map_err(|e| viewer.error(e))?;
    Ok(Redirect::to("/billing/schedules?did=deleted").into_response())
}
