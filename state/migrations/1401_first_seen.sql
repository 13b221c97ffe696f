-- First-seen detections ([first_seen]): per detection, what its values are
-- keyed on (a change starts learning over) and when learning started.
CREATE TABLE first_seen_state (
  detection   TEXT PRIMARY KEY,
  signature   TEXT NOT NULL,
  learn_start TEXT NOT NULL,
  created_at  TEXT NOT NULL
);

-- The value combinations each first-seen detection has seen, with the event
-- times of their first and last sight. window is the start of the window
-- that found the combination new (a retry of that window finds it new
-- again); learned marks one recorded silently (learning, backfill).
CREATE TABLE first_seen_values (
  detection  TEXT NOT NULL,
  value_key  TEXT NOT NULL,
  value      TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  window     TEXT NOT NULL,
  learned    INTEGER NOT NULL,
  PRIMARY KEY (detection, value_key)
);
CREATE INDEX first_seen_values_expiry ON first_seen_values(detection, last_seen);
