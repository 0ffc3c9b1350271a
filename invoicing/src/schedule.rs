//! Cron schedules of billing runs. Each schedule has one pending occurrence at a time: an
//! instance of the `billing-schedule` workflow whose timer the engine fires exactly once
//! across nodes. Its handler bills the occurrence (a run whose trigger names the schedule,
//! so a retried handler resumes it) and moves the schedule to its next occurrence; the
//! scheduler, in every `l2c serve` and `l2c worker`, then starts that occurrence's instance,
//! exactly once because the claim is a conditional update in the starting transaction.
//!
//! A schedule's time zone is an IANA zone the cron times are read in, or `account`: the
//! cron times are read in every account's own zone (`0 0 2 * * *` bills every account at
//! 02:00 local). Each occurrence then bills every zone whose local occurrence has come since
//! that zone was last billed (kept per zone in `zone_marks`). A zone that appears after the
//! pending occurrence was chosen, with its local time before it, moves the pending
//! occurrence earlier ([`follow_new_zones`], checked about every half minute); it is never
//! skipped, at worst billed at the occurrence that was pending.

use crate::context::{AsOf, Invoicing, RunScope};
use crate::run::{run, RunOutcome, RunRequest};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use l2c_engine::handler::{HandlerError, HandlerResult, Handlers, TaskContext};
use l2c_orders::audit;
use l2c_orders::error::{problem, DeskError, DeskResult};
use l2c_orders::shapes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use std::collections::BTreeMap;
use std::str::FromStr;

/// The handler the schedule workflow's run stage calls.
pub const HANDLER: &str = "billing.scheduled-run";
/// The workflow of one occurrence.
pub const WORKFLOW: &str = "billing-schedule";
/// The time zone value that means "each account's own zone".
pub const ACCOUNT_ZONE: &str = "account";

/// What schedules need: invoicing, and the engine whose timers fire their occurrences.
#[derive(Clone)]
pub struct Schedules {
    /// Runs and their settings.
    pub invoicing: Invoicing,
    /// The engine that runs each occurrence's workflow.
    pub engine: l2c_engine::Engine,
}

/// The input of one occurrence's workflow instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Occurrence {
    /// The schedule's name.
    schedule: String,
    /// When it is due, RFC 3339 in whole seconds.
    due_at: String,
}

/// A schedule as created.
#[derive(Clone, Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSchedule {
    /// A unique name: 1-64 letters, digits, `-` or `_`.
    #[cfg_attr(feature = "openapi", schema(schema_with = shapes::id_schema))]
    pub name: String,
    /// A cron expression with seconds: `sec min hour day-of-month month day-of-week
    /// [year]`, e.g. `0 0 2 * * *` (daily at 02:00) or `0 0 0 1 * *` (monthly on the 1st).
    pub cron: String,
    /// The zone the times are read in: an IANA zone, or `account` (each account's own).
    #[serde(default = "default_zone")]
    #[cfg_attr(feature = "openapi", schema(schema_with = zone_schema))]
    pub time_zone: String,
}

#[cfg(feature = "openapi")]
fn zone_schema() -> utoipa::openapi::Object {
    shapes::codes_schema(
        shapes::time_zones().chain([ACCOUNT_ZONE]),
        "an IANA time zone such as Europe/Berlin, or `account` (each account's own)",
    )
}

fn default_zone() -> String {
    ACCOUNT_ZONE.into()
}

/// A stored schedule.
#[derive(Clone, Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleView {
    /// The name.
    pub name: String,
    /// The cron expression.
    pub cron: String,
    /// An IANA zone or `account`.
    pub time_zone: String,
    /// The next occurrence.
    pub next_due: DateTime<Utc>,
    /// The workflow instance waiting for it, once started.
    pub instance_id: Option<String>,
}

