//! The work queues: which human tasks a person sees and may act on, and acting on them. The
//! API and the web desk both go through here, so the rules have one home: members of a
//! task's group (and admins) see it; approvers act on approval tasks of their groups,
//! engineers on manual tasks of theirs; the engine refuses anyone acting on their own order.

use crate::context::Orders;
use crate::error::{check_text, DeskError, DeskResult};
use crate::users::{Role, User};
use l2c_engine::runtime::{Outcome, TaskView};
use serde_json::Value;

/// What a person does with a task.
#[derive(Debug, Clone)]
pub enum Action {
    /// Take it, so others cannot act on it until released or decided.
    Claim,
    /// Give a claimed task back to the queue.
    Release,
    /// Approve an approval task.
    Approve,
    /// Reject, with the reason the requester sees (required).
    Reject(String),
    /// Complete a manual task with the data the work produced (an object, or null).
    Complete(Value),
}

impl Action {
    /// The past tense people read in notices ("approved").
    pub fn done_word(&self) -> &'static str {
        match self {
            Action::Claim => "claimed",
            Action::Release => "released",
            Action::Approve => "approved",
            Action::Reject(_) => "rejected",
            Action::Complete(_) => "completed",
        }
    }
}

/// Whether `user` may see `task`: admins every task, others their groups' tasks.
pub fn may_view(user: &User, task: &TaskView) -> bool {
    user.is_admin() || user.in_group(&task.group)
}

/// The groups whose queues `user` reads: `group` if given (and theirs, or any for admins),
/// else all of theirs (admins: every declared group in `all`).
pub fn queue_groups(user: &User, all: &[String], group: Option<&str>) -> DeskResult<Vec<String>> {
    user_may_work(user)?;
    match group {
        Some(g) if user.is_admin() || user.in_group(g) => Ok(vec![g.to_string()]),
        Some(g) => Err(DeskError::Forbidden(format!(
            "{} is not in group {g}",
            user.name
        ))),
        None if user.is_admin() => Ok(all.to_vec()),
        None => Ok(user.groups.clone()),
    }
}

fn user_may_work(user: &User) -> DeskResult<()> {
    match user.role {
        Role::Approver | Role::Engineer | Role::Admin => Ok(()),
        _ => Err(DeskError::Forbidden(format!(
            "{} is a {}; task queues are for approvers, engineers and admins",
            user.name, user.role
        ))),
    }
}

/// The open tasks of `groups`, in the order people should take them: by SLA deadline (the
/// earliest first, so overdue tasks lead), then tasks without a deadline, oldest first.
pub async fn open_tasks(ctx: &Orders, groups: &[String]) -> DeskResult<Vec<TaskView>> {
    let mut tasks = Vec::new();
    for g in groups {
        tasks.extend(ctx.engine.open_tasks(g).await?);
    }
    tasks.sort_by(|a, b| {
        let deadline = |t: &TaskView| (t.sla_due.is_none(), t.sla_due);
        deadline(a)
            .cmp(&deadline(b))
            .then(a.created_at.cmp(&b.created_at))
            .then(a.id.cmp(&b.id))
    });
    Ok(tasks)
}

/// The task, if `user` may see it; a task of another group is not found.
pub async fn visible_task(ctx: &Orders, user: &User, id: &str) -> DeskResult<TaskView> {
    let task = ctx.engine.task(id).await?;
    if !may_view(user, &task) {
        return Err(DeskError::not_found("task", id));
    }
    Ok(task)
}

/// The role that acts on a task of `kind`.
pub fn role_for(kind: &str) -> Role {
    if kind == "approval" {
        Role::Approver
    } else {
        Role::Engineer
    }
}

/// Whether `user` may act on `task` (its group's member with the role its kind needs).
pub fn may_act(user: &User, task: &TaskView) -> bool {
    user.in_group(&task.group) && user.role == role_for(&task.kind)
}

/// The task, if `user` may act on it; see [`may_act`].
pub async fn actionable(ctx: &Orders, user: &User, id: &str) -> DeskResult<TaskView> {
    let task = visible_task(ctx, user, id).await?;
    if !may_act(user, &task) {
        let role = role_for(&task.kind);
        return Err(DeskError::Forbidden(format!(
            "task {id} is a {} task of {}; only {}s of that group act on it",
            task.kind, task.group, role
        )));
    }
    Ok(task)
}

/// Checks what `action` carries (a reason for a rejection, an object for completion).
pub fn check_action(action: &Action) -> DeskResult<()> {
    match action {
        Action::Reject(reason) => {
            DeskError::check(check_text("reason", reason).into_iter().collect())
        }
        Action::Complete(data) if !(data.is_null() || data.is_object()) => Err(DeskError::field(
            "data",
            "object",
            "data must be a JSON object",
        )),
        _ => Ok(()),
    }
}

/// Does `action` on task `id` as `user`, and returns the task as it is afterwards.
pub async fn act(ctx: &Orders, user: &User, id: &str, action: Action) -> DeskResult<TaskView> {
    check_action(&action)?;
    actionable(ctx, user, id).await?;
    let engine = &ctx.engine;
    match action {
        Action::Claim => engine.claim_task(id, &user.name).await?,
        Action::Release => engine.release_task(id, &user.name).await?,
        Action::Approve => {
            engine
                .complete_task(id, &user.name, Outcome::Approve)
                .await?
        }
        Action::Reject(reason) => {
            engine
                .complete_task(id, &user.name, Outcome::Reject { reason })
                .await?
        }
        Action::Complete(data) => {
            engine
                .complete_task(id, &user.name, Outcome::Done { data })
                .await?
        }
    }
    Ok(engine.task(id).await?)
}
