-- The first completed instance of a workflow version (the report's days from a version's
-- first appearance to its first completed order) is one index seek per version.
CREATE INDEX wf_instances_version_finished ON wf_instances (workflow, version, status, finished_at);
