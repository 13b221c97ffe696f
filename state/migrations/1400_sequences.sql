-- Sequence detections ([sequence]) read their steps' alerts from the alert
-- ledger; this index lets them read only the alerts changed since last time.
CREATE INDEX alerts_detection_updated ON alerts(detection, updated_at);

-- The step alerts a sequence has read: one row per sequence, step and alert,
-- with the values of the step's `by` fields (join_key) and the alert's
-- first and last event times, as the ledger has them now.
CREATE TABLE seq_observations (
  sequence   TEXT NOT NULL,
  step       INTEGER NOT NULL,
  alert_id   INTEGER NOT NULL,
  join_key   TEXT NOT NULL,
  first_seen TEXT NOT NULL,
  last_seen  TEXT NOT NULL,
  detection  TEXT NOT NULL,
  ticket_key TEXT NOT NULL DEFAULT '',
  result     TEXT NOT NULL,
  PRIMARY KEY (sequence, step, alert_id)
);
CREATE INDEX seq_observations_key ON seq_observations(sequence, join_key, step);

-- One row per first-step alert: a sequence instance. 'open' until it fires,
-- or until it can no longer fire ('closed'); fired_at is the end of the
-- sequence detection's window it fired in, so a retried window emits it again.
CREATE TABLE seq_instances (
  sequence   TEXT NOT NULL,
  anchor_id  INTEGER NOT NULL,
  join_key   TEXT NOT NULL,
  start_at   TEXT NOT NULL,
  state      TEXT NOT NULL,
  result     TEXT NOT NULL DEFAULT '',
  fired_at   TEXT NOT NULL DEFAULT '',
  updated_at TEXT NOT NULL,
  PRIMARY KEY (sequence, anchor_id)
);
CREATE INDEX seq_instances_state ON seq_instances(sequence, state, fired_at);
