//! How an instance moves through its graph inside one transaction: completing a stage, routing
//! along live and dead edges (dead-path elimination), joins, activating the next stages,
//! subflow children, completion, and compensation on reject, failure or cancellation.

use super::listener::Change;
use super::pending::{NewEdge, NewTask, NewTimer};
use super::state::{merge_output, new_id, Event, Inst, NewStep, Tx};
use super::status::*;
use crate::definition::{ChildFailure, ChildWorkflow, Definition, HumanStage, StageKind, Wait};
use crate::error::Result;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use sqlx::Row;
use std::sync::Arc;

/// An edge being followed: from a finished (or dead) stage to a target.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    source: usize,
    target: usize,
    live: bool,
}

/// Each child's definition and input, or why the subflow cannot start.
type ChildPlan = std::result::Result<Vec<(Arc<Definition>, Value)>, String>;

/// Where a child instance hangs in its parent.
pub(crate) struct ParentLink {
    pub instance_id: String,
    pub step_id: String,
    pub index: i64,
}

impl Tx<'_> {
    /// A stage's step finished well (its row is already updated): merge its output, follow
    /// its edges, and complete the instance if nothing is left open.
    pub async fn stage_completed(
        &mut self,
        inst_id: &str,
        stage: usize,
        output: Value,
        event: Event,
    ) -> Result<()> {
        if self.inst(inst_id)?.status != RUNNING {
            // The instance stopped earlier in this transaction (a sibling branch failed). The
            // step's row is completed, so the compensation undoes it; the instance moves no
            // further, and its output and open steps stay as the compensation set them.
            self.push_event(event);
            return Ok(());
        }
        {
            let inst = self.inst_mut(inst_id)?;
            let stage_id = inst.def.stages[stage].id.clone();
            merge_output(&mut inst.output, &stage_id, output);
            inst.open_steps -= 1;
        }
        self.push_event(event);
        match self.outgoing(inst_id, stage, true)? {
            Ok(arrivals) => self.propagate(inst_id, arrivals).await?,
            Err(message) => {
                return self
                    .begin_compensation(inst_id, FAILED, None, &message)
                    .await
            }
        }
        self.maybe_complete(inst_id).await
    }

    /// Evaluates a stage's outgoing edges; `Err` carries a condition that failed to evaluate.
    fn outgoing(
        &mut self,
        inst_id: &str,
        stage: usize,
        source_live: bool,
    ) -> Result<std::result::Result<Vec<Arrival>, String>> {
        let inst = self.inst(inst_id)?;
        let def = inst.def.clone();
        let mut arrivals = Vec::new();
        let mut skipped = Vec::new();
        for (target, condition) in def.outgoing(stage) {
            let live = match (source_live, condition) {
                (false, _) => false,
                (true, None) => true,
                (true, Some(expr)) => match expr.eval_bool(&inst.input, &inst.output) {
                    Ok(live) => live,
                    Err(message) => {
                        return Ok(Err(format!(
                            "condition on edge {} -> {}: {message}",
                            def.stages[stage].id, def.stages[target].id
                        )))
                    }
                },
            };
            if source_live && !live {
                skipped.push((def.stages[target].id.clone(), condition.map(|c| c.source())));
            }
            arrivals.push(Arrival {
                source: stage,
                target,
                live,
            });
        }
        for (target, condition) in skipped {
            let event = Event::new(inst_id, "branch.skipped")
                .stage(&def.stages[stage].id)
                .data(json!({"to": target, "condition": condition}));
            self.push_event(event);
        }
        Ok(Ok(arrivals))
    }

    /// Follows arrivals until every reachable decision is made.
    async fn propagate(&mut self, inst_id: &str, mut work: Vec<Arrival>) -> Result<()> {
        while let Some(arrival) = work.pop() {
            if self.inst(inst_id)?.status != RUNNING {
                return Ok(());
            }
            let Some(live) = self.join(inst_id, arrival).await? else {
                continue;
            };
            if live {
                let more = self.activate(inst_id, arrival.target).await?;
                work.extend(more);
            } else {
                self.mark_dead(inst_id, arrival.target)?;
                if let Ok(more) = self.outgoing(inst_id, arrival.target, false)? {
                    work.extend(more);
                }
            }
        }
        Ok(())
    }

    /// `Some(any live)` once every incoming edge of the target has arrived; `None` while the
    /// join still waits. Single-entry stages decide at once; a join counts its arrivals in
    /// memory, read once per instance and transaction (see [`super::pending::Pending`]).
    async fn join(&mut self, inst_id: &str, arrival: Arrival) -> Result<Option<bool>> {
        let def = self.inst(inst_id)?.def.clone();
        let degree = def.in_degree(arrival.target);
        if degree <= 1 {
            return Ok(Some(arrival.live));
        }
        let backend = self.inner.db.backend;
        self.pending
            .read(&mut *self.conn, backend, &[inst_id])
            .await?;
        let joined = self.pending.arrive(NewEdge {
            instance_id: inst_id.to_string(),
            source: def.stages[arrival.source].id.clone(),
            target: def.stages[arrival.target].id.clone(),
            live: arrival.live,
        });
        Ok((joined.arrived as usize >= degree).then_some(joined.live))
    }

    fn mark_dead(&mut self, inst_id: &str, stage: usize) -> Result<()> {
        let stage_id = self.inst(inst_id)?.def.stages[stage].id.clone();
        self.push_step(NewStep {
            id: new_id(),
            instance_id: inst_id.to_string(),
            stage: stage_id.clone(),
            kind: self.inst(inst_id)?.def.stages[stage].kind.name(),
            handler: None,
            state: DEAD,
            ready_at: self.now,
            comp_seq: None,
            finished_at: Some(self.now),
        });
        self.push_event(Event::new(inst_id, "stage.dead").stage(&stage_id));
        Ok(())
    }

    /// Makes a stage's step; returns arrivals when the stage finishes at once (an empty
    /// subflow), and nothing otherwise.
    async fn activate(&mut self, inst_id: &str, stage: usize) -> Result<Vec<Arrival>> {
        let def = self.inst(inst_id)?.def.clone();
        let st = &def.stages[stage];
        let step_id = new_id();
        let mut step = NewStep {
            id: step_id.clone(),
            instance_id: inst_id.to_string(),
            stage: st.id.clone(),
            kind: st.kind.name(),
            handler: None,
            state: WAITING,
            ready_at: self.now,
            comp_seq: None,
            finished_at: None,
        };
        match &st.kind {
            StageKind::Task(task) => {
                step.state = READY;
                step.handler = Some(task.handler.clone());
                self.push_event(Event::new(inst_id, "stage.ready").stage(&st.id));
            }
            StageKind::Approval(human) | StageKind::Manual(human) => {
                self.create_task(inst_id, &step_id, &st.id, st.kind.name(), human)
                    .await?;
            }
            StageKind::Timer(wait) => {
                let due = match self.timer_due(inst_id, wait)? {
                    Ok(due) => due,
                    Err(message) => {
                        self.begin_compensation(inst_id, FAILED, None, &message)
                            .await?;
                        return Ok(Vec::new());
                    }
                };
                self.insert_timer(inst_id, &step_id, "wait", None, due)
                    .await?;
                let event = Event::new(inst_id, "timer.set").stage(&st.id);
                self.push_event(event.data(json!({ "due_at": crate::clock::from_ms(due) })));
            }
            StageKind::Subflow(_) => return self.start_subflow(inst_id, stage, step).await,
            StageKind::End => {
                step.state = COMPLETED;
                step.finished_at = Some(self.now);
                self.push_step(step);
                self.push_event(Event::new(inst_id, "end.reached").stage(&st.id));
                return Ok(Vec::new());
            }
        }
        self.push_step(step);
        self.inst_mut(inst_id)?.open_steps += 1;
        Ok(Vec::new())
    }

    fn timer_due(&self, inst_id: &str, wait: &Wait) -> Result<std::result::Result<i64, String>> {
        let inst = self.inst(inst_id)?;
        Ok(match wait {
            Wait::Duration(d) => Ok(self.now.saturating_add(d.as_millis() as i64)),
            Wait::Until(expr) => match expr.eval(&inst.input, &inst.output) {
                Ok(Value::String(s)) => chrono::DateTime::parse_from_rfc3339(&s)
                    .map(|t| t.timestamp_millis())
                    .map_err(|e| format!("timer `{}` gave {s:?}: {e}", expr.source())),
                Ok(other) => Err(format!(
                    "timer `{}` must give an RFC 3339 date-time string, gave {other}",
                    expr.source()
                )),
                Err(message) => Err(message),
            },
        })
    }

    pub(crate) async fn insert_timer(
        &mut self,
        inst_id: &str,
        step_id: &str,
        purpose: &str,
        escalation: Option<i64>,
        due: i64,
    ) -> Result<()> {
        self.pending.timers.push(NewTimer {
            id: new_id(),
            instance_id: inst_id.to_string(),
            step_id: step_id.to_string(),
            purpose: purpose.to_string(),
            escalation,
            due_at: due,
        });
        Ok(())
    }

    async fn create_task(
        &mut self,
        inst_id: &str,
        step_id: &str,
        stage: &str,
        kind: &str,
        human: &HumanStage,
    ) -> Result<()> {
        let (required, members) = self.inner.quorum(human);
        self.pending.tasks.push(NewTask {
            id: step_id.to_string(),
            instance_id: inst_id.to_string(),
            stage: stage.to_string(),
            kind: kind.to_string(),
            group: human.group.clone(),
            required,
            members: members.as_ref().map(|m| json!(m).to_string()),
        });
        for (index, escalation) in human.sla.iter().enumerate() {
            let due = self.now.saturating_add(escalation.after.as_millis() as i64);
            self.insert_timer(inst_id, step_id, "sla", Some(index as i64), due)
                .await?;
        }
        let data = json!({"task": step_id, "group": human.group, "required": required});
        self.push_event(Event::new(inst_id, "task.created").stage(stage).data(data));
        Ok(())
    }

    async fn start_subflow(
        &mut self,
        inst_id: &str,
        stage: usize,
        mut step: NewStep,
    ) -> Result<Vec<Arrival>> {
        let def = self.inst(inst_id)?.def.clone();
        let StageKind::Subflow(sub) = &def.stages[stage].kind else {
            return Ok(Vec::new());
        };
        let children = match self.plan_children(inst_id, sub)? {
            Ok(children) => children,
            Err(message) => {
                self.begin_compensation(inst_id, FAILED, None, &message)
                    .await?;
                return Ok(Vec::new());
            }
        };
        let stage_id = def.stages[stage].id.clone();
        if children.is_empty() {
            step.state = COMPLETED;
            step.finished_at = Some(self.now);
            self.push_step(step);
            let report = json!({ stage_id.clone(): {"children": [], "failed": []} });
            merge_output(&mut self.inst_mut(inst_id)?.output, &stage_id, report);
            self.push_event(Event::new(inst_id, "subflow.empty").stage(&stage_id));
            return Ok(self.outgoing(inst_id, stage, true)?.unwrap_or_default());
        }
        let step_id = step.id.clone();
        self.push_step(step);
        self.inst_mut(inst_id)?.open_steps += 1;
        let count = children.len();
        // Children carry their parent's business key, so an order's items are found by it.
        let key = self.inst(inst_id)?.business_key.clone();
        // A child that ends in this very transaction (it failed at once, or had nothing to
        // do) must not close the subflow before its later siblings exist.
        self.starting_subflows.insert(step_id.clone(), false);
        for (index, (child_def, input)) in children.into_iter().enumerate() {
            let parent = ParentLink {
                instance_id: inst_id.to_string(),
                step_id: step_id.clone(),
                index: index as i64,
            };
            self.create_instance(child_def, input, Some(parent), key.clone())
                .await?;
        }
        let event = Event::new(inst_id, "subflow.started").stage(&stage_id);
        self.push_event(event.data(json!({ "children": count })));
        if self.starting_subflows.remove(&step_id) == Some(true) {
            self.child_finished(inst_id.to_string(), step_id).await?;
        }
        Ok(Vec::new())
    }

    /// Each child's definition and input, or why the subflow cannot start.
    fn plan_children(
        &self,
        inst_id: &str,
        sub: &crate::definition::SubflowStage,
    ) -> Result<ChildPlan> {
        let inst = self.inst(inst_id)?;
        let items = match sub.items.eval(&inst.input, &inst.output) {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                return Ok(Err(format!(
                    "subflow items `{}` must give a list, gave {other}",
                    sub.items.source()
                )))
            }
            Err(message) => return Ok(Err(message)),
        };
        let mut children = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            let name = match &sub.workflow {
                ChildWorkflow::Named(name) => name.clone(),
                ChildWorkflow::FromField(field) => match item.get(field).and_then(Value::as_str) {
                    Some(name) => name.to_string(),
                    None => {
                        return Ok(Err(format!(
                            "subflow item {index} has no string field {field:?} naming its workflow"
                        )))
                    }
                },
            };
            match self.inner.current(&name) {
                Some(def) => children.push((def, item)),
                None => {
                    return Ok(Err(format!(
                        "subflow item {index} names workflow {name:?}, which is not loaded"
                    )))
                }
            }
        }
        Ok(Ok(children))
    }

    /// Creates an instance in this transaction and activates its start stage.
    pub(crate) fn create_instance<'a>(
        &'a mut self,
        def: Arc<Definition>,
        input: Value,
        parent: Option<ParentLink>,
        business_key: Option<String>,
    ) -> BoxFuture<'a, Result<String>> {
        Box::pin(async move {
            let id = new_id();
            let (parent_id, parent_step, child_index) = match parent {
                Some(p) => (Some(p.instance_id), Some(p.step_id), Some(p.index)),
                None => (None, None, None),
            };
            let start = def.start;
            let data =
                json!({"workflow": def.name, "version": def.version.hash, "parent": parent_id});
            self.instances.insert(
                id.clone(),
                Inst {
                    id: id.clone(),
                    workflow: def.name.clone(),
                    def,
                    parent_id,
                    parent_step,
                    child_index,
                    business_key,
                    status: RUNNING.to_string(),
                    outcome: None,
                    input: Arc::new(input),
                    output: json!({}),
                    open_steps: 0,
                    created_at: self.now,
                    finished_at: None,
                    rev: 0,
                    new: true,
                    dirty: false,
                },
            );
            self.pending.created(&id);
            self.push_event(Event::new(&id, "instance.started").data(data));
            self.push_change(&id, Change::Started)?;
            let arrivals = self.activate(&id, start).await?;
            self.propagate(&id, arrivals).await?;
            self.maybe_complete(&id).await?;
            Ok(id)
        })
    }

    /// Completes a running instance with nothing left open, and tells its parent.
    async fn maybe_complete(&mut self, inst_id: &str) -> Result<()> {
        let inst = self.inst(inst_id)?;
        if inst.status != RUNNING || inst.open_steps > 0 {
            return Ok(());
        }
        let now = self.now;
        let inst = self.inst_mut(inst_id)?;
        inst.status = COMPLETED.to_string();
        inst.finished_at = Some(now);
        let parent = inst.parent_id.clone().zip(inst.parent_step.clone());
        self.push_event(Event::new(inst_id, "instance.completed"));
        self.push_change(
            inst_id,
            Change::Ended {
                status: COMPLETED.to_string(),
            },
        )?;
        if let Some((parent_id, step_id)) = parent {
            self.child_finished(parent_id, step_id).await?;
        }
        Ok(())
    }

    /// A child ended; when all children of the subflow step have, the step completes (or
    /// fails, when the stage says a failed child fails it).
    pub(crate) fn child_finished(
        &mut self,
        parent_id: String,
        step_id: String,
    ) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if let Some(ended) = self.starting_subflows.get_mut(&step_id) {
                *ended = true;
                return Ok(());
            }
            self.load(std::slice::from_ref(&parent_id)).await?;
            if self.inst(&parent_id)?.status != RUNNING {
                return Ok(());
            }
            self.sync().await?;
            let rows = sqlx::query(
                "SELECT id, child_index, status FROM wf_instances WHERE parent_step = $1 \
                 ORDER BY child_index",
            )
            .bind(step_id.clone())
            .fetch_all(&mut *self.conn)
            .await?;
            let mut children = Vec::with_capacity(rows.len());
            let mut failed = Vec::new();
            for row in &rows {
                let status: String = row.try_get("status")?;
                if status == RUNNING || status == COMPENSATING {
                    return Ok(());
                }
                let index: i64 = row.try_get("child_index")?;
                if status != COMPLETED {
                    failed.push(index);
                }
                let id: String = row.try_get("id")?;
                children.push(json!({"index": index, "instance": id, "status": status}));
            }
            let row = sqlx::query("SELECT stage FROM wf_steps WHERE id = $1 AND state = 'waiting'")
                .bind(step_id.clone())
                .fetch_optional(&mut *self.conn)
                .await?;
            let Some(row) = row else { return Ok(()) };
            let stage_id: String = row.try_get("stage")?;
            let def = self.inst(&parent_id)?.def.clone();
            let Some(stage) = def.stage_index(&stage_id) else {
                return Ok(());
            };
            let fail = matches!(&def.stages[stage].kind, StageKind::Subflow(s)
                if s.on_child_failure == ChildFailure::Fail && !failed.is_empty());
            let report = json!({"children": children, "failed": failed});
            let state = if fail { FAILED } else { COMPLETED };
            self.finish_waiting_step(&step_id, state).await?;
            let event = Event::new(
                &parent_id,
                if fail {
                    "step.failed"
                } else {
                    "step.completed"
                },
            )
            .stage(&stage_id)
            .data(report.clone());
            if fail {
                self.push_event(event);
                let message = format!("children {failed:?} of subflow {stage_id} failed");
                return self
                    .begin_compensation(&parent_id, FAILED, None, &message)
                    .await;
            }
            let output = json!({ stage_id: report });
            self.stage_completed(&parent_id, stage, output, event).await
        })
    }

    /// Moves a waiting step (human task, timer, subflow) to a final state; false when it was
    /// not waiting any more (cancelled, or finished by someone else first).
    pub(crate) async fn finish_waiting_step(&mut self, step_id: &str, state: &str) -> Result<bool> {
        self.sync().await?;
        let done = sqlx::query(
            "UPDATE wf_steps SET state = $1, finished_at = $2 WHERE id = $3 AND state = 'waiting'",
        )
        .bind(state.to_string())
        .bind(self.now)
        .bind(step_id.to_string())
        .execute(&mut *self.conn)
        .await?;
        sqlx::query(
            "UPDATE wf_timers SET state = 'cancelled' WHERE step_id = $1 AND state = 'pending'",
        )
        .bind(step_id.to_string())
        .execute(&mut *self.conn)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
