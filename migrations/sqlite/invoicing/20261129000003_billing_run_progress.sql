-- When a billing run last showed progress (started, resumed, committed a page or ended), so a
-- run whose process died can be told from one still being worked on and resumed by any node.
-- Keep this file and its twin in the other backend's folder the same.
ALTER TABLE billing_runs ADD COLUMN updated_at BIGINT;
-- Every node's scheduler looks for stalled runs every second.
CREATE INDEX billing_runs_status ON billing_runs (status, trigger_name);
