-- l2c-invoicing: a run's documents summed per currency and kind (JSON), written when the run
-- ends, so listing runs never re-reads every document of every run. A run's documents do not
-- change after it ends (voiding keeps a draft in its run; credit notes belong to no run).
-- NULL while a run runs, and for runs that ended before this column: those are summed when read.
-- Keep this file and its twin in the other backend's folder the same.
ALTER TABLE billing_runs ADD COLUMN totals TEXT;
