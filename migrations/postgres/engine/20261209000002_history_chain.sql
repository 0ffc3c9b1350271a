-- l2c-engine: every history row carries the hash that chains it to the instance's row
-- before it (l2c_engine::chain); the instance keeps the last one, so a truncated chain shows.
-- Rows written before this migration keep no hash: an instance's chain starts after them.
ALTER TABLE wf_history ADD COLUMN hash TEXT;
ALTER TABLE wf_instances ADD COLUMN history_head TEXT;
