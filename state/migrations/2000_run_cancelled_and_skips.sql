-- A run stopped by a clean shutdown or a reload is cancelled: neither a
-- success nor a failure (it does not count toward failures_before_alert).
ALTER TABLE runs ADD COLUMN cancelled INTEGER NOT NULL DEFAULT 0;

-- Scheduled runs skipped because the detection's previous run was still
-- going (waiting for a search slot, or searching), per detection.
CREATE TABLE skipped_runs (
  detection   TEXT PRIMARY KEY,
  count       INTEGER NOT NULL,
  last_at     TEXT NOT NULL
);
