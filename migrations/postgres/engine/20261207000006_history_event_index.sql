-- The monthly report counts history events of a kind in a month (incidents, retries): an
-- index on (event, at) answers each count from one range instead of the whole history.
-- Keep this file and its twin in the other backend's folder the same.
CREATE INDEX wf_history_event_at ON wf_history (event, at);
CREATE INDEX wf_steps_finished ON wf_steps (finished_at);