impl NewSchedule {
    /// Checks every field (all problems at once) and returns the parsed cron.
    pub fn validate(&self) -> DeskResult<Schedule> {
        let mut problems = Vec::new();
        if !shapes::ID.fits(&self.name) {
            problems.push(problem(
                "name",
                "id",
                format!("must be {}", shapes::ID.says),
            ));
        }
        let cron = Schedule::from_str(&self.cron);
        if let Err(e) = &cron {
            problems.push(problem(
                "cron",
                "cron",
                format!(
                    "{:?} is not a cron expression with seconds such as \"0 0 2 * * *\": {e}",
                    self.cron
                ),
            ));
        }
        if self.time_zone != ACCOUNT_ZONE && !shapes::is_time_zone(&self.time_zone) {
            problems.push(problem(
                "time_zone",
                "time_zone",
                format!(
                    "{:?} is neither an IANA zone such as Europe/Berlin nor \"account\"",
                    self.time_zone
                ),
            ));
        }
        DeskError::check(problems)?;
        cron.map_err(|e| DeskError::Internal(e.to_string()))
    }
}

/// The zones the schedule's times are read in: its own, or every account's.
async fn zones(inv: &Invoicing, time_zone: &str) -> DeskResult<Vec<Tz>> {
    if time_zone != ACCOUNT_ZONE {
        return Ok(vec![
            Tz::from_str(time_zone).map_err(|e| DeskError::Internal(e.to_string()))?
        ]);
    }
    let rows = sqlx::query("SELECT DISTINCT time_zone FROM billing_accounts")
        .fetch_all(&inv.db.pool)
        .await?;
    let mut out = Vec::new();
    for r in &rows {
        let zone: String = r.try_get("time_zone")?;
        out.extend(Tz::from_str(&zone).ok());
    }
    if out.is_empty() {
        out.push(Tz::UTC);
    }
    Ok(out)
}

/// The first occurrence after `after` in any of `zones`.
fn next_occurrence(cron: &Schedule, zones: &[Tz], after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    zones
        .iter()
        .filter_map(|z| cron.after(&after.with_timezone(z)).next())
        .map(|t| t.with_timezone(&Utc))
        .min()
}

/// The latest occurrence at or before `at`, read in `zone`.
fn latest_at_or_before(cron: &Schedule, zone: &Tz, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after = (at + Duration::seconds(1)).with_timezone(zone);
    cron.after(&after)
        .next_back()
        .map(|t| t.with_timezone(&Utc))
}

fn ms_to_utc(ms: i64) -> DeskResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| DeskError::Internal(format!("bad instant {ms}")))
}

/// The next `count` occurrences of `new` from now, as [`add`] would schedule them (in every
/// account zone for `account`), checked as [`add`] checks it: what a form shows before
/// saving. A cron that never occurs again is a problem at `cron`.
pub async fn upcoming(
    sched: &Schedules,
    new: &NewSchedule,
    count: usize,
) -> DeskResult<Vec<DateTime<Utc>>> {
    let cron = new.validate()?;
    let zones = zones(&sched.invoicing, &new.time_zone).await?;
    let mut out = Vec::with_capacity(count);
    let mut after = sched.invoicing.clock.now();
    while out.len() < count {
        let Some(next) = next_occurrence(&cron, &zones, after) else {
            break;
        };
        out.push(next);
        after = next;
    }
    if out.is_empty() {
        return Err(never(new));
    }
    Ok(out)
}

fn never(new: &NewSchedule) -> DeskError {
    DeskError::field("cron", "cron", format!("{:?} never occurs again", new.cron))
}

/// Stores a schedule and starts its first occurrence.
pub async fn add(sched: &Schedules, actor: &str, new: &NewSchedule) -> DeskResult<ScheduleView> {
    let cron = new.validate()?;
    let zones = zones(&sched.invoicing, &new.time_zone).await?;
    let next =
        next_occurrence(&cron, &zones, sched.invoicing.clock.now()).ok_or_else(|| never(new))?;
    // Occurrences before the schedule existed are not its business; a zone that appears
    // later has no mark, and its latest occurrence is billed at the next one.
    let marks: BTreeMap<String, i64> = zones
        .iter()
        .map(|z| (z.name().to_string(), sched.invoicing.clock.now_ms()))
        .collect();
    let mut tx = sched.invoicing.db.begin_write().await?;
    let added = sqlx::query(
        "INSERT INTO billing_schedules (name, cron, time_zone, next_due, zone_marks, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(new.name.clone())
    .bind(new.cron.clone())
    .bind(new.time_zone.clone())
    .bind(next.timestamp_millis())
    .bind(serde_json::to_string(&marks)?)
    .bind(sched.invoicing.clock.now_ms())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Err(DeskError::Conflict(format!(
            "schedule {} already exists",
            new.name
        )));
    }
    let entry = audit::Entry {
        actor,
        action: "billing_schedule.add",
        subject: format!("billing_schedule:{}", new.name),
        before: None,
        after: Some(serde_json::json!({"cron": new.cron, "time_zone": new.time_zone})),
    };
    let backend = sched.invoicing.db.backend;
    audit::record(&mut tx, backend, &entry, sched.invoicing.clock.now_ms()).await?;
    tx.commit().await?;
    ensure_instances(sched).await?;
    get(sched, &new.name).await
}

