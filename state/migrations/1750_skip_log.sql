-- Each scheduled run skipped because the detection's previous run was still
-- going, with when: skipped_runs keeps the running total (patrol status),
-- this log lets a report count the skips of its span. Pruned with the run
-- history (state.retention).
CREATE TABLE skip_log (
  id          INTEGER PRIMARY KEY,
  detection   TEXT NOT NULL,
  at          TEXT NOT NULL
);
CREATE INDEX skip_log_at ON skip_log (at);
