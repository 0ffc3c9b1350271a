-- A task's next SLA deadline (the inbox sorts by it) is MIN(due_at) of its pending timers.
-- With only (step_id) and (state, due_at), SQLite walks every pending timer in due order for
-- each task; (step_id, state, due_at) answers it from one index range. It also serves every
-- lookup by step, so it replaces the step-only index.
CREATE INDEX wf_timers_step_state ON wf_timers (step_id, state, due_at);
DROP INDEX wf_timers_step;
