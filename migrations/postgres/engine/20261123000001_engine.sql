-- l2c-engine tables: workflow definitions, instances, steps, human tasks, timers, join edges and
-- the append-only history. Times are UTC milliseconds since the epoch; JSON is stored as text.
-- Keep this file and ../sqlite/20261123000001_engine.sql the same schema.

CREATE TABLE wf_definitions (
    name TEXT NOT NULL,
    hash TEXT NOT NULL,
    number BIGINT,
    source TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (name, hash)
);

CREATE TABLE wf_instances (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    version TEXT NOT NULL,
    parent_id TEXT,
    parent_step TEXT,
    child_index BIGINT,
    business_key TEXT,
    status TEXT NOT NULL,
    outcome TEXT,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    open_steps BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX wf_instances_parent_step ON wf_instances (parent_step);
CREATE INDEX wf_instances_business_key ON wf_instances (business_key);

CREATE TABLE wf_steps (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    kind TEXT NOT NULL,
    handler TEXT,
    state TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    ready_at BIGINT NOT NULL,
    lease_owner TEXT,
    comp_seq BIGINT,
    error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT,
    UNIQUE (instance_id, stage)
);
CREATE INDEX wf_steps_claim ON wf_steps (state, ready_at);

CREATE TABLE wf_edges (
    instance_id TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    live BIGINT NOT NULL,
    PRIMARY KEY (instance_id, target, source)
);

CREATE TABLE wf_tasks (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    kind TEXT NOT NULL,
    group_name TEXT NOT NULL,
    state TEXT NOT NULL,
    claimed_by TEXT,
    required BIGINT NOT NULL,
    members TEXT,
    approvals BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX wf_tasks_queue ON wf_tasks (group_name, state);

CREATE TABLE wf_task_decisions (
    task_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT,
    at BIGINT NOT NULL,
    PRIMARY KEY (task_id, actor)
);

CREATE TABLE wf_timers (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    step_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    escalation BIGINT,
    state TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    fired_at BIGINT
);
CREATE INDEX wf_timers_due ON wf_timers (state, due_at);
CREATE INDEX wf_timers_step ON wf_timers (step_id);

CREATE TABLE wf_history (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    event TEXT NOT NULL,
    stage TEXT,
    actor TEXT,
    attempt BIGINT,
    data TEXT
);
CREATE INDEX wf_history_instance ON wf_history (instance_id, seq);