fn view(r: &sqlx::any::AnyRow) -> DeskResult<ScheduleView> {
    Ok(ScheduleView {
        name: r.try_get("name")?,
        cron: r.try_get("cron")?,
        time_zone: r.try_get("time_zone")?,
        next_due: ms_to_utc(r.try_get("next_due")?)?,
        instance_id: r.try_get("instance_id")?,
    })
}

/// Every schedule, by name.
pub async fn list(sched: &Schedules) -> DeskResult<Vec<ScheduleView>> {
    let rows = sqlx::query(
        "SELECT name, cron, time_zone, next_due, instance_id FROM billing_schedules ORDER BY name",
    )
    .fetch_all(&sched.invoicing.db.pool)
    .await?;
    rows.iter().map(view).collect()
}

/// One schedule.
pub async fn get(sched: &Schedules, name: &str) -> DeskResult<ScheduleView> {
    let row = sqlx::query(
        "SELECT name, cron, time_zone, next_due, instance_id FROM billing_schedules WHERE name = $1",
    )
    .bind(name.to_string())
    .fetch_optional(&sched.invoicing.db.pool)
    .await?
    .ok_or_else(|| DeskError::not_found("billing schedule", name))?;
    view(&row)
}

/// Removes a schedule; its pending occurrence finds it gone and bills nothing.
pub async fn remove(sched: &Schedules, actor: &str, name: &str) -> DeskResult<()> {
    let before = get(sched, name).await?;
    let mut tx = sched.invoicing.db.begin_write().await?;
    let n = sqlx::query("DELETE FROM billing_schedules WHERE name = $1")
        .bind(name.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(DeskError::not_found("billing schedule", name));
    }
    let entry = audit::Entry {
        actor,
        action: "billing_schedule.remove",
        subject: format!("billing_schedule:{name}"),
        before: Some(serde_json::json!({"cron": before.cron, "time_zone": before.time_zone})),
        after: None,
    };
    let backend = sched.invoicing.db.backend;
    audit::record(&mut tx, backend, &entry, sched.invoicing.clock.now_ms()).await?;
    tx.commit().await?;
    Ok(())
}

/// Starts the pending occurrence of every schedule that has none; returns how many started.
/// A schedule whose occurrence ended without moving it on (its step failed, or an operator
/// skipped the incident) goes on with the occurrence after that one.
pub async fn ensure_instances(sched: &Schedules) -> DeskResult<usize> {
    let rows = sqlx::query(
        "SELECT name, cron, time_zone, next_due, instance_id FROM billing_schedules ORDER BY name",
    )
    .fetch_all(&sched.invoicing.db.pool)
    .await?;
    let instances = rows
        .iter()
        .filter_map(|r| r.try_get::<Option<String>, _>("instance_id").transpose())
        .collect::<Result<Vec<String>, _>>()?;
    let statuses = sched.engine.instance_statuses(&instances).await?;
    let mut started = 0;
    for r in &rows {
        let name: String = r.try_get("name")?;
        let old_due: i64 = r.try_get("next_due")?;
        let old_instance: Option<String> = r.try_get("instance_id")?;
        let moving = |id: &String| statuses.get(id).is_some_and(|s| !s.is_final());
        if old_instance.as_ref().is_some_and(moving) {
            continue;
        }
        let mut due = old_due;
        if old_instance.is_some() {
            let cron = Schedule::from_str(&r.try_get::<String, _>("cron")?)
                .map_err(|e| DeskError::Internal(e.to_string()))?;
            let zones = zones(&sched.invoicing, &r.try_get::<String, _>("time_zone")?).await?;
            let Some(next) = next_occurrence(&cron, &zones, ms_to_utc(old_due)?) else {
                continue;
            };
            tracing::warn!(schedule = %name, "a billing occurrence ended without billing; going on with the next");
            due = next.timestamp_millis();
        }
        let mut tx = sched.invoicing.db.begin_write().await?;
        let id = start_occurrence(sched, &mut tx, &name, due).await?;
        let same_instance = if old_instance.is_some() {
            "instance_id = $5"
        } else {
            "instance_id IS NULL"
        };
        let sql = format!(
            "UPDATE billing_schedules SET instance_id = $1, next_due = $2 WHERE name = $3 \
             AND next_due = $4 AND {same_instance}"
        );
        let mut claim = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(due)
            .bind(name)
            .bind(old_due);
        if let Some(old) = old_instance {
            claim = claim.bind(old);
        }
        if claim.execute(&mut *tx).await?.rows_affected() == 1 {
            tx.commit().await?;
            started += 1;
        }
    }
    if started > 0 {
        sched.engine.wake();
    }
    Ok(started)
}

