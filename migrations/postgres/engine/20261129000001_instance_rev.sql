-- Raised by every update of an instance row: a copy read earlier is still current while its
-- rev matches (workers keep the copy they read at claim time for recording the result).
-- A migration of its own, so databases created before it upgrade in place.
ALTER TABLE wf_instances ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