/// Starts the instance of a schedule's occurrence due at `due` (ms), in the caller's
/// transaction; returns its id.
async fn start_occurrence(
    sched: &Schedules,
    tx: &mut sqlx::AnyConnection,
    name: &str,
    due: i64,
) -> DeskResult<String> {
    let input = serde_json::to_value(Occurrence {
        schedule: name.to_string(),
        due_at: ms_to_utc(due)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })?;
    let key = format!("billing-schedule:{name}");
    Ok(sched
        .engine
        .start_in(tx, WORKFLOW, input, Some(&key))
        .await?)
}

/// Moves the pending occurrence of every `account` schedule earlier when an account zone
/// that appeared since it was chosen has its local time first: that occurrence's instance is
/// cancelled and one due at the new zone's time takes its place (the zones already billed
/// are skipped then, by their marks, and come again at the occurrence that was pending).
/// Returns how many schedules moved.
pub async fn follow_new_zones(sched: &Schedules) -> DeskResult<usize> {
    let rows = sqlx::query(
        "SELECT name, cron, next_due, instance_id FROM billing_schedules \
         WHERE time_zone = $1 AND instance_id IS NOT NULL",
    )
    .bind(ACCOUNT_ZONE)
    .fetch_all(&sched.invoicing.db.pool)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let zones = zones(&sched.invoicing, ACCOUNT_ZONE).await?;
    let mut moved = 0;
    for r in &rows {
        let name: String = r.try_get("name")?;
        match move_earlier(sched, r, &zones).await {
            Ok(true) => moved += 1,
            Ok(false) => {}
            // Its occurrence ended meanwhile, say; the next round looks again.
            Err(e) => {
                tracing::warn!(schedule = %name, error = %e, "moving a billing occurrence earlier")
            }
        }
    }
    if moved > 0 {
        sched.engine.wake();
    }
    Ok(moved)
}

/// Moves one schedule's pending occurrence to the first local occurrence of any of `zones`
/// from now, if that comes before it; true if it moved.
async fn move_earlier(sched: &Schedules, r: &sqlx::any::AnyRow, zones: &[Tz]) -> DeskResult<bool> {
    let name: String = r.try_get("name")?;
    let old_due: i64 = r.try_get("next_due")?;
    let old_instance: String = r.try_get("instance_id")?;
    let cron = Schedule::from_str(&r.try_get::<String, _>("cron")?)
        .map_err(|e| DeskError::Internal(e.to_string()))?;
    let Some(first) = next_occurrence(&cron, zones, sched.invoicing.clock.now()) else {
        return Ok(false);
    };
    let due = first.timestamp_millis();
    if due >= old_due {
        return Ok(false);
    }
    let mut tx = sched.invoicing.db.begin_write().await?;
    let reason = "an account zone's occurrence now comes first";
    sched
        .engine
        .cancel_in(&mut tx, &old_instance, "scheduler", reason)
        .await?;
    let id = start_occurrence(sched, &mut tx, &name, due).await?;
    let claimed = sqlx::query(
        "UPDATE billing_schedules SET instance_id = $1, next_due = $2 WHERE name = $3 \
         AND next_due = $4 AND instance_id = $5",
    )
    .bind(id)
    .bind(due)
    .bind(name.clone())
    .bind(old_due)
    .bind(old_instance)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if claimed != 1 {
        return Ok(false);
    }
    tx.commit().await?;
    tracing::info!(schedule = %name, due = %first, "a new account zone's occurrence comes first");
    Ok(true)
}

/// How many scheduler rounds apart [`follow_new_zones`] runs (it reads every account's zone).
const ZONE_CHECK_EVERY: u64 = 30;

/// Keeps every schedule's next occurrence started (and, every [`ZONE_CHECK_EVERY`] rounds,
/// early enough for new account zones), and resumes stalled manual runs (see
/// [`super::resume`]), checking every `every`, until aborted.
pub fn spawn_scheduler(
    sched: Schedules,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut round: u64 = 0;
        loop {
            round = round.wrapping_add(1);
            if let Err(e) = ensure_instances(&sched).await {
                tracing::warn!(error = %e, "billing scheduler");
            }
            if round.is_multiple_of(ZONE_CHECK_EVERY) {
                if let Err(e) = follow_new_zones(&sched).await {
                    tracing::warn!(error = %e, "billing scheduler: new account zones");
                }
            }
            if let Err(e) = super::resume::resume_stalled(&sched.invoicing).await {
                tracing::warn!(error = %e, "resuming stalled billing runs");
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// Registers the handler that bills one occurrence.
pub fn register(inv: &Invoicing, handlers: &mut Handlers) {
    let inv = inv.clone();
    handlers.register(HANDLER, move |ctx| {
        let inv = inv.clone();
        async move { occurrence(&inv, ctx).await }
    });
}

fn handler_error(e: DeskError) -> HandlerError {
    if e.is_transient() {
        HandlerError::Retryable(e.to_string())
    } else {
        HandlerError::Fatal(e.to_string())
    }
}

fn db_err(e: sqlx::Error) -> HandlerError {
    handler_error(e.into())
}

async fn occurrence(inv: &Invoicing, ctx: TaskContext) -> HandlerResult {
    let Occurrence {
        schedule: name,
        due_at,
    } = ctx.input_as()?;
    let due: DateTime<Utc> = due_at.parse().map_err(|e| {
        HandlerError::Fatal(format!(
            "input: due_at: {due_at:?} is not an RFC 3339 instant: {e}"
        ))
    })?;
    let row = sqlx::query(
        "SELECT cron, time_zone, next_due, zone_marks FROM billing_schedules WHERE name = $1",
    )
    .bind(name.clone())
    .fetch_optional(&inv.db.pool)
    .await
    .map_err(db_err)?;
    let Some(row) = row else {
        return Ok(json!({ "skipped": format!("schedule {name} was removed") }));
    };
    let next_due: i64 = row.try_get("next_due").map_err(db_err)?;
    if next_due != due.timestamp_millis() {
        return Ok(json!({ "skipped": "the schedule moved on" }));
    }
    let cron_text: String = row.try_get("cron").map_err(db_err)?;
    let cron = Schedule::from_str(&cron_text).map_err(|e| HandlerError::Fatal(e.to_string()))?;
    let time_zone: String = row.try_get("time_zone").map_err(db_err)?;
    let marks_text: String = row.try_get("zone_marks").map_err(db_err)?;
    let mut marks: BTreeMap<String, i64> =
        serde_json::from_str(&marks_text).map_err(|e| HandlerError::Fatal(e.to_string()))?;
    let all = zones(inv, &time_zone).await.map_err(handler_error)?;
    let trigger = format!("schedule:{name}");
    let runs = if time_zone == ACCOUNT_ZONE {
        let pending = Pending {
            name: &name,
            due,
            cron: &cron,
            trigger: &trigger,
        };
        pending.bill_zones(inv, &all, &mut marks).await?
    } else {
        let scope = RunScope {
            as_of: AsOf::Instant(due),
            zones: None,
        };
        vec![bill(inv, scope, &trigger).await?]
    };
    // Counting on from this occurrence (not from now) catches up every missed one.
    let next = next_occurrence(&cron, &all, due)
        .ok_or_else(|| HandlerError::Fatal(format!("schedule {name} never occurs again")))?;
    move_on(inv, &name, due, next, &marks).await?;
    Ok(json!({ "billing_runs": runs, "next_due": next.to_rfc3339() }))
}

/// The occurrence being billed.
struct Pending<'a> {
    name: &'a str,
    due: DateTime<Utc>,
    cron: &'a Schedule,
    trigger: &'a str,
}

impl Pending<'_> {
    /// Bills every zone whose local time has come since it was last billed, each as of its
    /// own occurrence: a zone that appeared after the pending occurrence was chosen is billed
    /// at the next one, late rather than never. Each zone's run has its own trigger (so a
    /// retry resumes the right one) and its mark is kept as soon as it is billed; a zone
    /// that fails does not keep the others from being billed.
    async fn bill_zones(
        &self,
        inv: &Invoicing,
        zones: &[Tz],
        marks: &mut BTreeMap<String, i64>,
    ) -> Result<Vec<String>, HandlerError> {
        let mut runs = Vec::new();
        let mut failed = None;
        for zone in zones {
            let Some(at) = latest_at_or_before(self.cron, zone, self.due) else {
                continue;
            };
            if marks
                .get(zone.name())
                .is_some_and(|m| *m >= at.timestamp_millis())
            {
                continue;
            }
            let scope = RunScope {
                as_of: AsOf::Instant(at),
                zones: Some(vec![zone.name().to_string()]),
            };
            match bill(inv, scope, &format!("{}:{}", self.trigger, zone.name())).await {
                Ok(run) => {
                    runs.push(run);
                    marks.insert(zone.name().to_string(), at.timestamp_millis());
                    save_marks(inv, self.name, self.due, marks).await?;
                }
                Err(e) => failed = Some(e),
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(runs),
        }
    }
}

/// Moves schedule `name` from its occurrence `due` to `next`, keeping the zones' marks.
async fn move_on(
    inv: &Invoicing,
    name: &str,
    due: DateTime<Utc>,
    next: DateTime<Utc>,
    marks: &BTreeMap<String, i64>,
) -> Result<(), HandlerError> {
    let marks_text =
        serde_json::to_string(marks).map_err(|e| HandlerError::Fatal(e.to_string()))?;
    let mut tx = inv.db.begin_write().await.map_err(db_err)?;
    sqlx::query(
        "UPDATE billing_schedules SET next_due = $1, instance_id = NULL, zone_marks = $2, \
         updated_at = $3 WHERE name = $4 AND next_due = $5",
    )
    .bind(next.timestamp_millis())
    .bind(marks_text)
    .bind(inv.clock.now_ms())
    .bind(name.to_string())
    .bind(due.timestamp_millis())
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// Keeps the per-zone marks of the pending occurrence `due`.
async fn save_marks(
    inv: &Invoicing,
    name: &str,
    due: DateTime<Utc>,
    marks: &BTreeMap<String, i64>,
) -> Result<(), HandlerError> {
    let text = serde_json::to_string(marks).map_err(|e| HandlerError::Fatal(e.to_string()))?;
    let mut tx = inv.db.begin_write().await.map_err(db_err)?;
    sqlx::query("UPDATE billing_schedules SET zone_marks = $1 WHERE name = $2 AND next_due = $3")
        .bind(text)
        .bind(name.to_string())
        .bind(due.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// One run of an occurrence; its trigger names the schedule, so a retry resumes it.
async fn bill(inv: &Invoicing, scope: RunScope, trigger: &str) -> Result<String, HandlerError> {
    let request = RunRequest {
        scope,
        dry_run: false,
        issue: true,
        trigger: trigger.to_string(),
        // Scheduled runs bill each account's own date now, never ahead.
        ahead: false,
    };
    match run(inv, request).await.map_err(handler_error)? {
        RunOutcome::Stored(id) => Ok(id),
        RunOutcome::Dry { .. } => Ok(String::new()),
    }
}
